"""``switchboard evals run | add``: replay the bank and score it; turn an archived call into a case.

Wired by ``cli/main.py``::

    from evals import cli as evals_cli
    evals_cli.add_parser(sub)
    commands["evals"] = evals_cli.cmd_evals
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console

from switchboard.config import Settings

console = Console()


def add_parser(subparsers: Any) -> None:
    """Register ``evals run`` and ``evals add`` on the ``switchboard`` command's subparsers."""
    evals = subparsers.add_parser("evals", help="replay the bank of calls and score it; add a call to it")
    actions = evals.add_subparsers(dest="evals_command", required=True)
    run = actions.add_parser("run", help="replay the bank through the real path and write the scorecard")
    run.add_argument("--profile", help="only the cases of this agent profile")
    run.add_argument("--case", action="append", dest="cases", help="only this case (repeatable)")
    run.add_argument("--quick", action="store_true", help="only the fast subset (make test)")
    run.add_argument("--concurrency", type=int, default=3, help="calls at once (default 3)")
    run.add_argument(
        "--repeat", type=int, default=1, help="run the selection N times (each on a fresh stack): pass rates"
    )
    run.add_argument("--realtime-url", help="the voice worker's Realtime URL (e.g. OpenAI's)")
    run.add_argument("--reuse", action="store_true", help="use the stack 'switchboard up' started")
    run.add_argument(
        "--profiles-dir", type=Path, help="run against these profile files (SWITCHBOARD_PROFILES_DIR)"
    )
    run.add_argument("--out", type=Path, help="scorecard folder (default evals/out)")
    add = actions.add_parser("add", help="turn an archived call (recording + history) into a bank case")
    add.add_argument("call_id")


def cmd_evals(args: argparse.Namespace, settings: Settings) -> int:
    if args.evals_command == "add":
        return cmd_evals_add(args, settings)
    return cmd_evals_run(args, settings)


def cmd_evals_run(args: argparse.Namespace, _settings: Settings) -> int:
    from evals.case import load_bank
    from evals.runner import RunOptions, run_bank
    from evals.scorecard import OUT_DIR, print_table

    try:
        cases = load_bank(profile=args.profile, case_ids=args.cases, quick=args.quick)
    except (LookupError, ValueError) as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    if not cases:
        console.print("[yellow]no case matches[/]")
        return 2
    options = RunOptions(
        concurrency=args.concurrency,
        realtime_url=args.realtime_url,
        reuse=args.reuse,
        profiles_dir=args.profiles_dir,
        out_dir=args.out or OUT_DIR,
        repeat=args.repeat,
    )
    result = asyncio.run(run_bank(cases, options, console))
    print_table(result.card, console)
    for kind, path in result.paths.items():
        console.print(f"{kind}: {path}")
    return 0 if result.all_passed else 1


def cmd_evals_add(args: argparse.Namespace, settings: Settings) -> int:
    from evals.add import add_call_to_bank
    from switchboard.temporal import connect_client

    async def run() -> Path:
        client = await connect_client(settings)
        return await add_call_to_bank(client, settings, args.call_id)

    try:
        path = asyncio.run(run())
    except (ValueError, LookupError) as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    console.print(
        f"new case: {path}  (edit its expectations, then: switchboard evals run --case {path.stem})"
    )
    return 0


__all__ = ["add_parser", "cmd_evals", "cmd_evals_add", "cmd_evals_run"]
