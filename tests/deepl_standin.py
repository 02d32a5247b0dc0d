"""A local stand-in for the DeepL API, for tests (there is no official mock package).

`DeepLStandIn` runs `http.server` in a thread on 127.0.0.1 (a free port) and speaks what the
`deepl` client 1.32 sends: `POST /v2/translate` (a JSON body; form bodies are accepted too),
`GET /v2/usage` and `GET /v2/languages`. The client calls nothing on construction.

Glossaries (v2): `GET /v2/glossary-language-pairs` (`glossary_pairs`), `POST /v2/glossaries`
(TSV or CSV entries), `GET /v2/glossaries`, `GET /v2/glossaries/{id}`, `GET
/v2/glossaries/{id}/entries` (TSV) and `DELETE /v2/glossaries/{id}`; they live in
`glossaries`. A translate request with `glossary_id` needs `source_lang`, an existing glossary
of the request's languages (else 400 / 404, as DeepL answers), and puts the glossary's target
terms in for its source terms before "translating", so the effect shows in the output.

"Translation" is deterministic (`fake_translate`): every translatable text node gets the prefix
"[<TARGET>] ", and — like real MT sometimes does — local specifics outside protected markup are
damaged: separators between digits vanish ("0821 3102-0" → "082131020"), "@" becomes " (at) "
and "://" becomes ": //". Markup is kept; `translate="no"` / class="notranslate" elements and
`ignore_tags` are left alone, so protection is visible in the output.

Failures on demand: `fail_with(456 | 429 | 500 | 403 | …, times=…, after=…)`, `delay` (seconds
before answering, to provoke client timeouts), and a real key check (`api_key`: a request with
another key gets 403). Every request is recorded in `requests` (method, path, headers, body).

Use the `deepl_standin` fixture (import it into a test module).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

__all__ = ["DeepLStandIn", "RecordedRequest", "deepl_standin", "fake_translate"]

STANDIN_API_KEY = "standin-secret-key-7f3a9c"
# DeepL refuses these targets unless a request sets enable_beta_languages.
BETA_TARGETS = frozenset({"FA", "CKB", "KMR"})
# Glossary language pairs the stand-in offers (lower-case base codes): every pair of these.
GLOSSARY_LANGUAGES = ("de", "en", "fr", "es", "it", "nl", "pl", "uk", "tr", "ru")
GLOSSARY_PAIRS = frozenset((a, b) for a in GLOSSARY_LANGUAGES for b in GLOSSARY_LANGUAGES if a != b)

_TOKEN_RE = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_TAG_RE = re.compile(r"<\s*(/)?\s*([\w:.-]+)([^>]*?)(/)?\s*>\Z", re.DOTALL)
_NO_TRANSLATE_RE = re.compile(
    r"\btranslate\s*=\s*[\"']?no\b|\bclass\s*=\s*[\"'][^\"']*\bnotranslate\b", re.IGNORECASE
)
_VOID_TAGS = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)
_DIGIT_SEPARATOR_RE = re.compile(r"(?<=\d)[ \-/](?=\d)")

_MESSAGES = {
    400: "Bad request",
    403: "Authorization failed",
    404: "Not found",
    429: "Too many requests",
    456: "Quota exceeded",
    500: "Internal server error",
    503: "Service unavailable",
}


def _damage(text: str) -> str:
    """What careless MT does to local specifics."""
    text = _DIGIT_SEPARATOR_RE.sub("", text)
    return text.replace("@", " (at) ").replace("://", ": //")


def _translate_node(text: str, target_lang: str) -> str:
    core = text.strip()
    if not core:
        return text
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}[{target_lang}] {_damage(core)}{trail}"


def fake_translate(
    text: str,
    target_lang: str,
    *,
    tag_handling: str | None = None,
    ignore_tags: Sequence[str] = (),
) -> str:
    """The stand-in's deterministic translation of one text (see the module docstring)."""
    if tag_handling not in ("html", "xml"):
        return _translate_node(text, target_lang)
    ignored = {tag.lower() for tag in ignore_tags}
    out: list[str] = []
    stack: list[tuple[str, bool]] = []  # open elements: (name, protected)
    position = 0
    for match in _TOKEN_RE.finditer(text):
        protected = bool(stack) and stack[-1][1]
        chunk = text[position : match.start()]
        out.append(chunk if protected else _translate_node(chunk, target_lang))
        token = match.group()
        out.append(token)
        position = match.end()
        tag = _TAG_RE.match(token)
        if tag is None:  # comment, doctype
            continue
        closing, name, attrs, self_closing = tag.groups()
        name = name.lower()
        if closing:
            names = [open_name for open_name, _ in stack]
            if name in names:
                del stack[len(names) - 1 - names[::-1].index(name) :]
        elif not self_closing and not (tag_handling == "html" and name in _VOID_TAGS):
            stack.append(
                (name, protected or name in ignored or bool(_NO_TRANSLATE_RE.search(attrs)))
            )
    protected = bool(stack) and stack[-1][1]
    tail = text[position:]
    out.append(tail if protected else _translate_node(tail, target_lang))
    return "".join(out)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class _Failure:
    status: int
    times: int | None  # None: every request from now on
    after: int  # let this many requests through first
    retry_after: int | None


