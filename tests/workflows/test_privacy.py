"""Personal data never reaches Temporal in plain text: a booking call on the real dev server, its
history read raw (as the server stores it) and through the audit trail (as an operator reads it).

The data keys come from moto's KMS, as they come from KMS in AWS. The same call under the fixed
test key of ``tests/support/keys.py`` is the encrypted replay fixture: recorded with
``SWITCHBOARD_EXPORT_HISTORIES=1 pytest tests/workflows/test_privacy.py -k encrypted`` as
``tests/histories/test_encrypted_booking_call.json`` and replayed by ``tests/test_replay.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.worker import Replayer

from switchboard.audit import fetch_timeline
from switchboard.codec import ENCODING, META_KEY, META_PERSON_KEY, is_encrypted
from switchboard.config import Settings
from switchboard.history import messages
from switchboard.messages import ConsentAnswer, EndReason, TurnBatch
from switchboard.models import CallOutcome, Outcome, Speaker, Turn
from switchboard.temporal import connect_client, data_converter
from tests.support.keys import TEST_KEYS
from tests.workflows.test_call_workflow import next_weekday, run_call, tool
from workflows.call import CallWorkflow
from workflows.worker import workflow_classes

CALLER = "+61412345678"  # start_call's caller
NAME = "Jane Citizen"
MOBILE = "0412345678"
SENTENCE = "I'd like to book for tomorrow at ten"
PERSONAL = (CALLER, CALLER.removeprefix("+"), NAME, MOBILE, SENTENCE)


async def booking_call(
    client: Client,
    settings: Settings,
    tmp_path: Path,
    at: str,
    *,
    caller: str = CALLER,
    name: str = NAME,
    mobile: str = MOBILE,
    keyed: bool = False,
) -> CallOutcome:
    """A clinic booking by ``caller``; ``keyed``: under the caller's own key, as in production."""
    day = next_weekday().isoformat()

    async def script(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
        await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
        turn = Turn(speaker=Speaker.CALLER, text=SENTENCE, start_ms=4000)
        await handle.signal(CallWorkflow.add_turns, TurnBatch(turns=[turn]))
        booking = {"date": day, "time": at, "name": name, "phone": mobile, "confirmed": True}
        booked = await handle.execute_update(CallWorkflow.run_tool, tool("book_appointment", **booking))
        assert booked.ok
        # Tool arguments that quote the caller: encrypted like every other payload.
        await handle.execute_update(CallWorkflow.run_tool, tool("end_call", reason=f"{name} said bye"))
        return EndReason.AGENT_ENDED

    outcome = await run_call(client, settings, tmp_path, script, caller=caller, keyed=keyed)
    assert outcome.outcome == Outcome.COMPLETED
    return outcome


def leaks(history: WorkflowHistory) -> list[str]:
    """Personal data found in the history as the server keeps it: in any payload or anywhere else."""
    found = [p for p in PERSONAL if p in history.to_json()]
    for event in history.events:
        for m in messages(event):
            if isinstance(m, Payload):
                found += [p for p in PERSONAL if p.encode() in m.data]
    return found


def plain_payloads(history: WorkflowHistory) -> tuple[int, list[str]]:
    """How many payloads are encrypted, and the event types of those that are not."""
    encrypted, plain = 0, []
    for event in history.events:
        where = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details.items()
            found = [(f"{where}:{key}", m) for key, ps in details for m in messages(ps)]
        else:
            found = [(where, m) for m in messages(event)]
        for name, m in found:
            if isinstance(m, Payload):
                if is_encrypted(m):
                    encrypted += 1
                else:
                    plain.append(name)
    return encrypted, plain


async def test_the_history_holds_no_personal_data_and_the_audit_reads_it(
    stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SWITCHBOARD_EXPORT_HISTORIES", raising=False)  # moto's keys die with moto
    temporal_client = await connect_client(stack)  # data keys from KMS
    outcome = await booking_call(temporal_client, stack, tmp_path, "11:00", keyed=True)
    raw = await temporal_client.get_workflow_handle(outcome.call_id).fetch_history()  # not decoded
    assert leaks(raw) == []
    # What the server indexes and shows in lists: the id and the search attributes.
    desc = await temporal_client.get_workflow_handle(outcome.call_id).describe()
    indexed = f"{desc.id} {desc.raw_description.workflow_execution_info.search_attributes}"
    assert desc.typed_search_attributes and not [p for p in PERSONAL if p in indexed]
    encrypted, plain = plain_payloads(raw)
    assert encrypted >= 15
    # Plain only: search attributes (the server indexes them) and the SDK's own bookkeeping of
    # a local activity (its type, attempt and times) and of a patch (its id); none holds personal
    # data (see leaks()).
    sdk = {"UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", "MARKER_RECORDED:data", "MARKER_RECORDED:patch-data"}
    assert set(plain) <= sdk, plain
    started = raw.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata[META_PERSON_KEY]  # the caller's own key, by id only
    assert META_KEY not in started.input.payloads[0].metadata  # …never with its envelope

    timeline = await fetch_timeline(temporal_client, outcome.call_id, reveal=True)
    text = " ".join(f"{e.title} {e.detail}" for e in timeline)
    for personal in (CALLER, NAME, MOBILE, SENTENCE):
        assert personal in text, personal
    masked = " ".join(f"{e.title} {e.detail}" for e in await fetch_timeline(temporal_client, outcome.call_id))
    assert CALLER not in masked and NAME in masked  # numbers masked unless revealed


async def test_encrypted_booking_call(stack: Settings, tmp_path: Path) -> None:
    """Under the test key; exported as a replay fixture with SWITCHBOARD_EXPORT_HISTORIES=1."""
    client = await connect_client(stack, keys=TEST_KEYS)
    outcome = await booking_call(client, stack, tmp_path, "15:00")
    history = await client.get_workflow_handle(outcome.call_id).fetch_history()
    assert leaks(history) == []
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING
    replayer = Replayer(workflows=list(workflow_classes()), data_converter=data_converter(keys=TEST_KEYS))
    await replayer.replay_workflow(history)
