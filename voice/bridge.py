"""The bridge between one Twilio media stream and one Realtime session, as a sans-I/O state machine.

Twilio messages and Realtime events go in (:meth:`Bridge.on_twilio`, :meth:`Bridge.on_realtime`),
and so do the runner's requests (:meth:`Bridge.speak_line`, :meth:`Bridge.on_tool_result`);
each call returns the actions to perform, in order. No socket, no clock, no asyncio: the
runner in ``conversation.py`` performs the actions, and the tests feed events by hand.

How it keeps track of what the caller heard: every agent audio chunk is forwarded unchanged and
followed by a mark named ``<item>:<sent ms>:g<generation>:m<seq>``. Twilio echoes a mark when
the audio before it has finished playing, so the highest echoed ``sent ms`` of an item is what
the caller has heard of it. On barge-in the bridge clears Twilio's buffer at once, truncates
the item at ``min(sent, heard + margin)``, and bumps the generation, so the marks Twilio echoes
for the flushed audio are recognised and ignored. Deltas of the interrupted response that are
still in flight are dropped.

The disclosure is not interruptible, yet what the caller says over it is kept and answered once
it has played (:mod:`voice.disclosure`).

The stream clock is Twilio's ``media.timestamp``. Inbound gaps are padded with μ-law silence so
the Realtime input clock (``audio_start_ms``) stays the stream clock minus the first timestamp.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchboard.models import Speaker, ToolCall, ToolResult, Turn
from voice.actions import (
    Action,
    AppendAudio,
    CloseStream,
    DtmfReceived,
    EmitTurn,
    Notify,
    SendRealtime,
    SendTwilio,
    ToolCallRequested,
    Transfer,
)
from voice.disclosure import OverDisclosure, turn_detection_update
from voice.playback import PlayedItem, ResponseState, b64_len, silence_b64
from voice.twilio_media import ClearOut, InboundMessage, MarkOut, MediaOut
from voice.usage import CallUsage

__all__ = [
    "Action",
    "AppendAudio",
    "Bridge",
    "BridgeConfig",
    "CloseStream",
    "DtmfReceived",
    "EmitTurn",
    "Notify",
    "SendRealtime",
    "SendTwilio",
    "ToolCallRequested",
    "Transfer",
]

MAX_GAP_PAD_MS = 10_000


# -- state -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeConfig:
    """``turn_detection``: the session's GA turn-detection object (toggled for the opening line)."""

    turn_detection: dict[str, Any]
    margin_ms: int = 50

    @property
    def interrupt_response(self) -> bool:
        return bool(self.turn_detection.get("interrupt_response", True))


