"""A bank case: who calls (or is called), the caller's script, and what must come of the call.

One YAML file per case under ``evals/bank/``. The caller script is exactly the phone network's
format (``infra/phone/script.py``); ``play`` paths are relative to the bank folder. Dates are
written as placeholders so a case means the same thing on any day: ``{day}`` is the weekday
name of the case's target day (the first Monday–Saturday at least two days ahead, plus
``day_offset`` days) and ``{day_iso}`` its ISO date::

    id: clinic-clean-booking
    modes: [clean, digits_dates]
    number: "+61255550101"
    caller: {steps: [...], after_steps: hangup}
    expect:
      outcome: completed
      consent: true
      tools: [{name: book_appointment, arguments: {date: "{day_iso}", time: "10:00"}}]
      summary: {booked: true}
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from infra.phone.script import parse_script

BANK_DIR = Path(__file__).resolve().parent / "bank"
NUMBERS_FILE = Path(__file__).resolve().parents[1] / "switchboard" / "numbers.json"
SLICES = (
    "turn_to_first_audio_ms",
    "barge_in_to_clear_ms",
    "tool_round_trip_ms",
    "end_intent_to_hangup_ms",
    "realtime_gap_ms",  # a lost Realtime session → the agent's first audio on the next
)
# Generous for the local engine (Whisper + Piper on 2 shared cores), far above the seed's budget.
# Ceilings apply to the worst value of a slice in a call; the median ceilings to its median.
DEFAULT_CEILINGS_MS: dict[str, float] = {
    "turn_to_first_audio_ms": 20000,
    "barge_in_to_clear_ms": 2000,
    "tool_round_trip_ms": 3000,
    "end_intent_to_hangup_ms": 12000,
    "realtime_gap_ms": 6000,
}
DEFAULT_MEDIAN_CEILINGS_MS: dict[str, float] = {"turn_to_first_audio_ms": 8000}
MODES = (
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
    "recorded_call",
    "realtime_fault",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


CAUSES = ("engine-hearing", "engine-policy", "product")
Cause = Literal["engine-hearing", "engine-policy", "product"]


class KnownIssue(_Strict):
    """Why a case fails for a reason outside the product, and the evidence for it.

    ``engine-hearing``: the engine's speech-to-text heard something else (``heard`` says what);
    ``engine-policy``: it heard right but chose wrong (the local engine's keyword policy, not a
    model). A ``product`` cause is refused: a failure the product causes is a failing case, which
    the baseline records as a stable fail with cause ``product`` and the gate reports as such.
    A failure is counted as this known issue only when every failed check is among ``checks``.
    """

    cause: Cause
    checks: list[str] = Field(min_length=1, description="The checks it fails (names as the scorer has them).")
    heard: str | None = Field(default=None, description="What the engine transcribed, for hearing causes.")
    evidence: str = Field(min_length=10, description="What was seen in a run: the transcript, the tool call.")

    @model_validator(mode="after")
    def _not_the_product(self) -> KnownIssue:
        if self.cause == "product":
            raise ValueError(
                "a product-caused failure cannot be a known issue: fix it, or leave the case failing "
                "(the baseline records it as a stable fail with cause product)"
            )
        if self.cause == "engine-hearing" and not self.heard:
            raise ValueError("an engine-hearing issue says what was heard (heard: ...)")
        return self

    def explains(self, failed_checks: list[str]) -> bool:
        """Every failed check (by name, as ``check_key`` has it) is one this issue names."""
        named = {check_key(c) for c in self.checks}
        return bool(failed_checks) and all(check_key(c) in named for c in failed_checks)


def check_key(name: str) -> str:
    """A check's name without its arguments (they hold the day's date): stable across runs."""
    return name.split(" {", 1)[0].strip()


class ToolExpectation(_Strict):
    """A tool the agent must have called; ``arguments`` is a subset match (strings case-insensitive)."""

    name: str
    ok: bool = True
    arguments: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)


class Expectations(_Strict):
    outcome: str | None = None
    consent: bool | None = None
    escalated: bool | None = None
    recording: bool | None = Field(default=None, description="A recording was archived to S3.")
    disclosure: list[str] = Field(
        default_factory=list,
        description="Phrases the agent's first turn must contain (AI + consent); it must also play whole.",
    )
    tools: list[ToolExpectation] = Field(default_factory=list)
    no_tools: list[str] = Field(default_factory=list, description="Tools that must not succeed.")
    summary: dict[str, Any] = Field(default_factory=dict, description="Subset of the summary fields.")
    summary_present: bool | None = None
    agent_said: list[str] = Field(default_factory=list, description="Phrases some agent turn contains.")
    realtime: list[str] = Field(
        default_factory=list,
        description="Realtime session changes that must happen, in this order (dropped, reconnected, …).",
    )
    barge_in: bool | None = Field(default=None, description="The phone heard the agent stop for the caller.")
    max_duration_s: float | None = None
    latency_ms: dict[str, float] = Field(default_factory=dict, description="Per-slice ceilings (max).")
    latency_p50_ms: dict[str, float] = Field(default_factory=dict, description="Per-slice median ceilings.")

    @model_validator(mode="after")
    def _known_slices(self) -> Expectations:
        unknown = (set(self.latency_ms) | set(self.latency_p50_ms)) - set(SLICES)
        if unknown:
            raise ValueError(f"unknown latency slices: {sorted(unknown)}")
        return self

    def ceilings(self) -> dict[str, float]:
        return DEFAULT_CEILINGS_MS | self.latency_ms

    def median_ceilings(self) -> dict[str, float]:
        return DEFAULT_MEDIAN_CEILINGS_MS | self.latency_p50_ms


class Outbound(_Strict):
    """An outbound callback: the web form is posted and the lead's phone behaves as ``answer``."""

    answer: Literal["human", "busy", "no_answer", "voicemail"] = "human"
    rings: int = 1
    reason: str = "Quote for rooftop solar"


