"""Reuse of another region's page, and the upstream changes of pages reused that way."""

from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from memory.models import Origin, ReviewStatus, TranslationStatus
from memory.services import reuse as reuse_service
from tm_service.api.schemas import (
    LANGUAGE_CODE,
    SLUG,
    RegionLanguageOutSchema,
    StrictSchema,
    license_of,
)
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db
from tm_service.jobs import translations_changed

blp = Blueprint("reuse", __name__, description="Pages started from another region's page")

EXTERNAL_ID = [validate.Length(1, 100), validate.Regexp(r"^[^/\s]+$", error="No '/' or spaces.")]


class ReuseRequestSchema(StrictSchema):
    from_region = fields.String(required=True, validate=SLUG)
    from_page = fields.String(
        required=True,
        validate=validate.Length(1, 100),
        metadata={"description": "External id of the page to start from."},
    )
    external_id = fields.String(
        validate=EXTERNAL_ID,
        metadata={
            "description": "The new page's id (default: from the origin's title, e.g. "
            "'anmeldung', 'anmeldung-2' when taken). Without it, a page the region started from "
            "the same origin before is a 409."
        },
    )
    languages = fields.List(
        fields.String(validate=LANGUAGE_CODE),
        validate=validate.Length(1, 200),
        metadata={"description": "Languages to copy (default: every language of the region)."},
    )
    add_languages = fields.Boolean(
        load_default=False,
        metadata={
            "description": "An admin of the region: add the languages the origin has and the "
            "region lacks (translated from the origin's parent language where the region has "
            "it, else from the region's source language) and copy them too."
        },
    )


class AcknowledgeSchema(StrictSchema):
    language = fields.String(
        validate=LANGUAGE_CODE,
        metadata={"description": "Only this language (default: every reused language)."},
    )


def _public_read_url(region: str, external_id: str, language: str | None = None) -> str:
    """The page's public read in this service: the link when the origin names no address."""
    if language is None:
        return url_for("pages.get_page", region=region, external_id=external_id, _external=True)
    return url_for(
        "pages.get_translation",
        region=region,
        external_id=external_id,
        language=language,
        _external=True,
    )


class AttributionSchema(Schema):
    """The origin's licence and attribution: to be shown with the reused page."""

    region = fields.String(attribute="region.slug")
    region_name = fields.String(attribute="region.name")
    page = fields.String(attribute="page.external_id")
    license = fields.String(attribute="region.license")
    license_url = fields.String(attribute="region.license_url")
    attribution = fields.Function(lambda item: license_of(item.region)["attribution"])
    url = fields.Function(
        lambda item: item.url or _public_read_url(item.region.slug, item.page.external_id),
        metadata={
            "type": "string",
            "description": "The origin page's address (its public read here when it has none).",
        },
    )


class DetailToReplaceSchema(Schema):
    kind = fields.String(
        metadata={"description": "place, postal_code_town, address, office, phone, email, url"}
    )
    value = fields.String(metadata={"description": "As the origin page writes it."})
    occurrences = fields.Integer()
    proposed = fields.String(
        allow_none=True, metadata={"description": "This region's value of the same kind."}
    )


class LocalSpecificSchema(Schema):
    kind = fields.String(
        metadata={"description": "url, email, phone, date, time, amount or number"}
    )
    value = fields.String()


