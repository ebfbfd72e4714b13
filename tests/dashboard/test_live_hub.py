"""The server-side reader behind the event stream: a card first, then only what changed."""

from __future__ import annotations

import time
from pathlib import Path

from temporalio.client import Client

from dashboard.live import Event, LiveHub, Subscription
from switchboard.config import Settings
from switchboard.messages import ConsentAnswer, EndReason
from switchboard.models import Speaker
from tests.dashboard.simulated import simulated_call
from workflows.call import CallWorkflow

FIRST_WITHIN_S = 10.0  # a change can take a few polls to show on a loaded 2-core machine


async def events_for(
    sub: Subscription, call_id: str, quiet_s: float, first_within_s: float | None = None
) -> list[Event]:
    """This call's events until none has come for ``quiet_s`` (other tests' calls are ignored).

    ``first_within_s``: how long to wait for the first one, where one is expected (default ``quiet_s``).
    """
    found: list[Event] = []
    deadline = time.monotonic() + (quiet_s if first_within_s is None else first_within_s)
    while (left := deadline - time.monotonic()) > 0:
        event = await sub.next(left)
        if event is not None and event.call_id == call_id:
            found.append(event)
            deadline = time.monotonic() + quiet_s
    return found


async def test_hub_sends_a_card_then_only_changes(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    hub = LiveHub(temporal_client, poll_s=0.05)
    try:
        async with hub.subscribe() as sub, simulated_call(temporal_client, stack, tmp_path) as call:
            first = await events_for(sub, call.call_id, quiet_s=0.6, first_within_s=FIRST_WITHIN_S)
            assert first[0].kind == "card" and all(e.kind == "head" for e in first[1:])
            assert await events_for(sub, call.call_id, quiet_s=0.4) == []  # nothing changed, nothing sent

            await call.handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
            consent = await events_for(sub, call.call_id, quiet_s=0.4, first_within_s=FIRST_WITHIN_S)
            assert [e.kind for e in consent] == ["head"]

            await call.say(Speaker.CALLER, "hello")
            await call.say(Speaker.AGENT, "hi, how can I help?")
            turns = await events_for(sub, call.call_id, quiet_s=0.4, first_within_s=FIRST_WITHIN_S)
            assert {e.kind for e in turns} == {"turns"} and turns[0].start == 0
            assert len(hub.calls[call.call_id].turns) == 2

            async with hub.subscribe() as late:  # a second stream starts from a full card
                card = await events_for(late, call.call_id, quiet_s=0.3, first_within_s=FIRST_WITHIN_S)
                assert card == [Event("card", call.call_id)]

            await call.finish(EndReason.CALLER_HUNG_UP)
            ended = await events_for(sub, call.call_id, quiet_s=0.6, first_within_s=FIRST_WITHIN_S)
            assert ended[-1].kind == "ended" and call.call_id not in hub.calls
    finally:
        await hub.close()
