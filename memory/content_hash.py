"""Content hashes decide 'changed' and 'outdated': same text, same hash, whatever the spacing."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_BETWEEN_TAGS = re.compile(r">\s+<")


def normalise_html_for_hash(html: str) -> str:
    """Whitespace- and Unicode-normalised HTML; a re-save that only re-flows markup hashes equal."""
    text = unicodedata.normalize("NFC", html or "")
    text = text.replace("\u00a0", " ").replace("&nbsp;", " ")
    text = _BETWEEN_TAGS.sub("><", text)
    return _WHITESPACE.sub(" ", text).strip()


def content_hash(title: str, content: str) -> str:
    """SHA-256 hex of the normalised title and HTML content of a page translation."""
    payload = normalise_html_for_hash(title) + "\x1f" + normalise_html_for_hash(content)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
