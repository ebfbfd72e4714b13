"""Resuming a call on another voice host (workflows/resume.py), on the real dev server: the
conversation is played by scripted ``converse`` activities on two hosts' queues; the first host
"dies" (its activity never answers), the ``resume`` Update answers Twilio's ``<Redirect>``, and a
``stream_attached`` from the second host carries the call on there with the conversation so far.

Their histories are replay fixtures, recorded with ``OTEL_SDK_DISABLED=true SWITCHBOARD_EXPORT_HISTORIES=1``
(the replayer reads no encrypted trace header of a signal; tests/test_replay.py)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.recordings import RecordingActivities
from switchboard.audit import fetch_timeline
from switchboard.config import Settings
from switchboard.messages import (
    ConsentAnswer,
    ConverseInput,
    ConverseResult,
    EndReason,
    ResumeContext,
    ResumeRequest,
    StreamAttached,
    TransferProgress,
    TurnBatch,
)
from switchboard.models import CallOutcome, Outcome, Speaker, Turn
from tests.workflows.test_call_workflow import export_history, next_weekday, start_call, tool
from voice.audio import write_wav
from workflows.call import CallWorkflow
from workflows.resume import GAVE_UP, MAX_RESUMES, RESUME_LINE
from workflows.worker import build_worker

Handle = WorkflowHandle[CallWorkflow, CallOutcome]


class TwoHosts:
    """Host ``a`` holds the call first and is lost mid-call; host ``b`` takes it over."""

    def __init__(self, client: Client, settings: Settings, tmp_path: Path) -> None:
        self.client, self.settings, self.wav = client, settings, tmp_path / "resumed.wav"
        self.a, self.b = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
        self.lost = asyncio.Event()  # host a's conversation got as far as it gets
        self.resumed: list[ResumeContext] = []

    def workers(self, day: str) -> list[Worker]:
        @activity.defn(name="converse")
        async def on_a(inp: ConverseInput) -> ConverseResult:
            handle = self.client.get_workflow_handle_for(CallWorkflow.run, inp.call_id)
            await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
            turn = Turn(speaker=Speaker.CALLER, text="Anything free tomorrow?", start_ms=4000)
            await handle.signal(CallWorkflow.add_turns, TurnBatch(turns=[turn]))
            await handle.execute_update(CallWorkflow.run_tool, tool("check_availability", date=day))
            self.lost.set()
            await asyncio.Event().wait()  # the host is gone: no answer, no heartbeat, ever
            raise AssertionError("unreachable")

        @activity.defn(name="converse")
        async def on_b(inp: ConverseInput) -> ConverseResult:
            assert inp.resume is not None
            self.resumed.append(inp.resume)
            handle = self.client.get_workflow_handle_for(CallWorkflow.run, inp.call_id)
            booking = {"date": day, "time": "10:00", "name": "Jane Citizen", "phone": "0412345678"}
            await handle.execute_update(
                CallWorkflow.run_tool, tool("book_appointment", **booking, confirmed=True)
            )
            await handle.execute_update(CallWorkflow.run_tool, tool("end_call", reason="done"))
            ending = await handle.execute_update(CallWorkflow.resume, ResumeRequest())
            assert ending.action == "hangup" and "ended" in ending.reason  # the goodbye: no new stream
            write_wav(self.wav, [np.zeros(8000, np.int16)], 8000)
            return ConverseResult(end_reason=EndReason.AGENT_ENDED, recording_path=str(self.wav))

        recordings = RecordingActivities(self.settings)
        archive = [recordings.archive_recording, recordings.delete_recording]
        return [
            Worker(self.client, task_queue=f"voice-{self.a}", activities=[on_a]),
            Worker(self.client, task_queue=f"voice-{self.b}", activities=[on_b, *archive]),
        ]


async def attached(handle: Handle, host: str, sid: str) -> None:
    await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid=sid))


async def test_a_call_resumes_on_the_new_host_with_the_conversation_so_far(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    hosts = TwoHosts(temporal_client, stack, tmp_path)
    a, b = hosts.workers(next_weekday().isoformat())
    async with build_worker(temporal_client, stack), a, b:
        handle = await start_call(temporal_client, stack)
        await attached(handle, hosts.a, "MZ1")
        await asyncio.wait_for(hosts.lost.wait(), 30)
        decision = await handle.execute_update(CallWorkflow.resume, ResumeRequest(call_sid="CA1"))
        assert decision.action == "stream" and decision.attempt == 1
        await attached(handle, hosts.b, "MZ2")  # the new stream, through the load balancer
        outcome = await asyncio.wait_for(handle.result(), 60)
        await export_history(handle)
        timeline = await fetch_timeline(temporal_client, handle.id)

    resumes = [e.title for e in timeline if e.kind == "resume"]  # the audit shows the resume
    assert resumes == ["stream lost: resumed on a new one", "stream ended: hang up"]
    (context,) = hosts.resumed
    assert context.consent is not None and context.consent.recording  # never asked again
    assert [r.name for r in context.tool_results] == ["check_availability"]  # never run again
    assert context.result_after_turns == [1] and [t.text for t in context.turns] == [
        "Anything free tomorrow?"
    ]
    assert context.line == RESUME_LINE and context.attempt == 1
    assert outcome.outcome == Outcome.COMPLETED and outcome.resumes == 1
    assert [r.name for r in outcome.tool_results] == ["check_availability", "book_appointment", "end_call"]
    assert outcome.recording_key  # archived on the host that recorded the rest of the call


async def test_a_call_lost_on_every_host_is_handed_to_a_person_with_the_note(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    hosts = TwoHosts(temporal_client, stack, tmp_path)
    a, b = hosts.workers(next_weekday().isoformat())
    async with build_worker(temporal_client, stack), a, b:
        handle = await start_call(temporal_client, stack)
        await attached(handle, hosts.a, "MZ1")
        await asyncio.wait_for(hosts.lost.wait(), 30)
        decisions = [
            await handle.execute_update(CallWorkflow.resume, ResumeRequest()) for _ in range(MAX_RESUMES + 1)
        ]  # each new stream failed to connect (no healthy worker): Twilio came straight back
        assert [d.action for d in decisions] == ["stream"] * MAX_RESUMES + ["transfer"]
        gave_up = decisions[-1]
        assert gave_up.say and gave_up.to_number and gave_up.reason == GAVE_UP
        handover = await handle.query(CallWorkflow.get_handover)
        assert handover is not None and "check availability" in handover.note
        await handle.signal(CallWorkflow.transfer_progress, TransferProgress(step="whisper"))
        await handle.signal(
            CallWorkflow.transfer_progress, TransferProgress(step="result", dial_status="completed")
        )
        outcome = await asyncio.wait_for(handle.result(), 60)
        await export_history(handle)

    assert outcome.outcome == Outcome.ESCALATED and outcome.resumes == 0
    assert outcome.summary is not None and outcome.summary.fields["escalation"] == handover.note
