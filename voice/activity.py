"""The voice worker's side of a call's workflow: the ``converse`` activity and its hooks.

The media server accepts a stream and tells the call's workflow which host holds it; the
workflow then runs ``converse`` on this host's task queue (``voice-<host>``). The activity claims
the stream, runs the conversation, and turns what happens into workflow messages: transcript
turns as batched signals, tool calls as ``run_tool`` / ``record_consent`` Updates (a validator's
refusal becomes the tool's result, and a ``tool_rejected`` signal keeps it in the history), the
hand-over line played as ``transfer_line_played``. It heartbeats every second. The workflow's
commands (voicemail message, wrap-up at maximum length, whispers) are pushed to it through
``voice/live_commands.py``; the recording is shipped to S3 as it goes (``voice/segments.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from temporalio import activity
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from activities.tools.system import RECORD_CONSENT
from switchboard.config import Settings
from switchboard.messages import (
    ConsentAnswer,
    ConverseInput,
    ConverseResult,
    RealtimeSession,
    StreamAttached,
    ToolCallRequest,
    ToolRejected,
    TransferReady,
    TurnBatch,
)
from switchboard.models import Speaker, ToolCall, ToolResult, Turn
from voice.conversation import ConversationCancelled, ConversationResult, run_conversation
from voice.live_commands import LiveConversations
from voice.live_latency import LiveLatency
from voice.media_server import MediaStream, StreamBroker
from voice.metrics import VoiceMetrics
from voice.segments import SegmentShipper

log = logging.getLogger(__name__)
CLAIM_TIMEOUT_S = 15.0
# The conversation's notices about its Realtime session → the workflow's ``realtime_session`` kinds.
REALTIME_EVENTS: dict[str, Literal["dropped", "attempt_failed", "reconnected", "rolled_over", "gave_up"]] = {
    "realtime_dropped": "dropped",
    "realtime_attempt_failed": "attempt_failed",
    "realtime_reconnected": "reconnected",
    "realtime_rolled_over": "rolled_over",
    "realtime_gave_up": "gave_up",
}


class WorkflowHooks:
    """Where a live conversation's events go: the call's workflow."""

    def __init__(
        self, handle: WorkflowHandle[Any, Any], metrics: VoiceMetrics | None = None, profile: str = ""
    ) -> None:
        self.handle = handle
        self.metrics, self.profile = metrics, profile
        self._turns: list[Turn] = []
        self.latency = LiveLatency()
        self._observe = metrics.slice_sink(profile) if metrics is not None else None
        self._flush_lock = asyncio.Lock()
        self.last_caller_text = ""
        self.last_caller_over_disclosure = False  # that text was spoken over the disclosure

    def on_slice(self, field: str, ms: float) -> None:
        """A latency slice as the meter takes it: to the histograms, and with the next turns to the workflow."""
        self.latency.take(field, ms)
        if self._observe is not None:
            self._observe(field, ms)

    async def on_turn(self, turn: Turn) -> None:
        turn = self.latency.stamp(turn)
        if turn.speaker == Speaker.CALLER:
            self.last_caller_text = turn.text
            self.last_caller_over_disclosure = turn.over_disclosure
        self._turns.append(turn)
        await self.flush()

    async def flush(self) -> None:
        """Send queued turns (and the slices measured since) as one signal; turns that arrive
        meanwhile go in the next batch."""
        async with self._flush_lock:
            if not self._turns:
                return
            batch, self._turns = self._turns, []
            await self.handle.signal("add_turns", TurnBatch(turns=batch, latency=self.latency.drain()))

    async def on_tool_call(self, call: ToolCall, cancelled: bool) -> ToolResult:
        outcome = "failed"  # unless the workflow answered: an unreachable tool is a failed one
        try:
            result, rejected = await self._tool_call(call, cancelled)
            outcome = "rejected" if rejected else ("ok" if result.ok else "failed")
            return result
        finally:
            if self.metrics is not None:
                self.metrics.tool_result(self.profile, call.name, outcome)

    async def _tool_call(self, call: ToolCall, cancelled: bool) -> tuple[ToolResult, bool]:
        """The workflow's answer, and whether it refused the call (its validator's reason as the result)."""
        try:
            if call.name == RECORD_CONSENT:
                answer = ConsentAnswer(
                    granted=bool(call.arguments.get("granted")),
                    said=self.last_caller_text,
                    tool_call_id=call.call_id,
                    over_disclosure=self.last_caller_over_disclosure,
                )
                update = self.handle.execute_update(
                    "record_consent", answer, result_type=ToolResult, id=f"tool-{call.call_id}"
                )
            else:
                # The Update's id is the tool call's: a host resuming the call after this one was
                # lost asks again with the same id and gets the same execution's result (never a
                # second booking).
                request = ToolCallRequest(call=call, cancelled=cancelled)
                update = self.handle.execute_update(
                    "run_tool", request, result_type=ToolResult, id=f"tool-{call.call_id}"
                )
            return await update, False
        except WorkflowUpdateFailedError as err:
            reason = rejection_reason(err)
            with contextlib.suppress(RPCError):
                await self.handle.signal("tool_rejected", ToolRejected(call=call, reason=reason))
            result = ToolResult(
                call_id=call.call_id, name=call.name, ok=False, error=reason, output={"error": reason}
            )
            return result, True

    async def on_dtmf(self, digit: str) -> None:
        await self.on_turn(Turn(speaker=Speaker.CALLER, text=f"[keypad {digit}]", start_ms=0))

    async def on_event(self, name: str, data: dict[str, Any]) -> None:
        if self.metrics is not None:
            self.metrics.event(self.profile, name)
        if name in ("transfer", "transfer_ready"):
            await self.handle.signal("transfer_line_played", TransferReady(at_ms=int(data.get("at_ms", 0))))
        elif name in REALTIME_EVENTS:
            await self.flush()  # the turns cut by a drop come before it in the history
            event = RealtimeSession(
                kind=REALTIME_EVENTS[name],
                at_ms=int(data.get("at_ms", 0)),
                attempt=int(data.get("attempt", data.get("attempts", 0))),
                reason=str(data.get("reason", "")),
                gap_ms=data.get("gap_ms", data.get("swap_ms")),
            )
            await self.handle.signal("realtime_session", event)


def rejection_reason(err: WorkflowUpdateFailedError) -> str:
    """Why the workflow refused a tool call, as the model reads it: the validator's words, without
    the Python exception type that ``str()`` of a Temporal failure puts in front of them."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.message:
        return cause.message
    return str(cause or err)


