"""A workflow history with its payloads decoded: what the audit trail and the codec server read.

Temporal's clients decode what they receive as results; a fetched history is handed over as the
server stores it (encrypted). ``decoded_history`` walks every event's protobuf, decodes each
``Payload`` in it through the codec in one batch, and puts back the message and stack trace of
failures whose common attributes were encoded (``DefaultFailureConverterWithEncodedAttributes``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHistory
from temporalio.converter import PayloadCodec

_PAYLOAD = Payload.DESCRIPTOR.full_name
_FAILURE = Failure.DESCRIPTOR.full_name


def _messages(message: Message) -> Iterator[Message]:
    """Every message nested in ``message`` (itself included), depth first."""
    yield message
    for field, value in message.ListFields():
        kind = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or kind is None:
            continue
        if kind.GetOptions().map_entry:  # a map: only message values hold payloads
            if kind.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for item in value.values():
                    yield from _messages(item)
        elif field.is_repeated:
            for item in value:
                yield from _messages(item)
        else:
            yield from _messages(value)


async def decode_in_place(message: Message, codec: PayloadCodec) -> None:
    """Decode every payload inside ``message`` (a history event, a history), in place."""
    payloads: list[Payload] = []
    failures: list[Failure] = []
    for m in _messages(message):
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
                attrs = json.loads(failure.encoded_attributes.data)
            except ValueError:
                continue
            failure.message = str(attrs.get("message", failure.message))
            failure.stack_trace = str(attrs.get("stack_trace", failure.stack_trace))
            failure.ClearField("encoded_attributes")


async def decoded_history(history: WorkflowHistory, codec: PayloadCodec | None) -> WorkflowHistory:
    """``history`` with every payload decoded (unchanged when there is no codec)."""
    if codec is not None:
        for event in history.events:
            await decode_in_place(event, codec)
    return history
