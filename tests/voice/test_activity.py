"""The converse activity's hooks: what the model is told when the workflow refuses a tool call."""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from voice.activity import rejection_reason


def test_a_refused_tool_call_gives_the_validators_words_without_the_exception_type() -> None:
    refusal = ApplicationError("first ask the recording consent question", type="ValueError")
    assert str(refusal).startswith("ValueError: ")  # what the model used to be told (and the engine said)
    assert rejection_reason(WorkflowUpdateFailedError(refusal)) == "first ask the recording consent question"


def test_a_failure_without_a_message_still_gives_a_reason() -> None:
    err = WorkflowUpdateFailedError(RuntimeError("update rejected"))
    assert rejection_reason(err) == "update rejected"
