"""The DeepL connector against a local stand-in: protection of local specifics, words, errors."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from connectors.deepl_client import (
    DeepLTranslator,
    MachineTranslationUnavailable,
    UnsupportedLanguage,
    check_budget,
    deepl_source_language,
    deepl_target_language,
    estimate_words,
)
from memory.errors import DomainError, QuotaExceeded
from tests.deepl_standin import DeepLStandIn, deepl_standin, fake_translate

__all__ = ["deepl_standin"]  # the fixture, imported for pytest

PAGE = (
    "<p>Rufen Sie uns an: <strong>0821 3102-0</strong> oder schreiben Sie an "
    'info@augsburg.de.</p><p>Mehr unter <a href="https://www.augsburg.de/buergerservice">'
    "https://www.augsburg.de/buergerservice</a>, Termine ab 01.02.2024 um 8:00 Uhr.</p>"
)


@pytest.fixture
def translator(deepl_standin: DeepLStandIn) -> Iterator[DeepLTranslator]:
    with DeepLTranslator(
        deepl_standin.api_key,
        server_url=deepl_standin.url,
        timeout=0.5,
        max_retries=0,
        retry_delay=0,
    ) as client:
        yield client


def test_stand_in_damages_unprotected_local_specifics():
    # Without protection the phone number, e-mail and URL would not survive.
    damaged = fake_translate("Tel. 0821 3102-0, info@augsburg.de", "EN-GB")
    assert damaged == "[EN-GB] Tel. 082131020, info (at) augsburg.de"


def test_html_translation_keeps_tags_and_local_specifics(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    [result] = translator.translate_html([PAGE], "de", "en")

    assert "[EN-GB] Rufen Sie uns an:" in result.text
    assert "<strong>0821 3102-0</strong>" in result.text
    assert "info@augsburg.de" in result.text
    assert '<a href="https://www.augsburg.de/buergerservice">' in result.text
    assert ">https://www.augsburg.de/buergerservice</a>" in result.text
    assert "01.02.2024" in result.text and "8:00" in result.text
    assert "data-tm-keep" not in result.text and "translate=" not in result.text
    assert result.protected_intact and result.protected == 5
    assert (result.source_language, result.target_language) == ("DE", "EN-GB")
    [sent] = deepl_standin.translate_requests
    assert sent.body["tag_handling"] == "html"
    assert sent.body["source_lang"] == "DE" and sent.body["target_lang"] == "EN-GB"
    assert '<span translate="no" data-tm-keep="0">0821 3102-0</span>' in sent.body["text"][0]
    # The URL inside the href attribute is not wrapped (only text nodes are).
    assert '<a href="https://www.augsburg.de/buergerservice">' in sent.body["text"][0]


def test_character_references_are_never_cut(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    page = "<p>Mo&#8211;Fr 8:00&ndash;12:00, Tel.&nbsp;0821 3102-0, https://a.de/?x=1&amp;y=2</p>"
    [result] = translator.translate_html([page], "de", "en")
    [sent] = deepl_standin.translate_requests
    assert "&#8211;" in sent.body["text"][0]
    assert "&#8211;" in result.text and "&ndash;12:00" in result.text
    assert "0821 3102-0" in result.text and "https://a.de/?x=1&amp;y=2" in result.text
    assert result.protected_intact


def test_script_content_is_not_wrapped(translator: DeepLTranslator, deepl_standin: DeepLStandIn):
    page = "<p>Seit 2024.</p><script>var year = 2024;</script>"
    translator.translate_html([page], "de", "en")
    [sent] = deepl_standin.translate_requests
    assert "<script>var year = 2024;</script>" in sent.body["text"][0]


def test_segment_text_with_inline_placeholders_uses_xml_and_is_escaped(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    segment = "Rufen Sie uns an: <g1>0821 3102-0</g1> & schreiben Sie <x2/> an <3 Leute."
    [result] = translator.translate_html([segment], "de", "ar", tag_handling="xml")

    # The stand-in prefixes every text node; "3" was protected like any number.
    assert result.text == (
        "[AR] Rufen Sie uns an: <g1>0821 3102-0</g1> [AR] & schreiben Sie <x2/> [AR] an <3 "
        "[AR] Leute."
    )
    [sent] = deepl_standin.translate_requests
    assert sent.body["tag_handling"] == "xml"
    assert sent.body["ignore_tags"] == ["x-keep"]
    assert set(sent.body["non_splitting_tags"]) == {"g1", "x2", "x-keep"}
    assert "&amp; schreiben" in sent.body["text"][0] and "an &lt;<x-keep" in sent.body["text"][0]


@pytest.mark.parametrize(
    ("code", "deepl_code"),
    [
        ("de", "DE"),
        ("en", "EN-GB"),
        ("en-us", "EN-US"),
        ("pt", "PT-PT"),
        ("pt-BR", "PT-BR"),
        ("zh", "ZH"),
        ("ar", "AR"),
        ("fa", "FA"),
        ("uk", "UK"),
        ("tr", "TR"),
        ("ru", "RU"),
    ],
)
def test_language_codes_map_to_deepl_target_codes(code: str, deepl_code: str):
    assert deepl_target_language(code) == deepl_code


def test_english_variant_is_configurable(deepl_standin: DeepLStandIn):
    assert deepl_target_language("en", english="EN-US") == "EN-US"
    with DeepLTranslator(
        deepl_standin.api_key, server_url=deepl_standin.url, english="EN-US"
    ) as client:
        [result] = client.translate_html(["<p>Hallo</p>"], "de", "en")
    assert result.text == "<p>[EN-US] Hallo</p>"


def test_source_languages_have_no_variants():
    assert deepl_source_language("en-gb") == "EN"
    assert deepl_source_language("pt-br") == "PT"
    assert deepl_source_language("de-si") == "DE"  # Einfache Sprache is German text


@pytest.mark.parametrize("code", ["de-si", "ti", "so", "xx"])
def test_unsupported_target_language_is_a_clear_error_and_nothing_is_sent(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn, code: str
):
    with pytest.raises(UnsupportedLanguage) as raised:
        translator.translate_html(["<p>Hallo</p>"], "de", code)
    assert raised.value.status == 422
    assert code in raised.value.detail
    assert deepl_standin.requests == []


def test_beta_language_farsi_sets_the_beta_flag(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    [result] = translator.translate_html(["<p>Willkommen</p>"], "de", "fa")
    assert result.text == "<p>[FA] Willkommen</p>"
    assert deepl_standin.translate_requests[0].body["enable_beta_languages"] is True


def test_words_are_counted_like_integreat_without_tags():
    assert estimate_words(["<p>Hallo <b>Welt</b>, wie-geht es?</p>", "Ein <g1>Satz</g1>."]) == 7
    assert estimate_words([]) == 0


def test_each_translation_reports_its_words(translator: DeepLTranslator):
    results = translator.translate_html(["<p>Eins zwei drei</p>", "<p>vier</p>"], "de", "en")
    assert [r.words for r in results] == [3, 1]


def test_budget_check_allows_exactly_the_rest_and_refuses_more():
    check_budget(100, budget=50_000, used=49_900)
    with pytest.raises(QuotaExceeded) as raised:
        check_budget(101, budget=50_000, used=49_900)
    assert raised.value.status == 429
    assert "100 of the 50000 words" in raised.value.detail


def test_budget_exceeded_sends_nothing(translator: DeepLTranslator, deepl_standin: DeepLStandIn):
    with pytest.raises(QuotaExceeded):
        translator.translate_html(
            ["<p>Eins zwei drei vier</p>"], "de", "en", word_budget=50_000, words_used=49_997
        )
    assert deepl_standin.requests == []


def test_blank_texts_are_returned_without_a_request(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    assert translator.translate_html([], "de", "en") == []
    [blank] = translator.translate_html(["  "], "de", "en")
    assert blank.text == "  " and blank.words == 0
    assert deepl_standin.requests == []


def test_glossary_id_is_passed_on(translator: DeepLTranslator, deepl_standin: DeepLStandIn):
    glossary_id = translator.create_glossary("test", "de", "en", {"Hallo": "Hello"})
    (result,) = translator.translate_html(["<p>Hallo</p>"], "de", "en", glossary=glossary_id)
    assert deepl_standin.translate_requests[0].body["glossary_id"] == glossary_id
    assert result.text == "<p>[EN-GB] Hello</p>"  # the stand-in applies the glossary


def test_an_unknown_glossary_is_refused(translator: DeepLTranslator, deepl_standin: DeepLStandIn):
    with pytest.raises(MachineTranslationUnavailable, match="404"):
        translator.translate_html(["<p>Hallo</p>"], "de", "en", glossary="gloss-1")


def test_large_batches_are_split_and_keep_their_order(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    texts = [f"<p>Satz Nummer {n}</p>" for n in range(120)]
    results = translator.translate_html(texts, "de", "en")
    assert [len(r.body["text"]) for r in deepl_standin.translate_requests] == [50, 50, 20]
    assert [r.text for r in results] == [f"<p>[EN-GB] Satz Nummer {n}</p>" for n in range(120)]


def test_a_failure_in_a_later_request_gives_no_partial_result(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    deepl_standin.fail_with(500, after=1)
    with pytest.raises(MachineTranslationUnavailable):
        translator.translate_html([f"<p>Satz {n}</p>" for n in range(80)], "de", "en")
    assert len(deepl_standin.translate_requests) == 2


@pytest.mark.parametrize(
    ("status", "error", "detail", "retry_after"),
    [
        (456, QuotaExceeded, "quota", None),
        (429, MachineTranslationUnavailable, "too many requests", 30),
        (500, MachineTranslationUnavailable, "HTTP 500", 60),
        (503, MachineTranslationUnavailable, "HTTP 503", 60),
        (403, MachineTranslationUnavailable, "DeepL rejected the API key", None),
    ],
)
def test_deepl_failures_become_domain_errors(
    translator: DeepLTranslator,
    deepl_standin: DeepLStandIn,
    status: int,
    error: type[DomainError],
    detail: str,
    retry_after: int | None,
):
    deepl_standin.fail_with(status)
    with pytest.raises(error) as raised:
        translator.translate_html(["<p>Hallo</p>"], "de", "en")
    assert detail.lower() in raised.value.detail.lower()
    assert getattr(raised.value, "retry_after", None) == retry_after
    # max_retries=0: exactly one request, the client's own retry loop is off.
    assert len(deepl_standin.requests) == 1


def test_unavailable_is_a_503_problem():
    error = MachineTranslationUnavailable("DeepL is unavailable.", retry_after=60)
    assert isinstance(error, DomainError)
    assert (error.status, error.type_slug) == (503, "machine-translation-unavailable")


def test_a_wrong_key_is_rejected(deepl_standin: DeepLStandIn):
    with DeepLTranslator("not-the-key", server_url=deepl_standin.url, max_retries=0) as client:
        with pytest.raises(MachineTranslationUnavailable, match="DeepL rejected the API key"):
            client.translate_html(["<p>Hallo</p>"], "de", "en")


def test_a_slow_answer_times_out(translator: DeepLTranslator, deepl_standin: DeepLStandIn):
    deepl_standin.delay = 2.0
    with pytest.raises(MachineTranslationUnavailable, match="did not answer within 0.5 s"):
        translator.translate_html(["<p>Hallo</p>"], "de", "en")


def test_an_unreachable_server_is_unavailable():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with DeepLTranslator(
        "some-key", server_url=f"http://127.0.0.1:{port}", timeout=0.5, max_retries=0
    ) as client:
        with pytest.raises(MachineTranslationUnavailable, match="could not be reached"):
            client.translate_html(["<p>Hallo</p>"], "de", "en")


def test_a_passing_failure_is_retried_up_to_max_retries(deepl_standin: DeepLStandIn):
    deepl_standin.fail_with(429, times=1)
    with DeepLTranslator(
        deepl_standin.api_key, server_url=deepl_standin.url, max_retries=1, retry_delay=0
    ) as client:
        [result] = client.translate_html(["<p>Hallo</p>"], "de", "en")
    assert result.text == "<p>[EN-GB] Hallo</p>"
    assert len(deepl_standin.requests) == 2


def test_usage_reports_characters_used_and_limit(
    translator: DeepLTranslator, deepl_standin: DeepLStandIn
):
    deepl_standin.character_count = 1234
    assert translator.usage() == (1234, 500_000)
    deepl_standin.fail_with(456)
    with pytest.raises(QuotaExceeded):
        translator.usage()


def test_api_key_is_never_logged_or_shown(
    deepl_standin: DeepLStandIn,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
):
    caplog.set_level(logging.DEBUG)
    for name in ("deepl", "urllib3", "requests", "connectors"):
        caplog.set_level(logging.DEBUG, logger=name)
    key = deepl_standin.api_key
    errors: list[Exception] = []
    with DeepLTranslator(
        key, server_url=deepl_standin.url, timeout=0.3, max_retries=1, retry_delay=0
    ) as client:
        client.translate_html([PAGE], "de", "en")
        client.usage()
        for status in (403, 429, 456, 500):
            deepl_standin.fail_with(status)
            with pytest.raises(DomainError) as raised:
                client.translate_html(["<p>Hallo</p>"], "de", "en")
            errors.append(raised.value)
        deepl_standin.recover()
        deepl_standin.delay = 1.0
        with pytest.raises(DomainError) as raised:
            client.usage()
        errors.append(raised.value)
        shown = repr(client)

    assert any(record.name.startswith("deepl") for record in caplog.records)
    assert any(record.name.startswith("urllib3") for record in caplog.records)
    assert key in deepl_standin.requests[0].headers["authorization"]  # it was sent, as a header
    assert key not in caplog.text
    for record in caplog.records:
        assert key not in record.getMessage()
    for error in errors:
        assert key not in str(error) and key not in repr(error)
        assert key not in str(error.__cause__)
    assert key not in shown
    captured = capsys.readouterr()
    assert key not in captured.out and key not in captured.err
