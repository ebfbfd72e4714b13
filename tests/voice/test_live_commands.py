"""The voice worker's registry of live conversations: a pushed command reaches its conversation
once, whether it arrives before the conversation opened, while it runs, or again on a retry; after
the conversation ended it is answered ``gone``."""

from __future__ import annotations

import asyncio

from switchboard.messages import CommandDelivery, ConversationCommand
from voice.live_commands import CommandActivities, LiveConversations


def _command(seq: int, kind: str = "whisper") -> ConversationCommand:
    return ConversationCommand(seq=seq, kind=kind, line=f"line {seq}", reason="supervisor")


async def test_a_command_before_the_conversation_waits_for_it_once() -> None:
    live = LiveConversations()
    assert live.deliver("c1", _command(1)) == "queued"
    assert live.deliver("c1", _command(1)) == "queued"  # a retried activity: kept once
    queue = live.open("c1")
    assert live.deliver("c1", _command(1)) == "duplicate"
    assert live.deliver("c1", _command(2, "say_and_end")) == "delivered"
    got = [queue.get_nowait(), queue.get_nowait()]
    assert [c.seq for c in got] == [1, 2] and queue.empty()


async def test_after_the_conversation_ended_a_command_is_gone() -> None:
    live = LiveConversations()
    live.open("c2")
    live.close("c2")
    assert live.deliver("c2", _command(1)) == "gone"
    assert live.deliver("other", _command(1)) == "queued"  # other calls are not affected


async def test_the_activity_hands_the_command_to_the_running_conversation() -> None:
    live = LiveConversations()
    queue = live.open("c3")
    activities = CommandActivities(live)
    answer = await activities.deliver_command(CommandDelivery(call_id="c3", command=_command(1)))
    assert answer == "delivered"
    assert (await asyncio.wait_for(queue.get(), 1)).line == "line 1"
