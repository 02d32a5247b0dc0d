"""Translation memory: lookup, concordance, TMX import and export."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from matchers.scoring import TRUST_STATUSES, PenaltyPolicy
from memory.errors import InvalidInput, Unauthorized
from memory.services import tmx_io
from memory.services import translation_memory as tm_service
from tm_service.api.schemas import LANGUAGE_CODE, SLUG, StrictSchema
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db, read_only

blp = Blueprint("tm", __name__, description="Translation memory: lookup, concordance, TMX")

TMX_MEDIA_TYPES = frozenset({"application/xml", "text/xml", "application/x-tmx+xml"})
# Exports up to this size stay in memory; larger ones spill to a temporary file.
EXPORT_SPOOL_BYTES = 8 * 1024 * 1024


def tm_index() -> tm_service.TranslationMemoryIndex:
    """This app's fuzzy index (one per process, in `app.extensions`): the snapshot in
    INDEX_DIR mapped, plus what was written since (`tm_service.jobs.get_tm_index`)."""
    from tm_service.jobs import get_tm_index

    return get_tm_index(current_app._get_current_object())  # type: ignore[attr-defined]


def penalty_policy() -> PenaltyPolicy:
    """Penalty amounts from config `PENALTIES` (env `TM_PENALTIES`, JSON), else defaults."""
    cached = current_app.extensions.get("tm_penalty_policy")
    if cached is None:
        configured = current_app.config.get("PENALTIES") or {}
        if isinstance(configured, str):
            configured = json.loads(configured)
        cached = PenaltyPolicy.from_mapping(configured)
        current_app.extensions["tm_penalty_policy"] = cached
    return cached


# --- schemas ------------------------------------------------------------------


class LookupSchema(StrictSchema):
    text = fields.String(required=True, validate=validate.Length(1, 5000))
    source_language = fields.String(required=True, validate=LANGUAGE_CODE)
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    region = fields.String(validate=SLUG, metadata={"description": "Rank this region first."})
    min_score = fields.Float(load_default=70.0, validate=validate.Range(0, 100))
    limit = fields.Integer(load_default=5, validate=validate.Range(1, 50))
    context_before = fields.String(
        allow_none=True,
        validate=validate.Length(max=5000),
        metadata={"description": "Previous source segment (for 101 % context matches)."},
    )
    context_after = fields.String(allow_none=True, validate=validate.Length(max=5000))


class PenaltySchema(Schema):
    code = fields.String()
    amount = fields.Float()
    detail = fields.String()


class TrustSchema(Schema):
    score = fields.Float(
        metadata={"description": "0–100: 100 minus the trust penalties (the `penalties` here)."}
    )
    status = fields.String(
        validate=validate.OneOf(TRUST_STATUSES),
        metadata={
            "description": "reviewed (by a translator) | approved (a region's published human "
            "translation) | unreviewed (human, standing unknown: e.g. TMX) | machine"
        },
    )
    outdated = fields.Boolean(metadata={"description": "Its source changed since."})
    other_region = fields.Boolean(metadata={"description": "Another region's translation."})
    pivot = fields.Boolean(metadata={"description": "Made through a third language."})
    rejections = fields.Integer(metadata={"description": "Times reviewers rejected it."})
    penalties = fields.List(fields.Nested(PenaltySchema))


class PivotSchema(Schema):
    language = fields.String()
    text = fields.String()
    first_leg = fields.Dict()


class MatchOriginSchema(Schema):
    region = fields.String(allow_none=True)
    region_name = fields.String(allow_none=True)
    page = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    source_language = fields.String()
    target_language = fields.String()
    version = fields.Integer(allow_none=True)
    source_version = fields.Integer(allow_none=True)
    date = fields.String(allow_none=True)
    origin = fields.String()
    reviewed = fields.Boolean()
    outdated = fields.Boolean()
    license = fields.String(allow_none=True)
    attribution = fields.String(allow_none=True)
    import_batch = fields.String(allow_none=True)
    pivot = fields.Nested(PivotSchema)


class MatchSchema(Schema):
    unit_id = fields.Integer(attribute="match.unit_id")
    text = fields.String(
        attribute="match.target_text",
        metadata={"description": "The suggested translation, with the query's values put in."},
    )
    segment = fields.String(
        attribute="target_segment",
        metadata={"description": "The same with inline-markup placeholders (<g1>…</g1>, <x2/>)."},
    )
    source_text = fields.String(attribute="match.source_text")
    match = fields.Float(
        attribute="match.match",
        metadata={
            "description": "How much of the source matches: 0–100, 100 for an identical source "
            "whatever its origin, 101 when its neighbours match too. No penalty taken off."
        },
    )
    trust = fields.Nested(
        TrustSchema,
        attribute="match.trust",
        metadata={"description": "What is known of the translation (origin, review, age)."},
    )
    score = fields.Float(
        attribute="match.score",
        metadata={"description": "Ranks the matches: match minus every listed penalty."},
    )
    base_score = fields.Float(attribute="match.base_score", metadata={"description": "= match."})
    kind = fields.String(attribute="match.kind")
    pivot = fields.Boolean()
    pivot_language = fields.String(allow_none=True)
    penalties = fields.List(fields.Nested(PenaltySchema), attribute="match.penalties")
    placeholder_mismatches = fields.List(fields.Dict())
    origin = fields.Nested(MatchOriginSchema, attribute="match.origin")


class LookupResultSchema(Schema):
    source_language = fields.String()
    target_language = fields.String()
    fuzzy = fields.String(
        validate=validate.OneOf([tm_service.FUZZY_READY, tm_service.FUZZY_WARMING_UP]),
        metadata={
            "description": "ready: fuzzy matches were looked for. warming_up: this server has "
            "no index snapshot yet (it is being built): only exact and context matches, ask "
            "again in a moment."
        },
    )
    matches = fields.List(fields.Nested(MatchSchema))


class ConcordanceQuerySchema(StrictSchema):
    q = fields.String(required=True, validate=validate.Length(1, 500))
    language = fields.String(required=True, validate=LANGUAGE_CODE)
    target_language = fields.String(validate=LANGUAGE_CODE)
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 200))


class ConcordanceHitSchema(Schema):
    unit_id = fields.Integer(attribute="unit.id")
    matched = fields.String(attribute="matched_side")
    source_language = fields.String(attribute="unit.source_language.code")
    target_language = fields.String(attribute="unit.target_language.code")
    source_text = fields.Function(lambda hit: tm_service.strip_markup(hit.unit.source_text))
    target_text = fields.Function(lambda hit: tm_service.strip_markup(hit.unit.target_text))
    region = fields.Function(lambda hit: hit.unit.region.slug if hit.unit.region else None)
    page = fields.Function(lambda hit: hit.unit.page.external_id if hit.unit.page else None)
    origin = fields.Function(lambda hit: hit.unit.origin.value)
    reviewed = fields.Boolean(attribute="unit.reviewed")
    outdated = fields.Boolean(attribute="unit.outdated")
    license = fields.String(attribute="unit.license")
    attribution = fields.String(attribute="unit.attribution")
    url = fields.String(attribute="unit.url")


class ConcordanceResultSchema(Schema):
    q = fields.String()
    language = fields.String()
    items = fields.List(fields.Nested(ConcordanceHitSchema))


class ImportQuerySchema(StrictSchema):
    region = fields.String(validate=SLUG, metadata={"description": "Region the units belong to."})
    batch = fields.String(validate=validate.Length(1, 200))
    license = fields.String(
        validate=validate.Length(1, 100),
        metadata={
            "description": "Licence of units without an x-license property (default: the "
            "region's). Every unit needs one, or the file is rejected."
        },
    )
    attribution = fields.String(
        validate=validate.Length(1, 2000),
        metadata={
            "description": "Whom to credit for units without an x-attribution property "
            "(default: the region's attribution). Every unit needs one."
        },
    )
    url = fields.String(
        validate=validate.Length(1, 1000),
        metadata={"description": "Link to the units' source for units without an x-url property."},
    )


class ImportReportSchema(Schema):
    batch = fields.String()
    region = fields.String(allow_none=True)
    translation_units = fields.Integer()
    units = fields.Integer()
    created = fields.Integer()
    unchanged = fields.Integer()
    skipped = fields.Integer()
    languages = fields.List(fields.String())
    seconds = fields.Float()


class ExportQuerySchema(StrictSchema):
    source_language = fields.String(required=True, validate=LANGUAGE_CODE)
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    region = fields.String(validate=SLUG)


# --- views ----------------------------------------------------------------------


@blp.route("/tm/lookup", methods=["POST"])
@read_only
@blp.arguments(LookupSchema)
@blp.response(200, LookupResultSchema)
@blp.alt_response(404, description="Unknown language or region")
@blp.alt_response(422, description="Invalid fields")
def lookup(data):
    """Translation-memory matches for one segment: exact, context (101), fuzzy, pivot.

    Each match says how much of the source matches (`match`, 0–100, 101 for a context match:
    an identical source is 100 whatever its origin) and what is known of the translation
    (`trust`: reviewed, approved, unreviewed or machine, outdated, other region, rejections);
    `score`, match minus the listed penalties, ranks them. The suggested text carries the
    query's own numbers, dates, URLs …
    """
    index = tm_index()
    matches = tm_service.lookup(
        db.session,
        index,
        text=data["text"],
        source_language=data["source_language"],
        target_language=data["target_language"],
        region=data.get("region"),
        min_score=data["min_score"],
        limit=data["limit"],
        policy=penalty_policy(),
        context_before=data.get("context_before"),
        context_after=data.get("context_after"),
    )
    return {
        "source_language": data["source_language"],
        "target_language": data["target_language"],
        "fuzzy": index.fuzzy_status,
        "matches": matches,
    }


@blp.route("/tm/concordance")
@read_only
@blp.arguments(ConcordanceQuerySchema, location="query")
@blp.response(200, ConcordanceResultSchema)
@blp.alt_response(404, description="Unknown language")
def concordance(query):
    """Units whose source or target text contains a phrase (normalised, newest first)."""
    hits = tm_service.concordance(
        db.session,
        query["q"],
        query["language"],
        query["limit"],
        target_language=query.get("target_language"),
    )
    return {"q": query["q"], "language": query["language"], "items": hits}


@blp.route("/tm/import", methods=["POST"])
@token_required
@blp.arguments(ImportQuerySchema, location="query")
@blp.response(200, ImportReportSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not a global admin or an admin of the region")
@blp.alt_response(413, description="Body larger than the configured limit")
@blp.alt_response(415, description="Neither TMX XML nor a multipart file")
@blp.alt_response(
    422,
    description="Not a valid TMX file (or a unit without licence or attribution, a language tag "
    "that is not BCP 47, a <tu> over the size bounds); nothing was imported",
)
def import_tmx(query):
    """Import a TMX file (admin): the XML as body, or a multipart `file`. Atomic, idempotent."""
    actor = current_actor()
    if actor is None:  # the service reads a missing actor as the operator at the command line
        raise Unauthorized("Importing TMX needs an admin token (Authorization: Bearer …).")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.mimetype in TMX_MEDIA_TYPES:
        stream = request.stream
        name = "upload"
    elif request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput(
                "Send the TMX file in the multipart field 'file'.",
                errors={"file": ["Missing file."]},
            )
        stream = upload.stream
        name = upload.filename or "upload"
    else:
        raise UnsupportedMediaType(
            "Send TMX as application/xml, text/xml, application/x-tmx+xml or multipart 'file'."
        )
    batch = query.get("batch") or f"{name}@{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    report = tmx_io.import_tmx(
        db.session,
        actor,
        stream,
        region=query.get("region"),
        batch_name=batch,
        max_bytes=limit,
        license=query.get("license"),
        attribution=query.get("attribution"),
        url=query.get("url"),
    )
    if report.created:
        # No page job embeds imported units: the semantic snapshot job embeds their sentences
        # (with INDEX_DIR "memory", `flask tm embed` does).
        from tm_service.jobs import request_semantic_snapshot

        request_semantic_snapshot(here=False)
    return report.as_dict()


import_tmx.accepts_files = True  # type: ignore[attr-defined] — the app's JSON-only guard


@blp.route("/tm/export")
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, description="TMX 1.4b file", content_type="application/x-tmx+xml")
@blp.alt_response(404, description="Unknown language or region")
def export_tmx(query):
    """Download a language pair's units as TMX 1.4b, with licence and provenance properties."""
    spool = tempfile.SpooledTemporaryFile(max_size=EXPORT_SPOOL_BYTES)
    try:
        tmx_io.export_tmx(
            db.session,
            spool,
            source_language=query["source_language"],
            target_language=query["target_language"],
            region=query.get("region"),
        )
    except Exception:
        spool.close()
        raise
    spool.seek(0)
    filename = "tm-{}-{}{}.tmx".format(
        query["source_language"],
        query["target_language"],
        f"-{query['region']}" if query.get("region") else "",
    )
    return Response(
        _chunks(spool),
        mimetype="application/x-tmx+xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _chunks(spool: Any, size: int = 64 * 1024):
    try:
        while chunk := spool.read(size):
            yield chunk
    finally:
        spool.close()
