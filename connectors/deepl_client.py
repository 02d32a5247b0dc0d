"""Machine translation through DeepL (official `deepl` client), with local specifics protected.

Pure of Flask and SQLAlchemy: services pass the API key, the texts and the region's word budget,
and get back `MachineTranslation` records or a domain error. Before a text is sent, every local
specific that `matchers.placeholders` finds (URLs, e-mails, phone numbers, dates, times, amounts,
numbers) is wrapped in a tag DeepL does not translate, and afterwards the original value is put
back byte for byte, so "0821 3102-0" never comes back as "0821 31020".

Words are counted like Integreat CMS counts them for its DeepL budgets (tags stripped, see
`memory.segmentation.count_words`). The API key is only ever sent as an HTTP header; it is never
part of a message, a log record or a repr.
"""

from __future__ import annotations

import html as html_lib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import deepl
import deepl.http_client
import requests
from requests.adapters import HTTPAdapter

from matchers.placeholders import extract_placeholders
from memory.errors import InvalidInput, QuotaExceeded, ServiceUnavailable
from memory.segmentation import PLACEHOLDER_RE, count_words

__all__ = [
    "BETA_LANGUAGES",
    "DEEPL_LANGUAGES",
    "DeepLTranslator",
    "MachineTranslation",
    "MachineTranslationUnavailable",
    "TagHandling",
    "UnsupportedLanguage",
    "check_budget",
    "deepl_source_language",
    "deepl_target_language",
    "estimate_words",
]

logger = logging.getLogger(__name__)

TagHandling = Literal["html", "xml"]

# Base language (our code) → DeepL code, for languages DeepL translates generally.
# Checked against developers.deepl.com "Languages supported" (2025). Targets with regional
# variants are resolved in deepl_target_language (en → EN-GB/EN-US, pt → PT-PT).
DEEPL_LANGUAGES: Mapping[str, str] = {
    code: code.upper()
    for code in """ar bg cs da de el en es et fi fr he hu id it ja ko lt lv nb nl pl pt ro ru sk
    sl sv th tr uk vi zh""".split()
}
# Languages DeepL offers in beta (request flag `enable_beta_languages`), limited to the ones
# our platforms publish in. Pashto, Somali, Tigrinya, Dari, Albanian, Serbian … are not here:
# not confirmed for DeepL, so they are refused clearly instead of failing at DeepL.
BETA_LANGUAGES: Mapping[str, str] = {
    "fa": "FA",  # Persian (Farsi)
    "ckb": "CKB",  # Kurdish (Sorani)
    "kmr": "KMR",  # Kurdish (Kurmanji)
    "hr": "HR",
    "bs": "BS",
    "mk": "MK",
    "hy": "HY",
    "ka": "KA",
    "az": "AZ",
    "hi": "HI",
    "bn": "BN",
}
# Regional or script variants DeepL accepts as targets (our lower-case BCP 47 → DeepL).
_TARGET_VARIANTS: Mapping[str, str] = {
    "en-gb": "EN-GB",
    "en-us": "EN-US",
    "pt-pt": "PT-PT",
    "pt-br": "PT-BR",
    "zh-hans": "ZH-HANS",
    "zh-hant": "ZH-HANT",
    "es-419": "ES-419",
}
_ALIASES: Mapping[str, str] = {"no": "nb", "nob": "nb", "zh-cn": "zh-hans", "zh-tw": "zh-hant"}
# Plain-language variants ("de-si" Einfache Sprache, "de-ls" Leichte Sprache) are German text
# but no DeepL target: DeepL would write ordinary German.
_SIMPLIFIED_VARIANTS = frozenset({"si", "ls", "easy", "simple"})

# DeepL takes at most 50 texts and 128 KiB a request; stay below both.
_MAX_TEXTS_PER_REQUEST = 50
_MAX_BYTES_PER_REQUEST = 100_000

