"""Split page HTML into sentence segments with inline-tag placeholders, and put translations back.

A page is parsed (iteratively, never recursively) into a light element tree. Every element that
holds block content owns "runs": maximal sequences of consecutive inline children (text, inline
elements, images). A run with text is one *block*; it is split at ``<br>`` and at sentence
boundaries into *pieces*, and each piece with letters or digits is one ``Segment``.

Placeholder notation inside ``Segment.text`` (XML-valid, so it also survives DeepL's
``tag_handling="xml"``):

* ``<g1>…</g1>`` – a paired inline tag (``<a href=…>``, ``<strong>``, ``<span …>``);
* ``<x2/>`` – a standalone inline item (``<img …>``, a ``translate="no"`` element, a comment).

Numbers count from 1 in each segment, in document order. Inline tags that wrap a whole segment
stay in the page template instead, so ``<p><strong>Diphtherie</strong></p>`` gives the plain
segment ``Diphtherie``. ``Segment.markup`` maps every placeholder to the original HTML it stands
for (``"<g1>" → '<a href="https://…">'``, ``"</g1>" → "</a>"``).
"""

from __future__ import annotations

import html as html_lib
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import pairwise
from types import MappingProxyType

from sentencex import segment as split_sentences_raw

__all__ = [
    "PageTemplate",
    "Segment",
    "build_template",
    "count_words",
    "html_to_text",
    "render_segment",
    "rebuild_html",
    "segment_html",
    "split_sentences",
]

