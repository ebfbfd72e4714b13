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

from switchboard.messages import HangupInput, TransferInput

_FINAL = {"completed", "busy", "no-answer", "failed", "canceled"}


class TelephonyActivities:
    def __init__(self, twilio: Any) -> None:
        self.twilio = twilio

    @activity.defn(name="hangup")
    async def hangup(self, req: HangupInput) -> str:
        def run() -> str:
            call = self.twilio.calls(req.call_sid).fetch()
            if call.status in _FINAL:
                return str(call.status)
            return str(self.twilio.calls(req.call_sid).update(status="completed").status)

        return await self._rest(run)

    @activity.defn(name="transfer")
    async def transfer(self, req: TransferInput) -> str:
        twiml = VoiceResponse()
        twiml.append(Say("Transferring you now."))
        dial = Dial()
        dial.number(req.to_number)
        twiml.append(dial)
        return await self._rest(lambda: str(self.twilio.calls(req.call_sid).update(twiml=str(twiml)).status))

    @staticmethod
    async def _rest(fn: Any) -> str:
        try:
            return str(await asyncio.to_thread(fn))
        except TwilioRestException as exc:
            # 4xx: the request itself is wrong (no such call, invalid number): retrying cannot help.
            raise ApplicationError(
                f"telephony request refused: {exc.status} {exc.code}",
                type="TelephonyRefused",
                non_retryable=400 <= exc.status < 500,
            ) from exc
