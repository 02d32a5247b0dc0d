"""Near-duplicate pages of other regions, and the overlap of two regions."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, post_load, validate

from memory.services import similarity as similarity_service
from tm_service.api.schemas import LANGUAGE_CODE, SLUG, StrictSchema, license_of
from tm_service.extensions import db
from tm_service.jobs import get_similarity_indexes

blp = Blueprint("similar", __name__, description="Near-duplicate pages across regions")


class SimilarQuerySchema(StrictSchema):
    language = fields.String(
        validate=LANGUAGE_CODE,
        metadata={"description": "Translation to match (default: the page's source language)."},
    )
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 100))
    min_score = fields.Float(load_default=0.0, validate=validate.Range(0.0, 1.0))
    relation = fields.String(
        load_default="related",
        validate=validate.OneOf(["same_text", "same_topic", "related", "unrelated"]),
        metadata={
            "description": "The weakest relation to return: same_text (near-copies, "
            "translations), same_topic (the same topic in other words), related (default), "
            "unrelated (everything scored)."
        },
    )
    regions = fields.List(
        fields.String(validate=validate.Length(1, 2000)),
        metadata={"description": "Only these regions: a comma list, or the parameter repeated."},
    )
    cross_lingual = fields.Boolean(load_default=True)

    @post_load
    def split_regions(self, data, **kwargs):
        if "regions" in data:
            slugs = [s.strip() for item in data["regions"] for s in item.split(",") if s.strip()]
            bad = [s for s in slugs if not SLUG.regex.match(s)]
            if bad:
                raise ValidationError({"regions": [f"Not a region slug: {', '.join(bad)}"]})
            data["regions"] = sorted(set(slugs)) or None
        return data


class OverlapQuerySchema(StrictSchema):
    min_score = fields.Float(load_default=0.5, validate=validate.Range(0.0, 1.0))


class ReasonSchema(Schema):
    """Every input of a score: ratios 0–1, cosines −1–1, signals that fired on their own."""

    shared_text_ratio = fields.Float(allow_none=True)
    shingle_jaccard = fields.Float(allow_none=True)
    text_evidence = fields.Float()
    embedding_similarity = fields.Float(allow_none=True)
    embedding_z = fields.Float(allow_none=True)
    embedding_percentile = fields.Float(allow_none=True)
    embedding_rank = fields.Integer(allow_none=True)
    embedding_evidence = fields.Float()
    section_similarity = fields.Float(allow_none=True)
    title_similarity = fields.Float(allow_none=True)
    signals = fields.List(fields.String())
    region_rank = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Rank of the page among its region's pages for the query (1 = nearest)."
        },
    )
    reverse_rank = fields.Integer(
        allow_none=True,
        metadata={"description": "Rank of the query among its region's pages for this page."},
    )
    rank_evidence = fields.Float(
        metadata={"description": "1: mutual nearest pages, 0.5: nearest one way, 0: neither."}
    )
    title_rank = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Rank of the page's title among its region's titles in its language "
            "for the query's title (title vectors; 1 = nearest)."
        },
    )
    relation = fields.String(metadata={"description": "same_text | same_topic | related"})


class LanguageMatchSchema(Schema):
    language = fields.String()
    score = fields.Float()


class SimilarPageSchema(Schema):
    region = fields.String(attribute="region.slug")
    region_name = fields.String(attribute="region.name")
    external_id = fields.String()
    language = fields.String()
    title = fields.String()
    url = fields.String()
    score = fields.Float()
    relation = fields.String(
        attribute="reason.relation",
        metadata={
            "description": "same_text: a near-copy or its translation; same_topic: the same "
            "topic in the region's own words; related: a nearby topic."
        },
    )
    reason = fields.Nested(ReasonSchema)
    matched_languages = fields.List(fields.Nested(LanguageMatchSchema))
    missing_languages = fields.List(
        fields.String(),
        metadata={"description": "Languages the other page has that this page lacks."},
    )
    license = fields.Function(lambda item: license_of(item.region), metadata={"type": "object"})


class SimilarPagesSchema(Schema):
    region = fields.String(attribute="region.slug")
    external_id = fields.String()
    language = fields.String()
    title = fields.String()
    items = fields.List(fields.Nested(SimilarPageSchema))
    license = fields.Function(lambda result: license_of(result.region), metadata={"type": "object"})


class OverlapPairSchema(Schema):
    external_id_a = fields.String()
    title_a = fields.String()
    language_a = fields.String()
    external_id_b = fields.String()
    title_b = fields.String()
    language_b = fields.String()
    score = fields.Float()
    signals = fields.List(fields.String())
    missing_languages = fields.List(fields.String())


class OverlapSchema(Schema):
    region_a = fields.String(attribute="region_a.slug")
    region_b = fields.String(attribute="region_b.slug")
    pages_a = fields.Integer()
    pages_b = fields.Integer()
    matched_pages = fields.Function(lambda report: len(report.pairs))
    pairs = fields.List(fields.Nested(OverlapPairSchema))
    shared_topics = fields.List(fields.String())
    missing_translations_available = fields.Integer()
    missing_by_language = fields.Dict(keys=fields.String(), values=fields.Integer())
    license_b = fields.Function(
        lambda report: license_of(report.region_b), metadata={"type": "object"}
    )


@blp.route("/regions/<string:region>/pages/<string:external_id>/similar")
@blp.arguments(SimilarQuerySchema, location="query")
@blp.response(200, SimilarPagesSchema)
@blp.alt_response(404, description="Unknown region, page, or no public translation")
@blp.alt_response(422, description="Invalid query parameters")
def similar_pages(query, region, external_id):
    """Near-duplicate pages of other regions (public versions only), best first; scores 0–1.

    Each result says why it matched (`reason`), which of its translations matched, and which
    languages it has that this page lacks (`missing_languages`: translations to reuse).
    """
    return similarity_service.find_similar_pages(
        db.session,
        get_similarity_indexes(),
        region,
        external_id,
        language=query.get("language"),
        limit=query["limit"],
        min_score=query["min_score"],
        min_relation=query["relation"],
        regions=query.get("regions"),
        cross_lingual=query["cross_lingual"],
    )


@blp.route("/regions/<string:region_a>/overlap/<string:region_b>")
@blp.arguments(OverlapQuerySchema, location="query")
@blp.response(200, OverlapSchema)
@blp.alt_response(404, description="Unknown region")
@blp.alt_response(422, description="Same region twice, or invalid parameters")
def overlap(query, region_a, region_b):
    """Pages of region A with a near-duplicate in region B, shared topics, reusable translations."""
    return similarity_service.overlap_report(
        db.session, get_similarity_indexes(), region_a, region_b, min_score=query["min_score"]
    )
