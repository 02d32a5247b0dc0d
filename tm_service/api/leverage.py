"""Leverage report: what the translation memory already covers of a region's remaining work."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, post_dump, post_load, validate

from memory.services import leverage as leverage_service
from tm_service.api.schemas import LANGUAGE_CODE, StrictSchema, license_of
from tm_service.api.tm import penalty_policy, tm_index
from tm_service.extensions import db

blp = Blueprint("leverage", __name__, description="Translation-memory leverage of a region")


class LeverageQuerySchema(StrictSchema):
    target_language = fields.List(
        fields.String(validate=validate.Length(1, 2000)),
        metadata={
            "description": "Languages to report: a comma list, or the parameter repeated "
            "(default: all of the region's languages but its source language)."
        },
    )
    pages = fields.Boolean(
        load_default=False, metadata={"description": "Add a breakdown per page (ids only)."}
    )

    @post_load
    def split_languages(self, data, **kwargs):
        if "target_language" in data:
            codes = [c.strip() for item in data["target_language"] for c in item.split(",")]
            codes = [c for c in codes if c]
            bad = [c for c in codes if not LANGUAGE_CODE.regex.match(c)]
            if bad:
                raise ValidationError({"target_language": [f"Not a language code: {bad[0]!r}"]})
            data["target_language"] = codes or None
        return data


class TrustCountSchema(Schema):
    segments = fields.Integer()
    words = fields.Integer()
    characters = fields.Integer()


class BandCountSchema(Schema):
    segments = fields.Integer()
    words = fields.Integer(metadata={"description": "Integreat's word count (DeepL budgets)."})
    characters = fields.Integer(
        metadata={"description": "Unicode code points without markup (what DeepL bills)."}
    )
    trust = fields.Dict(
        keys=fields.String(validate=validate.OneOf(leverage_service.TRUST_CLASSES)),
        values=fields.Nested(TrustCountSchema),
        metadata={
            "description": "Bands reached by a match: the same counts per trust class of the "
            "translation that matched (reviewed, approved: a region published it, unreviewed, "
            "machine, outdated); they add up to the band. Empty for repetitions and no_match."
        },
    )


def _band(name: str, description: str) -> fields.Nested:
    return fields.Nested(
        BandCountSchema, attribute=name, data_key=name, metadata={"description": description}
    )


class BandsSchema(Schema):
    """Counts per band of best match (how much of the source matches, whoever translated it);
    the bands add up to the whole."""

    context = _band("101", "Exact match whose neighbouring segments match too.")
    exact = _band(
        "100", "Identical source (normalised text, the query's own numbers and links), any trust."
    )
    repetitions = _band("repetitions", "The same segment came earlier in this language's batch.")
    high = _band("95-99", "Fuzzy match 95–99.")
    medium = _band("85-94", "Fuzzy match 85–94.")
    low = _band("75-84", "Fuzzy match 75–84.")
    no_match = _band("no_match", "Nothing ≥ 75: machine or human translation from scratch.")


class MachineTranslationSchema(Schema):
    words_saved = fields.Integer(metadata={"description": "Words of the bands ≥ 75 and repeats."})
    characters_saved = fields.Integer()
    cost_saved = fields.Float(metadata={"description": "characters_saved × price / 1 000 000."})
    words_needed = fields.Integer(metadata={"description": "Words of the no-match band."})
    characters_needed = fields.Integer()
    cost_needed = fields.Float(metadata={"description": "characters_needed × price / 1 000 000."})


class PageLeverageSchema(Schema):
    external_id = fields.String()
    source_language = fields.String(metadata={"description": "The language it is made from."})
    state = fields.String(validate=validate.OneOf(["missing", "outdated"]))
    segments = fields.Integer(attribute="counts.segments")
    words = fields.Integer(attribute="counts.words")
    characters = fields.Integer(attribute="counts.characters")
    bands = fields.Nested(BandsSchema, attribute="counts.bands")


class LeverageTotalsSchema(Schema):
    pages = fields.Integer(metadata={"description": "Page translations missing or outdated."})
    pages_missing = fields.Integer()
    pages_outdated = fields.Integer()
    pages_waiting_for_source = fields.Integer(
        metadata={"description": "Missing or outdated, but nothing public to translate from yet."}
    )
    segments = fields.Integer(attribute="counts.segments")
    words = fields.Integer(attribute="counts.words")
    characters = fields.Integer(attribute="counts.characters")
    bands = fields.Nested(BandsSchema, attribute="counts.bands")
    machine_translation = fields.Nested(MachineTranslationSchema)


class LanguageLeverageSchema(LeverageTotalsSchema):
    language = fields.String()
    in_region = fields.Boolean(
        metadata={
            "description": "False: the region has not added this language yet; every page is "
            "counted as missing, translated from its source language."
        }
    )
    note = fields.String(
        metadata={"description": "Only when not in the region: how an admin adds the language."}
    )
    page_details = fields.List(
        fields.Nested(PageLeverageSchema), metadata={"description": "Only with `pages=true`."}
    )

    @post_dump
    def drop_unasked_pages(self, data, **kwargs):
        for key in ("page_details", "note"):
            if data.get(key) is None:
                data.pop(key, None)
        return data


class BudgetSchema(Schema):
    word_budget = fields.Integer()
    words_used = fields.Integer()
    words_left = fields.Integer()
    words_needed = fields.Integer(metadata={"description": "No-match words of every language."})
    fits = fields.Boolean()
    shortfall = fields.Integer()


class LeverageReportSchema(Schema):
    region = fields.String(attribute="region.slug")
    source_language = fields.String(attribute="region.source_language.code")
    min_score = fields.Float(dump_default=leverage_service.MIN_LEVERAGE_SCORE)
    price_per_million_characters = fields.Float()
    currency = fields.String(dump_default="EUR")
    languages = fields.List(fields.Nested(LanguageLeverageSchema))
    totals = fields.Nested(LeverageTotalsSchema)
    budget = fields.Nested(BudgetSchema)
    lookups = fields.Integer(metadata={"description": "Translation-memory lookups made."})
    seconds = fields.Float()
    license = fields.Function(lambda report: license_of(report.region), metadata={"type": "object"})


@blp.route("/regions/<string:region>/leverage")
@blp.arguments(LeverageQuerySchema, location="query")
@blp.response(200, LeverageReportSchema)
@blp.alt_response(404, description="Unknown region or language")
@blp.alt_response(422, description="The region's source language")
def leverage(query, region):
    """Words of missing or outdated translations the memory covers, per match band and language.

    Bands by best match score after penalties: 101, 100, repetitions, 95–99, 85–94, 75–84,
    no match; they add up to the words. Public content only, numbers and page ids only. A
    language the region has not added yet is answered as well (`in_region: false`).
    """
    price = current_app.config.get(
        "DEEPL_PRICE_PER_MILLION_CHARACTERS", leverage_service.DEFAULT_PRICE_PER_MILLION_CHARACTERS
    )
    return leverage_service.leverage_report(
        db.session,
        tm_index(),
        region,
        target_languages=query.get("target_language"),
        policy=penalty_policy(),
        price_per_million_characters=float(price),
        include_pages=query["pages"],
    )
