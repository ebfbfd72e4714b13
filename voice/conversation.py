"""The conversation runner: one Twilio media stream ⇄ one Realtime session, through the bridge.

A thin asyncio shell around :class:`voice.bridge.Bridge`. The frames of both sockets go through
:class:`voice.relay.Relay`: handled in the sockets' own callbacks when they can be (the hot path,
no task switch), otherwise by a reader task per socket; either way the actions the bridge returns
are performed at once, in order. Hooks (turns, DTMF, events) run on one queue so a slow hook
never holds audio up; tool calls run as their own tasks.

How a conversation ends (``ConversationResult.end_reason``):

* ``caller_hung_up`` — Twilio sent ``stop`` or the socket vanished; the recording is kept.
* ``agent_ended`` / ``transfer`` — a tool result asked for it and the goodbye has played
  (or ``goodbye_timeout_s`` passed).
* ``stream_error`` — the Realtime session failed for good (close 4000, a refused key, no first
  session). A dropped or expired session is replaced, with the conversation so far
  (:mod:`voice.reconnect`); when no new one can be had, a person takes the call (``transfer``).
  A non-fatal Realtime ``error`` is counted and the call goes on.
* ``cancelled`` — the task was cancelled (the Temporal activity was cancelled): both sockets are
  closed (1000 to Twilio, which ends the call when nothing follows ``</Connect>``), the
  recording is finished, queued hooks get two seconds to drain, and
  :class:`ConversationCancelled` — a ``CancelledError`` carrying the result — is raised, so
  asyncio and Temporal both see a cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed

from switchboard.config import Settings
from switchboard.messages import ResumeContext
from switchboard.models import AgentProfile, ToolCall, ToolResult, Turn
from switchboard.tracing import span
from voice.actions import (
    Action,
    CloseStream,
    DtmfReceived,
    EmitTurn,
    Notify,
    SendRealtime,
    ToolCallRequested,
    Transfer,
)
from voice.bridge import Bridge, BridgeConfig
from voice.latency import LatencyMeter
from voice.media_server import MediaStream
from voice.realtime import RealtimeClient, RealtimeError, turn_detection_config
from voice.reconnect import Sessions
from voice.recorder import Recorder
from voice.relay import FrameProbe, Relay
from voice.results import ConversationResult, EndReason
from voice.sessions import ConversationLog

__all__ = [
    "ConversationCancelled",
    "ConversationHooks",
    "ConversationResult",
    "FrameProbe",
    "run_conversation",
]

log = logging.getLogger(__name__)
TRANSFER_WAIT_S = 10.0  # how long a transfer waits for Twilio to end the stream before closing it


class ConversationHooks(Protocol):
    """What the conversation activity supplies: where turns, tool calls, digits and events go."""

    async def on_turn(self, turn: Turn) -> None: ...

    async def on_tool_call(self, call: ToolCall, cancelled: bool) -> ToolResult: ...

    async def on_dtmf(self, digit: str) -> None: ...

    async def on_event(self, name: str, data: dict[str, Any]) -> None: ...


class ConversationCancelled(asyncio.CancelledError):
    """The conversation was cancelled; ``result`` describes it up to that point."""

    def __init__(self, result: ConversationResult) -> None:
        super().__init__("conversation cancelled")
        self.result = result


async def run_conversation(
    stream: MediaStream,
    profile: AgentProfile,
    hooks: ConversationHooks,
    settings: Settings,
    *,
    opening_line: str | None = None,
    recording_path: Path | None = None,
    goodbye_timeout_s: float = 30.0,
    frame_probe: FrameProbe | None = None,
    commands: asyncio.Queue[Any] | None = None,
    on_slice: Callable[[str, float], None] | None = None,
    resume: ResumeContext | None = None,
    on_segment: Callable[[int, bytes], None] | None = None,
    recording_offset_ms: int = 0,
) -> ConversationResult:
    """Bridge ``stream`` to a new Realtime session for ``profile`` until the call ends.

    ``opening_line`` is spoken verbatim first and cannot be interrupted. The recording goes to
    ``recording_path`` (default ``<home>/recordings/<call_id>.wav``). ``commands`` carries the
    workflow's requests (objects with ``kind``, ``line``, ``reason``): ``say_and_end`` speaks
    ``line`` verbatim, uninterruptible, then ends the call (``max_length`` when that is the reason).
    ``on_slice(field, ms)`` hears each latency measurement as it is taken (the worker's metrics).
    With ``resume`` the call goes on here after its voice host was lost: the session starts from
    the workflow's record of the call and the agent says ``resume.line`` instead of the opening.
    ``on_segment(call_ms, pcm)`` hears the recording in segments as it goes (shipped to S3), this
    stream starting at ``recording_offset_ms`` on the call's clock.
    """
    path = recording_path or settings.home / "recordings" / f"{stream.call_id}.wav"
    recorder = Recorder(path, on_segment=on_segment, offset_ms=recording_offset_ms)
    conversation = _Conversation(stream, profile, hooks, settings, recorder, goodbye_timeout_s, frame_probe)
    conversation.commands = commands
    conversation.meter = LatencyMeter(on_slice)  # before run(): the relay is given this meter
    if resume is not None:
        conversation.resume_from(resume)
    return await conversation.run(opening_line)


class _Conversation:
    def __init__(
        self,
        stream: MediaStream,
        profile: AgentProfile,
        hooks: ConversationHooks,
        settings: Settings,
        recorder: Recorder,
        goodbye_timeout_s: float,
        probe: FrameProbe | None,
    ) -> None:
        self.stream, self.profile, self.hooks, self.settings = stream, profile, hooks, settings
        self.bridge = Bridge(BridgeConfig(turn_detection_config(profile.turn_detection)))
        self.meter = LatencyMeter()
        self.recorder = recorder
        self.goodbye_timeout_s = goodbye_timeout_s
        self.probe = probe
        self.rt: RealtimeClient | None = None
        self.end: asyncio.Future[tuple[EndReason, str | None, str | None]] = (
            asyncio.get_running_loop().create_future()
        )
        self.hook_jobs: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self.tasks: set[asyncio.Task[None]] = set()
        self.watchdog: asyncio.TimerHandle | None = None
        self.hook_task: asyncio.Future[None] | None = None
        self.commands: asyncio.Queue[Any] | None = None
        self.transferring = False
        self.transfer_to: str | None = None
        self.end_intent: EndReason = "agent_ended"
        self.relay: Relay | None = None
        self.log = ConversationLog(max_items=settings.realtime_replay_items)  # for a new session
        self.sessions = Sessions(self)
        self.resume: ResumeContext | None = None
        self._other_table: dict[type, Callable[[Any, int], None]] = {
            EmitTurn: self._turn,
            ToolCallRequested: self._tool_requested,
            CloseStream: lambda a, t: self._finish(a.reason),
            Transfer: self._transfer,
            DtmfReceived: lambda a, t: self._hook(lambda: self.hooks.on_dtmf(a.digit)),
            Notify: self._notify,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self, opening_line: str | None) -> ConversationResult:
        started = time.monotonic()
        try:
            try:
                self.rt = await RealtimeClient.connect(self.settings, self.profile)
            except RealtimeError as exc:
                self._finish("stream_error", error=type(exc).__name__)
            else:
                self.relay = Relay(
                    self.stream.ws, self.stream.stream_sid, self.rt, self.bridge, self.recorder, self.meter,
                    other=self._other, finish=self._finish, lost=self.sessions.lost, probe=self.probe,
                    malformed=self.stream.malformed_before_start,
                )  # fmt: skip
                await self._perform(self.bridge.on_twilio(self.stream.start), time.perf_counter_ns())
                if self.resume is not None:
                    await self.sessions.resumed(self.resume.line)
                    for call in self.resume.pending:  # its result comes from the workflow's same Update
                        self._spawn(self._run_tool(call, False))
                elif opening_line:
                    await self._perform(self.bridge.speak_line(opening_line), time.perf_counter_ns())
                self._spawn(self.relay.read_twilio())
                self._spawn(self.relay.read_realtime())
                if self.commands is not None:
                    self._spawn(self._read_commands(self.commands))
                self._spawn(self.sessions.watch_cap())
                self.hook_task = asyncio.ensure_future(self._run_hooks())
            reason, transfer_to, error = await self.end
        except asyncio.CancelledError:
            result = await self._shutdown("cancelled", None, None, started)
            raise ConversationCancelled(result) from None
        return await self._shutdown(reason, transfer_to, error, started)

    def resume_from(self, resume: ResumeContext) -> None:
        """Start from the workflow's record of the call (``ConversationLog.from_resume``)."""
        self.resume = resume
        self.log = ConversationLog.from_resume(resume, max_items=self.settings.realtime_replay_items)

    async def _shutdown(
        self, reason: EndReason, transfer_to: str | None, error: str | None, started: float
    ) -> ConversationResult:
        if self.watchdog is not None:
            self.watchdog.cancel()
        workers = [t for t in self.tasks if t is not asyncio.current_task()]
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(2.0):
                await self.stream.ws.close(1011 if reason == "stream_error" else 1000)
        self.meter.stream_closed(time.perf_counter_ns())
        if self.rt is not None:
            await self.rt.close()
        path = self.recorder.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._drain_hooks()
        if self.hook_task is not None:
            self.hook_task.cancel()
            await asyncio.gather(self.hook_task, return_exceptions=True)
        self.stream.release()
        relay = self.relay
        return ConversationResult(
            call_id=self.stream.call_id,
            end_reason=reason,
            latency=self.meter.slices,
            recording_path=str(path),
            frames_in=relay.frames_in if relay else 0,
            frames_out=relay.frames_out if relay else 0,
            malformed_frames=relay.malformed if relay else self.stream.malformed_before_start,
            realtime_errors=relay.realtime_errors if relay else 0,
            dropped_deltas=self.bridge.dropped_deltas,
            transfer_to=transfer_to,
            duration_s=round(time.monotonic() - started, 3),
            error=error,
            usage=self.bridge.usage.total,
        )

    def _finish(self, reason: EndReason, transfer_to: str | None = None, error: str | None = None) -> None:
        if self.transferring and reason == "caller_hung_up":  # Twilio left the stream for the <Dial>
            reason, transfer_to = "transfer", self.transfer_to
        if not self.end.done():
            self.end.set_result((reason, transfer_to, error))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- the workflow's commands ------------------------------------------------------------------

    async def _read_commands(self, commands: asyncio.Queue[Any]) -> None:
        while True:
            command = await commands.get()
            kind = getattr(command, "kind", "")
            if kind == "whisper":  # a supervisor's instruction, added to the live session's context
                await self._whisper(str(command.line))
                continue
            if kind == "say_and_end" and not command.line:  # e.g. a voicemail with no message to leave
                self.meter.end_intent(time.perf_counter_ns())
                self._finish("agent_ended")
                return
            if kind == "say_and_end":
                reason = "max_length" if getattr(command, "reason", "") == "max_length" else "agent_ended"
                self.meter.end_intent(time.perf_counter_ns())
                actions = self.bridge.interrupt_with_line(command.line, then_close=reason)
                try:
                    await self._perform(actions, time.perf_counter_ns())
                except (ConnectionClosed, RealtimeError) as exc:
                    self._finish("stream_error", error=type(exc).__name__)

    async def _whisper(self, text: str) -> None:
        self.log.system(f"Supervisor instruction: {text}")
        item = {
            "type": "message",
            "role": "system",
            "content": [{"type": "input_text", "text": f"Supervisor instruction: {text}"}],
        }
        try:
            await self._perform(
                [SendRealtime({"type": "conversation.item.create", "item": item})], time.perf_counter_ns()
            )
        except (ConnectionClosed, RealtimeError) as exc:
            self._finish("stream_error", error=type(exc).__name__)

    # -- actions -------------------------------------------------------------------------------

    async def _perform(self, actions: list[Action], t: int) -> None:
        assert self.relay is not None
        await self.relay.perform(actions, t)

    def _turn(self, action: EmitTurn, t: int) -> None:
        self.log.turn(action.turn)
        self._hook(lambda: self._deliver_turn(action.turn))

    async def _deliver_turn(self, turn: Turn) -> None:
        """A span per turn (its speaker and times on the stream's clock, never its words)."""
        times = {"start_ms": turn.start_ms, "end_ms": turn.end_ms if turn.end_ms is not None else -1}
        with span("turn", {"speaker": str(turn.speaker), "interrupted": turn.interrupted, **times}):
            await self.hooks.on_turn(turn)

    def _tool_requested(self, action: ToolCallRequested, t: int) -> None:
        self.log.tool_call(action.call)
        self._spawn(self._run_tool(action.call, action.cancelled))

    def _other(self, action: Action, t: int) -> None:
        """The actions that write to no socket (the relay performs the others)."""
        self._other_table[type(action)](action, t)

    def _transfer(self, action: Transfer, t: int) -> None:
        """The hand-over line has played: the workflow now redirects the call (a REST update with
        ``<Dial>``), and Twilio ends this stream itself. Closing it first would hang the caller up
        (nothing follows ``</Connect>``), so wait for that, with a deadline."""
        data = {"to": action.to, "at_ms": self.bridge.clock_ms}
        self.transferring, self.transfer_to = True, action.to
        self._hook(lambda: self.hooks.on_event("transfer", data))
        self._spawn(self._transfer_deadline(action.to))

    async def _transfer_deadline(self, to: str | None) -> None:
        await asyncio.sleep(TRANSFER_WAIT_S)
        self._finish("transfer", to)

    async def _run_tool(self, call: ToolCall, cancelled: bool) -> None:
        """One tool round trip, in its span: the workflow's Update, then the result to the model."""
        with span("tool", {"tool": call.name, "cancelled": cancelled}) as current:
            try:
                result = await self.hooks.on_tool_call(call, cancelled)
            except Exception as exc:
                log.warning("tool hook failed for %s: %s", call.name, type(exc).__name__)
                result = ToolResult(
                    call_id=call.call_id, name=call.name, ok=False, error="the tool is unavailable"
                )
            current.set_attribute("ok", result.ok)
            self.log.tool_result(result)
            actions = self.bridge.on_tool_result(result, cancelled=cancelled, response_id=call.response_id)
            try:
                await self._perform(actions, time.perf_counter_ns())
            except (ConnectionClosed, RealtimeError) as exc:
                self._finish("stream_error", error=type(exc).__name__)

    def _notify(self, action: Notify, t: int) -> None:
        if action.name == "end_intent":
            self.end_intent = "transfer" if action.data.get("action") == "transfer" else "agent_ended"
            self.meter.end_intent(time.perf_counter_ns())
            loop = asyncio.get_running_loop()
            self.watchdog = loop.call_later(self.goodbye_timeout_s, self._goodbye_overdue)
        self._hook(lambda: self.hooks.on_event(action.name, action.data))

    def _goodbye_overdue(self) -> None:
        if not self.end.done():
            self.end.set_result((self.end_intent, None, "goodbye did not finish playing in time"))

    # -- hooks ---------------------------------------------------------------------------------

    def _hook(self, job: Callable[[], Awaitable[None]]) -> None:
        self.hook_jobs.put_nowait(job)

    async def _run_hooks(self) -> None:
        while True:
            job = await self.hook_jobs.get()
            try:
                await self._call_hook(job)
            finally:
                self.hook_jobs.task_done()

    async def _drain_hooks(self) -> None:
        if self.hook_task is None or self.hook_task.done():
            while not self.hook_jobs.empty():
                await self._call_hook(self.hook_jobs.get_nowait())
        else:
            await self.hook_jobs.join()

    @staticmethod
    async def _call_hook(job: Callable[[], Awaitable[None]]) -> None:
        try:
            await job()
        except Exception as exc:  # a failing hook must not end the call
            log.warning("conversation hook failed: %s", type(exc).__name__)
