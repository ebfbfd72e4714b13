"""A data key per person, so a person can be erased from histories that cannot be edited.

The person is the caller or the lead, named by ``person_id``: an HMAC-SHA256 of their E.164 number
under a secret pepper (a hash of a phone number alone is reversed by trying every number). The
people table (DynamoDB, ``switchboard-people``) holds four kinds of item, keyed by ``pk``:

- ``person#<person_id>``: the person's ``key_id`` and the scopes (calls) keyed with it;
- ``key#<key_id>``: the data key, wrapped by KMS (``envelope``). This item is the only copy: the
  payloads name ``key_id`` and never carry the envelope, so deleting it destroys the key;
- ``scope#<scope>``: which key a call's workflows use, and the call's recording keys;
- ``erased#<key_id>`` and ``erasure#<id>``: when a key was destroyed, and the erasure record
  (when, how many calls, recordings and business rows), with no personal data;
- ``optout#<person_id>``: the person asked not to be contacted (a STOP reply): the business's
  do-not-contact list. It names no one and outlives an erasure (it is how we keep our word).

A *scope* is the root workflow id of one person's business with us: ``call-<CallSid>`` for an
inbound call, ``callback-<submission>`` for a web-form lead (its attempts ``…-a1`` and the
intake delivery ``intake-…`` share it). ``scope_of`` maps any workflow id to its scope, which is
how the payload codec finds a workflow's key from the serialization context alone.

Every method blocks (boto3); async callers run them in a thread.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import phonenumbers
from botocore.exceptions import ClientError

_KMS_PURPOSE = "switchboard-person"
_ATTEMPT = re.compile(r"-a\d+$")


class NotAPhoneNumber(ValueError):
    """The text given as a person's number is not a valid phone number."""


def normalise(number: str, region: str = "AU") -> str:
    """``number`` in E.164 (``+61412345678``), read as a ``region`` number when it has no country code."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as err:
        raise NotAPhoneNumber(f"not a phone number: {err}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise NotAPhoneNumber("not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def person_id(number: str, pepper: str) -> str:
    """The person's pseudonymous id: HMAC-SHA256 of the E.164 number under ``pepper``."""
    if not pepper:
        raise ValueError("person ids need a pepper (SWITCHBOARD_PERSON_PEPPER)")
    return hmac.new(pepper.encode(), normalise(number).encode(), hashlib.sha256).hexdigest()


def scope_of(workflow_id: str) -> str:
    """The scope (root workflow id) a workflow's payloads are keyed by."""
    scope = workflow_id.removeprefix("intake-")
    if scope.startswith("callback-"):
        scope = _ATTEMPT.sub("", scope)
    return scope


@dataclass(frozen=True)
class PersonKey:
    key_id: str
    envelope: bytes  # the data key wrapped by KMS


@dataclass
class Erasure:
    """What ``forget`` did: no personal data, only counts, ids of our own and the time."""

    erasure_id: str
    at: datetime
    key_id: str | None
    scopes: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    business_rows: dict[str, int] = field(default_factory=dict)


