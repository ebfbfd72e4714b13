"""Tool arguments from a caller's words, by each property's JSON-schema type, format and name.

A property's *kind* (date, time, digits, phone, integer, name, email, enum, boolean, text) is
inferred from its schema; each kind has one extractor. Values already collected are kept
unless the caller says a new one, so a correction replaces and silence keeps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from infra.realtime_engine import spoken

_EXPLAINS = ("true if", "true when", "false if", "whether", "set to", "if ", "when ")
# A description may carry the question a receptionist would ask for the value, as a hint to any model
# and the words this engine speaks: 'the meeting day, as YYYY-MM-DD. Ask: "Which day suits you?"'.
_ASK = re.compile(r"\s*\bask:\s*[\"“](.+?)[\"”]\.?", re.IGNORECASE)
_DIGIT_NAMES = ("id", "number", "code", "pin", "zip", "postcode", "digits", "reference", "account", "ref")
# Yes and no as callers say them. Phrases are matched on word boundaries in the normalised text;
# affirmative idioms built from negative words ("no problem", "I don't mind") are read first and
# taken out, then any refusal wins over an affirmative ("Sure... actually, no").
_YES_IDIOMS = (
    "no problem",
    "not a problem",
    "no worries",
    "no objection",
    "no objections",
    "don't mind",
    "dont mind",
    "do not mind",
    "wouldn't mind",
    "why not",
    "not at all a problem",
)
_NO_WORDS = {"no", "nope", "nah", "wrong", "incorrect", "refuse", "decline", "never", "negative"}
_NO_PHRASES = (
    "not",  # "I'd rather not", "that's not right", "not okay"
    "don't",
    "dont",
    "do not",
    "doesn't",
    "isn't",
    "rather you didn't",
    "prefer you didn't",
    "i object",
    "please stop",
)
_YES_WORDS = {
    "yes",
    "yeah",
    "yea",
    "yep",
    "yup",
    "correct",
    "right",
    "sure",
    "absolutely",
    "ok",
    "okay",
    "alright",
    "fine",
    "affirmative",
    "consent",
    "agree",
    "agreed",
    "certainly",
    "definitely",
    "perfect",
    "exactly",
    "great",
    "mhm",
}
_YES_PHRASES = (
    "go ahead",
    "go for it",
    "that's right",
    "thats right",
    "all right",
    "i do",
    "sounds good",
    "of course",
    "you can",
    "you may",
    "please do",
    "that works",
    "by all means",
    "happy to",
    "uh huh",
    "yes please",
)
_NAME_LEADS = ("my name is", "name's", "name is", "this is", "it's", "it is", "i'm", "i am", "call me")
_NOT_NAMES = {
    "and",
    "my",
    "please",
    "i",
    "the",
    "a",
    "calling",
    "here",
    "speaking",
    "looking",
    "trying",
    "just",
    "so",
    "um",
    "uh",
    "yes",
    "no",
    "sorry",
    "wondering",
    "interested",
    "good",
    "fine",
}


@dataclass
class Param:
    name: str
    schema: dict[str, Any]
    required: bool

    @property
    def kind(self) -> str:
        s, name = self.schema, self.name.lower()
        kind = s.get("type")
        if kind == "boolean":
            return "boolean"
        if s.get("enum"):
            return "enum"
        if s.get("format") == "date" or name.endswith("date") or name == "day":
            return "date"
        if s.get("format") == "time" or name.endswith("time"):
            return "time"
        if kind in ("integer", "number"):
            return "integer"
        if "phone" in name or "mobile" in name or s.get("format") == "phone":
            return "phone"
        if "email" in name or s.get("format") == "email":
            return "email"
        if "name" in name:
            return "name"
        pattern = str(s.get("pattern", ""))
        if re.fullmatch(r"\^?\\d[{+*].*\$?", pattern) or name.split("_")[-1] in _DIGIT_NAMES:
            return "digits"
        return "text"

    @property
    def question(self) -> str | None:
        """The spoken question the schema gives for this value (``Ask: "…"`` in its description)."""
        m = _ASK.search(str(self.schema.get("description") or ""))
        return m.group(1).strip() if m else None

    @property
    def described(self) -> str:
        """The schema's description without its question."""
        return _ASK.sub("", str(self.schema.get("description") or "")).strip()

    @property
    def label(self) -> str:
        """How the engine names the value out loud ("the job number")."""
        text = self.described.rstrip(".")
        if not text or text.lower().startswith(_EXPLAINS):  # "true if the caller agreed…" is no name
            text = self.name.replace("_", " ")
        first = text.split(",")[0].split(";")[0].split(" (")[0]
        return first[0].lower() + first[1:] if first[:2] != first[:2].upper() else first


