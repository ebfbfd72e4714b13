"""POST /twilio/resume?wf=<call workflow>: the call's media stream ended; what comes next.

Every call's TwiML has a ``<Redirect>`` here after ``</Connect>`` (``switchboard.telephony``), so
Twilio asks whenever the stream ends: its voice worker was killed or drained past its timeout, the
stream could not connect (no healthy worker), or the conversation is over. The call's workflow
decides (its ``resume`` Update, ``workflows/resume.py``), and the answer is TwiML:

* ``stream`` — a fresh ``<Connect><Stream>`` for the same call (a new signed token) through the
  load balancer, followed by the same ``<Redirect>``: the conversation resumes on whichever
  worker takes it;
* ``hangup`` — the call is ending (agent goodbye, transfer, consent refused, maximum length), or
  its workflow has closed: ``<Hangup/>``;
* ``transfer`` — it cannot be resumed (lost too many times, or no worker would take the stream):
  the caller hears an apology and is put through to a person, who hears the hand-over note first.

Twilio-signed (403 otherwise). Served by the inbound-call function, which holds the stream secret.
"""

# No ``from __future__ import annotations`` here: Powertools' validation reads the route signatures.

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import SecretStr
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode
from twilio.twiml.voice_response import VoiceResponse

from functions._runtime import TemporalRuntime, secret, traced
from functions._twilio import signed_params, twiml_response, workflow_id
from switchboard.config import Settings
from switchboard.messages import ResumeDecision, ResumeRequest
from switchboard.telephony import stream_twiml, transfer_twiml
from workflows.call import CallWorkflow

CLOSED = ResumeDecision(action="hangup", reason="the call's workflow has closed")


class ResumeRoutes:
    """The route on a router, over the function's settings and Temporal runtime."""

    def __init__(
        self, settings: Settings, temporal: TemporalRuntime, logger: Logger, metrics: Metrics
    ) -> None:
        self.settings, self.temporal, self.logger, self.metrics = settings, temporal, logger, metrics
        self.router = APIGatewayHttpRouter()
        self.router.post("/twilio/resume")(self.resume)

    def resume(self) -> Response[str]:
        event = self.router.current_event
        token = secret("TWILIO_AUTH_TOKEN_SECRET_ARN", self.settings.twilio_auth_token)
        params = signed_params(event, self.settings.public_api_url, token)
        call_id = workflow_id(event)
        with traced(self.settings, "resume", {"workflow_id": call_id}):
            decision = self.temporal.run(lambda client: self._decide(client, call_id, params))
        self.metrics.add_metric(name=f"Resume{decision.action.title()}", unit=MetricUnit.Count, value=1)
        self.logger.info(
            "stream ended",
            extra={"workflow_id": call_id, "action": decision.action, "attempt": decision.attempt},
        )
        if decision.action == "stream":
            stream_secret = secret("SWITCHBOARD_STREAM_SECRET_ARN", self.settings.stream_secret)
            here = self.settings.model_copy(update={"stream_secret": SecretStr(stream_secret)})
            return twiml_response(stream_twiml(call_id, here))
        if decision.action == "transfer":
            return twiml_response(
                transfer_twiml(self.settings.public_api_url, call_id, decision.to_number, say=decision.say)
            )
        twiml = VoiceResponse()
        twiml.hangup()
        return twiml_response(twiml)

    async def _decide(self, client: Client, call_id: str, params: dict[str, str]) -> ResumeDecision:
        handle = client.get_workflow_handle(call_id)
        try:
            decision: ResumeDecision = await handle.execute_update(
                CallWorkflow.resume, ResumeRequest(call_sid=params.get("CallSid", ""))
            )
        except WorkflowUpdateFailedError:  # refused (the call was never connected)
            return CLOSED
        except RPCError as err:
            if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                return CLOSED  # no such call, or it has closed
            raise
        return decision
