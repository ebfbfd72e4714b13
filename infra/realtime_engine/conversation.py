"""The conversation: items in order, in the SDK's shapes, and what each assistant item has said.

Assistant audio is recorded as spans (start ms, end ms, text) per item, so a truncate can cut
both the audio length and the transcript to what the caller actually heard.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from infra.realtime_engine import errors
from infra.realtime_engine.ids import new_id


@dataclass
class Span:
    start_ms: float
    end_ms: float
    text: str


@dataclass
class Spoken:
    """What one assistant item has produced: audio ms and the transcript along it."""

    audio_ms: float = 0.0
    spans: list[Span] = field(default_factory=list)

    def transcript(self) -> str:
        return "".join(s.text for s in self.spans).strip()

    def truncate(self, end_ms: int) -> str:
        kept: list[Span] = []
        for span in self.spans:
            if span.end_ms <= end_ms:
                kept.append(span)
            elif span.start_ms < end_ms:
                words = span.text.split()
                share = (end_ms - span.start_ms) / max(1.0, span.end_ms - span.start_ms)
                cut = " ".join(words[: int(len(words) * share)])
                kept.append(Span(span.start_ms, end_ms, (" " + cut) if cut else ""))
        self.spans = kept
        self.audio_ms = float(end_ms)
        return self.transcript()


class Conversation:
    def __init__(self) -> None:
        self.id = new_id("conv")
        self.items: dict[str, dict[str, Any]] = {}
        self.spoken: dict[str, Spoken] = {}

    def last_id(self) -> str | None:
        return next(reversed(self.items), None)

    def add(self, item: dict[str, Any], previous_item_id: str | None = None) -> str | None:
        """Insert ``item``; returns the id of the item before it."""
        if previous_item_id is None or previous_item_id == self.last_id():
            before = self.last_id()
            self.items[item["id"]] = item
            return before
        if previous_item_id != "root" and previous_item_id not in self.items:
            raise errors.item_not_found(previous_item_id, "previous_item_id")
        ordered = list(self.items.items())
        at = 0 if previous_item_id == "root" else [k for k, _ in ordered].index(previous_item_id) + 1
        ordered.insert(at, (item["id"], item))
        self.items = dict(ordered)
        return None if previous_item_id == "root" else previous_item_id

    def get(self, item_id: str) -> dict[str, Any]:
        if item_id not in self.items:
            raise errors.item_not_found(item_id)
        return self.items[item_id]

    def delete(self, item_id: str) -> None:
        self.get(item_id)
        del self.items[item_id]
        self.spoken.pop(item_id, None)

    def public(self, item_id: str) -> dict[str, Any]:
        """The item as events carry it (audio bytes are never echoed)."""
        return copy.deepcopy(self.items[item_id])

    def truncate(self, item_id: str, content_index: int, audio_end_ms: int) -> None:
        item = self.get(item_id)
        if audio_end_ms < 0:
            raise errors.below_min("audio_end_ms", audio_end_ms)
        spoken = self.spoken.get(item_id)
        if item.get("role") != "assistant" or spoken is None:
            raise errors.not_truncatable()
        if content_index != 0:
            raise errors.invalid_value("content_index", "only content index 0 holds audio.")
        have = int(spoken.audio_ms)
        if audio_end_ms > have:
            raise errors.truncate_too_long(have, audio_end_ms)
        transcript = spoken.truncate(audio_end_ms)
        for part in item.get("content", []):
            if part.get("type") == "output_audio":
                part["transcript"] = transcript


def user_audio_item(item_id: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "role": "user",
        "status": "completed",
        "content": [{"type": "input_audio", "transcript": None}],
    }


def from_client(item: dict[str, Any]) -> dict[str, Any]:
    """A client-created item, completed with the server's fields."""
    out = copy.deepcopy(item)
    out.setdefault("id", new_id("item"))
    out["object"] = "realtime.item"
    out.setdefault("status", "completed")
    audio_parts = [p for p in out.get("content", []) or [] if p.get("type") == "output_audio"]
    if out.get("type") == "message" and out.get("role") == "assistant" and audio_parts:
        raise errors.invalid_value("item.role", "assistant audio items cannot be created by the client.")
    return out


def text_of(item: dict[str, Any]) -> str:
    """What a message item says, from its text parts or its transcript."""
    parts = []
    for part in item.get("content", []) or []:
        value = part.get("text") or part.get("transcript")
        if isinstance(value, str):
            parts.append(value)
    return " ".join(parts).strip()
