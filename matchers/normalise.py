"""Text normalisation for matching only; stored text is never changed by it."""

import re
import unicodedata

# Placeholder tokens such as "{PHONE}" (see matchers.placeholders) must come out unchanged,
# so the text between them is normalised and the tokens are copied through.
# A placeholder token of a matching form ("{NUM}", "{DATE}").
PROTECTED_TOKEN = re.compile(r"(\{[A-Z]+\})")

# Invisible format characters that change bytes but not what a reader sees: ZWNJ, ZWJ,
# LRM/RLM, Arabic letter mark, BOM/ZWNBSP, soft hyphen (frequent in CMS HTML as &shy;).
_INVISIBLE = "\u200c\u200d\u200e\u200f\u061c\ufeff\u00ad\u2060"

# Arabic tatweel (kashida) stretches a word; harakat and Quranic marks are optional
# vocalisation that authors use inconsistently.
_ARABIC_MARKS = (
    "\u0640"
    + "".join(chr(c) for c in range(0x064B, 0x0660))
    + "\u0670"
    + "".join(chr(c) for c in range(0x06D6, 0x06EE))
)

_ARABIC_LETTER_VARIANTS = {
    # Yeh: Farsi yeh and alef maksura are written interchangeably with Arabic yeh.
    "\u06cc": "\u064a",
    "\u0649": "\u064a",
    # Kaf: keheh (Persian/Urdu keyboards) vs Arabic kaf.
    "\u06a9": "\u0643",
    # Alef with hamza above/below, madda, wasla: hamza is often omitted in practice.
    "\u0623": "\u0627",
    "\u0625": "\u0627",
    "\u0622": "\u0627",
    "\u0671": "\u0627",
}

# Teh marbuta and heh-with-yeh collapse to heh only where that is a spelling variant
# (Arabic, Persian, Dari, Pashto); in Sorani Kurdish or Urdu the heh family is distinct letters.
_HEH_VARIANTS = {"\u0629": "\u0647", "\u06c0": "\u0647"}
_HEH_LANGUAGES = frozenset({"ar", "fa", "prs", "ps"})

# Turkish: "İ".casefold() is "i" + combining dot, and "I" lowercases to "ı" under Turkish
# rules; mapping all four letters to "i" makes İstanbul, ISTANBUL and istanbul equal in every
# language. The ı/i distinction is lost, which is harmless because it is lost on both sides.
_TURKISH_I = {"\u0130": "i", "\u0131": "i", "I": "i"}

_QUOTES = {
    **dict.fromkeys("\u201e\u201c\u201d\u201f\u00ab\u00bb\u2033\u301d\u301e", '"'),
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2039\u203a\u2032\u02bc\u00b4\u0060", "'"),
}
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d", "-")

_COMMON_TABLE = str.maketrans(
    {
        **dict.fromkeys(_INVISIBLE + _ARABIC_MARKS, None),
        **_ARABIC_LETTER_VARIANTS,
        **_TURKISH_I,
        **_QUOTES,
        **_DASHES,
    }
)
_HEH_TABLE = str.maketrans(_HEH_VARIANTS)

_WHITESPACE = re.compile(r"\s+")

_DIGITS_TO_ASCII = str.maketrans(
    {
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic ٠-٩
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Extended Arabic-Indic (Persian) ۰-۹
    }
)


def digits_to_ascii(text: str) -> str:
    """Replace Eastern Arabic (٠-٩) and Persian (۰-۹) digits by ASCII 0-9; length is kept."""
    return text.translate(_DIGITS_TO_ASCII)


def _primary_language(language: str) -> str:
    """Return the primary subtag of a BCP 47 tag, lower-case ("fa-AF" → "fa")."""
    return language.replace("_", "-").split("-", 1)[0].lower()


def _normalise_plain(text: str, unify_heh: bool) -> str:
    """Normalise text that contains no placeholder tokens."""
    text = unicodedata.normalize("NFC", text).translate(_COMMON_TABLE)
    if unify_heh:
        text = text.translate(_HEH_TABLE)
    # NFC again: casefold can decompose (e.g. "ǰ"), and removed marks may leave recomposable pairs.
    return unicodedata.normalize("NFC", text.casefold())


def normalise_for_matching(text: str, language: str) -> str:
    """Return the matching key of `text` in `language` (BCP 47); placeholder tokens are kept.

    Applies NFC, removes invisible format characters, tatweel and harakat, unifies Arabic and
    Persian letter variants, Turkish İ/I/ı/i, typographic quotes and dashes, casefolds, and
    collapses whitespace. Digits are left alone (see `digits_to_ascii`).
    """
    unify_heh = _primary_language(language) in _HEH_LANGUAGES
    if "{" in text:
        parts = PROTECTED_TOKEN.split(text)
        # split() with a capturing group puts tokens at the odd positions.
        text = "".join(
            part if index % 2 else _normalise_plain(part, unify_heh)
            for index, part in enumerate(parts)
        )
    else:
        text = _normalise_plain(text, unify_heh)
    return _WHITESPACE.sub(" ", text).strip()
