"""The engine asks as a receptionist would: to the caller, in the second person, and only for what
the caller has not already said. Checked on every tool of the five profiles, as the voice worker
declares them to the Realtime session."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from activities.tools.profiles import load_profile
from infra.realtime_engine import phrasing
from infra.realtime_engine.args import Param, Tool
from infra.realtime_engine.policy import PolicyState, decide
from switchboard.profiles import profile_names
from voice.realtime import session_config

TODAY = date(2026, 12, 7)
THIRD_PERSON = re.compile(r"\b(they|their|them|caller|patient|customer|client|lead)('s)?\b", re.IGNORECASE)


def _declared(profile: str) -> list[dict[str, Any]]:
    return list(session_config(load_profile(profile))["tools"])


def _questions() -> list[tuple[str, str, Param]]:
    out = []
    for profile in profile_names():
        for spec in _declared(profile):
            tool = Tool.from_spec(spec)
            out += [(profile, tool.name, p) for p in tool.params if p.name != "confirmed"]
    return out


@pytest.mark.parametrize(("profile", "tool", "param"), _questions(), ids=lambda v: getattr(v, "name", v))
def test_every_question_is_to_the_caller(profile: str, tool: str, param: Param) -> None:
    question = phrasing.ask(param)
    assert re.search(r"\byou(r|'re)?\b", question, re.IGNORECASE), question
    assert not THIRD_PERSON.search(question), question
    assert "_" not in question, question  # no parameter as code writes it (job_id, other_party)
    assert question.endswith("?")


def test_the_read_back_names_values_to_the_caller() -> None:
    book = Tool.from_spec(next(t for t in _declared("clinic_booking") if t["name"] == "book_appointment"))
    line = phrasing.read_back(book, {"date": "2026-12-08", "time": "10:00", "name": "Jane Citizen"})
    assert "full name: Jane Citizen" in line and not THIRD_PERSON.search(line), line


def _first_turn(profile: str, text: str) -> Any:
    said = {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": text}]}
    return decide(PolicyState(), [said], _declared(profile), "", TODAY)


@pytest.mark.parametrize(
    ("profile", "text", "tool", "expected"),
    [
        (
            "lead_qualification",
            "I want solar panels on my roof, and I'd like to start this month.",
            "qualify_lead",
            {"need": "solar panels on my roof", "timeframe": "this month"},
        ),
        (
            "law_intake",
            "Please check for a conflict. The other party is Acme Holdings.",
            "check_conflict",
            {"other_party": "Acme Holdings"},
        ),
    ],
)
def test_what_the_caller_already_said_is_not_asked_again(
    profile: str, text: str, tool: str, expected: dict[str, Any]
) -> None:
    plan = _first_turn(profile, text)
    assert plan.say is None and plan.calls == [(tool, expected)]


def test_a_need_stated_first_is_kept_while_the_rest_is_asked() -> None:
    plan = _first_turn("law_intake", "I need a lawyer, I was arrested tonight.")
    assert plan.asked != "description" and plan.say is not None
    assert "what happened" not in plan.say.lower()


def test_a_bare_request_for_the_tool_still_asks_for_the_need() -> None:
    plan = _first_turn("support_triage", "I'd like to open a support ticket.")
    assert plan.asked == "category" and plan.say == phrasing.ask(
        next(p for p in Tool.from_spec(_declared("support_triage")[2]).params if p.name == "category")
    )
