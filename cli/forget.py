"""``switchboard forget +61…``: erase a person (crypto-shredding), on their request.

In order, each step safe to run again if an earlier run stopped half way:

1. find the person's key, calls (scopes) and recordings in the people table;
2. terminate their calls' workflows that are still open (they could not read their own history
   once the key is gone);
3. delete their recordings from S3, every version;
4. erase their rows from the business system, except the kinds a profile keeps (and says why);
5. destroy their key (its one stored copy) with every row naming them, and write the erasure
   record: when, how many calls, recordings and rows, and nothing personal.

After step 5 every payload of their histories (on the server, in exports, in backups) is
ciphertext under a key that no longer exists; ``switchboard audit`` says the call was erased. A
later call from the same number is a new person to us: it gets a new key.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from switchboard import aws
from switchboard.config import Settings
from switchboard.people import Erasure, NotAPhoneNumber, new_erasure, normalise, person_id
from switchboard.recording_segments import delete_versions
from switchboard.temporal import connect_client, payload_codec, person_keys

console = Console()
TERMINATED_REASON = "personal data erased on request"


def erasable_kinds() -> tuple[set[str], dict[str, str]]:
    """The business record kinds ``forget`` erases, and those kept with the profile's reason."""
    from activities.tools import REGISTRY
    from activities.tools.profiles import load_profile
    from switchboard.profiles import profile_names

    touched: set[str] = set()
    kept: dict[str, str] = {}
    for name in profile_names():
        profile = load_profile(name)
        kinds = {REGISTRY[t.name].records for t in profile.tools if t.name in REGISTRY}
        kinds.discard(None)
        touched |= {k for k in kinds if k}
        if profile.erasure.keep_business_records:
            kept |= {k: f"{name}: {profile.erasure.reason}" for k in kinds if k}
    return touched - set(kept), kept


async def _terminate_open(client: Client, scopes: list[str]) -> int:
    """Terminate the scopes' workflows that are still running (attempts and intake included)."""
    ended = 0
    for scope in scopes:
        query = (
            f'(WorkflowId STARTS_WITH "{scope}" OR WorkflowId STARTS_WITH "intake-{scope}")'
            ' AND ExecutionStatus = "Running"'
        )
        async for wf in client.list_workflows(query):
            if wf.status != WorkflowExecutionStatus.RUNNING:
                continue
            try:
                await client.get_workflow_handle(wf.id, run_id=wf.run_id).terminate(reason=TERMINATED_REASON)
                ended += 1
            except RPCError:  # it closed meanwhile
                continue
    return ended


def _delete_recordings(settings: Settings, keys: list[str]) -> list[str]:
    """Delete each recording, every version of it (the bucket is versioned in AWS), and every
    version of each segment under a noted segment prefix (``…/``); the keys or prefixes deleted."""
    s3: Any = aws.client("s3", settings)
    return [key for key in keys if delete_versions(s3, settings.recordings_bucket, key)]


def _erase_business(settings: Settings, number: str, kinds: set[str]) -> dict[str, int]:
    from activities.business import BUSINESS_FILE, SqliteBusiness

    path = settings.home / BUSINESS_FILE
    if not path.exists():
        return {}
    return SqliteBusiness(path).erase(number, kinds)


async def forget(settings: Settings, number: str, client: Client | None = None) -> tuple[Erasure, int]:
    """Erase the person on ``number``; the erasure record and how many open calls were ended."""
    e164 = normalise(number)
    person = person_id(e164, settings.person_pepper.get_secret_value())
    people = person_keys(settings)
    key_id, scopes, recordings = await asyncio.to_thread(people.holdings, person)
    erasure = new_erasure(key_id)
    erasure.scopes = scopes
    client = client or await connect_client(settings)
    ended = await _terminate_open(client, scopes)
    erasure.recordings = await asyncio.to_thread(_delete_recordings, settings, recordings)
    kinds, _kept = erasable_kinds()
    erasure.business_rows = await asyncio.to_thread(_erase_business, settings, e164, kinds)
    await asyncio.to_thread(people.destroy, person, key_id, scopes, erasure)
    if key_id is not None:
        payload_codec(settings).forget_cached(key_id)
    return erasure, ended


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    try:
        normalise(args.number)
    except NotAPhoneNumber as err:
        console.print(f"[red]{err}[/]: give the person's number, e.g. +61412345678 or 0412 345 678")
        return 2
    if not args.yes:
        console.print(
            "This destroys the person's data key: their calls' histories become unreadable for good."
        )
        if console.input("Type [bold]forget[/] to go on: ").strip() != "forget":
            console.print("nothing was changed")
            return 1
    erasure, ended = asyncio.run(forget(settings, args.number))
    _kinds, kept = erasable_kinds()
    rows = ", ".join(f"{n} {k}" for k, n in erasure.business_rows.items()) or "none"
    console.print(f"[green]erased[/] (record {erasure.erasure_id}, {erasure.at:%Y-%m-%d %H:%M} UTC)")
    console.print(
        f"  key destroyed: {'yes' if erasure.key_id else 'no key: no call was ever keyed to this number'}"
    )
    console.print(f"  calls made unreadable: {len(erasure.scopes)} (still open and ended now: {ended})")
    console.print(f"  recordings deleted: {len(erasure.recordings)}")
    console.print(f"  business rows erased: {rows}")
    for kind, why in sorted(kept.items()):
        console.print(f"  kept {kind}: {why}")
    return 0


def add_parser(sub: Any) -> None:
    forget_ = sub.add_parser("forget", help="erase a person: destroy their key, recordings and records")
    forget_.add_argument("number", help="the person's phone number (E.164, or national for Australia)")
    forget_.add_argument("--yes", action="store_true", help="do not ask for confirmation")
