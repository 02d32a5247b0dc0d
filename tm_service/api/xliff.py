"""XLIFF 1.2 / 2.0 round trip with translation agencies: export pre-filled pages, import them."""

from __future__ import annotations

import json

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from connectors.xliff import VERSIONS
from memory.errors import InvalidInput, Unauthorized
from memory.services import xliff_io
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db
from tm_service.jobs import translations_changed

blp = Blueprint("xliff", __name__, description="XLIFF export and import for translation agencies")

XLIFF_MEDIA_TYPES = frozenset(
    {"application/xml", "text/xml", "application/xliff+xml", "application/x-xliff+xml"}
)
MAX_EXPORT_PAGES = 500


class XliffExportQuerySchema(StrictSchema):
    target_language = fields.String(required=True, validate=LANGUAGE_CODE)
    version = fields.String(load_default="1.2", validate=validate.OneOf(VERSIONS))
    page = fields.List(
        fields.String(validate=validate.Length(1, 100)),
        validate=validate.Length(1, MAX_EXPORT_PAGES),
        metadata={"description": "Only these pages (external ids; repeat the parameter)."},
    )


class XliffImportQuerySchema(StrictSchema):
    publish = fields.Boolean(
        load_default=False,
        metadata={"description": "Store the new versions as public (default: drafts)."},
    )
    on_changed = fields.String(
        load_default="refuse",
        validate=validate.OneOf(xliff_io.ON_CHANGED),
        metadata={
            "description": "A page whose source changed since the export: refuse the file "
            "(default) or store its translation as outdated."
        },
    )


class XliffImportReportSchema(Schema):
    region = fields.String()
    source_language = fields.String()
    target_language = fields.String()
    version = fields.String(metadata={"description": "XLIFF version of the file."})
    status = fields.String(metadata={"description": "draft or public: the new versions."})
    pages = fields.Integer()
    units = fields.Integer()
    created = fields.Integer(metadata={"description": "New page translation versions."})
    unchanged = fields.Integer(metadata={"description": "Pages stored already (same file)."})
    outdated = fields.List(fields.String(), metadata={"description": "Pages stored as outdated."})
    reviewed_units = fields.Integer(metadata={"description": "Reviewed units written."})
    known_units = fields.Integer(metadata={"description": "Settled units the memory had."})


def _suggest_page(actor, region: str):
    from tm_service.api.suggestions import suggest_with_app_services

    def suggest(page: str, target_language: str):
        return suggest_with_app_services(
            actor,
            region,
            page=page,
            target_language=target_language,
            machine_translation=False,
            queue=False,
        )

    return suggest


@blp.route("/regions/<string:region>/xliff")
@token_required
@blp.arguments(XliffExportQuerySchema, location="query")
@blp.response(200, description="XLIFF file", content_type="application/xliff+xml")
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown region, language or page")
@blp.alt_response(422, description="The language is not in the region's language tree")
def export_xliff(query, region):
    """The region's pages for one target language as XLIFF, one unit per segment, pre-filled
    with the page's current translation or the best memory candidate (no machine translation),
    with match, trust, origin and attribution."""
    actor = current_actor()
    data, report = xliff_io.export_xliff(
        db.session,
        actor,
        region,
        query["target_language"],
        suggest=_suggest_page(actor, region),
        version=query["version"],
        pages=query.get("page"),
    )
    languages = f"{report.source_languages[0]}-{report.target_language}"
    filename = f"{region}-{languages}-xliff{query['version']}.xlf"
    return Response(
        data,
        mimetype="application/xliff+xml",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # Counts only (a header stays small): pages, units, how they were pre-filled, and
            # how many pages were left out.
            "X-Export-Report": json.dumps(
                {**report.as_dict(), "skipped": len(report.skipped)}, ensure_ascii=True
            ),
        },
    )


@blp.route("/regions/<string:region>/xliff", methods=["POST"])
@token_required
@blp.arguments(XliffImportQuerySchema, location="query")
@blp.response(200, XliffImportReportSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region or role")
@blp.alt_response(404, description="Unknown region")
@blp.alt_response(409, description="A concurrent write won; retry")
@blp.alt_response(413, description="Body larger than the configured limit")
@blp.alt_response(415, description="Neither XML nor a multipart file")
@blp.alt_response(
    422,
    description="Not a valid XLIFF file of this region (a unit missing, empty or changed, a "
    "page changed since the export); nothing was imported",
)
def import_xliff(query, region):
    """Import a returned XLIFF file (the XML as body, or a multipart `file`): one new version
    per page (draft unless `publish`) and reviewed units. Atomic and idempotent."""
    actor = current_actor()
    if actor is None:
        raise Unauthorized("Importing XLIFF needs a token (Authorization: Bearer …).")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.mimetype in XLIFF_MEDIA_TYPES:
        data = request.get_data(cache=False)
    elif request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput(
                "Send the XLIFF file in the multipart field 'file'.",
                errors={"file": ["Missing file."]},
            )
        data = upload.read()
    else:
        raise UnsupportedMediaType(
            "Send XLIFF as application/xliff+xml, application/xml, text/xml or multipart 'file'."
        )
    report = xliff_io.import_xliff(
        db.session,
        actor,
        region,
        data,
        publish=query["publish"],
        on_changed=query["on_changed"],
        max_bytes=limit,
    )
    if report.changed_translation_ids:
        translations_changed(report.changed_translation_ids)
    return report.as_dict()


import_xliff.accepts_files = True  # type: ignore[attr-defined] — the app's JSON-only guard
