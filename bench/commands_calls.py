"""One side of ``bench/bench_commands.py``: concurrent live calls on a running dev server, run by
the tree on ``PYTHONPATH`` — this one (commands pushed) or the baseline checkout (polled) — and
the Temporal RPCs the server counted while they were live.

Run as a script (``python bench/commands_calls.py``) with ``PYTHONPATH`` set to the tree under test
and the stack's ``SWITCHBOARD_*`` settings in the environment: it imports that tree's workflow,
worker and ``VoiceActivities.converse`` and runs them for real. Only the media stream and the
Realtime conversation are replaced: the conversation takes the workflow's commands from the queue
the real activity gives it (fed by its polling heartbeat in the baseline, by ``deliver_command``
now) and ends on ``say_and_end`` — so the whole command channel under test is the tree's own code.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import time
import urllib.request
import uuid
from collections import Counter
from typing import Any

from temporalio.worker import Worker

import voice.activity as voice_activity
import workflows
from switchboard.config import get_settings
from switchboard.messages import StreamAttached, SupervisorAction
from switchboard.models import CallRequest, Direction
from switchboard.temporal import connect_client
from voice.conversation import ConversationResult
from workflows.call import CallWorkflow
from workflows.worker import build_worker

_SAMPLE = re.compile(r"^service_requests\{([^}]*)\}\s+([0-9.e+]+)$", re.M)


async def frontend_requests(url: str) -> tuple[Counter[str], float]:
    """The dev server's ``service_requests`` of its frontend (client and worker RPCs), by operation,
    and when they were read (monotonic seconds)."""
    await asyncio.sleep(2.0)  # the server's metrics reach its endpoint about once a second
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=10).read().decode())
    counts: Counter[str] = Counter()
    for labels, value in _SAMPLE.findall(text):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields.get("service_name") == "frontend":
            counts[fields.get("operation", "?")] += int(float(value))
    return counts, time.monotonic()


class _Stream:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.arrived_at = time.time()

    def release(self) -> None:
        pass


async def _conversation(
    stream: Any, profile: Any, hooks: Any, settings: Any, **kw: Any
) -> ConversationResult:
    commands: asyncio.Queue[Any] = kw["commands"]
    while True:
        command = await commands.get()
        if command.kind == "say_and_end":
            return ConversationResult(call_id=stream.call_id, end_reason="agent_ended")


async def _in_conversation(handle: Any) -> None:
    for _ in range(3000):
        if (await handle.query(CallWorkflow.view)).status == "disclosure":
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("a call never reached its conversation")


async def main() -> None:
    calls, window_s, metrics_url = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    settings = get_settings()
    client = await connect_client(settings)
    host = f"bench-{uuid.uuid4().hex[:6]}"
    acts = voice_activity.VoiceActivities(client, settings)

    async def claim(call_id: str, _limit_s: float) -> _Stream:
        return _Stream(call_id)

    acts.broker.claim = claim  # type: ignore[method-assign,assignment]
    voice_activity.run_conversation = _conversation
    voice_acts: list[Any] = [acts.converse]
    try:
        from voice.live_commands import CommandActivities

        voice_acts.append(CommandActivities(acts.live).deliver_command)
        mode = "push"
    except ImportError:
        mode = "poll"
    voice = Worker(client, task_queue=f"voice-{host}", activities=voice_acts, max_concurrent_activities=1000)
    async with build_worker(client, settings), voice:
        handles = []
        for _ in range(calls):
            call_id = f"bench-{uuid.uuid4()}"
            req = CallRequest(
                call_id=call_id,
                direction=Direction.INBOUND,
                profile="clinic_booking",
                to_number="+61255550100",
                from_number="+61400000000",
            )
            handle = await client.start_workflow(
                CallWorkflow.run, req, id=call_id, task_queue=settings.task_queue
            )
            await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZbench"))
            handles.append(handle)
        for handle in handles:  # every call in its conversation
            await _in_conversation(handle)
        await asyncio.sleep(3.0)  # the converse activities started and settled
        before, t0 = await frontend_requests(metrics_url)

        async def whisper(handle: Any) -> None:  # one supervisor whisper per call in the window
            await asyncio.sleep(random.uniform(0, window_s - 5))
            await handle.execute_update(
                CallWorkflow.supervise, SupervisorAction(kind="whisper", text="Offer a callback")
            )

        await asyncio.gather(asyncio.sleep(window_s), *(whisper(h) for h in handles))
        counted, t1 = await frontend_requests(metrics_url)
        live, live_s = counted - before, t1 - t0
        ending = counted
        await asyncio.gather(
            *(h.execute_update(CallWorkflow.supervise, SupervisorAction(kind="end_call")) for h in handles)
        )
        await asyncio.gather(*(h.result() for h in handles))
        ended = (await frontend_requests(metrics_url))[0] - ending
    call_minutes = calls * live_s / 60
    print(
        json.dumps(
            {
                "mode": mode,
                "tree": os.path.dirname(os.path.dirname(workflows.__file__)),
                "calls": calls,
                "live_s": round(live_s, 1),
                "whispers_per_call": 1,
                "rpcs_per_call_minute": round(sum(live.values()) / call_minutes, 1),
                "live_rpcs_by_operation": dict(live.most_common()),
                "end_rpcs_per_call": round(sum(ended.values()) / calls, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
