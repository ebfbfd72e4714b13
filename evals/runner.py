"""Run the bank: start the local stack (or reuse a running one), replay the cases a few at a time,
score them, and write the scorecard.

Usage (the CLI wires this as ``switchboard evals run``)::

    result = await run_bank(load_bank(profile="clinic_booking"), RunOptions(concurrency=2))
    result.card["passed"], result.paths["html"]

Parameters of ``RunOptions``: ``concurrency`` (calls at once; 2–3 on two cores), ``realtime_url``
(the voice worker's Realtime endpoint, e.g. OpenAI's; the key comes from ``OPENAI_API_KEY``),
``reuse`` (use the stack ``switchboard up`` started instead of a private one), ``profiles_dir``
(run against another profiles folder: needs ``SWITCHBOARD_PROFILES_DIR`` support in
``switchboard.profiles``), ``out_dir`` (where the scorecard goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from evals import scorecard
from evals.case import Case
from evals.replay import CaseResult, Replayer, eval_services
from infra.phone.client import SimClient
from infra.stack import Stack, StackError
from infra.testing import isolated_settings
from switchboard.config import Settings, get_settings
from switchboard.temporal import connect_client

PROFILES_DIR_ENV = "SWITCHBOARD_PROFILES_DIR"
LOGS_DIR = Path(".local/evals")


@dataclass
class RunOptions:
    concurrency: int = 2
    realtime_url: str | None = None
    reuse: bool = False
    profiles_dir: Path | None = None
    out_dir: Path = scorecard.OUT_DIR
    write: bool = True
    repeat: int = 1  # rounds of the whole selection, each on a fresh stack (a booked slot is free again)


@dataclass
class RunResult:
    results: list[CaseResult]
    card: dict[str, Any]
    paths: dict[str, Path] = field(default_factory=dict)
    realtime_url: str = ""

    @property
    def all_passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def first_round(self) -> list[CaseResult]:
        return [r for r in self.results if r.attempt == 1]


@contextlib.asynccontextmanager
async def stack_for(options: RunOptions, console: Console) -> AsyncIterator[Settings]:
    """The settings of a running stack: the user's (``reuse``) or a private one, stopped after."""
    if options.reuse:
        if options.realtime_url or options.profiles_dir:
            console.print("[yellow]--reuse: the running workers keep their own Realtime URL and profiles[/]")
        yield get_settings()
        return
    run = uuid.uuid4().hex[:8]
    home = (LOGS_DIR / run).resolve()
    overrides: dict[str, object] = {"calling_hours": "always"}
    if options.realtime_url:
        overrides["realtime_url"] = options.realtime_url
    settings = isolated_settings(home, **overrides)
    previous = os.environ.get(PROFILES_DIR_ENV)
    if options.profiles_dir is not None:  # inherited by the workers the stack starts
        os.environ[PROFILES_DIR_ENV] = str(options.profiles_dir.resolve())
    try:
        console.print(f"starting a private local stack for the evals (logs: {home / 'logs'})")
        stack = await _start(settings, console)
        try:
            yield settings
        finally:
            stack.down()
    finally:
        if options.profiles_dir is not None:
            if previous is None:
                os.environ.pop(PROFILES_DIR_ENV, None)
            else:
                os.environ[PROFILES_DIR_ENV] = previous
        _prune_logs(keep=3)


async def _start(settings: Settings, console: Console, attempts: int = 2) -> Stack:
    """The stack, up; once more if a service was not healthy in time (two shared cores under
    load can miss a readiness deadline: that is no verdict on the cases)."""
    for attempt in range(1, attempts + 1):
        stack = Stack(settings, eval_services(settings))
        try:
            await stack.up()
            return stack
        except StackError as exc:
            stack.down()
            if attempt == attempts:
                raise
            console.print(f"[yellow]the stack did not start ({exc}); starting it again[/]")
    raise AssertionError("unreachable")


def _prune_logs(keep: int) -> None:
    """Keep the last few runs' stack homes (their logs explain a failed case)."""
    if not LOGS_DIR.exists():
        return
    runs = sorted((p for p in LOGS_DIR.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in runs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


async def replay_all(
    replayer: Replayer, cases: Sequence[Case], concurrency: int, console: Console, attempt: int = 1
) -> list[CaseResult]:
    label = f"round {attempt}: " if attempt > 1 else ""
    gate = asyncio.Semaphore(max(1, concurrency))
    results: dict[str, CaseResult] = {}
    columns = (
        TextColumn("[bold]evals"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=len(cases))
        running: set[str] = set()

        async def one(case: Case) -> None:
            async with gate:
                running.add(case.id)
                progress.update(task, description="running: " + ", ".join(sorted(running)))
                result = await replayer.run(case)
                result.attempt = attempt
                running.discard(case.id)
                results[case.id] = result
                mark = "[green]✓[/]" if result.passed else "[red]✗[/]"
                progress.console.print(
                    f"{mark} {label}{case.id}: {result.passed_checks}/{len(result.checks)} checks, "
                    f"{result.wall_s:.0f} s" + (f" [red]{result.error}[/]" if result.error else "")
                )
                progress.update(task, advance=1, description="running: " + ", ".join(sorted(running)))

        # A case with Realtime faults arms the engine for its next sessions: it runs alone, last.
        await asyncio.gather(*(one(c) for c in cases if not c.realtime_faults))
        for case in (c for c in cases if c.realtime_faults):
            await one(case)
    return [results[c.id] for c in cases]


async def run_bank(
    cases: Sequence[Case], options: RunOptions | None = None, console: Console | None = None
) -> RunResult:
    options = options or RunOptions()
    console = console or Console()
    started = time.perf_counter()
    results: list[CaseResult] = []
    realtime_url = ""
    for attempt in range(1, max(1, options.repeat) + 1):
        async with stack_for(options, console) as settings:
            client = await connect_client(settings)
            async with SimClient(f"http://127.0.0.1:{settings.ports.phone}", timeout_s=30) as sim:
                replayer = Replayer(settings, client, sim)
                results += await replay_all(replayer, cases, options.concurrency, console, attempt)
            realtime_url = settings.realtime_url
    card = scorecard.build(
        results,
        wall_s=time.perf_counter() - started,
        realtime_url=realtime_url,
        concurrency=options.concurrency,
        repeat=max(1, options.repeat),
    )
    paths = scorecard.write(card, options.out_dir) if options.write else {}
    return RunResult(results=results, card=card, paths=paths, realtime_url=realtime_url)
