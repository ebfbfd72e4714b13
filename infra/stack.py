"""The local stack launcher: start, health-check and stop the local stand-ins by pid.

``Stack.up()`` starts each service that is not already running (a second ``up`` starts no
duplicates), waits until every one answers its health check, then provisions what the
services need (search attributes, the recordings bucket, the mail identity, tables).
A state file under ``<home>/stack.json`` records exactly the processes started, so
``down()`` stops those and nothing else. Logs go to ``<home>/logs/<service>.log``.

The same launcher backs ``switchboard up`` and the pytest fixtures (with other ports and
another home), so tests run against the very servers a user runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from switchboard.config import LOCAL_HOST, Settings

HealthCheck = Callable[[], Awaitable[bool]]
Provision = Callable[[Settings], Awaitable[None]]


class StackError(RuntimeError):
    """A service could not be started, or is not ours to start (its port is taken)."""


@dataclass(frozen=True)
class ServiceSpec:
    """How to run and check one local service."""

    name: str
    argv: Sequence[str]
    port: int  # 0: the service listens on no port of its own (a worker)
    url: str
    health: HealthCheck
    provision: Provision | None = None
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout_s: float = 15.0
    description: str = ""
    unavailable: str = ""  # why it cannot run here (a program not installed): skipped and reported


@dataclass
class ServiceState:
    name: str
    pid: int
    port: int
    url: str
    argv: list[str]
    started_at: float


@dataclass
class ServiceReport:
    name: str
    url: str
    pid: int | None
    running: bool
    healthy: bool
    started: bool = False
    note: str = ""


def http_ok(url: str, *, ok_below: int = 300) -> HealthCheck:
    """A health check: ``GET url`` answers with a status below ``ok_below``."""

    async def check() -> bool:
        async with httpx.AsyncClient(timeout=1.0) as http:
            return (await http.get(url)).status_code < ok_below

    return check


def port_is_open(port: int, host: str = LOCAL_HOST, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCAL_HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _pid_runs(pid: int, argv: Sequence[str]) -> bool:
    """True when ``pid`` is alive and still runs the command we started (not a reused pid)."""
    if not _pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc: trust the pid
    want = os.path.basename(argv[0]).encode()
    return bool(cmdline) and os.path.basename(cmdline[0]) == want


class Stack:
    """A set of local services sharing one home directory (state file and logs)."""

    def __init__(self, settings: Settings, services: Sequence[ServiceSpec]) -> None:
        self.settings = settings
        self.services = list(services)
        self.home = settings.home
        self.state_file = self.home / "stack.json"

    # -- state -------------------------------------------------------------------------

    def _load(self) -> dict[str, ServiceState]:
        try:
            raw = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return {name: ServiceState(**item) for name, item in raw.get("services", {}).items()}

    def _save(self, state: dict[str, ServiceState]) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        data = {"services": {name: vars(s) for name, s in state.items()}}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.state_file)

    def pid(self, name: str) -> int | None:
        """The pid of the service ``name`` this stack started, if it did."""
        st = self._load().get(name)
        return st.pid if st is not None else None

    # -- lifecycle ---------------------------------------------------------------------

    async def up(self, on_progress: Callable[[str], None] | None = None) -> list[ServiceReport]:
        """Start what is not running, wait for health, provision. Raises StackError on failure."""
        say = on_progress or (lambda _msg: None)
        self.settings.logs_dir.mkdir(parents=True, exist_ok=True)
        state = self._load()
        reports: dict[str, ServiceReport] = {}
        for spec in self.services:
            if spec.unavailable:
                reports[spec.name] = ServiceReport(
                    spec.name, spec.url, None, False, False, note=spec.unavailable
                )
                continue
            known = state.get(spec.name)
            if known and _pid_runs(known.pid, known.argv):
                reports[spec.name] = ServiceReport(spec.name, spec.url, known.pid, True, False)
                continue
            state.pop(spec.name, None)
            if spec.port and port_is_open(spec.port):
                self._save(state)
                raise StackError(
                    f"{spec.name}: port {spec.port} is already in use by a process this stack did not "
                    f"start; stop it or move the service with SWITCHBOARD_PORT_{spec.name.upper()}"
                )
            say(f"starting {spec.name}")
            pid = self._spawn(spec)
            state[spec.name] = ServiceState(spec.name, pid, spec.port, spec.url, list(spec.argv), time.time())
            self._save(state)
            reports[spec.name] = ServiceReport(spec.name, spec.url, pid, True, False, started=True)

        runnable = [spec for spec in self.services if not spec.unavailable]
        results = await asyncio.gather(*(self._wait_healthy(spec, state[spec.name]) for spec in runnable))
        failed = [spec.name for spec, ok in zip(runnable, results, strict=True) if not ok]
        for spec, ok in zip(runnable, results, strict=True):
            reports[spec.name].healthy = ok
        if failed:
            logs = ", ".join(str(self.settings.logs_dir / f"{n}.log") for n in failed)
            raise StackError(f"not healthy in time: {', '.join(failed)} (see {logs})")
        for spec in runnable:
            if spec.provision is not None:
                say(f"provisioning {spec.name}")
                await spec.provision(self.settings)
        return [reports[spec.name] for spec in self.services]

    def _spawn(self, spec: ServiceSpec) -> int:
        log_path = self.settings.logs_dir / f"{spec.name}.log"
        env = {**os.environ, **spec.env}
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: down() stops it and its children
            )
        return proc.pid

    async def _wait_healthy(self, spec: ServiceSpec, st: ServiceState) -> bool:
        deadline = time.monotonic() + spec.ready_timeout_s
        while time.monotonic() < deadline:
            if not _pid_alive(st.pid):
                return False
            try:
                if await spec.health():
                    return True
            except Exception:  # a health check that raises means "not yet"
                pass
            await asyncio.sleep(0.05)
        return False

    def down(self, timeout_s: float = 8.0) -> list[str]:
        """Stop every process this stack started (by pid and process group). Returns their names."""
        state = self._load()
        stopped: list[str] = []
        for name, st in state.items():
            if _pid_runs(st.pid, st.argv):
                self._signal(st.pid, signal.SIGTERM)
                stopped.append(name)
        deadline = time.monotonic() + timeout_s
        for st in state.values():
            while _pid_alive(st.pid) and time.monotonic() < deadline:
                self._reap(st.pid)
                time.sleep(0.05)
            if _pid_alive(st.pid):
                self._signal(st.pid, signal.SIGKILL)
            self._reap(st.pid)
        self.state_file.unlink(missing_ok=True)
        return stopped

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pid, sig)  # the group we created with start_new_session
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    @staticmethod
    def _reap(pid: int) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    async def status(self) -> list[ServiceReport]:
        """What is running and healthy, from the state file and a live health check."""
        state = self._load()
        reports = []
        for spec in self.services:
            st = state.get(spec.name)
            running = bool(st and _pid_runs(st.pid, st.argv))
            healthy = False
            if running:
                try:
                    healthy = await spec.health()
                except Exception:
                    healthy = False
            taken = bool(spec.port) and port_is_open(spec.port)
            note = "" if running else ("port in use by another process" if taken else spec.unavailable)
            reports.append(
                ServiceReport(spec.name, spec.url, st.pid if st else None, running, healthy, note=note)
            )
        return reports
