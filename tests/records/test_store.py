"""The call records table on moto: idempotent writes, the period and queue queries, the review."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from switchboard import aws
from switchboard.call_record_store import REVIEW_QUEUE, CallRecordStore, UnknownCall
from switchboard.call_records import CallFacts, Flag, ToolUse, Verdict, build_record
from switchboard.config import Settings
from switchboard.models import Outcome

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def record(profile: str, minutes_ago: int, **changes: object) -> CallFacts:
    started = NOW - timedelta(minutes=minutes_ago)
    return CallFacts(
        call_id=f"call-{uuid.uuid4()}",
        profile=profile,
        started_at=started,
        ended_at=started + timedelta(minutes=1),
        outcome=Outcome.COMPLETED,
        consent="given",
    ).model_copy(update=changes)


@pytest.fixture
def store(stack: Settings) -> CallRecordStore:
    s = stack.model_copy(update={"call_records_table": f"records-{uuid.uuid4().hex[:8]}"})
    from switchboard.call_record_store import create_table

    create_table(aws.client("dynamodb", s), s.call_records_table)
    create_table(aws.client("dynamodb", s), s.call_records_table)  # idempotent
    return CallRecordStore.of(s)


def test_a_record_is_written_once_and_read_back(store: CallRecordStore) -> None:
    first = build_record(record("clinic_booking", 5, outcome=Outcome.ESCALATED), "Australia/Sydney")
    assert store.put(first) == first
    assert store.get(first.call_id) == first
    reviewed = store.mark_reviewed(first.call_id, Verdict.FINE, "ok", "sam")
    again = store.put(first.model_copy(update={"flags": []}))  # a retried write keeps what is stored
    assert again == reviewed and again.flags == [Flag.ESCALATED] and again.verdict == Verdict.FINE


def test_a_period_of_some_profiles_oldest_first(store: CallRecordStore) -> None:
    inside = [record("clinic_booking", 60), record("support_triage", 30), record("clinic_booking", 10)]
    outside = [record("clinic_booking", 60 * 24 * 8), record("law_intake", 20)]
    for f in inside + outside:
        store.put(build_record(f, "UTC"))
    found = store.in_period(["clinic_booking", "support_triage"], NOW - timedelta(days=7), NOW)
    assert [r.call_id for r in found] == [f.call_id for f in inside]


def test_the_queue_holds_flagged_unreviewed_calls_searchable_by_reason(store: CallRecordStore) -> None:
    escalated = build_record(record("clinic_booking", 50, outcome=Outcome.ESCALATED), "UTC")
    failed = build_record(
        record("support_triage", 40, tools=[ToolUse(name="create_ticket", ok=False)]), "UTC"
    )
    clean = build_record(record("clinic_booking", 30), "UTC")
    for r in (escalated, failed, clean):
        store.put(r)
    assert [r.call_id for r in store.review_queue()] == [failed.call_id, escalated.call_id]
    assert [r.call_id for r in store.review_queue(reason=Flag.TOOL_FAILED)] == [failed.call_id]
    assert [r.call_id for r in store.review_queue(profile="clinic_booking")] == [escalated.call_id]

    done = store.mark_reviewed(escalated.call_id, "agent_error", "  missed the cue  ", "sam")
    assert done.reviewed_at is not None and done.note == "missed the cue" and done.reviewer == "sam"
    assert [r.call_id for r in store.review_queue()] == [failed.call_id]
    assert store.get(escalated.call_id) == done
    # The queue is a sparse index: the reviewed and the clean calls are not in it at all.
    raw = store._db().scan(TableName=store.table, IndexName=REVIEW_QUEUE)["Items"]
    assert [i["call_id"]["S"] for i in raw] == [failed.call_id]


def test_a_review_needs_a_known_call_a_verdict_and_a_reviewer(store: CallRecordStore) -> None:
    with pytest.raises(UnknownCall):
        store.mark_reviewed("call-nope", Verdict.FINE, "", "sam")
    r = build_record(record("clinic_booking", 5, consent="refused"), "UTC")
    store.put(r)
    with pytest.raises(ValueError):
        store.mark_reviewed(r.call_id, "great", "", "sam")
    with pytest.raises(ValueError):
        store.mark_reviewed(r.call_id, Verdict.FINE, "", "  ")
