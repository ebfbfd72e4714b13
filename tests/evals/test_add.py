"""``evals add``'s pure parts: cutting the caller channel at pauses, drafting expectations."""

from __future__ import annotations

import numpy as np

from evals.add import RATE, draft_expectations, utterances
from switchboard.models import CallOutcome, CallSummary, Consent, Outcome, ToolResult


def tone(ms: int) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return (8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, np.int16)


def test_utterances_split_at_pauses_and_drop_clicks() -> None:
    caller = np.concatenate(
        [silence(500), tone(1200), silence(300), tone(400), silence(1500), tone(60), silence(900), tone(800)]
    )
    spans = utterances(caller)
    assert len(spans) == 2  # a 300 ms gap joins, a 60 ms click is dropped
    first_ms = (spans[0][1] - spans[0][0]) * 1000 // RATE
    assert 1900 - 100 <= first_ms <= 1900 + 200
    assert all(0 <= a < b <= caller.size for a, b in spans)


def test_draft_expectations_come_from_what_the_call_did() -> None:
    outcome = CallOutcome(
        call_id="call-x",
        outcome=Outcome.COMPLETED,
        consent=Consent(recording=True),
        tool_results=[
            ToolResult(call_id="1", name="get_job_status", ok=True, arguments={"job_id": "4172"}),
            ToolResult(call_id="2", name="add_job_note", ok=False, arguments={"job_id": "4172"}),
            ToolResult(call_id="3", name="end_call", ok=True),
        ],
        summary=CallSummary(
            call_id="call-x",
            profile="job_status",
            outcome=Outcome.COMPLETED,
            fields={"job_id": "4172", "status": "in progress", "note": None, "transcript_excerpt": ["…"]},
        ),
    )
    assert draft_expectations(outcome) == {
        "outcome": "completed",
        "consent": True,
        "escalated": False,
        "tools": [{"name": "get_job_status", "arguments": {"job_id": "4172"}}],
        "summary": {"job_id": "4172", "status": "in progress"},
    }
