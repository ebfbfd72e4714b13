"""Live calls: one reader per server process queries each running call's workflow and fans out
only what changed to every open event stream (server-sent events). Browsers never poll.

Per tick: list the running ``CallWorkflow`` executions (visibility), query each one's ``status``,
and query ``transcript`` / ``tool_calls`` only when their counts moved. Each subscriber first gets
a full card per call, then deltas: a new head (status, consent, escalation, approvals), new turns,
new tool results, or the call's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.service import RPCError

from switchboard.messages import CallView
from switchboard.models import ToolResult, Turn
from workflows.call import CallWorkflow

RUNNING = "WorkflowType='CallWorkflow' AND ExecutionStatus='Running'"
log = logging.getLogger("switchboard.dashboard")


@dataclass
class LiveCall:
    view: CallView
    turns: list[Turn] = field(default_factory=list)
    tools: list[ToolResult] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``kind`` is card | head | turns | tools | ended."""

    kind: str
    call_id: str
    start: int = 0  # for turns/tools: the index of the first item sent

    def encode(self, html: str) -> bytes:
        data = json.dumps({"call_id": self.call_id, "start": self.start, "html": html})
        return f"event: {self.kind}\ndata: {data}\n\n".encode()


Render = Callable[[Event, LiveCall | None], str]


class Subscription:
    def __init__(self, queue: asyncio.Queue[Event], snapshot: list[Event]) -> None:
        self._queue = queue
        self._snapshot = snapshot

    async def next(self, timeout_s: float) -> Event | None:
        """The next event, or None after ``timeout_s`` without one (time for a keepalive)."""
        if self._snapshot:
            return self._snapshot.pop(0)
        try:
            return await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return None


class LiveHub:
    def __init__(self, client: Client, poll_s: float) -> None:
        self.client = client
        self.poll_s = poll_s
        self.calls: dict[str, LiveCall] = {}
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- reading Temporal ------------------------------------------------------------------

    async def refresh(self) -> list[Event]:
        """Read every running call once; return (and publish) what changed."""
        async with self._lock:
            ids = [wf.id async for wf in self.client.list_workflows(RUNNING, limit=200)]
            results = await asyncio.gather(*(self._read(i) for i in ids))
            events = [e for batch in results for e in batch]
            for gone in set(self.calls) - set(ids):
                del self.calls[gone]
                events.append(Event("ended", gone))
            for event in events:
                for queue in self._subscribers:
                    queue.put_nowait(event)
            return events

    async def _read(self, call_id: str) -> list[Event]:
        handle = self.client.get_workflow_handle_for(CallWorkflow.run, call_id)
        try:
            view = await handle.query(CallWorkflow.view)
            known = self.calls.get(call_id)
            turns = known.turns if known else []
            tools = known.tools if known else []
            if view.turns != len(turns):
                turns = await handle.query(CallWorkflow.get_transcript)
            if view.tool_calls != len(tools):
                tools = await handle.query(CallWorkflow.get_tool_calls)
        except RPCError as err:  # finished between the listing and the query, or no worker yet
            log.debug("live call %s not readable: %s", call_id, err.message)
            return []
        self.calls[call_id] = LiveCall(view=view, turns=list(turns), tools=list(tools))
        if known is None:
            return [Event("card", call_id)]
        events = []
        if view.model_dump(exclude={"turns", "tool_calls"}) != known.view.model_dump(
            exclude={"turns", "tool_calls"}
        ):
            events.append(Event("head", call_id))
        if len(turns) > len(known.turns):
            events.append(Event("turns", call_id, start=len(known.turns)))
        elif len(turns) < len(known.turns):  # a reset call (continue-as-new): send it whole
            events.append(Event("card", call_id))
        if len(tools) > len(known.tools):
            events.append(Event("tools", call_id, start=len(known.tools)))
        return events

    # -- fan-out ---------------------------------------------------------------------------

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        """One stream's events: a full card per call now, then changes as they happen."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        async with self._lock:
            snapshot = [Event("card", call_id) for call_id in self.calls]
            self._subscribers.add(queue)
        self._ensure_running()
        try:
            yield Subscription(queue, snapshot)
        finally:
            self._subscribers.discard(queue)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="live-hub")

    async def _run(self) -> None:
        while self._subscribers:
            try:
                await self.refresh()
            except Exception:  # keep the streams alive through a Temporal hiccup; log and retry
                log.exception("reading live calls failed")
            await asyncio.sleep(self.poll_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
