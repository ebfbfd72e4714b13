"""The baseline, the comparison, known issues and the gate's selection, without a stack (fast)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from evals.baseline import BASELINE_FILE, Baseline, case_stats, compare, make_baseline
from evals.case import KnownIssue, load_bank
from evals.comparison import attach, comparison_markdown
from evals.gate import SMOKE, changed_files, contract, default_base, sample, select
from evals.scorecard import html_page


def result(case: str, passed: bool, failed: tuple[str, ...] = (), attempt: int = 1) -> dict[str, Any]:
    checks = [{"name": n, "passed": False, "expected": "x", "actual": "y"} for n in failed]
    checks.append({"name": "outcome", "passed": True, "expected": "completed", "actual": "completed"})
    return {
        "case": case,
        "profile": "job_status",
        "passed": passed,
        "checks": checks,
        "error": None,
        "attempt": attempt,
        "transcript": [],
        "modes": ["clean"],
        "checks_passed": 1,
        "checks_total": len(checks),
        "outcome": "completed",
        "known_issue": None,
    }


def card(*results: dict[str, Any]) -> dict[str, Any]:
    return {"at": "now", "engine": {"engine": "switchboard-local"}, "repeat": 2, "results": list(results)}


BASE = make_baseline(
    card(
        result("a", True),
        result("a", True, attempt=2),
        result("b", False, ("consent",)),
        result("b", False, ("consent",), attempt=2),
        result("c", True),
        result("c", False, ('tool get_job_status {"job_id": "4172"}',), attempt=2),
    ),
    [],
)


def test_a_repeated_run_gives_each_case_its_verdict_rate_and_cause() -> None:
    assert BASE.cases["a"].verdict == "pass" and BASE.cases["a"].rate == 1.0
    assert BASE.cases["b"].verdict == "fail" and BASE.cases["b"].cause == "product"
    assert BASE.cases["b"].failed_checks == {"consent": 2}
    assert BASE.cases["c"].verdict == "flaky" and BASE.cases["c"].rate == 0.5
    # A check's arguments (the day's date) are not part of its name in the baseline.
    assert BASE.cases["c"].failed_checks == {"tool get_job_status": 1}
    assert BASE.flaky() == ["c"]


def test_compare_names_regressions_fixes_new_flakes() -> None:
    now = case_stats(
        [
            result("a", False, ("disclosure first",)),  # a stable pass that fails: regression
            result("b", True),  # a stable fail that passes: fix
            result("c", True),
        ]
    )
    report = compare(BASE, now)
    kinds = {f.case: f.kind for f in report.findings}
    assert kinds == {"a": "regression", "b": "fix", "c": "pass"}
    assert "disclosure first" in report.regressions[0].detail


def test_a_failure_that_does_not_reproduce_is_noise_not_a_regression() -> None:
    now = case_stats([result("a", False, ("consent",)), result("a", True, attempt=2)])
    report = compare(BASE, now)
    assert not report.regressions
    assert report.findings[0].kind == "new_flake"


def test_a_stable_fail_that_fails_a_new_check_every_run_is_a_regression() -> None:
    same = compare(BASE, case_stats([result("b", False, ("consent",))]))
    assert [f.kind for f in same.findings] == ["still_failing"]
    more = compare(BASE, case_stats([result("b", False, ("consent", "disclosure whole"))]))
    assert [f.kind for f in more.findings] == ["regression"]
    assert "disclosure whole" in more.findings[0].detail


def test_the_scorecard_shows_the_comparison_first() -> None:
    report = compare(
        BASE, case_stats([result("a", False, ("disclosure first",)), result("b", False, ("consent",))])
    )
    data = card(result("a", False, ("disclosure first",)))
    data |= {
        "passed": 0,
        "cases": 1,
        "checks": 2,
        "checks_passed": 1,
        "realtime_url": "ws://x",
        "concurrency": 1,
    }
    data |= {"wall_s": 1, "load_average": [0, 0, 0], "modes": {}, "latency_ms": {}, "latency_samples_ms": {}}
    attach(data, report)
    md = comparison_markdown(data)
    assert md[0].startswith("## Against the baseline: 1 regressions")
    assert any("Failing cases by cause: product 2" in line for line in md)
    page = html_page(data)
    assert page.index("Regressions") < page.index("<th>case</th>")


def test_a_product_cause_cannot_be_a_known_issue() -> None:
    with pytest.raises(ValidationError, match="product-caused failure cannot be a known issue"):
        KnownIssue(cause="product", checks=["consent"], evidence="consent stays None")
    with pytest.raises(ValidationError, match="what was heard"):
        KnownIssue(cause="engine-hearing", checks=["tool x"], evidence="Whisper hears something else")
    issue = KnownIssue(
        cause="engine-hearing", checks=["tool get_job_status"], heard="418", evidence="heard job 418 at 5 dB"
    )
    assert issue.explains(['tool get_job_status {"job_id": "4180"}'])
    assert not issue.explains(['tool get_job_status {"job_id": "4180"}', "consent"])


def test_the_bank_loads_with_structured_known_issues() -> None:
    bank = load_bank()
    issues = [c.known_issue for c in bank if c.known_issue]
    assert issues and {i.cause for i in issues} <= {"engine-hearing", "engine-policy"}
    assert all(i.heard for i in issues if i.cause == "engine-hearing")


def test_the_committed_baseline_covers_the_bank_and_names_its_engine() -> None:
    base = Baseline.load(BASELINE_FILE)
    assert set(base.cases) >= {c.id for c in load_bank()}
    assert base.engine["engine"] == "switchboard-local" and base.engine["stt_model"]
    for cid, entry in base.cases.items():
        assert (entry.verdict == "pass") == (entry.cause is None), cid
        assert entry.verdict == "pass" or entry.evidence, cid


def test_the_gate_selects_by_what_changed() -> None:
    bank = load_bank()
    profile = select(["switchboard/profiles/job_status.json"], bank)
    assert profile.profiles == {"job_status"}
    assert profile.case_ids[0] == "jobs-clean-status"
    assert {c.profile for c in bank if c.id in profile.case_ids} == {"job_status"}
    tools = select(["activities/tools/clinic.py"], bank)
    assert tools.profiles == {"clinic_booking"}
    bridge = select(["voice/bridge.py"], bank)
    assert bridge.case_ids[0] == "jobs-barge-in-consent"
    assert set(SMOKE) <= set(bridge.case_ids)
    assert {c.profile for c in bank if c.id in bridge.case_ids} == {
        "job_status",
        "clinic_booking",
        "law_intake",
        "lead_qualification",
        "support_triage",
    }
    workflow = select(["workflows/tool_calls.py"], bank)
    assert workflow.case_ids[0] == "jobs-consent-skipped"
    nothing = select(["docs/architecture.md"], bank)
    assert nothing.case_ids == list(SMOKE) and "smoke set anyway" in nothing.reasons[0]
    sampled = sample(select(["voice/bridge.py"], bank), 3)
    assert len(sampled.case_ids) == 3 and sampled.sampled_out


def test_contract_catches_a_broken_profile_without_a_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank = load_bank()
    assert (
        contract({"job_status", "clinic_booking", "support_triage", "law_intake", "lead_qualification"}, bank)
        == []
    )
    raw = json.loads((Path("switchboard/profiles/job_status.json")).read_text())
    raw["disclosure"] = "Ops line. What do you need?"
    raw["confirm_arguments"] = {}
    raw["tools"] = [t for t in raw["tools"] if t != "get_job_status"]
    (tmp_path / "job_status.json").write_text(json.dumps(raw))
    monkeypatch.setenv("SWITCHBOARD_PROFILES_DIR", str(tmp_path))
    problems = " | ".join(f.detail for f in contract({"job_status"}, bank))
    assert "no longer says 'AI assistant'" in problems
    assert "expects tool get_job_status" in problems
    assert "add_job_note writes back with no read-back rule" in problems


def test_changed_files_and_the_default_base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    (tmp_path / "a.txt").write_text("1")
    git("add", ".")
    git("commit", "-qm", "one")
    monkeypatch.delenv("SWITCHBOARD_GATE_BASE", raising=False)
    assert default_base(tmp_path) is None  # one commit: nothing to diff, the smoke set runs
    assert changed_files(None, tmp_path) == []
    (tmp_path / "voice").mkdir()
    (tmp_path / "voice" / "bridge.py").write_text("x")
    git("add", ".")
    git("commit", "-qm", "two")
    assert default_base(tmp_path) == "HEAD~1"
    (tmp_path / "a.txt").write_text("2")  # uncommitted changes count too
    assert changed_files("HEAD~1", tmp_path) == ["a.txt", "voice/bridge.py"]
    monkeypatch.setenv("SWITCHBOARD_GATE_BASE", "HEAD")
    assert default_base(tmp_path) == "HEAD"


@pytest.mark.parametrize(("passes_on", "kind"), [(2, "new_flake"), (None, "regression")])
def test_a_would_be_regression_runs_again_until_it_passes(
    monkeypatch: pytest.MonkeyPatch, passes_on: int | None, kind: str
) -> None:
    """``run --baseline`` and the gate run a failed stable pass again, up to RERUNS times,
    stopping at its first pass: noise if it passes once, a regression if it never does."""
    import asyncio
    from types import SimpleNamespace

    from rich.console import Console

    from evals import gate
    from evals.replay import CaseResult
    from evals.runner import RunOptions, RunResult
    from evals.scorer import Check

    def ran(case: str, *failed: str) -> CaseResult:
        checks = [Check(name=n, passed=False, expected="x", actual="y") for n in failed]
        checks.append(Check(name="outcome", passed=True, expected="completed", actual="completed"))
        return CaseResult(case_id=case, profile="p", modes=[], passed=not failed, checks=checks)

    bank = [SimpleNamespace(id=c, known_issue=None) for c in ("a", "b", "c")]
    reran: list[list[str]] = []

    async def run_bank(cases: Any, options: RunOptions, console: Console) -> RunResult:
        reran.append([c.id for c in cases])
        again = ran("a") if len(reran) == passes_on else ran("a", "disclosure")
        return RunResult(results=[again], card={})

    monkeypatch.setattr(gate, "run_bank", run_bank)
    first = RunResult(results=[ran("a", "disclosure"), ran("b", "consent"), ran("c")], card={})
    results = asyncio.run(gate.run_failed_again(first, BASE, bank, RunOptions(), Console(quiet=True)))  # type: ignore[arg-type]
    # Only the stable pass that failed runs again (b's failure is its baseline's), until it passes.
    assert reran == [["a"]] * (passes_on or gate.RERUNS)
    assert [r.attempt for r in results if r.case_id == "a"] == list(range(1, len(reran) + 2))
    findings = compare(BASE, case_stats(gate.scorecard_results(results))).findings
    assert [(f.case, f.kind) for f in findings] == [("a", kind), ("b", "still_failing"), ("c", "pass")]