_KEEP_ATTRIBUTE = "data-tm-keep"
_KEEP_XML_TAG = "x-keep"
_KEPT_RE = re.compile(
    rf"<(span|{_KEEP_XML_TAG})\b[^>]*?\b{_KEEP_ATTRIBUTE}\s*=\s*[\"']?(\d+)[\"']?[^>]*>(.*?)</\1\s*>",
    re.DOTALL | re.IGNORECASE,
)
# Markup in an HTML text: comments first, then any tag. Script/style bodies are skipped below.
_HTML_TOKEN_RE = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_RAW_TEXT_TAG_RE = re.compile(r"<\s*(/?)\s*(script|style)\b", re.IGNORECASE)
_CHARACTER_REFERENCE_RE = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


class UnsupportedLanguage(InvalidInput):
    """A language DeepL cannot translate from or into (e.g. "de-si", Einfache Sprache)."""

    title = "Language not supported by machine translation"
    type_slug = "unsupported-language"


class MachineTranslationUnavailable(ServiceUnavailable):
    """DeepL could not be used right now (overloaded, down, too slow, key rejected).

    `retry_after` is a hint in seconds for a Retry-After header, or None where retrying will not
    help (a rejected key).
    """

    status = 503
    title = "Machine translation unavailable"
    type_slug = "machine-translation-unavailable"

    def __init__(self, detail: str, *, retry_after: int | None = None):
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class MachineTranslation:
    """One machine-translated text.

    words: words of the source text, counted like Integreat (what the budget is charged);
    billed_characters: what DeepL billed; protected: local specifics kept verbatim;
    protected_intact: False when DeepL dropped one of the protecting tags, so a kept value may be
    missing from `text` (treat like a placeholder mismatch).
    """

    source_text: str
    text: str
    source_language: str
    target_language: str
    words: int
    billed_characters: int
    protected: int
    protected_intact: bool


# --------------------------------------------------------------------------- languages


def _normalise_code(code: str) -> str:
    normalised = code.strip().replace("_", "-").lower()
    return _ALIASES.get(normalised, normalised)


def _is_simplified(code: str) -> bool:
    parts = code.split("-")
    return len(parts) > 1 and parts[-1] in _SIMPLIFIED_VARIANTS


def deepl_source_language(code: str) -> str:
    """The DeepL source language for a BCP 47 code ("de" → "DE", "en-us" → "EN").

    Source languages have no variants at DeepL. "de-si" (Einfache Sprache) is German text and
    maps to "DE"; only as a target is it unsupported.
    """
    normalised = _normalise_code(code)
    base = normalised.split("-")[0]
    deepl_code = DEEPL_LANGUAGES.get(base) or BETA_LANGUAGES.get(base)
    if deepl_code is None:
        raise UnsupportedLanguage(
            f"DeepL cannot translate from {code!r}.",
            errors={"source_language": [f"{code!r} is not a DeepL source language."]},
        )
    return deepl_code


def deepl_target_language(code: str, *, english: str = "EN-GB") -> str:
    """The DeepL target language for a BCP 47 code ("en" → `english`, "pt" → "PT-PT", "zh" → "ZH").

    Raises UnsupportedLanguage for plain-language variants ("de-si") and languages DeepL lacks.
    """
    normalised = _normalise_code(code)
    if _is_simplified(normalised):
        raise UnsupportedLanguage(
            f"DeepL cannot write {code!r} (plain/simple language); translate it by hand.",
            errors={"target_language": [f"{code!r} is not a DeepL target language."]},
        )
    if normalised in _TARGET_VARIANTS:
        return _TARGET_VARIANTS[normalised]
    base = normalised.split("-")[0]
    if base == "en":
        return english
    if base == "pt":
        return "PT-PT"
    deepl_code = DEEPL_LANGUAGES.get(base) or BETA_LANGUAGES.get(base)
    if deepl_code is None:
        raise UnsupportedLanguage(
            f"DeepL cannot translate into {code!r}.",
            errors={"target_language": [f"{code!r} is not a DeepL target language."]},
        )
    return deepl_code


def _is_beta(deepl_code: str) -> bool:
    return deepl_code.split("-")[0].lower() in BETA_LANGUAGES


