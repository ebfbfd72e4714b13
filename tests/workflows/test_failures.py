"""A workflow's log line about a failed activity names its kind, never its message (it can quote the caller)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, TimeoutError, TimeoutType

from workflows.failures import failure_kind


def failed(cause: BaseException | None) -> ActivityError:
    err = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="deliver",
        activity_id="1",
        retry_state=None,
    )
    err.__cause__ = cause
    return err


def test_the_kind_is_logged_and_the_message_is_not() -> None:
    tool = ApplicationError("no slot for Jane Citizen on 0412 345 678", type="SlotTaken")
    assert failure_kind(failed(tool)) == "SlotTaken"
    assert failure_kind(failed(ApplicationError("Jane Citizen"))) == "ApplicationError"
    late = TimeoutError("activity heartbeat timeout", type=TimeoutType.HEARTBEAT, last_heartbeat_details=[])
    assert failure_kind(failed(late)) == "timeout (HEARTBEAT)"
    assert failure_kind(failed(None)) == "ActivityError"
