"""The baseline: each case's expected verdict and how stable it is, and the comparison against it.

A repeated run (``switchboard evals run --repeat N``) gives each case a pass rate. The baseline
(``evals/baseline.json``, committed) keeps, per case: ``pass`` (passed every run), ``fail``
(failed every run: its failed checks and its cause) or ``flaky`` (its rate), and which engine
and models it was made with. Comparing a run against it reports, per case:

- **regression**: a stable pass that now fails every run, or any case failing, every run, a
  check that never failed in the baseline (a stable fail that now fails *more* is one too);
- **fix**: a stable fail that now passes every run;
- **new flake**: a stable case that now both passes and fails, or fails a new check in some runs
  only (noise: the gate and ``run --baseline`` run a failed case up to three more times, stopping at a
  pass, to tell the two apart);
- **still failing**: a stable fail failing the same checks, with its cause.

Causes: a failure that the case's ``known_issue`` explains (every failed check is one it names)
has that issue's cause (``engine-hearing`` / ``engine-policy``); every other failure is the
``product``'s. Remake the baseline with ``switchboard evals run --repeat 3 --write-baseline``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from evals.case import Case, Cause, check_key

BASELINE_FILE = Path(__file__).resolve().parent / "baseline.json"
Verdict = Literal["pass", "fail", "flaky"]


class CaseStats(BaseModel):
    """One case over the rounds of a run: passes, and how often each check failed."""

    case: str
    profile: str = ""
    runs: int = 0
    passes: int = 0
    failed_checks: dict[str, int] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list, description="The failed checks: expected vs got.")

    @property
    def rate(self) -> float:
        return self.passes / self.runs if self.runs else 0.0

    @property
    def verdict(self) -> Verdict:
        return "pass" if self.passes == self.runs else ("fail" if self.passes == 0 else "flaky")


def case_stats(results: Iterable[Mapping[str, Any]]) -> dict[str, CaseStats]:
    """Per case, from a scorecard's ``results`` (every round's, as ``scorecard.json`` has them)."""
    out: dict[str, CaseStats] = {}
    for r in results:
        st = out.setdefault(r["case"], CaseStats(case=r["case"], profile=r.get("profile", "")))
        st.runs += 1
        st.passes += bool(r["passed"])
        failed = [c for c in r.get("checks", []) if not c["passed"]]
        if r.get("error"):
            failed.append({"name": "error", "expected": "the case runs", "actual": r["error"]})
        elif not r.get("checks") and not r["passed"]:
            failed.append({"name": "error", "expected": "checks", "actual": "none were scored"})
        for c in failed:
            key = check_key(c["name"])
            st.failed_checks[key] = st.failed_checks.get(key, 0) + 1
            line = f"{key}: expected {c['expected']}, got {c['actual']}"[:300]
            if line not in st.evidence and len(st.evidence) < 6:
                st.evidence.append(line)
    return out


class BaselineCase(BaseModel):
    verdict: Verdict
    runs: int
    passes: int
    rate: float
    failed_checks: dict[str, int] = Field(default_factory=dict, description="check → runs it failed")
    cause: Cause | None = Field(default=None, description="Why it does not pass (fail and flaky cases).")
    known: bool = Field(default=False, description="The case's known_issue explains every failed check.")
    evidence: list[str] = Field(default_factory=list)


class Baseline(BaseModel):
    made_at: str
    engine: dict[str, Any] = Field(default_factory=dict)
    repeat: int = 1
    command: str = "switchboard evals run --repeat 2 --write-baseline"
    cases: dict[str, BaselineCase]

    @classmethod
    def load(cls, path: Path = BASELINE_FILE) -> Baseline:
        return cls.model_validate_json(path.read_text())

    def write(self, path: Path = BASELINE_FILE) -> Path:
        path.write_text(self.model_dump_json(indent=2) + "\n")
        return path

    def flaky(self) -> list[str]:
        return sorted(c for c, b in self.cases.items() if b.verdict == "flaky")


def cause_of(case: Case | None, stats: CaseStats) -> tuple[Cause | None, bool]:
    """The cause of a case's failures and whether its known issue explains them all."""
    if stats.verdict == "pass":
        return None, False
    issue = case.known_issue if case else None
    if issue is not None and issue.explains(list(stats.failed_checks)):
        return issue.cause, True
    return "product", False


def make_baseline(card: Mapping[str, Any], cases: Sequence[Case]) -> Baseline:
    """The baseline a (repeated) run's scorecard gives, causes from the bank's known issues."""
    by_id = {c.id: c for c in cases}
    entries = {}
    for cid, st in sorted(case_stats(card["results"]).items()):
        cause, known = cause_of(by_id.get(cid), st)
        entries[cid] = BaselineCase(
            verdict=st.verdict,
            runs=st.runs,
            passes=st.passes,
            rate=round(st.rate, 3),
            failed_checks=st.failed_checks,
            cause=cause,
            known=known,
            evidence=st.evidence if st.verdict != "pass" else [],
        )
    return Baseline(
        made_at=str(card.get("at", "")),
        engine=dict(card.get("engine") or {}),
        repeat=int(card.get("repeat", 1)),
        command=f"switchboard evals run --repeat {int(card.get('repeat', 1))} --write-baseline",
        cases=entries,
    )


