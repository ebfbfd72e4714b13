"""``switchboard demo``: a web-form lead called back within seconds, watched live in the terminal.

It brings the local stack up (or reuses it), gives the lead's phone a simulated person who
answers and talks (a caller script on the local phone network), posts a signed web form to the
Lambda gateway exactly as a website would, then follows the call's workflow: the transcript as
it happens, tool calls with their results, the hangup; then the outcome, the summary, the four
latency slices, where the recording is and the Temporal UI link to the call's history.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from activities.business import BUSINESS_FILE, BusinessSystem, SqliteBusiness
from functions._forms import sign_body
from infra.gateway import local_form_secret
from infra.phone.client import SimClient
from switchboard.config import Settings
from switchboard.messages import CallbackOutcome, CallView
from switchboard.models import CallOutcome, ToolResult, Turn
from switchboard.temporal import connect_client
from workflows.call import CallWorkflow
from workflows.callback import OutboundCallbackWorkflow

LEAD_PHONE = "+61491570156"  # a number reserved for drama (ACMA), answered by the simulated lead

# The hours the simulated lead may ask for, as they say them (the engine reads whole hours best).
_ASKABLE = (
    (14, "two in the afternoon"),
    (15, "three in the afternoon"),
    (16, "four in the afternoon"),
    (10, "ten in the morning"),
    (11, "eleven in the morning"),
    (9, "nine in the morning"),
)


class CalendarFull(RuntimeError):
    """No free whole hour in the local business's calendar for the demo's lead to ask for."""


def requested_slot(biz: BusinessSystem, today: date) -> tuple[date, str, str]:
    """A free meeting time for the simulated lead to ask for: (day, "HH:MM", how they say it).

    The demo books a real slot in the local business system (``.local/business.sqlite``), which
    keeps its bookings across runs, so each run asks for a time that is still free: next Monday at
    two first, then other whole hours and days. A user's own call to a full calendar still hears
    the refusal; only the demo's lead chooses around it, as a person would."""
    monday = today + timedelta(days=(-today.weekday()) % 7 or 7)
    week = [monday] + [today + timedelta(days=n) for n in range(1, 8)]
    later = [today + timedelta(days=n) for n in range(8, 21)]
    for day in dict.fromkeys(week + later):
        free = {s["time"] for s in biz.open_slots(day)}
        for hour, said in _ASKABLE:
            if f"{hour:02d}:00" in free:
                when = f"{day:%A}" if day in week else f"{day:%A} the {_ordinal(day.day)} of {day:%B}"
                return day, f"{hour:02d}:00", f"on {when} at {said}"
    raise CalendarFull("no free whole hour in the next three weeks of the local business's calendar")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def lead_script(when: str) -> dict[str, Any]:
    """The simulated lead: consents, says what they want, asks for a specialist ``when``, agrees."""
    return {
        "name": "demo-lead",
        "steps": [
            {"wait_for_agent": {"silence_ms": 1500, "timeout_ms": 30000}},
            {"say": "Yes, that's fine, you can record the call."},
            {"wait_for_agent": {"silence_ms": 1500}},
            {"say": "I want solar panels on my roof, and I'd like to start this month."},
            {"wait_for_agent": {"silence_ms": 1500}},
            {"say": f"Could a specialist call me {when}?"},
            {"wait_for_agent": {"silence_ms": 1500}},
            {"say": "Yes, that's right."},
            {"wait_for_agent": {"silence_ms": 1500}},
            {"say": "That's all, thank you. Goodbye."},
            {"wait_for_agent": {"silence_ms": 1500, "timeout_ms": 15000}},
        ],
        "after_steps": "hangup",
        "max_duration_ms": 180000,
    }


async def post_form(
    settings: Settings,
    submission_id: str,
    *,
    name: str = "Alex Demo",
    phone: str = LEAD_PHONE,
    reason: str = "Quote for rooftop solar",
) -> dict[str, Any]:
    """POST a web form to the gateway, signed as the website's server signs it; the 202 body."""
    body = json.dumps(
        {
            "submission_id": submission_id,
            "name": name,
            "phone": phone,
            "reason": reason,
            "timezone": "Australia/Sydney",
            "consent_to_contact": True,
        }
    ).encode()
    headers = {
        "content-type": "application/json",
        "x-switchboard-signature": sign_body(local_form_secret(), body),
    }
    async with httpx.AsyncClient(timeout=15) as http:
        resp = await http.post(f"{settings.public_api_url}/callbacks", content=body, headers=headers)
    resp.raise_for_status()
    result: dict[str, Any] = resp.json()
    return result


