"""Latency the voice worker reports during a call is visible through the workflow's queries before
the call ends (the dashboard's live view reads it there)."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from switchboard.config import Settings
from switchboard.messages import ConsentAnswer, EndReason, TurnBatch
from switchboard.models import CallOutcome, LatencySlices, Outcome, Speaker, Turn
from tests.workflows.test_call_workflow import run_call, tool
from workflows.call import CallWorkflow


async def test_latency_reported_during_the_call_shows_in_its_queries_before_it_ends(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        await handle.signal(
            CallWorkflow.add_turns,
            TurnBatch(
                turns=[Turn(speaker=Speaker.CALLER, text="Tuesday please", start_ms=4000)],
                latency=LatencySlices(turn_to_first_audio_ms=[912.5]),
            ),
        )
        await handle.signal(
            CallWorkflow.add_turns,
            TurnBatch(
                turns=[
                    Turn(speaker=Speaker.AGENT, text="Tuesday it is.", start_ms=5100, first_audio_ms=912.5)
                ],
                latency=LatencySlices(barge_in_to_clear_ms=[40.0]),
            ),
        )
        view = await handle.query(CallWorkflow.view)
        transcript = await handle.query(CallWorkflow.get_transcript)
        seen.update(status=view.status, latency=view.latency, first_audio=transcript[-1].first_audio_ms)
        await handle.execute_update(CallWorkflow.run_tool, tool("end_call", reason="done"))
        return EndReason.AGENT_ENDED

    outcome = await run_call(temporal_client, stack, tmp_path, script)
    assert seen["status"] == "conversation"  # still live when it was read
    assert seen["latency"] == LatencySlices(turn_to_first_audio_ms=[912.5], barge_in_to_clear_ms=[40.0])
    assert seen["first_audio"] == 912.5
    assert outcome.outcome == Outcome.COMPLETED
    assert outcome.transcript[-1].first_audio_ms == 912.5
