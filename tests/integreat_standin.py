"""A local stand-in for an Integreat instance's public API v3, for sync tests.

`IntegreatStandIn` runs `http.server` in a thread on 127.0.0.1 (a free port) and serves
`GET /api/v3/{region}/languages/`, `GET /api/v3/{region}/{language}/pages/` and, where given,
`…/events/`, `…/locations/` and `…/disclaimer/` (the imprint) from dumps in API v3 shape (the
corpus's); other addresses answer 404. Each listing carries an ETag (SHA-256 of its body)
and answers `If-None-Match` with 304 when it still matches, as a conditional-GET server would;
with `etags=False` it sends no validators at all. `edit_page` changes one page in place (and so its
listing's ETag); `fail_with(language, status)` makes one listing answer an error. Every request
is recorded (path, If-None-Match).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["IntegreatStandIn", "Recorded", "standin_of"]


@dataclass(frozen=True)
class Recorded:
    path: str
    if_none_match: str | None


@dataclass
class IntegreatStandIn:
    region: str
    # language code → the API v3 pages list
    pages: dict[str, list[dict[str, Any]]]
    # "events" | "locations" | "disclaimer" → language code → the API v3 answer
    content: dict[str, dict[str, Any]] = field(default_factory=dict)
    etags: bool = True
    requests: list[Recorded] = field(default_factory=list)
    _failures: dict[str, int] = field(default_factory=dict)
    _server: Any = None
    _thread: Any = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def languages(self) -> list[dict[str, Any]]:
        return [
            {
                "id": number,
                "code": code,
                "bcp47_tag": code,
                "native_name": code,
                "dir": "LEFT_TO_RIGHT",
            }
            for number, code in enumerate(self.pages, start=1)
        ]

    def edit_page(self, language: str, page_id: int, **fields: Any) -> None:
        for page in self.pages[language]:
            if page["id"] == page_id:
                page.update(fields)
                return
        raise KeyError(page_id)

    def fail_with(self, language: str, status: int) -> None:
        self._failures[language] = status

    def recover(self) -> None:
        self._failures.clear()

    def start(self) -> IntegreatStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_GET(self) -> None:  # noqa: N802 — http.server's name
                standin._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        if_none_match = handler.headers.get("If-None-Match")
        self.requests.append(Recorded(path, if_none_match))
        parts = [part for part in path.split("/") if part]
        body: Any = None
        language = None
        if parts[:3] == ["api", "v3", self.region] and parts[3:] == ["languages"]:
            body = self.languages()
        elif (
            len(parts) == 5
            and parts[:3] == ["api", "v3", self.region]
            and parts[4] == "pages"
            and parts[3] in self.pages
        ):
            language = parts[3]
            body = self.pages[language]
        elif (
            len(parts) == 5
            and parts[:3] == ["api", "v3", self.region]
            and parts[3] in self.content.get(parts[4], {})
        ):
            language = parts[3]
            body = self.content[parts[4]][language]
        if body is None:
            self._send(handler, 404, b'{"error": "not found"}')
            return
        if language in self._failures:
            self._send(handler, self._failures[language], b'{"error": "failure on demand"}')
            return
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        etag = f'"{hashlib.sha256(raw).hexdigest()[:32]}"'
        if self.etags and if_none_match == etag:
            self._send(handler, 304, b"", etag=etag)
            return
        self._send(handler, 200, raw, etag=etag if self.etags else None)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, raw: bytes, *, etag: str | None = None
    ) -> None:
        handler.send_response(status)
        if status != 304:
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(raw)))
        if etag:
            handler.send_header("ETag", etag)
        handler.end_headers()
        if status != 304:
            handler.wfile.write(raw)


def standin_of(region: str, pages: dict[str, list[dict[str, Any]]], **options: Any):
    """A started stand-in serving deep copies of `pages` and `content` (edits never touch the
    caller's)."""
    content = copy.deepcopy(options.pop("content", {}))
    return IntegreatStandIn(region, copy.deepcopy(pages), content, **options).start()