class Watcher:
    """Prints a live call as it happens, from the workflow's queries (no polling of the browser kind:
    a query every 250 ms, printing only what is new)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.turns_seen = 0
        self.tools_seen = 0
        self.status = ""

    def _turn(self, turn: Turn) -> None:
        who = "[bold cyan]agent [/]" if turn.speaker == "agent" else "[bold yellow]caller[/]"
        cut = " [dim](interrupted)[/]" if turn.interrupted else ""
        self.console.print(f"  {who} {turn.text}{cut}")

    def _tool(self, result: ToolResult) -> None:
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        args = json.dumps(result.arguments, default=str)
        shown = result.output.get("say") or result.error or json.dumps(result.output, default=str)[:120]
        self.console.print(f"  {mark} [magenta]tool[/] {result.name}({args}) → {shown}")

    async def follow(self, handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> CallOutcome:
        while True:
            try:
                view: CallView = await handle.query(CallWorkflow.view)
                turns: list[Turn] = await handle.query(CallWorkflow.get_transcript)
                tools: list[ToolResult] = await handle.query(CallWorkflow.get_tool_calls)
            except RPCError:
                view, turns, tools = None, [], []  # type: ignore[assignment]
            if view is not None and view.status != self.status:
                self.status = view.status
                self.console.print(f"[dim]— call status: {view.status}[/]")
            for turn in turns[self.turns_seen :]:
                self._turn(turn)
            for tool in tools[self.tools_seen :]:
                self._tool(tool)
            self.turns_seen, self.tools_seen = (
                max(self.turns_seen, len(turns)),
                max(self.tools_seen, len(tools)),
            )
            described = await handle.describe()
            if described.status is not None and described.status.name != "RUNNING":
                return await handle.result()
            await asyncio.sleep(0.25)


def latency_table(outcome: CallOutcome) -> Table:
    budget = {
        "turn_to_first_audio_ms": ("caller stops speaking → first agent audio", 700),
        "tool_round_trip_ms": ("tool call → result back to the model", 400),
        "barge_in_to_clear_ms": ("caller interrupts → agent audio cleared", 200),
        "end_intent_to_hangup_ms": ("end intent → stream closed (with the goodbye)", 1500),
        "goodbye_heard_to_hangup_ms": ("goodbye heard → stream closed", 0),
    }
    table = Table(title="latency (this call; the seed's budget)")
    for col in ("slice", "n", "median ms", "max ms", "budget ms"):
        table.add_column(col)
    for field, (label, goal) in budget.items():
        values: list[float] = getattr(outcome.latency, field)
        if values:
            table.add_row(
                label,
                str(len(values)),
                f"{statistics.median(values):.0f}",
                f"{max(values):.0f}",
                str(goal or "–"),
            )
        else:
            table.add_row(label, "0", "–", "–", str(goal or "–"))
    return table


async def run_demo(settings: Settings, console: Console) -> int:
    client: Client = await connect_client(settings)
    day, time_, when = requested_slot(SqliteBusiness(settings.home / BUSINESS_FILE), date.today())
    async with SimClient(f"http://127.0.0.1:{settings.ports.phone}") as sim:
        await sim.register(LEAD_PHONE, {"answer": "human", "rings": 2, "script": lead_script(when)})
    submission = f"demo-{uuid.uuid4().hex[:8]}"
    console.rule("[bold]A lead fills in the web form")
    started = time.perf_counter()
    accepted = await post_form(settings, submission)
    console.print(f"POST /callbacks → 202 {accepted}  ({(time.perf_counter() - started) * 1000:.0f} ms)")
    callback = client.get_workflow_handle_for(OutboundCallbackWorkflow.run, accepted["call_id"])
    call_id = f"{accepted['call_id']}-a1"
    handle = client.get_workflow_handle_for(CallWorkflow.run, call_id)
    for _ in range(200):  # the callback workflow starts the call's workflow, then dials
        try:
            await handle.describe()
            break
        except RPCError:
            await asyncio.sleep(0.05)
    console.print(f"dialling the lead ({(time.perf_counter() - started) * 1000:.0f} ms after the form)")
    console.rule("[bold]The call, live")
    outcome = await Watcher(console).follow(handle)
    final: CallbackOutcome = await callback.result()
    console.rule("[bold]After the call")
    summary = outcome.summary.model_dump(mode="json") if outcome.summary else {}
    summary.get("fields", {}).pop("transcript_excerpt", None)
    console.print(Panel(json.dumps(summary, indent=2), title=f"outcome: {outcome.outcome.value}"))
    console.print(latency_table(outcome))
    usage, cost = outcome.usage, outcome.cost
    if cost is not None:
        console.print(
            f"cost: {usage.total_tokens:,} Realtime tokens ({usage.responses} responses) → ${cost.model_usd}"
            f" model + ${cost.phone_usd} phone ({cost.phone_minutes} min) = [bold]${cost.total_usd}[/]"
        )
    if outcome.recording_key:
        console.print(f"recording: s3://{settings.recordings_bucket}/{outcome.recording_key} (SSE-KMS)")
        console.print(f"  play it: [bold]switchboard recording {call_id}[/] (writes a WAV you can open)")
    else:
        console.print("no recording was kept (no consent)")
    console.print(
        f"callback outcome: {final.outcome.value if final.outcome else 'none'}, attempts: {len(final.attempts)}"
    )
    ui = f"{settings.temporal_ui_url}/namespaces/{settings.temporal_namespace}/workflows/{call_id}"
    console.print(f"history: {ui}   audit: [bold]switchboard audit {call_id}[/]")
    console.print("The stack is still up; stop it with [bold]make down[/].")
    booked = any(
        r.ok
        and r.name == "book_meeting"
        and r.arguments.get("date") == day.isoformat()
        and r.arguments.get("time") == time_
        for r in outcome.tool_results
    )
    if not booked:
        console.print(f"[red]The meeting the lead asked for ({day:%A %-d %B} at {time_}) was not booked.[/]")
        return 2
    return 0
