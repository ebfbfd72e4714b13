"""Telephony activities: dial, hang up, transfer — each one REST call through the twilio SDK.

The SDK client is injected: the real Twilio, or the local phone network by configuration.
Hanging up a call that has already ended is a success (the activity is idempotent).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from twilio.base.exceptions import TwilioRestException
from twilio.twiml.voice_response import Dial, Say, VoiceResponse

from switchboard.config import Settings
from switchboard.messages import DialInput, DialResult, HangupInput, TransferInput
from switchboard.telephony import stream_twiml, transfer_twiml

_FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


class TelephonyActivities:
    def __init__(self, twilio: Any, settings: Settings) -> None:
        self.twilio = twilio
        self.settings = settings

    @activity.defn(name="dial")
    async def dial(self, req: DialInput) -> DialResult:
        """Place the call; status and answering-machine callbacks go to the given workflow.

        Subscribed: ringing, answered and (always sent) the final status. Not ``initiated``: the
        call is known to be placed when this returns, and each callback is a webhook invocation
        plus a workflow task, for every attempt including the busy and unanswered ones."""
        s = self.settings
        callback = f"{s.public_api_url.rstrip('/')}/twilio/status?wf={req.status_callback_workflow}"
        options: dict[str, Any] = {
            "to": req.to_number,
            "from_": s.twilio_from_number,
            "twiml": stream_twiml(req.call_id, s),
            "status_callback": callback,
            "status_callback_event": ["ringing", "answered", "completed"],
            "status_callback_method": "POST",
            "timeout": req.timeout_s,
        }
        if req.machine_detection:
            options |= {
                "machine_detection": "Enable",
                "async_amd": "true",
                "async_amd_status_callback": callback,
                "async_amd_status_callback_method": "POST",
            }
        call = await self._call(lambda: self.twilio.calls.create(**options))
        return DialResult(call_sid=str(call.sid), status=str(call.status))

    @activity.defn(name="hangup")
    async def hangup(self, req: HangupInput) -> str:
        def run() -> str:
            call = self.twilio.calls(req.call_sid).fetch()
            if call.status in _FINAL:
                return str(call.status)
            # Twilio ends a live call with "completed" and one still queued or ringing with "canceled".
            status = "canceled" if call.status in ("queued", "ringing") else "completed"
            return str(self.twilio.calls(req.call_sid).update(status=status).status)

        return await self._rest(run)

    @activity.defn(name="transfer")
    async def transfer(self, req: TransferInput) -> str:
        """Redirect the live call to the human number. Warm (``workflow_id`` set): whoever answers
        first hears the hand-over note (``<Number url>``, the whisper), and the dial's result goes
        back to the workflow (``<Dial action>``), which also tells the caller if nobody answered."""
        if req.workflow_id:
            twiml = transfer_twiml(
                self.settings.public_api_url,
                req.workflow_id,
                req.to_number,
                timeout_s=req.timeout_s,
                say=req.say,
            )
        else:  # a call whose workflow predates warm transfers: the cold transfer it asked for
            cold = VoiceResponse()
            if req.say:
                cold.append(Say(req.say))
            cold.append(Say("Transferring you now."))
            dial = Dial()
            dial.number(req.to_number)
            cold.append(dial)
            twiml = str(cold)
        return await self._rest(lambda: str(self.twilio.calls(req.call_sid).update(twiml=twiml).status))

    @classmethod
    async def _rest(cls, fn: Any) -> str:
        return str(await cls._call(fn))

    @staticmethod
    async def _call(fn: Any) -> Any:
        try:
            return await asyncio.to_thread(fn)
        except TwilioRestException as exc:
            # 4xx: the request itself is wrong (no such call, invalid number): retrying cannot help.
            raise ApplicationError(
                f"telephony request refused: {exc.status} {exc.code}",
                type="TelephonyRefused",
                non_retryable=400 <= exc.status < 500,
            ) from exc
