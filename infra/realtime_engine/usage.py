"""Token usage as the Realtime service reports it, derived from what the engine processed.

OpenAI's "Managing costs" guide for the Realtime API (developers.openai.com/api/docs/guides/
realtime-costs) says how a response is billed, and this module follows it:

- "The entire conversation is sent to the model for each Response": a response's input is the
  instructions, the tools and every item of the conversation so far, read again each time;
- "Audio tokens in user messages are 1 token per 100 ms of audio, while audio tokens in assistant
  messages are 1 token per 50ms of audio" (so the agent's speech costs 20 tokens a second as
  output, and again as input to every later response);
- "token counts include special tokens aside from the content of a message … a user message with
  10 text tokens of content may count as 12 tokens" (``ITEM_OVERHEAD``).

Cached tokens are the part of a response's input that the session's previous response read
already, unchanged and in the same order (a common prefix); an item truncated after a barge-in,
or new instructions, end the prefix there. (The real cache works in blocks and needs a minimum
prefix; the engine counts the whole common prefix, so its cached share is a little generous.)
Text is counted at about 1.3 tokens a word (English in o200k-style tokenisers), no tokeniser is
loaded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from infra.realtime_engine.conversation import Conversation

USER_AUDIO_MS_PER_TOKEN = 100
ASSISTANT_AUDIO_MS_PER_TOKEN = 50
ITEM_OVERHEAD = 2  # text tokens each message or function item adds around its content
TOKENS_PER_WORD = 1.3


def text_tokens(text: str) -> int:
    """About 1.3 tokens a word; 0 for no text."""
    return max(1, round(len(text.split()) * TOKENS_PER_WORD)) if text.strip() else 0


def audio_tokens(ms: float, ms_per_token: int) -> int:
    return int(ms / ms_per_token + 0.5) if ms > 0 else 0


@dataclass(frozen=True)
class Segment:
    """One piece of a response's input: its identity (content included) and its tokens."""

    key: str
    text: int
    audio: int = 0


@dataclass
class InputTokens:
    text: int = 0
    audio: int = 0
    cached_text: int = 0
    cached_audio: int = 0


def _digest(value: Any) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class UsageMeter:
    """One session's accounting: the length of each caller utterance, the last response's input."""

    user_audio_ms: dict[str, float] = field(default_factory=dict)
    _last: list[Segment] = field(default_factory=list)

    def heard(self, item_id: str, ms: float) -> None:
        """A committed user audio item lasts ``ms``."""
        self.user_audio_ms[item_id] = ms

    def item(self, conversation: Conversation, item_id: str, item: dict[str, Any]) -> Segment:
        kind, role = item.get("type"), item.get("role")
        text, audio = 0, 0
        if kind == "message":
            for part in item.get("content") or []:
                value = part.get("text") or part.get("transcript") or ""
                if part.get("type") == "input_audio":
                    audio += audio_tokens(self.user_audio_ms.get(item_id, 0.0), USER_AUDIO_MS_PER_TOKEN)
                    continue  # the transcript is the transcription model's, not the model's input
                text += text_tokens(value if isinstance(value, str) else "")
            spoken = conversation.spoken.get(item_id)
            if role == "assistant" and spoken is not None:
                audio += audio_tokens(spoken.audio_ms, ASSISTANT_AUDIO_MS_PER_TOKEN)
        elif kind == "function_call":
            text = text_tokens(f"{item.get('name', '')} {item.get('arguments', '')}")
        elif kind == "function_call_output":
            text = text_tokens(str(item.get("output", "")))
        text += ITEM_OVERHEAD
        return Segment(f"{item_id}:{text}:{audio}", text, audio)

    def context(self, instructions: str, tools: list[Any], conversation: Conversation) -> list[Segment]:
        """What a response reads: instructions, tools, then the conversation's items in order."""
        head = [
            Segment(f"instructions:{_digest(instructions)}", text_tokens(instructions)),
            Segment(f"tools:{_digest(tools)}", text_tokens(json.dumps(tools)) if tools else 0),
        ]
        items = [self.item(conversation, i, item) for i, item in conversation.items.items()]
        return head + items

    def input_for(self, instructions: str, tools: list[Any], conversation: Conversation) -> InputTokens:
        """The input of a response starting now; remembered as the prefix the next one may reuse."""
        segments = self.context(instructions, tools, conversation)
        out = InputTokens()
        reused = True
        for n, seg in enumerate(segments):
            reused = reused and n < len(self._last) and self._last[n].key == seg.key
            out.text += seg.text
            out.audio += seg.audio
            if reused:
                out.cached_text += seg.text
                out.cached_audio += seg.audio
        self._last = segments
        return out


def usage(inp: InputTokens, output_text: int, output_audio_ms: float) -> dict[str, Any]:
    """``response.usage`` in the GA shape (``openai.types.realtime.RealtimeResponseUsage``)."""
    out_audio = audio_tokens(output_audio_ms, ASSISTANT_AUDIO_MS_PER_TOKEN)
    total_in = inp.text + inp.audio
    return {
        "total_tokens": total_in + output_text + out_audio,
        "input_tokens": total_in,
        "output_tokens": output_text + out_audio,
        "input_token_details": {
            "text_tokens": inp.text,
            "audio_tokens": inp.audio,
            "image_tokens": 0,
            "cached_tokens": inp.cached_text + inp.cached_audio,
            "cached_tokens_details": {
                "text_tokens": inp.cached_text,
                "audio_tokens": inp.cached_audio,
                "image_tokens": 0,
            },
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": out_audio},
    }
