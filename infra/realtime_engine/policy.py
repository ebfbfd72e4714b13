"""The dialogue policy: the engine's deterministic, generic stand-in for the model.

Pure: ``decide(state, items, tools, instructions, today)`` → ``Plan`` (what to say, which
functions to call); ``replayed_state`` rebuilds the state from a conversation handed over by the
client, as a model would read it. Its state (the pending tool, the arguments collected so far, whether a
read-back awaits a yes) lives in ``PolicyState`` in the session. The rules, in order:

1. ``Say exactly: "<line>"`` in the response's instructions → say the line, nothing else.
2. After a ``function_call_output``: its ``say`` verbatim; its ``error`` / ``ok: false`` → an
   apology with the reason, then ask again; otherwise a short sentence from its fields.
3. A real person / human / operator → the ``escalat*`` or ``transfer*`` tool; goodbye / that's
   all → the ``end_call`` or ``hang_up`` tool. That response only calls the tool: the one spoken
   line comes after its output (its ``say``, or a short goodbye / hand-over line without one),
   as the real model says goodbye once.
4. A read-back is pending: yes → call with ``confirmed: true``; no or a correction →
   re-collect and read back again.
5. Otherwise pick a tool by keyword overlap with its name, description and parameter names
   (the pending tool wins when the caller supplied its arguments), fill arguments from the
   words, ask for the first missing one, read back before a tool with ``confirmed``.
6. A bare yes/no with nothing pending → the tool with exactly one required boolean (not one
   already called: "okay, thanks" after the consent is recorded records nothing again).
7. Nothing matches → a short refusal naming what the tools can do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from infra.realtime_engine import phrasing, spoken
from infra.realtime_engine.args import Tool, extract, stated_text, yes_no
from infra.realtime_engine.conversation import text_of

_END = ("end_call", "hang_up")
_HAND_OVER = ("escalat", "transfer")
# A tool that ends the call without a line of its own gets this: short, so the caller hears the
# hang-up within the 1.5 s budget after their goodbye (tests/infra/test_goodbyes.py times it).
GOODBYE = "Goodbye!"
_SAY_EXACTLY = re.compile(r"say exactly:\s*[\"“](.+?)[\"”]", re.IGNORECASE | re.DOTALL)
_HUMAN = (
    "real person",
    "human",
    "operator",
    "speak to someone",
    "talk to someone",
    "representative",
    "a person",
    "transfer me",
    "someone real",
    "live agent",
)
_GOODBYE = (
    "bye",
    "goodbye",
    "that's all",
    "that is all",
    "that's it",
    "nothing else",
    "hang up",
    "end the call",
    "thats all",
)
_STOP = set(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "for",
        "is",
        "are",
        "was",
        "be",
        "my",
        "i",
        "me",
        "you",
        "your",
        "we",
        "our",
        "it",
        "its",
        "this",
        "that",
        "on",
        "in",
        "at",
        "and",
        "or",
        "with",
        "about",
        "what",
        "what's",
        "whats",
        "please",
        "can",
        "could",
        "would",
        "like",
        "want",
        "need",
        "do",
        "does",
        "did",
        "have",
        "has",
        "get",
        "got",
        "just",
        "so",
        "um",
        "uh",
        "there",
        "their",
        "them",
        "some",
        "any",
        "how",
        "when",
        "where",
        "which",
        "who",
        "will",
        "shall",
        "may",
        "might",
        "tell",
        "give",
        "know",
        "check",
        "let",
        "hi",
        "hello",
        "yes",
        "no",
        "ok",
        "okay",
        "thanks",
        "thank",
        "call",
        "calling",
    ]
)


@dataclass
class Plan:
    say: str | None = None
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    read_back: bool = False  # a yes/no question about the pending arguments
    asked: str | None = None  # the argument the plan asks for
    verbatim: bool = False  # a line the client dictated (``Say exactly``): not the policy's own move


@dataclass
class PolicyState:
    pending: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    awaiting_confirmation: bool = False
    asked: str | None = None

    def after_response(self, plan: Plan) -> None:
        """What a *completed* response changes (a cancelled one was never heard). A dictated line
        (the disclosure, a line said again after a reconnect) changes nothing: a read-back said
        again still awaits its yes."""
        if plan.verbatim:
            return
        self.awaiting_confirmation = plan.read_back
        self.asked = plan.asked
        if plan.calls and any(name == self.pending for name, _ in plan.calls):
            self.pending, self.args = None, {}


def decide(
    state: PolicyState,
    items: list[dict[str, Any]],
    tool_specs: list[dict[str, Any]],
    instructions: str = "",
    today: date | None = None,
) -> Plan:
    today = today or date.today()
    if (m := _SAY_EXACTLY.search(instructions or "")) is not None:
        return Plan(say=m.group(1).strip(), verbatim=True)
    tools = [Tool.from_spec(t) for t in tool_specs if t.get("type", "function") == "function"]
    fresh = _new_inputs(items)
    outputs = [i for i in fresh if i.get("type") == "function_call_output"]
    if outputs:
        return _after_output(state, outputs[-1], items, tools)
    said = [i for i in fresh if i.get("type") == "message" and i.get("role") == "user"]
    if not said:
        return Plan(say=phrasing.greeting(tools))
    text = " ".join(text_of(i) for i in said).strip()
    if not text:
        return Plan(
            say="Sorry, I didn't catch that. Could you say that again?",
            asked=state.asked,
            read_back=state.awaiting_confirmation,
        )
    called = {str(i.get("name")) for i in items if i.get("type") == "function_call"}
    return _on_words(state, text, tools, today, called)


def replayed_state(
    items: list[dict[str, Any]], tool_specs: list[dict[str, Any]], today: date | None = None
) -> PolicyState:
    """The policy's state after a conversation the client handed over (a reconnect's replay): the
    rules run again over each answer in it, as a model conditions on the whole conversation, so a
    booking half collected on the old session goes on where it was on the new one."""
    state = PolicyState()
    for j, item in enumerate(items):
        answered = item.get("type") == "function_call" or (
            item.get("type") == "message" and item.get("role") == "assistant"
        )
        previous = items[j - 1] if j else {}
        if answered and (previous.get("role") == "user" or previous.get("type") == "function_call_output"):
            state.after_response(decide(state, items[:j], tool_specs, "", today))
    return state


def _new_inputs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items since the model last produced something (the input this response answers)."""
    fresh: list[dict[str, Any]] = []
    for item in reversed(items):
        if item.get("type") == "function_call" or (
            item.get("type") == "message" and item.get("role") == "assistant"
        ):
            break
        fresh.append(item)
    return list(reversed(fresh))


