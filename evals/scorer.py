"""Scoring: every expectation of a case against what really happened (pure, no I/O).

``score(expect, outcome, phone)`` takes the call's ``CallOutcome`` (from its workflow) and the
phone network's record of the call (``SimClient.call``), and returns one ``Check`` per
expectation: what was expected, what happened, pass or fail.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from pydantic import BaseModel

from evals.case import SLICES, Expectations, ToolExpectation
from switchboard.models import CallOutcome, Speaker, ToolResult


class Check(BaseModel):
    name: str
    passed: bool
    expected: str
    actual: str


def _show(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _same(want: Any, got: Any) -> bool:
    """Subset equality; strings compare case-insensitively, and ``"~text"`` means "contains text"."""
    if isinstance(want, str) and isinstance(got, str):
        if want.startswith("~"):
            return want[1:].strip().lower() in got.lower()
        return want.strip().lower() == got.strip().lower()
    if isinstance(want, dict) and isinstance(got, dict):
        return all(k in got and _same(v, got[k]) for k, v in want.items())
    if isinstance(want, bool) or isinstance(got, bool):
        return want is got
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        return float(want) == float(got)
    return bool(want == got)


def _tool_matches(want: ToolExpectation, got: ToolResult) -> bool:
    return (
        got.name == want.name
        and got.ok == want.ok
        and _same(want.arguments, got.arguments)
        and _same(want.output, got.output)
    )


def _tool_check(want: ToolExpectation, results: list[ToolResult]) -> Check:
    label = f"tool {want.name}" + (f" {_show(want.arguments, 80)}" if want.arguments else "")
    hit = next((r for r in results if _tool_matches(want, r)), None)
    same_name = [r for r in results if r.name == want.name]
    if hit is not None:
        actual = _show(hit.arguments)
    elif same_name:
        actual = "; ".join(
            f"{'ok' if r.ok else 'error'} {_show(r.arguments, 90)}" + (f" ({r.error})" if r.error else "")
            for r in same_name
        )
    else:
        actual = "not called (called: " + (", ".join(r.name for r in results) or "none") + ")"
    expected = ("ok " if want.ok else "error ") + _show(want.arguments)
    return Check(name=label, passed=hit is not None, expected=expected, actual=_show(actual, 240))


def _agent_text(outcome: CallOutcome) -> list[str]:
    return [t.text for t in outcome.transcript if t.speaker == Speaker.AGENT]


def _flag(name: str, expected: bool, got: bool | None) -> Check:
    """A yes/no expectation: passed when ``got`` is exactly ``expected``."""
    return Check(name=name, passed=got is expected, expected=str(expected), actual=str(got))


def _in_order(wanted: list[str], got: list[str]) -> bool:
    """``wanted`` appears in ``got`` in order (other events may come between)."""
    rest = iter(got)
    return all(any(g == w for g in rest) for w in wanted)


def score(expect: Expectations, outcome: CallOutcome, phone: dict[str, Any] | None = None) -> list[Check]:
    """One check per expectation, in a stable order."""
    checks: list[Check] = []
    add = checks.append
    if expect.outcome is not None:
        got = outcome.outcome.value
        add(Check(name="outcome", passed=got == expect.outcome, expected=expect.outcome, actual=got))
    if expect.consent is not None:
        consent = outcome.consent
        check = _flag("consent", expect.consent, None if consent is None else consent.recording)
        if consent is not None and consent.over_disclosure:
            check.actual += " (answered over the disclosure)"
        add(check)
    if expect.consent is not None:
        early = [r.name for r in outcome.tool_results if r.before_consent]  # ran at all, ok or not
        add(
            Check(
                name="no tool before consent",
                passed=not early,
                expected="every business tool after the consent answer",
                actual=f"ran before consent: {', '.join(early)}" if early else "none before consent",
            )
        )
    if expect.escalated is not None:
        escalated = any(r.name == "escalate" and r.ok for r in outcome.tool_results)
        add(_flag("escalated", expect.escalated, escalated))
    if expect.recording is not None:
        add(_flag("recording archived", expect.recording, outcome.recording_key is not None))
    if expect.disclosure:
        agent = _agent_text(outcome)
        first = agent[0] if agent else ""
        missing = [p for p in expect.disclosure if p.lower() not in first.lower()]
        add(
            Check(
                name="disclosure first",
                passed=not missing,
                expected=_show(expect.disclosure),
                actual=_show(first or "(the agent said nothing)"),
            )
        )
        turns = [t for t in outcome.transcript if t.speaker == Speaker.AGENT]
        cut = bool(turns) and turns[0].interrupted
        add(
            Check(
                name="disclosure whole",
                passed=bool(turns) and not cut,
                expected="played to the end (not interruptible)",
                actual="cut by the caller" if cut else ("played whole" if turns else "not said"),
            )
        )
    for want in expect.tools:
        add(_tool_check(want, outcome.tool_results))
    for name in expect.no_tools:
        used = [r for r in outcome.tool_results if r.name == name and r.ok]
        add(
            Check(
                name=f"no {name}",
                passed=not used,
                expected="not called",
                actual=_show([r.arguments for r in used]) if used else "not called",
            )
        )
    if expect.realtime:
        add(
            Check(
                name="realtime sessions",
                passed=_in_order(expect.realtime, outcome.realtime_events),
                expected=" → ".join(expect.realtime),
                actual=" → ".join(outcome.realtime_events) or "(no session change)",
            )
        )
    fields = outcome.summary.fields if outcome.summary else {}
    if expect.summary_present is not None:
        add(_flag("summary", expect.summary_present, outcome.summary is not None))
    for key, value in expect.summary.items():
        got_value = fields.get(key)
        add(
            Check(
                name=f"summary.{key}",
                passed=key in fields and _same(value, got_value),
                expected=_show(value),
                actual=_show(got_value),
            )
        )
    agent_all = " ".join(_agent_text(outcome)).lower()
    for phrase in expect.agent_said:
        add(
            Check(
                name=f"agent said {_show(phrase, 40)}",
                passed=phrase.lower() in agent_all,
                expected=phrase,
                actual="said" if phrase.lower() in agent_all else "not said",
            )
        )
    if expect.barge_in is not None:
        # The phone's measure: the caller's speech onset while agent audio played → the last agent
        # frame heard. Honoured = the agent stopped within the barge-in ceiling.
        barge_ins = (phone or {}).get("barge_ins") or []
        stops = [float(b["latency_ms"]) for b in barge_ins if b.get("latency_ms") is not None]
        limit = expect.ceilings()["barge_in_to_clear_ms"]
        honoured = bool(stops) and max(stops) <= limit
        add(
            Check(
                name="barge-in honoured",
                passed=honoured is expect.barge_in,
                expected=f"{expect.barge_in} (agent audio stops ≤ {limit:.0f} ms after the caller starts)",
                actual=f"phone barge-ins {_show(barge_ins)}; interrupted turns "
                f"{sum(t.interrupted for t in outcome.transcript)}",
            )
        )
    if expect.max_duration_s is not None:
        add(
            Check(
                name="duration",
                passed=outcome.duration_s <= expect.max_duration_s,
                expected=f"≤ {expect.max_duration_s:.0f} s",
                actual=f"{outcome.duration_s:.1f} s",
            )
        )
    for slice_name, ceiling in expect.ceilings().items():
        values: list[float] = getattr(outcome.latency, slice_name)
        if slice_name in SLICES and values:
            worst = max(values)
            add(
                Check(
                    name=f"latency {slice_name}",
                    passed=worst <= ceiling,
                    expected=f"max ≤ {ceiling:.0f} ms",
                    actual=f"max {worst:.0f} ms (n={len(values)})",
                )
            )
    for slice_name, ceiling in expect.median_ceilings().items():
        values = getattr(outcome.latency, slice_name)
        if values:
            mid = float(statistics.median(values))
            add(
                Check(
                    name=f"latency {slice_name} p50",
                    passed=mid <= ceiling,
                    expected=f"median ≤ {ceiling:.0f} ms",
                    actual=f"median {mid:.0f} ms (n={len(values)})",
                )
            )
    return checks
