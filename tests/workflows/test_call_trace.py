"""One call, one trace: the form's span, the call workflow, its activities and Updates, and the
voice worker's turn and tool spans, nested parent to child, with no personal data in attributes.

The dev server and the workers run in this process, so an in-memory exporter sees every span; the
same tree through every process of the stack is checked e2e (tests/e2e/test_call_trace.py).
"""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client, WorkflowHandle

from functions._runtime import traced
from switchboard import tracing
from switchboard.config import Settings
from switchboard.messages import ConsentAnswer, EndReason, TurnBatch
from switchboard.models import CallOutcome, Outcome, Speaker, Turn
from tests.support.traces import ancestors, from_sdk, orphans, personal_data, trace_of, tree
from tests.workflows.test_call_workflow import next_weekday, run_call, tool
from workflows.call import CallWorkflow

CALLER = "+61412345678"
SAID = "I'd like to book for tomorrow at ten"


async def test_one_call_is_one_trace_nested_and_without_personal_data(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    provider = tracing.install(stack)
    assert provider is not None
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    day = next_weekday().isoformat()

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        # What voice/conversation.py does per turn and per tool round trip.
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        with tracing.span("turn", {"speaker": "caller"}):
            turn = Turn(speaker=Speaker.CALLER, text=SAID, start_ms=4000)
            await handle.signal(CallWorkflow.add_turns, TurnBatch(turns=[turn]))
        with tracing.span("tool", {"tool": "check_availability"}):
            await handle.execute_update(CallWorkflow.run_tool, tool("check_availability", date=day))
        with tracing.span("tool", {"tool": "end_call"}):
            await handle.execute_update(CallWorkflow.run_tool, tool("end_call", reason="done"))
        return EndReason.AGENT_ENDED

    with traced(stack, "form_submitted", {"test": "call_trace"}):
        outcome = await run_call(temporal_client, stack, tmp_path, script, caller=CALLER)
    assert outcome.outcome == Outcome.COMPLETED

    spans = trace_of(from_sdk(memory.get_finished_spans()), "form_submitted", test="call_trace")
    drawn = tree(spans)
    assert not orphans(spans), drawn
    names = {s.name for s in spans}
    for expected in (
        "StartWorkflow:CallWorkflow",
        "RunWorkflow:CallWorkflow",
        "RunActivity:get_profile",
        "RunActivity:converse",
        "turn",
        "tool",
        "HandleUpdate:run_tool",
        "RunActivity:run_tool",
        "RunActivity:archive_recording",
        "RunActivity:summarise",
        "CompleteWorkflow:CallWorkflow",
    ):
        assert expected in names, f"no {expected} in\n{drawn}"
    # The contrib interceptor's shape: the workflow's spans (zero-length, made as each step happens)
    # hang under the span that started the workflow; an Update's handler there is linked to the
    # client's StartWorkflowUpdate span, which sits under the voice worker's tool span.
    for s in spans:
        chain = ancestors(spans, s)
        assert chain[-1:] == ["form_submitted"] or s.name == "form_submitted", drawn
        if s.name in ("turn", "tool"):
            assert chain[0] == "RunActivity:converse", drawn
        if s.name.startswith(("StartWorkflowUpdate:", "SignalWorkflow:add_turns")):
            assert chain[0] in ("tool", "turn", "RunActivity:converse"), drawn
        if s.name.startswith(("RunActivity:", "HandleUpdate:", "RunWorkflow:")):
            assert "StartWorkflow:CallWorkflow" in chain, drawn
    assert not any(s.name.startswith("QueryWorkflow") for s in spans)  # polled every second: untraced
    assert not personal_data(spans, [CALLER, SAID, "Jane"]), drawn
    memory.clear()
