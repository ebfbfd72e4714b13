"""One function builds a Lambda artifact for a platform: Lambda's own (arm64, Python 3.12) or a twin.

An artifact is a directory Lambda unpacks into ``/var/task``: the wheels of ``deploy/lambda.lock``
for the platform (``pip install --platform … --only-binary=:all: --no-deps --require-hashes``, so
every file is one the lock hashed), less what the runtime already provides, less ``PRUNE``, plus the
project modules the handlers reach and their data files. The twin is the same build for this
machine's platform, so the tests can import and invoke each handler from the artifact alone.

- Runtime-provided: boto3, botocore, s3transfer (in every Lambda Python runtime) and what only
  they require (read off the lock's ``# via`` lines: python-dateutil, six).
- Project modules: every module of ours that the handlers import, found by ``modulefinder`` from the
  template's handlers (function-level imports included), so infra/, voice/, evals/, dashboard/,
  tests/ and the speech stack are never shipped; plus the JSON data of the packages shipped.
- No bytecode: pip would compile for the building interpreter (3.11 here), useless to Lambda's 3.12.

Builds are cached under ``.local/lambda/<platform>/``, keyed by a digest of every input.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from modulefinder import ModuleFinder
from pathlib import Path

from deploy.lock import LAMBDA_GLIBC, LAMBDA_LOCK, LAMBDA_MACHINE, LAMBDA_PYTHON, ROOT, Pin, read_pins

CACHE = ROOT / ".local" / "lambda"
MANIFEST = "switchboard-artifact.json"
PROJECT_PACKAGES = ("functions", "switchboard", "workflows", "activities")
DATA_SUFFIXES = (".json", ".yaml", ".txt", ".csv")
BUDGET_MIB = 100.0  # ours; Lambda's own limit for the unpacked package is 250 MB
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})

# Parts of shipped distributions the handlers never load (each is imported only by a module that
# is pruned with it, so a use of one fails loudly with an ImportError, never silently).
PRUNE: dict[str, tuple[str, ...]] = {
    # Geocoding and carrier names (phonenumbers.geocoder / .carrier): 21 MB of generated data.
    # Parsing, validity, number types, short numbers and time zones (phonenumbers.timezone) stay.
    "phonenumbers": (
        "phonenumbers/geodata",
        "phonenumbers/carrierdata",
        "phonenumbers/geocoder.py*",
        "phonenumbers/carrier.py*",
    ),
    # The REST API's generated domain clients (25 MB): the workflow worker dials with them, a
    # function never does. ``twilio.rest.Client`` itself stays (switchboard.telephony imports it),
    # as do the request validator and TwiML the functions use.
    "twilio": ("twilio/rest/*/",),
    # Console scripts pip writes for the building interpreter.
    "": ("bin",),
}


@dataclass(frozen=True)
class Platform:
    """Where an artifact runs: a machine, the glibc it has, and a CPython version."""

    name: str
    machine: str
    python_version: str
    glibc: tuple[int, int] = LAMBDA_GLIBC

    def wheel_platforms(self) -> list[str]:
        """The manylinux tags it runs, newest first (pip does not widen a ``--platform`` itself)."""
        major, newest = self.glibc
        return [f"manylinux_{major}_{minor}_{self.machine}" for minor in range(newest, 16, -1)]


LAMBDA = Platform(f"lambda-arm64-py{LAMBDA_PYTHON.replace('.', '')}", LAMBDA_MACHINE, LAMBDA_PYTHON)


def twin_platform(python_version: str) -> Platform:
    """This machine's platform (x86_64 Linux, Lambda's glibc level) for a CPython version."""
    return Platform(f"twin-x86_64-py{python_version.replace('.', '')}", "x86_64", python_version)


def runtime_only(pins: dict[str, Pin]) -> set[str]:
    """The runtime-provided distributions and those only they require (by the lock's ``# via``)."""
    excluded = set(RUNTIME_PROVIDED)
    grew = True
    while grew:
        grew = False
        for name, pin in pins.items():
            if name not in excluded and pin.required_by and set(pin.required_by) <= excluded:
                excluded.add(name)
                grew = True
    return excluded


def handler_modules(template: Path = ROOT / "template.yaml") -> list[str]:
    """The module of every function's ``Handler`` in the template."""
    from infra.gateway_events import routes_from_template  # the template reader the local gateway uses

    return sorted({route.handler.rpartition(".")[0] for route in routes_from_template(template)})


def project_files(modules: list[str], root: Path = ROOT) -> list[Path]:
    """Our source files the modules import (transitively, function-level imports too) and their data."""
    finder = ModuleFinder(path=[str(root)])  # only our tree: third-party imports stay unresolved
    for name in modules:
        finder.import_hook(name)
    files: set[Path] = set()
    for name, found in finder.modules.items():
        path = getattr(found, "__file__", None)  # modulefinder's Module; None for builtins
        if name.split(".")[0] in PROJECT_PACKAGES and path:
            files.add(Path(path))
    shipped_packages = {path.parent for path in files if path.name == "__init__.py"}
    for package in shipped_packages:
        for path in package.rglob("*"):
            if path.suffix not in DATA_SUFFIXES or "__pycache__" in path.parts:
                continue
            # A data file inside a sub-package travels only with that sub-package.
            inner = [d for d in path.relative_to(package).parents if (package / d / "__init__.py").exists()]
            if all(package / d in shipped_packages for d in inner):
                files.add(path)
    return sorted(files)


def tree_bytes(path: Path) -> int:
    """The unpacked size of a directory: its regular files' bytes, as Lambda counts them."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def mib(size: int) -> float:
    return round(size / 2**20, 1)


def _prune(target: Path) -> dict[str, int]:
    freed: dict[str, int] = {}
    for patterns in PRUNE.values():
        for pattern in patterns:
            for path in sorted(target.glob(pattern.rstrip("/"))):
                if pattern.endswith("/") and not path.is_dir():
                    continue
                key = str(path.relative_to(target))
                if path.is_dir():
                    freed[key] = tree_bytes(path)
                    shutil.rmtree(path)
                else:
                    freed[key] = path.stat().st_size
                    path.unlink()
    return freed


def _pip_install(pins: list[Pin], platform: Platform, target: Path) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as requirements:
        requirements.write("\n".join(pin.requirement() for pin in pins) + "\n")
        requirements.flush()
        platforms = [arg for tag in platform.wheel_platforms() for arg in ("--platform", tag)]
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"),
                *("--no-deps", "--require-hashes", "--only-binary=:all:", "--no-compile", *platforms),
                *("--python-version", platform.python_version, "--implementation", "cp"),
                *("--target", str(target), "-r", requirements.name),
            ],
            check=True,
        )


def _digest(platform: Platform, pins: list[Pin], sources: list[Path]) -> str:
    h = hashlib.sha256(json.dumps([asdict(platform), PRUNE, [p.requirement() for p in pins]]).encode())
    for path in sources:
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def build(platform: Platform, *, cache: Path = CACHE, runtime: bool = False) -> Path:
    """The artifact for ``platform`` (built, or reused from the cache when every input is the same).

    ``runtime=True`` builds the runtime's own share instead (boto3 and what only it needs): the
    stand-in for what Lambda's ``/var/lang`` provides, which the twin is run beside.
    """
    pins = read_pins(LAMBDA_LOCK)
    provided = runtime_only(pins)
    chosen = sorted((p for p in pins.values() if (p.name in provided) == runtime), key=lambda p: p.name)
    sources = [] if runtime else project_files(handler_modules())
    out = cache / (f"{platform.name}-runtime" if runtime else platform.name)
    digest = _digest(platform, chosen, sources)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # sam build may run the three targets in parallel
        manifest = out / MANIFEST
        if not (manifest.exists() and json.loads(manifest.read_text()).get("digest") == digest):
            _build_into(out, platform, chosen, sources, digest, [] if runtime else sorted(provided))
    return out


def _build_into(
    out: Path, platform: Platform, chosen: list[Pin], sources: list[Path], digest: str, provided: list[str]
) -> None:
    staging = out.with_name(out.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _pip_install(chosen, platform, staging)
    pruned = _prune(staging) if sources else {}
    for source in sources:
        dest = staging / source.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
    details = {
        "digest": digest,
        "platform": asdict(platform),
        "distributions": {p.name: p.version for p in chosen},
        "left_to_the_runtime": provided,
        "pruned_bytes": pruned,
        "project_files": [str(s.relative_to(ROOT)) for s in sources],
    }
    (staging / MANIFEST).write_text(json.dumps(details, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)


def report(paths: list[Path], budget_mib: float = BUDGET_MIB) -> bool:
    """Print each artifact's unpacked size; False when one is over the budget."""
    ok = True
    for path in paths:
        size = mib(tree_bytes(path))
        ok &= size <= budget_mib
        print(
            f"{path}: {size} MiB unpacked ({'within' if size <= budget_mib else 'OVER'} {budget_mib:g} MiB)"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.artifact", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lambda_ = sub.add_parser("lambda", help="build Lambda's artifact (arm64, Python 3.12)")
    lambda_.add_argument("--into", type=Path, help="copy it here (sam build's $ARTIFACTS_DIR)")
    twin = sub.add_parser("twin", help="build the twin for this machine and a CPython version")
    twin.add_argument("--python-version", default="{}.{}".format(*sys.version_info[:2]))
    sizes = sub.add_parser("sizes", help="report unpacked sizes; exit 1 over the budget")
    sizes.add_argument("paths", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "sizes":
        return 0 if report(args.paths) else 1
    platform = LAMBDA if args.command == "lambda" else twin_platform(args.python_version)
    artifact = build(platform)
    if getattr(args, "into", None):
        shutil.copytree(artifact, args.into, dirs_exist_ok=True)
        artifact = args.into
    return 0 if report([artifact]) else 1


if __name__ == "__main__":
    sys.exit(main())
