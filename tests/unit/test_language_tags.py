"""Language tags: one rule (valid BCP 47 and a code the API accepts) in every importer's reader."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from connectors.cms_fixture import read_cms_fixture
from connectors.integreat import IntegreatFormatError, parse_pages
from memory.language_tags import service_language_code
from tests.conftest import DEMO


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("de", "de"),
        ("DE-si", "de-si"),
        ("en_GB", "en-gb"),
        ("sr-Latn", "sr-latn"),
        ("ckb", "ckb"),
        ("ti", "ti"),
        ("ar-arb", "ar-arb"),
    ],
)
def test_valid_tags_give_their_lowercase_code(tag: str, code: str) -> None:
    assert service_language_code(tag) == code


@pytest.mark.parametrize(
    "tag",
    ["12", "", "zz", "xx", "de-", "de--at", "x-klingon", "i-klingon", "und", "zxx", "hidden", "a"],
)
def test_tags_that_are_not_bcp_47_or_name_no_language_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="not a language code"):
        service_language_code(tag)


def page(path: str, **extra) -> dict:
    return {"id": 1, "path": path, "title": "Willkommen", "content": "<p>Hallo.</p>", **extra}


def test_an_integreat_dump_with_a_page_in_language_12_is_refused() -> None:
    with pytest.raises(IntegreatFormatError, match=r"dump\[0\]: not a language code: '12'"):
        parse_pages([page("/lkaugsburg/12/willkommen/")])


def test_an_integreat_dump_linking_a_translation_in_language_12_is_refused() -> None:
    linked = {"12": {"id": 2, "url": "", "path": "/lkaugsburg/12/welcome/"}}

    with pytest.raises(IntegreatFormatError, match="available_languages"):
        parse_pages([page("/lkaugsburg/de/willkommen/", available_languages=linked)])


def test_an_integreat_dump_with_valid_tags_reads_as_before() -> None:
    linked = {"de-si": {"id": 2, "url": "", "path": "/lkaugsburg/de-si/willkommen/"}}

    (read,) = parse_pages([page("/lkaugsburg/de/willkommen/", available_languages=linked)])

    assert read.language == "de"
    assert set(read.available_languages) == {"de-si"}


def cms_fixture_with(tmp_path: Path, slug: str, bcp47_tag: str) -> Path:
    """The Integreat CMS test data shipped as demo data, one language changed."""
    records = json.loads(gzip.decompress((DEMO / "integreat_cms_test_data.json.gz").read_bytes()))
    language = next(r for r in records if r["model"] == "cms.language" and r["pk"] == 3)
    language["fields"].update(slug=slug, bcp47_tag=bcp47_tag)
    path = tmp_path / "test_data.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_the_real_cms_fixture_reads_with_its_hidden_test_language(tmp_path: Path) -> None:
    fixture = read_cms_fixture(DEMO / "integreat_cms_test_data.json.gz")

    assert {"de", "en", "ar", "fa", "de-si", "hidden"} <= set(fixture.languages)
    assert fixture.languages["ar"].bcp47_tag == "ar-arb"


@pytest.mark.parametrize(
    ("slug", "bcp47_tag", "message"),
    [("12", "ar", "not a language code: '12'"), ("ar", "12-xx", "bcp47_tag")],
)
def test_a_cms_fixture_language_that_is_not_bcp_47_is_refused(
    tmp_path: Path, slug: str, bcp47_tag: str, message: str
) -> None:
    with pytest.raises(IntegreatFormatError, match=message):
        read_cms_fixture(cms_fixture_with(tmp_path, slug, bcp47_tag))
