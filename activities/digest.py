"""The weekly review digest's two steps: read the week from the call records; email it through SES."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from switchboard import aws
from switchboard.call_record_store import CallRecordStore
from switchboard.call_records import CallRecord
from switchboard.config import Settings
from switchboard.digest import DigestCall, DigestResult, WeeklyDigest, render
from switchboard.messages import DeliveryResult
from switchboard.profiles import profile_names

UNREVIEWED_MAX = 100


class GatherInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime
    timezone: str
    dashboard_url: str


class SendInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digest: WeeklyDigest
    recipients: list[str]


def _brief(r: CallRecord) -> DigestCall:
    return DigestCall(
        call_id=r.call_id, profile=r.profile, started_at=r.started_at, outcome=r.outcome, flags=r.flags
    )


class DigestActivities:
    def __init__(self, settings: Settings, store: CallRecordStore | None = None) -> None:
        self.settings = settings
        self.store = store or CallRecordStore.of(settings)
        self._ses: Any = None

    @activity.defn(name="gather_digest")
    async def gather_digest(self, inp: GatherInput) -> WeeklyDigest:
        """The week's figures (reads only: no side effect)."""
        records = await asyncio.to_thread(self.store.in_period, profile_names(), inp.start, inp.end)
        queue = await asyncio.to_thread(self.store.review_queue, limit=UNREVIEWED_MAX)
        outcomes = Counter(r.outcome for r in records)
        return WeeklyDigest(
            timezone=inp.timezone,
            first_day=inp.start.date(),
            last_day=(inp.end - timedelta(days=1)).date(),
            calls=len(records),
            outcomes=dict(outcomes.most_common()),
            contained=sum(r.contained for r in records),
            answered=sum(r.answered for r in records),
            flagged=[_brief(r) for r in records if r.flags],
            unreviewed=[_brief(r) for r in sorted(queue, key=lambda r: r.started_at)],
            dashboard_url=inp.dashboard_url,
        )

    @activity.defn(name="send_digest")
    async def send_digest(self, inp: SendInput) -> DigestResult:
        """One email to the team through SES."""
        sent = await asyncio.to_thread(self._email, inp)
        d = inp.digest
        return DigestResult(
            first_day=d.first_day,
            last_day=d.last_day,
            calls=d.calls,
            flagged=len(d.flagged),
            unreviewed=len(d.unreviewed),
            message_id=sent.message_id,
            recipients=sent.recipients,
        )

    def _email(self, inp: SendInput) -> DeliveryResult:
        if self._ses is None:
            self._ses = aws.client("sesv2", self.settings)
        title, text, body = render(inp.digest)
        sent = self._ses.send_email(
            FromEmailAddress=self.settings.mail_sender,
            Destination={"ToAddresses": inp.recipients},
            Content={
                "Simple": {
                    "Subject": {"Data": title},
                    "Body": {"Text": {"Data": text}, "Html": {"Data": body}},
                }
            },
            EmailTags=[{"Name": "digest_week", "Value": inp.digest.first_day.isoformat()}],
        )
        return DeliveryResult(channel="email", message_id=sent.get("MessageId"), recipients=inp.recipients)


__all__ = ["DigestActivities", "GatherInput", "SendInput"]
