"""The policy's sentences: questions, read-backs, refusals and results, built from tool schemas.

Short first sentences on purpose: speech is synthesised sentence by sentence, so the first
sentence's length is the time to first audio.
"""

from __future__ import annotations

import re
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
    """The question for a missing value, to the caller: the schema's own (``Ask: "…"``), else one
    made from its description in the second person, never naming the parameter as code does."""
    if param.question:
        return param.question
    label = spoken_label(param)
    if param.kind == "boolean":  # an explaining description ("true if …") names nothing: Param.label
        return f"Could you tell me yes or no: {label}?"
    if param.kind == "enum":
        values = [str(v).replace("_", " ") for v in param.schema.get("enum") or []]
        listed = ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else "".join(values)
        if _EMBEDDED_QUESTION.match(label):
            return f"Could you tell me {label}: {listed}?"
        return f"Which {_strip_article(label)} fits you best: {listed}?"
    if _EMBEDDED_QUESTION.match(label):
        return f"Could you tell me {label}?"  # "what happened"
    if re.search(r"\byou('re)?\b", label):  # "the day you want", "product you're interested in"
        return f"Could you tell me {label if label.startswith('the ') else 'the ' + label}?"
    return f"What's {label}?" if label.startswith("your ") else f"What's your {_strip_article(label)}?"


_EMBEDDED_QUESTION = re.compile(r"^(what|why|how|which|when|where|who)\b", re.IGNORECASE)
_PARTY = r"(?:the )?(?:caller|patient|customer|client|lead|person|user)"
_THIRD_PERSON = (
    (re.compile(rf"\b{_PARTY}'s\b", re.IGNORECASE), "your"),
    (re.compile(rf"\b{_PARTY} (is|was)\b", re.IGNORECASE), "you're"),
    (re.compile(rf"\b{_PARTY} has\b", re.IGNORECASE), "you have"),
    (re.compile(rf"\b{_PARTY} (\w+?)s\b", re.IGNORECASE), r"you \1"),
    (re.compile(r"\btheir\b", re.IGNORECASE), "your"),
    (re.compile(r"\bthey're\b|\bthey are\b", re.IGNORECASE), "you're"),
    (re.compile(r"\bthey\b|\bthem\b", re.IGNORECASE), "you"),
    (re.compile(rf"\b{_PARTY}\b", re.IGNORECASE), "you"),
)


def second_person(text: str) -> str:
    """A description written about the caller, said to them ("the patient's name" → "your name",
    "the day the caller wants" → "the day you want")."""
    for pattern, replacement in _THIRD_PERSON:
        text = pattern.sub(replacement, text)
    return text


def spoken_label(param: Param) -> str:
    """The value's name as the caller hears it: the description's first clause in the second person,
    or the parameter's words where the schema gives no description (``job_id`` → "job id")."""
    return second_person(param.label.replace("_", " "))


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
        f"{_strip_article(spoken_label(p))}: {say_value(p, args[p.name])}"
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
