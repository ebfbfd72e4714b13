"""Deliver a call's summary: email through SES (moto locally), or a webhook."""

from __future__ import annotations

import asyncio
import html
from typing import Any

import httpx
from temporalio import activity

from switchboard import aws
from switchboard.config import Settings
from switchboard.messages import DeliverInput, DeliveryResult
from switchboard.models import CallSummary


def render_text(summary: CallSummary, recording_key: str | None) -> str:
    lines = [summary.headline, "", f"Call: {summary.call_id}", f"Outcome: {summary.outcome.value}"]
    for key, value in summary.fields.items():
        if key == "transcript_excerpt":
            continue
        if value not in (None, "", []):
            lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    if recording_key:
        lines.append(f"Recording: s3://…/{recording_key}")
    excerpt = summary.fields.get("transcript_excerpt") or []
    if excerpt:
        lines += ["", "Transcript excerpt:", *excerpt]
    return "\n".join(lines)


def render_html(summary: CallSummary, recording_key: str | None) -> str:
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k.replace('_', ' ').capitalize())}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.fields.items()
        if k != "transcript_excerpt" and v not in (None, "", [])
    )
    excerpt = "".join(f"<li>{html.escape(t)}</li>" for t in summary.fields.get("transcript_excerpt") or [])
    rec = f"<p>Recording: <code>{html.escape(recording_key)}</code></p>" if recording_key else ""
    return (
        f"<h2>{html.escape(summary.headline)}</h2><p>Call {html.escape(summary.call_id)}: "
        f"<b>{html.escape(summary.outcome.value)}</b></p><table>{rows}</table>{rec}<ol>{excerpt}</ol>"
    )


class DeliveryActivities:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ses: Any = None  # one boto3 client, made on first use (making one costs ~20 ms of CPU)

    @activity.defn(name="deliver")
    async def deliver(self, inp: DeliverInput) -> DeliveryResult:
        if inp.delivery.webhook_url:
            async with httpx.AsyncClient(timeout=10) as http:
                resp = await http.post(
                    inp.delivery.webhook_url,
                    json={"summary": inp.summary.model_dump(mode="json"), "recording_key": inp.recording_key},
                )
                resp.raise_for_status()
            return DeliveryResult(channel="webhook")
        return await asyncio.to_thread(self._email, inp)

    def _email(self, inp: DeliverInput) -> DeliveryResult:
        if self._ses is None:
            self._ses = aws.client("sesv2", self.settings)  # boto3 clients are thread-safe
        ses = self._ses
        subject = f"[{inp.summary.profile}] {inp.summary.headline}"
        sent = ses.send_email(
            FromEmailAddress=self.settings.mail_sender,
            Destination={"ToAddresses": inp.delivery.email},
            Content={
                "Simple": {
                    "Subject": {"Data": subject},
                    "Body": {
                        "Text": {"Data": render_text(inp.summary, inp.recording_key)},
                        "Html": {"Data": render_html(inp.summary, inp.recording_key)},
                    },
                }
            },
            EmailTags=[{"Name": "call_id", "Value": inp.summary.call_id}],
        )
        return DeliveryResult(
            channel="email", message_id=sent.get("MessageId"), recipients=inp.delivery.email
        )


__all__ = ["DeliveryActivities", "render_html", "render_text"]
