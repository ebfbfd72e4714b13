"""One call from dial (or ring-in) to hangup: progress, AMD, TwiML, callbacks.

Outbound: ``initiated`` → ``ringing`` → the callee's behaviour decides (busy, no-answer after the
request's ``Timeout``, failed, or answered after N rings) → AMD if asked → the TwiML (inline or
fetched from ``Url`` with a signed POST) → ``completed``. Inbound: the number's voice webhook is
POSTed (signed, ``CallStatus=ringing``, ``Direction=inbound``) and its TwiML followed the same way.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from infra.phone import twiml
from infra.phone.callbacks import Delivery, Outbox
from infra.phone.callee import Callee
from infra.phone.calls import Call, CallStatus
from infra.phone.context import Interrupt, NetworkContext
from infra.phone.executor import Executor
from infra.phone.performer import prefetch
from infra.phone.progress import amd_verdict, call_params, status_params, wants
from infra.phone.script import CallerScript

log = logging.getLogger("infra.phone.run")


class CallRun:
    def __init__(self, call: Call, callee: Callee, ctx: NetworkContext) -> None:
        self.call = call
        self.callee = callee
        self.ctx = ctx
        self.outbox = Outbox(ctx.webhooks, call.sid)
        self.interrupt = Interrupt()
        self.executor = Executor(call, ctx, self.outbox, self.interrupt, self._script)
        self.ended_by = ""
        self._sequence = 0
        self._pending: tuple[str | None, str | None, str] | None = None
        self._greeting_played = False
        self._side_tasks: list[asyncio.Task[None]] = []
        self.task: asyncio.Task[None] | None = None

    # -- REST controls ----------------------------------------------------------------------
    def hang_up(self, status: str) -> None:
        """``Status=completed`` ends any live call; ``canceled`` only one still queued or ringing."""
        if self.call.is_final:
            return
        if self.call.status in (CallStatus.QUEUED, CallStatus.RINGING):
            self.interrupt.fire("cancel")
        elif status == "completed":
            self.interrupt.fire("hangup")
            if self.executor.session is not None:
                self.executor.session.stop("network", "hangup")

    def redirect(self, twiml_text: str | None, url: str | None, method: str) -> bool:
        """Replace the running TwiML (e.g. a ``<Dial>`` transfer); False when the call is not live."""
        if self.call.status is not CallStatus.IN_PROGRESS:
            return False
        self._pending = (twiml_text, url, method)
        self.interrupt.fire("redirect")
        if self.executor.session is not None:
            self.executor.session.stop("network", "redirect")
        return True

    # -- the call ---------------------------------------------------------------------------
    def start(self, *, voice_url: str | None = None, voice_method: str = "POST") -> None:
        self.task = asyncio.create_task(self._main(voice_url, voice_method), name=f"call-{self.call.sid}")

    async def _main(self, voice_url: str | None, voice_method: str) -> None:
        try:
            if voice_url is None:
                await self._outbound()
            else:
                await self._inbound(voice_url, voice_method)
        except Exception:
            log.exception("call %s crashed in the network", self.call.sid)
            self.call.note("network_error")
            self._finish(CallStatus.FAILED)
        finally:
            for task in self._side_tasks:
                task.cancel()
            self.executor.close()
            self._finish(CallStatus.COMPLETED)
            await self.outbox.drain()
            self.call.done.set()

    def _finish(self, status: CallStatus) -> None:
        if self.call.is_final:
            return
        self.call.set_status(status)
        self._status_callback(status.value)

    def _status_callback(self, call_status: str) -> None:
        opts = self.call.options
        if opts.status_callback and wants(opts, call_status):
            params = status_params(self.call, call_status, self._sequence)
            self._sequence += 1
            self.outbox.post(Delivery("status", opts.status_callback, opts.status_callback_method, params))

    async def _outbound(self) -> None:
        call, callee, opts = self.call, self.callee, self.call.options
        self._status_callback("initiated")
        if not await self.interrupt.sleep(20):
            return self._finish(CallStatus.CANCELED)
        if callee.answer == "fail":
            return self._finish(CallStatus.FAILED)
        if callee.answer == "busy":
            ok = await self.interrupt.sleep(50)
            return self._finish(CallStatus.BUSY if ok else CallStatus.CANCELED)
        call.set_status(CallStatus.RINGING)
        self._status_callback("ringing")
        limit_ms = (
            callee.no_answer_after_ms if callee.no_answer_after_ms is not None else opts.timeout_s * 1000
        )
        answer_ms = None if callee.answer == "no_answer" else callee.rings * callee.ring_ms
        if answer_ms is None or answer_ms > limit_ms:
            ok = await self.interrupt.sleep(limit_ms)
            return self._finish(CallStatus.NO_ANSWER if ok else CallStatus.CANCELED)
        preparing = asyncio.create_task(self._prepare())
        rang = await self.interrupt.sleep(answer_ms)
        if rang:
            interrupted = asyncio.create_task(self.interrupt.wait())
            await asyncio.wait({preparing, interrupted}, return_when=asyncio.FIRST_COMPLETED)
            interrupted.cancel()
        if not rang or self.interrupt.fired:
            preparing.cancel()
            return self._finish(CallStatus.CANCELED)
        await self._answered(opts.twiml, opts.url, opts.method)

    async def _prepare(self) -> None:
        """The callee's lines, synthesized while the phone rings (answering waits for them)."""
        try:
            await asyncio.wait_for(prefetch(self._script(), self.ctx.speech), 120)
        except Exception as exc:  # the script will report the missing speech itself
            log.warning(
                "call %s: could not prepare the caller's speech: %s", self.call.sid, type(exc).__name__
            )
            self.call.note("speech_unavailable", error=type(exc).__name__)

    async def _inbound(self, voice_url: str, method: str) -> None:
        await self._prepare()
        self.call.set_status(CallStatus.RINGING)
        self._status_callback("ringing")
        await self._answered(None, voice_url, method)

    async def _answered(self, twiml_text: str | None, url: str | None, method: str) -> None:
        """Fetch the TwiML first (an inbound call is answered by its webhook's answer), then run it."""
        if self.call.direction == "inbound":
            verbs = await self._document(twiml_text, url, method)
            self.call.set_status(CallStatus.IN_PROGRESS)
            self._status_callback("in-progress")
            self._start_hangup_timer()
        else:
            self.call.set_status(CallStatus.IN_PROGRESS)
            self._status_callback("in-progress")
            self._start_hangup_timer()
            await self._amd()
            verbs = await self._document(twiml_text, url, method)
        while True:
            if not self.interrupt.fired:
                await self.executor.run(verbs)
            if self.interrupt.reason == "redirect" and self._pending is not None:
                pending, self._pending = self._pending, None
                self.interrupt.reset()
                self.call.note("redirected")
                verbs = await self._document(*pending)
                continue
            break
        self.ended_by = {"hangup": "network", "caller_hangup": "caller"}.get(
            self.interrupt.reason or "", self.executor.ended_by
        )
        self._finish(CallStatus.COMPLETED)

    async def _document(self, twiml_text: str | None, url: str | None, method: str) -> list[twiml.Verb]:
        """The TwiML to run: inline, or fetched from ``url`` as Twilio does (signed webhook)."""
        try:
            if url is None:
                return twiml.parse(twiml_text or "<Response/>")
            params = call_params(self.call)
            if self.call.answered_by is not None:
                params["AnsweredBy"] = self.call.answered_by
            delivery = Delivery("twiml", url, method, params)
            try:
                return await self.ctx.webhooks.document(delivery, call_sid=self.call.sid)
            finally:
                self.outbox.delivered.append(delivery)
        except twiml.TwimlError as exc:
            # Twilio plays "an application error has occurred" and hangs up.
            log.warning("call %s: TwiML unusable: %s", self.call.sid, exc)
            self.call.note("application_error", error=str(exc))
            return []

    def _script(self) -> CallerScript:
        return self.callee.caller_script(greeting_played=self._greeting_played)

    async def _amd(self) -> None:
        opts = self.call.options
        if not opts.machine_detection:
            return
        greeting_ms = (
            await self.executor.speech_ms(self.callee.voicemail_greeting) if self.callee.is_machine else 0
        )
        verdict = amd_verdict(self.callee, opts, greeting_ms)
        if opts.async_amd:
            self._side_tasks.append(
                asyncio.create_task(self._async_amd(verdict.answered_by, verdict.after_ms))
            )
            return
        await self.interrupt.sleep(verdict.after_ms)
        self.call.answered_by = verdict.answered_by
        self._greeting_played = verdict.answered_by == "machine_end_beep"
        self.call.note("amd", answered_by=verdict.answered_by, ms=verdict.after_ms)

    async def _async_amd(self, answered_by: str, after_ms: int) -> None:
        await asyncio.sleep(after_ms / 1000)
        if self.call.is_final:
            return
        self.call.answered_by = answered_by
        self.call.note("amd", answered_by=answered_by, ms=after_ms)
        opts = self.call.options
        if opts.async_amd_callback:
            params = {
                "AccountSid": self.call.account_sid,
                "AnsweredBy": answered_by,
                "CallSid": self.call.sid,
                "MachineDetectionDuration": str(after_ms),
            }
            self.outbox.post(Delivery("amd", opts.async_amd_callback, opts.async_amd_callback_method, params))

    def _start_hangup_timer(self) -> None:
        if self.callee.hangup_after_ms is not None:
            self._side_tasks.append(asyncio.create_task(self._hangup_after(self.callee.hangup_after_ms)))

    async def _hangup_after(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)
        self.call.note("caller_hangup")
        if self.executor.session is not None:
            self.executor.session.stop("caller", "hangup_after")
        else:
            self.interrupt.fire("caller_hangup")

    def result(self) -> dict[str, Any]:
        """Everything the control API reports about the call."""
        call = self.call
        streams = [asdict(record) for record in self.executor.streams]
        main = streams[0] if streams else None
        summary: dict[str, Any] = dict(main["summary"]) if main else {}
        return {
            "sid": call.sid,
            "direction": call.direction,
            "from": call.from_,
            "to": call.to,
            "status": call.status.value,
            "done": call.done.is_set(),
            "answered_by": call.answered_by,
            "transferred_to": call.transferred_to,
            "duration_s": call.duration_s,
            "ended_by": self.ended_by,
            "status_history": [asdict(change) for change in call.status_history],
            "events": [asdict(event) for event in call.events],
            "callbacks": [delivery.summary() for delivery in self.outbox.delivered],
            "streams": streams,
            "timeline": summary.get("timeline", []),
            "barge_ins": summary.get("barge_ins", []),
            "heard_audio_ms": summary.get("heard_audio_ms", 0),
            "wav_path": main["wav_path"] if main else None,
        }
