"""A finished call leaves its record (no personal data) in the call records table, flagged."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import Flag
from switchboard.config import Settings
from switchboard.messages import ConsentAnswer, EndReason, ToolRejected, TurnBatch
from switchboard.models import CallOutcome, LatencySlices, Outcome, Speaker, Turn
from tests.workflows.test_call_workflow import next_weekday, run_call, tool
from workflows.call import CallWorkflow


async def test_call_record_is_written_at_the_end(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    day = next_weekday().isoformat()

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await handle.signal(
            CallWorkflow.add_turns,
            TurnBatch(
                turns=[
                    Turn(
                        speaker=Speaker.CALLER, text="Jane here, tomorrow at ten?", start_ms=4000, end_ms=6000
                    ),
                    Turn(
                        speaker=Speaker.AGENT,
                        text="Let me look.",
                        start_ms=6900,
                        end_ms=8000,
                        first_audio_ms=900,
                    ),
                ],
                latency=LatencySlices(turn_to_first_audio_ms=[900.0]),
            ),
        )
        await handle.execute_update(CallWorkflow.run_tool, tool("check_availability", date=day))
        refused = tool("book_appointment", date=day, time="10:00", name="Jane", phone="0412345678")
        await handle.signal(
            CallWorkflow.tool_rejected, ToolRejected(call=refused.call, reason="no read-back")
        )
        await handle.execute_update(CallWorkflow.run_tool, tool("end_call"))
        return EndReason.AGENT_ENDED

    outcome = await run_call(temporal_client, stack, tmp_path, script)
    assert outcome.outcome == Outcome.COMPLETED
    record = CallRecordStore.of(stack).get(outcome.call_id)
    assert record is not None
    assert record.profile == "clinic_booking" and record.contained and record.consent == "given"
    assert record.flags == [Flag.TOOL_REFUSED, Flag.SLOW_TURN]
    assert record.tools["check_availability"].calls == 1
    assert record.tools["book_appointment"].refusals == 1 and record.tools["book_appointment"].calls == 0
    assert record.first_audio_p95_ms == 900.0 and record.slow_turns == 1
    assert (record.caller_turns, record.agent_turns) == (1, 1)
    assert record.timezone == stack.business_timezone and record.pending_review
    assert outcome.call_id in [
        r.call_id for r in CallRecordStore.of(stack).review_queue(reason="tool_refused")
    ]
    stored = record.model_dump_json()
    assert "Jane" not in stored and "0412" not in stored

    history = await temporal_client.get_workflow_handle(outcome.call_id).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled.count("record_call") == 1 and scheduled[-1] == "record_call"