@dataclass
class Tool:
    name: str
    description: str
    params: list[Param] = field(default_factory=list)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Tool:
        schema = spec.get("parameters") or {}
        required = set(schema.get("required") or [])
        props = schema.get("properties") or {}
        params = [Param(n, s if isinstance(s, dict) else {}, n in required) for n, s in props.items()]
        return cls(str(spec.get("name", "")), str(spec.get("description") or ""), params)

    @property
    def needs_confirmation(self) -> bool:
        return any(p.name == "confirmed" and p.kind == "boolean" for p in self.params)

    def missing(self, args: dict[str, Any]) -> list[Param]:
        return [p for p in self.params if p.required and p.name != "confirmed" and p.name not in args]

    @property
    def single_boolean(self) -> Param | None:
        req = [p for p in self.params if p.required]
        return req[0] if len(req) == 1 and req[0].kind == "boolean" and req[0].name != "confirmed" else None


def _has(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z']){re.escape(phrase)}(?![a-z'])", text) is not None


def yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the caller said neither.

    "That's fine", "sure", "go ahead", "you can record", "no problem", "of course" are yes;
    "no", "I'd rather not", "don't record", "I don't want this recorded" are no.
    """
    t = spoken.normalise(text)
    affirmed = False
    for idiom in _YES_IDIOMS:
        if _has(t, idiom):
            affirmed = True
            t = re.sub(rf"(?<![a-z']){re.escape(idiom)}(?![a-z'])", " ", t)
    words = set(t.split())
    if words & _NO_WORDS or any(_has(t, p) for p in _NO_PHRASES):
        return False
    if affirmed or words & _YES_WORDS or any(_has(t, p) for p in _YES_PHRASES):
        return True
    return None


def name_in(text: str, asked: bool) -> str | None:
    """A person's name: after "my name is / it's / I'm", or the whole short answer when asked."""
    lower = text.lower()
    for lead in _NAME_LEADS:
        at = lower.find(lead)
        if at >= 0:
            found = _name_words(text[at + len(lead) :])
            if found:
                return found
    if asked:
        return _name_words(text, limit=3)
    # A recogniser capitalises names: two or more capitalised words mid-sentence ("for Jane Citizen").
    calendar = set(spoken.MONTHS) | set(spoken.WEEKDAYS)
    for m in re.finditer(r"(?<=[a-z,] )([A-Z][a-z'\-]+(?: [A-Z][a-z'\-]+)+)", text):
        parts = [w for w in m.group(1).split() if w.lower() not in calendar]
        if len(parts) >= 2:
            return " ".join(parts[:3])
    return None


def _name_words(text: str, limit: int = 3) -> str | None:
    words = re.findall(r"[A-Za-z][A-Za-z'\-]*", text)
    picked: list[str] = []
    for w in words:
        if w.lower() in _NOT_NAMES or spoken.is_number_token(w.lower()):
            if picked:
                break
            continue
        picked.append(w[0].upper() + w[1:])
        if len(picked) == limit:
            break
    return " ".join(picked) or None


def email_in(text: str) -> str | None:
    t = spoken.normalise(text).replace(" at ", "@").replace(" dot ", ".")
    m = re.search(r"[a-z0-9._+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)+", t.replace(" .", ".").replace(". ", "."))
    return m.group(0) if m else None


def enum_in(text: str, values: list[Any]) -> Any | None:
    words = spoken.normalise(text).split()
    best, best_len = None, 0
    for value in values:
        parts = re.split(r"[_\-\s]+", str(value).lower())
        if all(any(w.startswith(p[:5]) for w in words) for p in parts if p) and len(parts) > best_len:
            best, best_len = value, len(parts)
    return best


def extract(tool: Tool, text: str, asked: str | None, today: date) -> dict[str, Any]:
    """Values for ``tool``'s properties that ``text`` states (``asked`` = the one just asked for)."""
    found: dict[str, Any] = {}
    affirmed = spoken.drop_negated(text)
    groups = spoken.number_groups(_without_clock(affirmed))
    by_kind: dict[str, list[Param]] = {}
    for p in tool.params:
        if p.name != "confirmed":
            by_kind.setdefault(p.kind, []).append(p)
    for p in by_kind.get("date", []):
        if (value := spoken.parse_date(affirmed, today)) is not None:
            found[p.name] = value
    for p in by_kind.get("time", []):
        value = spoken.parse_time(affirmed)
        if value is None and asked == p.name:
            value = spoken.parse_time("at " + affirmed)
        if value is not None:
            found[p.name] = value
    for p in by_kind.get("enum", []):
        if (value := enum_in(affirmed, list(p.schema.get("enum") or []))) is not None:
            found[p.name] = value
    for p in by_kind.get("name", []):
        if (value := name_in(affirmed, asked == p.name)) is not None:
            found[p.name] = value
    for p in by_kind.get("email", []):
        if (value := email_in(affirmed)) is not None:
            found[p.name] = value
    _numbers(by_kind, groups, affirmed, asked, found)
    for p in by_kind.get("boolean", []):
        said = yes_no(text)
        mentioned = any(w in spoken.normalise(text) for w in p.name.lower().split("_") if len(w) > 3)
        if said is not None and (asked == p.name or tool.single_boolean is p):
            found[p.name] = said
        elif mentioned:
            found[p.name] = said is not False
    for p in by_kind.get("text", []):
        if asked == p.name and text.strip():
            found[p.name] = text.strip()
    return found


