"""A long TMX import blocks no other writer (real PostgreSQL, the import in its own process).

`flask tm tmx-import` of a real TMX file with tens of thousands of units runs in a second
process. While its one transaction is writing, this process reviews a suggestion (which stores
a reviewed unit and bumps the TM change counter) and rebuilds a page's units: each must answer
in under a second, not wait for the import to commit. Once the import has committed, this
process's fuzzy index — which had already looked at the memory while the import was running —
offers the imported units within its 2 s refresh interval.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text

from matchers import overlap_kernel
from memory.authorization import Actor
from memory.models import Page, PageTranslation, Role
from memory.services import tokens as token_service
from memory.services.pages import push_translation
from memory.services.regions import create_region, ensure_language
from memory.services.translation_memory import refresh_units
from memory.tm_models import TranslationUnit
from tests.conftest import bearer
from tm_service import create_app
from tm_service.api.tm import tm_index
from tm_service.extensions import db

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
UNITS = 30_000
# Heap bytes of uncommitted unit rows when the import is well under way (a row ≈ 550 bytes).
UNDER_WAY_BYTES = UNITS * 100
WRITE_LIMIT_S = 1.0
ADMIN = Actor(role=Role.ADMIN, region_slug=None)


def pseudo_word(number: int) -> str:
    """A distinct made-up word per number (digits would all normalise to one placeholder)."""
    letters = "bcdfghklmnprstvz"
    word = ""
    for _ in range(5):
        number, rest = divmod(number, len(letters))
        word += letters[rest] + "aeiou"[rest % 5]
    return word.capitalize()


def write_big_tmx(path: Path, units: int) -> None:
    """A TMX 1.4 file written by hand, as a vendor's tool would: one <tu> per sentence pair."""
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<tmx version="1.4">\n<header creationtool="vendor" creationtoolversion="2.1" '
            'datatype="plaintext" segtype="sentence" adminlang="en-US" srclang="de-DE" '
            'o-tmf="vendor"/>\n<body>\n'
        )
        for number in range(units):
            word = pseudo_word(number)
            out.write(
                f'<tu tuid="{number}">\n'
                f'  <tuv xml:lang="de-DE"><seg>{escape(word)} berät Sie bei der Anmeldung '
                "im Bürgerbüro.</seg></tuv>\n"
                f'  <tuv xml:lang="en-GB"><seg>{escape(word)} advises you on registering at '
                "the citizens' office.</seg></tuv>\n</tu>\n"
            )
        out.write("</body>\n</tmx>\n")


