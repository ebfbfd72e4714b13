"""A key per person, without a server: who a person is, which workflows share their key, and what the
codec does with it (sealing by workflow context, naming the key by id only, erasure, the cache)."""

from __future__ import annotations

import os

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from switchboard.codec import META_KEY, META_PERSON_KEY, EnvelopeCodec, PayloadDecryptError, PayloadErased
from switchboard.models import Speaker, Turn
from switchboard.people import NotAPhoneNumber, normalise, person_id, scope_of
from tests.support.keys import TEST_KEYS

SECRET = "Jane Citizen, +61412345678, I'd like to book for tomorrow at ten"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MemoryPeople:
    """The people table's two reads, in memory."""

    def __init__(self) -> None:
        self.scopes: dict[str, str] = {}
        self.keys: dict[str, bytes] = {}
        self.reads = 0

    def add(self, scope: str, key_id: str) -> None:
        self.scopes[scope] = key_id
        self.keys.setdefault(key_id, os.urandom(32))

    def key_of_scope(self, scope: str) -> str | None:
        self.reads += 1
        return self.scopes.get(scope)

    def unwrap(self, key_id: str) -> bytes | None:
        self.reads += 1
        return self.keys.get(key_id)


def payloads(text: str = SECRET) -> list[Payload]:
    return pydantic_data_converter.payload_converter.to_payloads(
        [Turn(speaker=Speaker.CALLER, text=text, start_ms=0)]
    )


def workflow(workflow_id: str) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="default", workflow_id=workflow_id)


def test_a_person_is_their_number_however_it_is_written() -> None:
    assert normalise("0412 345 678") == normalise("+61 412 345 678") == "+61412345678"
    same = {
        person_id(n, "pepper") for n in ("0412345678", "+61412345678", "0412-345-678", "+61 (0)412 345 678")
    }
    assert len(same) == 1
    assert person_id("0412345678", "pepper") != person_id("0412345678", "another pepper")
    assert "412345678" not in person_id("0412345678", "pepper")
    for bad in ("Jane Citizen", "12", ""):
        with pytest.raises(NotAPhoneNumber):
            normalise(bad)
    with pytest.raises(ValueError):
        person_id("0412345678", "")


def test_a_persons_workflows_share_one_scope() -> None:
    assert scope_of("call-CA123") == "call-CA123"
    assert scope_of("callback-sub-9f2") == "callback-sub-9f2"
    assert scope_of("callback-sub-9f2-a3") == "callback-sub-9f2"
    assert scope_of("intake-callback-sub-9f2-a1") == "callback-sub-9f2"
    assert scope_of("intake-call-CA123") == "call-CA123"


async def test_a_workflow_with_a_person_is_sealed_under_their_key_by_id_only() -> None:
    people = MemoryPeople()
    people.add("call-CA1", "k1")
    codec = EnvelopeCodec(TEST_KEYS, people=people)
    sealed = await codec.with_context(workflow("call-CA1")).encode(payloads())
    assert sealed[0].metadata[META_PERSON_KEY] == b"k1"
    assert META_KEY not in sealed[0].metadata  # no envelope: nothing but the table can unwrap it
    assert SECRET.encode() not in sealed[0].data
    assert (await codec.decode(sealed)) == payloads()
    # An activity of the same workflow, and its intake delivery, use the same key.
    activity = ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="summarise",
        activity_task_queue="calls",
        workflow_id="call-CA1",
        workflow_type="CallWorkflow",
        is_local=False,
    )
    for ctx in (activity, workflow("intake-call-CA1")):
        assert (await codec.with_context(ctx).encode(payloads()))[0].metadata[META_PERSON_KEY] == b"k1"
    # A workflow without a person (or no context at all) uses the shared, rotating keys.
    for c in (codec.with_context(workflow("call-anonymous")), codec):
        assert META_KEY in (await c.encode(payloads()))[0].metadata


async def test_a_person_key_id_cannot_be_swapped() -> None:
    people = MemoryPeople()
    people.add("call-A", "ka")
    people.add("call-B", "kb")
    people.keys["kb"] = people.keys["ka"]  # even under the same key material, the id is bound in
    codec = EnvelopeCodec(TEST_KEYS, people=people)
    sealed = (await codec.with_context(workflow("call-A")).encode(payloads()))[0]
    sealed.metadata[META_PERSON_KEY] = b"kb"
    with pytest.raises(PayloadDecryptError):
        await codec.decode([sealed])


async def test_an_erased_key_stops_decrypting_within_the_cache_time() -> None:
    people, clock = MemoryPeople(), Clock()
    people.add("call-CA1", "k1")
    codec = EnvelopeCodec(TEST_KEYS, people=people, person_cache_s=60, clock=clock)
    sealed = await codec.with_context(workflow("call-CA1")).encode(payloads())
    reads = people.reads
    await codec.decode(sealed)
    assert people.reads == reads  # cached: no read per payload
    del people.keys["k1"]
    clock.now += 61
    with pytest.raises(PayloadErased) as erased:
        await codec.decode(sealed)
    assert erased.value.key_id == "k1" and "k1" not in str(erased.value)  # named by fingerprint only
    # A process that drops the key at once (forget's own) does not wait for the cache.
    people.add("call-CA2", "k2")
    sealed2 = await codec.with_context(workflow("call-CA2")).encode(payloads())
    del people.keys["k2"]
    codec.forget_cached("k2")
    with pytest.raises(PayloadErased):
        await codec.decode(sealed2)


async def test_without_a_people_table_contexts_change_nothing() -> None:
    codec = EnvelopeCodec(TEST_KEYS)
    assert codec.with_context(workflow("call-CA1")) is codec
    sealed = await codec.encode(payloads())
    sealed[0].metadata[META_PERSON_KEY] = b"k1"
    with pytest.raises(PayloadDecryptError):
        await codec.decode(sealed)