class VoiceActivities:
    """``live`` receives the workflow's pushed commands; ``segments`` ships recordings as they go
    (none: the recording stays a local file until the archive)."""

    def __init__(
        self,
        client: Client,
        settings: Settings,
        metrics: VoiceMetrics | None = None,
        *,
        live: LiveConversations | None = None,
        segments: SegmentShipper | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.metrics = metrics
        self.live = live if live is not None else LiveConversations()
        self.segments = segments
        self.broker = StreamBroker(on_stream=self.on_stream)
        self.live_calls = 0  # conversations running here (voice/live_calls.py and metrics publish it)
        self.recorded: set[str] = (
            set()
        )  # recordings of calls that ended here (a drain waits for their archive)

    async def on_stream(self, call_id: str, parameters: dict[str, str]) -> None:
        """A verified stream arrived: tell its workflow this host holds it, and since when."""
        event = StreamAttached(
            host=self.settings.host,
            stream_sid=parameters.get("stream_sid", ""),
            started_at=datetime.now(UTC),
        )
        try:
            await self.client.get_workflow_handle(call_id).signal("stream_attached", event)
        except RPCError as exc:
            log.warning("no workflow for an arriving stream (%s)", exc.status)

    @activity.defn(name="converse")
    async def converse(self, inp: ConverseInput) -> ConverseResult:
        stream = await self.broker.claim(inp.call_id, CLAIM_TIMEOUT_S)
        profile = inp.profile.name
        hooks = WorkflowHooks(self.client.get_workflow_handle(inp.call_id), self.metrics, profile)
        metrics = self.metrics
        commands = self.live.open(inp.call_id)
        beat = asyncio.create_task(self._heartbeat(hooks))
        segments = self.segments
        self.live_calls += 1
        resumed = inp.resume  # the call goes on here after its voice host was lost
        path = None if resumed is None else self._recording_path(inp.call_id, resumed.attempt)
        try:
            result = await run_conversation(
                stream, inp.profile, hooks, self.settings, opening_line=inp.opening_line, commands=commands,
                on_slice=hooks.on_slice, resume=resumed, recording_path=path,
                on_segment=segments.sink(inp.call_id) if segments else None,
                recording_offset_ms=_offset_ms(stream, inp.recording_epoch),
            )  # fmt: skip
        except ConversationCancelled as cancelled:
            if metrics is not None:
                metrics.call_ended(profile, cancelled.result, self.settings.prices)
            await hooks.flush()
            log.info("conversation cancelled after %.1f s", cancelled.result.duration_s)
            raise
        finally:
            self.live.close(inp.call_id)
            self.live_calls -= 1
            beat.cancel()
            stream.release()
            if segments is not None:  # everything recorded here is in S3 before the workflow goes on
                await segments.drain(inp.call_id)
        if metrics is not None:
            metrics.call_ended(profile, result, self.settings.prices)
        await hooks.flush()
        if result.recording_path:  # those archived since are gone from the disk: forget them
            self.recorded = {p for p in self.recorded if Path(p).exists()} | {result.recording_path}
        return _to_result(result)

    def _recording_path(self, call_id: str, attempt: int) -> Path:
        """A resumed part's own file: a worker sharing a disk with the lost one never overwrites it."""
        return self.settings.home / "recordings" / f"{call_id}-resumed-{attempt}.wav"

    async def _heartbeat(self, hooks: WorkflowHooks) -> None:
        while True:
            activity.heartbeat()
            with contextlib.suppress(RPCError):
                await hooks.flush()
            await asyncio.sleep(1.0)


def _offset_ms(stream: MediaStream, epoch: datetime | None) -> int:
    """Where this stream starts on the call's clock (0 for the call's first stream)."""
    if epoch is None:
        return 0
    return max(0, round((stream.arrived_at - epoch.timestamp()) * 1000))


def _to_result(result: ConversationResult) -> ConverseResult:
    """The activity's result: the fields of the worker's own that the workflow keeps."""
    return ConverseResult.model_validate(result.model_dump(include=set(ConverseResult.model_fields)))
