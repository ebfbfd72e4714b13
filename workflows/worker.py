"""The workflow worker: call workflows and the general activities, on task queue ``calls``.

Scale it out by running more of them (``SWITCHBOARD_WORKER_NAME`` names each one's ready file):
one worker process is one Python interpreter, so its workflow tasks share one core. The Temporal
SDK's metrics are served on ``SWITCHBOARD_PORT_WORKER_SDK_METRICS`` (9102; give each worker on a
machine its own, or 0 for none).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from activities.business import BUSINESS_FILE, SqliteBusiness
from activities.call_records import CallRecordActivities
from activities.calls import ToolActivities, get_profile
from activities.contact import ContactActivities, FileDoNotCall, OptedOut
from activities.delivery import DeliveryActivities
from activities.digest import DigestActivities
from activities.messaging import MessagingActivities
from activities.recordings import RecordingActivities
from activities.replies import understand_reply
from activities.summary import SummaryActivities
from activities.telephony import TelephonyActivities
from switchboard import tracing
from switchboard.config import Settings, get_settings
from switchboard.telephony import twilio_client
from switchboard.temporal import connect_client, metrics_runtime, person_keys
from workflows.call import CallWorkflow
from workflows.callback import OutboundCallbackWorkflow
from workflows.digest import ReviewDigestWorkflow, ensure_digest_schedule
from workflows.intake_delivery import IntakeDeliveryWorkflow

log = logging.getLogger("switchboard.worker")


def workflow_classes() -> Sequence[type]:
    return [CallWorkflow, OutboundCallbackWorkflow, IntakeDeliveryWorkflow, ReviewDigestWorkflow]


def build_worker(
    client: Client,
    settings: Settings,
    *,
    overrides: Mapping[str, Callable[..., Any]] | None = None,
    **options: Any,
) -> Worker:
    """The worker; ``overrides`` replace activities by name (tests swap in fakes this way)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    tools = ToolActivities(SqliteBusiness(settings.home / BUSINESS_FILE))
    telephony = TelephonyActivities(twilio_client(settings), settings)
    people = person_keys(settings) if settings.people_table else None
    pepper = settings.person_pepper.get_secret_value()
    contact = ContactActivities(
        FileDoNotCall(settings.home / "do_not_call.txt"), OptedOut(people, pepper) if people else None
    )
    messaging = MessagingActivities(telephony.twilio, settings, people)
    digest = DigestActivities(settings)
    recordings = RecordingActivities(settings)  # the shipped segments of a call whose host died
    activities: dict[str, Callable[..., Any]] = {
        "get_profile": get_profile,
        "run_tool": tools.run_tool,
        "dial": telephony.dial,
        "hangup": telephony.hangup,
        "transfer": telephony.transfer,
        "summarise": SummaryActivities(prices=settings.prices).summarise,
        "deliver": DeliveryActivities(settings).deliver,
        "check_do_not_call": contact.check_do_not_call,
        "send_sms": messaging.send_sms,
        "record_opt_out": messaging.record_opt_out,
        "understand_reply": understand_reply,
        "record_call": CallRecordActivities(settings).record_call,
        "gather_digest": digest.gather_digest,
        "send_digest": digest.send_digest,
        "archive_recording": recordings.archive_recording,
        "delete_recording": recordings.delete_recording,
    }
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=workflow_classes(),
        activities=list((activities | dict(overrides or {})).values()),
        activity_executor=ThreadPoolExecutor(8),
        **options,
    )


async def main(settings: Settings | None = None) -> None:
    from switchboard.readiness import mark_ready

    s = settings or get_settings()
    tracing.install(s, "workflow-worker")
    runtime = metrics_runtime(s, s.ports.worker_sdk_metrics)
    client = await connect_client(s, wait_s=60, runtime=runtime)
    async with build_worker(client, s):
        mark_ready(s, os.environ.get("SWITCHBOARD_WORKER_NAME") or "worker")
        await asyncio.gather(keep_digest_schedule(client, s), asyncio.Event().wait())  # runs until stopped


async def keep_digest_schedule(client: Client, s: Settings, max_wait_s: float = 30.0) -> None:
    """The digest's schedule (Mondays 08:00 in the business's zone; idempotent), made once the
    worker runs: its payloads go through the codec, whose tables the local stack provisions only
    after every service is healthy, so a first attempt may come too early. Retried until it holds."""
    delay = 0.5
    while True:
        try:
            await ensure_digest_schedule(client, s)
            return
        except Exception as exc:  # a missing table, Temporal not ready: both pass
            log.warning("digest schedule not made yet (%s); retrying in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_wait_s)


if __name__ == "__main__":
    asyncio.run(main())
