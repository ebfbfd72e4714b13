"""Texts to leads (Twilio's Messages API through the SDK) and the do-not-contact list.

``send_sms`` is idempotent per ``SmsInput.key``: Twilio has no idempotency key for messages, so a
retried attempt first looks for a message it already created (same recipient, the key in the
status callback's URL) and returns that one instead of texting twice. ``record_opt_out`` puts the
person (by ``person_id``, never the number) on the business's do-not-contact list. Nothing here
logs a number or a message's words.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from temporalio import activity

from activities.telephony import TelephonyActivities
from switchboard.config import Settings
from switchboard.messages import DoNotCallCheck, SmsInput, SmsResult
from switchboard.people import NotAPhoneNumber, PersonKeys, person_id


class MessagingActivities:
    def __init__(self, twilio: Any, settings: Settings, people: PersonKeys | None) -> None:
        self.twilio = twilio
        self.settings = settings
        self.people = people

    def _callback(self, req: SmsInput) -> str:
        query = urlencode({"wf": req.status_callback_workflow, "key": req.key})
        return f"{self.settings.public_api_url.rstrip('/')}/twilio/sms/status?{query}"

    @activity.defn(name="send_sms")
    async def send_sms(self, req: SmsInput) -> SmsResult:
        callback = self._callback(req)

        def run() -> Any:
            if activity.info().attempt > 1:  # an earlier attempt may have sent it already
                for sent in self.twilio.messages.list(to=req.to_number, limit=50):
                    if getattr(sent, "status_callback", None) == callback:
                        return sent
            return self.twilio.messages.create(
                to=req.to_number,
                from_=self.settings.twilio_from_number,
                body=req.body,
                status_callback=callback,
            )

        message = await TelephonyActivities._call(lambda: run())
        return SmsResult(message_sid=str(message.sid), status=str(message.status))

    @activity.defn(name="record_opt_out")
    async def record_opt_out(self, check: DoNotCallCheck) -> bool:
        """True when the person is now on the list; False when nobody can be named (no people table)."""
        if self.people is None:
            return False
        try:
            person = person_id(check.phone, self.settings.person_pepper.get_secret_value())
        except NotAPhoneNumber:
            return False
        await asyncio.to_thread(self.people.opt_out, person)
        return True
