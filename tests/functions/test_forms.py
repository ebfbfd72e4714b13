"""The web form's rules without any server: phone numbers, time zones, the signature, the check order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic_core import PydanticCustomError

from functions._forms import normalise_phone, read_form, sign_body, signature_ok

KEY = "unit-test-key"


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("0491 570 156", "AU", "+61491570156"),
        ("+61 491 570 156", None, "+61491570156"),
        ("(02) 5555 0100", "AU", "+61255550100"),
        ("(201) 555-0123", "US", "+12015550123"),
        ("+44 20 7946 0958", "AU", "+442079460958"),  # the + wins over the region
    ],
)
def test_callable_numbers_become_e164(raw: str, region: str | None, e164: str) -> None:
    assert normalise_phone(raw, region)[0] == e164


@pytest.mark.parametrize(
    ("raw", "region", "kind"),
    [
        ("1900 123 456", "AU", "phone_premium_rate"),
        ("+1 900 555 0123", None, "phone_premium_rate"),
        ("131008", "AU", "phone_short_code"),
        ("000", "AU", "phone_short_code"),
        ("911", "US", "phone_short_code"),
        ("1800 123 456", "AU", "phone_not_callable"),  # toll-free: a business, not a lead
        ("0491 57", "AU", "phone_invalid"),
        ("not a number", "AU", "phone_invalid"),
        ("0491570156", None, "phone_invalid"),  # national form without a region
    ],
)
def test_numbers_nobody_can_be_called_back_on_are_refused(raw: str, region: str | None, kind: str) -> None:
    with pytest.raises(PydanticCustomError) as err:
        normalise_phone(raw, region)
    assert err.value.type == kind


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = b'{"a": 1}'
    header = sign_body(KEY, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_ok(KEY, body, header)
    assert signature_ok(KEY, body, header.upper().replace("SHA256=", "sha256="))
    assert not signature_ok(KEY, body + b" ", header)
    assert not signature_ok("other", body, header)
    assert not signature_ok("", body, sign_body("", body))  # no key configured: nothing verifies
    assert not signature_ok(KEY, body, header.removeprefix("sha256="))
    assert not signature_ok(KEY, body, None)


def _read(body: Any, *, key: str = KEY, content_type: str = "application/json", sign: bool = True) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": content_type}
    if sign:
        headers["x-switchboard-signature"] = sign_body(key, raw)
    return read_form(raw, headers, KEY)


FORM = {"submission_id": "s1", "name": "N", "phone": "0491 570 156", "consent_to_contact": True}


def test_the_lead_gets_a_zone_from_the_form_or_from_its_number() -> None:
    assert _read({**FORM, "timezone": "Australia/Perth"}).timezone == "Australia/Perth"
    assert _read({**FORM, "country": "AU"}).timezone == "Australia/Sydney"  # mobile: the country default
    chicago = {**FORM, "phone": "(312) 555-0100", "country": "us"}
    assert _read(chicago).timezone == "America/Chicago"  # the area code says where, not the default
    us = {**FORM, "phone": "+1 212 555 0100", "country": "US"}
    assert _read(us).timezone == "America/New_York"
    assert _read({**FORM, "timezone": "Europe/London", "phone": "020 7946 0958"}).phone == "+442079460958"


def test_checks_run_cheapest_and_least_trusting_first() -> None:
    huge_and_bad = b"{" + b" " * 20_000
    with pytest.raises(ServiceError) as err:
        _read(huge_and_bad, content_type="text/plain", sign=False)
    assert err.value.status_code == 415
    with pytest.raises(ServiceError) as err:
        _read(huge_and_bad, sign=False)
    assert err.value.status_code == 413
    with pytest.raises(ServiceError) as err:
        _read(b"{not json", sign=False)
    assert err.value.status_code == 401  # unauthenticated input is never parsed
    with pytest.raises(ServiceError) as err:
        _read(b"{not json")
    assert err.value.status_code == 400
    with pytest.raises(RequestValidationError):
        _read({**FORM, "country": "AU", "consent_to_contact": "yes"})
    assert (
        _read({**FORM, "country": "AU"}, content_type="application/json; charset=utf-8").submission_id == "s1"
    )
