"""The bank's fast subset through the real path (`make test`), and a broken profile failing it.

Both start a private local stack (every service as a process, Temporal in memory) with the
eval runner itself, so these tests score exactly what ``switchboard evals run`` scores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from evals.case import load_bank
from evals.runner import PROFILES_DIR_ENV, RunOptions, run_bank
from switchboard import profiles

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BROKEN_CASE = "jobs-clean-status"


async def test_quick_subset_passes_and_writes_the_scorecard(tmp_path: Path) -> None:
    cases = load_bank(quick=True)
    assert 2 <= len(cases) <= 4
    result = await run_bank(cases, RunOptions(concurrency=3, out_dir=tmp_path), Console(width=160))
    failed = {
        r.case_id: [c for c in r.checks if not c.passed] or r.error for r in result.results if not r.passed
    }
    assert result.all_passed, failed
    card = json.loads((tmp_path / "scorecard.json").read_text())
    assert card["passed"] == card["cases"] == len(cases)
    assert card["latency_ms"]["turn_to_first_audio_ms"]["n"] > 0
    assert (tmp_path / "latency.png").read_bytes().startswith(b"\x89PNG")
    assert "scorecard" in (tmp_path / "scorecard.html").read_text().lower()


def _supports_profiles_dir() -> bool:
    import inspect

    return PROFILES_DIR_ENV in inspect.getsource(profiles)


@pytest.mark.skipif(
    not _supports_profiles_dir(), reason=f"switchboard.profiles does not read {PROFILES_DIR_ENV} yet"
)
async def test_a_broken_profile_fails_the_scorecard(tmp_path: Path) -> None:
    """The job-status profile with its lookup tool removed and its consent line changed."""
    raw = json.loads((Path(profiles.__file__).parent / "job_status.json").read_text())
    raw["tools"] = [t for t in raw["tools"] if t != "get_job_status"]
    raw["disclosure"] = "Ops line. What do you need?"
    broken = tmp_path / "profiles"
    broken.mkdir()
    (broken / "job_status.json").write_text(json.dumps(raw))
    cases = load_bank(case_ids=[BROKEN_CASE])
    result = await run_bank(
        cases, RunOptions(concurrency=1, profiles_dir=broken, out_dir=tmp_path / "out"), Console(width=160)
    )
    assert not result.all_passed
    failed = {c.name for c in result.results[0].checks if not c.passed}
    assert "disclosure first" in failed
    assert any(name.startswith("tool get_job_status") for name in failed)
    assert json.loads((tmp_path / "out" / "scorecard.json").read_text())["passed"] == 0