VOID_TAGS = frozenset(
    "area base br col embed hr img input link meta param source track wbr".split()
)
INLINE_TAGS = frozenset(
    """a abbr acronym b bdi bdo big cite code data del dfn em font i ins kbd label mark q rp rt
    ruby s samp small span strike strong sub sup time tt u var img br wbr""".split()
)
# Content that is never translated: kept verbatim, shown as a standalone placeholder if inline.
OPAQUE_TAGS = frozenset("script style template noscript svg math iframe object video audio".split())
# Tags whose start implicitly closes an open <p> (HTML "closes a p element" rule, abridged).
CLOSES_P = frozenset(
    """address article aside blockquote details div dl fieldset figcaption figure footer form h1
    h2 h3 h4 h5 h6 header hr main nav ol p pre section table ul""".split()
)
# Start tag → (tags it implicitly closes, tags that stop the search).
IMPLICIT_CLOSE: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), frozenset({"ul", "ol", "menu", "table"})),
    "dt": (frozenset({"dt", "dd"}), frozenset({"dl", "table"})),
    "dd": (frozenset({"dt", "dd"}), frozenset({"dl", "table"})),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "tr": (frozenset({"tr", "td", "th"}), frozenset({"table", "thead", "tbody", "tfoot"})),
    "thead": (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"})),
    "tbody": (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"})),
    "tfoot": (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"})),
    "option": (frozenset({"option"}), frozenset({"select", "datalist"})),
}
# Deeper inline nesting than this is pathological; such a run is kept verbatim, not segmented.
MAX_INLINE_DEPTH = 32
# The structure signature keeps only this many innermost tags, so deep pages stay linear.
PATH_DEPTH = 6

PLACEHOLDER_RE = re.compile(r"</?g(\d+)>|<x(\d+)/>")
_WHITESPACE_RE = re.compile(r"\s+")
_WORD_CHAR_RE = re.compile(r"\w")


@dataclass(frozen=True)
class Segment:
    """One translatable sentence (or line) of a page, with inline tags as placeholders."""

    index: int
    block_index: int
    block_tag: str
    block_path: str
    sentence_index: int
    text: str
    markup: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def plain(self) -> str:
        """The text without placeholders."""
        return " ".join(strip_placeholders(self.text).split())


# --------------------------------------------------------------------------- parse tree


class _Element:
    __slots__ = ("attrs", "children", "opaque", "parent", "path", "start_tag", "tag", "flow")

    def __init__(
        self, tag: str, start_tag: str, attrs: dict[str, str | None], parent: _Element | None
    ):
        self.tag = tag
        self.start_tag = start_tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[_Node] = []
        parent_path = parent.path if parent is not None else ()
        self.path: tuple[str, ...] = (*parent_path, tag)[-PATH_DEPTH:]
        self.opaque = tag in OPAQUE_TAGS or _is_notranslate(attrs)
        # True when the element holds block content (set after parsing).
        self.flow = False


@dataclass(slots=True)
class _Text:
    data: str
    raw: bool = False  # script/style content, emitted unescaped


@dataclass(slots=True)
class _Verbatim:
    html: str  # comment, doctype, processing instruction


_Node = _Element | _Text | _Verbatim


def _is_notranslate(attrs: dict[str, str | None]) -> bool:
    """Whether the author marked the element as not to be translated."""
    if (attrs.get("translate") or "").lower() == "no":
        return True
    return "notranslate" in (attrs.get("class") or "").split()


class _TreeBuilder(HTMLParser):
    """Builds a _Element tree with a few HTML implicit-close rules; never recurses."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", "", {}, None)
        self.root.path = ()
        self.stack: list[_Element] = [self.root]
        # Open tag counts make "is this end tag open at all?" O(1) even on very deep pages.
        self.open_counts: Counter[str] = Counter()

    def _pop_to(self, tag: str) -> None:
        while len(self.stack) > 1:
            element = self.stack.pop()
            self.open_counts[element.tag] -= 1
            if element.tag == tag:
                return

    def _close_implied(self, tag: str) -> None:
        rule = IMPLICIT_CLOSE.get(tag)
        if rule is not None:
            closes, stops = rule
            for position in range(len(self.stack) - 1, 0, -1):
                open_tag = self.stack[position].tag
                if open_tag in closes:
                    self._pop_to(open_tag)
                    break
                if open_tag in stops:
                    break
        if tag in CLOSES_P and self.open_counts["p"]:
            # Only a <p> reachable through inline elements is closed (like "button scope").
            for position in range(len(self.stack) - 1, 0, -1):
                open_tag = self.stack[position].tag
                if open_tag == "p":
                    self._pop_to("p")
                    break
                if open_tag not in INLINE_TAGS:
                    break

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close_implied(tag)
        parent = self.stack[-1]
        element = _Element(tag, self.get_starttag_text() or f"<{tag}>", dict(attrs), parent)
        parent.children.append(element)
        if tag not in VOID_TAGS:
            self.stack.append(element)
            self.open_counts[tag] += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # XHTML-style <br/> and, leniently, <div/> (an empty element).
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.open_counts[tag] > 0:
            self._pop_to(tag)

    def handle_data(self, data: str) -> None:
        raw = self.stack[-1].tag in ("script", "style")
        self.stack[-1].children.append(_Text(data, raw))

    def handle_comment(self, data: str) -> None:
        self.stack[-1].children.append(_Verbatim(f"<!--{data}-->"))

    def handle_decl(self, decl: str) -> None:
        self.stack[-1].children.append(_Verbatim(f"<!{decl}>"))

    def handle_pi(self, data: str) -> None:
        self.stack[-1].children.append(_Verbatim(f"<?{data}>"))

    def unknown_decl(self, data: str) -> None:
        self.stack[-1].children.append(_Verbatim(f"<![{data}]>"))


def _parse(html: str) -> _Element:
    """Parse HTML into a tree and mark which elements hold block content."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    root = builder.root
    root.flow = True
    # Post-order without recursion: children are visited before their parent in reversed order.
    order: list[_Element] = []
    pending = [root]
    while pending:
        element = pending.pop()
        order.append(element)
        pending.extend(child for child in element.children if isinstance(child, _Element))
    for element in reversed(order):
        if element.opaque:
            continue
        if element.tag not in INLINE_TAGS:
            element.flow = True
        elif any(isinstance(child, _Element) and child.flow for child in element.children):
            element.flow = True
    return root


def _end_tag(element: _Element) -> str:
    return "" if element.tag in VOID_TAGS or not element.start_tag else f"</{element.tag}>"


def _serialize(node: _Node) -> str:
    """Serialize a subtree back to HTML, iteratively."""
    out: list[str] = []
    pending: list[_Node | str] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, _Text):
            out.append(item.data if item.raw else html_lib.escape(item.data, quote=False))
        elif isinstance(item, _Verbatim):
            out.append(item.html)
        else:
            if item.start_tag:
                out.append(item.start_tag)
            pending.append(_end_tag(item))
            pending.extend(reversed(item.children))
    return "".join(out)


# --------------------------------------------------------------------------- runs and pieces


@dataclass(slots=True)
class _Atom:
    """A text stretch or a standalone item of a run, with the inline elements around it."""

    start: int  # offset in the run's normalised plain text
    end: int
    stack: tuple[_Element, ...]
    html: str | None = None  # standalone item (image, comment, opaque element); None for text
    is_break: bool = False


@dataclass(slots=True)
class _Run:
    nodes: list[_Node]
    container: _Element
    plain: str = ""
    atoms: list[_Atom] = field(default_factory=list)
    verbatim: bool = False


def _iter_items(root: _Element) -> Iterator[_Node | _Run | str]:
    """Walk the tree in document order, yielding tags (str), runs and verbatim nodes."""
    pending: list[_Node | _Run | str] = [root]
    while pending:
        item = pending.pop()
        if isinstance(item, _Element) and item.flow and not item.opaque:
            if item.start_tag:
                yield item.start_tag
            pending.append(_end_tag(item))
            pending.extend(reversed(_group_runs(item)))
        else:
            yield item


def _group_runs(element: _Element) -> list[_Node | _Run]:
    """Group an element's children into runs of inline content and block children."""
    grouped: list[_Node | _Run] = []
    current: _Run | None = None
    for child in element.children:
        if isinstance(child, _Element) and child.flow and not child.opaque:
            current = None
            grouped.append(child)
            continue
        if current is None:
            current = _Run([], element)
            grouped.append(current)
        current.nodes.append(child)
    return grouped


def _build_atoms(run: _Run) -> None:
    """Flatten a run into normalised plain text plus atoms; mark pathological runs verbatim."""
    plain: list[str] = []
    length = 0
    last_space = True  # drop leading whitespace; a kept leading space is added below
    leading_space = False
    pending: list[tuple[_Node | None, tuple[_Element, ...]]] = [
        (node, ()) for node in reversed(run.nodes)
    ]
    atoms: list[_Atom] = []
    while pending:
        node, stack = pending.pop()
        if isinstance(node, _Text) and not node.raw:
            text = _WHITESPACE_RE.sub(" ", node.data)
            if last_space:
                if text.startswith(" ") and length == 0:
                    leading_space = True
                text = text.lstrip(" ")
            if text:
                atoms.append(_Atom(length, length + len(text), stack))
                plain.append(text)
                length += len(text)
                last_space = text.endswith(" ")
        elif isinstance(node, _Element) and not node.opaque and node.tag in INLINE_TAGS - VOID_TAGS:
            if len(stack) >= MAX_INLINE_DEPTH:
                run.verbatim = True
                return
            inner = (*stack, node)
            pending.extend((child, inner) for child in reversed(node.children))
        elif node is not None:
            is_break = isinstance(node, _Element) and node.tag == "br"
            atoms.append(_Atom(length, length, stack, _serialize(node), is_break))
            # A space after an image separates it from the next word; after a <br> it is void.
            last_space = is_break
    text = "".join(plain)
    if leading_space:
        # Keep one leading space so "word <b>x</b>"-style runs glue back faithfully.
        text = " " + text
        for atom in atoms:
            atom.start += 1
            atom.end += 1
    run.plain = text
    run.atoms = atoms


# Abbreviations sentencex splits after when a capitalised word follows (checked by hand).
EXTRA_ABBREVIATIONS: dict[str, frozenset[str]] = {
    "de": frozenset(
        """Abs Art inkl Inkl zzgl evtl Evtl vgl Vgl bzw Bzw Hl Febr Okt Dez gem max mind Tel Fax
        geb ehem Kl Jh Mi Do So bspw Tsd Hbf Landkr Bez Verf Kap insb Nr Str St ca Ca""".split()
    ),
    "en": frozenset("approx tel Tel incl excl resp max No no Nr".split()),
}
# Titles sentencex misses inside hyphenated names ("Landrat-Dr.-Frey-Straße"), any language.
COMMON_ABBREVIATIONS = frozenset({"Dr", "Prof", "Dipl", "Ing", "Str"})
# Languages writing ordinals as "2." – "die 2. Impfung" must not end a sentence.
ORDINAL_DOT_LANGUAGES = frozenset("de da no nb nn fi et hu tr cs sk sl hr sr bs pl lv".split())
_ORDINAL_RE = re.compile(r"(?:^|\s)\d{1,3}\.\s*$")
_LAST_WORD_RE = re.compile(r"(\w+)\.\s*$")


def split_sentences(text: str, language: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end offsets) of a text, with German-style fixes over sentencex."""
    base = language.split("-")[0].lower()
    spans: list[tuple[int, int]] = []
    cursor = 0
    for fragment in split_sentences_raw(base, text):
        # sentencex returns substrings in order; find() keeps offsets right if it trims anything.
        start = text.find(fragment, cursor) if fragment else -1
        if start < 0:
            continue
        spans.append((start, start + len(fragment)))
        cursor = start + len(fragment)
    if not spans:
        return [(0, len(text))] if text.strip() else []
    # Cover the whole text so nothing is lost between spans.
    spans[0] = (0, spans[0][1])
    spans[-1] = (spans[-1][0], len(text))
    spans = [
        (start, spans[i + 1][0] if i + 1 < len(spans) else end)
        for i, (start, end) in enumerate(spans)
    ]
    merged: list[tuple[int, int]] = []
    previous_end = -1
    for start, end in spans:
        # Only the tail of the previous raw fragment matters; slicing it keeps this linear.
        if merged and _ends_without_sentence_end(text[max(start - 40, 0) : previous_end], base):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
        previous_end = end
    return merged


def _ends_without_sentence_end(fragment: str, base_language: str) -> bool:
    """Whether a sentencex fragment really ends in an abbreviation or an ordinal number."""
    match = _LAST_WORD_RE.search(fragment)
    if match is None:
        return False
    word = match.group(1)
    extra = EXTRA_ABBREVIATIONS.get(base_language, frozenset())
    # "Mind." at the start of a sentence is still the abbreviation "mind.".
    uncapitalised = word[:1].lower() + word[1:]
    if word in COMMON_ABBREVIATIONS or word in extra or uncapitalised in extra:
        return True
    return base_language in ORDINAL_DOT_LANGUAGES and _ORDINAL_RE.search(fragment) is not None


def _piece_spans(run: _Run, language: str) -> list[tuple[int, int]]:
    """Spans of the run's plain text, split at <br> and sentence ends, trimmed of spaces."""
    cuts = sorted({atom.start for atom in run.atoms if atom.is_break})
    bounds = [0, *cuts, len(run.plain)]
    spans: list[tuple[int, int]] = []
    for chunk_start, chunk_end in pairwise(bounds):
        chunk = run.plain[chunk_start:chunk_end]
        if not chunk.strip():
            continue
        for start, end in split_sentences(chunk, language):
            text = chunk[start:end]
            stripped = text.strip(" ")
            if not stripped:
                continue
            offset = chunk_start + start + (len(text) - len(text.lstrip(" ")))
            spans.append((offset, offset + len(stripped)))
    return spans


@dataclass(slots=True)
class _Piece:
    text: str
    markup: dict[str, str]
    wrappers: tuple[_Element, ...]


def _encode_piece(run: _Run, atoms: list[_Atom], start: int, end: int) -> _Piece:
    """Encode a piece of a run as placeholder text; tags wrapping all of it become wrappers."""
    items: list[tuple[_Atom, str]] = []
    for atom in atoms:
        if atom.html is not None:
            if start < atom.start < end:
                items.append((atom, atom.html))
        else:
            clipped = run.plain[max(atom.start, start) : min(atom.end, end)]
            if clipped:
                items.append((atom, clipped))
    wrappers = _common_prefix([atom.stack for atom, _ in items])
    literal_numbers = [
        int(n) for m in PLACEHOLDER_RE.finditer(run.plain[start:end]) for n in m.groups() if n
    ]
    counter = max(literal_numbers, default=0)
    out: list[str] = []
    markup: dict[str, str] = {}
    open_now: list[tuple[_Element, str]] = []
    depth = len(wrappers)
    for atom, content in items:
        stack = atom.stack[depth:]
        keep = 0
        while keep < min(len(open_now), len(stack)) and open_now[keep][0] is stack[keep]:
            keep += 1
        while len(open_now) > keep:
            _, name = open_now.pop()
            out.append(f"</{name}>")
        for element in stack[keep:]:
            counter += 1
            name = f"g{counter}"
            markup[f"<{name}>"] = element.start_tag
            markup[f"</{name}>"] = _end_tag(element)
            out.append(f"<{name}>")
            open_now.append((element, name))
        if atom.html is None:
            out.append(content)
        else:
            counter += 1
            placeholder = f"<x{counter}/>"
            markup[placeholder] = content
            out.append(placeholder)
    out.extend(f"</{name}>" for _, name in reversed(open_now))
    return _Piece("".join(out), markup, wrappers)


def _common_prefix(stacks: list[tuple[_Element, ...]]) -> tuple[_Element, ...]:
    if not stacks:
        return ()
    prefix = stacks[0]
    for stack in stacks[1:]:
        size = 0
        while size < min(len(prefix), len(stack)) and prefix[size] is stack[size]:
            size += 1
        prefix = prefix[:size]
        if not prefix:
            break
    return prefix


def _wrapped(atom: _Atom) -> str:
    """A standalone item with its inline ancestors, e.g. an image inside its link."""
    assert atom.html is not None
    opens = "".join(element.start_tag for element in atom.stack)
    closes = "".join(_end_tag(element) for element in reversed(atom.stack))
    return f"{opens}{atom.html}{closes}"


# --------------------------------------------------------------------------- template


@dataclass(frozen=True)
class PageTemplate:
    """A page as literal HTML parts and segment slots (ints) that rebuild it."""

    segments: tuple[Segment, ...]
    parts: tuple[str | int, ...]

    def render(self, translated: Mapping[int, str] | None = None) -> str:
        """HTML with each slot filled by its translation (or the original segment text)."""
        translated = translated or {}
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                segment = self.segments[part]
                out.append(render_segment(translated.get(part, segment.text), segment.markup))
        return "".join(out)


class _TemplateWriter:
    """Collects template parts and segments while runs are cut into pieces."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.parts: list[str | int] = []
        self.segments: list[Segment] = []
        self.block_count = 0

    def add_run(self, run: _Run) -> None:
        """Add a run: verbatim when it has no translatable text, else as slots and glue."""
        _build_atoms(run)
        spans = [] if run.verbatim else _piece_spans(run, self.language)
        if not any(_WORD_CHAR_RE.search(run.plain, s, e) for s, e in spans):
            self.parts.extend(_serialize(node) for node in run.nodes)
            return
        block_index = self.block_count
        self.block_count += 1
        starts = [atom.start for atom in run.atoms]
        ends = [atom.end for atom in run.atoms]
        standalone = [atom for atom in run.atoms if atom.html is not None]
        next_standalone = 0
        position = 0
        sentence_index = 0
        for start, end in spans:
            next_standalone = self._add_glue(run, standalone, next_standalone, position, start)
            # Items strictly inside the piece are placeholders, not glue.
            while next_standalone < len(standalone) and standalone[next_standalone].start < end:
                next_standalone += 1
            window = run.atoms[bisect_right(ends, start) : bisect_left(starts, end)]
            piece = _encode_piece(run, window, start, end)
            self.parts.append("".join(element.start_tag for element in piece.wrappers))
            if _WORD_CHAR_RE.search(run.plain, start, end):
                self.parts.append(len(self.segments))
                self.segments.append(
                    Segment(
                        index=len(self.segments),
                        block_index=block_index,
                        block_tag=run.container.tag,
                        block_path="/".join(run.container.path),
                        sentence_index=sentence_index,
                        text=piece.text,
                        markup=MappingProxyType(piece.markup),
                    )
                )
                sentence_index += 1
            else:
                self.parts.append(render_segment(piece.text, piece.markup))
            self.parts.append("".join(_end_tag(element) for element in reversed(piece.wrappers)))
            position = end
        self._add_glue(run, standalone, next_standalone, position, len(run.plain))

    def _add_glue(
        self, run: _Run, standalone: list[_Atom], index: int, start: int, end: int
    ) -> int:
        """Emit the spaces and standalone items between pieces; return the next item index."""
        position = start
        while index < len(standalone) and standalone[index].start <= end:
            atom = standalone[index]
            self.parts.append(run.plain[position : atom.start])
            position = max(position, atom.start)
            self.parts.append(_wrapped(atom))
            index += 1
        self.parts.append(run.plain[position:end])
        return index


def build_template(html: str, language: str) -> PageTemplate:
    """Segment a page and keep what is needed to rebuild it with translated segments."""
    writer = _TemplateWriter(language)
    for item in _iter_items(_parse(html)):
        if isinstance(item, str):
            writer.parts.append(item)
        elif isinstance(item, _Run):
            writer.add_run(item)
        else:
            writer.parts.append(_serialize(item))
    parts = _merge_literals(writer.parts)
    return PageTemplate(tuple(writer.segments), parts)


def _merge_literals(parts: list[str | int]) -> tuple[str | int, ...]:
    merged: list[str | int] = []
    buffer: list[str] = []
    for part in parts:
        if isinstance(part, str):
            buffer.append(part)
            continue
        merged.append("".join(buffer))
        buffer = []
        merged.append(part)
    merged.append("".join(buffer))
    return tuple(part for part in merged if part != "")


def segment_html(html: str, language: str) -> list[Segment]:
    """Sentence segments of a page's HTML, in document order."""
    return list(build_template(html, language).segments)


def rebuild_html(html: str, language: str, translated: Mapping[int, str]) -> str:
    """The page's HTML with segment texts replaced by ``translated[segment.index]``."""
    return build_template(html, language).render(translated)


def render_segment(text: str, markup: Mapping[str, str]) -> str:
    """HTML for a segment text: placeholders become their tags, everything else is escaped."""
    out: list[str] = []
    open_tags: list[str] = []  # placeholder names ("g1") currently open
    position = 0
    for match in PLACEHOLDER_RE.finditer(text):
        token = match.group(0)
        if token not in markup:
            continue  # a literal "<g7>" in the text, not ours
        out.append(html_lib.escape(text[position : match.start()], quote=False))
        position = match.end()
        if match.group(2) is not None:
            out.append(markup[token])
        elif token.startswith("</"):
            name = token[2:-1]
            if name not in open_tags:
                continue  # a translator's stray closing tag would break the HTML
            while open_tags:
                inner = open_tags.pop()
                out.append(markup[f"</{inner}>"])
                if inner == name:
                    break
        else:
            out.append(markup[token])
            open_tags.append(token[1:-1])
    out.append(html_lib.escape(text[position:], quote=False))
    out.extend(markup[f"</{name}>"] for name in reversed(open_tags))
    return "".join(out)


def strip_placeholders(text: str) -> str:
    """Segment text without placeholder tags (for counting, matching, alignment)."""
    return PLACEHOLDER_RE.sub("", text)


def html_to_text(html: str) -> str:
    """Plain text of a page: one line per block, whitespace normalised, no scripts or styles."""
    lines: list[str] = []
    for item in _iter_items(_parse(html)):
        if isinstance(item, _Run):
            _build_atoms(item)
            # A <br> is a line break in the plain text too.
            cuts = [0, *(atom.start for atom in item.atoms if atom.is_break), len(item.plain)]
            for start, end in pairwise(cuts):
                line = item.plain[start:end].strip()
                if line:
                    lines.append(line)
    return "\n".join(lines)


class _TagStripper(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


_WORD_SEPARATORS = str.maketrans({char: " " for char in "-;:,!?\n"})


def count_words(text: str) -> int:
    """Words in text or HTML, counted like Integreat CMS counts words for DeepL budgets."""
    # integreat_cms word_count(): unescape(strip_tags(x)), "-;:,;!?\n" → " ", then str.split().
    stripper = _TagStripper()
    stripper.feed(text)
    stripper.close()
    return len("".join(stripper.chunks).translate(_WORD_SEPARATORS).split())
