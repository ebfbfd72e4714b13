"""The web form's contract: its body, the phone number rules, and the HMAC signature it carries.

No I/O here: ``read_form`` takes the raw body and headers and returns a ``Lead`` or raises the
HTTP error the caller should see, in this order (cheapest and least trusting first):

    415 wrong content type → 413 body over 16 KiB → 401 bad or missing signature
    → 400 malformed JSON → 422 field errors (named by ``loc``, like Powertools' own 422s)

The signature is ``X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the raw body>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from aws_lambda_powertools.event_handler.exceptions import (
    BadRequestError,
    RequestEntityTooLargeError,
    ServiceError,
    UnauthorizedError,
)
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from phonenumbers import PhoneNumberType, shortnumberinfo
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from switchboard.models import Lead

MAX_BODY_BYTES = 16 * 1024
SIGNATURE_HEADER = "x-switchboard-signature"
_SIGNATURE = re.compile(r"sha256=([0-9a-f]{64})")

# Numbers a person answers. Premium-rate, short codes, pagers, toll-free and shared-cost lines are
# not a lead's own phone and some cost the caller money.
CALLABLE = {
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE_OR_MOBILE,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
}
SHORT_CODE_MAX_DIGITS = 6

# Where a country spans several zones and the number does not say which, the most populous one.
# The form should send the browser's zone (``Intl.DateTimeFormat().resolvedOptions().timeZone``).
DEFAULT_ZONE = {
    "AU": "Australia/Sydney",
    "US": "America/New_York",
    "CA": "America/Toronto",
    "NZ": "Pacific/Auckland",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "RU": "Europe/Moscow",
    "ID": "Asia/Jakarta",
}


def sign_body(secret: str, body: bytes) -> str:
    """The ``X-Switchboard-Signature`` value for ``body`` (what the web form's server sends)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    match = _SIGNATURE.fullmatch((header or "").strip().lower())
    if match is None or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, match.group(1))


@cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO country, from tzdata's zone.tab (one country per zone)."""
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text()
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {row[2]: row[0] for row in rows if len(row) >= 3}


@cache
def _countries() -> frozenset[str]:
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text()
    return frozenset(line[:2] for line in text.splitlines() if line and not line.startswith("#"))


def _error(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def normalise_phone(raw: str, region: str | None) -> tuple[str, str]:
    """(E.164, ISO region) for a number a person can be called back on; raises PydanticCustomError."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise _error("phone_invalid", "not a phone number") from None
    valid = phonenumbers.is_valid_number(number)
    national_digits = len(phonenumbers.national_significant_number(number))
    if shortnumberinfo.is_valid_short_number(number) or (valid and national_digits <= SHORT_CODE_MAX_DIGITS):
        raise _error("phone_short_code", "short codes and service numbers cannot be called back")
    if not valid:
        raise _error("phone_invalid", "not a valid phone number for its country")
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.PREMIUM_RATE:
        raise _error("phone_premium_rate", "premium-rate numbers cannot be called back")
    if kind not in CALLABLE:
        raise _error("phone_not_callable", "give a mobile or landline number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.region_code_for_number(number) or ""


def _zone_for(e164: str, region: str) -> str:
    from phonenumbers import timezone as number_zones

    zones = [z for z in number_zones.time_zones_for_number(phonenumbers.parse(e164)) if "/" in z]
    known = [z for z in zones if z != "Etc/Unknown"]
    if len(known) == 1:
        return known[0]
    if region in DEFAULT_ZONE:
        return DEFAULT_ZONE[region]
    in_country = sorted(z for z, c in _zone_countries().items() if c == region)
    return in_country[0] if in_country else "UTC"


class FormSubmission(BaseModel):
    """The web form's JSON body. Field order matters: ``phone`` is checked after the place fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    submission_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field(min_length=1, max_length=120)
    reason: str = Field(default="", max_length=1000)
    timezone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    consent_to_contact: Literal[True]
    phone: str = Field(min_length=3, max_length=32)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise _error("timezone_unknown", "not an IANA time zone") from None
        return value

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in _countries():
            raise _error("country_unknown", "not an ISO 3166 country code")
        return value.upper()

    @field_validator("phone")
    @classmethod
    def _callable_phone(cls, value: str, info: ValidationInfo) -> str:
        country, zone = info.data.get("country"), info.data.get("timezone")
        region = country or (_zone_countries().get(zone) if zone else None)
        if region is None and not value.startswith("+"):
            if "country" not in info.data or "timezone" not in info.data:
                return value  # a place field failed: its own error names it and the form is refused
            raise _error("phone_region_unknown", "give a country, or the number in +E.164 form")
        e164, _ = normalise_phone(value, region)
        return e164

    def lead(self) -> Lead:
        region = self.country or phonenumbers.region_code_for_number(phonenumbers.parse(self.phone)) or ""
        return Lead(
            submission_id=self.submission_id,
            name=self.name,
            phone=self.phone,
            reason=self.reason,
            timezone=self.timezone or _zone_for(self.phone, region),
            consent_to_contact=True,
        )


def _field_errors(err: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", *e["loc"]), "type": e["type"], "msg": e["msg"]} for e in err.errors()]
    )


def read_form(body: bytes, headers: Mapping[str, str], secret: str) -> Lead:
    """The lead in a signed form post, or the HTTP error to answer (see the module docstring)."""
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise ServiceError(415, "Content-Type must be application/json")
    if len(body) > MAX_BODY_BYTES:
        raise RequestEntityTooLargeError(f"the body is over {MAX_BODY_BYTES} bytes")
    if not signature_ok(secret, body, headers.get(SIGNATURE_HEADER)):
        raise UnauthorizedError("missing or invalid X-Switchboard-Signature")
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestValidationError([{"loc": ("body",), "type": "model_type", "msg": "expected an object"}])
    if data.get("timezone") is None and data.get("country") is None:
        raise RequestValidationError(
            [{"loc": ("body", "timezone"), "type": "missing", "msg": "give a timezone or a country"}]
        )
    try:
        return FormSubmission.model_validate(data).lead()
    except ValidationError as err:
        raise _field_errors(err) from None
