"""POST /callbacks: a signed web form → an ``OutboundCallbackWorkflow`` scheduled exactly once.

The workflow id is ``callback-<submission_id>`` with USE_EXISTING + REJECT_DUPLICATE, so the
Temporal server itself is the idempotency record: a retried or replayed post (while the call
runs, or after it ended) starts nothing and answers 202 ``duplicate``. Checks run before any
parsing of untrusted JSON (see ``functions/_forms.py``); logs carry ids and statuses only.
"""

# No ``from __future__ import annotations`` here: Powertools' validation reads the route signatures.
import base64
import os
from datetime import timedelta
from functools import cache
from typing import Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from functions._forms import read_form
from functions._runtime import (
    RETRY_AFTER_S,
    TemporalRuntime,
    TemporalUnavailable,
    assign_person,
    opted_out,
    secret,
    traced,
)
from switchboard.cadence import Cadence
from switchboard.calendar import PRESETS
from switchboard.config import get_settings
from switchboard.messages import CallbackPolicy, CallbackRequest
from switchboard.models import Lead
from switchboard.profiles import read_profile
from switchboard.search_attributes import LEAD_ID

WORKFLOW = "OutboundCallbackWorkflow"  # started by name: the worker owns its definition


class FormAccepted(BaseModel):
    call_id: str
    status: Literal["scheduled", "duplicate", "do_not_contact"]


logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
settings = get_settings()
temporal = TemporalRuntime(settings)


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The exact bytes that were posted (what the HMAC covers)."""
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode()


@cache
def policy() -> CallbackPolicy:
    """The outbound profile's callback policy: the calling hours, and its cadence. Texts keep the
    profile's own hours, except where the deployment calls at any hour (``calling_hours=always``,
    the local stack): there they go at any hour too."""
    base = CallbackPolicy(hours=PRESETS[settings.calling_hours])
    raw = read_profile(base.profile).settings.get("cadence")
    cadence = Cadence.model_validate(raw) if raw is not None else None
    if cadence is not None and settings.calling_hours == "always":
        cadence = cadence.model_copy(update={"text_hours": base.hours})
    return base.model_copy(update={"cadence": cadence})


@tracer.capture_method
def schedule(lead: Lead) -> bool:
    """Start the callback's workflow; False when it already exists (running or closed)."""

    async def start(client: Client) -> bool:
        try:
            handle = await client.start_workflow(
                WORKFLOW,
                CallbackRequest(lead=lead, policy=policy()),
                id=f"callback-{lead.submission_id}",
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=TypedSearchAttributes([SearchAttributePair(LEAD_ID, lead.submission_id)]),
                rpc_timeout=timedelta(seconds=2),
            )
        except WorkflowAlreadyStartedError:  # a closed run under REJECT_DUPLICATE
            return False
        # USE_EXISTING answers a running duplicate with the existing run and started=False.
        response = handle._start_workflow_response
        return bool(response is None or response.started)

    assign_person(settings, f"callback-{lead.submission_id}", lead.phone)
    with traced(settings, "form_submitted", {"call_id": f"callback-{lead.submission_id}"}):
        return temporal.run(start)


@app.post("/callbacks")
@app.post("/forms/submissions")
def submit_form() -> Response[FormAccepted]:
    event = app.current_event
    form_secret = secret("SWITCHBOARD_FORM_SECRET_ARN", os.environ.get("SWITCHBOARD_FORM_SECRET"))
    if not form_secret:
        logger.error("no form secret configured: every form is refused")
    try:
        lead = read_form(raw_body(event), event.headers, form_secret)
    except (ServiceError, RequestValidationError) as err:
        metrics.add_metric(name="FormsRejected", unit=MetricUnit.Count, value=1)
        logger.info("form rejected", extra={"reason": type(err).__name__})
        raise
    call_id = f"callback-{lead.submission_id}"
    if opted_out(settings, lead.phone):  # they replied STOP to an earlier cadence: never again
        metrics.add_metric(name="FormsDoNotContact", unit=MetricUnit.Count, value=1)
        logger.info("form refused: do not contact", extra={"call_id": call_id})
        return Response(
            status_code=200,
            content_type=content_types.APPLICATION_JSON,
            body=FormAccepted(call_id=call_id, status="do_not_contact"),
        )
    started = schedule(lead)
    status: Literal["scheduled", "duplicate", "do_not_contact"] = "scheduled" if started else "duplicate"
    metrics.add_metric(name="FormsAccepted" if started else "FormsDuplicate", unit=MetricUnit.Count, value=1)
    logger.info("form accepted", extra={"call_id": call_id, "status": status})
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body=FormAccepted(call_id=call_id, status=status),
    )


@app.exception_handler(TemporalUnavailable)
def temporal_unavailable(err: TemporalUnavailable) -> Response:
    logger.warning("Temporal unavailable; asking the sender to retry", extra={"error": str(err)})
    return Response(
        status_code=503,
        content_type=content_types.APPLICATION_JSON,
        headers={"Retry-After": str(RETRY_AFTER_S)},
        body={"message": "scheduling is unavailable; retry shortly"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
