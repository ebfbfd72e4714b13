"""Phone numbers are masked wherever they stand; identifiers that merely contain digits are not."""

from __future__ import annotations

import pytest

from switchboard.privacy import mask_phone


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+61412345678", "+614•••••678"),
        ("call me on 0412 345 678 after five", "call me on 0412•••••678 after five"),
        ("My phone number is 0412345678.", "My phone number is 0412•••678."),
        ("to=+61412345678&x=1", "to=+614•••••678&x=1"),
    ],
)
def test_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_phone(text) == masked


@pytest.mark.parametrize(
    "text",
    ["recordings/2026/12/07/call-3f1a-4d5e-fd5280501249.wav", "CA1234567890abcdef", "call-12345678-aa"],
)
def test_identifiers_with_digit_runs_are_left_alone(text: str) -> None:
    assert mask_phone(text) == text