def _find(tools: list[Tool], *fragments: str) -> Tool | None:
    return next((t for t in tools if any(f in t.name.lower() for f in fragments)), None)


def _on_words(state: PolicyState, text: str, tools: list[Tool], today: date, called: set[str]) -> Plan:
    lowered = spoken.normalise(text)
    words = lowered.split()
    if any(h in lowered for h in _HUMAN) and (tool := _find(tools, *_HAND_OVER)):
        return _meta_call(tool, text)
    if (any(g in lowered for g in _GOODBYE) or "bye" in words) and (tool := _find(tools, *_END)):
        return _meta_call(tool, text)
    pending = next((t for t in tools if t.name == state.pending), None)
    if pending is not None and state.awaiting_confirmation:
        return _on_read_back(state, pending, text, today)
    answer = yes_no(text)
    if pending is not None:
        new = extract(pending, text, state.asked, today)
        best, score = _best_tool(text, tools)
        if new or best is None or best is pending or score <= _score(text, pending):
            state.args.update(new)
            return _advance(state, pending)
    best, _ = _best_tool(text, tools)
    if best is None and answer is not None:
        best = next((t for t in tools if t.single_boolean is not None and t.name not in called), None)
    if best is None:
        return Plan(say=phrasing.refusal(tools))
    if best.single_boolean is not None and answer is not None:
        return Plan(calls=[(best.name, {best.single_boolean.name: answer})])
    state.pending, state.args = best.name, extract(best, text, None, today)
    state.args.update(stated_text(best, text, today))  # what the caller already said is not asked again
    return _advance(state, best)


