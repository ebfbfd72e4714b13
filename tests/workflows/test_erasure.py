"""Erasure by destroying a person's key: two people's booking calls on the real dev server (moto's
KMS, DynamoDB and S3), then ``forget`` on one of them.

What must hold afterwards: none of the erased person's payloads decrypt (with a fresh codec, as in
any other process), their recording is gone from S3 (every version), their booking is cancelled,
``audit`` says the call was erased and does not crash, the other person's call reads as before, and
a new call from the erased number gets a new key and works. Before the erasure, ``temporal
workflow show`` (the CLI, no codec) prints none of the call's personal data.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from cli.forget import erasable_kinds, forget
from dashboard.search import read_result
from infra.services import temporal_binary
from switchboard import aws
from switchboard.audit import fetch_timeline
from switchboard.codec import META_PERSON_KEY, EnvelopeCodec, KmsKeys, PayloadErased, is_encrypted
from switchboard.config import Settings
from switchboard.history import data_payloads
from switchboard.models import CallOutcome
from switchboard.people import person_id
from switchboard.temporal import connect_client, person_keys
from tests.workflows.test_privacy import SENTENCE, booking_call

# A number no other test uses (the business system is shared by the session's tests).
CALLER, NAME, MOBILE = "+61411000222", "Robin Erasable", "0411000222"
OTHER, OTHER_NAME, OTHER_MOBILE = "+61400111222", "Sam Other", "0400111222"


async def person_keyed(client: Client, call_id: str) -> tuple[str, list[Payload]]:
    """The key id a call's payloads are sealed under, and those payloads (raw, as stored)."""
    raw = await client.get_workflow_handle(call_id).fetch_history()
    # Headers carry only the trace context (sealed under the shared keys, like every header).
    sealed = [m for m in data_payloads(raw) if is_encrypted(m)]
    keyed = [p for p in sealed if p.metadata.get(META_PERSON_KEY)]
    assert keyed and len(keyed) == len(sealed), (
        f"{len(sealed) - len(keyed)} payloads not under the caller's key"
    )
    key_ids = {p.metadata[META_PERSON_KEY].decode() for p in keyed}
    assert len(key_ids) == 1, key_ids
    return key_ids.pop(), keyed


def temporal_show(settings: Settings, call_id: str) -> str:
    """``temporal workflow show`` against the stack: the history as the server gives it, no codec."""
    out = subprocess.run(
        [
            temporal_binary(),
            "workflow",
            "show",
            "-w",
            call_id,
            "--address",
            settings.temporal_address,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**settings.to_env(), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def recording_exists(settings: Settings, key: str) -> bool:
    try:
        aws.client("s3", settings).head_object(Bucket=settings.recordings_bucket, Key=key)
    except ClientError:
        return False
    return True


async def test_forget_destroys_the_key_recordings_and_records_and_nothing_else(
    stack: Settings, tmp_path: Path
) -> None:
    client = await connect_client(stack)
    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
    me = functools.partial(booking_call, client, stack, caller=CALLER, name=NAME, mobile=MOBILE, keyed=True)
    mine: CallOutcome = await me(tmp_path / "a", "09:00")
    theirs = await booking_call(
        client, stack, tmp_path / "b", "09:30", caller=OTHER, name=OTHER_NAME, mobile=OTHER_MOBILE, keyed=True
    )
    my_key, my_payloads = await person_keyed(client, mine.call_id)
    their_key, _ = await person_keyed(client, theirs.call_id)
    assert my_key != their_key
    assert mine.recording_key and recording_exists(stack, mine.recording_key)

    # The server's own view (the CLI, no codec) holds none of it; the audit reads all of it.
    shown = temporal_show(stack, mine.call_id)
    assert json.loads(shown)  # a real history was printed
    for personal in (CALLER, CALLER.removeprefix("+"), NAME, MOBILE, SENTENCE):
        assert personal not in shown, personal
    revealed = cli(stack, "audit", mine.call_id, "--reveal", "--json")
    assert revealed.returncode == 0, revealed.stderr
    assert all(p in revealed.stdout for p in (CALLER, NAME, MOBILE, SENTENCE))
    masked = cli(stack, "audit", mine.call_id, "--json")
    assert CALLER not in masked.stdout and MOBILE not in masked.stdout and NAME in masked.stdout

    erasure, ended = await forget(stack, "0411 000 222", client)  # the national form finds the same person

    assert erasure.key_id == my_key and erasure.scopes == [mine.call_id] and ended == 0
    assert erasure.recordings == [mine.recording_key]
    assert erasure.business_rows == {"bookings": 1, "customers": 0, "tickets": 0}
    # The key is gone: in a process that never saw it, and in this one (its cache was dropped).
    fresh = EnvelopeCodec(
        KmsKeys(stack.payload_kms_alias, lambda: aws.client("kms", stack)), people=person_keys(stack)
    )
    for codec in (fresh, client.data_converter.payload_codec):
        assert codec is not None
        for payload in my_payloads:
            with pytest.raises(PayloadErased):
                await codec.decode([payload])
    assert not recording_exists(stack, mine.recording_key)
    assert person_keys(stack).erased_at(my_key) is not None
    assert await asyncio.to_thread(person_keys(stack).holdings, person_id(CALLER, "local-person-pepper")) == (
        None,
        [],
        [],
    )

    timeline = await fetch_timeline(client, mine.call_id, reveal=True)
    assert timeline[0].kind == "erased" and "erased" in timeline[0].title
    text = json.dumps([e.as_json() for e in timeline], default=str)
    assert NAME not in text and SENTENCE not in text
    audit = cli(stack, "audit", mine.call_id)
    assert audit.returncode == 0, audit.stderr
    assert "personal data erased" in audit.stdout

    # The dashboard's review list marks it erased (and reads the other call as before).
    assert await read_result(client, mine.call_id) == (None, True)
    assert (await read_result(client, theirs.call_id))[0] == theirs

    # Someone else's call is untouched.
    other = " ".join(
        f"{e.title} {e.detail}" for e in await fetch_timeline(client, theirs.call_id, reveal=True)
    )
    assert OTHER_NAME in other and OTHER in other
    assert theirs.recording_key and recording_exists(stack, theirs.recording_key)

    # The same number calls again: a new person to us, with a new key, and the call works.
    again = await me(tmp_path / "c", "10:30")
    new_key, _ = await person_keyed(client, again.call_id)
    assert new_key != my_key
    assert NAME in " ".join(f"{e.detail}" for e in await fetch_timeline(client, again.call_id, reveal=True))


def test_a_law_firm_keeps_its_matter_files_and_says_why() -> None:
    erased, kept = erasable_kinds()
    assert {"bookings", "tickets", "customers"} <= erased
    assert "matters" in kept and "law_intake" in kept["matters"]


def test_forget_refuses_what_is_not_a_number(stack: Settings) -> None:
    out = cli(stack, "forget", "Jane Citizen", "--yes")
    assert out.returncode == 2 and "not a phone number" in out.stdout
