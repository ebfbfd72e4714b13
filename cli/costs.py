"""``switchboard costs``: what the calls cost, by profile and outcome, from Temporal.

The calls are found by Temporal's visibility (finished ``CallWorkflow`` runs started since a
moment, optionally of one profile: the ``AgentProfile`` and ``CallOutcome`` search attributes), and
each call's figures are read from its result (``CallOutcome.usage`` and ``.cost``), decoded by the
client of ``switchboard.temporal``. Nothing personal is read into the report: profile, outcome,
seconds, tokens and dollars. A call whose person was erased cannot be read and is counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table
from temporalio.client import Client
from temporalio.service import RPCError

from switchboard.config import Settings
from switchboard.costs import TokenUsage
from switchboard.models import CallOutcome
from switchboard.search_attributes import AGENT_PROFILE, CALL_OUTCOME
from switchboard.temporal import connect_client
from workflows.call import CallWorkflow

console = Console()
_SINCE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"^[a-z0-9_\-]{1,64}$")


def parse_since(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` → a timedelta."""
    found = _SINCE.match(text.strip())
    if not found:
        raise ValueError(f"not a period: {text!r} (use e.g. 30m, 12h, 7d, 2w)")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def costs_query(since: datetime, profile: str = "") -> str:
    """The visibility query for the finished calls started since ``since`` (of ``profile``)."""
    if profile and not _NAME.match(profile):
        raise ValueError("a profile name is lower-case letters, digits, _ and -")
    parts = [
        "WorkflowType='CallWorkflow'",
        "ExecutionStatus='Completed'",
        f"StartTime >= '{since.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}Z'",
    ]
    if profile:
        parts.append(f"AgentProfile='{profile}'")  # validated above: the quotes cannot be broken out of
    return " AND ".join(parts)


class CostRow(BaseModel):
    profile: str
    outcome: str
    calls: int = 0
    seconds: float = 0.0  # the length priced (each call's media stream)
    phone_minutes: int = 0  # billed: each call rounded up to a minute
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    model_usd: Decimal = Decimal(0)
    phone_usd: Decimal = Decimal(0)
    total_usd: Decimal = Decimal(0)

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    def add(self, result: CallOutcome) -> None:
        self.calls += 1
        self.tokens = self.tokens + result.usage
        if result.cost is not None:
            self.seconds += result.cost.call_seconds
            self.phone_minutes += result.cost.phone_minutes
            self.model_usd += result.cost.model_usd
            self.phone_usd += result.cost.phone_usd
            self.total_usd += result.cost.total_usd


class CostReport(BaseModel):
    since: datetime
    profile: str = ""
    rows: list[CostRow] = Field(default_factory=list)
    total: CostRow = Field(default_factory=lambda: CostRow(profile="all", outcome="all"))
    unreadable: int = 0  # calls whose result could not be read (their person was erased)


async def _result(client: Client, call_id: str) -> CallOutcome | None:
    handle = client.get_workflow_handle_for(CallWorkflow.run, call_id)
    try:
        return await handle.result(follow_runs=False)
    except Exception:  # erased (no key), or gone since it was listed: counted as unreadable
        return None


async def collect_costs(
    client: Client, since: datetime, profile: str = "", limit: int = 10_000
) -> CostReport:
    """Every finished call since ``since``, summed by (profile, outcome), and over all of them."""
    listed: list[tuple[str, str, str]] = []
    async for wf in client.list_workflows(costs_query(since, profile), limit=limit):
        attrs = wf.typed_search_attributes
        listed.append((wf.id, attrs.get(AGENT_PROFILE) or "", attrs.get(CALL_OUTCOME) or ""))
    gate = asyncio.Semaphore(8)

    async def read(call_id: str) -> CallOutcome | None:
        async with gate:
            return await _result(client, call_id)

    results = await asyncio.gather(*(read(call_id) for call_id, _, _ in listed))
    report = CostReport(since=since, profile=profile)
    rows: dict[tuple[str, str], CostRow] = {}
    for (_, call_profile, outcome), result in zip(listed, results, strict=True):
        if result is None:
            report.unreadable += 1
            continue
        key = (call_profile or "-", outcome or result.outcome.value)
        rows.setdefault(key, CostRow(profile=key[0], outcome=key[1])).add(result)
        report.total.add(result)
    report.rows = [rows[k] for k in sorted(rows)]
    return report


def _usd(value: Decimal) -> str:
    return f"${value:.4f}"


def costs_table(report: CostReport) -> Table:
    scope = f" of {report.profile}" if report.profile else ""
    table = Table(title=f"Call costs{scope} since {report.since:%Y-%m-%d %H:%M} UTC")
    for col in ("profile", "outcome"):
        table.add_column(col)
    for col in (
        "calls",
        "minutes",
        "billed min",
        "tokens in",
        "cached",
        "tokens out",
        "model",
        "phone",
        "total",
    ):
        table.add_column(col, justify="right")
    for row in [*report.rows, report.total]:
        last = row is report.total
        table.add_row(
            f"[bold]{row.profile}[/]" if last else row.profile,
            row.outcome,
            str(row.calls),
            f"{row.minutes:.1f}",
            str(row.phone_minutes),
            f"{row.tokens.input_tokens:,}",
            f"{row.tokens.cached_text + row.tokens.cached_audio:,}",
            f"{row.tokens.output_tokens:,}",
            _usd(row.model_usd),
            _usd(row.phone_usd),
            f"[bold]{_usd(row.total_usd)}[/]" if last else _usd(row.total_usd),
            end_section=row is (report.rows[-1] if report.rows else None),
        )
    return table


def report_json(report: CostReport) -> dict[str, Any]:
    def row(r: CostRow) -> dict[str, Any]:
        tokens = r.tokens
        return r.model_dump(mode="json") | {
            "minutes": round(r.minutes, 3),
            "tokens": tokens.model_dump() | {"input": tokens.input_tokens, "output": tokens.output_tokens},
        }

    return {
        "since": report.since.isoformat(),
        "profile": report.profile or None,
        "rows": [row(r) for r in report.rows],
        "total": row(report.total),
        "unreadable": report.unreadable,
    }


async def _collect(settings: Settings, since: datetime, profile: str) -> CostReport:
    client = await connect_client(settings, fail_fast=True)
    return await collect_costs(client, since, profile)


def cmd_costs(args: argparse.Namespace, settings: Settings) -> int:
    try:
        since = datetime.now(UTC) - parse_since(args.since)
        costs_query(since, args.profile)  # checks the profile's name before anything is asked
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    try:
        report = asyncio.run(_collect(settings, since, args.profile))
    except (RuntimeError, RPCError) as exc:  # connection refused, or the server's answer
        console.print(f"[red]cannot reach Temporal at {settings.temporal_address}:[/] {exc}")
        return 1
    if args.json:
        print(json.dumps(report_json(report), indent=2))
        return 0
    console.print(costs_table(report))
    if report.unreadable:
        console.print(f"{report.unreadable} call(s) could not be read (their person was erased)")
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``costs`` on the ``switchboard`` command's subparsers."""
    costs = subparsers.add_parser("costs", help="calls, minutes, tokens and money by profile and outcome")
    costs.add_argument(
        "--since", default="7d", help="calls started this long ago or later (30m, 12h, 7d, 2w)"
    )
    costs.add_argument("--profile", default="", help="only this agent profile")
    costs.add_argument("--json", action="store_true", help="machine-readable output")


__all__ = [
    "CostReport",
    "CostRow",
    "add_parser",
    "cmd_costs",
    "collect_costs",
    "costs_query",
    "costs_table",
    "parse_since",
    "report_json",
]