def _advance(state: PolicyState, tool: Tool) -> Plan:
    """Ask for what is missing, read back if the tool wants confirmation, or call it."""
    missing = tool.missing(state.args)
    if missing:
        return Plan(say=phrasing.ask(missing[0]), asked=missing[0].name)
    if tool.needs_confirmation:
        return Plan(say=phrasing.read_back(tool, state.args), read_back=True)
    return Plan(calls=[(tool.name, dict(state.args))])


def _on_read_back(state: PolicyState, tool: Tool, text: str, today: date) -> Plan:
    corrected = extract(tool, text, state.asked, today)
    answer = yes_no(text)
    if answer is True and not corrected:
        return Plan(calls=[(tool.name, {**state.args, "confirmed": True})])
    if corrected:
        state.args.update(corrected)
        return _advance(state, tool)
    # A plain "no": collect the read-back values again, starting with the first.
    first = next((p for p in tool.params if p.required and p.name != "confirmed"), None)
    if first is None:
        return Plan(calls=[(tool.name, {**state.args, "confirmed": answer is not False})])
    state.args.pop(first.name, None)
    return Plan(say="Sorry about that. " + phrasing.ask(first), asked=first.name)


def _meta_call(tool: Tool, text: str) -> Plan:
    """End or hand over the call: the function call alone (the line is spoken after its output)."""
    args: dict[str, Any] = {}
    for p in tool.params:
        if not p.required:
            continue
        if p.kind == "boolean":
            args[p.name] = True
        elif p.kind == "enum":
            args[p.name] = (p.schema.get("enum") or [""])[0]
        elif p.kind == "integer":
            args[p.name] = 0
        else:
            args[p.name] = text
    return Plan(calls=[(tool.name, args)])


def _stems(text: str) -> list[str]:
    out = []
    for w in re.findall(r"[a-z]+", text.lower().replace("_", " ")):
        if w in _STOP or len(w) < 3:
            continue
        out.append(re.sub(r"(ing|ed|es|s)$", "", w) if len(w) > 5 else w)
    return out


def _match(a: str, b: str) -> bool:
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def _score(text: str, tool: Tool) -> float:
    said = _stems(text)
    strong = set(_stems(tool.name + " " + tool.description))
    weak = set(_stems(" ".join(p.name + " " + p.described for p in tool.params)))
    score = 0.0
    for w in set(said):
        if any(_match(w, s) for s in strong):
            score += 1.0
        elif any(_match(w, s) for s in weak):
            score += 0.5
    return score


def _best_tool(text: str, tools: list[Tool]) -> tuple[Tool | None, float]:
    best, best_score = None, 0.0
    for tool in tools:
        score = _score(text, tool)
        if score > best_score:
            best, best_score = tool, score
    return (best, best_score) if best_score >= 1.0 else (None, 0.0)


def _after_output(
    state: PolicyState, output: dict[str, Any], items: list[dict[str, Any]], tools: list[Tool]
) -> Plan:
    call = next(
        (
            i
            for i in reversed(items)
            if i.get("type") == "function_call" and i.get("call_id") == output.get("call_id")
        ),
        None,
    )
    tool = next((t for t in tools if call is not None and t.name == call.get("name")), None)
    try:
        result = json.loads(output.get("output") or "null")
    except ValueError:
        result = output.get("output")
    if isinstance(result, dict) and isinstance(result.get("say"), str):
        return Plan(say=result["say"])
    failed = isinstance(result, dict) and (result.get("error") or result.get("ok") is False)
    if failed and isinstance(result, dict):
        reason = str(result.get("error") or result.get("message") or "something went wrong")
        if tool is not None and tool.params:
            state.pending, state.args = tool.name, {}
            first = next((p for p in tool.params if p.required and p.name != "confirmed"), None)
            if first is not None:
                return Plan(
                    say=f"Sorry, I couldn't do that: {reason}. " + phrasing.ask(first), asked=first.name
                )
        return Plan(say=f"Sorry, I couldn't do that: {reason}. Would you like to try again?")
    if tool is not None and any(f in tool.name.lower() for f in _END):
        return Plan(say=GOODBYE)
    if tool is not None and any(f in tool.name.lower() for f in _HAND_OVER):
        return Plan(say="Of course, let me connect you with a person now.")
    return Plan(say=phrasing.result(result))