class ReusedTranslationSchema(Schema):
    language = fields.String(attribute="translation.language.code")
    version = fields.Integer(attribute="translation.version")
    title = fields.String(attribute="translation.title")
    status = fields.Enum(TranslationStatus, by_value=True, attribute="translation.status")
    origin = fields.Enum(Origin, by_value=True, attribute="translation.origin")
    review_status = fields.Enum(ReviewStatus, by_value=True, attribute="translation.review_status")
    origin_version = fields.Integer(attribute="origin.version")
    origin_url = fields.Function(
        lambda item: (
            item.origin_url
            or _public_read_url(
                item.origin.page.region.slug,
                item.origin.page.external_id,
                item.origin.language.code,
            )
        ),
        metadata={
            "type": "string",
            "description": "The origin translation's address (its public read here when it "
            "has none).",
        },
    )
    license = fields.Function(
        lambda item: license_of(item.origin.page.region),
        metadata={"type": "object", "description": "The origin's licence and attribution."},
    )
    review_before_publishing = fields.Constant(
        True,
        metadata={
            "type": "boolean",
            "description": "A reused draft: check its local specifics first.",
        },
    )
    local_specifics = fields.List(
        fields.Nested(LocalSpecificSchema),
        metadata={"description": "Values probably local to the origin region: review them."},
    )
    local_details = fields.List(
        fields.Nested(DetailToReplaceSchema),
        metadata={
            "description": "The origin region's local details (its gazetteer) to replace, with "
            "this region's value proposed where its gazetteer has one."
        },
    )


class ReusePreviewQuerySchema(StrictSchema):
    from_region = fields.String(required=True, validate=SLUG)
    from_page = fields.String(required=True, validate=validate.Length(1, 100))
    add_languages = fields.Boolean(load_default=False)
    for_page = fields.String(
        validate=validate.Length(1, 100),
        metadata={
            "description": "The region's page it is compared with (the similar page the editor "
            "came from): `nothing_to_gain` when that page has every language already."
        },
    )


class LanguagePreviewSchema(Schema):
    language = fields.String(attribute="language.code")
    title = fields.String()
    words = fields.Integer(metadata={"description": "Integreat's word count (title and text)."})
    to_add = fields.Boolean(
        metadata={"description": "The region lacks it: added with add_languages (an admin)."}
    )
    local_specifics = fields.List(fields.Nested(LocalSpecificSchema))
    local_details = fields.List(
        fields.Nested(DetailToReplaceSchema),
        metadata={"description": "The origin region's local details to replace."},
    )


class ReusePreviewSchema(Schema):
    region = fields.String(attribute="region.slug")
    from_region = fields.String(attribute="origin_region.slug")
    from_page = fields.String(attribute="origin_page.external_id")
    external_id = fields.String(metadata={"description": "The id the new page would get."})
    languages = fields.List(fields.Nested(LanguagePreviewSchema))
    languages_to_add = fields.List(
        fields.Function(lambda language: language.code),
        metadata={"description": "Languages of the origin the region lacks."},
    )
    words = fields.Integer()
    duplicates = fields.List(
        fields.Dict(),
        metadata={
            "description": "Pages of the region with this content: `started_from_this_page`, "
            "or the compared page (`for_page`) with the languages a copy would gain."
        },
    )
    nothing_to_gain = fields.Boolean(
        metadata={"description": "The compared page has every language a copy would bring."}
    )


class ReuseResultSchema(Schema):
    region = fields.String(attribute="region.slug")
    external_id = fields.String(attribute="page.external_id")
    source_language = fields.String(attribute="page.source_language.code")
    derived_from = fields.Function(
        lambda result: {
            "region": result.attribution.region.slug,
            "external_id": result.attribution.page.external_id,
        },
        metadata={"type": "object"},
    )
    translations = fields.List(fields.Nested(ReusedTranslationSchema))
    attribution = fields.Nested(AttributionSchema)
    languages_added = fields.List(
        fields.Nested(RegionLanguageOutSchema),
        metadata={"description": "Languages added to the region's language tree (add_languages)."},
    )


class SentenceChangeSchema(Schema):
    op = fields.String(metadata={"description": "changed, added or removed"})
    before = fields.String(allow_none=True)
    after = fields.String(allow_none=True)


class TitleChangeSchema(Schema):
    before = fields.String()
    after = fields.String()


class LanguageUpstreamSchema(Schema):
    language = fields.String(attribute="language.code")
    flagged = fields.Boolean(metadata={"description": "The origin changed since it was taken."})
    origin_missing = fields.Boolean(
        metadata={"description": "The origin page or its public translation is gone."}
    )
    origin_version = fields.Integer(
        attribute="derivation.origin_version",
        metadata={"description": "The origin version the page is based on."},
    )
    current_origin_version = fields.Integer(attribute="current_version", allow_none=True)
    reused_at = fields.DateTime(attribute="derivation.created_at")
    acknowledged_at = fields.DateTime(attribute="derivation.acknowledged_at", allow_none=True)
    title_change = fields.Nested(TitleChangeSchema, allow_none=True)
    changes = fields.List(fields.Nested(SentenceChangeSchema))


