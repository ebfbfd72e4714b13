"""``<Dial><Number>`` as Twilio runs it: ring the number, whisper to whoever answers, bridge.

The dialled party behaves as registered for its number (``Callee``: busy, no answer, answers after
N rings). When they answer and the ``<Number>`` has a ``url``, that TwiML runs on *their* leg
before the caller is bridged (Twilio's whisper: the called party hears it, the caller hears
ringing). Then the two talk until the called party hangs up (``hangup_after_ms``, else a short
default). The result is what Twilio reports to ``<Dial action>`` as ``DialCallStatus``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from infra.phone import twiml
from infra.phone.callbacks import Delivery
from infra.phone.calls import API_VERSION, Call, new_sid
from infra.phone.context import Interrupt, NetworkContext

log = logging.getLogger("infra.phone.dial")

TALK_MS = 1000  # how long a dialled person who has no script of their own stays on the line


@dataclass(frozen=True)
class DialResult:
    status: str  # DialCallStatus: completed | busy | no-answer | failed | canceled
    child_sid: str
    duration_s: int = 0

    def params(self) -> dict[str, str]:
        return {
            "DialCallStatus": self.status,
            "DialCallSid": self.child_sid,
            "DialCallDuration": str(self.duration_s),
        }


class DialLeg:
    """One ``<Dial>``'s new leg, from ringing to the called party hanging up."""

    def __init__(
        self,
        verb: twiml.Dial,
        parent: Call,
        ctx: NetworkContext,
        interrupt: Interrupt,
        speech_ms: Callable[[str], Awaitable[int]],
    ) -> None:
        self.verb, self.parent, self.callee = verb, parent, ctx.callees.lookup(verb.number)
        self.ctx, self.interrupt, self.speech_ms = ctx, interrupt, speech_ms
        self.sid = new_sid("CA")

    async def run(self) -> DialResult:
        callee, verb = self.callee, self.verb
        self.parent.note("dialing", to=verb.number, child_sid=self.sid, timeout_s=verb.timeout_s)
        if callee.answer == "fail":
            return self._ended("failed")
        if callee.answer == "busy":
            return self._ended("busy" if await self.interrupt.sleep(50) else "canceled")
        limit_ms = verb.timeout_s * 1000
        if callee.no_answer_after_ms is not None:
            limit_ms = min(limit_ms, callee.no_answer_after_ms)
        ring_ms = callee.rings * callee.ring_ms
        if callee.answer == "no_answer" or ring_ms > limit_ms:
            return self._ended("no-answer" if await self.interrupt.sleep(limit_ms) else "canceled")
        if not await self.interrupt.sleep(ring_ms):
            return self._ended("canceled")
        answered_ms = self.parent.ms()
        self.parent.note("dial_answered", to=verb.number, child_sid=self.sid)
        if verb.number_url and not await self._whisper(verb.number_url, verb.number_method):
            # Declined (or a broken whisper): the caller was never connected to anyone.
            return self._ended("no-answer" if not self.interrupt.fired else "canceled")
        self.parent.transferred_to = verb.number
        self.parent.note("bridged", to=verb.number, child_sid=self.sid)
        talk_ms = callee.hangup_after_ms if callee.hangup_after_ms is not None else TALK_MS
        await self.interrupt.sleep(talk_ms)  # the caller hanging up ends it too
        return self._ended("completed", (self.parent.ms() - answered_ms) // 1000)

    def _ended(self, status: str, duration_s: int = 0) -> DialResult:
        self.parent.note("dial_ended", child_sid=self.sid, status=status)
        return DialResult(status, self.sid, duration_s)

    async def _whisper(self, url: str, method: str) -> bool:
        """The ``<Number url>`` TwiML, on the called party's leg; False if it hung up on the caller."""
        params = {
            "AccountSid": self.parent.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "ParentCallSid": self.parent.sid,
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
            "From": self.parent.from_ if self.parent.direction == "outbound-api" else self.parent.to,
            "To": self.verb.number,
            "Called": self.verb.number,
        }
        try:
            verbs = await self.ctx.webhooks.document(
                Delivery("whisper", url, method, params), call_sid=self.sid
            )
        except twiml.TwimlError as exc:
            log.warning("call %s: the whisper TwiML is unusable: %s", self.parent.sid, exc)
            self.parent.note("whisper_failed", error=str(exc))
            return False
        for item in verbs:
            if isinstance(item, twiml.Say):
                ms = await self.speech_ms(item.text)
                self.parent.note("whisper", to=self.verb.number, text=item.text, ms=ms)
                if not await self.interrupt.sleep(ms):
                    return False
            elif isinstance(item, twiml.Pause):
                if not await self.interrupt.sleep(item.length_s * 1000):
                    return False
            elif isinstance(item, twiml.Hangup):
                self.parent.note("whisper_declined", to=self.verb.number)
                return False
            else:
                self.parent.note("unsupported_verb", tag=type(item).__name__, leg="whisper")
        return True