class RealtimeFault(_Strict):
    """A fault the local engine applies to the call's next sessions (``infra.realtime_engine.arm``)."""

    fault: str | None = Field(default=None, description="e.g. drop_at_ms:15000, close_after:40")
    refuse: bool = False
    max_session_s: int | None = None
    connections: int = Field(default=1, ge=1)


class Case(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    description: str = ""
    modes: list[str] = Field(min_length=1)
    number: str | None = Field(default=None, description="The dialled number (inbound).")
    outbound: Outbound | None = None
    caller_number: str = "+61491570110"  # an ACMA drama number: never a real person
    day_offset: int = 0
    quick: bool = Field(default=False, description="Part of the fast subset `make test` runs.")
    known_issue: KnownIssue | None = Field(default=None, description="An engine fault this case exposes.")
    renders: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="WAVs rendered with espeak-ng: path → {voice, text, speed}."
    )
    timeout_s: float = 240.0
    realtime_faults: list[RealtimeFault] = Field(
        default_factory=list,
        description="Armed on the local engine just before the call; such cases run one at a time.",
    )
    caller: dict[str, Any]
    expect: Expectations
    path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _one_direction(self) -> Case:
        if (self.number is None) == (self.outbound is None):
            raise ValueError("a case has either a dialled number (inbound) or an outbound lead")
        unknown = set(self.modes) - set(MODES)
        if unknown:
            raise ValueError(f"unknown failure modes {sorted(unknown)}; known: {', '.join(MODES)}")
        return self

    @property
    def profile(self) -> str:
        if self.outbound is not None:
            return "lead_qualification"
        numbers = json.loads(NUMBERS_FILE.read_text())["numbers"]
        return str(numbers[self.number]["profile"]) if self.number in numbers else "unknown"

    def target_day(self, today: date | None = None) -> date:
        d = (today or date.today()) + timedelta(days=2)
        while d.weekday() == 6:  # the clinic (and its calendar) opens Monday to Saturday
            d += timedelta(days=1)
        d += timedelta(days=self.day_offset)
        while d.weekday() == 6:
            d += timedelta(days=1)
        return d

    def placeholders(self, today: date | None = None) -> dict[str, str]:
        d = self.target_day(today)
        return {"day": d.strftime("%A"), "day_iso": d.isoformat()}

    def script(self, today: date | None = None) -> dict[str, Any]:
        """The caller script as the phone network takes it (placeholders filled, paths absolute)."""
        data = _fill(self.caller, self.placeholders(today))
        data.setdefault("name", self.id)
        data["base_dir"] = str(BANK_DIR)
        parse_script(data)  # fail here, not on the phone network
        return dict(data)

    def expected(self, today: date | None = None) -> Expectations:
        return Expectations.model_validate(
            _fill(self.expect.model_dump(exclude_defaults=True), self.placeholders(today))
        )


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for key, repl in values.items():
            value = value.replace("{" + key + "}", repl)
        return value
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def load_case(path: Path) -> Case:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: a case is a mapping")
    data.setdefault("id", path.stem)
    case = Case.model_validate(data)
    case.path = path
    return case


def load_bank(
    bank: Path = BANK_DIR,
    *,
    profile: str | None = None,
    case_ids: list[str] | None = None,
    quick: bool = False,
) -> list[Case]:
    """The bank's cases, sorted by id, filtered by profile, ids (``--case``, repeatable) or ``quick``."""
    cases = [load_case(p) for p in sorted(bank.glob("*.yaml"))]
    if profile:
        cases = [c for c in cases if c.profile == profile]
    if case_ids:
        missing = set(case_ids) - {c.id for c in cases}
        if missing:
            raise LookupError(f"no such case(s): {', '.join(sorted(missing))}")
        cases = [c for c in cases if c.id in case_ids]
    if quick:
        cases = [c for c in cases if c.quick]
    return cases
