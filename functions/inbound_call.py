"""POST /twilio/voice: an inbound call → its ``CallWorkflow`` and the TwiML that streams it to a voice worker.
(This function also serves ``POST /twilio/resume``, a stream that ended mid-call: ``functions/resume.py``.)

The dialled number (``To``) picks the agent profile (``switchboard/routing.py``). The workflow id
is ``call-<CallSid>`` with USE_EXISTING, so Twilio's webhook retries reach the same call. The
answer is ``<Connect><Stream>`` with the signed ``call_id``/``token`` parameters the media server
checks. A number no agent answers, or a Temporal outage, gets a polite message and a hang-up.
"""

# No ``from __future__ import annotations`` here: Powertools' validation reads the route signatures.
import contextlib
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from twilio.twiml.voice_response import VoiceResponse

from functions._runtime import TemporalRuntime, TemporalUnavailable, assign_person, secret, traced
from functions._twilio import signed_params, twiml_response
from functions.resume import ResumeRoutes
from switchboard.config import get_settings
from switchboard.models import CallRequest, Direction
from switchboard.routing import route_for
from switchboard.telephony import stream_twiml
from workflows.call import CallWorkflow

NOT_IN_SERVICE = "Sorry, this number is not in service. Goodbye."
UNAVAILABLE = "Sorry, we can't take your call right now. Please call again in a few minutes. Goodbye."

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
settings = get_settings()
temporal = TemporalRuntime(settings)
app.include_router(ResumeRoutes(settings, temporal, logger, metrics).router)  # a stream that ended mid-call


def say_and_hang_up(text: str) -> Response[str]:
    twiml = VoiceResponse()
    twiml.say(text)
    twiml.hangup()
    return twiml_response(twiml)


@tracer.capture_method(capture_response=False)
def start_call(request: CallRequest) -> None:
    async def start(client: Client) -> None:
        # A Twilio retry after the call's workflow has closed: nothing to start again.
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await client.start_workflow(
                CallWorkflow.run,
                request,
                id=request.call_id,
                task_queue=settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                rpc_timeout=timedelta(seconds=2),
            )

    assign_person(settings, request.call_id, request.from_number)
    with traced(settings, "inbound_call", {"call_id": request.call_id}):
        temporal.run(start)


@app.post("/twilio/voice")
def twilio_voice() -> Response[str]:
    event = app.current_event
    token = secret("TWILIO_AUTH_TOKEN_SECRET_ARN", settings.twilio_auth_token)
    params = signed_params(event, settings.public_api_url, token)
    call_sid, dialled = params.get("CallSid", ""), params.get("To", "")
    if not call_sid or not dialled:
        raise BadRequestError("CallSid and To are required")
    route = route_for(dialled)
    if route is None:
        metrics.add_metric(name="InboundUnrouted", unit=MetricUnit.Count, value=1)
        logger.info("inbound call to a number with no agent", extra={"call_sid": call_sid})
        return say_and_hang_up(NOT_IN_SERVICE)
    call_id = f"call-{call_sid}"
    start_call(
        CallRequest(
            call_id=call_id,
            direction=Direction.INBOUND,
            profile=route.profile,
            to_number=dialled,
            from_number=params.get("From", ""),
            call_sid=call_sid,
        )
    )
    metrics.add_metric(name="InboundAnswered", unit=MetricUnit.Count, value=1)
    logger.info("inbound call answered", extra={"call_id": call_id, "profile": route.profile})
    stream_settings = settings.model_copy(
        update={"stream_secret": SecretStr(secret("SWITCHBOARD_STREAM_SECRET_ARN", settings.stream_secret))}
    )
    return twiml_response(stream_twiml(call_id, stream_settings))


@app.exception_handler(TemporalUnavailable)
def temporal_unavailable(err: TemporalUnavailable) -> Response:
    metrics.add_metric(name="InboundUnavailable", unit=MetricUnit.Count, value=1)
    logger.error("Temporal unavailable; the caller hears an apology", extra={"error": str(err)})
    return say_and_hang_up(UNAVAILABLE)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
