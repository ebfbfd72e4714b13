"""The live call card, rendered without a browser: what a supervisor sees of a call's state."""

from __future__ import annotations

from dashboard.live import Event, LiveCall
from dashboard.render import Renderer
from switchboard.messages import CallStatus, CallView


def head(**view: object) -> str:
    call = LiveCall(
        view=CallView(call_id="call-CA1", profile="clinic_booking", status=CallStatus.CONVERSATION, **view)
    )
    return Renderer().live_event(Event(kind="head", call_id="call-CA1"), call, "csrf")


def test_a_call_whose_agent_is_reconnecting_says_so() -> None:
    assert "reconnecting the agent" in head(reconnecting=True)
    assert "reconnecting the agent" not in head()
