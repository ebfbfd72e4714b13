"""The scorer, the case format and the histogram, without a stack (fast)."""

from __future__ import annotations

import zlib
from datetime import date
from pathlib import Path

import numpy as np

from evals.case import BANK_DIR, MODES, Expectations, load_bank
from evals.histogram import histogram_png, png_bytes
from evals.scorer import score
from switchboard.models import CallOutcome, CallSummary, Consent, LatencySlices, Outcome, ToolResult, Turn

ISSUE_MODES = {
    "clean",
    "noise_cafe",
    "noise_car",
    "noise_office",
    "fast_talker",
    "slow_talker",
    "voice",
    "digits_dates",
    "digit_correction",
    "barge_in",
    "ask_human",
    "consent_refused",
    "off_scope",
    "long_call",
    "silence",
    "hangup_mid_call",
    "voicemail",
}


def outcome(**over: object) -> CallOutcome:
    base = CallOutcome(
        call_id="call-x",
        outcome=Outcome.COMPLETED,
        consent=Consent(recording=True),
        tool_results=[
            ToolResult(
                call_id="c1",
                name="get_job_status",
                ok=True,
                arguments={"job_id": "4172"},
                output={"status": "in progress"},
            )
        ],
        transcript=[Turn(speaker="agent", text="I'm the AI assistant. May I record this call?", start_ms=0)],
        summary=CallSummary(
            call_id="call-x", profile="job_status", outcome=Outcome.COMPLETED, fields={"job_id": "4172"}
        ),
        recording_key="recordings/x.wav",
        latency=LatencySlices(turn_to_first_audio_ms=[900.0, 1500.0]),
    )
    return base.model_copy(update=over)


def test_every_expectation_passes_on_a_matching_call() -> None:
    expect = Expectations.model_validate(
        {
            "outcome": "completed",
            "consent": True,
            "escalated": False,
            "recording": True,
            "disclosure": ["ai assistant", "record"],
            "tools": [{"name": "get_job_status", "arguments": {"job_id": "4172"}}],
            "summary": {"job_id": "4172"},
            "no_tools": ["add_job_note"],
        }
    )
    checks = score(expect, outcome())
    assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]


def test_a_missing_tool_a_changed_disclosure_and_a_slow_turn_fail() -> None:
    expect = Expectations.model_validate(
        {
            "disclosure": ["AI assistant", "record"],
            "tools": [{"name": "get_job_status", "arguments": {"job_id": "4172"}}],
            "latency_ms": {"turn_to_first_audio_ms": 1000},
        }
    )
    broken = outcome(
        tool_results=[],
        transcript=[Turn(speaker="agent", text="Ops line. How can I help?", start_ms=0)],
    )
    failed = {c.name for c in score(expect, broken) if not c.passed}
    assert failed == {
        "disclosure first",
        'tool get_job_status {"job_id": "4172"}',
        "latency turn_to_first_audio_ms",
    }


def test_arguments_are_a_subset_match_and_tilde_means_contains() -> None:
    got = outcome(
        tool_results=[
            ToolResult(
                call_id="c",
                name="add_job_note",
                ok=True,
                arguments={"job_id": "4173", "note": "Customer not home.", "confirmed": True},
            )
        ]
    )
    ok = Expectations.model_validate(
        {"tools": [{"name": "add_job_note", "arguments": {"note": "~not home", "confirmed": True}}]}
    )
    wrong = Expectations.model_validate(
        {"tools": [{"name": "add_job_note", "arguments": {"job_id": "4172"}}]}
    )
    assert all(c.passed for c in score(ok, got) if c.name.startswith("tool"))
    assert not any(c.passed for c in score(wrong, got) if c.name.startswith("tool"))


def test_the_bank_loads_and_covers_every_failure_mode() -> None:
    cases = load_bank()
    assert len(cases) >= 30
    covered = {m for c in cases for m in c.modes}
    assert ISSUE_MODES <= covered <= set(MODES)
    assert {c.profile for c in cases} == {
        "clinic_booking",
        "law_intake",
        "support_triage",
        "job_status",
        "lead_qualification",
    }
    for case in cases:
        script = case.script(date(2026, 11, 28))
        for step in script["steps"]:
            if isinstance(step, dict) and "play" in step:
                assert (BANK_DIR / step["play"]).exists(), (case.id, step)


def test_placeholders_name_a_day_the_clinic_opens() -> None:
    case = next(c for c in load_bank() if c.id == "clinic-clean-booking")
    for offset in range(7):
        today = date(2026, 11, 23 + offset)
        day = case.target_day(today)
        assert day.weekday() != 6 and (day - today).days >= 2
        assert case.expected(today).tools[1].arguments["date"] == day.isoformat()


def test_histogram_is_a_valid_png(tmp_path: Path) -> None:
    path = histogram_png({"a": [1.0, 2.0, 2.5, 9.0], "b": []}, tmp_path / "h.png", ceilings={"a": 5.0})
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == 300 * (1 + 640 * 3)  # two 150-row panels, a filter byte per row
    assert png_bytes(np.zeros((2, 3, 3), np.uint8))[12:16] == b"IHDR"


def test_the_disclosure_must_play_whole_and_no_tool_may_run_before_consent() -> None:
    expect = Expectations(consent=True, disclosure=["AI assistant"])
    good = {c.name: c.passed for c in score(expect, outcome())}
    assert good["disclosure whole"] and good["no tool before consent"]
    cut = Turn(speaker="agent", text="I'm the AI assistant. May I", start_ms=0, interrupted=True)
    early = ToolResult(call_id="c0", name="get_job_status", ok=True, before_consent=True)
    bad = {c.name: c for c in score(expect, outcome(transcript=[cut], tool_results=[early]))}
    assert not bad["disclosure whole"].passed and bad["disclosure whole"].actual == "cut by the caller"
    assert not bad["no tool before consent"].passed
    assert "get_job_status" in bad["no tool before consent"].actual
