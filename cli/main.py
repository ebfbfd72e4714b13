"""The ``switchboard`` command: the local stack, workers, and the operator's tools."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence

from rich.console import Console
from rich.table import Table
from temporalio.service import RPCError

from cli import costs as cli_costs
from cli import forget as cli_forget
from cli import intake as cli_intake
from evals import cli as evals_cli
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
    from infra.voice_pool import worker_views

    reports = asyncio.run(_stack(settings).status())
    console.print(_report_table(reports, "Switchboard local stack"))
    workers = Table(title="Voice workers (behind the load balancer on the voice port)")
    for col in ("host", "task queue", "port", "health", "live calls"):
        workers.add_column(col)
    for w in asyncio.run(worker_views(settings)):
        colour = {"healthy": "green", "draining": "yellow"}.get(w.health, "red")
        live = "-" if w.live_calls is None else str(w.live_calls)
        workers.add_row(w.host, f"voice-{w.host}", str(w.port), f"[{colour}]{w.health}[/]", live)
    console.print(workers)
    return 0 if all(r.healthy for r in reports) else 3


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from switchboard.audit import fetch_timeline
    from switchboard.temporal import connect_client

    async def run() -> list[dict[str, object]] | None:
        client = await connect_client(settings)
        try:
            timeline = await fetch_timeline(client, args.call_id, reveal=args.reveal)
        except RPCError as exc:
            console.print(f"[red]no call {args.call_id!r}:[/] {exc.message}")
            return None
        if args.json:
            return [e.as_json() for e in timeline]
        table = Table(title=f"audit: {args.call_id}", show_lines=False)
        for col in ("time (UTC)", "kind", "what", "detail"):
            table.add_column(col, overflow="fold")
        days = {e.at.date() for e in timeline}  # a cadence runs for days: then the date too
        stamp = "%H:%M:%S.%f" if len(days) <= 1 else "%Y-%m-%d %H:%M:%S.%f"
        for e in timeline:
            detail = json.dumps(e.detail, default=str) if e.detail else ""
            table.add_row(e.at.strftime(stamp)[:-3], e.kind, e.title, detail[:400])
        console.print(table)
        return []

    result = asyncio.run(run())
    if result is None:
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_demo(_args: argparse.Namespace, settings: Settings) -> int:
    from infra.demo import run_demo

    if cmd_up(_args, settings) != 0:
        return 1
    return asyncio.run(run_demo(settings, console))


def cmd_recording(args: argparse.Namespace, settings: Settings) -> int:
    """Fetch a call's recording from S3 to a local WAV (the bucket is never public): the archived
    one once the call has ended, or, while it goes on, its segments shipped so far joined."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError

    from switchboard import aws
    from switchboard.recording_segments import fetch_joined
    from switchboard.temporal import connect_client

    async def key() -> str | None:
        """The archived recording's key; None while the call goes on (or its history is gone)."""
        client = await connect_client(settings)
        handle = client.get_workflow_handle(args.call_id)
        try:
            if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                return None
        except RPCError:
            return None
        result = await handle.result()
        return result.get("recording_key") if isinstance(result, dict) else None

    s3 = aws.client("s3", settings)
    out = settings.home / "recordings" / f"{args.call_id}.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    found = asyncio.run(key())
    if found:
        s3.download_file(settings.recordings_bucket, found, str(out))
    else:
        joined, segments = fetch_joined(s3, settings.recordings_bucket, args.call_id)
        if not segments:
            console.print(f"[red]no recording was kept for {args.call_id}[/]")
            return 2
        out.write_bytes(joined)
        console.print(f"joined {segments} segments shipped so far (the call is not archived)")
    console.print(f"{out}  (2 channels: left the caller, right the agent)")
    return 0


def cmd_worker(_args: argparse.Namespace, settings: Settings) -> int:
    from workflows.worker import main as worker_main

    asyncio.run(worker_main(settings))
    return 0


def cmd_dashboard(_args: argparse.Namespace, settings: Settings) -> int:
    from dashboard.__main__ import main as dashboard_main

    dashboard_main(settings)
    return 0


def cmd_codec_server(args: argparse.Namespace, settings: Settings) -> int:
    """Serve Temporal's codec protocol (/decode, /encode) for the UI, behind SWITCHBOARD_CODEC_SECRET."""
    from switchboard.codec_server import serve

    if not settings.codec_secret.get_secret_value():
        console.print(
            "[red]Set SWITCHBOARD_CODEC_SECRET: the codec server decrypts histories for whoever holds it.[/]"
        )
        return 2
    console.print(
        f"codec server on http://{args.host}:{settings.ports.codec} "
        f"(origins {settings.codec_origins}; Authorization: Bearer $SWITCHBOARD_CODEC_SECRET)"
    )
    serve(settings, host=args.host)
    return 0


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
    audit = sub.add_parser("audit", help="a call's timeline from its workflow history")
    audit.add_argument("call_id")
    audit.add_argument("--json", action="store_true", help="machine-readable output")
    audit.add_argument("--reveal", action="store_true", help="show phone numbers unmasked")
    commands["audit"] = cmd_audit
    sub.add_parser("demo", help="bring the stack up and watch a web-form lead get called back")
    commands["demo"] = cmd_demo
    recording = sub.add_parser("recording", help="download a call's recording from S3 to a WAV")
    recording.add_argument("call_id")
    commands["recording"] = cmd_recording
    sub.add_parser("worker", help="run the workflow worker (task queue 'calls')")
    commands["worker"] = cmd_worker
    sub.add_parser("dashboard", help="serve the supervisor dashboard on 127.0.0.1:8000")
    commands["dashboard"] = cmd_dashboard
    codec = sub.add_parser(
        "codec-server", help="decode encrypted payloads for the Temporal UI (/decode, /encode)"
    )
    codec.add_argument("--host", default="127.0.0.1", help="address to listen on")
    commands["codec-server"] = cmd_codec_server
    cli_forget.add_parser(sub)
    commands["forget"] = cli_forget.cmd_forget
    cli_intake.add_parser(sub)
    commands["intake"] = cli_intake.cmd_intake_pending
    cli_costs.add_parser(sub)
    commands["costs"] = cli_costs.cmd_costs
    evals_cli.add_parser(sub)
    commands["evals"] = evals_cli.cmd_evals
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    return commands[args.command](args, get_settings())


if __name__ == "__main__":
    sys.exit(main())
