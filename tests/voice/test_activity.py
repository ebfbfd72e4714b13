"""The converse activity's hooks: what the model is told when the workflow refuses a tool call, and
what the workflow is told of a consent answer."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from switchboard.messages import ConsentAnswer
from switchboard.models import Speaker, ToolCall, ToolResult, Turn
from voice.activity import WorkflowHooks, rejection_reason


def test_a_refused_tool_call_gives_the_validators_words_without_the_exception_type() -> None:
    refusal = ApplicationError("first ask the recording consent question", type="ValueError")
    assert str(refusal).startswith("ValueError: ")  # what the model used to be told (and the engine said)
    assert rejection_reason(WorkflowUpdateFailedError(refusal)) == "first ask the recording consent question"


def test_a_failure_without_a_message_still_gives_a_reason() -> None:
    err = WorkflowUpdateFailedError(RuntimeError("update rejected"))
    assert rejection_reason(err) == "update rejected"


class _Handle:
    """The call's workflow handle, as the hooks use it: signals and Updates recorded."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, object]] = []
        self.updates: list[tuple[str, object]] = []

    async def signal(self, name: str, arg: object) -> None:
        self.signals.append((name, arg))

    async def _answer(self, arg: ConsentAnswer) -> ToolResult:
        return ToolResult(
            call_id=arg.tool_call_id or "", name="record_consent", ok=True, output={"granted": True}
        )

    def execute_update(
        self, name: str, arg: ConsentAnswer, result_type: object = None, id: str | None = None
    ) -> object:
        self.updates.append((name, arg))
        return self._answer(arg)


@pytest.mark.parametrize("over", [True, False])
async def test_consent_carries_whether_the_answer_was_spoken_over_the_disclosure(over: bool) -> None:
    handle = _Handle()
    hooks = WorkflowHooks(handle)  # type: ignore[arg-type]
    await hooks.on_turn(
        Turn(speaker=Speaker.CALLER, text="Yes, that's fine.", start_ms=2500, over_disclosure=over)
    )
    call = ToolCall(call_id="call_1", name="record_consent", arguments={"granted": True})
    result = await hooks.on_tool_call(call, cancelled=False)
    assert result.ok
    ((name, answer),) = handle.updates
    assert name == "record_consent" and isinstance(answer, ConsentAnswer)
    assert (answer.granted, answer.said, answer.over_disclosure) == (True, "Yes, that's fine.", over)
