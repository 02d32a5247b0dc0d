"""The termbase: public reads; writes by region admins (their region's own concepts) and
global admins (the shared ones); TBX and CSV import, TBX export; the deprecated-terms report."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from memory.errors import InvalidInput, Unauthorized
from memory.services import pages as page_service
from memory.services import terminology as terminology_service
from memory.termbase_files import KEY_MAX, STATUSES, TERM_MAX
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema, TranslationSchema
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db

blp = Blueprint(
    "terminology", __name__, description="The termbase: shared and regional terms per language"
)

SCOPE = validate.Regexp(
    r"^[a-z0-9][a-z0-9-]{0,99}$",
    error="'shared' or a region slug (lowercase letters, digits, '-').",
)
SCOPE_DESCRIPTION = "'shared' (every region's) or a region slug (that region's own)."
TBX_MEDIA_TYPES = frozenset({"application/xml", "text/xml", "application/x-tbx+xml"})
CSV_MEDIA_TYPES = frozenset({"text/csv"})


class TermSchema(Schema):
    language = fields.String(required=True, validate=LANGUAGE_CODE)
    text = fields.String(required=True, validate=validate.Length(1, TERM_MAX))
    status = fields.String(
        load_default="preferred",
        validate=validate.OneOf(STATUSES),
        metadata={"description": " | ".join(STATUSES)},
    )
    part_of_speech = fields.String(allow_none=True, validate=validate.Length(max=50))
    note = fields.String(allow_none=True, validate=validate.Length(max=2000))


class TermInSchema(TermSchema, StrictSchema):
    pass


class ConceptSchema(Schema):
    id = fields.Integer()
    scope = fields.Function(
        lambda c: terminology_service.scope_name(c.scope),
        metadata={"description": SCOPE_DESCRIPTION, "type": "string"},
    )
    key = fields.String()
    subject = fields.String(allow_none=True)
    definition = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    source = fields.String(allow_none=True, metadata={"description": "Where the terms come from."})
    source_url = fields.String(allow_none=True)
    license = fields.String()
    attribution = fields.String()
    updated_at = fields.DateTime()
    terms = fields.List(fields.Nested(TermSchema))


class ConceptPutSchema(StrictSchema):
    subject = fields.String(allow_none=True, validate=validate.Length(max=200))
    definition = fields.String(allow_none=True, validate=validate.Length(max=5000))
    note = fields.String(allow_none=True, validate=validate.Length(max=5000))
    source = fields.String(allow_none=True, validate=validate.Length(max=2000))
    source_url = fields.URL(allow_none=True, validate=validate.Length(max=1000))
    license = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "Default: the region's licence (a region's own concept)."},
    )
    attribution = fields.String(validate=validate.Length(1, 2000))
    terms = fields.List(
        fields.Nested(TermInSchema), required=True, validate=validate.Length(1, 200)
    )


class ConceptListQuerySchema(StrictSchema):
    scope = fields.String(validate=SCOPE, metadata={"description": SCOPE_DESCRIPTION})
    language = fields.String(validate=LANGUAGE_CODE)
    q = fields.String(
        validate=validate.Length(1, TERM_MAX), metadata={"description": "Part of a term."}
    )
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 2**31 - 1))


class ConceptListSchema(Schema):
    total = fields.Integer()
    items = fields.List(fields.Nested(ConceptSchema))


class TermbaseImportQuerySchema(StrictSchema):
    scope = fields.String(
        load_default="shared", validate=SCOPE, metadata={"description": SCOPE_DESCRIPTION}
    )
    format = fields.String(
        validate=validate.OneOf(("tbx", "csv")),
        metadata={"description": "tbx | csv (default: from the content type or file name)."},
    )
    license = fields.String(
        validate=validate.Length(1, 100),
        metadata={"description": "Licence of concepts that name none."},
    )
    attribution = fields.String(
        validate=validate.Length(1, 2000),
        metadata={"description": "Whom to credit for concepts that name no one."},
    )
    source = fields.String(
        validate=validate.Length(1, 2000),
        metadata={"description": "Source of concepts that name none."},
    )


class TermbaseImportReportSchema(Schema):
    scope = fields.String()
    format = fields.String()
    concepts = fields.Integer()
    terms = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    languages = fields.List(fields.String())


class TermbaseExportQuerySchema(StrictSchema):
    scope = fields.String(
        load_default="shared", validate=SCOPE, metadata={"description": SCOPE_DESCRIPTION}
    )


class TermRecognizeSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, 20_000))
    source_language = fields.String(required=True, validate=LANGUAGE_CODE)
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    region = fields.String(
        validate=SCOPE, metadata={"description": "Include this region's own terms."}
    )


class SegmentTermSchema(Schema):
    concept_id = fields.Integer()
    concept_key = fields.String()
    term = fields.String(metadata={"description": "The termbase term found."})
    status = fields.String(metadata={"description": "Its status in the source language."})
    surface = fields.String(metadata={"description": "What the text says (inflected, compound)."})
    start = fields.Integer(metadata={"description": "Character offset in the text."})
    end = fields.Integer()
    preferred = fields.List(
        fields.String(), metadata={"description": "Target terms to use (preferred, else admitted)."}
    )
    avoid = fields.List(
        fields.String(), metadata={"description": "Deprecated or forbidden target terms."}
    )
    definition = fields.String(allow_none=True)


class TermRecognizeResultSchema(Schema):
    terms = fields.List(fields.Nested(SegmentTermSchema))


class DeprecatedTermOccurrenceSchema(Schema):
    term = fields.String()
    status = fields.String()
    surface = fields.String()
    sentence = fields.String()
    preferred = fields.List(fields.String())
    concept = fields.String()


class DeprecatedTermsPageSchema(Schema):
    page = fields.String()
    language = fields.String()
    version = fields.Integer()
    title = fields.String()
    url = fields.String()
    occurrences = fields.List(fields.Nested(DeprecatedTermOccurrenceSchema))


class DeprecatedTermsRegionSchema(Schema):
    region = fields.String()
    pages = fields.Integer()
    occurrences = fields.Integer()
    terms = fields.Dict(keys=fields.String(), values=fields.Integer())
    items = fields.List(fields.Nested(DeprecatedTermsPageSchema))


class DeprecatedTermsReportSchema(Schema):
    pages = fields.Integer()
    occurrences = fields.Integer()
    regions = fields.List(fields.Nested(DeprecatedTermsRegionSchema))


class DeprecatedTermsQuerySchema(StrictSchema):
    region = fields.String(validate=SCOPE)
    language = fields.String(validate=LANGUAGE_CODE)


@blp.route("/terminology/concepts")
@blp.arguments(ConceptListQuerySchema, location="query")
@blp.response(200, ConceptListSchema)
@blp.alt_response(404, description="Unknown region")
def list_concepts(query):
    """Concepts of the termbase with their terms, by scope, language or part of a term."""
    items, total = terminology_service.list_concepts(
        db.session,
        scope=query.get("scope"),
        language=query.get("language"),
        q=query.get("q"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return {"total": total, "items": items}


@blp.route("/terminology/concepts/<int:concept_id>")
@blp.response(200, ConceptSchema)
@blp.alt_response(404, description="Unknown concept")
def get_concept(concept_id):
    """One concept with its terms, source, licence and attribution."""
    return terminology_service.get_concept(db.session, concept_id)


@blp.route("/terminology/<string:scope>/concepts/<string:key>", methods=["PUT"])
@token_required
@blp.arguments(ConceptPutSchema)
@blp.response(200, ConceptSchema)
@blp.alt_response(201, schema=ConceptSchema, description="Created")
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an admin of this scope")
@blp.alt_response(404, description="Unknown region")
@blp.alt_response(409, description="A concurrent write of the same concept won; retry")
def put_concept(data, scope, key):
    """Create or replace a concept of a scope (its terms are replaced as a whole)."""
    if len(key) > KEY_MAX:
        raise InvalidInput(f"A concept key has at most {KEY_MAX} characters.")
    concept, created = terminology_service.put_concept(
        db.session, current_actor(), scope, {**data, "key": key}
    )
    return concept, 201 if created else 200


@blp.route("/terminology/concepts/<int:concept_id>", methods=["DELETE"])
@token_required
@blp.response(204)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an admin of the concept's scope")
@blp.alt_response(404, description="Unknown concept")
def delete_concept(concept_id):
    """Delete a concept and its terms."""
    terminology_service.delete_concept(db.session, current_actor(), concept_id)
    return ""


@blp.route("/terminology/import", methods=["POST"])
@token_required
@blp.arguments(TermbaseImportQuerySchema, location="query")
@blp.response(200, TermbaseImportReportSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an admin of this scope")
@blp.alt_response(413, description="Body larger than the configured limit")
@blp.alt_response(415, description="Neither TBX, CSV nor a multipart file")
@blp.alt_response(409, description="A concurrent import of the same concepts won; retry")
@blp.alt_response(422, description="Not a valid termbase file; nothing was imported")
def import_termbase(query):
    """Import a TBX (TBX-Basic) or CSV termbase: the file as body, or a multipart `file`.
    Atomic (a bad file stores nothing) and idempotent (the same file twice changes nothing)."""
    actor = current_actor()
    if actor is None:
        raise Unauthorized("Importing a termbase needs an admin token (Authorization: Bearer …).")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    name = ""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput(
                "Send the termbase in the multipart field 'file'.",
                errors={"file": ["Missing file."]},
            )
        data = upload.stream.read()
        name = (upload.filename or "").lower()
        guessed = "csv" if name.endswith(".csv") else "tbx"
    elif request.mimetype in TBX_MEDIA_TYPES:
        data, guessed = request.get_data(), "tbx"
    elif request.mimetype in CSV_MEDIA_TYPES:
        data, guessed = request.get_data(), "csv"
    else:
        raise UnsupportedMediaType(
            "Send TBX as application/xml or application/x-tbx+xml, CSV as text/csv, or either "
            "as multipart 'file'."
        )
    report = terminology_service.import_termbase(
        db.session,
        actor,
        data,
        format=query.get("format") or guessed,
        scope=query["scope"],
        license=query.get("license"),
        attribution=query.get("attribution"),
        source=query.get("source"),
        max_bytes=limit,
    )
    return report.as_dict()


import_termbase.accepts_files = True  # type: ignore[attr-defined] — the app's JSON-only guard


@blp.route("/terminology/export")
@blp.arguments(TermbaseExportQuerySchema, location="query")
@blp.response(200, description="TBX-Basic file", content_type="application/x-tbx+xml")
@blp.alt_response(404, description="Unknown region")
def export_termbase(query):
    """Download a scope's concepts as TBX-Basic, with source, licence and attribution."""
    out = io.BytesIO()
    terminology_service.export_tbx(db.session, out, scope=query["scope"])
    return Response(
        out.getvalue(),
        mimetype="application/x-tbx+xml",
        headers={"Content-Disposition": f'attachment; filename="termbase-{query["scope"]}.tbx"'},
    )


