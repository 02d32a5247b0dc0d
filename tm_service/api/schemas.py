"""Marshmallow schemas: request validation and response shape (and so the OpenAPI document)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from memory.models import (
    ContentKind,
    Origin,
    RegionKind,
    ReviewStatus,
    TextDirection,
    TranslationStatus,
    utcnow,
)

SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,99}$", error="Lowercase letters, digits and '-'.")
# At most 20 characters: the length of the language code column.
LANGUAGE_CODE = validate.Regexp(
    r"^(?=.{2,20}$)[a-z]{2,3}(-[a-z0-9]{1,8})*$",
    error="A language code such as 'de', 'en' or 'de-si' (at most 20 characters).",
)
# Ids, versions and positions are 32-bit integer columns.
INT32 = validate.Range(-(2**31), 2**31 - 1)


def _unstorable(value: Any) -> bool:
    """Whether a JSON value holds text no database column can store: NUL or a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item or (not item.isascii() and _has_surrogate(item)):
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 timestamp with its offset, converted to UTC on load (it is stored in UTC);
    one whose UTC time leaves the calendar (year 1 at +14:00, year 9999 at -12:00) is refused."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:
            raise ValidationError("Outside the years 1–9999 once converted to UTC.") from error


def _json_of_at_most(size: int):
    def check(value: Any) -> None:
        if value is not None and len(json.dumps(value, ensure_ascii=False)) > size:
            raise ValidationError(f"At most {size} characters as JSON.")

    return check


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **kwargs: Any) -> Any:
        # PostgreSQL text cannot hold NUL and "\ud800" is no UTF-8: a 422 naming the field here
        # instead of a 500 from the database or the content hash.
        if isinstance(data, Mapping):
            errors = {
                str(name): ["Contains a NUL character or an unpaired surrogate."]
                for name, value in data.items()
                if _unstorable(value)
            }
            if errors:
                raise ValidationError(errors)
        return data


class LicenseSchema(Schema):
    name = fields.String()
    url = fields.String()
    attribution = fields.String()


def license_of(region: Any) -> dict[str, str]:
    """The licence and attribution every public response carries."""
    return {
        "name": region.license,
        "url": region.license_url,
        "attribution": region.attribution or f"{region.name} — shared under {region.license}",
    }


# --- languages and regions -------------------------------------------------


class LanguageSchema(Schema):
    code = fields.String()
    bcp47_tag = fields.String()
    name = fields.String()
    english_name = fields.String()
    direction = fields.Enum(TextDirection, by_value=True)


class LanguageWriteSchema(StrictSchema):
    bcp47_tag = fields.String(validate=validate.Length(1, 35))
    name = fields.String(validate=validate.Length(1, 100))
    english_name = fields.String(validate=validate.Length(0, 100))
    direction = fields.Enum(TextDirection, by_value=True)


class RegionLanguageSchema(StrictSchema):
    code = fields.String(required=True, validate=LANGUAGE_CODE)
    parent = fields.String(allow_none=True, validate=LANGUAGE_CODE)
    visible = fields.Boolean(load_default=True)


class RegionLanguageOutSchema(Schema):
    code = fields.String(attribute="language.code")
    parent = fields.Function(
        lambda node: node.parent_language.code if node.parent_language else None
    )
    visible = fields.Boolean()


class RegionSchema(Schema):
    slug = fields.String()
    name = fields.String()
    kind = fields.Enum(RegionKind, by_value=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    source_language = fields.String(attribute="source_language.code")
    languages = fields.List(fields.Nested(RegionLanguageOutSchema))
    neighbours = fields.Function(lambda region: [n.slug for n in region.neighbours])
    base_url = fields.String()
    mt_word_budget = fields.Integer()
    mt_words_used = fields.Function(
        lambda region: region.mt_words_used_in(utcnow().year),
        metadata={"type": "integer", "description": "Machine-translated words this year."},
    )
    license = fields.Function(license_of, metadata={"type": "object"})


class RegionUpdateSchema(StrictSchema):
    name = fields.String(validate=validate.Length(1, 200))
    kind = fields.Enum(RegionKind, by_value=True)
    latitude = fields.Float(allow_none=True, validate=validate.Range(-90, 90))
    longitude = fields.Float(allow_none=True, validate=validate.Range(-180, 180))
    source_language = fields.String(validate=LANGUAGE_CODE)
    license = fields.String(validate=validate.Length(1, 100))
    license_url = fields.String(validate=validate.Length(0, 300))
    attribution = fields.String(validate=validate.Length(0, 2000))
    base_url = fields.String(validate=validate.Length(0, 300))
    mt_word_budget = fields.Integer(strict=True, validate=validate.Range(0, 10**9))
    neighbours = fields.List(fields.String(validate=SLUG), validate=validate.Length(max=1000))
    languages = fields.List(fields.Nested(RegionLanguageSchema), validate=validate.Length(max=200))


class RegionCreateSchema(RegionUpdateSchema):
    slug = fields.String(required=True, validate=SLUG)
    name = fields.String(required=True, validate=validate.Length(1, 200))


# --- pages and translations -------------------------------------------------


class TranslationPushSchema(StrictSchema):
    """What the CMS pushes for one page translation."""

    title = fields.String(required=True, validate=validate.Length(1, 1000))
    content = fields.String(load_default="", validate=validate.Length(max=5_000_000))
    meta_description = fields.String(
        load_default="",
        validate=validate.Length(max=10_000),
        metadata={"description": "The meta description: versioned and translated like the title."},
    )
    status = fields.Enum(TranslationStatus, by_value=True, load_default=TranslationStatus.PUBLIC)
    origin = fields.Enum(Origin, by_value=True, load_default=Origin.HUMAN)
    review_status = fields.Enum(ReviewStatus, by_value=True, load_default=ReviewStatus.UNREVIEWED)
    source_version = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(1, 2**31 - 1),
        metadata={"description": "Version of the source-language text this was translated from."},
    )
    parent = fields.String(
        allow_none=True,
        validate=validate.Length(max=100),
        metadata={"description": "External id of the parent page; null for a root page."},
    )
    position = fields.Integer(strict=True, validate=INT32)
    url = fields.String(validate=validate.Length(max=1000))
    path = fields.String(validate=validate.Length(max=1000))
    last_updated = UtcDateTime(default_timezone=None)
    external_translation_id = fields.String(validate=validate.Length(max=100))
    kind = fields.Enum(
        ContentKind,
        by_value=True,
        metadata={"description": "page (default for a new page) | event | location | imprint"},
    )
    details = fields.Dict(
        keys=fields.String(),
        allow_none=True,
        validate=_json_of_at_most(100_000),
        metadata={
            "description": "An event's or location's local details (address, coordinates, "
            "phone, dates …): kept with the page, never matched or reused; a location's "
            "address, postal code with town, phone, e-mail and website go into the region's "
            "gazetteer."
        },
    )


