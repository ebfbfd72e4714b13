"""The payload codec without a server: AES-256-GCM round trips, rotation, the key cache, old payloads."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from switchboard.codec import (
    ENCODING,
    META_CIPHER,
    META_KEY,
    META_KEY_ID,
    EnvelopeCodec,
    PayloadDecryptError,
    StaticKeys,
)
from switchboard.history import decoded_history
from switchboard.models import Speaker, Turn
from switchboard.temporal import data_converter
from tests.support.keys import TEST_KEYS

SECRET = "Jane Citizen, +61412345678, I'd like to book for tomorrow at ten"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingKeys(StaticKeys):
    """Test keys that count the (slow, remote in production) unwraps."""

    def __init__(self) -> None:
        super().__init__(b"k" * 32)
        self.unwraps = 0

    def unwrap(self, envelope: bytes) -> bytes:
        self.unwraps += 1
        return super().unwrap(envelope)


def payloads(*texts: str) -> list[Payload]:
    turns = [Turn(speaker=Speaker.CALLER, text=t, start_ms=0) for t in texts]
    return pydantic_data_converter.payload_converter.to_payloads(turns)


async def test_round_trip_hides_the_payload_and_names_its_key() -> None:
    codec = EnvelopeCodec(TEST_KEYS)
    plain = payloads(SECRET, "second")
    sealed = await codec.encode(plain)
    for p in sealed:
        assert p.metadata["encoding"] == ENCODING
        assert p.metadata[META_KEY] and len(p.metadata[META_KEY_ID]) == 16
        assert b"Citizen" not in p.SerializeToString() and b"+614" not in p.SerializeToString()
    assert sealed[0].data != sealed[1].data and sealed[0].data[:12] != sealed[1].data[:12]  # fresh nonces
    assert await codec.decode(sealed) == plain


async def test_another_process_decodes_with_the_key_source_alone() -> None:
    sealed = await EnvelopeCodec(TEST_KEYS).encode(payloads(SECRET))
    assert await EnvelopeCodec(TEST_KEYS).decode(sealed) == payloads(SECRET)
    with pytest.raises(PayloadDecryptError):  # without the master key, nothing
        await EnvelopeCodec(StaticKeys(b"x" * 32)).decode(sealed)


async def test_payloads_written_before_a_rotation_decode_after_it() -> None:
    clock = Clock()
    keys = CountingKeys()
    codec = EnvelopeCodec(keys, rotate_after_s=60, rotate_after_uses=3, clock=clock)
    first = await codec.encode(payloads("one"))
    clock.now += 61  # by age
    second = await codec.encode(payloads("two"))
    third = await codec.encode(payloads("three", "four"))  # same key: 3 uses
    fourth = await codec.encode(payloads("five"))  # by uses
    codec.rotate()  # by hand
    fifth = await codec.encode(payloads("six"))
    key_ids = [p[0].metadata[META_KEY_ID] for p in (first, second, third, fourth, fifth)]
    assert key_ids[1] == key_ids[2] and len(set(key_ids)) == 4 and codec.generated == 4
    assert await codec.decode([*first, *second, *third, *fourth, *fifth]) == payloads(
        "one", "two", "three", "four", "five", "six"
    )
    assert keys.unwraps == 0  # its own keys stay cached
    assert await EnvelopeCodec(keys).decode(first) == payloads("one")
    assert keys.unwraps == 1


async def test_decrypted_keys_are_kept_for_a_bounded_time() -> None:
    clock = Clock()
    keys = CountingKeys()
    sealed = await EnvelopeCodec(keys).encode(payloads(SECRET))
    reader = EnvelopeCodec(keys, cache_ttl_s=30, clock=clock)
    for _ in range(3):
        await reader.decode(sealed)
    assert keys.unwraps == 1
    clock.now += 31
    await reader.decode(sealed)
    assert keys.unwraps == 2


async def test_old_plain_payloads_decode_unchanged() -> None:
    plain = payloads(SECRET)
    codec = EnvelopeCodec(TEST_KEYS)
    mixed = [*plain, *(await codec.encode(payloads("new")))]
    decoded = await codec.decode(mixed)
    assert decoded[0] is plain[0]
    assert decoded[1] == payloads("new")[0]


async def test_tampered_payloads_are_refused() -> None:
    codec = EnvelopeCodec(TEST_KEYS)
    [sealed] = await codec.encode(payloads(SECRET))
    flipped = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(PayloadDecryptError, match="failed authentication"):
        await codec.decode([flipped])
    unnamed = Payload(metadata={"encoding": ENCODING}, data=sealed.data)
    with pytest.raises(PayloadDecryptError, match="names no data key"):
        await codec.decode([unnamed])
    unknown = Payload(metadata={**sealed.metadata, META_CIPHER: b"ROT13"}, data=sealed.data)
    with pytest.raises(PayloadDecryptError, match="unknown cipher"):
        await codec.decode([unknown])


class UnreachableKeys(StaticKeys):
    """A key source whose unwrap fails for a passing reason (KMS throttled or unreachable)."""

    def unwrap(self, envelope: bytes) -> bytes:
        raise ConnectionError("KMS unreachable")


async def test_a_passing_key_source_fault_is_not_called_a_bad_payload() -> None:
    [sealed] = await EnvelopeCodec(TEST_KEYS).encode(payloads(SECRET))
    with pytest.raises(ConnectionError):  # raised as it is: retried, and a 500 at the codec server, not a 400
        await EnvelopeCodec(UnreachableKeys(b"k" * 32)).decode([sealed])


async def test_a_fetched_history_gets_its_failure_messages_back() -> None:
    """Failure messages are encrypted too (they can quote a caller); the decoded history restores them."""
    converter = data_converter(keys=TEST_KEYS)
    event = HistoryEvent()
    failure = event.activity_task_failed_event_attributes.failure
    await converter.encode_failure(ApplicationError(SECRET), failure)
    assert SECRET not in str(event)
    history = await decoded_history(WorkflowHistory("wf", [event]), converter.payload_codec)
    assert history.events[0].activity_task_failed_event_attributes.failure.message == SECRET