@blp.route("/terminology/recognize", methods=["POST"])
@blp.arguments(TermRecognizeSchema)
@blp.response(200, TermRecognizeResultSchema)
@blp.alt_response(404, description="Unknown region")
def recognize(data):
    """The termbase terms a source text contains (through inflection and compounds), each
    with its preferred target terms and the ones to avoid."""
    termbase = terminology_service.termbase_for(db.session, data.get("region"))
    return {
        "terms": termbase.terms_in(data["text"], data["source_language"], data["target_language"])
    }


@blp.route("/terminology/deprecated-terms")
@blp.arguments(DeprecatedTermsQuerySchema, location="query")
@blp.response(200, DeprecatedTermsReportSchema)
@blp.alt_response(404, description="Unknown region")
def deprecated_terms(query):
    """Every public page (any region, any language) that still uses a deprecated or forbidden
    term: per region, with counts, the sentences and the preferred term."""
    return terminology_service.deprecated_terms_report(
        db.session, region=query.get("region"), language=query.get("language")
    )


# --------------------------------------------------------------------------- the push warning


class TermWarningSchema(DeprecatedTermOccurrenceSchema):
    """A deprecated or forbidden term the pushed version brings in (the previous one lacked)."""


class PushedTranslationSchema(TranslationSchema):
    """A pushed version, with the deprecated or forbidden terms it introduces."""

    terminology_warnings = fields.List(
        fields.Nested(TermWarningSchema),
        metadata={
            "description": "Deprecated or forbidden termbase terms this version introduces, "
            "each with its sentence and the preferred term (empty: none)."
        },
    )


@dataclass(frozen=True)
class PushedTranslationView(page_service.TranslationView):
    terminology_warnings: list[dict[str, Any]] = field(default_factory=list)


def with_term_warnings(view: page_service.TranslationView) -> PushedTranslationView:
    """The view of a new version with the terminology warnings of what it introduces."""
    values = {f.name: getattr(view, f.name) for f in dataclass_fields(view)}
    warnings = terminology_service.push_warnings(db.session, view.translation)
    return PushedTranslationView(**values, terminology_warnings=warnings)
