"""``switchboard audit`` on a callback shows its whole cadence, read from a recorded history (the
STOP run, encrypted under the test key): the attempt, the text, the reply, the opt-out and its
confirmation, the end; numbers masked unless revealed."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory

from switchboard.audit import history_timeline
from switchboard.history import decoded_history
from switchboard.temporal import data_converter
from tests.support.keys import TEST_KEYS

FIXTURE = Path(__file__).parent / "histories" / "callback_cadence_stop_encrypted.json"


async def stop_history() -> WorkflowHistory:
    history = WorkflowHistory.from_json(FIXTURE.stem, FIXTURE.read_text())
    return await decoded_history(history, data_converter(keys=TEST_KEYS).payload_codec)


async def test_the_audit_of_a_callback_is_its_whole_cadence() -> None:
    timeline = history_timeline(await stop_history())
    cadence = [e.title for e in timeline if e.kind == "cadence"]
    assert [t.split(":")[0] for t in cadence] == ["attempt", "text", "reply", "opt out", "text"]
    assert cadence[0].endswith(": voicemail")
    assert "Sorry we missed you" in cadence[1] and cadence[1].endswith("Reply STOP to opt out.")
    assert cadence[2] == "reply: STOP"
    assert "unsubscribed" in cadence[4]
    replies = [e.title for e in timeline if e.kind == "reply"]
    assert replies == ["the lead replied by text: STOP"]  # as signalled, before it was understood
    end = timeline[-1]
    assert end.kind == "end" and end.title == "callback opted_out after 1 attempt"
    assert end.detail["opted_out"] is True
    times = [e.at for e in timeline if e.kind == "cadence"]
    assert times == sorted(times) and all(e.at.tzinfo is None for e in timeline)  # one clock: UTC


async def test_the_lead_number_is_masked_unless_revealed() -> None:
    history = await stop_history()
    started = history_timeline(history, reveal=True)[0].detail
    number = started["lead"]["phone"]
    masked = " ".join(f"{e.title} {e.detail}" for e in history_timeline(history))
    assert number not in masked and number[-3:] in masked