def wait_for(condition: Callable[[], object], what: str, timeout: float = 120.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def pg_app(postgres_url: str) -> Iterator[tuple[Flask, dict[str, str]]]:
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        db.create_all()
        for code in ("de", "en"):
            ensure_language(db.session, code)
        db.session.commit()
        create_region(
            db.session,
            ADMIN,
            {
                "slug": "alpha",
                "name": "Alpha County",
                "languages": [{"code": "de"}, {"code": "en", "parent": "de"}],
            },
        )
        tokens = {
            role: token_service.create_token(
                db.session, None, role=Role(role), region_slug="alpha"
            ).plaintext
            for role in ("editor", "translator")
        }
    yield app, tokens
    with app.app_context():
        db.engine.dispose()


def heap_size(database_url: str) -> Callable[[], int]:
    """Heap bytes of the unit table: they grow with inserted rows, committed or not."""
    engine = create_engine(database_url)

    def size() -> int:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT pg_relation_size('translation_unit')")) or 0

    size.dispose = engine.dispose  # type: ignore[attr-defined]
    return size


def timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def fuzzy_lookup(client, word: str):
    return client.post(
        "/api/v1/tm/lookup",
        json={
            # One word changed: only the in-process fuzzy index can find it.
            "text": f"{word} berät Sie bei der Anmeldung im Rathaus.",
            "source_language": "de",
            "target_language": "en",
            "min_score": 70,
        },
    ).json["matches"]


def test_writers_do_not_wait_for_a_long_tmx_import_in_another_process(
    pg_app, postgres_url, tmp_path
):
    app, tokens = pg_app
    client = app.test_client()
    with app.app_context():
        push_translation(
            db.session,
            Actor(role=Role.CMS, region_slug="alpha"),
            "alpha",
            "pass",
            "de",
            {"title": "Reisepass", "content": "<p>Bringen Sie Ihren Pass mit.</p>"},
        )
    suggested = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": "pass", "target_language": "en", "machine_translation": False},
        headers=bearer(tokens["editor"]),
    )
    assert suggested.status_code in (200, 201), suggested.json
    suggestion_id = next(
        segment["suggestion_id"]
        for segment in suggested.json["segments"]
        if segment["source_text"].startswith("Bringen Sie")
    )
    last_word = pseudo_word(UNITS - 1)
    assert fuzzy_lookup(client, last_word) == []  # the index is built, the memory empty
    # That first fuzzy search started loading the compiled overlap loop in a thread of this
    # process (numba's import: ≈ 0.5–1 s of the GIL on a fresh install). It is a worker's
    # one-off start-up cost, not a wait on the import: let it finish before the timed writes.
    overlap_kernel.wait_until_compiled(timeout=120)

    tmx = tmp_path / "vendor.tmx"
    write_big_tmx(tmx, UNITS)
    env = {**os.environ, "TM_DATABASE_URL": postgres_url, "TM_EMBEDDING_MODEL": "fake"}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "tm", "tmx-import", str(tmx)]
    command += ["--region", "alpha", "--batch", "vendor"]
    size = heap_size(postgres_url)
    importer = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: size() >= UNDER_WAY_BYTES, "the import to be writing its units")

        reviewed, review_s = timed(
            lambda: client.post(
                f"/api/v1/suggestions/{suggestion_id}/review",
                json={"decision": "edit", "text": "Bring your passport."},
                headers=bearer(tokens["translator"]),
            )
        )
        with app.app_context():
            actor = Actor(role=Role.CMS, region_slug="alpha")
            for language, title in (("de", "Anmeldung"), ("en", "Registration")):
                push_translation(db.session, actor, "alpha", "p1", language, {"title": title})
            ids = db.session.scalars(
                select(PageTranslation.id)
                .join(PageTranslation.page)
                .where(Page.external_id == "p1")
            ).all()
            refreshed, refresh_s = timed(lambda: refresh_units(db.session, ids))
            # This process's index looks at the memory while the import runs, and so passes
            # the revision the import reserved before it began writing.
            index = tm_index()
            index.ensure_fresh(db.session, force=True)
            seen_during_import = index.revision
        found_during_import = fuzzy_lookup(client, last_word)
        still_importing = importer.poll() is None
        stdout, stderr = importer.communicate(timeout=600)
    finally:
        if importer.poll() is None:
            importer.kill()
            importer.communicate()
        size.dispose()  # type: ignore[attr-defined]

    print(f"during the import: review {review_s:.3f} s, unit refresh {refresh_s:.3f} s")
    assert reviewed.status_code == 200, reviewed.json
    assert reviewed.json["status"] == "edited"
    assert refreshed.created == 1
    assert still_importing, "the import finished before the writes: make the file larger"
    assert review_s < WRITE_LIMIT_S, f"the review waited {review_s:.2f} s for the import"
    assert refresh_s < WRITE_LIMIT_S, f"the unit refresh waited {refresh_s:.2f} s"
    assert found_during_import == []  # not committed yet: nobody sees half an import

    assert importer.returncode == 0, stderr
    with app.app_context():
        reserved = db.session.scalar(
            select(func.min(TranslationUnit.revision)).where(
                TranslationUnit.import_batch == "vendor"
            )
        )
    assert seen_during_import is not None and seen_during_import >= reserved
    report = json.loads(stdout.strip().splitlines()[-1])
    assert (report["created"], report["unchanged"]) == (UNITS, 0)
    # Every process sees other processes' writes within 2 s (the index's refresh interval):
    # the first lookup that starts later than that finds them (loading 30 000 units into the
    # index takes that lookup a few seconds more on a busy machine).
    committed_at = time.monotonic()
    while not (matches := fuzzy_lookup(client, last_word)):
        assert time.monotonic() - committed_at < 2.5, "the imported units stayed invisible"
        time.sleep(0.1)
    assert matches[0]["kind"] == "fuzzy"
    assert matches[0]["origin"]["import_batch"] == "vendor"
    assert matches[0]["origin"]["license"] == "CC BY 4.0"
