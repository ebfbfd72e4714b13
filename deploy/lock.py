"""The one lock: ``requirements.lock`` from ``pyproject.toml``, and the functions' subset of it.

``requirements.lock`` pins every package of the project and its ``[local]`` and ``[dev]`` extras,
with the sha256 of every file PyPI has for each pinned version, resolved by ``uv pip compile`` for
Linux x86_64 and CPython 3.11 (this machine, CI and the host image). Its header records a digest
of ``pyproject.toml``'s dependency sections, so a dependency edit without a new lock is caught
by ``check`` (and by ``tests/deploy/test_lock.py``) without a resolver or the network.

``deploy/lambda.lock`` is what the Lambda functions ship: the roots in ``deploy/lambda.in``
resolved for Lambda's platform (aarch64, CPython 3.12) under the main lock's pins, so every
version and hash in it is the main lock's. ``deploy/host.lock`` is the same for the host image:
the project's own dependencies without the extras. Each header records the digest of its inputs.

Regenerate both with ``make lock`` (``python -m deploy.lock``, which needs ``uv`` and PyPI).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "requirements.lock"
LAMBDA_IN = ROOT / "deploy" / "lambda.in"
LAMBDA_LOCK = ROOT / "deploy" / "lambda.lock"
HOST_LOCK = ROOT / "deploy" / "host.lock"

# The machine the main lock is for, and Lambda's: the one place its runtime is named here
# (template.yaml's Runtime and Architectures must agree: tests/deploy/test_template.py).
LOCK_PLATFORM = ("x86_64-manylinux_2_28", "3.11")
LAMBDA_PYTHON = "3.12"
LAMBDA_MACHINE = "aarch64"  # Lambda's arm64
LAMBDA_GLIBC = (2, 34)  # Amazon Linux 2023, under Lambda's python3.12
LAMBDA_PLATFORM = (f"{LAMBDA_MACHINE}-manylinux_{LAMBDA_GLIBC[0]}_{LAMBDA_GLIBC[1]}", LAMBDA_PYTHON)
EXTRAS = ("local", "dev")

_DIGEST = re.compile(r"^# (?P<key>[a-z-]+)-sha256: (?P<hex>[0-9a-f]{64})$", re.MULTILINE)
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def normalise(name: str) -> str:
    """A distribution name as PEP 503 compares them (``PyYAML`` → ``pyyaml``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_digest(path: Path = PYPROJECT) -> str:
    """The sha256 of what the lock is resolved from: requires-python, dependencies and the extras."""
    project = tomllib.loads(path.read_text())["project"]
    sections = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    return _sha256(json.dumps(sections, sort_keys=True).encode())


@dataclass(frozen=True)
class Derived:
    """A lock resolved from ``source`` under the main lock's pins, for one platform."""

    path: Path
    source: Path  # roots; pyproject.toml means the project's own dependencies, no extras
    platform: tuple[str, str]
    purpose: str

    def inputs_digest(self, root: Path = ROOT) -> str:
        """The sha256 of what it is resolved from: the main lock and its source (for pyproject.toml,
        only the dependency sections)."""
        source = root / self.source.relative_to(ROOT)
        roots = pyproject_digest(source).encode() if source.name == "pyproject.toml" else source.read_bytes()
        return _sha256((root / LOCK.relative_to(ROOT)).read_bytes() + b"\0" + roots)


DERIVED = (
    Derived(LAMBDA_LOCK, LAMBDA_IN, LAMBDA_PLATFORM, "what the Lambda functions ship (deploy/lambda.in)"),
    Derived(HOST_LOCK, PYPROJECT, LOCK_PLATFORM, "what the host image installs (no [local] or [dev])"),
)


def recorded_digests(path: Path) -> dict[str, str]:
    """The ``# <key>-sha256: <hex>`` lines of a lock's header."""
    return {m["key"]: m["hex"] for m in _DIGEST.finditer(path.read_text())}


@dataclass(frozen=True)
class Pin:
    """One pinned distribution of a lock: its exact version, file hashes and who requires it."""

    name: str
    version: str
    hashes: tuple[str, ...]
    required_by: tuple[str, ...]

    def requirement(self) -> str:
        """The pin as a ``--require-hashes`` requirement line."""
        return " ".join([f"{self.name}=={self.version}", *(f"--hash={h}" for h in self.hashes)])


def _required_by(block: str) -> tuple[str, ...]:
    """The names in a pin's ``# via`` annotation (one on the line, or one per following line)."""
    lines = [line.strip().lstrip("#").strip() for line in block.splitlines() if line.strip().startswith("#")]
    for i, line in enumerate(lines):
        if line.startswith("via"):
            names = [line[3:].strip()] if line[3:].strip() else lines[i + 1 :]
            return tuple(normalise(n.split(" (")[0]) for n in names if n and not n.startswith("-"))
    return ()


def read_pins(path: Path) -> dict[str, Pin]:
    """Every pin of a ``uv pip compile --generate-hashes`` file, by normalised name."""
    pins: dict[str, Pin] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        match = _PIN.match(block)
        if match is not None:
            name = normalise(match["name"])
            pins[name] = Pin(name, match["version"], tuple(_HASH.findall(block)), _required_by(block))
    return pins


def check(root: Path = ROOT) -> list[str]:
    """What is stale about the locks under ``root``: one sentence per problem, empty when current."""
    lock = root / LOCK.relative_to(ROOT)
    problems: list[str] = []
    if recorded_digests(lock).get("pyproject-deps") != pyproject_digest(root / PYPROJECT.relative_to(ROOT)):
        problems.append("pyproject.toml's dependencies changed since requirements.lock: run `make lock`")
    main = read_pins(lock)
    for derived in DERIVED:
        path = root / derived.path.relative_to(ROOT)
        if recorded_digests(path).get("inputs") != derived.inputs_digest(root):
            problems.append(
                f"requirements.lock or {rel(derived.source)} changed since {rel(derived.path)}: run `make lock`"
            )
        for name, pin in read_pins(path).items():
            same = main.get(name)
            if same is None or same.version != pin.version or not set(pin.hashes) <= set(same.hashes):
                problems.append(f"{rel(derived.path)} pins {name}=={pin.version} unlike requirements.lock")
    return problems


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _compile(uv: str, args: list[str], header: str, out: Path) -> None:
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as raw:
        subprocess.run(
            [
                uv,
                "pip",
                "compile",
                "--quiet",
                "--generate-hashes",
                "--custom-compile-command",
                "make lock",
                *args,
                "-o",
                raw.name,
            ],
            check=True,
            cwd=ROOT,
        )
        out.write_text(header + Path(raw.name).read_text())


def regenerate(uv: str) -> None:
    """Write every lock afresh from PyPI (``uv pip compile``), each with its inputs' digest."""
    platform, python = LOCK_PLATFORM
    extras = [arg for extra in EXTRAS for arg in ("--extra", extra)]
    _compile(
        uv,
        ["pyproject.toml", *extras, "--python-platform", platform, "--python-version", python],
        "# requirements.lock: every package Switchboard installs, pinned with hashes"
        f" (Linux {platform.split('-')[0]}, CPython {python}).\n"
        "# Generated from pyproject.toml by `make lock`; edit pyproject.toml, never this file.\n"
        f"# pyproject-deps-sha256: {pyproject_digest()}\n",
        LOCK,
    )
    for derived in DERIVED:
        platform, python = derived.platform
        _compile(
            uv,
            [
                rel(derived.source),
                "--constraint",
                rel(LOCK),
                "--python-platform",
                platform,
                "--python-version",
                python,
            ],
            f"# {rel(derived.path)}: {derived.purpose}, under requirements.lock's pins,\n"
            f"# resolved for {platform}, CPython {python}. Generated by `make lock`.\n"
            f"# inputs-sha256: {derived.inputs_digest()}\n",
            derived.path,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.lock", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="exit 1 if a lock is stale")
    compile_ = sub.add_parser("compile", help="regenerate every lock (needs uv and PyPI)")
    compile_.add_argument("--uv", default="uv", help="the uv executable")
    args = parser.parse_args(argv)
    if args.command == "compile":
        regenerate(args.uv)
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
