"""The call records table (DynamoDB, ``switchboard-call-records``; moto locally).

One item per call, keyed by ``call_id``. The record itself is the ``data`` attribute (its JSON);
beside it, the attributes the indexes and the review need:

- ``profile`` + ``started`` (UTC, ISO, sortable): the ``by_profile`` index, for a period's calls
  of a profile (the overview, the digest) without a scan;
- ``queue`` = ``open`` + ``started``: the sparse ``review_queue`` index. Only flagged calls not yet
  reviewed carry ``queue``, so the queue is read without touching the rest of the history;
  ``flags`` (a list) is beside it, so the queue is searchable by reason;
- ``reviewed_at``, ``verdict``, ``note``, ``reviewer``: the review, set by ``mark_reviewed``.

A record is written once (``put`` is idempotent: a retried write keeps the first, and the review
a person may have written since). Every method blocks (boto3); async callers run them in a thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from switchboard import aws
from switchboard.call_records import CallRecord, Flag, Verdict, record_time
from switchboard.config import Settings

BY_PROFILE = "by_profile"
REVIEW_QUEUE = "review_queue"
OPEN = "open"
NOTE_MAX = 2000

__all__ = ["BY_PROFILE", "REVIEW_QUEUE", "CallRecordStore", "UnknownCall", "create_table", "table_spec"]


class UnknownCall(LookupError):
    """No record of that call."""


def _stamp(moment: datetime) -> str:
    return record_time(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def table_spec(table: str) -> dict[str, Any]:
    """The table's definition (``template.yaml``'s ``CallRecordsTable`` says the same)."""

    def index(name: str, hash_key: str) -> dict[str, Any]:
        return {
            "IndexName": name,
            "KeySchema": [
                {"AttributeName": hash_key, "KeyType": "HASH"},
                {"AttributeName": "started", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }

    return {
        "TableName": table,
        "KeySchema": [{"AttributeName": "call_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("call_id", "profile", "started", "queue")
        ],
        "GlobalSecondaryIndexes": [index(BY_PROFILE, "profile"), index(REVIEW_QUEUE, "queue")],
        "BillingMode": "PAY_PER_REQUEST",
    }


def create_table(ddb: Any, table: str) -> None:
    """Create the table unless it exists (idempotent)."""
    if table in ddb.list_tables()["TableNames"]:
        return
    ddb.create_table(**table_spec(table))


class CallRecordStore:
    """Read and write call records. ``ddb`` makes the boto3 DynamoDB client on first use."""

    def __init__(self, table: str, ddb: Callable[[], Any]) -> None:
        self.table = table
        self._factory = ddb
        self._ddb: Any = None

    @classmethod
    def of(cls, settings: Settings) -> CallRecordStore:
        """The configured table (``SWITCHBOARD_CALL_RECORDS_TABLE``)."""
        return cls(settings.call_records_table, lambda: aws.client("dynamodb", settings))

    def _db(self) -> Any:
        if self._ddb is None:
            self._ddb = self._factory()
        return self._ddb

    # -- writing ---------------------------------------------------------------------------

    def put(self, record: CallRecord) -> CallRecord:
        """Store a new call's record; if it is already stored (a retry), the stored one is kept and returned."""
        item: dict[str, Any] = {
            "call_id": {"S": record.call_id},
            "profile": {"S": record.profile},
            "started": {"S": _stamp(record.started_at)},
            "day": {"S": record.day.isoformat()},
            "outcome": {"S": record.outcome.value},
            "flags": {"L": [{"S": f.value} for f in record.flags]},
            "data": {"S": _data(record)},
        }
        if record.pending_review:
            item["queue"] = {"S": OPEN}
        try:
            self._db().put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(call_id)"
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            stored = self.get(record.call_id)
            if stored is None:  # pragma: no cover - deleted between the two requests
                raise
            return stored
        return record

    def mark_reviewed(
        self, call_id: str, verdict: Verdict | str, note: str, reviewer: str, at: datetime | None = None
    ) -> CallRecord:
        """A person listened: the verdict, a note (no caller details), who and when. It leaves the queue.
        Marking again replaces the review. Raises ``UnknownCall`` when there is no such record."""
        verdict = Verdict(verdict)
        if not reviewer.strip():
            raise ValueError("a review needs the reviewer's name")
        when = record_time(at or datetime.now(UTC))
        try:
            reply = self._db().update_item(
                TableName=self.table,
                Key={"call_id": {"S": call_id}},
                UpdateExpression="SET reviewed_at = :at, verdict = :v, note = :n, reviewer = :r REMOVE #q",
                ConditionExpression="attribute_exists(call_id)",
                ExpressionAttributeNames={"#q": "queue"},
                ExpressionAttributeValues={
                    ":at": {"S": _stamp(when)},
                    ":v": {"S": verdict.value},
                    ":n": {"S": note.strip()[:NOTE_MAX]},
                    ":r": {"S": reviewer.strip()[:120]},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise UnknownCall(call_id) from None
            raise
        return _record(reply["Attributes"])

    # -- reading ---------------------------------------------------------------------------

    def get(self, call_id: str) -> CallRecord | None:
        reply = self._db().get_item(
            TableName=self.table, Key={"call_id": {"S": call_id}}, ConsistentRead=True
        )
        item = reply.get("Item")
        return _record(item) if item else None

    def in_period(self, profiles: Iterable[str], start: datetime, end: datetime) -> list[CallRecord]:
        """The calls of these profiles that started in [start, end), oldest first: one query per
        profile, side by side (boto3 clients are thread-safe)."""

        def of(profile: str) -> list[CallRecord]:
            return self._query(
                IndexName=BY_PROFILE,
                KeyConditionExpression="profile = :p AND started BETWEEN :a AND :b",
                ExpressionAttributeValues={
                    ":p": {"S": profile},
                    ":a": {"S": _stamp(start)},
                    ":b": {"S": _stamp(end)},
                },
                # The record and its review only: what the indexes need is in ``data`` too.
                ProjectionExpression="#d, reviewed_at, verdict, note, reviewer",
                ExpressionAttributeNames={"#d": "data"},
            )

        names = list(profiles)
        self._db()  # made once, before the threads share it
        with ThreadPoolExecutor(max_workers=max(1, min(len(names), 8))) as pool:
            found = [r for batch in pool.map(of, names) for r in batch]
        end_utc = record_time(end)
        return sorted((r for r in found if r.started_at < end_utc), key=lambda r: r.started_at)

    def review_queue(
        self,
        *,
        profile: str | None = None,
        reason: Flag | str | None = None,
        since: datetime | None = None,
        limit: int = 200,
    ) -> list[CallRecord]:
        """Flagged calls not yet reviewed, newest first; of one profile, with one reason, since a time."""
        values: dict[str, Any] = {":q": {"S": OPEN}}
        condition = "#q = :q"
        if since is not None:
            condition += " AND started >= :s"
            values[":s"] = {"S": _stamp(since)}
        filters: list[str] = []
        if profile:
            filters.append("profile = :p")
            values[":p"] = {"S": profile}
        if reason:
            filters.append("contains(flags, :f)")
            values[":f"] = {"S": Flag(reason).value}
        query: dict[str, Any] = {
            "IndexName": REVIEW_QUEUE,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#q": "queue"},
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,  # a page of the newest (before any filter); more pages only when needed
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
        out: list[CallRecord] = []
        for record in self._iterate(query):
            out.append(record)
            if len(out) >= limit:
                break
        return out

    def _query(self, **query: Any) -> list[CallRecord]:
        return list(self._iterate(query))

    def _iterate(self, query: dict[str, Any]) -> Iterator[CallRecord]:
        page: dict[str, Any] = {}
        while True:
            reply = self._db().query(TableName=self.table, **query, **page)
            yield from (_record(item) for item in reply.get("Items", []))
            last = reply.get("LastEvaluatedKey")
            if not last:
                return
            page = {"ExclusiveStartKey": last}


def _data(record: CallRecord) -> str:
    facts = record.model_dump(mode="json", exclude={"reviewed_at", "verdict", "note", "reviewer"})
    return json.dumps(facts, separators=(",", ":"))


def _record(item: dict[str, Any]) -> CallRecord:
    data = json.loads(item["data"]["S"])
    if "reviewed_at" in item:
        data["reviewed_at"] = item["reviewed_at"]["S"]
        data["verdict"] = item["verdict"]["S"]
        data["note"] = item.get("note", {}).get("S", "")
        data["reviewer"] = item.get("reviewer", {}).get("S", "")
    return CallRecord.model_validate(data)
