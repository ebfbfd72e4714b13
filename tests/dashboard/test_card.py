"""The live call card, rendered without a browser: what a supervisor sees of a call's state."""

from __future__ import annotations

import re

from dashboard.live import Event, LiveCall
from dashboard.render import Renderer
from switchboard.messages import CallStatus, CallView
from switchboard.models import LatencySlices, Speaker, Turn


def head(**view: object) -> str:
    call = LiveCall(
        view=CallView(call_id="call-CA1", profile="clinic_booking", status=CallStatus.CONVERSATION, **view)
    )
    return Renderer().live_event(Event(kind="head", call_id="call-CA1"), call, "csrf")


def test_a_call_whose_agent_is_reconnecting_says_so() -> None:
    assert "reconnecting the agent" in head(reconnecting=True)
    assert "reconnecting the agent" not in head()


def card(turns: list[Turn], latency: LatencySlices) -> str:
    view = CallView(
        call_id="call-CA1", profile="clinic_booking", status=CallStatus.CONVERSATION, latency=latency
    )
    return Renderer().live_event(
        Event(kind="card", call_id="call-CA1"), LiveCall(view=view, turns=turns), "csrf"
    )


def article_class(html: str) -> str:
    match = re.search(r'<article class="([^"]*)"', html)
    assert match is not None
    return match.group(1)


def test_each_answer_shows_its_first_audio_time_and_a_slow_one_turns_the_card_amber() -> None:
    turns = [
        Turn(speaker=Speaker.CALLER, text="Tuesday please", start_ms=4000),
        Turn(speaker=Speaker.AGENT, text="Tuesday it is.", start_ms=5100, first_audio_ms=640.4),
        Turn(speaker=Speaker.CALLER, text="At ten", start_ms=8000),
        Turn(speaker=Speaker.AGENT, text="Ten o'clock.", start_ms=9200, first_audio_ms=912.0),
    ]
    html = card(turns, LatencySlices(turn_to_first_audio_ms=[640.4, 912.0]))
    assert article_class(html).split() == ["call", "latency-amber"]
    assert '<span class="first-audio ok"' in html and ">640 ms</span>" in html
    assert '<span class="first-audio amber"' in html and ">912 ms</span>" in html
    assert 'data-grade="amber"' in html and "first audio ≤ 912 ms" in html
    assert html.count('class="first-audio') == 2  # the caller's turns have none


def test_far_over_the_budget_or_a_slow_clear_turns_the_card_red() -> None:
    slow = [Turn(speaker=Speaker.AGENT, text="Sorry?", start_ms=0, first_audio_ms=1180.0)]
    html = card(slow, LatencySlices(turn_to_first_audio_ms=[1180.0]))
    assert "latency-red" in article_class(html) and '<span class="first-audio red"' in html
    talked_over = card([], LatencySlices(turn_to_first_audio_ms=[500.0], barge_in_to_clear_ms=[260.0]))
    assert "latency-red" in article_class(talked_over) and "clear ≤ 260 ms" in talked_over


def test_a_call_within_the_budget_is_not_coloured() -> None:
    html = card([], LatencySlices(turn_to_first_audio_ms=[450.0], tool_round_trip_ms=[120.0]))
    assert article_class(html) == "call" and 'data-grade="ok"' in html
    assert 'class="latency"' not in card([], LatencySlices())  # nothing measured yet: nothing said


def test_the_head_event_carries_the_grade_for_the_page_to_colour_the_card() -> None:
    assert 'data-grade="red"' in head(latency=LatencySlices(barge_in_to_clear_ms=[300.0]))
