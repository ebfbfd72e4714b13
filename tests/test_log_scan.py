"""The e2e log scan's matcher finds a caller's data however a log writes it (tests/support/log_scan.py)."""

from __future__ import annotations

import pytest

from tests.support.log_scan import personal_data, privacy_leaks

DATA = personal_data("+61412345678", "Jane Citizen", ["Yes. My name is Jane Citizen, book me in please."])


@pytest.mark.parametrize(
    "line",
    [
        "from=+61412345678",
        "phone 0412 345 678",
        "To=%2B61412345678",
        '{"phone": "(04) 1234-5678"}',
        "+61 412 345 678",
        "caller JANE",
        "name=citizen",
        "turn: my name is   jane citizen, book me in please.",
    ],
)
def test_each_form_is_found(line: str) -> None:
    assert privacy_leaks({"x.log": f"2026-01-01 INFO {line} status=200"}, DATA)


def test_ids_statuses_and_short_words_are_not() -> None:
    clean = "call_id=call-CA30a92a064a9842538c8fb9d1f0e49784 status=completed yes Janet citizenship 41234567"
    assert privacy_leaks({"x.log": clean}, DATA) == []
    assert "yes." not in DATA.sentences and "my name is jane citizen, book me in please." in DATA.sentences
