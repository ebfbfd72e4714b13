"""POST /twilio/sms: a lead's text → the ``lead_reply`` signal of their open cadence.
POST /twilio/sms/status: a sent text's status callback → the cadence's ``text_status`` signal.

Both are Twilio-signed (403 otherwise); a body over ``MAX_BODY_BYTES`` is refused (413) before it
is parsed, and a text without its sender, words or sid is a 400. The cadence is found by the
number WITHOUT the number ever being a workflow id or a search attribute: the number's
``person_id`` (an HMAC under the pepper) names the person's row in the people table, whose
``callback-…`` scopes are their web-form callbacks; the one still running gets the signal
(Twilio's retries of the same message are dropped by the workflow, by MessageSid). A text from
someone with no open cadence is answered (empty TwiML) and counted, nothing else. Logs carry
message sids, workflow ids and outcomes: never numbers or words.
"""

# No ``from __future__ import annotations`` here: Powertools' validation reads the route signatures.
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from functions._runtime import TemporalRuntime, TemporalUnavailable, person_of, retry_later, secret, traced
from functions._twilio import signed_params, twiml_response
from functions._twilio import workflow_id as webhook_workflow
from switchboard.config import get_settings
from switchboard.messages import LeadReply, TextStatus
from switchboard.temporal import person_keys

MAX_BODY_BYTES = 16 * 1024  # a 1600-character text and Twilio's other fields fit many times over
MAX_TEXT = 1600
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
settings = get_settings()
temporal = TemporalRuntime(settings)


class PayloadTooLarge(ServiceError):
    def __init__(self) -> None:
        super().__init__(413, "request body too large")


def checked_params() -> dict[str, str]:
    event = app.current_event
    if len(event.body or "") > MAX_BODY_BYTES * 2:  # before decoding or parsing anything
        raise PayloadTooLarge()
    try:
        decoded = event.decoded_body or ""
    except (UnicodeDecodeError, ValueError):  # not a form: bytes no webhook sends
        raise BadRequestError("the body is not a form") from None
    if len(decoded) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    token = secret("TWILIO_AUTH_TOKEN_SECRET_ARN", settings.twilio_auth_token)
    return signed_params(event, settings.public_api_url, token)


@tracer.capture_method(capture_response=False)
def signal_open_cadence(sender: str, reply: LeadReply) -> str | None:
    """Signal the sender's running cadence; its workflow id, or None when there is none."""
    person = person_of(settings, sender)
    if person is None:
        return None
    scopes = person_keys(settings).callback_scopes(person)

    async def signal(client: Client) -> str | None:
        for scope in scopes:
            handle = client.get_workflow_handle(scope)
            try:
                described = await handle.describe()
                if described.status != WorkflowExecutionStatus.RUNNING:
                    continue
                await handle.signal("lead_reply", reply)
            except RPCError as err:
                if err.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            return scope
        return None

    with traced(settings, "sms_received", {"message_sid": reply.message_sid}):
        return temporal.run(signal)


@app.post("/twilio/sms")
def incoming_text() -> Response[str]:
    params = checked_params()
    sender, words, sid = params.get("From", ""), params.get("Body", ""), params.get("MessageSid", "")
    if not sender or not sid or not words.strip():
        raise BadRequestError("From, Body and MessageSid are required")
    if len(words) > MAX_TEXT:
        raise BadRequestError("Body is longer than a text can be")
    workflow_id = signal_open_cadence(sender, LeadReply(text=words, message_sid=sid[:64]))
    metrics.add_metric(
        name="TextSignalled" if workflow_id else "TextOrphaned", unit=MetricUnit.Count, value=1
    )
    logger.info(
        "incoming text",
        extra={"message_sid": sid, "workflow_id": workflow_id, "delivered": bool(workflow_id)},
    )
    return twiml_response(EMPTY_TWIML)


@app.post("/twilio/sms/status")
def text_status() -> Response[str]:
    params = checked_params()
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if not sid or not status:
        raise BadRequestError("MessageSid and MessageStatus are required")
    workflow_id = webhook_workflow(app.current_event)

    async def signal(client: Client) -> bool:
        try:
            await client.get_workflow_handle(workflow_id).signal(
                "text_status", TextStatus(message_sid=sid[:64], status=status[:32])
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        return True

    with traced(settings, "sms_status", {"workflow_id": workflow_id, "status": status[:32]}):
        delivered = temporal.run(signal)
    logger.info(
        "text status",
        extra={"message_sid": sid, "workflow_id": workflow_id, "status": status[:32], "delivered": delivered},
    )
    return Response(status_code=204, content_type=content_types.TEXT_PLAIN, body="")


@app.exception_handler(TemporalUnavailable)
def temporal_unavailable(err: TemporalUnavailable) -> Response[str]:
    logger.warning("Temporal unavailable; the webhook is refused for a retry", extra={"error": str(err)})
    return retry_later()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