class TranslationSchema(Schema):
    """One stored version of a page translation."""

    region = fields.String(attribute="translation.page.region.slug")
    page = fields.String(attribute="translation.page.external_id")
    language = fields.String(attribute="translation.language.code")
    direction = fields.Enum(
        TextDirection, by_value=True, attribute="translation.language.direction"
    )
    version = fields.Integer(attribute="translation.version")
    is_latest = fields.Boolean()
    title = fields.String(attribute="translation.title")
    content = fields.String(attribute="translation.content")
    meta_description = fields.String(attribute="translation.meta_description")
    content_hash = fields.String(attribute="translation.content_hash")
    status = fields.Enum(TranslationStatus, by_value=True, attribute="translation.status")
    origin = fields.Enum(Origin, by_value=True, attribute="translation.origin")
    review_status = fields.Enum(ReviewStatus, by_value=True, attribute="translation.review_status")
    source_language = fields.String(allow_none=True)
    source_version = fields.Integer(allow_none=True, attribute="translation.source_version")
    outdated = fields.Boolean()
    last_updated = fields.DateTime(attribute="translation.last_updated")
    url = fields.String(attribute="translation.url")
    path = fields.String(attribute="translation.path")
    external_translation_id = fields.String(allow_none=True, attribute="translation.external_id")
    license = fields.Function(lambda view: license_of(view.translation.page.region))


class VersionSchema(TranslationSchema):
    """A version in a page's history (without its content; read the translation for that)."""

    class Meta:
        exclude = ("content", "license")


class TranslationSummarySchema(Schema):
    language = fields.String(attribute="translation.language.code")
    version = fields.Integer(attribute="translation.version")
    title = fields.String(attribute="translation.title")
    status = fields.Enum(TranslationStatus, by_value=True, attribute="translation.status")
    origin = fields.Enum(Origin, by_value=True, attribute="translation.origin")
    outdated = fields.Boolean()
    last_updated = fields.DateTime(attribute="translation.last_updated")
    url = fields.String(attribute="translation.url")


class PageSummarySchema(Schema):
    external_id = fields.String(attribute="page.external_id")
    parent = fields.Function(
        lambda view: view.page.parent.external_id if view.page.parent else None
    )
    source_language = fields.String(attribute="page.source_language.code")
    position = fields.Integer(attribute="page.position")
    kind = fields.Function(
        lambda view: view.page.kind.value if view.page.kind else "page",
        metadata={"description": "page | event | location | imprint"},
    )
    translations = fields.List(fields.Nested(TranslationSummarySchema))


class PageSchema(Schema):
    region = fields.String(attribute="region.slug")
    external_id = fields.String(attribute="page.external_id")
    parent = fields.Function(
        lambda view: view.page.parent.external_id if view.page.parent else None
    )
    children = fields.List(fields.String())
    source_language = fields.String(attribute="page.source_language.code")
    derived_from = fields.Function(
        lambda view: (
            {
                "region": view.page.derived_from.region.slug,
                "external_id": view.page.derived_from.external_id,
            }
            if view.page.derived_from
            else None
        )
    )
    position = fields.Integer(attribute="page.position")
    kind = fields.Function(
        lambda view: view.page.kind.value if view.page.kind else "page",
        metadata={"description": "page | event | location | imprint"},
    )
    details = fields.Function(
        lambda view: view.page.details,
        metadata={
            "description": "An event's dates and place, a location's address, coordinates, "
            "phone, e-mail, website and opening hours: the region's local details, never "
            "matched or reused."
        },
    )
    translations = fields.List(fields.Nested(TranslationSchema))
    versions = fields.List(fields.Nested(VersionSchema))
    license = fields.Function(lambda view: license_of(view.region))


class PageListSchema(Schema):
    region = fields.String()
    total = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
    items = fields.List(fields.Nested(PageSummarySchema))
    license = fields.Nested(LicenseSchema)


class PageListQuerySchema(StrictSchema):
    language = fields.String(validate=LANGUAGE_CODE)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))
    include_drafts = fields.Boolean(load_default=False)


class DraftQuerySchema(StrictSchema):
    include_drafts = fields.Boolean(
        load_default=False,
        metadata={"description": "Only honoured for a token of this region."},
    )


class HealthSchema(Schema):
    status = fields.String()
    database = fields.String()
    jobs = fields.String()
    version = fields.String()
