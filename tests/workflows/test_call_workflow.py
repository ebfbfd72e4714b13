"""CallWorkflow on the real dev server, with the conversation played by a scripted activity
registered under the real name on the voice host's queue (the real voice path is tested e2e)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import Worker

from activities.recordings import RecordingActivities
from functions._runtime import assign_person
from switchboard import aws
from switchboard.config import Settings
from switchboard.costs import TokenUsage
from switchboard.messages import (
    ConsentAnswer,
    ConversationCommand,
    ConverseInput,
    ConverseResult,
    EndReason,
    StreamAttached,
    TelephonyEvent,
    ToolCallRequest,
    TurnBatch,
)
from switchboard.models import (
    AgentProfile,
    CallOutcome,
    CallRequest,
    Direction,
    Outcome,
    Speaker,
    ToolCall,
    Turn,
)
from voice.audio import write_wav
from voice.live_commands import CommandActivities, LiveConversations
from workflows.call import CallWorkflow
from workflows.worker import build_worker

Script = Callable[[WorkflowHandle[CallWorkflow, CallOutcome]], Awaitable[EndReason]]


def next_weekday() -> date:
    d = date.today() + timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


async def rejected(handle: WorkflowHandle[CallWorkflow, CallOutcome], req: ToolCallRequest) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await handle.execute_update(CallWorkflow.run_tool, req)
    return str(err.value.cause)


def tool(tool_name: str, /, **arguments: object) -> ToolCallRequest:
    return ToolCallRequest(
        call=ToolCall(call_id=f"call_{uuid.uuid4().hex[:8]}", name=tool_name, arguments=arguments)
    )


async def start_call(
    client: Client,
    settings: Settings,
    profile: str = "clinic_booking",
    direction: Direction = Direction.INBOUND,
    caller: str = "+61412345678",
    keyed: bool = False,
) -> WorkflowHandle[CallWorkflow, CallOutcome]:
    """A call's workflow, inbound from the caller's mobile or outbound to it; ``keyed``: the caller
    gets their own data key first, as the inbound_call function gives it."""
    call_id = f"call-{uuid.uuid4()}"
    business = "+61255550100"
    inbound = direction == Direction.INBOUND
    if keyed:
        await asyncio.to_thread(assign_person, settings, call_id, caller)
    return await client.start_workflow(
        CallWorkflow.run,
        CallRequest(
            call_id=call_id,
            direction=direction,
            profile=profile,
            to_number=business if inbound else caller,
            from_number=caller if inbound else "",
        ),
        id=call_id,
        task_queue=settings.task_queue,
    )


async def run_call(
    client: Client,
    settings: Settings,
    tmp_path: Path,
    script: Script,
    profile: str = "clinic_booking",
    overrides: Mapping[str, Callable[..., Any]] | None = None,
    caller: str = "+61412345678",
    keyed: bool = False,
    usage: TokenUsage | None = None,
    duration_s: float = 1.0,
    live: LiveConversations | None = None,
) -> CallOutcome:
    """Run a call whose conversation is ``script``; ``converse`` reports ``usage`` over ``duration_s``;
    the workflow's commands reach it through ``live``, as on a voice worker."""
    host = f"test-{uuid.uuid4().hex[:6]}"
    wav = tmp_path / "call.wav"
    live = live if live is not None else LiveConversations()

    @activity.defn(name="converse")
    async def converse(inp: ConverseInput) -> ConverseResult:
        handle = client.get_workflow_handle_for(CallWorkflow.run, inp.call_id)
        write_wav(wav, [np.zeros(8000, np.int16), np.zeros(8000, np.int16)], 8000)
        live.open(inp.call_id)
        try:
            reason = await script(handle)
        finally:
            live.close(inp.call_id)
        return ConverseResult(
            end_reason=reason, recording_path=str(wav), duration_s=duration_s, usage=usage or TokenUsage()
        )

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
    async with build_worker(client, settings, overrides=overrides), voice:
        handle = await start_call(client, settings, profile, caller=caller, keyed=keyed)
        await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZ1"))
        outcome = await handle.result()
        await export_history(handle)
        return outcome


