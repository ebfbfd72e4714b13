"""A call's audit trail, read from its workflow history: disclosure, consent, each tool call with
its arguments and result, escalation, hangup, the archive key, the summary. A callback's trail is
its whole cadence: each attempt, each text, each reply, each reschedule, the opt-out, the end
(the ``CadenceEvent``s of its result, and the replies and text statuses as they were signalled).

Pure functions over the history (``history_timeline``) plus a small fetcher, so the CLI, the
dashboard and the eval recorder read calls the same way. Phone numbers are masked unless asked.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory

from switchboard.codec import PayloadErased
from switchboard.history import decoded_history
from switchboard.privacy import mask_phone


@dataclass
class Entry:
    at: datetime
    kind: str
    title: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"at": self.at.isoformat()}


def _payload(p: Payload) -> Any:
    if p.metadata.get("encoding") == b"binary/null":
        return None
    try:
        return json.loads(p.data)
    except ValueError:
        return p.data.decode(errors="replace")


def _first(payloads: Payloads) -> Any:
    return _payload(payloads.payloads[0]) if payloads.payloads else None


def _when(value: str) -> datetime:
    """A payload's ISO time as the history's own: naive UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _tool_entry(at: datetime, call: dict[str, Any], result: dict[str, Any] | None) -> Entry:
    ok = bool(result and result.get("ok"))
    title = f"tool {call.get('name')} → {'ok' if ok else 'error'}"
    return Entry(at, "tool", title, {"arguments": call.get("arguments", {}), "result": result})


