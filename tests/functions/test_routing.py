"""Inbound routing by dialled number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from switchboard.profiles import profile_names
from switchboard.routing import NumberRoute, e164, load_routes, route_for


def test_every_routed_number_is_valid_and_names_a_real_profile() -> None:
    routes = load_routes()
    assert routes, "numbers.json routes no number"
    assert {r.profile for r in routes.values()} <= set(profile_names())
    assert all(e164(number) == number for number in routes)


def test_a_number_matches_in_any_international_format() -> None:
    assert route_for("+61255550101") == NumberRoute(profile="clinic_booking", label="clinic reception line")
    assert route_for("+61 2 5555 0101") == route_for("+61255550101")
    assert route_for("+61255550199") is None  # valid, but no agent answers it
    assert route_for("0255550101") is None  # Twilio always sends E.164
    assert route_for("") is None


def test_a_bad_routing_file_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps({"numbers": {"12345": {"profile": "clinic_booking"}}}))
    with pytest.raises(ValueError, match=r"not a valid E\.164"):
        load_routes(path)
    path.write_text(json.dumps({"numbers": {"+61255550101": {"profile": "x", "hours": "9-5"}}}))
    with pytest.raises(ValueError):
        load_routes(path)
