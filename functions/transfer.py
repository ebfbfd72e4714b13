"""A warm transfer's two Twilio webhooks, served by the call-status function (``call_status.py``).

``POST /twilio/transfer/whisper?wf=<call workflow>``: Twilio's ``<Number url>``, requested when the
person the caller is being transferred to answers. The answer is TwiML for *their* leg: the
hand-over note, read from the workflow's ``handover`` query, before the caller is bridged. The
workflow hears ``transfer_progress(whisper)``: the person answered.

``POST /twilio/transfer/result?wf=<call workflow>``: Twilio's ``<Dial action>``, requested when the
dialled leg ends, with ``DialCallStatus``. Nobody answered: the caller hears the profile's line and
the call ends; otherwise (the conversation with the person is over) the call just ends. Either way
the workflow hears ``transfer_progress(result)``.

Both are Twilio-signed (403 otherwise). Nothing personal is logged: the note is spoken, not logged.
"""

# No ``from __future__ import annotations`` here: Powertools' validation reads the route signatures.

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from twilio.twiml.voice_response import VoiceResponse

from functions._runtime import TemporalRuntime, secret
from functions._twilio import signed_params, twiml_response, workflow_id
from switchboard.config import Settings
from switchboard.messages import Handover, TransferProgress
from workflows.call import CallWorkflow

ANSWERED = ("completed", "answered")
# If the call's workflow cannot be read (it has closed), what each side hears.
FALLBACK_NOTE = "Transfer from the AI assistant. No notes were captured."
FALLBACK_LINE = "Sorry, nobody could take your call just now. Please call again later. Goodbye."


class TransferRoutes:
    """The two routes on a router, over the function's settings and Temporal runtime."""

    def __init__(
        self, settings: Settings, temporal: TemporalRuntime, logger: Logger, metrics: Metrics
    ) -> None:
        self.settings, self.temporal, self.logger, self.metrics = settings, temporal, logger, metrics
        self.router = APIGatewayHttpRouter()
        self.router.post("/twilio/transfer/whisper")(self.whisper)
        self.router.post("/twilio/transfer/result")(self.result)

    def whisper(self) -> Response[str]:
        workflow_id, params = self._request()
        handover = self._exchange(
            workflow_id, TransferProgress(step="whisper", call_sid=params.get("CallSid", ""))
        )
        twiml = VoiceResponse()
        twiml.say(handover.note if handover else FALLBACK_NOTE)
        self.metrics.add_metric(name="TransferAnswered", unit=MetricUnit.Count, value=1)
        self.logger.info("transfer answered; whisper sent", extra={"workflow_id": workflow_id})
        return twiml_response(twiml)

    def result(self) -> Response[str]:
        workflow_id, params = self._request()
        status = params.get("DialCallStatus", "")
        if not status:
            raise BadRequestError("DialCallStatus is missing")
        handover = self._exchange(workflow_id, TransferProgress(step="result", dial_status=status))
        twiml = VoiceResponse()
        if status not in ANSWERED:
            twiml.say(handover.unanswered_line if handover else FALLBACK_LINE)
            self.metrics.add_metric(name="TransferUnanswered", unit=MetricUnit.Count, value=1)
        twiml.hangup()
        self.logger.info("transfer ended", extra={"workflow_id": workflow_id, "dial_status": status})
        return twiml_response(twiml)

    def _request(self) -> tuple[str, dict[str, str]]:
        event = self.router.current_event
        token = secret("TWILIO_AUTH_TOKEN_SECRET_ARN", self.settings.twilio_auth_token)
        params = signed_params(event, self.settings.public_api_url, token)
        return workflow_id(event), params

    def _exchange(self, workflow_id: str, progress: TransferProgress) -> Handover | None:
        """The workflow's hand-over (None once it has closed), and tell it how the transfer went."""

        async def exchange(client: Client) -> Handover | None:
            handle = client.get_workflow_handle(workflow_id)
            try:
                handover: Handover | None = await handle.query(CallWorkflow.get_handover)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
                return None  # no such call: the generic lines
            try:
                await handle.signal(CallWorkflow.transfer_progress, progress)
            except RPCError as err:  # closed already (it stopped waiting): nothing more to tell it
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
            return handover

        return self.temporal.run(exchange)
