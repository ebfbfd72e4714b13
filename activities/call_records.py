"""Write a finished call's record (``switchboard/call_records.py``) to the call records table."""

from __future__ import annotations

import asyncio

from temporalio import activity

from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import CallFacts, RecordResult, build_record
from switchboard.config import Settings


class CallRecordActivities:
    def __init__(self, settings: Settings, store: CallRecordStore | None = None) -> None:
        self.settings = settings
        self.store = store or CallRecordStore.of(settings)

    @activity.defn(name="record_call")
    async def record_call(self, facts: CallFacts) -> RecordResult:
        """One side effect: the record is stored once (a retry keeps the first, and any review of it)."""
        record = build_record(facts, self.settings.business_timezone)
        stored = await asyncio.to_thread(self.store.put, record)
        return RecordResult(call_id=stored.call_id, flags=stored.flags)


__all__ = ["CallRecordActivities"]
