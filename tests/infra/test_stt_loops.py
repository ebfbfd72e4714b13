"""The decoder-loop cleanup that the fitted Whisper window relies on (infra/speech/loops.py)."""

from __future__ import annotations

import pytest

from infra.speech.loops import clean


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("Yes, that's right. Yes, that's right. Yes, that", "Yes, that's right."),
        ("My name is John Smith. My name is John Smith. My name", "My name is John Smith."),
        (
            "Tuesday at 1030 would be great. My name is Priya Raman. My name is Priya Raman.",
            "Tuesday at 1030 would be great. My name is Priya Raman.",
        ),
        ("yes yes yes yes yes yes", "yes"),
        ("Fair enough, bye. Bye. Bye", "Fair enough, bye."),
        ("The job number is 4172. The job number is 4172. The job", "The job number is 4172."),
    ],
)
def test_loops_are_cut(raw: str, kept: str) -> None:
    assert clean(raw) == kept


@pytest.mark.parametrize(
    "said",
    [
        "No, no, it's wrong.",
        "My phone number is 0412345678.",
        "It ends in 4 7, not 4 7 5.",
        "No, not 4 7 5, it's 4 7",
        "My PIN is 4 4 4 4.",
        "Please book me in at ten a.m. on Tuesday. My name is Jane Citizen.",
        "Yes.",
        "",
    ],
)
def test_real_speech_is_left_alone(said: str) -> None:
    assert clean(said) == said
