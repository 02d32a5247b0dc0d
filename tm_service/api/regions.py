"""Regions and languages: public reads, admin writes."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import ValidationError

from memory.authorization import Action, authorize
from memory.errors import InvalidInput
from memory.services import regions as region_service
from tm_service.api.schemas import (
    LANGUAGE_CODE,
    LanguageSchema,
    LanguageWriteSchema,
    RegionCreateSchema,
    RegionSchema,
    RegionUpdateSchema,
)
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db

blp = Blueprint("regions", __name__, description="Regions and languages")


@blp.route("/regions")
@blp.response(200, RegionSchema(many=True))
def list_regions():
    """All regions with their language trees, neighbours and licences."""
    return region_service.list_regions(db.session)


@blp.route("/regions", methods=["POST"])
@token_required
@blp.arguments(RegionCreateSchema)
@blp.response(201, RegionSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not a global admin token")
@blp.alt_response(409, description="Slug taken")
def create_region(data):
    """Register a region (global admin token)."""
    return region_service.create_region(db.session, current_actor(), data)


@blp.route("/regions/<string:region>")
@blp.response(200, RegionSchema)
@blp.alt_response(404, description="Unknown region")
def get_region(region):
    """One region."""
    return region_service.get_region(db.session, region)


@blp.route("/regions/<string:region>", methods=["PATCH"])
@token_required
@blp.arguments(RegionUpdateSchema)
@blp.response(200, RegionSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an admin of this region")
@blp.alt_response(404, description="Unknown region")
def update_region(data, region):
    """Change a region's settings, language tree or neighbours (admin of the region)."""
    return region_service.update_region(db.session, current_actor(), region, data)


@blp.route("/languages")
@blp.response(200, LanguageSchema(many=True))
def list_languages():
    """Every language the store knows."""
    return region_service.list_languages(db.session)


@blp.route("/languages/<string:code>")
@blp.response(200, LanguageSchema)
@blp.alt_response(404, description="Unknown language")
def get_language(code):
    """One language."""
    return region_service.get_language(db.session, code)


@blp.route("/languages/<string:code>", methods=["PUT"])
@token_required
@blp.arguments(LanguageWriteSchema)
@blp.response(200, LanguageSchema)
@blp.alt_response(201, schema=LanguageSchema, description="Created")
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not a global admin token")
def put_language(data, code):
    """Create or update a language (global admin token)."""
    authorize(current_actor(), Action.ADMINISTER)
    try:
        LANGUAGE_CODE(code)
    except ValidationError as error:
        raise InvalidInput(
            f"Bad language code '{code}'.", errors={"code": error.messages}
        ) from error
    language, created = region_service.save_language(db.session, current_actor(), code, data)
    return language, 201 if created else 200
