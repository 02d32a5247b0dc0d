"""Content hashes decide 'changed' and 'outdated': same text, same hash, however it is written.

The HTML is read by a parser, not by regular expressions, so that what differs only in how it is
written hashes equal: character references (`&#246;`, `&ouml;` and `ö`; `&#160;`, `&nbsp;` and
U+00A0), attribute order and quoting, `<br>` and `<br/>`, Unicode composition, and whitespace a
browser does not show (runs of spaces, and spaces at the edges of blocks such as `<p> Text</p>`).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from html.parser import HTMLParser

from memory.segmentation import INLINE_TAGS, VOID_TAGS

# U+00A0 counts as a space: CMS editors insert it and take it out again without meaning to.
_WHITESPACE = re.compile(r"[\s\u00a0]+")
# Content the parser hands over unparsed (no character references, no tags inside).
_RAW_TEXT_TAGS = frozenset({"script", "style"})


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;")


class _Canonicaliser(HTMLParser):
    """Collects the fragment as tokens; streams, so deep nesting costs no recursion."""

    def __init__(self) -> None:
        # convert_charrefs: text and attribute values arrive with references resolved
        # (html.unescape), so `&#246;` and `ö` are the same text from here on.
        super().__init__(convert_charrefs=True)
        self.tokens: list[tuple[str, str]] = []  # (kind, canonical spelling)
        self._raw_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _RAW_TEXT_TAGS:
            self._raw_depth += 1
        written = "".join(
            f" {name}" if value is None else f' {name}="{_escape_attribute(_collapse(value))}"'
            for name, value in sorted(attrs, key=lambda attr: (attr[0], attr[1] or ""))
        )
        self.tokens.append((_tag_kind(tag), f"<{tag}{written}>"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # `<br/>` is `<br>`
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS:
            return  # `</br>` and the like close nothing
        if tag in _RAW_TEXT_TAGS and self._raw_depth:
            self._raw_depth -= 1
        self.tokens.append((_tag_kind(tag), f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        if self._raw_depth:  # script or style: not text, written as it came
            self.tokens.append(("inline", _collapse(data).strip()))
        else:
            self.tokens.append(("text", data))

    def handle_comment(self, data: str) -> None:
        self.tokens.append(("inline", f"<!--{_collapse(data).strip()}-->"))

    def handle_decl(self, decl: str) -> None:
        self.tokens.append(("block", f"<!{_collapse(decl).strip()}>"))

    def handle_pi(self, data: str) -> None:
        self.tokens.append(("inline", f"<?{_collapse(data).strip()}>"))

    def unknown_decl(self, data: str) -> None:
        self.tokens.append(("inline", f"<![{_collapse(data).strip()}]]>"))


def _tag_kind(tag: str) -> str:
    # Spaces next to a block tag or a line break are not rendered; next to an inline tag they
    # are ("<b>a</b> b").
    return "inline" if tag in INLINE_TAGS and tag not in {"br", "wbr"} else "block"


def _canonical(tokens: list[tuple[str, str]]) -> str:
    """Join the tokens, with text written as a browser shows its whitespace."""
    texts: list[tuple[str, str]] = []  # adjacent text tokens merged
    for kind, value in tokens:
        if kind == "text" and texts and texts[-1][0] == "text":
            texts[-1] = ("text", texts[-1][1] + value)
        else:
            texts.append((kind, value))
    parts: list[str] = []
    after_space_or_block = True  # at the start of the fragment, as after a block tag
    for index, (kind, value) in enumerate(texts):
        if kind != "text":
            parts.append(value)
            if kind == "block":
                after_space_or_block = True
            continue
        text = _collapse(value)
        if after_space_or_block:
            text = text.lstrip(" ")
        if text.endswith(" ") and _block_follows(texts, index + 1):
            text = text.rstrip(" ")
        if text:
            parts.append(_escape_text(text))
            after_space_or_block = text.endswith(" ")
    return unicodedata.normalize("NFC", "".join(parts))


def _block_follows(tokens: list[tuple[str, str]], start: int) -> bool:
    """Whether a block tag or the end comes next, before any text (inline tags are skipped)."""
    for kind, _ in tokens[start:]:
        if kind == "block":
            return True
        if kind == "text":
            return False
    return True


def _collapse(text: str) -> str:
    return _WHITESPACE.sub(" ", text)


def normalise_html_for_hash(html: str) -> str:
    """The canonical spelling of an HTML fragment; texts a reader cannot tell apart give the same.

    Character references are resolved, attributes sorted, whitespace collapsed (U+00A0 as a
    space) and dropped where a browser drops it, and the result put in Unicode NFC.
    """
    parser = _Canonicaliser()
    parser.feed(html or "")
    parser.close()
    return _canonical(parser.tokens)


def content_hash(title: str, content: str) -> str:
    """SHA-256 hex of the canonical title and HTML content of a page translation."""
    payload = normalise_html_for_hash(title) + "\x1f" + normalise_html_for_hash(content)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def translation_hash(title: str, content: str, meta_description: str = "") -> str:
    """The content hash of a page translation with its meta description: `content_hash` when
    it has none (so every hash stored before meta descriptions were kept stays valid), else
    a hash of that and the canonical meta description."""
    base = content_hash(title, content)
    meta = normalise_html_for_hash(meta_description or "")
    if not meta:
        return base
    return hashlib.sha256(f"{base}\x1e{meta}".encode()).hexdigest()
