"""A warm transfer in CallWorkflow (real dev server; the telephony activity and the conversation
scripted): the transfer carries the hand-over note and the workflow's id for the whisper, the
``handover`` query serves the note, and the dial's word decides the outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

from temporalio import activity
from temporalio.client import Client, WorkflowHandle

from activities.tools.profiles import load_profile
from switchboard.config import Settings
from switchboard.messages import (
    ConsentAnswer,
    EndReason,
    Handover,
    RealtimeSession,
    TelephonyEvent,
    TransferInput,
    TransferProgress,
    TransferReady,
)
from switchboard.models import CallOutcome, Outcome
from tests.workflows.test_call_workflow import next_weekday, run_call, tool
from workflows.call import CallWorkflow


async def _escalated_call(
    client: Client, settings: Settings, tmp_path: Path, dial: Literal["answered", "no-answer"]
) -> tuple[CallOutcome, list[TransferInput], list[Handover | None]]:
    transfers: list[TransferInput] = []
    heard: list[Handover | None] = []

    @activity.defn(name="transfer")
    async def transfer(req: TransferInput) -> str:
        """The provider's side: the whisper route reads the note, then the dial's result comes back."""
        transfers.append(req)
        handle = client.get_workflow_handle_for(CallWorkflow.run, req.workflow_id)
        heard.append(await handle.query(CallWorkflow.get_handover))
        if dial == "answered":
            await handle.signal(CallWorkflow.transfer_progress, TransferProgress(step="whisper"))
        else:
            progress = TransferProgress(step="result", dial_status="no-answer")
            await handle.signal(CallWorkflow.transfer_progress, progress)
        return "in-progress"

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.signal(
            CallWorkflow.telephony_event, TelephonyEvent(call_sid="CAwarm", status="in-progress")
        )
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await handle.execute_update(
            CallWorkflow.run_tool, tool("check_availability", date=next_weekday().isoformat())
        )
        await handle.execute_update(
            CallWorkflow.run_tool, tool("escalate", reason="caller asked for a person")
        )
        await handle.signal(CallWorkflow.transfer_line_played, TransferReady())
        return EndReason.TRANSFER

    outcome = await run_call(client, settings, tmp_path, script, overrides={"transfer": transfer})
    return outcome, transfers, heard


async def test_answered_transfer_is_escalated_with_the_note(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    outcome, transfers, heard = await _escalated_call(temporal_client, stack, tmp_path, "answered")
    assert outcome.outcome == Outcome.ESCALATED
    [sent] = transfers
    assert sent.workflow_id == outcome.call_id and sent.call_sid == "CAwarm"
    assert sent.to_number == load_profile("clinic_booking").guardrails.escalation_number
    assert sent.note.startswith("Transfer from the AI assistant") and "check availability" in sent.note
    assert "caller asked for a person" in sent.note
    assert heard[0] is not None and heard[0].note == sent.note
    assert outcome.summary is not None and outcome.summary.fields["escalation"] == sent.note
    assert "callback_requested" not in outcome.summary.fields


async def test_unanswered_transfer_owes_a_callback(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    outcome, _, heard = await _escalated_call(temporal_client, stack, tmp_path, "no-answer")
    assert outcome.outcome == Outcome.TRANSFER_UNANSWERED
    assert heard[0] is not None
    assert heard[0].unanswered_line == load_profile("clinic_booking").guardrails.transfer_unanswered_line
    assert outcome.summary is not None and outcome.summary.fields["callback_requested"] is True
    assert outcome.summary.headline.startswith("Callback needed")


async def test_a_call_whose_agent_lost_its_voice_goes_to_a_person_after_an_apology(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    """Every new Realtime session refused (voice/reconnect.py gives up): the workflow transfers the
    live call with the profile's apology said first, and the history shows each session event."""
    transfers: list[TransferInput] = []

    @activity.defn(name="transfer")
    async def transfer(req: TransferInput) -> str:
        transfers.append(req)
        handle = temporal_client.get_workflow_handle_for(CallWorkflow.run, req.workflow_id)
        await handle.signal(CallWorkflow.transfer_progress, TransferProgress(step="whisper"))
        return "in-progress"

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.signal(
            CallWorkflow.telephony_event, TelephonyEvent(call_sid="CAlost", status="in-progress")
        )
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await handle.signal(CallWorkflow.realtime_session, RealtimeSession(kind="dropped", at_ms=9000))
        assert (await handle.query(CallWorkflow.view)).reconnecting
        gave_up = RealtimeSession(kind="gave_up", attempt=4, reason="RealtimeConnectError")
        await handle.signal(CallWorkflow.realtime_session, gave_up)
        for _ in range(200):  # the hand-over runs while the stream is still open
            if transfers:
                break
            await asyncio.sleep(0.05)
        return EndReason.TRANSFER  # Twilio left the stream for the <Dial>

    outcome = await run_call(temporal_client, stack, tmp_path, script, overrides={"transfer": transfer})
    assert outcome.outcome == Outcome.ESCALATED
    [sent] = transfers
    profile = load_profile("clinic_booking")
    assert sent.say == profile.guardrails.realtime_lost_line and sent.call_sid == "CAlost"
    assert "lost its voice connection" in sent.note
    history = await temporal_client.get_workflow_handle(outcome.call_id).fetch_history()
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert signals.count("realtime_session") == 2
