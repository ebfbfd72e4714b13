"""POST /twilio/status: Twilio's signed status and async-AMD callbacks → ``telephony_event`` signals.
(This function also serves a warm transfer's whisper and dial result: ``functions/transfer.py``.)

The workflow to signal is named by the callback URL (``?wf=<workflow id>``, set by the dialler),
else it is the inbound call's ``call-<CallSid>``. A workflow that has already finished is not an
error (Twilio reports a call's end after the workflow may have closed): 204 either way.
"""

# No ``from __future__ import annotations`` here: Powertools' validation reads the route signatures.
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from functions._runtime import TemporalRuntime, TemporalUnavailable, retry_later, secret, traced
from functions._twilio import signed_params
from functions._twilio import workflow_id as webhook_workflow
from functions.transfer import TransferRoutes
from switchboard.config import get_settings
from switchboard.messages import TelephonyEvent

SIGNAL = "telephony_event"

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
settings = get_settings()
temporal = TemporalRuntime(settings)
app.include_router(TransferRoutes(settings, temporal, logger, metrics).router)  # a warm transfer's webhooks


def telephony_event(params: dict[str, str]) -> TelephonyEvent:
    """The signal for a status callback, or for an async-AMD one (which carries no CallStatus)."""
    call_sid = params.get("CallSid", "")
    if not call_sid:
        raise BadRequestError("CallSid is missing")
    duration = params.get("CallDuration", "")
    return TelephonyEvent(
        call_sid=call_sid,
        status=params.get("CallStatus") or "in-progress",  # AMD reports on an answered call
        answered_by=params.get("AnsweredBy") or None,
        duration_s=int(duration) if duration.isdigit() else None,
    )


@tracer.capture_method(capture_response=False)
def deliver(workflow_id: str, event: TelephonyEvent) -> bool:
    """Signal the workflow; False when it no longer exists (finished or never started)."""

    async def signal(client: Client) -> bool:
        try:
            await client.get_workflow_handle(workflow_id).signal(SIGNAL, event)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    with traced(settings, "call_status", {"workflow_id": workflow_id, "status": event.status}):
        return temporal.run(signal)


@app.post("/twilio/status")
def twilio_status() -> Response[str]:
    event = app.current_event
    token = secret("TWILIO_AUTH_TOKEN_SECRET_ARN", settings.twilio_auth_token)
    params = signed_params(event, settings.public_api_url, token)
    telephony = telephony_event(params)
    workflow_id = webhook_workflow(event, default=f"call-{telephony.call_sid}")
    delivered = deliver(workflow_id, telephony)
    metrics.add_metric(
        name="StatusSignalled" if delivered else "StatusOrphaned", unit=MetricUnit.Count, value=1
    )
    logger.info(
        "status callback",
        extra={
            "workflow_id": workflow_id,
            "call_status": telephony.status,
            "answered_by": telephony.answered_by,
            "delivered": delivered,
        },
    )
    return Response(status_code=204, content_type=content_types.TEXT_PLAIN, body="")


@app.exception_handler(TemporalUnavailable)
def temporal_unavailable(err: TemporalUnavailable) -> Response[str]:
    logger.warning("Temporal unavailable; the callback is refused for a retry", extra={"error": str(err)})
    return retry_later()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
