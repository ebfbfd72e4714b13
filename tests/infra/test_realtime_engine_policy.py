"""The dialogue policy and the spoken-value parsers, without sockets (a fixed 'today')."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from infra.realtime_engine import spoken
from infra.realtime_engine.policy import Plan, PolicyState, decide, replayed_state
from tests.infra.realtime_helpers import CONSENT_TOOL

TODAY = date(2026, 5, 20)  # a Wednesday

JOB = {
    "type": "function",
    "name": "get_job_status",
    "description": "Look up the status of a repair job.",
    "parameters": {
        "type": "object",
        "properties": {"job_id": {"type": "string", "description": "The job number"}},
        "required": ["job_id"],
    },
}
BOOK = {
    "type": "function",
    "name": "book_appointment",
    "description": "Book an appointment for the caller.",
    "parameters": {
        "type": "object",
        "properties": {
            "date": {"type": "string", "format": "date", "description": "The appointment date"},
            "time": {"type": "string", "description": "The appointment time"},
            "name": {"type": "string", "description": "The caller's full name"},
            "account_number": {"type": "string", "description": "The account number"},
            "confirmed": {"type": "boolean"},
        },
        "required": ["date", "time", "name", "account_number", "confirmed"],
    },
}
CONSENT = {
    "type": "function",
    "name": "record_consent",
    "description": "Record the caller's answer to recording.",
    "parameters": {"type": "object", "properties": {"granted": {"type": "boolean"}}, "required": ["granted"]},
}
END = {
    "type": "function",
    "name": "end_call",
    "description": "Hang up after the goodbye.",
    "parameters": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
}
ESCALATE = {
    "type": "function",
    "name": "escalate",
    "description": "Hand the call to a person.",
    "parameters": {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]},
}
TOOLS = [JOB, BOOK, CONSENT, END, ESCALATE]


class Call:
    """A conversation driven turn by turn, the way the session drives the policy."""

    def __init__(self) -> None:
        self.state = PolicyState()
        self.items: list[dict[str, Any]] = []

    def _decide(self, instructions: str = "") -> Plan:
        plan = decide(self.state, self.items, TOOLS, instructions, TODAY)
        self.state.after_response(plan)
        if plan.say:
            self.items.append(
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_audio", "transcript": plan.say}],
                }
            )
        for i, (name, args) in enumerate(plan.calls):
            self.items.append(
                {
                    "type": "function_call",
                    "call_id": f"call_{len(self.items)}_{i}",
                    "name": name,
                    "arguments": str(args),
                }
            )
        return plan

    def caller(self, text: str) -> Plan:
        self.items.append(
            {"type": "message", "role": "user", "content": [{"type": "input_audio", "transcript": text}]}
        )
        return self._decide()

    def output(self, output: str) -> Plan:
        call_id = next(i["call_id"] for i in reversed(self.items) if i["type"] == "function_call")
        self.items.append({"type": "function_call_output", "call_id": call_id, "output": output})
        return self._decide()


def test_say_exactly_wins_with_either_quotes() -> None:
    call = Call()
    assert (
        call._decide('Be warm. Say exactly: "Hello, this is an AI assistant."').say
        == "Hello, this is an AI assistant."
    )
    assert call._decide("Say exactly: “May I record this call?”").say == "May I record this call?"


def test_yes_with_nothing_pending_records_consent() -> None:
    assert Call().caller("Yes, that's fine.").calls == [("record_consent", {"granted": True})]
    assert Call().caller("No, I'd rather not.").calls == [("record_consent", {"granted": False})]


@pytest.mark.parametrize(
    "said",
    [
        "That's fine, you can record the call.",
        "Sure.",
        "Go ahead.",
        "Okay.",
        "You can record.",
        "No problem.",
        "Of course.",
        "Yeah, I don't mind.",
    ],
)
def test_affirmatives_grant_consent(said: str) -> None:
    assert Call().caller(said).calls == [("record_consent", {"granted": True})]


@pytest.mark.parametrize(
    "said",
    ["No.", "I'd rather not.", "Don't record.", "I don't want this recorded.", "Nope, please don't."],
)
def test_refusals_refuse_consent(said: str) -> None:
    assert Call().caller(said).calls == [("record_consent", {"granted": False})]


def test_consent_is_recorded_once_and_the_boolean_question_is_natural() -> None:
    call = Call()
    assert call.caller("Sure, go ahead.").calls == [("record_consent", {"granted": True})]
    call.output('{"ok": true}')
    assert not call.caller("Okay, great.").calls  # nothing pending: no second consent
    state = PolicyState()
    said = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_audio", "transcript": "Record it?"}],
    }
    plan = decide(state, [said], [CONSENT_TOOL], "", TODAY)
    assert plan.say == "Are you okay with me recording this call?" and plan.asked == "granted"


@pytest.mark.parametrize(
    ("said", "calls"),
    [("Sure, that's right.", True), ("Yep, go ahead.", True), ("No, that's wrong.", False)],
)
def test_read_back_answers(said: str, calls: bool) -> None:
    call = Call()
    call.caller(
        "Book an appointment on the 3rd of December at 10:30 for Jane Citizen, account one two three."
    )
    plan = call.caller(said)
    assert bool(plan.calls) is calls and (plan.calls[0][1]["confirmed"] if calls else plan.say)


def test_tool_call_and_result() -> None:
    call = Call()
    assert call.caller("What's the status of Job 4172?").calls == [("get_job_status", {"job_id": "4172"})]
    assert (call.output('{"status": "ready for pickup"}').say or "").startswith(
        "The status is ready for pickup."
    )
    call.caller("what's the status of job forty-one seventy-two")
    assert call.output('{"say": "Your phone is ready."}').say == "Your phone is ready."


def test_collects_arguments_reads_back_and_accepts_a_correction() -> None:
    call = Call()
    first = call.caller("I'd like to book an appointment tomorrow at half past two.")
    assert first.say == "What's your full name?" and not first.calls
    assert call.state.args == {"date": "2026-05-21", "time": "14:30"}
    assert call.caller("My name is Jane Citizen.").say == "What's your account number?"
    read_back = call.caller("four seven five")
    assert read_back.read_back and "four, seven, five" in (read_back.say or "")
    corrected = call.caller("No, four-seven, not four-seven-five.")
    assert corrected.read_back and "four, seven." in (corrected.say or "") and not corrected.calls
    done = call.caller("Yes, that's right.")
    assert done.calls == [
        (
            "book_appointment",
            {
                "date": "2026-05-21",
                "time": "14:30",
                "name": "Jane Citizen",
                "account_number": "47",
                "confirmed": True,
            },
        )
    ]


def test_plain_no_to_a_read_back_asks_again() -> None:
    call = Call()
    call.caller(
        "Book an appointment on the 3rd of December at 10:30 for Jane Citizen, account one two three."
    )
    again = call.caller("No.")
    assert again.say is not None and "appointment date" in again.say and not again.calls
    assert call.caller("December 4th").read_back


def test_error_result_apologises_and_asks_again() -> None:
    call = Call()
    call.caller("status of job 99")
    plan = call.output('{"ok": false, "error": "no such job"}')
    assert plan.say == "Sorry, I couldn't do that: no such job. What's your job number?"
    assert call.caller("one two three").calls == [("get_job_status", {"job_id": "123"})]


def test_goodbye_escalation_and_off_scope() -> None:
    call = Call()
    bye = call.caller("No thank you, that's all. Bye.")
    assert bye.say is None and bye.calls[0][0] == "end_call"  # goodbye is said once, after the output
    assert call.output('{"ok": true, "say": "Thanks for calling Harbourside. Bye!"}').say == (
        "Thanks for calling Harbourside. Bye!"
    )
    plain = Call()
    plain.caller("Goodbye.")
    assert plain.output('{"ok": true}').say == "Goodbye!"
    human = Call()
    handing = human.caller("Can I speak to a real person please?")
    assert handing.say is None and handing.calls[0][0] == "escalate"
    assert human.output('{"ok": true, "say": "Putting you through."}').say == "Putting you through."
    assert human.output('{"ok": true}').say == "Of course, let me connect you with a person now."
    refusal = Call().caller("What's the weather like in Paris?")
    assert refusal.say is not None and refusal.say.startswith("Sorry, I can't help with that. I can")
    assert "look up the status of a repair job" in refusal.say and not refusal.calls


@pytest.mark.parametrize(
    ("said", "iso"),
    [
        ("tomorrow", "2026-05-21"),
        ("on Monday", "2026-05-25"),
        ("the 3rd of December", "2026-12-03"),
        ("December 3", "2026-12-03"),
        ("the twenty-first of May", "2026-05-21"),
        ("May 1st", "2027-05-01"),
    ],
)
def test_dates(said: str, iso: str) -> None:
    assert spoken.parse_date(said, TODAY) == iso


@pytest.mark.parametrize(
    ("said", "hhmm"),
    [
        ("3 pm", "15:00"),
        ("3 p.m.", "15:00"),
        ("10:30", "10:30"),
        ("half past two", "14:30"),
        ("quarter to nine in the morning", "08:45"),
        ("noon", "12:00"),
        ("at ten", "10:00"),
    ],
)
def test_times(said: str, hhmm: str) -> None:
    assert spoken.parse_time(said) == hhmm


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("four one seven two", "4172"),
        ("4-1-7-2", "4172"),
        ("forty-one seventy-two", "4172"),
        ("zero four double one", "0411"),
        ("Job4172", "4172"),
        ("My phone number is 0 for 1 2 3 4 5 6 7 8.", "0412345678"),  # Whisper's "for" between digits
        ("It's 0 for 1 2 3 4 5 6 7 8 for me", "0412345678"),  # not after the run
    ],
)
def test_digit_strings(said: str, digits: str) -> None:
    assert spoken.number_groups(said) == [digits]


def test_a_handed_over_conversation_goes_on_where_it_was() -> None:
    """A reconnect's replay (the client's items, as text): the new session's policy is where the old
    one was, so the booking half collected is finished, not started again."""
    call = Call()
    call.caller("I'd like to book an appointment tomorrow at half past two.")
    call.caller("My name is Jane Citizen.")
    old = (call.state.pending, dict(call.state.args), call.state.asked)
    replay: list[dict[str, Any]] = [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "continuing"}]}
    ]
    for item in call.items:  # what voice/sessions.py sends: text parts only
        if item["type"] == "message":
            role = item["role"]
            text = item["content"][0].get("transcript") or item["content"][0].get("text")
            kind = "output_text" if role == "assistant" else "input_text"
            replay.append({"type": "message", "role": role, "content": [{"type": kind, "text": text}]})
        else:
            replay.append(item)
    state = replayed_state(replay, TOOLS, TODAY)
    assert (state.pending, state.args, state.asked) == old
    replay.append(
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "four seven five"}]}
    )
    plan = decide(state, replay, TOOLS, "", TODAY)
    assert plan.read_back and "four, seven, five" in (
        plan.say or ""
    )  # the account number, then the read-back
    assert replayed_state([], TOOLS, TODAY) == PolicyState()


def test_a_line_said_again_after_a_reconnect_keeps_the_read_back_pending() -> None:
    """The client dictates the cut read-back again (``Say exactly``): the yes that follows confirms."""
    call = Call()
    call.caller("I'd like to book an appointment tomorrow at half past two.")
    call.caller("My name is Jane Citizen.")
    read_back = call.caller("four seven five")
    assert read_back.read_back and call.state.awaiting_confirmation
    again = call._decide(f'Say exactly: "Sorry, the line dropped for a moment. {read_back.say}"')
    assert again.verbatim and not again.calls
    assert call.state.awaiting_confirmation  # still waiting for the yes
    done = call.caller("Yes, that's right.")
    assert done.calls and done.calls[0][0] == "book_appointment" and done.calls[0][1]["confirmed"] is True
