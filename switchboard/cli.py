"""The ``switchboard`` command: the local stack, workers, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table

from infra.services import default_services
from infra.stack import ServiceReport, Stack, StackError
from switchboard.config import Settings, get_settings

console = Console()

Command = Callable[[argparse.Namespace, Settings], int]


def _stack(settings: Settings) -> Stack:
    return Stack(settings, default_services(settings))


def _report_table(reports: Sequence[ServiceReport], title: str) -> Table:
    table = Table(title=title)
    for col in ("service", "endpoint", "pid", "state"):
        table.add_column(col)
    for r in reports:
        if r.healthy:
            state = "[green]healthy[/]"
        else:
            state = "[yellow]running, not healthy[/]" if r.running else "[red]stopped[/]"
        if r.note:
            state += f" ({r.note})"
        if r.started:
            state += " [dim](started now)[/]"
        table.add_row(r.name, r.url, str(r.pid or "-"), state)
    return table


def cmd_up(_args: argparse.Namespace, settings: Settings) -> int:
    stack = _stack(settings)
    try:
        with console.status("starting the local stack…") as status:
            reports = asyncio.run(stack.up(on_progress=lambda msg: status.update(msg)))
    except StackError as exc:
        console.print(f"[red]switchboard up failed:[/] {exc}")
        return 1
    console.print(_report_table(reports, "Switchboard local stack"))
    console.print(f"logs: {settings.logs_dir}/   stop with: [bold]make down[/]")
    return 0


def cmd_down(_args: argparse.Namespace, settings: Settings) -> int:
    stopped = _stack(settings).down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def cmd_status(_args: argparse.Namespace, settings: Settings) -> int:
    reports = asyncio.run(_stack(settings).status())
    console.print(_report_table(reports, "Switchboard local stack"))
    return 0 if all(r.healthy for r in reports) else 3


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="switchboard", description="Run AI phone agents in production.")
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, Command] = {}
    for name, fn, help_ in (
        ("up", cmd_up, "start the local stack (idempotent) and print its endpoints"),
        ("down", cmd_down, "stop exactly the processes 'up' started"),
        ("status", cmd_status, "health of each local service (exit 3 when any is not healthy)"),
    ):
        sub.add_parser(name, help=help_)
        commands[name] = fn
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    return commands[args.command](args, get_settings())


if __name__ == "__main__":
    sys.exit(main())
