"""One lock: requirements.lock matches pyproject.toml, and deploy/lambda.lock is a subset of it.

No resolver and no network: the locks record digests of their inputs, and every pin is checked
against pyproject's own specifiers. A dependency edit without `make lock` fails here.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from deploy.lock import HOST_LOCK, LAMBDA_IN, LAMBDA_LOCK, LOCK, PYPROJECT, ROOT, check, normalise, read_pins


def copy_of_the_inputs(into: Path) -> Path:
    for path in (PYPROJECT, LOCK, LAMBDA_IN, LAMBDA_LOCK, HOST_LOCK):
        target = into / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return into


def test_the_locks_are_current() -> None:
    assert check() == []


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` in the file, which must be there (else the test would check an unchanged copy)."""
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path.name}"
    path.write_text(text.replace(old, new))


def test_a_dependency_edit_without_a_new_lock_is_caught(tmp_path: Path) -> None:
    root = copy_of_the_inputs(tmp_path)
    pyproject = root / "pyproject.toml"
    edit(pyproject, '"httpx~=0.28"', '"httpx~=0.28.1"')
    assert check(root) == [
        "pyproject.toml's dependencies changed since requirements.lock: run `make lock`",
        "requirements.lock or pyproject.toml changed since deploy/host.lock: run `make lock`",
    ]


def test_an_edit_outside_the_dependencies_needs_no_new_lock(tmp_path: Path) -> None:
    root = copy_of_the_inputs(tmp_path)
    pyproject = root / "pyproject.toml"
    edit(pyproject, "line-length = 110", "line-length = 100")
    assert check(root) == []


def test_a_changed_lambda_root_or_lock_is_caught(tmp_path: Path) -> None:
    root = copy_of_the_inputs(tmp_path)
    roots = root / "deploy" / "lambda.in"
    roots.write_text(roots.read_text() + "rich\n")
    lambda_lock = root / "deploy" / "lambda.lock"
    edit(lambda_lock, "\ntwilio==", "\ntwilio==0.0.0 # was ")
    problems = check(root)
    assert problems[0].startswith("requirements.lock or deploy/lambda.in changed")
    assert any("twilio==0.0.0" in p for p in problems)


@pytest.mark.parametrize("extra", [None, "local", "dev"])
def test_every_pin_satisfies_pyproject(extra: str | None) -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    wanted = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    pins = read_pins(LOCK)
    for line in wanted:
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        pin = pins[normalise(requirement.name)]
        assert requirement.specifier.contains(pin.version, prereleases=True), (line, pin.version)
        assert pin.hashes, f"{pin.name} has no hashes"


def test_the_derived_locks_leave_out_what_they_do_not_run_and_nothing_pulls_in_torch() -> None:
    assert "torch" not in read_pins(LOCK)
    lambda_ = set(read_pins(LAMBDA_LOCK))
    assert not lambda_ & {"numpy", "onnxruntime", "openai", "websockets", "moto", "faster-whisper", "rich"}
    host = set(read_pins(HOST_LOCK))
    assert {"temporalio", "openai", "websockets", "uvloop"} <= host
    assert not host & {"moto", "onnxruntime", "faster-whisper", "piper-tts", "pytest", "ruff", "mypy"}
