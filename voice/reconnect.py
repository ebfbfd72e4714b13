"""Keeping the caller through the Realtime session: reconnect after a drop, roll over before the cap.

Reconnect, when the session fails (socket lost, closed 1001/1011, ``session_expired``):

1. the caller stops hearing the agent at once (Twilio's queue is cleared); the agent's turn is
   kept as far as the caller heard it; the caller's audio from now on is held by the relay;
2. new sessions are tried with backoff and jitter (``realtime_reconnect_attempts``), each
   configured from the profile and given the conversation so far (:mod:`voice.sessions`);
3. the held audio follows (and, when the caller was mid-sentence at the drop, that sentence's
   start again), so nothing the caller says is lost; then the agent speaks again if it was cut
   (one short apology and the sentence it was saying), if a verbatim line (the disclosure) was
   playing, or if the caller's words or a tool's output still await an answer;
4. the workflow hears of each step (``realtime_dropped``, ``realtime_reconnected``), and when every
   attempt fails, ``realtime_gave_up``: it hands the caller to a person with an apology.

Rollover: ``realtime_rollover_before_s`` before the session's cap (the earlier of
``realtime_session_cap_s`` and the ``expires_at`` its ``session.created`` announced), a new one is
opened and given the conversation while the old one still serves the call, and swapped in at a
quiet moment (nobody speaking, nothing playing, no tool call open), so the caller hears no gap.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from voice.actions import SendRealtime
from voice.realtime import RealtimeClient, RealtimeError
from voice.sessions import backoff_s, reconnectable
from voice.wsfast import send_texts


class Conversation(Protocol):
    """What the session keeper uses of the conversation runner (``voice.conversation``)."""

    end: asyncio.Future[Any]
    transferring: bool
    transfer_to: str | None
    end_intent: Any
    bridge: Any
    relay: Any
    rt: RealtimeClient | None
    settings: Any
    profile: Any
    log: Any
    meter: Any
    hooks: Any

    def _finish(self, reason: Any, transfer_to: str | None = None, error: str | None = None) -> None: ...
    def _spawn(self, coro: Awaitable[None]) -> None: ...
    async def _perform(self, actions: list[Any], t: int) -> None: ...
    def _hook(self, job: Callable[[], Awaitable[None]]) -> None: ...
    async def _transfer_deadline(self, to: str | None) -> None: ...


log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 3.0
UTTERANCE_LEAD_MS = 300  # of a cut utterance, resend from this long before its speech start
ROLLOVER_LEAD_MS = 300  # resend this much of the latest caller audio to the session rolled over to
APOLOGY = "Sorry, the line dropped for a moment."


def _reason(exc: RealtimeError) -> str:
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' ({code})' if code else ''}"


class Sessions:
    """The conversation's Realtime sessions, one after another."""

    def __init__(self, conversation: Conversation) -> None:
        self.c = conversation
        self.started = time.monotonic()
        self.busy = False  # a reconnect or rollover is under way
        self.replayed = 0  # log items the newest session was given
        self.rolling = False  # a rollover has its new session open and waits for a quiet moment
        self.pending_loss: RealtimeError | None = None  # the old session failed meanwhile
        self.reconnects = 0
        self.rollovers = 0

    # -- reconnect ---------------------------------------------------------------------------

    def lost(self, exc: RealtimeError) -> None:
        """The relay gave the session up (it now holds the caller's audio). Called in a callback."""
        c = self.c
        if c.end.done():
            return
        if c.transferring:  # Twilio leaves the stream for the <Dial> on its own
            return
        if c.bridge.ending:  # the goodbye was playing: the call ends as it meant to
            c._finish(c.end_intent, error=f"realtime lost during the goodbye: {_reason(exc)}")
            return
        if self.rolling and reconnectable(exc):  # the rollover gives way, then this reconnects
            self.pending_loss = exc
            return
        if not reconnectable(exc) or self.busy:
            c._finish("stream_error", error=f"{type(exc).__name__}: {exc}"[:200])
            return
        self.busy = True
        t0 = time.perf_counter_ns()
        speaking_since = c.bridge.caller_speaking_since
        actions, line, cut = c.bridge.session_lost()
        c._spawn(self._reconnect(_reason(exc), actions, line, cut, speaking_since, t0))

    async def _reconnect(
        self,
        reason: str,
        actions: list[Any],
        line: str | None,
        cut: list[str],
        speaking_since: int | None,
        t0: int,
    ) -> None:
        c = self.c
        old = c.rt
        await c._perform(actions, t0)  # Twilio's queue cleared; the cut turns; realtime_dropped
        if old is not None:
            c._spawn(old.close(timeout_s=0.5))
        attempts = max(1, c.settings.realtime_reconnect_attempts)
        rt: RealtimeClient | None = None
        for attempt in range(1, attempts + 1):
            await asyncio.sleep(backoff_s(attempt))
            try:
                rt = await self._new_session()
                break
            except RealtimeError as exc:
                log.info("realtime reconnect attempt %d failed: %s", attempt, _reason(exc))
                failed = {"attempt": attempt, "reason": _reason(exc)}
                c._hook(functools.partial(c.hooks.on_event, "realtime_attempt_failed", failed))
        if rt is None:
            self._give_up(reason, attempts)
            return
        start = None if speaking_since is None else max(0, speaking_since - UTTERANCE_LEAD_MS)
        answered = await self._swap(rt, start, answer=True)
        if answered and not cut and not line:
            c.meter.gap_started(t0)
        elif line:
            await c._perform(c.bridge.speak_line(line), time.perf_counter_ns())
        elif cut or c.log.awaits_answer:
            event: dict[str, Any] = {"type": "response.create"}
            if cut:  # the agent was cut mid-sentence: a short apology, and the sentence again
                event["response"] = {"instructions": f'Say exactly: "{APOLOGY} {" ".join(cut)}"'}
            c.meter.gap_started(t0)
            await c._perform([SendRealtime(event)], time.perf_counter_ns())
        self.reconnects += 1
        gap_ms = round((time.perf_counter_ns() - t0) / 1e6, 1)
        data = {"kind": "reconnected", "attempt": attempt, "reason": reason, "gap_ms": gap_ms}
        c._hook(lambda: c.hooks.on_event("realtime_reconnected", data))
        self.busy = False

    async def _new_session(self) -> RealtimeClient:
        """A configured session that knows the conversation so far (nothing audible yet)."""
        c = self.c
        rt = await RealtimeClient.connect(c.settings, c.profile, open_timeout_s=CONNECT_TIMEOUT_S)
        try:
            events = [json.dumps(e) for e in c.log.replay()]
            self.replayed = len(c.log.items)
            await send_texts(rt.connection, *events)
        except Exception:
            await rt.close(timeout_s=0.5)
            raise
        return rt

    async def _swap(self, rt: RealtimeClient, resend_from: int | None, *, answer: bool) -> bool:
        """Send the caller's audio the new session must hear, then make it the call's session.

        What the conversation gained since the replay was built (turns while a rollover waited for
        quiet, a tool's output that came in during a reconnect) follows; with ``answer``, a tool
        output among it is answered at once. True when a response was asked for."""
        c = self.c
        assert c.relay is not None
        start, frames = c.relay.resend_from(resend_from)
        c.bridge.session_started(start if start is not None else c.bridge.clock_ms)
        if frames:
            await send_texts(rt.connection, *frames)
        c.rt = rt
        c.relay.swap(rt)  # and whatever arrived while the frames were sent
        c._spawn(c.relay.read_realtime())
        self.started = time.monotonic()
        late, self.replayed = c.log.items[self.replayed :], len(c.log.items)
        if not late:
            return False
        events: list[Any] = [SendRealtime({"type": "conversation.item.create", "item": i}) for i in late]
        respond = answer and not c.log.in_flight and any(i["type"] == "function_call_output" for i in late)
        if respond:
            events.append(SendRealtime({"type": "response.create"}))
        await c._perform(events, time.perf_counter_ns())
        return respond

    def _give_up(self, reason: str, attempts: int) -> None:
        """No session could be had: a person takes the call (the workflow redirects it to <Dial>,
        after a spoken apology); the stream is left for Twilio to end."""
        c = self.c
        self.busy = False
        c.transferring, c.transfer_to = True, c.profile.guardrails.escalation_number
        data = {"attempts": attempts, "reason": reason}
        c._hook(lambda: c.hooks.on_event("realtime_gave_up", data))
        c._spawn(c._transfer_deadline(c.transfer_to))

    # -- resume on another host ----------------------------------------------------------------

    async def resumed(self, line: str) -> None:
        """The call was resumed on this host after its own was lost (#15: the same mechanism one
        level up). The session, already open, gets the conversation so far before it speaks, and
        the agent says ``line``. What awaits an answer (the caller's words, a tool's output) follows
        the line, so the session answers it next; with nothing awaiting, the agent says again the
        last thing it said, which the caller may not have heard."""
        c = self.c
        assert c.rt is not None
        hold = c.log.trailing_inputs if c.log.awaits_answer else 0
        await send_texts(c.rt.connection, *[json.dumps(e) for e in c.log.replay(hold=hold)])
        self.replayed = len(c.log.items) - hold
        last = c.log.items[-1] if c.log.items and not hold else None
        again = last["content"][0]["text"] if last is not None and last.get("role") == "assistant" else ""
        await c._perform(c.bridge.speak_line(f"{line} {again}".strip()), time.perf_counter_ns())
        if hold:
            c._spawn(self._answer_after_line(self.replayed, hold))

    async def _answer_after_line(self, start: int, hold: int) -> None:
        """Once the line has played (and nobody speaks): the held inputs, then a response to them
        and to whatever the caller said meanwhile."""
        c = self.c
        while True:  # the bridge has no event for "the line finished playing": look every 50 ms
            if c.end.done() or c.bridge.quiet:
                break
            await asyncio.sleep(0.05)
        if c.end.done():
            return
        items = c.log.items
        held, since = items[start : start + hold], items[start + hold :]
        items[start:] = since + held  # the log in the order the session hears it
        self.replayed = len(items)
        events: list[Any] = [SendRealtime({"type": "conversation.item.create", "item": i}) for i in held]
        # Answer now unless the agent already spoke after its line (to the caller's words meanwhile:
        # a turn said over the uninterruptible line gets no answer of its own, so this one covers it).
        if sum(i.get("role") == "assistant" for i in since) <= 1:
            c.meter.gap_started(time.perf_counter_ns())
            events.append(SendRealtime({"type": "response.create"}))
        await c._perform(events, time.perf_counter_ns())

    # -- rollover ------------------------------------------------------------------------------

    def rollover_due(self) -> float:
        """When (monotonic s) to replace the session: before the earlier of the configured cap and
        the session's own ``expires_at``, by ``realtime_rollover_before_s`` (at most a quarter of
        the session's length, so a short cap still leaves most of the session in use)."""
        s, c = self.c.settings, self.c
        length = s.realtime_session_cap_s
        expires = c.relay.expires_at if c.relay is not None else None
        if expires is not None:
            length = min(length, expires - time.time() + (time.monotonic() - self.started))
        lead = min(s.realtime_rollover_before_s, 0.25 * length)
        return self.started + max(0.0, length - lead)

    async def watch_cap(self) -> None:
        """Replace the session before it reaches its cap, at a quiet moment."""
        while True:
            wait = self.rollover_due() - time.monotonic()
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))  # session.created may still change the due time
                continue
            if self.busy or self.c.transferring or self.c.bridge.ending:
                await asyncio.sleep(0.5)
                continue
            await self._rollover()

    async def _rollover(self) -> None:
        c = self.c
        self.busy = True
        t0 = time.perf_counter_ns()
        try:
            rt = await self._new_session()
        except RealtimeError as exc:
            log.info("realtime rollover could not open a session: %s", _reason(exc))
            self.busy = False
            await asyncio.sleep(1.0)
            return
        self.rolling = True
        while not c.bridge.quiet and not c.end.done():  # the next quiet moment
            await asyncio.sleep(0.05)
            if c.relay is None or c.relay.over:
                break
        self.rolling = False
        if c.end.done() or c.relay is None or c.relay.over or not c.bridge.quiet:
            await rt.close(timeout_s=0.5)  # the call ended, or the old session went first
            self.busy = False
            lost, self.pending_loss = self.pending_loss, None
            if lost is not None:
                self.lost(lost)  # the ordinary reconnect, now
            return
        old = c.rt
        c.relay.session_down()
        await self._swap(rt, c.bridge.clock_ms - ROLLOVER_LEAD_MS, answer=False)
        if old is not None:
            c._spawn(old.close(timeout_s=0.5))
        self.rollovers += 1
        data = {"kind": "rolled_over", "swap_ms": round((time.perf_counter_ns() - t0) / 1e6, 1)}
        c._hook(lambda: c.hooks.on_event("realtime_rolled_over", data))
        self.busy = False
