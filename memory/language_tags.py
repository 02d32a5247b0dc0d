"""Language tags: which codes the service stores, checked the same way by every importer.

Pure: no Flask, no SQLAlchemy (the connectors use it too). A service language code is a
well-formed and valid BCP 47 tag (langcodes checks each subtag against the IANA registry, so
`12`, `zz` or `de-` are refused) that also fits the API's own rule for codes: lowercase, a
two- or three-letter primary language subtag, at most 20 characters (the column). Tags that
name no language a text is written in (`und`, `mul`, `zxx`) are refused too.
"""

from __future__ import annotations

import functools
import re

import langcodes

__all__ = ["MAX_CODE_LENGTH", "service_language_code"]

MAX_CODE_LENGTH = 20
# The API's LANGUAGE_CODE rule (tm_service/api/schemas.py): what a route accepts as a code.
_SERVICE_CODE = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{1,8})*")
_NO_LANGUAGE = frozenset({"und", "mul", "zxx"})


@functools.lru_cache(maxsize=1024)
def service_language_code(tag: str) -> str:
    """The service code of a BCP 47 tag, as written (`DE-si` → `de-si`, `en_GB` → `en-gb`).

    Raises ValueError naming the tag when it is not a valid BCP 47 tag or not a code the API
    accepts.
    """
    code = tag.strip().replace("_", "-").lower()
    if (
        len(code) > MAX_CODE_LENGTH
        or not _SERVICE_CODE.fullmatch(code)
        or not langcodes.tag_is_valid(code)
    ):
        raise ValueError(
            f"not a language code: {tag!r} (a BCP 47 tag such as 'de', 'en-GB' or 'de-si')"
        )
    if code.split("-", 1)[0] in _NO_LANGUAGE:
        raise ValueError(f"not a language code: {tag!r} names no language")
    return code
