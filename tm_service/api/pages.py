"""Pages and page translations: the CMS push and public reads."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from memory.services import pages as page_service
from memory.services.content_kinds import record_local_details
from memory.services.regions import get_region
from tm_service.api.schemas import (
    DraftQuerySchema,
    PageListQuerySchema,
    PageListSchema,
    PageSchema,
    TranslationPushSchema,
    TranslationSchema,
    license_of,
)
from tm_service.api.terminology import PushedTranslationSchema, with_term_warnings
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db, read_only
from tm_service.jobs import translation_changed

blp = Blueprint("pages", __name__, description="Pages and their translations")


@blp.route("/regions/<string:region>/pages")
@read_only
@blp.arguments(PageListQuerySchema, location="query")
@blp.response(200, PageListSchema)
@blp.alt_response(404, description="Unknown region or language")
def list_pages(query, region):
    """A region's pages, latest public translation per language (drafts only for its tokens)."""
    views, total = page_service.list_pages(
        db.session,
        region,
        actor=current_actor(),
        include_drafts=query["include_drafts"],
        language_code=query.get("language"),
        limit=query["limit"],
        offset=query["offset"],
    )
    return {
        "region": region,
        "total": total,
        "limit": query["limit"],
        "offset": query["offset"],
        "items": views,
        "license": license_of(get_region(db.session, region)),
    }


@blp.route("/regions/<string:region>/pages/<string:external_id>")
@read_only
@blp.arguments(DraftQuerySchema, location="query")
@blp.response(200, PageSchema)
@blp.alt_response(404, description="Unknown region or page")
def get_page(query, region, external_id):
    """One page with its latest translation per language and every version."""
    return page_service.get_page(
        db.session,
        region,
        external_id,
        actor=current_actor(),
        include_drafts=query["include_drafts"],
    )


@blp.route("/regions/<string:region>/pages/<string:external_id>/translations/<string:language>")
@read_only
@blp.arguments(DraftQuerySchema, location="query")
@blp.response(200, TranslationSchema)
@blp.alt_response(404, description="Unknown region, page or language")
def get_translation(query, region, external_id, language):
    """The latest version of one page translation; its ETag goes into If-Match of a push."""
    view = page_service.get_translation(
        db.session,
        region,
        external_id,
        language,
        actor=current_actor(),
        include_drafts=query["include_drafts"],
    )
    return view, 200, {"ETag": page_service.etag_of(view.translation)}


@blp.route(
    "/regions/<string:region>/pages/<string:external_id>/translations/<string:language>",
    methods=["PUT"],
)
@token_required
@blp.arguments(TranslationPushSchema)
@blp.response(
    200, PushedTranslationSchema, description="Unchanged: same content as the latest version"
)
@blp.alt_response(201, schema=PushedTranslationSchema, description="Stored as a new version")
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Token of another region or role")
@blp.alt_response(404, description="Unknown region or language")
@blp.alt_response(409, description="A concurrent write won; retry")
@blp.alt_response(412, description="If-Match does not match the current ETag")
@blp.alt_response(422, description="Invalid fields")
def push_translation(data, region, external_id, language):
    """The CMS pushes a page translation: idempotent, versioned, conflict-checked (If-Match).

    Pushing the same content twice stores nothing new (200); new content becomes the next
    version (201). Send the ETag you read as If-Match to have a stale write refused (412).
    """
    result = page_service.push_translation(
        db.session,
        current_actor(),
        region,
        external_id,
        language,
        data,
        if_match=request.headers.get("If-Match"),
    )
    view = result.view
    if result.created:
        translation_changed(result.view.translation.id)
        view = with_term_warnings(view)  # deprecated or forbidden terms it brings in
    if data.get("details"):
        # An event's or location's address, phone …: the region's own, in its gazetteer.
        record_local_details(db.session, region, {external_id: data["details"]})
    return (
        view,
        201 if result.created else 200,
        {"ETag": page_service.etag_of(result.view.translation)},
    )