@dataclass
class DeepLStandIn:
    """A running stand-in; `url` is its base URL for `server_url=`."""

    api_key: str = STANDIN_API_KEY
    character_count: int = 0
    character_limit: int = 500_000
    delay: float = 0.0
    requests: list[RecordedRequest] = field(default_factory=list)
    glossaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    glossary_pairs: frozenset[tuple[str, str]] = GLOSSARY_PAIRS
    _glossaries_made: int = 0
    _failure: _Failure | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "stand-in not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def translate_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v2/translate"]

    def fail_with(
        self,
        status: int,
        *,
        times: int | None = None,
        after: int = 0,
        retry_after: int | None = None,
    ) -> None:
        """Answer `status` to the next `times` requests (all when None), after `after` good ones."""
        with self._lock:
            self._failure = _Failure(status, times, after, retry_after)

    def recover(self) -> None:
        """Stop failing."""
        with self._lock:
            self._failure = None

    def start(self) -> DeepLStandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in `delay`
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DeepLStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- request handling

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            failure = self._failure
            if failure is None:
                return None
            if failure.after > 0:
                failure.after -= 1
                return None
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failure = None
            return failure

    def _respond(self, request: RecordedRequest) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(request)
        if self.delay and self._stopping.wait(self.delay):
            return 503, {"message": "Stand-in stopping"}, {}
        if request.headers.get("authorization") != f"DeepL-Auth-Key {self.api_key}":
            return 403, {"message": _MESSAGES[403]}, {}
        failure = self._take_failure()
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return failure.status, {"message": _MESSAGES.get(failure.status, "Error")}, headers
        if request.path == "/v2/usage":
            return (
                200,
                {"character_count": self.character_count, "character_limit": self.character_limit},
                {},
            )
        if request.path == "/v2/languages":
            return 200, [{"language": "DE", "name": "German"}], {}  # type: ignore[return-value]
        if request.path == "/v2/translate" and request.method == "POST":
            return self._translate(request.body)
        if request.path == "/v2/glossary-language-pairs":
            pairs = [{"source_lang": a, "target_lang": b} for a, b in sorted(self.glossary_pairs)]
            return 200, {"supported_languages": pairs}, {}
        if request.path.startswith("/v2/glossaries"):
            return self._glossary(request)
        return 404, {"message": _MESSAGES[404]}, {}

    def _glossary(self, request: RecordedRequest) -> tuple[int, Any, dict[str, str]]:
        parts = request.path.strip("/").split("/")[2:]  # after v2/glossaries
        if not parts and request.method == "POST":
            body = request.body
            source = str(body.get("source_lang") or "").lower()
            target = str(body.get("target_lang") or "").lower()
            if (source, target) not in self.glossary_pairs:
                return 400, {"message": "Unsupported glossary source and target pair"}, {}
            separator = "\t" if body.get("entries_format", "tsv") == "tsv" else ","
            entries = {}
            for line in str(body.get("entries") or "").splitlines():
                if line.strip():
                    term, _, rendering = line.partition(separator)
                    entries[term] = rendering
            if not body.get("name") or not entries:
                return 400, {"message": "Invalid glossary"}, {}
            with self._lock:
                self._glossaries_made += 1
                glossary_id = f"standin-{self._glossaries_made:04d}-{source}-{target}"
                self.glossaries[glossary_id] = {
                    "glossary_id": glossary_id,
                    "name": body["name"],
                    "ready": True,
                    "source_lang": source,
                    "target_lang": target,
                    "creation_time": "2026-01-01T00:00:00.000Z",
                    "entry_count": len(entries),
                    "entries": entries,
                }
            return 201, self._glossary_info(glossary_id), {}
        if not parts:
            return 200, {"glossaries": [self._glossary_info(g) for g in self.glossaries]}, {}
        glossary_id = parts[0]
        if glossary_id not in self.glossaries:
            return 404, {"message": "Glossary not found"}, {}
        if len(parts) == 2 and parts[1] == "entries":
            entries = self.glossaries[glossary_id]["entries"]
            tsv = "\n".join(f"{term}\t{rendering}" for term, rendering in entries.items())
            return 200, tsv, {"Content-Type": "text/tab-separated-values"}
        if request.method == "DELETE":
            with self._lock:
                del self.glossaries[glossary_id]
            return 204, None, {}
        return 200, self._glossary_info(glossary_id), {}

    def _glossary_info(self, glossary_id: str) -> dict[str, Any]:
        return {k: v for k, v in self.glossaries[glossary_id].items() if k != "entries"}

    def _translate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        texts = body.get("text")
        target = str(body.get("target_lang") or "").upper()
        if not isinstance(texts, list) or not texts or not target:
            return 400, {"message": "Parameter 'text' and 'target_lang' are required"}, {}
        if target in BETA_TARGETS and not body.get("enable_beta_languages"):
            return 400, {"message": "Value for 'target_lang' not supported."}, {}
        ignore_tags = body.get("ignore_tags") or []
        if isinstance(ignore_tags, str):
            ignore_tags = ignore_tags.split(",")
        entries: dict[str, str] = {}
        if body.get("glossary_id"):
            glossary = self.glossaries.get(str(body["glossary_id"]))
            if not body.get("source_lang"):
                return 400, {"message": "Use of a glossary requires the source_lang"}, {}
            if glossary is None:
                return 404, {"message": "Glossary not found"}, {}
            if (
                glossary["source_lang"] != str(body["source_lang"]).lower()
                or glossary["target_lang"] != target.split("-")[0].lower()
            ):
                return 400, {"message": "Glossary does not match the languages"}, {}
            entries = glossary["entries"]
        translations = []
        for text in texts:
            for term in sorted(entries, key=len, reverse=True):
                text = str(text).replace(term, entries[term])
            translations.append(
                {
                    "detected_source_language": str(body.get("source_lang") or "DE").upper(),
                    "text": fake_translate(
                        str(text),
                        target,
                        tag_handling=body.get("tag_handling"),
                        ignore_tags=ignore_tags,
                    ),
                    "billed_characters": len(str(text)),
                }
            )
        with self._lock:
            self.character_count += sum(len(str(text)) for text in texts)
        return 200, {"translations": translations}, {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected in failure tests.
        pass


class _Handler(BaseHTTPRequestHandler):
    owner: DeepLStandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass

    def _read_body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            return json.loads(raw)
        form = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
        # Form bodies repeat "text"; other fields are single values.
        return {key: (values if key == "text" else values[-1]) for key, values in form.items()}

    def _handle(self) -> None:
        request = RecordedRequest(
            method=self.command,
            path=urlsplit(self.path).path,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self._read_body(),
        )
        status, payload, headers = self.owner._respond(request)
        if isinstance(payload, str):  # glossary entries: TSV
            data = payload.encode("utf-8")
        else:
            data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    do_GET = _handle
    do_POST = _handle
    do_DELETE = _handle


@pytest.fixture
def deepl_standin() -> Iterator[DeepLStandIn]:
    """A running DeepL stand-in; `.url` for server_url, `.api_key` for the key."""
    with DeepLStandIn() as standin:
        yield standin
