"""One connection's protocol state machine: client events in, server events and effects out.

No sockets, no clocks, no models here. The ``Host`` (``server.Connection`` in production, a
list-collecting fake in tests) receives every server event and runs the effects that need
time or threads: transcription, response streaming, stopping a response task. Client events
are dispatched through a handler table keyed by ``type``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Protocol

from infra.realtime_engine import config as cfg
from infra.realtime_engine import errors
from infra.realtime_engine.audio_in import InputAudio, SpeechPaused, SpeechStarted, SpeechStopped
from infra.realtime_engine.conversation import Conversation, from_client, user_audio_item
from infra.realtime_engine.ids import new_id
from infra.realtime_engine.policy import Plan, PolicyState, decide, replayed_state
from infra.realtime_engine.response_events import ActiveResponse, ResponseWriter
from infra.realtime_engine.usage import UsageMeter

MAX_APPEND_BYTES = 15 * 1024 * 1024  # decoded audio per append, as the real service allows
Float32 = Any


class Host(Protocol):
    def send(self, event: dict[str, Any]) -> None: ...

    def transcribe(self, item_id: str, audio: Float32, prompt: str | None, pause: int | None) -> None: ...

    def speculate(self, pause: int, audio: Float32, prompt: str | None) -> None: ...

    def start_response(self, resp: ActiveResponse) -> None: ...

    def stop_response(self, resp: ActiveResponse) -> None: ...


class Session:
    def __init__(self, host: Host, model: str = "gpt-realtime", max_session_s: int = 3600) -> None:
        self.host = host
        self.config = cfg.default_session(model, max_session_s)
        self.conversation = Conversation()
        self.writer = ResponseWriter(self.emit, self.conversation)
        self.usage = UsageMeter()
        self.input = InputAudio(self._input_cfg()["format"], self._input_cfg()["turn_detection"])
        self.active: ActiveResponse | None = None
        self.policy = PolicyState()
        self.handed_over = False  # the client created answers (a replayed conversation): rebuild the state
        self.audio_sent = False
        self._current_user_item: str | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "output_audio_buffer.clear": self._output_clear,
        }
        self._turn_handlers: dict[type, Callable[[Any], None]] = {
            SpeechStarted: self._speech_started,
            SpeechPaused: self._speech_paused,
            SpeechStopped: self._speech_stopped,
        }

    # -- plumbing -------------------------------------------------------------------------

    def emit(self, type: str, **fields: Any) -> None:
        if type == "response.output_audio.delta":
            self.audio_sent = True
        self.host.send({"type": type, "event_id": new_id("event"), **fields})

    def start(self) -> None:
        self.emit("session.created", session=self.config)

    def handle(self, event: dict[str, Any]) -> None:
        """Apply one checked client event (see ``client_events.parse_frame``)."""
        self._handlers[event["type"]](event)

    def _input_cfg(self) -> dict[str, Any]:
        audio_input: dict[str, Any] = self.config["audio"]["input"]
        return audio_input

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        td: dict[str, Any] | None = self._input_cfg().get("turn_detection")
        return td

    def _prompt(self) -> str | None:
        transcription = self._input_cfg().get("transcription") or {}
        prompt = transcription.get("prompt")
        return prompt if isinstance(prompt, str) and prompt else None

    # -- session ------------------------------------------------------------------------------

    def _session_update(self, event: dict[str, Any]) -> None:
        self.config = cfg.apply_update(self.config, event.get("session"), audio_sent=self.audio_sent)
        self.input.configure(self._input_cfg()["format"], self.turn_detection)
        self.emit("session.updated", session=self.config)

    # -- input audio ----------------------------------------------------------------------------

    def _append(self, event: dict[str, Any]) -> None:
        audio = event["audio"]
        too_big = errors.invalid_value(
            "audio", f"audio exceeds the maximum of {MAX_APPEND_BYTES} bytes per event."
        )
        if len(audio) > MAX_APPEND_BYTES * 4 // 3 + 8:
            raise too_big
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid_value("audio", "expected base64-encoded audio data.") from None
        if len(data) > MAX_APPEND_BYTES:
            raise too_big
        for turn in self.input.append(data):
            self._turn_handlers[type(turn)](turn)

    def _speech_started(self, turn: SpeechStarted) -> None:
        self._current_user_item = new_id("item")
        self.emit(
            "input_audio_buffer.speech_started",
            audio_start_ms=turn.audio_start_ms,
            item_id=self._current_user_item,
        )
        # interrupt_response false: the VAD events still come and the turn is still committed and
        # transcribed, but nothing is cancelled (over a websocket there is no output buffer to clear).
        td = self.turn_detection or {}
        if self.active is not None and td.get("interrupt_response", True):
            self._cancel("turn_detected")

    def _speech_paused(self, turn: SpeechPaused) -> None:
        self.host.speculate(turn.pause, turn.audio, self._prompt())

    def _speech_stopped(self, turn: SpeechStopped) -> None:
        item_id = self._current_user_item or new_id("item")
        self._current_user_item = None
        self.emit("input_audio_buffer.speech_stopped", audio_end_ms=turn.audio_end_ms, item_id=item_id)
        self._commit_audio(item_id, turn.audio, turn.pause)
        # create_response false: never an automatic response. With a response still active (one
        # interrupt_response false did not cancel), none either: OpenAI's docs say it "may fail to
        # create a response if the model is already responding", and the engine never creates one.
        if (self.turn_detection or {}).get("create_response", True) and self.active is None:
            self._start_response({})

    def _commit_audio(self, item_id: str, audio: Float32, pause: int | None) -> None:
        before = self.conversation.add(user_audio_item(item_id))
        self.usage.heard(item_id, len(audio) / 16)  # 16 kHz samples (audio_in) → ms
        self.emit("input_audio_buffer.committed", item_id=item_id, previous_item_id=before)
        self.emit("conversation.item.added", item=self.conversation.public(item_id), previous_item_id=before)
        self.emit("conversation.item.done", item=self.conversation.public(item_id), previous_item_id=before)
        self.host.transcribe(item_id, audio, self._prompt(), pause)

    def _commit(self, event: dict[str, Any]) -> None:
        _start, _end, audio = self.input.commit()
        item_id = self._current_user_item or new_id("item")
        self._current_user_item = None
        self._commit_audio(item_id, audio, None)

    def _clear(self, event: dict[str, Any]) -> None:
        self.input.clear()
        self._current_user_item = None
        self.emit("input_audio_buffer.cleared")

    def on_transcript(self, item_id: str, text: str, audio_s: float) -> None:
        """The transcription of a committed user item is ready."""
        item = self.conversation.items.get(item_id)
        if item is None:
            return
        item["content"][0]["transcript"] = text
        if self._input_cfg().get("transcription"):
            self.emit(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=0,
                transcript=text,
                usage={"type": "duration", "seconds": round(audio_s, 3)},
            )

    def on_transcript_failed(self, item_id: str, reason: str) -> None:
        if item_id in self.conversation.items and self._input_cfg().get("transcription"):
            self.emit(
                "conversation.item.input_audio_transcription.failed",
                item_id=item_id,
                content_index=0,
                error={"type": "server_error", "code": "transcription_failed", "message": reason},
            )

    # -- conversation items ---------------------------------------------------------------------

    def _item_create(self, event: dict[str, Any]) -> None:
        item = from_client(event["item"])
        if item["id"] in self.conversation.items:
            raise errors.invalid_value("item.id", f"an item with id '{item['id']}' already exists.")
        before = self.conversation.add(item, event.get("previous_item_id"))
        if item.get("type") == "function_call" or item.get("role") == "assistant":
            self.handed_over = True
        public = self.conversation.public(item["id"])
        self.emit("conversation.item.added", item=public, previous_item_id=before)
        self.emit("conversation.item.done", item=public, previous_item_id=before)

    def _item_truncate(self, event: dict[str, Any]) -> None:
        """Cut an assistant item to what was heard. Truncating the item still being spoken stops
        that response first (``client_cancelled``): the caller has stopped listening to it."""
        item_id = event["item_id"]
        self.conversation.get(item_id)
        if self.active is not None and self.active.open_item == item_id:
            self._cancel("client_cancelled")
        self.conversation.truncate(item_id, event["content_index"], event["audio_end_ms"])
        self.emit(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=event["content_index"],
            audio_end_ms=event["audio_end_ms"],
        )

    def _item_delete(self, event: dict[str, Any]) -> None:
        self.conversation.delete(event["item_id"])
        self.emit("conversation.item.deleted", item_id=event["item_id"])

    def _item_retrieve(self, event: dict[str, Any]) -> None:
        self.conversation.get(event["item_id"])  # raises item_not_found
        self.emit(
            "conversation.item.retrieved",
            item=self.conversation.public(event["item_id"]),
        )

    # -- responses --------------------------------------------------------------------------------

    def _response_create(self, event: dict[str, Any]) -> None:
        params = cfg.check_response_params(event.get("response"))
        if self.active is not None:
            raise errors.active_response(self.active.id)
        self._start_response(params)

    def _start_response(self, params: dict[str, Any]) -> None:
        out = self.config["audio"]["output"]
        override = (params.get("audio") or {}).get("output") or {}
        modality = (params.get("output_modalities") or self.config.get("output_modalities") or ["audio"])[0]
        resp = ActiveResponse(
            id=new_id("resp"),
            params=params,
            modality=modality,
            audio_format=override.get("format", out["format"]),
            voice=override.get("voice", out.get("voice", "marin")),
        )
        resp.input = self.usage.input_for(
            params.get("instructions", self.config.get("instructions") or ""),
            params.get("tools", self.config.get("tools") or []),
            self.conversation,
        )
        self.active = resp
        self.writer.created(resp)
        self.host.start_response(resp)

    def _response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self.active is None or (wanted and wanted != self.active.id):
            raise errors.cancel_not_active()
        self._cancel("client_cancelled")

    def _cancel(self, reason: str) -> None:
        resp = self.active
        if resp is None:
            return
        self.active = None
        self.host.stop_response(resp)
        self.writer.finish(resp, "cancelled", reason)

    def finish_response(self, resp: ActiveResponse, plan: Plan | None) -> None:
        """Called by the responder when everything is streamed."""
        if resp is not self.active:
            return
        self.active = None
        if plan is not None:
            self.policy.after_response(plan)
        self.writer.finish(resp, "completed")

    def fail_response(self, resp: ActiveResponse, code: str) -> None:
        """The responder could not finish (speech process down): ``response.done`` ``failed``."""
        if resp is not self.active:
            return
        self.active = None
        error = {"type": "server_error", "code": code}
        self.writer.finish(resp, "failed", None, error)

    def plan(self, resp: ActiveResponse) -> Plan:
        """The dialogue policy's decision for this response (see ``policy``)."""
        tools = resp.params.get("tools", self.config.get("tools") or [])
        instructions = resp.params.get("instructions", "")
        items = list(self.conversation.items.values())
        if self.handed_over:
            self.policy, self.handed_over = replayed_state(items, tools), False
        return decide(self.policy, items, tools, instructions)

    def _output_clear(self, event: dict[str, Any]) -> None:
        raise errors.EngineError(
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            code="invalid_request_error",
        )