class Bridge:
    """One call's bridge state. Feed it events; perform the actions it returns, in order."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.stream_sid: str | None = None
        self.first_ts: int | None = None
        self.clock_ms = 0  # stream clock: end of the latest caller audio
        self.generation = 0
        self._seq = 0
        self._play_end_ms = 0  # where Twilio's queued agent audio ends, on the stream clock
        self.pending_marks = 0
        self._items: dict[str, PlayedItem] = {}
        self._responses: dict[str, ResponseState] = {}
        self._live: dict[str, ResponseState] = {}  # created, not yet done
        self._discard: set[str] = set()
        self._caller_items: dict[str, list[int]] = {}
        self._opening = ""  # "" | "requested" | "playing"
        self._end: tuple[str, str | None] | None = None  # (action, transfer target)
        self._awaiting_goodbye = False
        self._opening_event = ""
        self._line_close: str | None = None
        self._opening_line = ""  # the verbatim line being spoken, in case a new session must say it again
        self._over = OverDisclosure()  # what the caller says over the disclosure
        self._partial: dict[str, str] = {}  # agent transcript so far, by item (for a cut at a drop)
        self._session_ts = 0  # stream ms where the current Realtime session's input audio began
        self.dropped_deltas = 0
        self.late_marks = 0
        self.usage = CallUsage()  # tokens of every response.done, across the call's sessions
        self._twilio: dict[str, Callable[[Any], list[Action]]] = {
            "media": self._on_media,
            "mark": self._on_mark,
            "start": self._on_start,
            "dtmf": lambda m: [DtmfReceived(m.dtmf.digit)],
            "stop": lambda m: [CloseStream("caller_hung_up")],
            "connected": lambda m: [],
        }
        self._realtime: dict[str, Callable[[Any], list[Action]]] = {
            "response.output_audio.delta": self._on_audio_delta,
            "input_audio_buffer.speech_started": self._on_speech_started,
            "input_audio_buffer.speech_stopped": self._on_speech_stopped,
            "conversation.item.input_audio_transcription.completed": self._on_caller_transcript,
            "conversation.item.input_audio_transcription.failed": self._on_transcript_failed,
            "response.output_audio_transcript.done": self._on_agent_transcript,
            "response.output_audio_transcript.delta": self._on_agent_transcript_delta,
            "response.created": self._on_response_created,
            "response.done": self._on_response_done,
            "response.function_call_arguments.done": self._on_function_call,
            "error": self._on_error,
        }

    # -- inputs ----------------------------------------------------------------------------

    def on_twilio(self, message: InboundMessage) -> list[Action]:
        return self._twilio[message.event](message)

    def on_realtime(self, event: Any) -> list[Action]:
        handler = self._realtime.get(event.type)
        return handler(event) if handler is not None else []

    def speak_line(self, line: str, *, then_close: str | None = None) -> list[Action]:
        """Say ``line`` verbatim, not interruptible until it has finished playing.

        With ``then_close``, the stream is closed (``CloseStream(then_close)``) once it has played.
        """
        self._opening = "requested"
        self._line_close = then_close
        self._opening_line = line
        if then_close is not None:
            self._over.clear()  # the call ends after this line: nothing said over it is answered
        self._seq += 1
        self._opening_event = f"event_opening_{self._seq}"
        create = {"type": "response.create", "event_id": self._opening_event}
        return [
            SendRealtime(self._session_turns(hold=True)),
            SendRealtime({**create, "response": {"instructions": f'Say exactly: "{line}"'}}),
        ]

    def on_tool_result(self, result: ToolResult, *, cancelled: bool, response_id: str | None) -> list[Action]:
        """Return a tool's output to the model; ``end_call`` / ``transfer`` end after the goodbye."""
        output = result.output if result.ok else {"error": result.error or "the tool failed"}
        actions: list[Action] = [
            SendRealtime(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": result.call_id,
                        "output": json.dumps(output),
                    },
                }
            )
        ]
        resp = self._responses.get(response_id or "")
        if resp is not None:
            resp.open_tool_calls = max(0, resp.open_tool_calls - 1)
        if cancelled:
            return actions  # the caller moved on: keep the history consistent, say nothing
        intent = result.output.get("action") if result.ok else None
        if intent in ("end_call", "transfer") and self._end is None:
            self._end = (intent, result.output.get("to"))
            self._awaiting_goodbye = True
            actions.append(Notify("end_intent", {"action": intent}))
        if resp is None or resp.open_tool_calls == 0:
            actions.append(SendRealtime({"type": "response.create"}))
        return actions

    def session_lost(self) -> tuple[list[Action], str | None, list[str]]:
        """The Realtime session is gone (dropped, expired): the caller's audio keeps coming, but
        what the agent was saying stops where the caller is, and the session's state is let go.

        Returns the actions (clear Twilio's queued audio; the agent's turns, cut at what was heard),
        the verbatim line still to be said, if one was playing (it must play whole: the
        disclosure), and the whole text of each agent item that was cut (to say it again)."""
        actions: list[Action] = []
        queued = [i for i in self._items.values() if i.pending_marks > 0 and not i.interrupted]
        if queued:
            actions.append(SendTwilio(ClearOut()))
            self.generation += 1
            self.pending_marks = 0
            self._play_end_ms = self.clock_ms
        cut = []
        for item in queued:
            item.pending_marks, item.interrupted = 0, True
            cut.append(item)
        for resp in self._live.values():
            for item_id in resp.items:
                item = self._items[item_id]
                if not item.interrupted and item not in cut:
                    item.interrupted, item.heard_ms = True, item.sent_ms
                    cut.append(item)
        for item in cut:
            if item.transcript is None:
                item.transcript = self._partial.get(item.item_id, "")
            actions += self._maybe_emit(item)
        unheard = [item.transcript.strip() for item in cut if item.transcript and item.transcript.strip()]
        line = self._opening_line if self._opening else None
        self._responses.clear()
        self._live.clear()
        self._discard.clear()
        self._caller_items.clear()
        self._partial.clear()
        self._over.clear()
        self._opening, self._awaiting_goodbye = "", False
        actions.append(Notify("realtime_dropped", {"at_ms": self.clock_ms, "cut": len(cut)}))
        return actions, line, unheard

    def session_started(self, audio_from_ms: int) -> None:
        """A new Realtime session's input audio begins at stream ms ``audio_from_ms``."""
        self._session_ts = audio_from_ms

    @property
    def caller_speaking_since(self) -> int | None:
        """Stream ms where the caller's unfinished utterance began (None when they are not mid-turn)."""
        open_ = [start for start, end in self._caller_items.values() if end < 0]
        return min(open_) if open_ else None

    @property
    def quiet(self) -> bool:
        """Nobody speaking, nothing playing or streaming, no tool call open: a moment to roll over."""
        return (
            not self._live
            and self.pending_marks == 0
            and not self._opening
            and self.caller_speaking_since is None
            and not self._over.held
            and all(r.open_tool_calls == 0 for r in self._responses.values())
            and self._end is None
        )

    # -- Twilio ----------------------------------------------------------------------------

    def _on_start(self, msg: Any) -> list[Action]:
        self.stream_sid = msg.start.streamSid
        return []

    def _on_media(self, msg: Any) -> list[Action]:
        return self.on_media(msg.media.timestamp, msg.media.payload)

    def on_media(self, ts: int, payload: str) -> list[Action]:
        """Caller audio: a ``media`` frame's timestamp and base64 payload."""
        pad = self.caller_audio(ts, b64_len(payload))
        return [AppendAudio(silence_b64(pad)), AppendAudio(payload)] if pad else [AppendAudio(payload)]

    def caller_audio(self, ts: int, nbytes: int) -> int:
        """The hot path of :meth:`on_media`: ``nbytes`` of caller audio at ``ts`` moves the stream
        clock; append it unchanged, after the returned ms of silence (0 unless Twilio skipped some)."""
        if self.first_ts is None:
            self.first_ts = self.clock_ms = self._session_ts = ts
        gap, end = ts - self.clock_ms, ts + nbytes // 8
        if gap <= 0:
            if end > self.clock_ms:
                self.clock_ms = end
            return 0
        self.clock_ms = end
        return min(gap, MAX_GAP_PAD_MS)

    def _on_mark(self, msg: Any) -> list[Action]:
        return self.on_mark(msg.mark.name)

    def on_mark(self, name: str) -> list[Action]:
        """Twilio echoed a mark: the audio before it has played."""
        try:
            item_id, sent, gen, _ = name.rsplit(":", 3)
            sent_ms, generation = int(sent), int(gen[1:])
        except ValueError:
            return []  # not one of ours
        item = self._items.get(item_id)
        if generation != self.generation or item is None:
            self.late_marks += 1  # flushed by a clear, not played
            return []
        item.heard_ms = max(item.heard_ms, sent_ms)
        item.pending_marks -= 1
        self.pending_marks -= 1
        if item.pending_marks > 0:
            return []
        return self._after_item_played(item)

    # -- Realtime --------------------------------------------------------------------------

    def _on_audio_delta(self, ev: Any) -> list[Action]:
        return self.on_audio_delta(ev.response_id, ev.item_id, ev.delta)

    def on_audio_delta(self, response_id: str, item_id: str, delta: str, nbytes: int = -1) -> list[Action]:
        """Agent audio (base64, ``nbytes`` of μ-law if known): forward it, then a mark (the hot path)."""
        if response_id in self._discard:
            self.dropped_deltas += 1
            return []
        item = self._items.get(item_id)
        if item is None:
            item = PlayedItem(item_id, response_id, start_ms=max(self.clock_ms, self._play_end_ms))
            self._items[item_id] = item
            self._response(response_id).items.append(item_id)
        n = nbytes if nbytes >= 0 else b64_len(delta)
        item.sent_bytes += n
        self._play_end_ms = max(self._play_end_ms, self.clock_ms) + n // 8
        self._seq += 1
        item.pending_marks += 1
        self.pending_marks += 1
        name = f"{item_id}:{item.sent_ms}:g{self.generation}:m{self._seq}"
        return [SendTwilio(MediaOut(delta)), SendTwilio(MarkOut(name))]

    def interrupt_with_line(self, line: str, *, then_close: str | None = None) -> list[Action]:
        """Stop whatever the agent is saying (or about to say) and say ``line`` verbatim instead:
        a voicemail message over the disclosure, the wrap-up at the maximum length."""
        actions = self._cut_playback(cancel_all=True)
        for resp in self._live.values():
            if resp.purpose == "opening":
                resp.purpose = "cut"  # its end must not count as the new line's end
        self._opening = ""
        return actions + self.speak_line(line, then_close=then_close)

    def _on_speech_started(self, ev: Any) -> list[Action]:
        self._caller_items[ev.item_id] = [self._stream_ms(ev.audio_start_ms), -1]
        if self._opening:
            if self._line_close is None:
                self._over.started(ev.item_id)
            return []  # the opening line is not interruptible
        return self._cut_playback(cancel_all=False)

    def _cut_playback(self, *, cancel_all: bool) -> list[Action]:
        """Clear what Twilio still holds, truncate it to what was heard, drop the live responses.

        ``cancel_all``: we interrupt, not the caller's speech, so the server cancels nothing by
        itself: cancel every live response, with audio yet or not."""
        queued = [i for i in self._items.values() if i.pending_marks > 0 and not i.interrupted]
        speaking = [r for r in self._live.values() if r.items or cancel_all]
        if not queued and not speaking:
            return []  # nothing queued, nothing streaming: nothing to cut
        actions: list[Action] = []
        if queued:
            actions.append(SendTwilio(ClearOut()))
            self.generation += 1  # marks echoed for the flushed audio now carry an old generation
            self.pending_marks = 0
            self._play_end_ms = self.clock_ms
        cut: list[PlayedItem] = []
        for item in queued:
            item.pending_marks, item.interrupted = 0, True
            end_ms = min(item.sent_ms, item.heard_ms + self.config.margin_ms)
            truncate = {"type": "conversation.item.truncate", "item_id": item.item_id, "content_index": 0}
            actions.append(SendRealtime({**truncate, "audio_end_ms": end_ms}))
            cut.append(item)
        for resp in speaking:  # every live response with audio (queued items' ones included)
            self._discard.add(resp.response_id)  # its deltas still in flight are dropped
            resp.cancelled = True
            for item_id in resp.items:
                item = self._items[item_id]
                if not item.interrupted:
                    item.interrupted, item.heard_ms = True, item.sent_ms
                    cut.append(item)
            if cancel_all or not self.config.interrupt_response:
                actions.append(SendRealtime({"type": "response.cancel", "response_id": resp.response_id}))
        actions.append(Notify("barge_in", {"generation": self.generation, "truncated": len(queued)}))
        for item in cut:
            actions += self._after_item_played(item)
        return actions

    def _on_speech_stopped(self, ev: Any) -> list[Action]:
        span = self._caller_items.setdefault(ev.item_id, [self._stream_ms(ev.audio_end_ms), -1])
        span[1] = self._stream_ms(ev.audio_end_ms)
        if self._opening and self._line_close is None:
            self._over.stopped(ev.item_id)
        return []

    def _on_caller_transcript(self, ev: Any) -> list[Action]:
        start, end = self._caller_items.pop(ev.item_id, [self.clock_ms, -1])
        text = ev.transcript.strip()
        over = self._over.heard(ev.item_id, text)
        actions = self._answer_held()
        if not text:
            return actions
        turn = Turn(
            speaker=Speaker.CALLER, text=text, start_ms=max(0, start), end_ms=end if end >= 0 else None,
            over_disclosure=over,
        )  # fmt: skip
        return [EmitTurn(turn), *actions]

    def _on_transcript_failed(self, ev: Any) -> list[Action]:
        """No words for a caller item (e.g. noise): it is no answer to hold for."""
        self._caller_items.pop(ev.item_id, None)
        self._over.heard(ev.item_id, "")
        return self._answer_held()

    def _answer_held(self) -> list[Action]:
        """The disclosure has played: answer what the caller said over it, once its words are in.

        Nothing is sent while a transcript is awaited, when all of it was noise (no words), when a
        response is already live, or when the caller is talking again (the server answers them
        when they stop, ``create_response`` being restored)."""
        if self._opening or not self._over.held:
            return []
        said = self._over.take()
        if not said or self._live or self.caller_speaking_since is not None:
            return []
        return [
            SendRealtime({"type": "response.create"}),
            Notify("answer_over_disclosure", {"turns": said, "at_ms": self.clock_ms}),
        ]

    def _on_agent_transcript(self, ev: Any) -> list[Action]:
        self._partial.pop(ev.item_id, None)
        item = self._items.get(ev.item_id)
        if item is None:
            return []  # no audio of it reached the caller
        item.transcript = ev.transcript
        return self._maybe_emit(item)

    def _on_agent_transcript_delta(self, ev: Any) -> list[Action]:
        self._partial[ev.item_id] = self._partial.get(ev.item_id, "") + ev.delta
        return []

    def _on_response_created(self, ev: Any) -> list[Action]:
        resp = self._response(ev.response.id)
        self._live[resp.response_id] = resp
        if self._opening == "requested":
            self._opening, resp.purpose = "playing", "opening"
        elif self._awaiting_goodbye:
            self._awaiting_goodbye, resp.purpose = False, "goodbye"
        return []

    def _on_response_done(self, ev: Any) -> list[Action]:
        self.usage.add(ev.response)
        resp = self._response(ev.response.id)
        self._live.pop(resp.response_id, None)
        resp.done = True
        resp.cancelled = resp.cancelled or ev.response.status == "cancelled"
        actions: list[Action] = [ToolCallRequested(call, resp.cancelled) for call in resp.tool_calls]
        resp.open_tool_calls = len(resp.tool_calls)
        resp.tool_calls = []
        return actions + self._after_response_maybe_played(resp)

    def _on_function_call(self, ev: Any) -> list[Action]:
        try:
            arguments = json.loads(ev.arguments or "{}")
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            arguments = {}
        call = ToolCall(call_id=ev.call_id, name=ev.name, arguments=arguments, response_id=ev.response_id)
        self._response(ev.response_id).tool_calls.append(call)
        return []

    def _on_error(self, ev: Any) -> list[Action]:
        err = ev.error
        actions: list[Action] = [
            Notify("realtime_error", {"type": err.type, "code": err.code, "param": err.param})
        ]
        if self._opening == "requested" and err.event_id and err.event_id == self._opening_event:
            self._opening = ""  # the line was refused: do not stay uninterruptible
            actions += [SendRealtime(self._session_turns(hold=False)), Notify("opening_line_failed")]
            actions += self._answer_held()
        return actions

    # -- playback bookkeeping --------------------------------------------------------------

    def _after_item_played(self, item: PlayedItem) -> list[Action]:
        actions = self._maybe_emit(item)
        return actions + self._after_response_maybe_played(self._response(item.response_id))

    def _maybe_emit(self, item: PlayedItem) -> list[Action]:
        if item.emitted or item.transcript is None or (item.pending_marks > 0 and not item.interrupted):
            return []
        item.emitted = True
        heard = item.heard_ms if item.interrupted else item.sent_ms
        text = item.transcript.strip()
        if item.interrupted:
            words = text.split()
            ratio = min(1.0, heard / item.sent_ms) if item.sent_ms else 0.0
            text = " ".join(words[: round(len(words) * ratio)])
        if not text:
            return []
        end = item.start_ms + heard
        turn = Turn(
            speaker=Speaker.AGENT, text=text, start_ms=item.start_ms, end_ms=end, interrupted=item.interrupted
        )
        return [EmitTurn(turn)]

    def _after_response_maybe_played(self, resp: ResponseState) -> list[Action]:
        if resp.played or not resp.done:
            return []
        if any(self._items[i].pending_marks > 0 for i in resp.items):
            return []
        resp.played = True
        actions: list[Action] = []
        if resp.purpose == "opening":
            self._opening = ""
            actions += [SendRealtime(self._session_turns(hold=False)), Notify("opening_line_done")]
            if self._line_close is not None:
                actions.append(CloseStream(self._line_close))
            else:
                actions += self._answer_held()
        if resp.purpose == "goodbye" and self._end is not None:
            intent, target = self._end
            actions.append(Transfer(target) if intent == "transfer" else CloseStream("agent_ended"))
        return actions

    def _response(self, response_id: str) -> ResponseState:
        resp = self._responses.get(response_id)
        if resp is None:
            resp = self._responses[response_id] = ResponseState(response_id)
        return resp

    def _session_turns(self, *, hold: bool) -> dict[str, Any]:
        return turn_detection_update(self.config.turn_detection, hold=hold)

    def _stream_ms(self, audio_ms: int) -> int:
        return self._session_ts + audio_ms

    @property
    def ending(self) -> bool:
        """An end intent is recorded: the goodbye is being (or about to be) played."""
        return self._end is not None
