"""``switchboard evals run | compare | gate | add``: replay the bank and score it, against the
baseline; run what a change can break; turn an archived call into a case.

    switchboard evals run --repeat 3 --write-baseline   # remake evals/baseline.json (the full bank)
    switchboard evals run --baseline                    # a run, compared: exit 1 on a regression
    switchboard evals compare [--card evals/out/scorecard.json]
    switchboard evals gate [--base REV] [--sample K]    # the cases changed since REV (evals/gate.py)

Wired by ``cli/main.py``::

    from evals import cli as evals_cli
    evals_cli.add_parser(sub)
    commands["evals"] = evals_cli.cmd_evals
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from switchboard.config import Settings

if TYPE_CHECKING:  # evals.runner starts the stack's imports: loaded by the commands that run calls
    from evals.runner import RunOptions, RunResult

console = Console()
# As in evals.baseline and evals.scorecard, which import more than ``switchboard --help`` needs.
BASELINE_FILE = Path(__file__).resolve().parent / "baseline.json"
OUT_DIR = Path(__file__).resolve().parent / "out"


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
    run.add_argument(
        "--baseline",
        type=Path,
        nargs="?",
        const=BASELINE_FILE,
        help="compare with the baseline (default evals/baseline.json); non-zero exit on a regression",
    )
    run.add_argument(
        "--write-baseline",
        type=Path,
        nargs="?",
        const=BASELINE_FILE,
        help="make this run the baseline (default evals/baseline.json; use with --repeat 3 or more)",
    )
    compare = actions.add_parser("compare", help="compare a scorecard with the baseline")
    compare.add_argument("--card", type=Path, default=OUT_DIR / "scorecard.json", help="scorecard.json")
    compare.add_argument("--baseline", type=Path, default=BASELINE_FILE)
    compare.add_argument("--write-baseline", action="store_true", help="make this scorecard the baseline")
    gate = actions.add_parser("gate", help="run the cases changed since REV against the baseline")
    gate.add_argument("--base", help="git REV to diff against (default: see evals/gate.py)")
    gate.add_argument("--sample", type=int, help="run only the first K selected cases, and say so")
    gate.add_argument("--concurrency", type=int, default=3)
    gate.add_argument("--baseline", type=Path, default=BASELINE_FILE)
    gate.add_argument("--realtime-url", help="the voice worker's Realtime URL")
    gate.add_argument("--out", type=Path, help="scorecard folder (default evals/out)")
    add = actions.add_parser("add", help="turn an archived call (recording + history) into a bank case")
    add.add_argument("call_id")


def cmd_evals(args: argparse.Namespace, settings: Settings) -> int:
    if args.evals_command == "add":
        return cmd_evals_add(args, settings)
    if args.evals_command == "compare":
        return cmd_evals_compare(args)
    if args.evals_command == "gate":
        return cmd_evals_gate(args)
    return cmd_evals_run(args, settings)


def _against_baseline(card: dict[str, Any], baseline: Path, out: Path) -> int:
    """Compare, rewrite the scorecard with the comparison first, print it; 1 on a regression."""
    from evals.baseline import Baseline, compare_card
    from evals.case import load_bank
    from evals.comparison import attach, print_comparison
    from evals.scorecard import write

    report = compare_card(Baseline.load(baseline), card, load_bank())
    attach(card, report)
    write(card, out)
    print_comparison(card, console)
    return 1 if report.regressions else 0


async def _failed_again(result: RunResult, baseline: Path, options: RunOptions) -> dict[str, Any]:
    """The run's scorecard with each would-be regression run once more (as the gate does)."""
    from evals import scorecard
    from evals.baseline import Baseline
    from evals.case import load_bank
    from evals.gate import run_failed_again

    results = await run_failed_again(result, Baseline.load(baseline), load_bank(), options, console)
    if len(results) == len(result.results):
        return dict(result.card)
    return scorecard.build(
        results,
        wall_s=float(result.card["wall_s"]),
        realtime_url=result.realtime_url,
        concurrency=options.concurrency,
        repeat=max(1, options.repeat),
    )


def _write_baseline(card: dict[str, Any], path: Path) -> None:
    """The run becomes the baseline; a run of part of the bank updates only its cases."""
    from evals.baseline import Baseline, engine_difference, make_baseline
    from evals.case import load_bank

    bank = load_bank()
    base = make_baseline(card, bank)
    kept = 0
    if path.exists() and set(base.cases) < {c.id for c in bank}:
        old = Baseline.load(path)
        if warning := engine_difference(old.engine, base.engine):
            console.print(f"[yellow]updating part of a baseline made otherwise: {warning}[/]")
        kept = len(set(old.cases) - set(base.cases))
        base = old.model_copy(update={"cases": dict(sorted((old.cases | base.cases).items()))})
    base.write(path)
    flaky = base.flaky()
    console.print(
        f"baseline: {path} ({len(base.cases)} cases"
        + (f", {kept} kept from before" if kept else "")
        + f", {len(flaky)} flaky"
        + (f": {', '.join(flaky)}" if flaky else "")
        + ")"
    )


def cmd_evals_compare(args: argparse.Namespace) -> int:
    from evals.baseline import load_card

    card = load_card(args.card)
    if args.write_baseline:
        _write_baseline(card, args.baseline)
        return 0
    return _against_baseline(card, args.baseline, args.card.parent)


def cmd_evals_gate(args: argparse.Namespace) -> int:
    from evals.gate import default_base, run_gate
    from evals.runner import RunOptions
    from evals.scorecard import print_table

    options = RunOptions(
        concurrency=args.concurrency, realtime_url=args.realtime_url, out_dir=args.out or OUT_DIR
    )
    base = args.base or default_base()
    try:
        result = asyncio.run(
            run_gate(base, options, sample_k=args.sample, baseline_path=args.baseline, console=console)
        )
    except (LookupError, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    print_table(result.card, console)
    for kind, path in result.paths.items():
        console.print(f"{kind}: {path}")
    console.print("[red]gate: RED (regressions above)[/]" if result.red else "[green]gate: green[/]")
    return 1 if result.red else 0


def cmd_evals_run(args: argparse.Namespace, _settings: Settings) -> int:
    from evals.case import load_bank
    from evals.runner import RunOptions, run_bank
    from evals.scorecard import print_table

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
    status = 0 if result.all_passed else 1
    if args.write_baseline:
        _write_baseline(result.card, args.write_baseline)
    if args.baseline:
        result.card = asyncio.run(_failed_again(result, args.baseline, options))
        status = _against_baseline(result.card, args.baseline, options.out_dir)
    print_table(result.card, console)
    for kind, path in result.paths.items():
        console.print(f"{kind}: {path}")
    return status


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