# --------------------------------------------------------------------------- words and budgets


def estimate_words(texts: Sequence[str]) -> int:
    """Words the texts cost, counted like Integreat CMS (HTML tags and placeholders stripped)."""
    return sum(count_words(text) for text in texts)


def check_budget(words_needed: int, budget: int, used: int) -> None:
    """Raise QuotaExceeded (429) unless `words_needed` fit into what is left of `budget`."""
    left = max(budget - used, 0)
    if words_needed > left:
        raise QuotaExceeded(
            f"Machine translation needs {words_needed} words, but only {left} of the "
            f"{budget} words of this region's budget are left.",
            errors={"words": [f"{words_needed} needed, {left} left"]},
        )


# --------------------------------------------------------------------------- protection


def _wrap_values(text: str, tag_handling: TagHandling, kept: list[str]) -> str:
    """Wrap each local specific of a plain-text run in a do-not-translate tag.

    For html, `text` is escaped HTML text and values stay as they are; for xml, `text` is raw
    segment text and everything is XML-escaped here. `kept` receives the original values.
    """
    escape = (lambda s: s) if tag_handling == "html" else _xml_escape
    values = extract_placeholders(text).values
    if tag_handling == "html":
        # "&#8211;" holds a "number"; a value may contain a reference but never cut one.
        references = [m.span() for m in _CHARACTER_REFERENCE_RE.finditer(text)]
        values = tuple(v for v in values if not _cuts_any(v.start, v.end, references))
    parts: list[str] = []
    position = 0
    for value in values:
        parts.append(escape(text[position : value.start]))
        index = len(kept)
        kept.append(value.value)
        if tag_handling == "html":
            parts.append(f'<span translate="no" {_KEEP_ATTRIBUTE}="{index}">{value.value}</span>')
        else:
            tag = _KEEP_XML_TAG
            parts.append(f'<{tag} {_KEEP_ATTRIBUTE}="{index}">{escape(value.value)}</{tag}>')
        position = value.end
    parts.append(escape(text[position:]))
    return "".join(parts)


