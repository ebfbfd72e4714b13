"""Look for a caller's personal data in log text: the phone number in any spacing, the name's words,
and any sentence either side said."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_SEPARATORS = re.compile(r"[\s\-().]")
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
MIN_SENTENCE_WORDS = 4  # shorter ones ("Yes.", "Goodbye.") say nothing about the caller


@dataclass(frozen=True)
class PersonalData:
    numbers: tuple[str, ...]  # every written form: searched with separators stripped
    words: tuple[str, ...]  # whole words, any case
    sentences: tuple[str, ...]  # any case, whitespace as one space


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def personal_data(e164: str, name: str, said: Iterable[str]) -> PersonalData:
    """What to look for about a caller on ``e164`` (+61…) called ``name`` in a call where ``said``
    was spoken: the number as dialled (+61 4…, 61 4…), nationally (04…) and without its prefix."""
    digits = _digits(e164)
    national = digits[2:] if digits.startswith("61") else digits
    numbers = (e164, digits, "0" + national, national)
    sentences: set[str] = set()
    for text in said:
        for sentence in [text, *_SENTENCE_END.split(text)]:
            sentence = " ".join(sentence.split())
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                sentences.add(sentence.lower())
    return PersonalData(numbers, tuple(name.split()), tuple(sorted(sentences)))


def privacy_leaks(logs: Mapping[str, str], data: PersonalData) -> list[str]:
    """``file: what`` for each piece of ``data`` found in the ``logs`` (file name → text)."""
    found: list[str] = []
    for name, text in logs.items():
        stripped = _SEPARATORS.sub("", text)
        spaced = " ".join(text.split()).lower()
        found += [f"{name}: the number as {n}" for n in data.numbers if _SEPARATORS.sub("", n) in stripped]
        found += [f"{name}: {w!r}" for w in data.words if re.search(rf"\b{re.escape(w)}\b", text, re.I)]
        found += [f"{name}: said {s!r}" for s in data.sentences if s in spaced]
    return found
