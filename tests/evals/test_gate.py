"""The gate on a change, end to end: five deliberate breakages turn it red, the undisturbed code
passes it twice in a row.

Each test copies this tree (tracked and new files) into a git repository of its own, commits it,
commits one breakage on top, and runs ``switchboard evals gate --base HEAD~1`` there as a
process, so the gate finds the change with git, and every service of its private stack imports
the broken code. ``--sample 1``: the gate ranks first the case that exercises what changed (see
``evals/gate.py``), and a failed case runs a second time before it counts as a regression. About
a minute and a half each on two cores, so they run in ``make evals`` (``slow``); ``make test``
runs the gate itself (``make gate``) and the breakages' profile contract
(``tests/evals/test_baseline.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
JOBS_PROFILE = "switchboard/profiles/job_status.json"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def copy_tree(tmp: Path) -> Path:
    """This tree as it is (uncommitted changes included) in a fresh one-commit repository."""
    files = _git(REPO, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    dest = tmp / "repo"
    for name in filter(None, files):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "-c", "user.email=gate@example.invalid", "-c", "user.name=gate", "add", "-A")
    _git(dest, "-c", "user.email=gate@example.invalid", "-c", "user.name=gate", "commit", "-qm", "base")
    return dest


def commit(repo: Path, message: str) -> None:
    _git(repo, "-c", "user.email=gate@example.invalid", "-c", "user.name=gate", "commit", "-qam", message)


def edit(repo: Path, path: str, old: str, new: str) -> None:
    """Replace ``old`` (which must be there: a breakage that no longer applies fails loudly)."""
    file = repo / path
    text = file.read_text()
    assert old in text, f"{path} changed: this breakage needs updating ({old[:60]!r})"
    file.write_text(text.replace(old, new, 1))


def edit_profile(repo: Path, change: Any) -> None:
    raw = json.loads((repo / JOBS_PROFILE).read_text())
    change(raw)
    (repo / JOBS_PROFILE).write_text(json.dumps(raw, indent=2) + "\n")


def gate(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = repo.parent / "gate-out"  # outside the repository: not a change
    env = os.environ | {"PYTHONPATH": str(repo), "COLUMNS": "160"}
    env.pop("SWITCHBOARD_GATE_BASE", None)
    done = subprocess.run(
        [sys.executable, "-m", "cli", "evals", "gate", "--out", str(out), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    print(done.stdout[-6000:], done.stderr[-3000:])
    assert (out / "scorecard.json").exists(), done.stderr[-2000:]
    if done.returncode:  # the failed checks and the transcripts, for whoever reads the log
        md = (out / "scorecard.md").read_text()
        print(md[md.find("## Failed checks") :][:12000])
    return done.returncode, json.loads((out / "scorecard.json").read_text())["comparison"]


def regressions(comparison: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for f in comparison["findings"]:
        if f["kind"] == "regression":
            found[f["case"]] = (found.get(f["case"], "") + " | " + f["detail"]).strip(" |")
    return found


def test_the_undisturbed_code_passes_the_gate_twice(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    for _ in range(2):
        code, comparison = gate(repo, "--base", "HEAD", "--sample", "3")
        assert code == 0, regressions(comparison)
        assert comparison["gate"]["ran"] == [
            "jobs-clean-status",
            "clinic-consent-refused",
            "jobs-consent-skipped",
        ]
        assert comparison["gate"]["sampled_out"]


def test_a_changed_disclosure_line_turns_the_gate_red(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    edit_profile(repo, lambda p: p.update(disclosure="Ops line. What do you need?"))
    commit(repo, "a shorter greeting")
    code, comparison = gate(repo, "--sample", "1")
    found = regressions(comparison)
    assert code == 1
    assert "no longer says 'AI assistant'" in found["profile:job_status"]
    assert "disclosure first" in found["jobs-clean-status"]


def test_a_dropped_tool_turns_the_gate_red(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    edit_profile(repo, lambda p: p.update(tools=[t for t in p["tools"] if t != "get_job_status"]))
    commit(repo, "fewer tools")
    code, comparison = gate(repo, "--sample", "1")
    found = regressions(comparison)
    assert code == 1
    assert "expects tool get_job_status" in found["profile:job_status"]
    assert "tool get_job_status" in found["jobs-clean-status"]


def test_a_removed_read_back_rule_turns_the_gate_red(tmp_path: Path) -> None:
    """The local engine reads back whatever the profile says (a tool with ``confirmed`` is read
    back), so no call changes: the profile contract is what catches it."""
    repo = copy_tree(tmp_path)

    def no_read_back(p: dict[str, Any]) -> None:
        p.pop("confirm_arguments")
        p["instructions"] = p["instructions"].replace(
            "For add_job_note, read the job number back digit by digit and the note, wait for a yes, "
            "then call it with confirmed true. ",
            "",
        )

    edit_profile(repo, no_read_back)
    commit(repo, "simpler notes")
    code, comparison = gate(repo, "--sample", "1")
    assert code == 1
    assert "add_job_note writes back with no read-back rule" in regressions(comparison)["profile:job_status"]


def test_an_interruptible_disclosure_turns_the_gate_red(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    edit(
        repo,
        "voice/bridge.py",
        "        if self._opening:\n"
        "            if self._line_close is None:\n"
        "                self._over.started(ev.item_id)\n"
        "            return []  # the opening line is not interruptible\n",
        "",
    )
    edit(
        repo,
        "voice/bridge.py",
        "SendRealtime(self._session_turns(hold=True)),",
        "SendRealtime(self._session_turns(hold=False)),",
    )
    commit(repo, "let callers cut in")
    code, comparison = gate(repo, "--sample", "1")
    assert comparison["gate"]["ran"] == ["jobs-barge-in-consent"]
    assert code == 1
    broken = regressions(comparison)["jobs-barge-in-consent"]
    assert "disclosure whole" in broken or "disclosure first" in broken


def test_a_tool_before_consent_turns_the_gate_red(tmp_path: Path) -> None:
    repo = copy_tree(tmp_path)
    edit(
        repo,
        "workflows/tool_calls.py",
        "            self.consent is None\n            and profile",
        "            False\n            and profile",
    )
    commit(repo, "answer first, ask later")
    code, comparison = gate(repo, "--sample", "1")
    assert comparison["gate"]["ran"] == ["jobs-consent-skipped"]
    assert code == 1
    assert "no tool before consent" in regressions(comparison)["jobs-consent-skipped"]
