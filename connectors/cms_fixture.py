"""Read an Integreat CMS Django fixture (regions, language trees, pages, translation versions)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from connectors.integreat import language_code, read_json_file

# Where Integreat publishes its regions' pages: https://integreat.app/{region}/{language}/{path}/.
INTEGREAT_WEB_URL = "https://integreat.app"

KIND_BY_DIVISION = {
    "CITY": "city",
    "RURAL_DISTRICT": "county",
    "URBAN_DISTRICT": "city",
    "MUNICIPALITY": "municipality",
    "REGION": "region",
    "STATE": "state",
}


# The CMS test data's placeholder language for hidden content; it names no real language.
HIDDEN_LANGUAGE = "hidden"


def _bcp47_tag(tag: str, where: str) -> str:
    """A fixture's BCP 47 tag as written (`ar-arb`, `fa-IR`), if it is a valid tag."""
    language_code(tag, f"{where} bcp47_tag")
    return tag


@dataclass(frozen=True)
class FixtureLanguage:
    code: str
    bcp47_tag: str
    native_name: str
    english_name: str
    direction: str


@dataclass(frozen=True)
class FixtureTranslation:
    id: int
    language: str
    version: int
    title: str
    content: str
    status: str  # public | draft | review | auto_save
    machine_translated: bool
    last_updated: str
    slug: str
    # The page's address as API v3 gives it: /{region}/{language}/{ancestors' slugs}/{slug}/.
    path: str = ""


@dataclass
class FixturePage:
    id: int
    parent_id: int | None
    position: int
    translations: list[FixtureTranslation] = field(default_factory=list)


@dataclass
class FixtureRegion:
    slug: str
    name: str
    kind: str
    latitude: float | None
    longitude: float | None
    # language code → the code it is translated from (None for the root)
    language_tree: dict[str, str | None] = field(default_factory=dict)
    pages: list[FixturePage] = field(default_factory=list)


@dataclass
class CmsFixture:
    languages: dict[str, FixtureLanguage]
    regions: dict[str, FixtureRegion]


def read_cms_fixture(path: Path) -> CmsFixture:
    """Parse the fixture's regions, languages, language trees, pages and translation versions."""
    records: list[dict[str, Any]] = read_json_file(path)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_model.setdefault(record.get("model", ""), []).append(record)

    languages_by_pk: dict[int, FixtureLanguage] = {}
    for record in by_model.get("cms.language", []):
        fields = record["fields"]
        slug = fields["slug"]
        if slug == HIDDEN_LANGUAGE:
            # Kept as it is: the importer leaves this test language and its texts out.
            code = bcp47_tag = slug
        else:
            where = f"{path}: cms.language {record.get('pk')}"
            code = language_code(slug, where)
            bcp47_tag = _bcp47_tag(fields.get("bcp47_tag") or slug, where)
        languages_by_pk[record["pk"]] = FixtureLanguage(
            code=code,
            bcp47_tag=bcp47_tag,
            native_name=fields.get("native_name") or slug,
            english_name=fields.get("english_name") or "",
            direction="rtl" if fields.get("text_direction") == "RIGHT_TO_LEFT" else "ltr",
        )

    regions_by_pk: dict[int, FixtureRegion] = {}
    for record in by_model.get("cms.region", []):
        fields = record["fields"]
        regions_by_pk[record["pk"]] = FixtureRegion(
            slug=fields["slug"],
            name=fields["name"],
            kind=KIND_BY_DIVISION.get(fields.get("administrative_division", ""), "region"),
            latitude=fields.get("latitude"),
            longitude=fields.get("longitude"),
        )

    nodes = {record["pk"]: record["fields"] for record in by_model.get("cms.languagetreenode", [])}
    for fields in nodes.values():
        region = regions_by_pk.get(fields["region"])
        if region is None or not fields.get("active", True):
            continue
        parent = nodes.get(fields["parent"]) if fields.get("parent") else None
        region.language_tree[languages_by_pk[fields["language"]].code] = (
            languages_by_pk[parent["language"]].code if parent else None
        )

    pages_by_pk: dict[int, FixturePage] = {}
    for record in by_model.get("cms.page", []):
        fields = record["fields"]
        region = regions_by_pk.get(fields["region"])
        if region is None or fields.get("explicitly_archived"):
            continue
        page = FixturePage(
            id=record["pk"], parent_id=fields.get("parent"), position=fields.get("lft", 0)
        )
        pages_by_pk[page.id] = page
        region.pages.append(page)

    for record in by_model.get("cms.pagetranslation", []):
        fields = record["fields"]
        owner = pages_by_pk.get(fields["page"])
        if owner is None:
            continue
        owner.translations.append(
            FixtureTranslation(
                id=record["pk"],
                language=languages_by_pk[fields["language"]].code,
                version=int(fields["version"]),
                title=fields["title"],
                content=fields.get("content") or "",
                status=str(fields.get("status", "PUBLIC")).lower(),
                machine_translated=bool(fields.get("machine_translated")),
                last_updated=fields["last_updated"],
                slug=fields.get("slug") or "",
            )
        )
    for page in pages_by_pk.values():
        page.translations.sort(key=lambda t: (t.language, t.version))
    for region in regions_by_pk.values():
        _set_paths(region, pages_by_pk)
    return CmsFixture(
        languages={language.code: language for language in languages_by_pk.values()},
        regions={region.slug: region for region in regions_by_pk.values()},
    )


def _set_paths(region: FixtureRegion, pages_by_pk: dict[int, FixturePage]) -> None:
    """Give every translation its API v3 path, as the CMS builds it from the page tree."""
    root = next((code for code, parent in region.language_tree.items() if parent is None), None)
    for page in region.pages:
        ancestors: list[FixturePage] = []
        parent = pages_by_pk.get(page.parent_id) if page.parent_id else None
        while parent is not None and len(ancestors) < len(pages_by_pk):
            ancestors.insert(0, parent)
            parent = pages_by_pk.get(parent.parent_id) if parent.parent_id else None
        page.translations = [
            replace(
                translation,
                path=_path(
                    region.slug,
                    translation.language,
                    [_slug_in(ancestor, translation.language, root) for ancestor in ancestors],
                    translation.slug,
                ),
            )
            for translation in page.translations
        ]


def _slug_in(page: FixturePage, language: str, root: str | None) -> str:
    """An ancestor's slug in `language`: its public one, else its latest, else the root's."""
    for code in (language, root):
        versions = [t for t in page.translations if t.language == code]
        public = [t for t in versions if t.status == "public"]
        if public or versions:
            return (public or versions)[-1].slug
    return ""


def _path(region: str, language: str, ancestors: list[str], slug: str) -> str:
    return "/" + "/".join(part for part in (region, language, *ancestors, slug) if part) + "/"
