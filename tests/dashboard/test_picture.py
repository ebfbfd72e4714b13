"""The call's picture without a browser: everything lands on the recording's clock, and the
workflow's wall-clock events are placed against the stream's start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.picture import Marker, build, stream_zero_ms
from switchboard.audit import Entry
from switchboard.models import CallOutcome, Outcome, Speaker, ToolResult, Turn
from switchboard.privacy import mask_phone

T0 = datetime(2030, 1, 7, 0, 0, 0)  # naive UTC, as the audit gives it


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def outcome() -> CallOutcome:
    return CallOutcome(
        call_id="call-1",
        outcome=Outcome.ESCALATED,
        transcript=[
            Turn(speaker=Speaker.AGENT, text="Hi, I'm an AI assistant.", start_ms=500, end_ms=3000),
            Turn(speaker=Speaker.CALLER, text="Call me on 0412 345 678", start_ms=4000, end_ms=6000),
            Turn(
                speaker=Speaker.AGENT,
                text="Let me—",
                start_ms=6800,
                end_ms=7400,
                interrupted=True,
                first_audio_ms=800,
            ),
            Turn(speaker=Speaker.CALLER, text="A person please", start_ms=7300, end_ms=9000),
        ],
        tool_results=[
            ToolResult(
                call_id="a", name="get_job_status", ok=False, arguments={"job_id": "1"}, error="no such job"
            ),
            ToolResult(call_id="b", name="escalate", ok=True, output={"action": "transfer"}),
        ],
    )


def timeline() -> list[Entry]:
    return [
        Entry(at(0), "call", "CallWorkflow started"),
        Entry(at(2.0), "signal", "stream_attached"),  # the stream's clock starts here
        Entry(at(2.3), "disclosure", "conversation started"),
        Entry(at(6.0), "consent", "consent granted", {"said": "sure, 0412 345 678"}),
        Entry(at(8.5), "tool", "tool get_job_status → error"),
        Entry(at(11.5), "escalation", "escalate requested", {"arguments": {"reason": "asked"}}),
        Entry(at(12.0), "realtime", "agent's Realtime session dropped", {"kind": "dropped", "at_ms": 9500}),
        Entry(at(13.0), "escalation", "transfer completed", {"input": {"note": "wants a person"}}),
    ]


def test_everything_is_placed_on_the_stream_clock() -> None:
    assert stream_zero_ms(timeline()) == at(2.0).replace(tzinfo=UTC).timestamp() * 1000
    pic = build(outcome(), timeline(), ([0.5] * 10, [0.2] * 10), 12.0, mask_phone)
    assert pic.duration_s == 12.0  # the recording's length (events after it are clamped)
    assert [t.start_s for t in pic.turns] == [0.5, 4.0, 6.8, 7.3]
    by_kind: dict[str, list[Marker]] = {m.kind: [] for m in pic.markers}
    for m in pic.markers:
        by_kind[m.kind].append(m)
    assert [m.at_s for m in by_kind["consent"]] == [4.0]
    assert [(m.at_s, m.state) for m in by_kind["tool"]] == [(6.5, "failed"), (9.5, "escalate")]
    assert [m.at_s for m in by_kind["barge-in"]] == [7.4]
    assert [m.at_s for m in by_kind["realtime"]] == [9.5]  # its own stream time, not the signal's
    assert [m.at_s for m in by_kind["escalation"]] == [11.0] and by_kind["escalation"][
        0
    ].detail == "wants a person"
    assert [m.at_s for m in by_kind["disclosure"]] == [0.5]
    assert [m.at_s for m in pic.markers] == sorted(m.at_s for m in pic.markers)
    # Positions: 0 s at the lanes' left edge, the recording's end at their right edge.
    assert pic.turns[0].x == round(pic.left + pic.span * 0.5 / 12, 2)
    slow = pic.turns[2]
    assert slow.grade == "amber" and slow.latency_w > 0 and slow.latency_x < slow.x
    assert pic.caller_wave.startswith("M") and pic.agent_wave.endswith("Z")


def test_what_people_said_is_masked_unless_revealed() -> None:
    masked = build(outcome(), timeline(), None, None, mask_phone)
    texts = " ".join([t.text for t in masked.turns] + [m.detail for m in masked.markers])
    assert "345 678" not in texts and "0412" in texts
    assert "get_job_status(job id: 1) failed: no such job" in texts
    shown = build(outcome(), timeline(), None, None, lambda s: s)
    assert "0412 345 678" in " ".join(t.text for t in shown.turns)
    assert (
        shown.duration_s == 12.0 - 2.0
    )  # no recording: to the last event of the conversation (not the transfer activity after it)