class _Reader:
    """Walks the events once, pairing scheduled/completed activities and accepted/completed Updates."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self.activities: dict[int, tuple[str, Any]] = {}
        self.updates: dict[str, tuple[str, Any]] = {}
        self.workflow_type = ""

    def read(self, event: HistoryEvent) -> None:
        at = event.event_time.ToDatetime()
        handler = getattr(
            self, f"_on_{EventType.Name(event.event_type).removeprefix('EVENT_TYPE_').lower()}", None
        )
        if handler is not None:
            handler(at, event)

    def _on_workflow_execution_started(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.workflow_execution_started_event_attributes
        req = _first(a.input) or {}
        self.workflow_type = a.workflow_type.name
        self.entries.append(Entry(at, "call", f"{a.workflow_type.name} started", req))

    def _on_activity_task_scheduled(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.activity_task_scheduled_event_attributes
        inp = _first(a.input)
        self.activities[ev.event_id] = (a.activity_type.name, inp)
        if a.activity_type.name == "converse" and isinstance(inp, dict):
            self.entries.append(
                Entry(
                    at,
                    "disclosure",
                    "conversation started; disclosure spoken verbatim",
                    {"opening_line": inp.get("opening_line"), "task_queue": a.task_queue.name},
                )
            )

    def _on_activity_task_completed(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.activity_task_completed_event_attributes
        name, inp = self.activities.get(a.scheduled_event_id, ("?", None))
        result = _first(a.result)
        self.entries.append(
            Entry(
                at,
                _ACTIVITY_KINDS.get(name, "activity"),
                f"{name} completed",
                {"input": inp if name not in ("summarise", "converse") else None, "result": result},
            )
        )

    def _on_activity_task_failed(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.activity_task_failed_event_attributes
        name, _ = self.activities.get(a.scheduled_event_id, ("?", None))
        self.entries.append(Entry(at, "error", f"{name} failed", {"message": a.failure.message}))

    def _on_activity_task_timed_out(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.activity_task_timed_out_event_attributes
        name, _ = self.activities.get(a.scheduled_event_id, ("?", None))
        self.entries.append(Entry(at, "error", f"{name} timed out", {"message": a.failure.message}))

    def _on_marker_recorded(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.marker_recorded_event_attributes
        if a.marker_name != "core_local_activity":
            return
        data = _first(a.details["data"]) if "data" in a.details else {}
        result = _first(a.details["result"]) if "result" in a.details else None
        name = (data or {}).get("activity_type", "local activity")
        if name == "run_tool" and isinstance(result, dict):
            self.entries.append(
                _tool_entry(at, {"name": result.get("name"), "arguments": result.get("arguments")}, result)
            )
        elif name == "get_profile" and isinstance(result, dict):
            self.entries.append(
                Entry(
                    at,
                    "profile",
                    f"profile {result.get('name')}",
                    {"job": result.get("job"), "tools": [t["name"] for t in result.get("tools", [])]},
                )
            )

    def _on_workflow_execution_update_accepted(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.workflow_execution_update_accepted_event_attributes
        req = a.accepted_request
        self.updates[req.meta.update_id] = (req.input.name, _first(req.input.args))

    def _on_workflow_execution_update_completed(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.workflow_execution_update_completed_event_attributes
        name, arg = self.updates.get(a.meta.update_id, ("?", None))
        result = _first(a.outcome.success) if a.outcome.HasField("success") else None
        if name == "record_consent":
            granted = (arg or {}).get("granted")
            self.entries.append(
                Entry(
                    at,
                    "consent",
                    f"consent {'granted' if granted else 'refused'}"
                    + (" (spoken over the disclosure)" if (arg or {}).get("over_disclosure") else ""),
                    {
                        "said": (arg or {}).get("said"),
                        "over_disclosure": bool((arg or {}).get("over_disclosure")),
                        "standing": (result or {}).get("output", {}).get("granted"),
                    },
                )
            )
        elif name == "resume" and isinstance(result, dict):  # the stream ended; Twilio asked what next
            action = result.get("action")
            title = {
                "stream": "stream lost: resumed on a new one",
                "transfer": "stream lost: handed to a person",
            }
            self.entries.append(
                Entry(at, "resume", title.get(str(action), "stream ended: hang up"), dict(result))
            )
        elif name == "run_tool" and isinstance(arg, dict):
            call = arg.get("call", {})
            if call.get("name") in ("end_call", "escalate"):
                kind = "hangup" if call["name"] == "end_call" else "escalation"
                self.entries.append(
                    Entry(at, kind, f"{call['name']} requested", {"arguments": call.get("arguments")})
                )

    def _on_workflow_execution_signaled(self, at: datetime, ev: HistoryEvent) -> None:
        a = ev.workflow_execution_signaled_event_attributes
        arg = _first(a.input)
        if a.signal_name == "add_turns":
            for turn in (arg or {}).get("turns", []):
                self.entries.append(Entry(at, "turn", f"{turn['speaker']}: {turn['text']}", {}))
        elif a.signal_name == "lead_reply" and isinstance(arg, dict):
            how = "on the call" if arg.get("source") == "call" else "by text"
            self.entries.append(Entry(at, "reply", f"the lead replied {how}: {arg.get('text', '')}", arg))
        elif a.signal_name == "text_status" and isinstance(arg, dict):
            title = f"text {arg.get('message_sid', '')} {arg.get('status', '')}"
            self.entries.append(Entry(at, "text", title, arg))
        elif a.signal_name == "realtime_session" and isinstance(arg, dict):
            kind = str(arg.get("kind", ""))
            gap = f", {arg['gap_ms']:.0f} ms" if isinstance(arg.get("gap_ms"), int | float) else ""
            self.entries.append(
                Entry(at, "realtime", f"agent's Realtime session {kind.replace('_', ' ')}{gap}", arg)
            )
        else:
            self.entries.append(Entry(at, "signal", a.signal_name, arg if isinstance(arg, dict) else {}))

    def _on_upsert_workflow_search_attributes(self, at: datetime, ev: HistoryEvent) -> None:
        fields = ev.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        status = {k: _payload(v) for k, v in fields.items()}
        self.entries.append(Entry(at, "status", ", ".join(f"{k}={v}" for k, v in status.items()), {}))

    def _on_workflow_execution_completed(self, at: datetime, ev: HistoryEvent) -> None:
        result = _first(ev.workflow_execution_completed_event_attributes.result) or {}
        if self.workflow_type == "OutboundCallbackWorkflow":
            self._cadence(at, result)
            return
        self.entries.append(
            Entry(
                at,
                "end",
                f"call {result.get('outcome')}",
                {
                    "recording_key": result.get("recording_key"),
                    "summary": result.get("summary"),
                    "usage": result.get("usage"),
                    "cost": result.get("cost"),
                },
            )
        )

    def _cadence(self, at: datetime, result: dict[str, Any]) -> None:
        """A callback's end: its cadence step by step (at the workflow's own times), then the outcome."""
        for step in result.get("events") or []:
            due = f" → next call {step['due']}" if step.get("due") else ""
            title = f"{step['kind'].replace('_', ' ')}: {step.get('detail', '')}{due}"
            self.entries.append(Entry(_when(step["at"]), "cadence", title, step))
        attempts = result.get("attempts") or []
        outcome = "do not call" if result.get("do_not_call") else result.get("outcome")
        self.entries.append(
            Entry(
                at,
                "end",
                f"callback {outcome} after {len(attempts)} attempt{'s' * (len(attempts) != 1)}",
                {"attempts": attempts, "opted_out": result.get("opted_out", False)},
            )
        )

    def _on_workflow_execution_failed(self, at: datetime, ev: HistoryEvent) -> None:
        msg = ev.workflow_execution_failed_event_attributes.failure.message
        self.entries.append(Entry(at, "error", "workflow failed", {"message": msg}))


_ACTIVITY_KINDS = {
    "archive_recording": "archive",
    "delete_recording": "archive",
    "hangup": "hangup",
    "transfer": "escalation",
    "summarise": "summary",
    "deliver": "delivery",
    "converse": "conversation",
    "dial": "dial",
}


def _mask(node: Any) -> Any:
    if isinstance(node, str):
        return mask_phone(node)
    if isinstance(node, dict):
        return {k: _mask(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask(v) for v in node]
    return node


def history_timeline(history: WorkflowHistory, *, reveal: bool = False) -> list[Entry]:
    reader = _Reader()
    for event in history.events:
        reader.read(event)
    if not reveal:
        for e in reader.entries:
            e.title = mask_phone(e.title)
            e.detail = _mask(e.detail)
    return reader.entries


def erased_timeline(history: WorkflowHistory, erased: PayloadErased, at: datetime | None) -> list[Entry]:
    """An erased call: what is left is its shape (when, which steps), and the fact of the erasure."""
    events = list(history.events)
    steps = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    start, end = events[0].event_time.ToDatetime(), events[-1].event_time.ToDatetime()
    when = f" on {at:%Y-%m-%d %H:%M} UTC" if at else ""
    return [
        Entry(
            start,
            "erased",
            f"personal data erased{when}",
            {
                "erased_at": at.isoformat() if at else None,
                "key": erased.args[0],
                "note": "the person's data key was destroyed at their request: every payload of this "
                "call (numbers, names, transcript, tool arguments, summary) is unreadable ciphertext",
            },
        ),
        Entry(
            start,
            "call",
            f"{history.events[0].workflow_execution_started_event_attributes.workflow_type.name} started",
        ),
        Entry(end, "end", f"history closed after {len(events)} events", {"steps": steps}),
    ]


async def fetch_timeline(client: Client, call_id: str, *, reveal: bool = False) -> list[Entry]:
    """The call's timeline, its payloads decrypted with the client's codec; for a call whose person
    was erased, the erasure and the call's shape (``erased_timeline``)."""
    history = await client.get_workflow_handle(call_id).fetch_history()
    try:
        decoded = await decoded_history(history, client.data_converter.payload_codec)
    except PayloadErased as erased:
        raw = await client.get_workflow_handle(call_id).fetch_history()  # the failed decode left it half done
        return erased_timeline(raw, erased, await erased_at(client, erased))
    return history_timeline(decoded, reveal=reveal)


async def erased_at(client: Client, erased: PayloadErased) -> datetime | None:
    """When the key was destroyed, from the erasure record (None when the codec has no people table)."""
    codec = client.data_converter.payload_codec
    people = getattr(codec, "people", None)
    finder = getattr(people, "erased_at", None)
    return None if finder is None else await asyncio.to_thread(finder, erased.key_id)