class OpenedConversations(LiveConversations):
    """The voice worker's registry, keeping each conversation's command queue for the test to read."""

    def __init__(self) -> None:
        super().__init__()
        self.queues: dict[str, asyncio.Queue[ConversationCommand]] = {}

    def open(self, call_id: str) -> asyncio.Queue[ConversationCommand]:
        self.queues[call_id] = super().open(call_id)
        return self.queues[call_id]


async def export_history(handle: WorkflowHandle[Any, Any]) -> None:
    """With SWITCHBOARD_EXPORT_HISTORIES=1, keep this run's history as a replay fixture."""
    if os.environ.get("SWITCHBOARD_EXPORT_HISTORIES") != "1":
        return
    name = os.environ.get("PYTEST_CURRENT_TEST", "call").split("::")[-1].split(" ")[0]
    history = await handle.fetch_history()
    (Path(__file__).parent.parent / "histories" / f"{name}.json").write_text(history.to_json())


async def test_booking_call_books_once_and_archives_with_consent(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    day = next_weekday().isoformat()
    booking = {"date": day, "time": "10:00", "name": "Jane Citizen", "phone": "0412345678"}

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        assert "consent" in await rejected(handle, tool("check_availability", date=day))  # not before consent
        consent = await handle.execute_update(
            CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes")
        )
        assert consent.output["granted"] is True
        await handle.signal(
            CallWorkflow.add_turns,
            TurnBatch(
                turns=[
                    Turn(speaker=Speaker.CALLER, text="I'd like to book for tomorrow at ten", start_ms=4000)
                ]
            ),
        )
        slots = await handle.execute_update(CallWorkflow.run_tool, tool("check_availability", date=day))
        assert slots.ok and "10:00" in slots.output["times"]
        # Refused by the validator: no read-back yet; from an interrupted response; not this agent's tool;
        # invalid arguments.
        assert "confirmed=true" in await rejected(
            handle, tool("book_appointment", **booking, confirmed=False)
        )
        cancelled = ToolCallRequest(
            call=tool("book_appointment", **booking, confirmed=True).call, cancelled=True
        )
        assert "interrupted" in await rejected(handle, cancelled)
        assert "not a tool" in await rejected(handle, tool("create_ticket", summary="x"))
        assert "time" in await rejected(handle, tool("check_availability", date=day, after_time="25:99"))
        booked = await handle.execute_update(
            CallWorkflow.run_tool, tool("book_appointment", **booking, confirmed=True)
        )
        assert booked.ok and booked.output["booking_id"].startswith("B")
        second = await handle.execute_update(
            CallWorkflow.record_consent, ConsentAnswer(granted=False, said="no")
        )
        assert second.output["granted"] is True  # the first answer stands
        bye = await handle.execute_update(CallWorkflow.run_tool, tool("end_call", reason="done"))
        assert bye.output["action"] == "end_call"
        view = await handle.query(CallWorkflow.view)
        assert view.status == "conversation" and view.tool_calls == 3
        return EndReason.AGENT_ENDED

    outcome = await run_call(temporal_client, stack, tmp_path, script)
    assert outcome.outcome == Outcome.COMPLETED
    assert outcome.summary is not None and outcome.summary.fields["booked"] is True
    assert outcome.summary.fields["time"] == "10:00" and outcome.summary.fields["date"] == day
    assert outcome.recording_key and outcome.recording_key.endswith(".wav")
    head = aws.client("s3", stack).head_object(Bucket=stack.recordings_bucket, Key=outcome.recording_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["Metadata"]["consent"] == "granted" and head["Metadata"]["profile"] == "clinic_booking"
    assert not (tmp_path / "call.wav").exists()  # deleted only after the verified upload


async def test_refused_consent_keeps_no_recording(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        answer = await handle.execute_update(
            CallWorkflow.record_consent, ConsentAnswer(granted=False, said="no")
        )
        assert "won't be recorded" in answer.output["say"]
        await handle.execute_update(CallWorkflow.run_tool, tool("end_call"))
        return EndReason.AGENT_ENDED

    outcome = await run_call(temporal_client, stack, tmp_path, script)
    assert outcome.consent is not None and outcome.consent.recording is False
    assert outcome.outcome == Outcome.CONSENT_REFUSED
    assert outcome.recording_key is None
    assert not (tmp_path / "call.wav").exists()


async def test_audit_timeline_shows_every_step(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    from switchboard.audit import fetch_timeline

    day = next_weekday().isoformat()

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        answer = ConsentAnswer(granted=True, said="sure", over_disclosure=True)  # said while it played
        await handle.execute_update(CallWorkflow.record_consent, answer)
        await handle.execute_update(CallWorkflow.run_tool, tool("check_availability", date=day))
        await handle.execute_update(
            CallWorkflow.run_tool,
            tool(
                "book_appointment", date=day, time="14:00", name="Sam Lee", phone="0412000111", confirmed=True
            ),
        )
        await handle.execute_update(CallWorkflow.run_tool, tool("end_call"))
        return EndReason.AGENT_ENDED

    outcome = await run_call(temporal_client, stack, tmp_path, script)
    timeline = await fetch_timeline(temporal_client, outcome.call_id)
    kinds = [e.kind for e in timeline]
    for kind in (
        "profile",
        "disclosure",
        "consent",
        "tool",
        "hangup",
        "archive",
        "summary",
        "delivery",
        "end",
    ):
        assert kind in kinds, kind
    consent = next(e for e in timeline if e.kind == "consent")
    assert consent.title == "consent granted (spoken over the disclosure)"
    assert consent.detail["over_disclosure"] is True
    assert outcome.consent is not None and outcome.consent.over_disclosure is True
    booking = next(e for e in timeline if e.title.startswith("tool book_appointment"))
    assert booking.detail["arguments"]["time"] == "14:00"
    assert booking.detail["arguments"]["phone"] == "0412•••111"  # masked unless revealed
    assert booking.detail["result"]["output"]["booking_id"].startswith("B")
    archive = next(e for e in timeline if e.kind == "archive")
    assert archive.detail["result"]["key"] == outcome.recording_key


async def test_supervisor_whispers_approves_and_rejects(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    from activities.tools.profiles import load_profile
    from switchboard.messages import SupervisorAction

    profile = load_profile("job_status").model_copy(deep=True)
    for spec in profile.tools:
        spec.requires_approval = spec.name == "add_job_note"

    @activity.defn(name="get_profile")
    async def held_profile(name: str) -> AgentProfile:
        return profile

    live = OpenedConversations()

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
        await handle.execute_update(
            CallWorkflow.supervise, SupervisorAction(kind="whisper", text="Offer a callback")
        )
        command = await asyncio.wait_for(live.queues[handle.id].get(), 10)  # pushed, not polled
        assert command.kind == "whisper" and command.line == "Offer a callback"

        async def decide(kind: Literal["approve", "reject"]) -> None:
            for _ in range(200):
                pending = (await handle.query(CallWorkflow.view)).pending_approvals
                if pending:
                    await handle.execute_update(
                        CallWorkflow.supervise, SupervisorAction(kind=kind, tool_call_id=pending[0].call_id)
                    )
                    return
                await asyncio.sleep(0.05)

        note = {"job_id": "4172", "note": "customer not home", "confirmed": True}
        _, result = await asyncio.gather(
            decide("approve"), handle.execute_update(CallWorkflow.run_tool, tool("add_job_note", **note))
        )
        assert result.ok, result.error
        _, result = await asyncio.gather(
            decide("reject"), handle.execute_update(CallWorkflow.run_tool, tool("add_job_note", **note))
        )
        assert not result.ok and "supervisor" in (result.error or "")
        stale = SupervisorAction(kind="approve", tool_call_id="nope")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(CallWorkflow.supervise, stale)
        await handle.execute_update(CallWorkflow.run_tool, tool("end_call"))
        return EndReason.AGENT_ENDED

    outcome = await run_call(
        temporal_client,
        stack,
        tmp_path,
        script,
        profile="job_status",
        overrides={"get_profile": held_profile},
        live=live,
    )
    assert [r.ok for r in outcome.tool_results if r.name == "add_job_note"] == [True, False]


async def test_unanswered_call_records_its_outcome_and_sends_nothing(
    temporal_client: Client, stack: Settings
) -> None:
    """A busy line ends the call's workflow at once: no summary, no delivery (the callback retries);
    its record counts it on the overview."""
    async with build_worker(temporal_client, stack):
        handle = await start_call(temporal_client, stack, direction=Direction.OUTBOUND)
        await handle.signal(CallWorkflow.telephony_event, TelephonyEvent(call_sid="CA1", status="busy"))
        outcome = await handle.result()
        await export_history(handle)
    assert outcome.outcome == Outcome.BUSY
    assert outcome.summary is None
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["record_call"]  # neither summarise nor deliver: only the call's record


async def test_commands_are_pushed_to_the_live_conversation_in_order(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    """Whispers and a supervisor's end reach the conversation through ``deliver_command`` on its
    host, once each and in order: the conversation never queries the workflow."""
    from switchboard.messages import SupervisorAction

    live = OpenedConversations()
    got: list[ConversationCommand] = []

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
        for text in ("Offer a callback", "Mention the weekend hours"):
            await handle.execute_update(CallWorkflow.supervise, SupervisorAction(kind="whisper", text=text))
        await handle.execute_update(CallWorkflow.supervise, SupervisorAction(kind="end_call"))
        while not got or got[-1].kind != "say_and_end":
            got.append(await asyncio.wait_for(live.queues[handle.id].get(), 10))
        return EndReason.AGENT_ENDED

    await run_call(temporal_client, stack, tmp_path, script, live=live)
    assert [(c.seq, c.kind) for c in got] == [(1, "whisper"), (2, "whisper"), (3, "say_and_end")]
    assert got[1].line == "Mention the weekend hours"


async def test_a_call_whose_host_died_archives_what_it_shipped(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    """The voice host dies mid-call: its file is gone, but the segments it shipped are archived
    (joined) by the workflow's own worker, under the caller's consent."""
    from switchboard.recording_segments import from_wav, list_segments
    from voice.recorder import Recorder
    from voice.segments import SegmentShipper

    host = f"test-{uuid.uuid4().hex[:6]}"
    shipper = SegmentShipper(stack.model_copy(update={"host": host}), processes=1)

    @activity.defn(name="converse")
    async def converse(inp: ConverseInput) -> ConverseResult:
        handle = client.get_workflow_handle_for(CallWorkflow.run, inp.call_id)
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True))
        rec = Recorder(tmp_path / "lost.wav", on_segment=shipper.sink(inp.call_id))
        for ts in range(0, 6000, 20):
            rec.caller_audio(ts, b"\x00" * 160)  # loud μ-law: not silence
        await shipper.drain(inp.call_id)  # what was shipped before the host died
        raise RuntimeError("the host died")  # (the file never reaches an archive)

    client = temporal_client
    voice = Worker(client, task_queue=f"voice-{host}", activities=[converse])
    try:
        async with build_worker(client, stack), voice:
            handle = await start_call(client, stack)
            await handle.signal(CallWorkflow.stream_attached, StreamAttached(host=host, stream_sid="MZ1"))
            outcome = await handle.result()
            await export_history(handle)
    finally:
        shipper.close()
    assert outcome.outcome == Outcome.DROPPED and outcome.recording_key
    s3 = aws.client("s3", stack)
    body = s3.get_object(Bucket=stack.recordings_bucket, Key=outcome.recording_key)["Body"].read()
    caller = np.frombuffer(from_wav(body), dtype="<i2").reshape(-1, 2)[:, 0]
    assert len(caller) >= 5000 * 8 and np.abs(caller[: 5000 * 8]).min() > 1000  # the shipped part
    assert not list_segments(s3, stack.recordings_bucket, outcome.call_id)
