"""A Realtime session is disposable: what a new one needs to carry the call on, and when to retry.

The conversation keeps a :class:`ConversationLog` of what was said and done, in the GA item shapes:
the caller's and the agent's turns as messages, each tool call as a ``function_call`` with its
``function_call_output``, a supervisor's whisper as a system message. A new session (after a drop,
at ``session_expired``, or a planned rollover before the cap) gets, before it hears any audio:

1. a system note that the call is continuing (no new greeting, no second disclosure; consent and
   the tools already done, by name);
2. a summary of items older than the last ``max_items``, as one system message;
3. the last ``max_items`` items themselves, function calls with their outputs, so the model knows
   what is booked, confirmed or refused, and a call still running gets its output later.

Pure and synchronous: the runner in ``conversation.py`` sends what :meth:`ConversationLog.replay`
returns and decides when.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from switchboard.messages import ResumeContext
from switchboard.models import Speaker, ToolCall, ToolResult, Turn
from voice.realtime import RealtimeClosed, RealtimeConnectError, RealtimeError, RealtimeFatalError

__all__ = ["ConversationLog", "backoff_s", "reconnectable"]

SUMMARY_CHARS = 1500
RECORD_CONSENT = "record_consent"


def reconnectable(exc: RealtimeError) -> bool:
    """A failure a new session can get past: the socket went (dropped, closed 1001/1011), the
    session hit its cap, or a connect attempt failed. Not a refused key or a protocol retirement,
    which every new session would meet again."""
    if isinstance(exc, RealtimeClosed | RealtimeConnectError):
        return True
    return isinstance(exc, RealtimeFatalError) and exc.code == "session_expired"


def backoff_s(
    attempt: int, *, base_s: float = 0.25, cap_s: float = 2.0, rng: random.Random | None = None
) -> float:
    """Wait before attempt ``attempt`` (1-based): none before the first, then exponential with
    ±25 % jitter (so many calls dropped at once do not all come back at the same instant)."""
    if attempt <= 1:
        return 0.0
    wait = min(cap_s, base_s * 2 ** (attempt - 2))
    return wait * (0.75 + 0.5 * (rng or random).random())


def _message(role: str, text: str) -> dict[str, Any]:
    kind = {"user": "input_text", "system": "input_text", "assistant": "output_text"}[role]
    return {"type": "message", "role": role, "content": [{"type": kind, "text": text}]}


@dataclass
class ConversationLog:
    """What a new Realtime session must know of the call so far."""

    max_items: int = 40
    items: list[dict[str, Any]] = field(default_factory=list)
    results: dict[str, ToolResult] = field(default_factory=dict)
    calls: dict[str, ToolCall] = field(default_factory=dict)

    def turn(self, turn: Turn) -> None:
        if turn.text.startswith("[keypad"):
            return
        role = "user" if turn.speaker == Speaker.CALLER else "assistant"
        self.items.append(_message(role, turn.text))

    def tool_call(self, call: ToolCall) -> None:
        if call.call_id in self.calls:
            return
        self.calls[call.call_id] = call
        self.items.append(
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
        )

    def tool_result(self, result: ToolResult) -> None:
        self.results[result.call_id] = result
        output = result.output if result.ok else {"error": result.error or "the tool failed"}
        self.items.append(
            {"type": "function_call_output", "call_id": result.call_id, "output": json.dumps(output)}
        )

    def system(self, text: str) -> None:
        self.items.append(_message("system", text))

    @classmethod
    def from_resume(cls, resume: ResumeContext, *, max_items: int = 40) -> ConversationLog:
        """:meth:`from_record` of what a resumed ``converse`` is given."""
        consent = resume.consent.recording if resume.consent is not None else None
        return cls.from_record(
            resume.turns,
            resume.tool_results,
            resume.result_after_turns,
            consent=consent,
            pending=resume.pending,
            max_items=max_items,
        )

    @classmethod
    def from_record(
        cls,
        turns: list[Turn],
        results: list[ToolResult],
        result_after_turns: list[int],
        *,
        consent: bool | None = None,
        pending: list[ToolCall] | None = None,
        max_items: int = 40,
    ) -> ConversationLog:
        """The log of a call resumed on another voice host, rebuilt from the workflow's record: the
        consent answer first (as the ``record_consent`` call it was), then the turns with each tool
        call and its output where the workflow heard it, then the calls still awaiting a result."""
        log = cls(max_items=max_items)
        if consent is not None:
            answer = ToolResult(call_id="consent", name=RECORD_CONSENT, ok=True, output={"granted": consent})
            log.tool_call(
                ToolCall(call_id=answer.call_id, name=RECORD_CONSENT, arguments={"granted": consent})
            )
            log.tool_result(answer)
        placed = [(after, i) for i, after in enumerate(result_after_turns[: len(results)])]
        placed += [(len(turns), i) for i in range(len(placed), len(results))]
        by_turn: dict[int, list[ToolResult]] = {}
        for after, i in placed:
            by_turn.setdefault(after, []).append(results[i])
        for n in range(len(turns) + 1):
            for result in by_turn.get(n, []):
                log.tool_call(ToolCall(call_id=result.call_id, name=result.name, arguments=result.arguments))
                log.tool_result(result)
            if n < len(turns):
                log.turn(turns[n])
        for call in pending or []:
            log.tool_call(call)
        return log

    @property
    def in_flight(self) -> list[str]:
        """Tool calls requested and not yet answered (their output goes to the next session)."""
        return [c for c in self.calls if c not in self.results]

    @property
    def awaits_answer(self) -> bool:
        """The last thing in the conversation wants the agent to speak (the caller's words, a tool's
        output) and no tool is still running."""
        if not self.items or self.in_flight:
            return False
        last = self.items[-1]
        return last["type"] == "function_call_output" or last.get("role") == "user"

    @property
    def trailing_inputs(self) -> int:
        """How many items at the end await the agent's answer (the caller's words, tools' outputs)."""
        n = 0
        for item in reversed(self.items):
            if item["type"] == "function_call" or item.get("role") == "assistant":
                break
            n += 1
        return n

    def replay(self, *, hold: int = 0) -> list[dict[str, Any]]:
        """The ``conversation.item.create`` events a new session gets before any audio (without the
        last ``hold`` items: a resumed session hears them after its apology, so it answers them)."""
        items = self.items[: len(self.items) - hold]
        kept = items[-self.max_items :]
        # A kept output whose call fell outside the window would name an unknown call: keep its call.
        kept_calls = {i["call_id"] for i in kept if i["type"] == "function_call"}
        missing = [
            i for i in items[: -self.max_items or None]
            if i["type"] == "function_call" and i["call_id"] not in kept_calls
            and any(k["type"] == "function_call_output" and k["call_id"] == i["call_id"] for k in kept)
        ]  # fmt: skip
        older = items[: max(0, len(items) - self.max_items)]
        items = [_message("system", self._note())]
        if older:
            items.append(_message("system", _summary(older)))
        items += missing + kept
        return [{"type": "conversation.item.create", "item": item} for item in items]

    def _note(self) -> str:
        consent = next((r for r in self.results.values() if r.name == RECORD_CONSENT), None)
        done = sorted({r.name for r in self.results.values() if r.ok and r.name != RECORD_CONSENT})
        parts = [
            "This call is continuing after a short technical interruption of your connection. "
            "Do not greet the caller again and do not repeat the AI disclosure."
        ]
        if consent is not None:
            granted = bool(consent.ok and consent.output.get("granted", consent.arguments.get("granted")))
            parts.append(
                f"The caller already answered the recording question ({'yes' if granted else 'no'}); never ask it again."
            )
        if done:
            parts.append(f"Already done in this call, do not repeat: {', '.join(done)}.")
        return " ".join(parts)


def _summary(items: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for item in items:
        if item["type"] == "message" and item["role"] in ("user", "assistant"):
            who = "Caller" if item["role"] == "user" else "Agent"
            lines.append(f"{who}: {item['content'][0]['text']}")
        elif item["type"] == "function_call":
            lines.append(f"(tool {item['name']} called)")
    text = " ".join(lines)
    if len(text) > SUMMARY_CHARS:
        text = "…" + text[-SUMMARY_CHARS:]
    return f"Earlier in this call: {text}"
