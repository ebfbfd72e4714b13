"""Inbound routing: which agent profile answers a dialled number (``switchboard/numbers.json``).

Numbers are matched in E.164 form, so ``+61 2 5555 0101`` and ``+61255550101`` are one line.
Business-hours routing (reception in hours, the intake agent after) will extend ``NumberRoute``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

import phonenumbers
from pydantic import BaseModel, ConfigDict


class NumberRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str
    label: str = ""


class Routes(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    numbers: dict[str, NumberRoute]


def e164(number: str) -> str | None:
    """``number`` in E.164, or None when it is not a valid international number."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def load_routes(path: Path | None = None) -> dict[str, NumberRoute]:
    """The routing table from ``path`` (default: the packaged numbers.json), keyed by E.164."""
    text = path.read_text() if path else resources.files("switchboard").joinpath("numbers.json").read_text()
    raw = json.loads(text)
    raw.pop("_comment", None)
    table: dict[str, NumberRoute] = {}
    for number, route in Routes.model_validate(raw).numbers.items():
        key = e164(number)
        if key is None:
            raise ValueError(f"numbers.json: {number!r} is not a valid E.164 number")
        table[key] = route
    return table


@cache
def _default_routes() -> dict[str, NumberRoute]:
    return load_routes()


def route_for(dialled: str, routes: dict[str, NumberRoute] | None = None) -> NumberRoute | None:
    """The route of the dialled number, or None for a number Switchboard does not answer."""
    key = e164(dialled)
    if key is None:
        return None
    return (routes if routes is not None else _default_routes()).get(key)
