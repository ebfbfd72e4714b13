"""Runs a TwiML document for an answered call, one verb at a time, as Twilio would.

``<Connect><Stream>`` hands the call to a ``StreamSession`` until one side ends it; Twilio then
continues with the verbs after ``</Connect>`` when the media server's side ended the stream, by a
close frame or by the connection dropping (a killed worker), or when the stream could not connect
at all ("If you do not provide an action URL, <Connect> will finish and Twilio will move on to the
next TwiML verb", Twilio's ``<Connect>`` docs). The caller is one :class:`CallerParty` for the whole
call, so a second stream (after a ``<Redirect>``) goes on with the same caller mid-script.
``<Redirect>`` fetches the next document (a signed webhook) and runs it instead of the rest.
``<Say>`` takes as long as the speech would, ``<Dial>`` rings, whispers and bridges (``dial.py``), ``<Hangup>``
and the end of the document end the call. A REST hangup or redirect interrupts any verb.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import InvalidHandshake, InvalidURI

from infra.phone import twiml
from infra.phone.callbacks import Delivery, Outbox
from infra.phone.calls import Call
from infra.phone.context import Interrupt, NetworkContext, StreamRecord
from infra.phone.dial import DialLeg
from infra.phone.party import CallerParty
from infra.phone.progress import call_params
from infra.phone.recorder import Recorder
from infra.phone.script import CallerScript
from infra.phone.stream import StreamSession, StreamSetup

log = logging.getLogger("infra.phone.executor")

_SAY_MS_PER_CHAR = 65  # when no TTS is configured: roughly 15 characters a second


class Executor:
    """The verbs of one call; ``ended_by`` says who ended it (agent, caller, network, twiml)."""

    def __init__(
        self,
        call: Call,
        ctx: NetworkContext,
        outbox: Outbox,
        interrupt: Interrupt,
        script: Callable[[], CallerScript],
    ) -> None:
        self.call = call
        self.ctx = ctx
        self.outbox = outbox
        self.interrupt = interrupt
        self.script = script
        self.session: StreamSession | None = None
        self.streams: list[StreamRecord] = []
        self.caller: CallerParty | None = None  # the person on the line, from the first stream on
        self.ended_by = "twiml"
        self._handlers: dict[type, Callable[[Any], Awaitable[bool]]] = {
            twiml.Connect: self._connect,
            twiml.Say: self._say,
            twiml.Pause: self._pause,
            twiml.Dial: self._dial,
            twiml.Redirect: self._redirect,
            twiml.Hangup: self._hangup,
            twiml.Unsupported: self._unsupported,
        }

    async def run(self, verbs: list[twiml.Verb]) -> None:
        """Run until the document ends, a verb ends the call, or the interrupt fires."""
        for verb in verbs:
            if self.interrupt.fired:
                return
            if not await self._handlers[type(verb)](verb):
                return

    def close(self) -> None:
        """The call is over: the caller's script stops."""
        if self.caller is not None:
            self.caller.close()

    def _party(self) -> CallerParty:
        if self.caller is None:
            self.caller = CallerParty(
                self.script(), self.ctx.speech, on_hangup=lambda reason: self.interrupt.fire("caller_hangup")
            )
        return self.caller

    async def _connect(self, verb: twiml.Connect) -> bool:
        stream = verb.stream
        caller = self._party()
        setup = StreamSetup(
            stream=stream,
            account_sid=self.call.account_sid,
            call_sid=self.call.sid,
            auth_token=self.ctx.auth_token,
            script=caller.script,
            speech=self.ctx.speech,
        )
        recorder = Recorder()
        record = StreamRecord(
            index=len(self.streams),
            stream_sid=setup.stream_sid,
            url=stream.url,
            name=stream.name,
            parameter_names=sorted(stream.parameters),
        )
        self.streams.append(record)
        self.session = session = StreamSession(
            setup,
            recorder,
            on_start=lambda: self._stream_callback(stream, setup.stream_sid, "stream-started"),
            caller=caller,
        )
        self.call.note("stream_connecting", stream_sid=setup.stream_sid)
        task = asyncio.create_task(session.run())
        waiter = asyncio.create_task(self.interrupt.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                session.stop("network", self.interrupt.reason or "interrupted")
            outcome = await task
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            record.ended_by, record.reason = "error", type(exc).__name__
            log.warning("stream for call %s failed: %s", self.call.sid, record.reason)
            self.call.note("stream_error", stream_sid=setup.stream_sid, error=record.reason)
            self._stream_callback(stream, setup.stream_sid, "stream-error", error=record.reason)
            return not self.interrupt.fired  # Twilio goes on with the next verb
        finally:
            waiter.cancel()
            self.session = None
        record.ended_by, record.reason = outcome.ended_by, outcome.reason
        record.malformed, record.unknown_events = outcome.malformed, outcome.unknown_events
        suffix = "" if record.index == 0 else f"-{record.index}"
        record.wav_path = str(recorder.write_wav(self.ctx.recordings_dir / f"{self.call.sid}{suffix}.wav"))
        record.summary = recorder.summary()
        recorder.release()
        self.call.note(
            "stream_ended", stream_sid=setup.stream_sid, ended_by=outcome.ended_by, reason=outcome.reason
        )
        self._stream_callback(stream, setup.stream_sid, "stream-stopped")
        self.ended_by = outcome.ended_by
        return outcome.ended_by == "agent"  # the server's side ended it (closed or dropped): go on

    def _stream_callback(
        self, stream: twiml.Stream, stream_sid: str, event: str, error: str | None = None
    ) -> None:
        if not stream.status_callback:
            return
        params = {
            "AccountSid": self.call.account_sid,
            "CallSid": self.call.sid,
            "StreamSid": stream_sid,
            "StreamName": stream.name or stream_sid,
            "StreamEvent": event,
            "Timestamp": datetime.now(UTC).isoformat(),
        }
        if error:
            params["StreamError"] = error
        self.outbox.post(Delivery("stream", stream.status_callback, stream.status_callback_method, params))

    async def _say(self, verb: twiml.Say) -> bool:
        ms = await self.speech_ms(verb.text)
        self.call.note("say", text=verb.text, ms=ms)
        return await self.interrupt.sleep(ms)

    async def _pause(self, verb: twiml.Pause) -> bool:
        self.call.note("pause", seconds=verb.length_s)
        return await self.interrupt.sleep(verb.length_s * 1000)

    async def _dial(self, verb: twiml.Dial) -> bool:
        """Ring the number, whisper to it, bridge; then ``<Dial action>``'s TwiML replaces the rest of
        the document, or without an action the document goes on (Twilio's semantics)."""
        result = await DialLeg(verb, self.call, self.ctx, self.interrupt, self.speech_ms).run()
        if result.status == "completed":
            self.call.note("transferred", to=verb.number)
            self.ended_by = "transfer"
        if self.interrupt.fired:
            return False
        if verb.action is None:
            return True
        delivery = Delivery("dial-action", verb.action, verb.method, call_params(self.call) | result.params())
        return await self._follow(delivery, "the dial action")

    async def _redirect(self, verb: twiml.Redirect) -> bool:
        """Fetch the document at the URL (a signed webhook with the call's parameters) and run it
        in place of the rest of this one."""
        self.call.note("redirect_verb")
        return await self._follow(
            Delivery("redirect", verb.url, verb.method, call_params(self.call)), "the redirect"
        )

    async def _follow(self, delivery: Delivery, what: str) -> bool:
        """Fetch the TwiML ``delivery`` asks for and run it in place of the rest of this document
        (always False: nothing after the verb that led here runs)."""
        try:
            verbs = await self.ctx.webhooks.document(delivery, call_sid=self.call.sid)
        except twiml.TwimlError as exc:
            log.warning("call %s: %s's TwiML is unusable: %s", self.call.sid, what, exc)
            self.call.note("application_error", error=str(exc))
            return False
        finally:
            self.outbox.delivered.append(delivery)
        await self.run(verbs)
        return False

    async def speech_ms(self, text: str) -> int:
        if self.ctx.speech is not None and text:
            try:
                return len(await self.ctx.speech.mulaw(text)) // 8
            except Exception as exc:  # no TTS: fall back to the estimate
                log.warning("say on call %s without TTS: %s", self.call.sid, type(exc).__name__)
        return len(text) * _SAY_MS_PER_CHAR

    async def _hangup(self, verb: twiml.Hangup) -> bool:
        self.call.note("hangup_verb")
        self.ended_by = "twiml"
        return False

    async def _unsupported(self, verb: twiml.Unsupported) -> bool:
        self.call.note("unsupported_verb", tag=verb.tag)
        return True
