"""One response's events, in the real order, without I/O.

``ResponseWriter`` turns "begin a message", "here is audio", "call this function", "finish" into
the service's event sequence (``response.created`` … ``response.done``) and keeps the response
object, its output items and usage consistent. The responder decides *when*; this decides
*what*. Once a response is finished or cancelled every further call raises ``ResponseGone``,
so a responder task that lost a race with a barge-in can never emit a stray event.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.realtime_engine.conversation import Conversation, Span, Spoken
from infra.realtime_engine.ids import new_id
from infra.realtime_engine.usage import InputTokens, text_tokens, usage

Emit = Callable[..., None]


class ResponseGone(Exception):
    """The response was finished or cancelled; the caller should stop quietly."""


@dataclass
class ActiveResponse:
    id: str
    params: dict[str, Any]
    modality: str  # "audio" | "text"
    audio_format: dict[str, Any]
    voice: str
    started: float = field(default_factory=time.monotonic)
    output: list[str] = field(default_factory=list)  # item ids
    open_item: str | None = None
    done: bool = False
    input: InputTokens = field(
        default_factory=InputTokens
    )  # the context read (infra/realtime_engine/usage.py)
    output_text_tokens: int = 0
    output_audio_ms: float = 0.0

    def shape(self, status: str, conversation: Conversation, details: dict[str, Any] | None = None) -> dict:
        done = status != "in_progress"
        return {
            "id": self.id,
            "object": "realtime.response",
            "status": status,
            "status_details": details,
            "output": [conversation.public(i) for i in self.output if i in conversation.items],
            "conversation_id": conversation.id,
            "output_modalities": [self.modality],
            "max_output_tokens": self.params.get("max_output_tokens", "inf"),
            "audio": {"output": {"format": self.audio_format, "voice": self.voice}},
            "metadata": self.params.get("metadata"),
            "usage": usage(self.input, self.output_text_tokens, self.output_audio_ms) if done else None,
        }


class ResponseWriter:
    def __init__(self, emit: Emit, conversation: Conversation) -> None:
        self._emit = emit
        self._conv = conversation

    def _check(self, resp: ActiveResponse) -> None:
        if resp.done:
            raise ResponseGone(resp.id)

    def _ids(self, resp: ActiveResponse, item_id: str) -> dict[str, Any]:
        return {"response_id": resp.id, "item_id": item_id, "output_index": resp.output.index(item_id)}

    def created(self, resp: ActiveResponse) -> None:
        self._emit("response.created", response=resp.shape("in_progress", self._conv))
        self._emit(
            "rate_limits.updated",
            rate_limits=[
                {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
                {"name": "tokens", "limit": 400000, "remaining": 394000, "reset_seconds": 0.9},
            ],
        )

    def _add_item(self, resp: ActiveResponse, item: dict[str, Any]) -> None:
        before = self._conv.add(item)
        resp.output.append(item["id"])
        self._emit(
            "response.output_item.added",
            response_id=resp.id,
            output_index=len(resp.output) - 1,
            item=self._conv.public(item["id"]),
        )
        self._emit("conversation.item.added", item=self._conv.public(item["id"]), previous_item_id=before)

    def _done_item(self, resp: ActiveResponse, item_id: str) -> None:
        item = self._conv.public(item_id)
        index = resp.output.index(item_id)
        self._emit("response.output_item.done", response_id=resp.id, output_index=index, item=item)
        previous = list(self._conv.items)
        at = previous.index(item_id)
        self._emit("conversation.item.done", item=item, previous_item_id=previous[at - 1] if at else None)

    # -- a spoken (or text) message ---------------------------------------------------------

    def begin_message(self, resp: ActiveResponse) -> str:
        self._check(resp)
        item_id = new_id("item")
        kind = "output_audio" if resp.modality == "audio" else "output_text"
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        self._add_item(resp, item)
        self._conv.items[item_id]["content"] = [{"type": kind, kind_key(kind): ""}]
        self._conv.spoken[item_id] = Spoken()
        part = {"type": "audio", "transcript": ""} if kind == "output_audio" else {"type": "text", "text": ""}
        self._emit("response.content_part.added", **self._ids(resp, item_id), content_index=0, part=part)
        resp.open_item = item_id
        return item_id

    def text(self, resp: ActiveResponse, text: str, audio_ms: float = 0.0) -> None:
        """Transcript (or text) for the audio that follows, spanning ``audio_ms`` of it."""
        self._check(resp)
        item_id = resp.open_item
        assert item_id is not None
        spoken = self._conv.spoken[item_id]
        start = spoken.spans[-1].end_ms if spoken.spans else 0.0
        spoken.spans.append(Span(start, start + audio_ms, text))
        resp.output_text_tokens += text_tokens(text)
        kind = (
            "response.output_audio_transcript.delta"
            if resp.modality == "audio"
            else "response.output_text.delta"
        )
        self._emit(kind, **self._ids(resp, item_id), content_index=0, delta=text)

    def audio(self, resp: ActiveResponse, chunk: bytes, ms: float) -> None:
        self._check(resp)
        item_id = resp.open_item
        assert item_id is not None
        self._conv.spoken[item_id].audio_ms += ms
        resp.output_audio_ms += ms
        delta = base64.b64encode(chunk).decode()
        self._emit("response.output_audio.delta", **self._ids(resp, item_id), content_index=0, delta=delta)

    def end_message(self, resp: ActiveResponse, status: str = "completed") -> None:
        item_id = resp.open_item
        if item_id is None:
            return
        resp.open_item = None
        ids = self._ids(resp, item_id)
        transcript = self._conv.spoken[item_id].transcript()
        item = self._conv.items[item_id]
        if resp.modality == "audio":
            item["content"] = [{"type": "output_audio", "transcript": transcript}]
            self._emit("response.output_audio.done", **ids, content_index=0)
            self._emit("response.output_audio_transcript.done", **ids, content_index=0, transcript=transcript)
            part = {"type": "audio", "transcript": transcript}
        else:
            item["content"] = [{"type": "output_text", "text": transcript}]
            self._emit("response.output_text.done", **ids, content_index=0, text=transcript)
            part = {"type": "text", "text": transcript}
        self._emit("response.content_part.done", **ids, content_index=0, part=part)
        item["status"] = status
        self._done_item(resp, item_id)

    # -- a function call ---------------------------------------------------------------------

    def function_call(self, resp: ActiveResponse, name: str, arguments: dict[str, Any]) -> str:
        self._check(resp)
        item_id, call_id = new_id("item"), new_id("call")
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        self._add_item(resp, item)
        text = json.dumps(arguments)
        ids = self._ids(resp, item_id)
        for i in range(0, len(text), 16):
            self._emit(
                "response.function_call_arguments.delta", **ids, call_id=call_id, delta=text[i : i + 16]
            )
        self._emit("response.function_call_arguments.done", **ids, call_id=call_id, name=name, arguments=text)
        self._conv.items[item_id].update(arguments=text, status="completed")
        resp.output_text_tokens += text_tokens(text)
        self._done_item(resp, item_id)
        return call_id

    # -- the end -------------------------------------------------------------------------------

    def finish(
        self,
        resp: ActiveResponse,
        status: str = "completed",
        reason: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """``response.done``; a cancelled response first closes its open item as ``incomplete``."""
        if resp.done:
            raise ResponseGone(resp.id)
        if resp.open_item is not None:
            self.end_message(resp, "incomplete" if status != "completed" else "completed")
        resp.done = True
        details: dict[str, Any] | None = None
        if status != "completed":
            details = {"type": status, "reason": reason, **({"error": error} if error else {})}
        self._emit("response.done", response=resp.shape(status, self._conv, details))


def kind_key(kind: str) -> str:
    return "transcript" if kind == "output_audio" else "text"