class UpstreamChangeSchema(Schema):
    region = fields.String(attribute="region.slug")
    external_id = fields.String(attribute="page.external_id")
    flagged = fields.Boolean()
    derived_from = fields.Function(
        lambda change: (
            {
                "region": change.attribution.region.slug,
                "external_id": change.attribution.page.external_id,
            }
            if change.attribution
            else None
        ),
        allow_none=True,
        metadata={"type": "object"},
    )
    attribution = fields.Nested(AttributionSchema, allow_none=True)
    languages = fields.List(fields.Nested(LanguageUpstreamSchema))


class UpstreamChangeListSchema(Schema):
    region = fields.String()
    total = fields.Integer()
    items = fields.List(fields.Nested(UpstreamChangeSchema))


@blp.route("/regions/<string:region>/pages/reuse", methods=["POST"])
@token_required
@blp.arguments(ReuseRequestSchema)
@blp.response(201, ReuseResultSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(
    403, description="Token of another region or role; add_languages without an admin token"
)
@blp.alt_response(404, description="Unknown region, origin region or origin page")
@blp.alt_response(409, description="The region has a page with this external id already")
@blp.alt_response(422, description="Same region, or a language the region or origin lacks")
def reuse_page(data, region):
    """Start a page from another region's page: its public translations copied as drafts.

    Each copy keeps the origin's attribution and version; local specifics (phone numbers,
    e-mails, URLs, dates, amounts, numbers) are listed to review before publishing.
    """
    result = reuse_service.reuse_page(db.session, current_actor(), region, **data)
    translations_changed([item.translation.id for item in result.translations])
    return result


@blp.route("/regions/<string:region>/pages/reuse/preview")
@token_required
@blp.arguments(ReusePreviewQuerySchema, location="query")
@blp.response(200, ReusePreviewSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region or role")
@blp.alt_response(404, description="Unknown region, origin region or origin page")
@blp.alt_response(422, description="Same region, or no language of the region to copy")
def preview_reuse(query, region):
    """What starting a page from another region's page would copy, before anything is stored:
    languages with their words, local details to replace, the new page's id, and whether the
    region has this content already (nothing to gain)."""
    return reuse_service.preview_reuse(db.session, current_actor(), region, **query)


@blp.route("/regions/<string:region>/upstream-changes")
@token_required
@blp.response(200, UpstreamChangeListSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown region")
def list_upstream_changes(region):
    """Reused pages whose origin changed (or is gone), with a sentence diff per language."""
    changes = reuse_service.upstream_changes(db.session, current_actor(), region)
    return {"region": region, "total": len(changes), "items": changes}


@blp.route("/regions/<string:region>/pages/<string:external_id>/upstream")
@token_required
@blp.response(200, UpstreamChangeSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region")
@blp.alt_response(404, description="Unknown region or page, or a page not reused")
def page_upstream(region, external_id):
    """One reused page: per language its origin version, whether the origin changed, the diff."""
    return reuse_service.upstream_changes(db.session, current_actor(), region, external_id)[0]


@blp.route(
    "/regions/<string:region>/pages/<string:external_id>/upstream/acknowledge", methods=["POST"]
)
@token_required
@blp.arguments(AcknowledgeSchema)
@blp.response(200, UpstreamChangeSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region or role")
@blp.alt_response(404, description="Unknown region, page or language, or a page not reused")
@blp.alt_response(422, description="A language the page did not reuse")
def acknowledge_upstream(data, region, external_id):
    """The editor took the origin's change in: the page is based on the origin's current version."""
    return reuse_service.acknowledge_upstream(
        db.session, current_actor(), region, external_id, data.get("language")
    )
