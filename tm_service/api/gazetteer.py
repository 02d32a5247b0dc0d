"""A region's gazetteer of local details: public read, edits and rebuilds by its editors."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from matchers.local_details import KINDS
from memory.services import gazetteer as gazetteer_service
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema, license_of
from tm_service.auth import current_actor, token_required
from tm_service.extensions import db

blp = Blueprint("gazetteer", __name__, description="Each region's local details (its gazetteer)")

KIND = validate.OneOf(KINDS)
NAMES = fields.Dict(
    keys=fields.String(validate=LANGUAGE_CODE),
    values=fields.String(validate=validate.Length(1, gazetteer_service.VALUE_MAX)),
    metadata={"description": 'What translations call it, per language: {"en": "Munich"}.'},
)


class EntrySchema(Schema):
    id = fields.Integer(
        allow_none=True, metadata={"description": "Null while the region was never built."}
    )
    kind = fields.String(metadata={"description": " | ".join(KINDS)})
    value = fields.String(metadata={"description": "As the region writes it."})
    key = fields.String(metadata={"description": "Normalised form entries compare by."})
    names = fields.Dict(keys=fields.String(), values=fields.String())
    origin = fields.String(metadata={"description": "auto (found by a build) | manual (editors)"})
    removed = fields.Boolean(
        metadata={"description": "Removed by an editor (kept so a rebuild does not bring it back)."}
    )
    frequency = fields.Integer(metadata={"description": "Pages of the region that have it."})


class GazetteerSchema(Schema):
    region = fields.String(attribute="region.slug")
    built_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "Null: never built; entries as a build finds them now."},
    )
    pages = fields.Integer(metadata={"description": "Pages the entries were found in."})
    entries = fields.List(fields.Nested(EntrySchema))
    license = fields.Function(lambda view: license_of(view.region), metadata={"type": "object"})


class GazetteerQuerySchema(StrictSchema):
    kind = fields.String(validate=KIND)
    include_removed = fields.Boolean(load_default=False)


class EntryPutSchema(StrictSchema):
    kind = fields.String(required=True, validate=KIND)
    value = fields.String(required=True, validate=validate.Length(1, gazetteer_service.VALUE_MAX))
    names = NAMES


class EntryPatchSchema(StrictSchema):
    value = fields.String(validate=validate.Length(1, gazetteer_service.VALUE_MAX))
    names = NAMES
    removed = fields.Boolean()


class BuildReportSchema(Schema):
    region = fields.String()
    pages = fields.Integer()
    other_regions = fields.Integer(
        metadata={"description": "Regions whose pages were compared (what they share is left out)."}
    )
    entries = fields.Integer()
    added = fields.Integer()
    updated = fields.Integer()
    dropped = fields.Integer()
    by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())


class LocalDetailSchema(Schema):
    """Another region's local detail in a suggestion (see the gazetteer)."""

    kind = fields.String(metadata={"description": " | ".join(KINDS)})
    value = fields.String(metadata={"description": "The donor's detail in the match's source."})
    span = fields.String(metadata={"description": "Its counterpart in the suggested text now."})
    status = fields.String(
        metadata={"description": "replaced (the query's value put in) | review (kept: check it)"}
    )
    replacement = fields.String(metadata={"description": "The query's value (replaced only)."})
    region = fields.String(metadata={"description": "The region the detail belongs to."})


class DraftLocalDetailSchema(LocalDetailSchema):
    """A detail the draft kept, marked <mark data-local-detail="KIND"> in its content."""

    part = fields.String(metadata={"description": "title | content | text"})
    index = fields.Integer(metadata={"description": "The segment's index within its part."})


@blp.route("/regions/<string:region>/gazetteer")
@blp.arguments(GazetteerQuerySchema, location="query")
@blp.response(200, GazetteerSchema)
@blp.alt_response(404, description="Unknown region")
def get_gazetteer(query, region):
    """The region's local details: places, postal codes with towns, addresses, offices,
    phones, e-mails and web domains, most frequent first."""
    return gazetteer_service.get_gazetteer(
        db.session, region, kind=query.get("kind"), include_removed=query["include_removed"]
    )


@blp.route("/regions/<string:region>/gazetteer/entries", methods=["PUT"])
@token_required
@blp.arguments(EntryPutSchema)
@blp.response(200, EntrySchema)
@blp.alt_response(201, schema=EntrySchema, description="Created")
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an editor or admin of this region")
@blp.alt_response(404, description="Unknown region")
def put_entry(data, region):
    """Add an entry, or take over the one of the same kind and value (restoring it if it was
    removed); an editor's entry is never changed by a rebuild."""
    entry, created = gazetteer_service.put_entry(
        db.session,
        current_actor(),
        region,
        kind=data["kind"],
        value=data["value"],
        names=data.get("names"),
    )
    return entry, 201 if created else 200


@blp.route("/regions/<string:region>/gazetteer/entries/<int:entry_id>", methods=["PATCH"])
@token_required
@blp.arguments(EntryPatchSchema)
@blp.response(200, EntrySchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an editor or admin of this region")
@blp.alt_response(404, description="Unknown region or entry")
def patch_entry(data, region, entry_id):
    """Correct an entry's value or names, or remove or restore it (`removed`)."""
    return gazetteer_service.update_entry(db.session, current_actor(), region, entry_id, data)


@blp.route("/regions/<string:region>/gazetteer/entries/<int:entry_id>", methods=["DELETE"])
@token_required
@blp.response(204)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an editor or admin of this region")
@blp.alt_response(404, description="Unknown region or entry")
def delete_entry(region, entry_id):
    """Remove an entry (an automatic one stays removed through rebuilds)."""
    gazetteer_service.delete_entry(db.session, current_actor(), region, entry_id)
    return ""


@blp.route("/regions/<string:region>/gazetteer/rebuild", methods=["POST"])
@token_required
@blp.response(200, BuildReportSchema)
@blp.alt_response(401, description="No token")
@blp.alt_response(403, description="Not an editor or admin of this region")
@blp.alt_response(404, description="Unknown region")
def rebuild(region):
    """Build the region's automatic entries again from its pages and settings (editors'
    entries and removals stay)."""
    return gazetteer_service.build_gazetteer(db.session, current_actor(), region).as_dict()
