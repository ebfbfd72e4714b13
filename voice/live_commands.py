"""The workflow's commands to a live conversation, pushed to the host that holds the call.

The call's workflow runs ``deliver_command`` on this host's queue (``voice-<host>``, the host its
``stream_attached`` named) for each command: a voicemail message, the wrap-up at the maximum
length, a supervisor's whisper or end. The activity runs in the voice worker's own process and
loop, so it hands the command to the live conversation through :class:`LiveConversations`, a
registry of the conversations running here by call id. Nothing is polled.

- A command that arrives before its conversation has opened waits for it (``EARLY_FOR_S``).
- A command for a conversation that has ended here is answered ``gone``.
- Delivery is idempotent by the command's ``seq``: a retried activity delivers nothing twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Literal

from temporalio import activity

from switchboard.messages import CommandDelivery, ConversationCommand

EARLY_FOR_S = 120.0
ENDED_KEPT = 4096

Delivered = Literal["delivered", "duplicate", "queued", "gone"]


class LiveConversations:
    def __init__(self) -> None:
        self._live: dict[str, asyncio.Queue[ConversationCommand]] = {}
        self._seen: dict[str, set[int]] = {}
        self._early: dict[str, tuple[float, list[ConversationCommand]]] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()

    def open(self, call_id: str) -> asyncio.Queue[ConversationCommand]:
        """A conversation starts here: its command queue, with whatever arrived before it."""
        queue: asyncio.Queue[ConversationCommand] = asyncio.Queue()
        self._ended.pop(call_id, None)
        seen = self._seen.setdefault(call_id, set())
        for command in self._early.pop(call_id, (0.0, []))[1]:
            if command.seq not in seen:
                seen.add(command.seq)
                queue.put_nowait(command)
        self._live[call_id] = queue
        return queue

    def close(self, call_id: str) -> None:
        self._live.pop(call_id, None)
        self._seen.pop(call_id, None)
        self._ended[call_id] = None
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)

    def deliver(self, call_id: str, command: ConversationCommand) -> Delivered:
        self._expire()
        queue = self._live.get(call_id)
        if queue is not None:
            seen = self._seen.setdefault(call_id, set())
            if command.seq in seen:
                return "duplicate"
            seen.add(command.seq)
            queue.put_nowait(command)
            return "delivered"
        if call_id in self._ended:
            return "gone"
        _, early = self._early.setdefault(call_id, (time.monotonic(), []))
        if all(c.seq != command.seq for c in early):
            early.append(command)
        return "queued"

    def _expire(self) -> None:
        now = time.monotonic()
        for call_id in [c for c, (at, _) in self._early.items() if now - at > EARLY_FOR_S]:
            del self._early[call_id]


class CommandActivities:
    def __init__(self, live: LiveConversations) -> None:
        self.live = live

    @activity.defn(name="deliver_command")
    async def deliver_command(self, inp: CommandDelivery) -> str:
        return self.live.deliver(inp.call_id, inp.command)
