"""The policy's sentences: questions, read-backs, refusals and results, built from tool schemas.

Short first sentences on purpose: speech is synthesised sentence by sentence, so the first
sentence's length is the time to first audio.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from infra.realtime_engine import spoken

if TYPE_CHECKING:
    from infra.realtime_engine.args import Param, Tool

_META = ("end_call", "hang_up", "escalat", "transfer")


def _capabilities(tools: list[Tool]) -> list[str]:
    out = []
    for tool in tools:
        if any(m in tool.name.lower() for m in _META) or tool.single_boolean is not None:
            continue
        text = (tool.description or tool.name.replace("_", " ")).strip().rstrip(".")
        out.append(text[0].lower() + text[1:] if text else text)
    return out[:3]


def greeting(tools: list[Tool]) -> str:
    return "Hello! How can I help you today?"


def refusal(tools: list[Tool]) -> str:
    can = _capabilities(tools)
    if not can:
        return "Sorry, I can't help with that."
    listed = can[0] if len(can) == 1 else ", ".join(can[:-1]) + " or " + can[-1]
    return (
        f"Sorry, I can't help with that. I can {listed}."
        if _is_verb_phrase(can[0])
        else (f"Sorry, I can't help with that. I can help with: {listed}.")
    )


def _is_verb_phrase(text: str) -> bool:
    first = text.split()[0] if text.split() else ""
    return first in {
        "look",
        "check",
        "book",
        "cancel",
        "record",
        "take",
        "get",
        "find",
        "schedule",
        "update",
        "create",
        "send",
        "report",
        "reschedule",
        "confirm",
        "open",
        "log",
        "add",
        "change",
    }


def ask(param: Param) -> str:
    if param.kind == "boolean":
        return "Is that a yes or a no?"
    return f"What's the {_strip_article(param.label)}?"


def _strip_article(label: str) -> str:
    for article in ("the ", "a ", "an ", "your "):
        if label.lower().startswith(article):
            return label[len(article) :]
    return label


def say_value(param: Param, value: Any) -> str:
    kind = param.kind
    if kind in ("digits", "phone") or (kind == "text" and isinstance(value, str) and value.isdigit()):
        return spoken.spell_digits(str(value))
    if kind == "date":
        try:
            d = date.fromisoformat(str(value))
            return f"{d.strftime('%A')}, {d.strftime('%B')} {d.day}"
        except ValueError:
            return str(value)
    if kind == "time":
        try:
            hour, minute = (int(x) for x in str(value).split(":"))
        except ValueError:
            return str(value)
        suffix = "AM" if hour < 12 else "PM"
        h12 = hour % 12 or 12
        return f"{h12}:{minute:02d} {suffix}" if minute else f"{h12} {suffix}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def read_back(tool: Tool, args: dict[str, Any]) -> str:
    parts = [
        f"{_strip_article(p.label)}: {say_value(p, args[p.name])}"
        for p in tool.params
        if p.name in args and p.name != "confirmed"
    ]
    return "Let me read that back. " + "; ".join(parts) + ". Is that right?"


def result(value: Any) -> str:
    if not isinstance(value, dict):
        return "Done. Is there anything else I can help with?" if value in (None, "") else f"Done: {value}."
    facts = []
    for key, item in value.items():
        if key in ("ok", "id", "call_id") or isinstance(item, (dict, list)) or item is None:
            continue
        facts.append(f"the {key.replace('_', ' ')} is {item}")
        if len(facts) == 4:
            break
    if not facts:
        return "Done. Is there anything else I can help with?"
    text = ", ".join(facts)
    return f"{text[0].upper()}{text[1:]}. Is there anything else I can help with?"
