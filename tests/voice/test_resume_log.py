"""The log a resumed conversation starts from (``ConversationLog.from_record``): the workflow's
record of the call, in the GA item shapes a new Realtime session replays."""

from __future__ import annotations

import json

from switchboard.models import Speaker, ToolCall, ToolResult, Turn
from voice.sessions import ConversationLog


def turn(speaker: Speaker, text: str) -> Turn:
    return Turn(speaker=speaker, text=text, start_ms=0)


TURNS = [
    turn(Speaker.AGENT, "Hi, I'm an AI assistant. May I record this call?"),
    turn(Speaker.CALLER, "Yes."),
    turn(Speaker.AGENT, "How can I help?"),
    turn(Speaker.CALLER, "Book me in at ten on Tuesday."),
]
BOOKED = ToolResult(
    call_id="call_b",
    name="book_appointment",
    ok=True,
    arguments={"time": "10:00"},
    output={"booking_id": "B1"},
)


def test_the_record_becomes_the_conversation_in_the_order_the_workflow_heard_it() -> None:
    log = ConversationLog.from_record(TURNS, [BOOKED], [4], consent=True)
    kinds = [(i["type"], i.get("role") or i.get("name", "")) for i in log.items]
    assert kinds == [
        ("function_call", "record_consent"),
        ("function_call_output", ""),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("function_call", "book_appointment"),
        ("function_call_output", ""),
    ]
    assert json.loads(log.items[-1]["output"]) == {"booking_id": "B1"}
    assert log.awaits_answer and log.trailing_inputs == 1  # the booking's output: the agent answers it
    note = log.replay()[0]["item"]["content"][0]["text"]
    assert "never ask it again" in note and "book_appointment" in note  # consent and what is done


def test_held_inputs_stay_out_of_the_replay_and_pending_calls_await_their_result() -> None:
    log = ConversationLog.from_record(TURNS, [], [], consent=True)
    assert log.trailing_inputs == 1  # the caller's request, after the agent's last words
    replayed = [e["item"] for e in log.replay(hold=1)]
    assert replayed[-1].get("role") == "assistant"  # held back: heard after the apology
    pending = ToolCall(call_id="call_p", name="book_appointment", arguments={"time": "10:00"})
    waiting = ConversationLog.from_record(TURNS, [], [], consent=True, pending=[pending])
    assert waiting.in_flight == ["call_p"] and not waiting.awaits_answer