class Finding(BaseModel):
    case: str
    kind: Literal["regression", "fix", "new_flake", "still_failing", "new_case", "pass"]
    detail: str = ""
    cause: Cause | None = None
    known: bool = False
    rate: float = 1.0
    baseline: Verdict | None = None


class Report(BaseModel):
    findings: list[Finding]
    engine_warning: str | None = None

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    @property
    def regressions(self) -> list[Finding]:
        return self.of("regression")

    def causes(self) -> dict[str, int]:
        """Failing cases by cause (known or not), for the scorecard."""
        counted = Counter(
            f.cause or "product"
            for f in self.findings
            if f.kind in ("still_failing", "regression", "new_flake")
        )
        return dict(sorted(counted.items()))

    def summary(self) -> str:
        parts = [
            f"{len(self.of(k))} {label}"
            for k, label in (
                ("regression", "regressions"),
                ("fix", "fixes"),
                ("new_flake", "new flakes"),
                ("still_failing", "still failing"),
                ("new_case", "new cases"),
                ("pass", "passing"),
            )
        ]
        return ", ".join(parts)


_ENGINE_KEYS = ("engine", "realtime_model", "stt_model", "stt_window", "engine_version")


def engine_difference(base: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """What differs between two runs' engines (of what the baseline recorded), or None."""
    keys = [k for k in _ENGINE_KEYS if k in base]
    diff = [f"{k}: {base.get(k)} → {now.get(k)}" for k in keys if base.get(k) != now.get(k)]
    return "engine differs from the baseline's (" + "; ".join(diff) + ")" if diff else None


def compare(
    baseline: Baseline,
    stats: Mapping[str, CaseStats],
    cases: Sequence[Case] = (),
    engine: Mapping[str, Any] | None = None,
) -> Report:
    """The run's per-case stats against the baseline (only the cases the run has)."""
    by_id = {c.id: c for c in cases}
    findings = []
    for cid, st in sorted(stats.items()):
        base = baseline.cases.get(cid)
        cause, known = cause_of(by_id.get(cid), st)
        common = {"case": cid, "cause": cause, "known": known, "rate": round(st.rate, 3)}
        if base is None:
            findings.append(Finding(kind="new_case", detail=f"not in the baseline; {st.verdict}", **common))
            continue
        new_checks = sorted(set(st.failed_checks) - set(base.failed_checks))
        # Reproduced: failed in every run of this one (the gate runs a failed case again to know).
        every_run = [c for c in new_checks if st.failed_checks[c] == st.runs]
        evidence = "; ".join(e for e in st.evidence if e.split(":", 1)[0] in new_checks) or "; ".join(
            st.evidence
        )
        if (base.verdict == "pass" and st.passes == 0) or every_run:
            what = f"new failed checks: {', '.join(every_run)}" if every_run else "failed"
            findings.append(
                Finding(
                    kind="regression",
                    baseline=base.verdict,
                    detail=f"{what} ({st.passes}/{st.runs} passed). {evidence}",
                    **common,
                )
            )
        elif base.verdict == "fail" and st.verdict == "pass":
            findings.append(
                Finding(kind="fix", baseline=base.verdict, detail=f"passed {st.runs}/{st.runs}", **common)
            )
        elif (st.verdict == "flaky" and base.verdict != "flaky") or new_checks:
            findings.append(
                Finding(
                    kind="new_flake",
                    baseline=base.verdict,
                    detail=f"{st.passes}/{st.runs} passed; failed: {', '.join(st.failed_checks)}"
                    + (f" (not every run: {', '.join(new_checks)})" if new_checks else ""),
                    **common,
                )
            )
        elif st.verdict != "pass":
            findings.append(
                Finding(
                    kind="still_failing",
                    baseline=base.verdict,
                    detail=f"{st.passes}/{st.runs} passed (baseline {base.verdict}, {base.rate:.0%}); "
                    f"failed: {', '.join(st.failed_checks)}",
                    **common,
                )
            )
        else:
            findings.append(Finding(kind="pass", baseline=base.verdict, **common))
    warning = engine_difference(baseline.engine, engine) if engine is not None else None
    return Report(findings=findings, engine_warning=warning)


def compare_card(baseline: Baseline, card: Mapping[str, Any], cases: Sequence[Case] = ()) -> Report:
    """A scorecard (``scorecard.json``) against the baseline."""
    return compare(baseline, case_stats(card["results"]), cases, card.get("engine"))


def load_card(path: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads(path.read_text())
    return card


__all__ = [
    "BASELINE_FILE",
    "Baseline",
    "BaselineCase",
    "CaseStats",
    "Finding",
    "Report",
    "case_stats",
    "compare",
    "compare_card",
    "make_baseline",
]
