"""The weekly review digest: when it is due, what it says, and how it reads in an email. Pure.

Every Monday at 08:00 in the business's zone the team gets last week's calls (Monday to Sunday):
the counts by outcome, the calls flagged for review (with links to the dashboard) and every
flagged call not reviewed yet. Call ids, counts and reasons only: nothing personal.
"""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from switchboard.call_records import FLAG_LABELS, Flag
from switchboard.models import Outcome

DIGEST_AT = time(8, 0)
MONDAY = 0
GRACE = timedelta(hours=6)  # started this long after Monday 08:00 (a late schedule): send now

__all__ = ["DigestCall", "DigestInput", "DigestResult", "WeeklyDigest", "digest_due", "render", "week_of"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DigestInput(_Model):
    """The schedule's action: who gets the digest, in which zone, and where the dashboard is."""

    timezone: str = "Australia/Sydney"
    recipients: list[str] = Field(default_factory=list)
    dashboard_url: str = "http://127.0.0.1:8000"
    retry_initial: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=10)
    give_up_after: timedelta = timedelta(days=1)


class DigestCall(_Model):
    call_id: str
    profile: str
    started_at: datetime
    outcome: Outcome
    flags: list[Flag] = Field(default_factory=list)


class WeeklyDigest(_Model):
    """What the digest says, gathered from the call records."""

    timezone: str
    first_day: date
    last_day: date
    calls: int = 0
    outcomes: dict[Outcome, int] = Field(default_factory=dict)
    contained: int = 0
    answered: int = 0
    flagged: list[DigestCall] = Field(default_factory=list, description="The week's flagged calls.")
    unreviewed: list[DigestCall] = Field(default_factory=list, description="Every flagged call not reviewed.")
    dashboard_url: str = ""


class DigestResult(_Model):
    first_day: date
    last_day: date
    calls: int
    flagged: int
    unreviewed: int
    message_id: str | None = None
    recipients: list[str] = Field(default_factory=list)


def digest_due(now: datetime, zone: str) -> datetime:
    """The Monday 08:00 (in ``zone``) this digest is for: the last one, if it was under ``GRACE``
    ago (the schedule fired it), else the next one."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    monday = local.date() - timedelta(days=(local.weekday() - MONDAY) % 7)
    last = datetime.combine(monday, DIGEST_AT, tz)
    if last > local:
        last = datetime.combine(monday - timedelta(days=7), DIGEST_AT, tz)
    return last if local - last <= GRACE else datetime.combine(last.date() + timedelta(days=7), DIGEST_AT, tz)


def week_of(due: datetime) -> tuple[datetime, datetime]:
    """The week a digest due at ``due`` reports: the seven days before its Monday, midnight to midnight."""
    end = datetime.combine(due.date(), time(0), due.tzinfo)
    return end - timedelta(days=7), end


def _link(digest: WeeklyDigest, call: DigestCall) -> str:
    return f"{digest.dashboard_url.rstrip('/')}/review/{call.call_id}"


def _reasons(call: DigestCall) -> str:
    return ", ".join(FLAG_LABELS[f].lower() for f in call.flags)


def subject(digest: WeeklyDigest) -> str:
    return (
        f"Weekly call review {digest.first_day:%-d %b}–{digest.last_day:%-d %b}: {digest.calls} calls, "
        f"{len(digest.flagged)} flagged, {len(digest.unreviewed)} to review"
    )


def render(digest: WeeklyDigest) -> tuple[str, str, str]:
    """The email: subject, plain text and HTML."""
    zone = ZoneInfo(digest.timezone)
    rate = f"{100 * digest.contained / digest.answered:.0f}%" if digest.answered else "—"
    outcomes = sorted(digest.outcomes.items(), key=lambda kv: -kv[1])
    text = [
        f"Calls from {digest.first_day:%A %-d %B} to {digest.last_day:%A %-d %B} ({digest.timezone}).",
        "",
        f"Calls: {digest.calls}. Finished by the agent, no person needed: {digest.contained} of "
        f"{digest.answered} answered ({rate}).",
        *(f"  {o.value.replace('_', ' ')}: {n}" for o, n in outcomes),
        "",
        f"Flagged this week: {len(digest.flagged)}",
        *(
            f"  {c.started_at.astimezone(zone):%a %H:%M} {c.profile} — {_reasons(c)}: {_link(digest, c)}"
            for c in digest.flagged
        ),
        "",
        f"Not yet reviewed: {len(digest.unreviewed)}",
        *(
            f"  {c.started_at.astimezone(zone):%a %-d %b} {c.profile}: {_link(digest, c)}"
            for c in digest.unreviewed
        ),
    ]

    def rows(calls: list[DigestCall], fmt: str) -> str:
        return "".join(
            f"<li>{c.started_at.astimezone(zone).strftime(fmt)} {html.escape(c.profile)} — "
            f'{html.escape(_reasons(c))}: <a href="{html.escape(_link(digest, c))}">{html.escape(c.call_id)}</a></li>'
            for c in calls
        )

    body = (
        f"<h2>{html.escape(subject(digest))}</h2>"
        f"<p>Calls from {digest.first_day:%A %-d %B} to {digest.last_day:%A %-d %B} ({html.escape(digest.timezone)}).</p>"
        f"<p>Calls: <b>{digest.calls}</b>. Finished by the agent, no person needed: <b>{digest.contained}</b> of "
        f"{digest.answered} answered ({rate}).</p><table>"
        + "".join(
            f"<tr><th align='left'>{o.value.replace('_', ' ')}</th><td>{n}</td></tr>" for o, n in outcomes
        )
        + f"</table><h3>Flagged this week: {len(digest.flagged)}</h3><ul>{rows(digest.flagged, '%a %H:%M')}</ul>"
        f"<h3>Not yet reviewed: {len(digest.unreviewed)}</h3><ul>{rows(digest.unreviewed, '%a %-d %b')}</ul>"
    )
    return subject(digest), "\n".join(text), body
