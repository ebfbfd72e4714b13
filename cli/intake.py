"""``switchboard intake pending``: after-hours matters waiting for delivery, from Temporal visibility.

Reads only the search attributes and memo that ``IntakeDeliveryWorkflow`` keeps (call id, due
time, urgency, matter type): no names, numbers or descriptions, and no worker needs to be running.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from switchboard import calendar
from switchboard.config import Settings
from switchboard.temporal import connect_client

console = Console()

WAITING = ("pending_delivery", "escalated")
# Not only running ones: a delivery that gave up (after IntakeDeliveryInput.give_up_after) stays
# escalated and is listed as undelivered until someone deals with it.
PENDING_QUERY = (
    f"WorkflowType='IntakeDeliveryWorkflow' AND CallStatus IN ({', '.join(repr(s) for s in WAITING)})"
)


class PendingMatter(BaseModel):
    workflow_id: str
    call_id: str
    status: str
    due_at: datetime | None
    timezone: str
    urgent: bool
    matter_type: str | None

    @property
    def due_local(self) -> datetime | None:
        return self.due_at.astimezone(calendar.zone(self.timezone)) if self.due_at else None


async def list_pending(client: Client, limit: int = 200) -> list[PendingMatter]:
    """The matters waiting for delivery (or escalated and still waiting), soonest due first."""
    matters: list[PendingMatter] = []
    async for wf in client.list_workflows(PENDING_QUERY, limit=limit):
        memo: dict[str, Any] = dict(await wf.memo())
        due = memo.get("due_at")
        running = wf.status == WorkflowExecutionStatus.RUNNING
        matters.append(
            PendingMatter(
                workflow_id=wf.id,
                call_id=str(memo.get("call_id") or wf.id),
                status=str(memo.get("status") or WAITING[0]) if running else "undelivered",
                due_at=datetime.fromisoformat(due) if due else None,
                timezone=str(memo.get("timezone") or "UTC"),
                urgent=bool(memo.get("urgent")),
                matter_type=memo.get("matter_type"),
            )
        )
    return sorted(matters, key=lambda m: (m.due_at is None, m.due_at.timestamp() if m.due_at else 0.0))


def pending_table(matters: list[PendingMatter]) -> Table:
    table = Table(title=f"Matters waiting for delivery ({len(matters)})")
    table.add_column("call id", no_wrap=True)
    table.add_column("due (firm's time)", no_wrap=True)
    for col in ("status", "urgent", "matter type"):
        table.add_column(col)
    for m in matters:
        due = m.due_local.strftime("%a %d %b %Y %H:%M %Z") if m.due_local else "-"
        status = {"pending_delivery": "waiting", "escalated": "[red]escalated[/]"}.get(
            m.status, f"[red]{m.status}[/]"
        )
        table.add_row(m.call_id, due, status, "[bold red]yes[/]" if m.urgent else "no", m.matter_type or "-")
    return table


async def _pending(settings: Settings, limit: int) -> list[PendingMatter]:
    client = await connect_client(settings, fail_fast=True)
    return await list_pending(client, limit)


def cmd_intake_pending(args: argparse.Namespace, settings: Settings) -> int:
    try:
        matters = asyncio.run(_pending(settings, int(getattr(args, "limit", 200))))
    except (RuntimeError, RPCError) as exc:  # connection refused, or the server's answer
        console.print(f"[red]cannot reach Temporal at {settings.temporal_address}:[/] {exc}")
        return 1
    if not matters:
        console.print("no matters waiting for delivery")
        return 0
    console.print(pending_table(matters))
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``intake pending`` on the ``switchboard`` command's subparsers."""
    intake = subparsers.add_parser("intake", help="after-hours intake: matters waiting for delivery")
    actions = intake.add_subparsers(dest="intake_command", required=True)
    pending = actions.add_parser("pending", help="matters waiting for delivery, soonest first")
    pending.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")


__all__ = [
    "PENDING_QUERY",
    "PendingMatter",
    "add_parser",
    "cmd_intake_pending",
    "list_pending",
    "pending_table",
]
