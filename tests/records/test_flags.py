"""The review flags and the record of a call, from its facts: pure, no stack."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from switchboard.call_records import (
    LONG_SILENCE_MS,
    CallFacts,
    Flag,
    ToolUse,
    TurnTiming,
    build_record,
    compute_flags,
    percentile,
)
from switchboard.costs import CallCost
from switchboard.models import (
    CallOutcome,
    Consent,
    LatencySlices,
    Outcome,
    Speaker,
    ToolResult,
    Turn,
)

START = datetime(2026, 12, 6, 14, 30, tzinfo=UTC)  # Monday 01:30 in Sydney (UTC+11)


def facts(**changes: object) -> CallFacts:
    base = CallFacts(
        call_id="call-1",
        profile="clinic_booking",
        started_at=START,
        ended_at=START + timedelta(minutes=2),
        outcome=Outcome.COMPLETED,
        consent="given",
        tools=[ToolUse(name="check_availability", ok=True), ToolUse(name="end_call", ok=True)],
        turns=[
            TurnTiming(speaker=Speaker.AGENT, start_ms=0, end_ms=3000),
            TurnTiming(speaker=Speaker.CALLER, start_ms=3500, end_ms=5000),
            TurnTiming(speaker=Speaker.AGENT, start_ms=5400, end_ms=7000, first_audio_ms=400),
        ],
        latency=LatencySlices(turn_to_first_audio_ms=[400.0, 520.0]),
    )
    return base.model_copy(update=changes)


def test_a_clean_call_has_no_flags_and_is_contained() -> None:
    record = build_record(facts(), "Australia/Sydney")
    assert record.flags == []
    assert record.contained and record.answered and not record.pending_review


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"outcome": Outcome.ESCALATED}, Flag.ESCALATED),
        ({"outcome": Outcome.TRANSFER_UNANSWERED}, Flag.ESCALATED),
        ({"escalated": True}, Flag.ESCALATED),
        ({"refused_tools": ["book_appointment"]}, Flag.TOOL_REFUSED),
        ({"tools": [ToolUse(name="book_appointment", ok=False)]}, Flag.TOOL_FAILED),
        ({"consent": "refused"}, Flag.CONSENT_REFUSED),
        ({"outcome": Outcome.CALLER_HUNG_UP}, Flag.CALLER_HUNG_UP),
        ({"latency": LatencySlices(turn_to_first_audio_ms=[400.0, 701.0])}, Flag.SLOW_TURN),
        ({"outcome": Outcome.DROPPED}, Flag.DROPPED),
        ({"realtime_events": ["dropped", "reconnected"]}, Flag.DROPPED),
        ({"max_length": True}, Flag.MAX_LENGTH),
        ({"outcome": Outcome.TIMED_OUT}, Flag.MAX_LENGTH),
    ],
)
def test_each_reason_flags_the_call_alone(changes: dict[str, object], flag: Flag) -> None:
    assert compute_flags(facts(**changes)) == [flag]


def test_the_budget_line_itself_is_not_over_it() -> None:
    assert compute_flags(facts(latency=LatencySlices(turn_to_first_audio_ms=[700.0]))) == []


def test_a_rolled_over_session_is_routine_not_a_drop() -> None:
    assert compute_flags(facts(realtime_events=["rolled_over"])) == []


def test_a_long_silence_between_turns_is_flagged_and_measured() -> None:
    quiet = facts(
        turns=[
            TurnTiming(speaker=Speaker.AGENT, start_ms=0, end_ms=3000),
            TurnTiming(speaker=Speaker.CALLER, start_ms=3000 + LONG_SILENCE_MS, end_ms=12000),
            TurnTiming(speaker=Speaker.AGENT, start_ms=12500, end_ms=13000),
        ]
    )
    assert compute_flags(quiet) == [Flag.LONG_SILENCE]
    record = build_record(quiet, "UTC")
    assert record.long_silences == 1 and record.longest_silence_ms == LONG_SILENCE_MS


def test_overlapping_speech_is_not_silence() -> None:
    overlap = facts(
        turns=[
            TurnTiming(speaker=Speaker.AGENT, start_ms=0, end_ms=20000),
            TurnTiming(speaker=Speaker.CALLER, start_ms=5000, end_ms=6000, interrupted=False),
            TurnTiming(speaker=Speaker.CALLER, start_ms=21000, end_ms=22000),
        ]
    )
    assert compute_flags(overlap) == []


def test_several_reasons_come_in_flag_order() -> None:
    bad = facts(outcome=Outcome.CALLER_HUNG_UP, consent="refused", refused_tools=["book_appointment"])
    assert compute_flags(bad) == [Flag.TOOL_REFUSED, Flag.CONSENT_REFUSED, Flag.CALLER_HUNG_UP]


def test_the_record_counts_tools_turns_latency_and_dates_in_the_business_zone() -> None:
    record = build_record(
        facts(
            tools=[
                ToolUse(name="book_appointment", ok=False),
                ToolUse(name="book_appointment", ok=True),
                ToolUse(name="end_call", ok=True),
            ],
            refused_tools=["book_appointment"],
            latency=LatencySlices(turn_to_first_audio_ms=[300.0, 500.0, 900.0, 400.0]),
            realtime_events=["dropped", "reconnected"],
        ),
        "Australia/Sydney",
    )
    assert record.day == date(2026, 12, 7)  # Monday in Sydney, still Sunday in UTC
    assert record.tools["book_appointment"].model_dump() == {"calls": 2, "failures": 1, "refusals": 1}
    assert record.tool_failures == 1
    assert (record.caller_turns, record.agent_turns) == (1, 2)
    assert record.first_audio_p50_ms == 400.0 and record.first_audio_p95_ms == 900.0
    assert record.slow_turns == 1 and record.reconnects == 1 and record.drops == 1
    assert record.contained  # flagged for review, but finished by the agent: no human was needed
    assert record.flags == [Flag.TOOL_REFUSED, Flag.TOOL_FAILED, Flag.SLOW_TURN, Flag.DROPPED]


def test_contained_means_no_human_and_answered_excludes_the_unreached() -> None:
    assert not build_record(facts(outcome=Outcome.ESCALATED), "UTC").contained
    assert not build_record(facts(escalated=True), "UTC").contained
    assert build_record(facts(outcome=Outcome.CONSENT_REFUSED, consent="refused"), "UTC").contained
    busy = build_record(facts(outcome=Outcome.BUSY, turns=[], consent="unknown"), "UTC")
    assert not busy.answered and not busy.contained


def test_facts_of_an_outcome_keep_nothing_said() -> None:
    outcome = CallOutcome(
        call_id="call-9",
        outcome=Outcome.COMPLETED,
        consent=Consent(recording=False, said="no thanks, I'm Jane"),
        tool_results=[
            ToolResult(call_id="t1", name="book_appointment", ok=True, arguments={"name": "Jane Citizen"})
        ],
        transcript=[Turn(speaker=Speaker.CALLER, text="My number is 0412 345 678", start_ms=10)],
        cost=CallCost(total_usd=Decimal("0.123456")),
    )
    f = CallFacts.of(outcome, profile="clinic_booking", direction="inbound", started_at=START, ended_at=START)
    dumped = f.model_dump_json()
    for personal in ("Jane", "0412", "no thanks"):
        assert personal not in dumped
    assert f.consent == "refused" and f.cost_usd == Decimal("0.123456") and f.turns[0].start_ms == 10


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile(range(1, 101), 95) == 95
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
