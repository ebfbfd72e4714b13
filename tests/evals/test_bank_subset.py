"""A broken profile through the real path (``--profiles-dir``) fails the scorecard (``make evals``).

It starts a private local stack (every service as a process, Temporal in memory) with the eval
runner itself, so it scores exactly what ``switchboard evals run`` scores. ``make test`` runs
the gate instead (``make gate``: three cases against the baseline), and ``test_gate.py`` breaks
profiles and code five ways under the gate.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from evals.case import load_bank
from evals.runner import PROFILES_DIR_ENV, RunOptions, run_bank
from switchboard import profiles

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

BROKEN_CASE = "jobs-clean-status"


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