def _cuts_any(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether [start, end) overlaps one of `spans` without containing it whole."""
    return any(s < end and e > start and not (start <= s and e <= end) for s, e in spans)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _protect_html(text: str, kept: list[str]) -> str:
    """HTML with local specifics in text nodes wrapped; tags, attributes and scripts untouched."""
    out: list[str] = []
    position = 0
    raw_until: str | None = None  # inside <script>/<style>: copy verbatim until its end tag
    for match in _HTML_TOKEN_RE.finditer(text):
        chunk = text[position : match.start()]
        out.append(chunk if raw_until else _wrap_values(chunk, "html", kept))
        token = match.group()
        raw = _RAW_TEXT_TAG_RE.match(token)
        if raw is not None:
            closing, name = raw.group(1), raw.group(2).lower()
            if not closing and not token.rstrip(">").endswith("/"):
                raw_until = name
            elif closing and raw_until == name:
                raw_until = None
        out.append(token)
        position = match.end()
    tail = text[position:]
    out.append(tail if raw_until else _wrap_values(tail, "html", kept))
    return "".join(out)


def _protect_xml(text: str, kept: list[str]) -> str:
    """Segment text (with <g1>…</g1>/<x2/> placeholders) as escaped XML, specifics wrapped."""
    out: list[str] = []
    position = 0
    for match in PLACEHOLDER_RE.finditer(text):
        out.append(_wrap_values(text[position : match.start()], "xml", kept))
        out.append(match.group())
        position = match.end()
    out.append(_wrap_values(text[position:], "xml", kept))
    return "".join(out)


def _restore(translated: str, kept: Sequence[str], tag_handling: TagHandling) -> tuple[str, bool]:
    """Put the kept values back in place of their wrappers; (text, all wrappers found)."""
    found: set[int] = set()

    def original(match: re.Match[str]) -> str:
        index = int(match.group(2))
        if index >= len(kept):
            return match.group(3)
        found.add(index)
        return kept[index]

    if tag_handling == "html":
        restored = _KEPT_RE.sub(original, translated)
    else:
        # Unescape the text between placeholders; kept values go back raw.
        out: list[str] = []
        position = 0
        for match in _KEPT_RE.finditer(translated):
            out.append(_unescape_xml_text(translated[position : match.start()]))
            out.append(original(match))
            position = match.end()
        out.append(_unescape_xml_text(translated[position:]))
        restored = "".join(out)
    return restored, len(found) == len(kept)


def _unescape_xml_text(text: str) -> str:
    """Unescape entities between segment placeholders, leaving <gN>, </gN> and <xN/> as tags."""
    out: list[str] = []
    position = 0
    for match in PLACEHOLDER_RE.finditer(text):
        out.append(html_lib.unescape(text[position : match.start()]))
        out.append(match.group())
        position = match.end()
    out.append(html_lib.unescape(text[position:]))
    return "".join(out)


# --------------------------------------------------------------------------- HTTP


class _TimeoutAdapter(HTTPAdapter):
    """Applies our per-translator timeout to every request (the client's floor is 10 s)."""

    def __init__(self, timeout: float):
        super().__init__(max_retries=0)
        self._timeout = timeout

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # type: ignore[override]
        return super().send(
            request, stream=stream, timeout=self._timeout, verify=verify, cert=cert, proxies=proxies
        )


class _SingleAttemptHttpClient(deepl.http_client.HttpClient):
    """The client's HTTP layer without its own retry loop (up to 5 retries with ≥1 s backoff,
    configured process-wide) and with our timeout; DeepLTranslator retries, bounded."""

    def __init__(self, timeout: float):
        super().__init__(send_platform_info=False)
        adapter = _TimeoutAdapter(timeout)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def request_with_backoff(  # type: ignore[override]
        self, method, url, data, json, headers, stream=False, **kwargs
    ):
        return self.request(method, url, data, json, headers, stream, **kwargs)


def _is_retryable(error: deepl.DeepLException) -> bool:
    if isinstance(error, deepl.ConnectionException):
        return error.should_retry
    status = error.http_status_code
    return status is not None and (status == 429 or status >= 500)


def _domain_error(error: deepl.DeepLException, timeout: float) -> Exception:
    """The domain error for a DeepL failure. Details come from status codes, never from the
    exception text (which may quote a response body)."""
    if isinstance(error, deepl.QuotaExceededException):
        return QuotaExceeded(
            "DeepL's character quota for this billing period is used up; machine translation "
            "is paused until it renews."
        )
    if isinstance(error, deepl.AuthorizationException):
        return MachineTranslationUnavailable("DeepL rejected the API key.", retry_after=None)
    if isinstance(error, deepl.TooManyRequestsException):
        return MachineTranslationUnavailable(
            "DeepL is receiving too many requests; try again shortly.", retry_after=30
        )
    if isinstance(error, deepl.ConnectionException):
        cause = error.__cause__
        if isinstance(cause, requests.exceptions.Timeout):
            detail = f"DeepL did not answer within {timeout:g} s."
        else:
            detail = "DeepL could not be reached."
        return MachineTranslationUnavailable(detail, retry_after=30)
    status = error.http_status_code
    if status is not None and status >= 500:
        return MachineTranslationUnavailable(
            f"DeepL is unavailable (HTTP {status}).", retry_after=60
        )
    return MachineTranslationUnavailable(
        f"DeepL refused the request (HTTP {status or 'error'}).", retry_after=None
    )


class DeepLTranslator:
    """Translates HTML or segment texts with DeepL; one instance per API key.

    timeout: seconds per HTTP request; max_retries: extra attempts after a 429, a 5xx, a timeout
    or a connection failure, `retry_delay` seconds apart (doubling). `english` is the DeepL
    variant used for "en" ("EN-GB" or "EN-US").
    """

    def __init__(
        self,
        api_key: str,
        *,
        server_url: str | None = None,
        timeout: float = 10,
        max_retries: int = 1,
        retry_delay: float = 1.0,
        english: str = "EN-GB",
    ):
        if not api_key:
            raise ValueError("a DeepL API key is required")
        if english not in ("EN-GB", "EN-US"):
            raise ValueError("english must be 'EN-GB' or 'EN-US'")
        self.server_url = server_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.english = english
        # The key lives only in the deepl client's Authorization header.
        self._client = deepl.Translator(api_key, server_url=server_url, send_platform_info=False)
        # deepl has no per-instance timeout or retry options (both are module globals), so its
        # HTTP layer is swapped for one that makes a single attempt under our timeout.
        self._client._client.close()
        self._client._client = _SingleAttemptHttpClient(timeout)
        self._client.set_app_info("tm-service", "0.1")
        self._glossary_pairs: frozenset[tuple[str, str]] | None = None

    def __repr__(self) -> str:
        return f"DeepLTranslator(server_url={self.server_url!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        """Close the HTTP session."""
        self._client.close()

    def __enter__(self) -> DeepLTranslator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def translate_html(
        self,
        texts: Sequence[str],
        source_language: str,
        target_language: str,
        *,
        glossary: str | deepl.GlossaryInfo | None = None,
        tag_handling: TagHandling = "html",
        word_budget: int | None = None,
        words_used: int = 0,
    ) -> list[MachineTranslation]:
        """Translate texts (HTML, or segment texts with <g1>/<x2/> placeholders for "xml").

        All or nothing: the result has one record per text, or an error is raised. With
        `word_budget`, QuotaExceeded is raised before anything is sent when the texts need more
        words than are left. Raises UnsupportedLanguage, QuotaExceeded (our budget or DeepL's
        quota) or MachineTranslationUnavailable.
        """
        if tag_handling not in ("html", "xml"):
            raise ValueError("tag_handling must be 'html' or 'xml'")
        source = deepl_source_language(source_language)
        target = deepl_target_language(target_language, english=self.english)
        texts = list(texts)
        words = [count_words(text) for text in texts]
        if word_budget is not None:
            check_budget(sum(words), word_budget, words_used)

        kept_values: list[list[str]] = [[] for _ in texts]
        protect = _protect_html if tag_handling == "html" else _protect_xml
        to_send = [
            (index, protect(text, kept_values[index]))
            for index, text in enumerate(texts)
            if text.strip()
        ]
        options: dict[str, Any] = {
            "source_lang": source,
            "target_lang": target,
            "tag_handling": tag_handling,
            "glossary": glossary,
        }
        if tag_handling == "xml":
            options["ignore_tags"] = [_KEEP_XML_TAG]
            # Segment placeholders are inline: they must never split a sentence.
            inline = sorted({f"{m[0]}{m[1]}" for m in _xml_tag_names(texts)})
            options["non_splitting_tags"] = [*inline, _KEEP_XML_TAG]
        if _is_beta(source) or _is_beta(target):
            options["extra_body_parameters"] = {"enable_beta_languages": True}

        results: dict[int, deepl.TextResult] = {}
        for batch in _batches(to_send):
            translated = self._call(
                lambda batch=batch: self._client.translate_text(
                    [text for _, text in batch], **options
                )
            )
            if not isinstance(translated, list) or len(translated) != len(batch):
                raise MachineTranslationUnavailable(
                    "DeepL answered with the wrong number of translations.", retry_after=60
                )
            results.update(
                (index, result) for (index, _), result in zip(batch, translated, strict=True)
            )

        output: list[MachineTranslation] = []
        for index, text in enumerate(texts):
            result = results.get(index)
            if result is None:  # blank text, nothing to translate
                restored, intact, billed = text, True, 0
            else:
                restored, intact = _restore(result.text, kept_values[index], tag_handling)
                billed = result.billed_characters
            output.append(
                MachineTranslation(
                    source_text=text,
                    text=restored,
                    source_language=source,
                    target_language=target,
                    words=words[index],
                    billed_characters=billed,
                    protected=len(kept_values[index]),
                    protected_intact=intact,
                )
            )
        logger.info(
            "DeepL translated %d texts (%d words) %s→%s", len(results), sum(words), source, target
        )
        return output

    def usage(self) -> tuple[int, int]:
        """DeepL's (character_count, character_limit) for the current billing period."""
        usage = self._call(self._client.get_usage)
        return usage.character.count or 0, usage.character.limit or 0

    # ----------------------------------------------------------------- glossaries (v2)

    def glossary_language_pairs(self) -> frozenset[tuple[str, str]]:
        """The (source, target) pairs DeepL makes glossaries for, lower-case base codes
        ("de", "en"); asked once per translator."""
        if self._glossary_pairs is None:
            pairs = self._call(self._client.get_glossary_languages)
            self._glossary_pairs = frozenset(
                (pair.source_lang.lower(), pair.target_lang.lower()) for pair in pairs
            )
        return self._glossary_pairs

    def create_glossary(
        self, name: str, source_language: str, target_language: str, entries: Mapping[str, str]
    ) -> str:
        """Create a glossary (source term → target term) and return its id. Languages are our
        codes; glossaries are per base language at DeepL (one "en" glossary serves EN-GB and
        EN-US)."""
        source = deepl_source_language(source_language)
        target = deepl_target_language(target_language, english=self.english).split("-")[0]
        info = self._call(lambda: self._client.create_glossary(name, source, target, dict(entries)))
        logger.info(
            "DeepL glossary %s created (%s→%s, %d entries)",
            info.glossary_id,
            source,
            target,
            len(entries),
        )
        return str(info.glossary_id)

    def delete_glossary(self, glossary_id: str) -> None:
        """Delete a glossary; one DeepL no longer has is not an error."""
        try:
            self._call(lambda: self._client.delete_glossary(glossary_id))
        except MachineTranslationUnavailable as error:
            if "404" not in str(error.detail):
                raise

    def glossary_exists(self, glossary_id: str) -> bool:
        """Whether DeepL still has the glossary (one deleted by hand must be made again)."""
        try:
            self._call(lambda: self._client.get_glossary(glossary_id))
        except MachineTranslationUnavailable as error:
            if "404" in str(error.detail):
                return False
            raise
        return True

    def list_glossaries(self) -> list[tuple[str, str, str, str, int]]:
        """(id, name, source, target, entry count) of every glossary of the account."""
        return [
            (g.glossary_id, g.name, g.source_lang.lower(), g.target_lang.lower(), g.entry_count)
            for g in self._call(self._client.list_glossaries)
        ]

    def _call(self, request: Any) -> Any:
        """Run one client call with bounded retries; DeepL errors become domain errors."""
        attempt = 0
        while True:
            try:
                return request()
            except deepl.DeepLException as error:
                status = getattr(error, "http_status_code", None)
                if attempt < self.max_retries and _is_retryable(error):
                    attempt += 1
                    logger.info(
                        "DeepL request failed (%s, HTTP %s); retry %d of %d",
                        type(error).__name__,
                        status,
                        attempt,
                        self.max_retries,
                    )
                    time.sleep(self.retry_delay * 2 ** (attempt - 1))
                    continue
                mapped = _domain_error(error, self.timeout)
                logger.warning(
                    "DeepL request failed (%s, HTTP %s): %s",
                    type(error).__name__,
                    status,
                    getattr(mapped, "detail", mapped),
                )
                raise mapped from error


def _xml_tag_names(texts: Sequence[str]) -> set[tuple[str, str]]:
    """Names of the segment placeholder tags used in texts, as ("g", "1") / ("x", "2")."""
    names: set[tuple[str, str]] = set()
    for text in texts:
        for match in PLACEHOLDER_RE.finditer(text):
            if match.group(1):
                names.add(("g", match.group(1)))
            else:
                names.add(("x", match.group(2)))
    return names


def _batches(items: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Split (index, text) pairs into requests within DeepL's count and size limits."""
    batches: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode("utf-8"))
        if current and (
            len(current) >= _MAX_TEXTS_PER_REQUEST or size + item_size > _MAX_BYTES_PER_REQUEST
        ):
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append(current)
    return batches