class PersonKeys:
    """The people table and the KMS key that wraps the data keys in it."""

    def __init__(self, table: str, kms_key: str, ddb: Callable[[], Any], kms: Callable[[], Any]) -> None:
        self.table = table
        self.kms_key = kms_key
        self._ddb_factory, self._kms_factory = ddb, kms
        self._ddb: Any = None
        self._kms: Any = None

    def _db(self) -> Any:
        if self._ddb is None:
            self._ddb = self._ddb_factory()
        return self._ddb

    def _k(self) -> Any:
        if self._kms is None:
            self._kms = self._kms_factory()
        return self._kms

    def _get(self, pk: str) -> dict[str, Any] | None:
        item = self._db().get_item(TableName=self.table, Key={"pk": {"S": pk}}, ConsistentRead=True)
        return item.get("Item")

    def _delete(self, pk: str) -> None:
        self._db().delete_item(TableName=self.table, Key={"pk": {"S": pk}})

    # -- assigning -----------------------------------------------------------------------------

    def assign(self, scope: str, person: str) -> str:
        """The key of ``person`` for ``scope``, made on their first call; idempotent. Returns its id."""
        known = self._get(f"scope#{scope}")
        if known is not None:
            return str(known["key_id"]["S"])
        row = self._get(f"person#{person}")
        key_id = str(row["key_id"]["S"]) if row is not None else self._new_key(person)
        self._db().update_item(
            TableName=self.table,
            Key={"pk": {"S": f"person#{person}"}},
            UpdateExpression="ADD scopes :s",
            ExpressionAttributeValues={":s": {"SS": [scope]}},
        )
        self._db().put_item(
            TableName=self.table,
            Item={"pk": {"S": f"scope#{scope}"}, "key_id": {"S": key_id}, "at": {"S": _now()}},
        )
        return key_id

    def _new_key(self, person: str) -> str:
        key_id = uuid.uuid4().hex
        out = self._k().generate_data_key(
            KeyId=self.kms_key, KeySpec="AES_256", EncryptionContext=_context(key_id)
        )
        self._db().put_item(
            TableName=self.table,
            Item={"pk": {"S": f"key#{key_id}"}, "envelope": {"B": bytes(out["CiphertextBlob"])}},
        )
        try:
            self._db().put_item(
                TableName=self.table,
                Item={"pk": {"S": f"person#{person}"}, "key_id": {"S": key_id}, "at": {"S": _now()}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as err:  # a concurrent first call made theirs first: use that one
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            self._delete(f"key#{key_id}")
            row = self._get(f"person#{person}")
            assert row is not None
            return str(row["key_id"]["S"])
        return key_id

    def add_recording(self, scope: str, recording_key: str) -> None:
        """Note a call's recording under its scope (only when the scope has a person), for erasure."""
        try:
            self._db().update_item(
                TableName=self.table,
                Key={"pk": {"S": f"scope#{scope}"}},
                UpdateExpression="ADD recordings :r",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":r": {"SS": [recording_key]}},
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    # -- reading (the codec) -------------------------------------------------------------------

    def key_of_scope(self, scope: str) -> str | None:
        row = self._get(f"scope#{scope}")
        return None if row is None else str(row["key_id"]["S"])

    def unwrap(self, key_id: str) -> bytes | None:
        """The plaintext data key, or None once it has been destroyed."""
        row = self._get(f"key#{key_id}")
        if row is None:
            return None
        out = self._k().decrypt(
            CiphertextBlob=bytes(row["envelope"]["B"]), EncryptionContext=_context(key_id)
        )
        return bytes(out["Plaintext"])

    def erased_at(self, key_id: str) -> datetime | None:
        row = self._get(f"erased#{key_id}")
        return None if row is None else datetime.fromisoformat(row["at"]["S"])

    # -- do not contact --------------------------------------------------------------------------

    def opt_out(self, person: str, at: str | None = None) -> None:
        """Put the person on the do-not-contact list (idempotent)."""
        self._db().put_item(
            TableName=self.table, Item={"pk": {"S": f"optout#{person}"}, "at": {"S": at or _now()}}
        )

    def opted_out(self, person: str) -> bool:
        return self._get(f"optout#{person}") is not None

    def callback_scopes(self, person: str) -> list[str]:
        """The person's web-form callbacks (their ``callback-…`` scopes)."""
        row = self._get(f"person#{person}") or {}
        return sorted(s for s in row.get("scopes", {}).get("SS", []) if s.startswith("callback-"))

    # -- forgetting ----------------------------------------------------------------------------

    def holdings(self, person: str) -> tuple[str | None, list[str], list[str]]:
        """The person's key id, scopes and recording keys (nothing is changed)."""
        row = self._get(f"person#{person}")
        if row is None:
            return None, [], []
        scopes = sorted(row.get("scopes", {}).get("SS", []))
        recordings: list[str] = []
        for scope in scopes:
            srow = self._get(f"scope#{scope}") or {}
            recordings += srow.get("recordings", {}).get("SS", [])
        return str(row["key_id"]["S"]), scopes, sorted(recordings)

    def destroy(self, person: str, key_id: str | None, scopes: Iterable[str], erasure: Erasure) -> None:
        """Delete the key and every row naming the person; write the erasure record."""
        if key_id is not None:
            self._delete(f"key#{key_id}")  # first: from here on, nothing decrypts
        for scope in scopes:
            self._delete(f"scope#{scope}")
        self._delete(f"person#{person}")
        at = erasure.at.isoformat()
        record = {
            "pk": {"S": f"erasure#{erasure.erasure_id}"},
            "at": {"S": at},
            "calls": {"N": str(len(erasure.scopes))},
            "recordings": {"N": str(len(erasure.recordings))},
            "business_rows": {"N": str(sum(erasure.business_rows.values()))},
        }
        if key_id is not None:
            record["key_id"] = {"S": key_id}
            self._db().put_item(
                TableName=self.table,
                Item={"pk": {"S": f"erased#{key_id}"}, "at": {"S": at}, "erasure": {"S": erasure.erasure_id}},
            )
        self._db().put_item(TableName=self.table, Item=record)


def _context(key_id: str) -> dict[str, str]:
    return {"purpose": _KMS_PURPOSE, "key": key_id}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_erasure(key_id: str | None) -> Erasure:
    return Erasure(
        erasure_id=f"{int(time.time())}-{uuid.uuid4().hex[:12]}", at=datetime.now(UTC), key_id=key_id
    )
