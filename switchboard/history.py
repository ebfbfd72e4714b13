"""A workflow history with its payloads decoded: what the audit trail reads.

Temporal's clients decode what they receive as results; a fetched history is handed over as the
server stores it (encrypted). ``decoded_history`` walks every event's protobuf, decodes every
``Payload`` in them through the codec in one batch, and puts back the message and stack trace of
failures whose common attributes were encoded (``DefaultFailureConverterWithEncodedAttributes``).
``fetch_decoded`` fetches one through a client and decodes it with that client's codec.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Header, Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import PayloadCodec

_PAYLOAD = Payload.DESCRIPTOR.full_name
_FAILURE = Failure.DESCRIPTOR.full_name
_HEADER = Header.DESCRIPTOR.full_name


def messages(message: Message) -> Iterator[Message]:
    """Every message nested in ``message`` (itself included), depth first."""
    yield message
    for field, value in message.ListFields():
        kind = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or kind is None:
            continue
        if kind.GetOptions().map_entry:  # a map: only message values hold payloads
            if kind.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    yield from messages(item)
        elif field.is_repeated:
            for item in value:
                yield from messages(item)
        else:
            yield from messages(value)


def data_payloads(history: WorkflowHistory) -> list[Payload]:
    """Every payload of ``history`` except those in headers (the trace context): the call's data."""
    in_headers = {
        m.SerializeToString()
        for e in history.events
        for h in messages(e)
        if h.DESCRIPTOR.full_name == _HEADER
        for m in messages(h)
        if m.DESCRIPTOR.full_name == _PAYLOAD
    }
    return [
        m  # type: ignore[misc]
        for e in history.events
        for m in messages(e)
        if m.DESCRIPTOR.full_name == _PAYLOAD and m.SerializeToString() not in in_headers
    ]


async def _decode_in_place(events: Iterable[Message], codec: PayloadCodec) -> None:
    """Decode every payload inside ``events``, in place, in one call of the codec."""
    payloads: list[Payload] = []
    failures: list[Failure] = []
    for m in (m for event in events for m in messages(event)):
        name = m.DESCRIPTOR.full_name
        if name == _PAYLOAD:
            payloads.append(m)  # type: ignore[arg-type]
        elif name == _FAILURE:
            failures.append(m)  # type: ignore[arg-type]
    if payloads:
        for original, decoded in zip(payloads, await codec.decode(payloads), strict=True):
            if decoded is not original:
                original.CopyFrom(decoded)
    for failure in failures:
        if failure.HasField("encoded_attributes"):
            try:
                attrs: dict[str, Any] = pydantic_data_converter.payload_converter.from_payload(
                    failure.encoded_attributes, dict
                )
            except Exception:  # not the SDK's encoded attributes: left as they are
                continue
            failure.message = str(attrs.get("message", failure.message))
            failure.stack_trace = str(attrs.get("stack_trace", failure.stack_trace))
            failure.ClearField("encoded_attributes")


async def decoded_history(history: WorkflowHistory, codec: PayloadCodec | None) -> WorkflowHistory:
    """``history`` with every payload decoded (unchanged when there is no codec)."""
    if codec is not None:
        await _decode_in_place(history.events, codec)
    return history


async def fetch_decoded(client: Client, workflow_id: str) -> WorkflowHistory:
    """The workflow's history as it happened, decrypted with ``client``'s codec."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return await decoded_history(history, client.data_converter.payload_codec)