# What people put before the thing itself: "I want solar panels" states "solar panels".
_LEAD_IN = re.compile(
    r"^(?:(?:so|well|um|uh|yeah|yes|hi|hello|oh|and|but|please|look)\s+)*"
    r"(?:(?:i|we)(?:'d| would)? (?:like|love|want|need|am after|'m after|am looking for|'m looking for"
    r"|am interested in|'m interested in|am calling about|'m calling about|was wondering about)"
    r"(?: to (?:get|have|ask about|talk about))?|(?:can|could) you (?:help (?:me )?with|do))\s+",
    re.IGNORECASE,
)
_CLAUSES = re.compile(r"[,;.!?]+|\s+(?:and|but)\s+", re.IGNORECASE)


def stated_text(tool: Tool, text: str, today: date) -> dict[str, str]:
    """Free-text values the caller stated before being asked, in the words that chose ``tool``.

    Clauses that give another value ("start this month"), or only ask for the tool ("open a
    ticket", "add a note to job 4172"), are not the value; a clause that names the property
    ("the other party is Acme Holdings") gives what follows its verb; otherwise the longest
    remaining clause, without its lead-in ("I want …"), goes to the first required text property.
    """
    wanted = [p for p in tool.params if p.kind == "text" and p.required]
    if not wanted:
        return {}
    tool_words = {w for w in re.split(r"[_\s]+", tool.name.lower()) if len(w) > 3}
    found: dict[str, str] = {}
    left: list[str] = []
    for clause in (c.strip() for c in _CLAUSES.split(text)):
        words = spoken.normalise(clause).split()
        if len(words) < 2 or (yes_no(clause) is not None and len(words) < 4):
            continue
        gives = extract(tool, clause, None, today)
        if any(p.required and p.name in gives for p in tool.params) or any(
            w.rstrip("s") in tool_words for w in words
        ):
            continue
        named = next((p for p in wanted if p.name not in found and _names(p, words)), None)
        if named is not None:
            m = re.search(r"\b(?:is|are|was|were|called|named)\s+(.+)$", clause, re.IGNORECASE)
            if m:
                found[named.name] = m.group(1).strip()
            continue
        left.append(_LEAD_IN.sub("", clause).strip())
    first = next((p for p in wanted if p.name not in found), None)
    said = max(left, key=lambda c: len(c.split()), default="")  # "I need a lawyer, I was arrested …"
    if first is not None and len(said.split()) >= 2:
        found[first.name] = said
    return found


def _names(p: Param, words: list[str]) -> bool:
    keys = [k for k in p.name.lower().split("_") if len(k) > 2]
    return bool(keys) and all(k in words for k in keys)


def _without_clock(text: str) -> str:
    """Text minus clock times and dates' day numbers, so "at 3 pm" is not a job number."""
    t = spoken.normalise(text)
    t = re.sub(r"\b\d{1,2}:\d{2}\b", " ", t)
    t = re.sub(r"\b(\w+) (am|pm)\b", " ", t)
    t = re.sub(r"\b(half|quarter) (past|to) \w+", " ", t)
    months = "|".join(spoken.MONTHS)
    t = re.sub(rf"\b(the )?(\w+ )?(\w+ )(of )?({months})\b", " ", t)
    t = re.sub(rf"\b({months}) (the )?\w+( \w+)?", " ", t)
    return t


def _numbers(
    by_kind: dict[str, list[Param]], groups: list[str], text: str, asked: str | None, found: dict[str, Any]
) -> None:
    numeric = by_kind.get("digits", []) + by_kind.get("phone", []) + by_kind.get("integer", [])
    if not groups or not numeric:
        return
    words = spoken.normalise(text).split()
    remaining = list(groups)
    # A group right after a word of the property's name belongs to it ("pin one two three four").
    for p in numeric:
        keys = [k for k in p.name.lower().split("_") if k not in ("number", "id") and len(k) > 2]
        for key in keys:
            if key in words and remaining:
                found[p.name] = _value(p, remaining.pop(0), text)
                break
    order = sorted(
        (p for p in numeric if p.name not in found), key=lambda p: (p.name != asked, not p.required)
    )
    for p in order:
        if not remaining:
            break
        pick = max(remaining, key=len) if p.kind in ("digits", "phone") else remaining[0]
        remaining.remove(pick)
        found[p.name] = _value(p, pick, text)


def _value(p: Param, digits: str, text: str) -> Any:
    if p.kind == "integer":
        return int(digits) if p.schema.get("type") == "integer" else float(digits)
    if p.kind == "phone" and ("plus" in spoken.normalise(text).split() or "+" in text):
        return "+" + digits
    return digits
