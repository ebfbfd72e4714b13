"""A simulated live call for the dashboard tests: a real CallWorkflow on the test stack whose
conversation is a scripted ``converse`` activity that runs (heartbeating) until the test ends it.

The test is the caller and the agent: it signals turns, runs consent and tool Updates, then ends
the conversation. Telephony REST (hangup, transfer) is replaced by fakes that record what they got.
The workflow's commands reach the conversation as on a voice worker (``deliver_command``), in
``SimulatedCall.commands``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.recordings import RecordingActivities
from switchboard.config import Settings
from switchboard.messages import (
    ConversationCommand,
    ConverseInput,
    ConverseResult,
    EndReason,
    HangupInput,
    StreamAttached,
    TransferInput,
    TransferProgress,
    TurnBatch,
)
from switchboard.models import CallOutcome, CallRequest, Direction, LatencySlices, Speaker, Turn
from voice.audio import write_wav
from voice.live_commands import CommandActivities, LiveConversations
from workflows.call import CallWorkflow
from workflows.worker import build_worker

CALLER_NUMBER = "+61412345678"
RATE = 8000


def tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * freq * t) * 8000).astype(np.int16)


@dataclass
class SimulatedCall:
    handle: WorkflowHandle[CallWorkflow, CallOutcome]
    call_id: str
    end: asyncio.Future[EndReason]
    commands: asyncio.Queue[ConversationCommand]
    transfers: list[TransferInput] = field(default_factory=list)
    clock_ms: int = 0

    async def say(
        self, speaker: Speaker, text: str, first_audio_ms: float | None = None, *, interrupted: bool = False
    ) -> None:
        """A turn, as the voice worker sends it: an answer with its first-audio time, if given; an
        interrupted one is cut 800 ms in (the caller talked over it)."""
        self.clock_ms += 2500
        turn = Turn(
            speaker=speaker,
            text=text,
            start_ms=self.clock_ms,
            end_ms=self.clock_ms + (800 if interrupted else 2000),
            first_audio_ms=first_audio_ms,
            interrupted=interrupted,
        )
        slices = LatencySlices(turn_to_first_audio_ms=[first_audio_ms]) if first_audio_ms else None
        await self.handle.signal(CallWorkflow.add_turns, TurnBatch(turns=[turn], latency=slices))

    async def finish(self, reason: EndReason = EndReason.AGENT_ENDED) -> CallOutcome:
        if not self.end.done():
            self.end.set_result(reason)
        return await self.handle.result()


@asynccontextmanager
async def simulated_call(
    client: Client,
    settings: Settings,
    tmp_path: Path,
    profile: str = "clinic_booking",
    overrides: Mapping[str, Callable[..., Any]] | None = None,
    recording_s: float = 1.0,
) -> AsyncIterator[SimulatedCall]:
    host = f"dash-{uuid.uuid4().hex[:6]}"
    call_id = f"call-{uuid.uuid4()}"
    wav = tmp_path / f"{call_id}.wav"
    end: asyncio.Future[EndReason] = asyncio.get_running_loop().create_future()
    transfers: list[TransferInput] = []
    connected = asyncio.Event()
    live = LiveConversations()
    commands = live.open(call_id)  # the conversation's queue, before the workflow's first command

    @activity.defn(name="converse")
    async def converse(inp: ConverseInput) -> ConverseResult:
        connected.set()
        while not end.done():  # a live conversation heartbeats until it ends
            activity.heartbeat()
            await asyncio.wait([end], timeout=1.0)
        live.close(inp.call_id)
        write_wav(wav, [tone(440, recording_s), tone(660, recording_s)], RATE)
        return ConverseResult(end_reason=end.result(), recording_path=str(wav), duration_s=recording_s)

    @activity.defn(name="transfer")
    async def transfer(req: TransferInput) -> str:
        transfers.append(req)
        if req.workflow_id:  # a warm transfer: the person answers and hears the note, as Twilio reports it
            progress = TransferProgress(step="whisper")
            await client.get_workflow_handle(req.workflow_id).signal(CallWorkflow.transfer_progress, progress)
        return "transferred"

    @activity.defn(name="hangup")
    async def hangup(req: HangupInput) -> str:
        return "completed"

    recordings = RecordingActivities(settings)
    voice = Worker(
        client,
        task_queue=f"voice-{host}",
        activities=[
            converse,
            CommandActivities(live).deliver_command,
            recordings.archive_recording,
            recordings.delete_recording,
        ],
    )
    fakes: dict[str, Callable[..., Any]] = {"transfer": transfer, "hangup": hangup}
    fakes |= dict(overrides or {})
    async with build_worker(client, settings, overrides=fakes), voice:
        handle = await client.start_workflow(
            CallWorkflow.run,
            CallRequest(
                call_id=call_id,
                direction=Direction.INBOUND,
                profile=profile,
                to_number=settings.twilio_from_number,
                from_number=CALLER_NUMBER,
                call_sid=f"CA{uuid.uuid4().hex}",
            ),
            id=call_id,
            task_queue=settings.task_queue,
        )
        await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZ1"))
        await asyncio.wait_for(connected.wait(), 30)  # the caller is on the line: the agent speaks first
        call = SimulatedCall(handle=handle, call_id=call_id, end=end, commands=commands, transfers=transfers)
        try:
            yield call
        finally:
            if not end.done():
                end.set_result(EndReason.CALLER_HUNG_UP)
            await handle.result()
