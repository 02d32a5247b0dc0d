"""Properties of placeholder transfer on generated sentences with inline markup, numbers and times.

A stored German sentence with its English translation (markup around some words or values,
times in the 24-hour or the 12-hour clock) and a query with other values: the transfer never
changes the markup, every value of the query arrives in the text or is listed as a mismatch,
and no time is ever written in an invalid form ("15 am", "24 pm", "25:00").
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.placeholders import extract_placeholders, transfer_placeholders

MARKUP = re.compile(r"</?g\d+>|<x\d+/>")
# An independent reading of the times in the English text (not the code under test).
TWELVE_HOUR = re.compile(r"(?<![\d:])(\d{1,2})(?::(\d{2}))?\s?([ap])\.?\s?m\.?(?!\w)", re.I)
WORD_TIME = re.compile(r"\b(noon|midnight)\b")
CLOCK = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?!\d)(?!\s?[aApP]\.?\s?[mM])")
NUMBER_BEFORE_WEEKS = re.compile(r"(?<![\d:])(\d+) weeks")


@dataclass(frozen=True)
class Slot:
    kind: str  # "NUM" or "TIME"
    number: int = 0
    hour: int = 0
    minute: int = 0


@dataclass(frozen=True)
class Case:
    stored_source: str
    stored_target: str
    query: str
    query_slots: tuple[Slot, ...]


times = st.builds(
    lambda hour, minute: Slot("TIME", hour=hour, minute=0 if hour == 24 else minute),
    st.integers(0, 24),
    st.sampled_from([0, 0, 15, 30, 45]),
)
# Small numbers on purpose: they are the numbers of the markup placeholders too (<g1>, <x2/>).
numbers = st.builds(lambda n: Slot("NUM", number=n), st.integers(1, 20))
slots = st.one_of(numbers, times)


def german(slot: Slot) -> str:
    if slot.kind == "NUM":
        return f"für {slot.number} Wochen"
    clock = f"{slot.hour}" if slot.minute == 0 else f"{slot.hour}:{slot.minute:02d}"
    return f"um {clock} Uhr"


def english_time(slot: Slot, style: str) -> str:
    hour, minute = slot.hour % 24, slot.minute
    if style == "24":
        return f"{hour}:{minute:02d}"
    if style == "word" and minute == 0 and hour in (0, 12):
        return "noon" if hour == 12 else "midnight"
    twelve = str(hour % 12 or 12) + (f":{minute:02d}" if minute else "")
    marker = {"am": ("am", "pm"), "AM": ("AM", "PM"), "a.m.": ("a.m.", "p.m.")}
    spelling = marker[style if style in marker else "am"]
    space = "" if style == "am" and hour % 2 else " "
    return twelve + space + spelling[0 if hour < 12 else 1]


@st.composite
def cases(draw) -> Case:
    stored = draw(st.lists(slots, min_size=1, max_size=5))
    style = draw(st.sampled_from(["24", "am", "AM", "a.m.", "word"]))
    query = [draw(numbers) if slot.kind == "NUM" else draw(times) for slot in stored]
    # Sometimes the query has a value more or one fewer than the stored sentence.
    change = draw(st.sampled_from(["same", "same", "extra", "fewer"]))
    if change == "extra":
        query.append(draw(slots))
    elif change == "fewer":
        query.pop()
    tag = 0
    target_parts = []
    for index, slot in enumerate(stored):
        value = f"{slot.number} weeks" if slot.kind == "NUM" else f"at {english_time(slot, style)}"
        word = f"part{index}"
        wrap = draw(st.sampled_from(["none", "word", "value", "break"]))
        if wrap == "word":
            tag += 1
            word = f"<g{tag}>{word}</g{tag}>"
        elif wrap == "value":
            tag += 1
            value = f"<g{tag}>{value}</g{tag}>"
        elif wrap == "break":
            tag += 1
            word = f"{word}<x{tag}/>"
        target_parts.append(f"{word} {value}")
    return Case(
        stored_source=", dann ".join(german(slot) for slot in stored) + ".",
        stored_target=", then ".join(target_parts) + ".",
        query=", dann ".join(german(slot) for slot in query) + ".",
        query_slots=tuple(query),
    )


def times_in(text: str) -> Counter[tuple[int, int]]:
    found: Counter[tuple[int, int]] = Counter()
    for hour, minute, period in TWELVE_HOUR.findall(text):
        found[(int(hour) % 12 + (12 if period.lower() == "p" else 0), int(minute or 0))] += 1
    for word in WORD_TIME.findall(text):
        found[(12 if word == "noon" else 0, 0)] += 1
    for hour, minute in CLOCK.findall(text):
        found[(int(hour) % 24, int(minute))] += 1
    return found


def transfer(case: Case):
    return transfer_placeholders(
        extract_placeholders(case.stored_source).values,
        case.stored_target,
        extract_placeholders(case.query).values,
        "en",
    )


@settings(max_examples=300, deadline=None)
@given(cases())
def test_transfer_never_changes_the_markup(case: Case):
    text, _ = transfer(case)
    assert MARKUP.findall(text) == MARKUP.findall(case.stored_target)
    assert MARKUP.sub("", text).count("<") == MARKUP.sub("", case.stored_target).count("<")


@settings(max_examples=300, deadline=None)
@given(cases())
def test_every_query_value_arrives_or_is_listed_as_a_mismatch(case: Case):
    text, mismatches = transfer(case)
    plain = MARKUP.sub("", text)
    stored = extract_placeholders(case.stored_source).values
    query = extract_placeholders(case.query).values
    numbers_written = Counter(int(n) for n in NUMBER_BEFORE_WEEKS.findall(plain))
    times_written = times_in(plain)
    listed = {(m.kind, m.reason, m.value) for m in mismatches}
    for kind in ("NUM", "TIME"):
        stored_values = [v for v in stored if v.kind == kind]
        query_values = [v for v in query if v.kind == kind]
        slots_of_kind = [s for s in case.query_slots if s.kind == kind]
        assert len(slots_of_kind) == len(query_values)
        for index, (value, slot) in enumerate(zip(query_values, slots_of_kind, strict=True)):
            if index >= len(stored_values):
                assert (kind, "extra_in_query", value.value) in listed
            elif kind == "NUM":
                assert numbers_written[slot.number] > 0, (value, text)
            else:
                assert times_written[(slot.hour % 24, slot.minute)] > 0, (value, text)
    # Every stored value is written in a form the transfer must find.
    assert not [m for m in mismatches if m.reason == "not_in_target"], (mismatches, text)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_no_time_is_written_in_an_invalid_form(case: Case):
    text, _ = transfer(case)
    plain = MARKUP.sub("", text)
    for hour, _minute, _period in TWELVE_HOUR.findall(plain):
        assert 1 <= int(hour) <= 12, text
    for hour, minute in CLOCK.findall(plain):
        assert int(hour) <= 24 and int(minute) <= 59, text
        assert not (int(hour) == 24 and int(minute) > 0), text
