"""Spoken numbers, dates and times → values, from what a speech recogniser writes.

Whisper writes the same words many ways ("four one seven two", "4172", "41-72", "forty-one
seventy-two", "3 p.m.", "half past two"), so each parser accepts words and numerals alike.
Everything here is pure: text in, value out, with the engine's local date passed in.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

UNITS = {
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
ORDINAL_UNITS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
WEEKDAYS = {
    d: i for i, d in enumerate(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])
}
NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | {"hundred", "thousand", "double", "triple"}


def normalise(text: str) -> str:
    """Lower case, "p.m." → "pm", hyphens and punctuation → spaces (keeps ``:`` and ``+``)."""
    t = text.lower().replace("’", "'")
    t = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", t)
    t = re.sub(r"(\d)(am|pm)\b", r"\1 \2", t)
    t = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", t)
    t = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", t)  # "job4172" → "job 4172"
    t = re.sub(r"[^a-z0-9:'+@ ]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def is_number_token(tok: str) -> bool:
    return tok in NUMBER_WORDS or tok.isdigit()


def _group_digits(tokens: list[str]) -> str:
    """One run of number tokens → its digit string ("forty one seventy two" → "4172")."""
    out = ""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in ("double", "triple") and nxt in UNITS:
            out += str(UNITS[nxt]) * (2 if tok == "double" else 3)
            i += 2
            continue
        if tok.isdigit():
            out += tok
        elif tok in UNITS:
            if nxt == "hundred":
                value = UNITS[tok] * 100
                i += 2
                rest = tokens[i:]
                tail, used = _small_number(rest)
                out += str(value + tail)
                i += used
                continue
            if nxt == "thousand":
                value = UNITS[tok] * 1000
                i += 2
                tail, used = _small_number(tokens[i:], allow_hundred=True)
                out += str(value + tail)
                i += used
                continue
            out += str(UNITS[tok])
        elif tok in TEENS:
            out += str(TEENS[tok])
        elif tok in TENS:
            if nxt in UNITS and UNITS[nxt] > 0:
                out += str(TENS[tok] + UNITS[nxt])
                i += 2
                continue
            out += str(TENS[tok])
        i += 1
    return out


def _small_number(tokens: list[str], allow_hundred: bool = False) -> tuple[int, int]:
    """A number under 1000 at the start of ``tokens`` (after "hundred"/"thousand"): value, tokens used."""
    i = 0
    value = 0
    if i < len(tokens) and tokens[i] == "and":
        i += 1
    if allow_hundred and i + 1 < len(tokens) and tokens[i] in UNITS and tokens[i + 1] == "hundred":
        value += UNITS[tokens[i]] * 100
        i += 2
        if i < len(tokens) and tokens[i] == "and":
            i += 1
    if i < len(tokens) and tokens[i] in TEENS:
        return value + TEENS[tokens[i]], i + 1
    if i < len(tokens) and tokens[i] in TENS:
        value += TENS[tokens[i]]
        i += 1
        if i < len(tokens) and tokens[i] in UNITS and UNITS[tokens[i]] > 0:
            value += UNITS[tokens[i]]
            i += 1
        return value, i
    if i < len(tokens) and tokens[i] in UNITS and UNITS[tokens[i]] > 0:
        return value + UNITS[tokens[i]], i + 1
    return value, (i if value else 0)


# Speech-to-text writes "four" as "for" between digits ("0 for 1 2 3"); only there is it a digit.
DIGIT_HOMOPHONES = {"for": "four", "fore": "four"}


def _single_digit(tok: str) -> bool:
    return tok in UNITS or (tok.isdigit() and len(tok) == 1)


def number_groups(text: str) -> list[str]:
    """Every run of spoken or written numbers as a digit string, in order."""
    tokens = normalise(text).split()
    groups: list[str] = []
    run: list[str] = []
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in DIGIT_HOMOPHONES and run and _single_digit(run[-1]) and _single_digit(nxt):
            run.append(DIGIT_HOMOPHONES[tok])
            continue
        joins_run = tok == "and" and run and i + 1 < len(tokens) and is_number_token(tokens[i + 1])
        if is_number_token(tok) or (tok == "oh" and run) or joins_run:
            run.append(tok)
        elif run:
            groups.append(_group_digits(run))
            run = []
    if run:
        groups.append(_group_digits(run))
    return [g for g in groups if g]


def integer_value(group_text: str) -> int | None:
    """A spoken quantity ("twenty three", "4", "one hundred and five") → int."""
    groups = number_groups(group_text)
    return int(groups[0]) if groups else None


def drop_negated(text: str) -> str:
    """A correction keeps the affirmed value: "four seven, not four seven five" → "four seven,"."""
    return re.sub(r"\bnot\s+[^,.;!?]*", " ", text, flags=re.IGNORECASE)


def spell_digits(digits: str) -> str:
    """ "4172" → "four, one, seven, two" (how a read-back says it)."""
    names = {str(v): k for k, v in UNITS.items() if k != "oh"}
    return ", ".join(names.get(d, d) for d in digits if d.isdigit() or d == "+")


# -- dates --------------------------------------------------------------------------------------


def _ordinal_day(tokens: list[str], i: int) -> tuple[int, int] | None:
    """A day of month at ``tokens[i]``: (day, tokens used)."""
    tok = tokens[i]
    if tok.isdigit() and 1 <= int(tok) <= 31:
        return int(tok), 1
    if tok in ORDINAL_UNITS:
        return ORDINAL_UNITS[tok], 1
    if tok in TENS and i + 1 < len(tokens):
        nxt = tokens[i + 1]
        if nxt in ORDINAL_UNITS and ORDINAL_UNITS[nxt] < 10:
            return TENS[tok] + ORDINAL_UNITS[nxt], 2
    if tok in UNITS and UNITS[tok] > 0:
        return UNITS[tok], 1
    if tok in TEENS:
        return TEENS[tok], 1
    return None


def _future(month: int, day: int, today: date) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            return None
        if candidate >= today:
            return candidate
    return None


def parse_date(text: str, today: date) -> str | None:
    """ISO date from "tomorrow", "Monday", "the 3rd of December", "December 3"; None if absent."""
    tokens = normalise(text).split()
    joined = " ".join(tokens)
    if "day after tomorrow" in joined:
        return (today + timedelta(days=2)).isoformat()
    if "tomorrow" in tokens:
        return (today + timedelta(days=1)).isoformat()
    if "today" in tokens or "tonight" in tokens:
        return today.isoformat()
    for i, tok in enumerate(tokens):
        if tok in MONTHS and not (
            tok == "may"
            and i + 1 < len(tokens)
            and not _is_day_at(tokens, i + 1)
            and not (i >= 1 and _is_day_at(tokens, i - 1))
        ):
            month = MONTHS[tok]
            after = i + 1 + (1 if i + 1 < len(tokens) and tokens[i + 1] == "the" else 0)
            if after < len(tokens) and (found := _ordinal_day(tokens, after)):
                return _iso(_future(month, found[0], today))
            back = i - 1 - (1 if i >= 1 and tokens[i - 1] == "of" else 0)
            for start in (back - 1, back):
                if start >= 0 and (found := _ordinal_day(tokens, start)) and start + found[1] - 1 == back:
                    return _iso(_future(month, found[0], today))
    for tok in tokens:
        if tok in WEEKDAYS:
            ahead = (WEEKDAYS[tok] - today.weekday()) % 7 or 7
            return (today + timedelta(days=ahead)).isoformat()
    return None


def _is_day_at(tokens: list[str], i: int) -> bool:
    return 0 <= i < len(tokens) and (_ordinal_day(tokens, i) is not None or tokens[i] == "the")


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


# -- times --------------------------------------------------------------------------------------

_HOUR_WORDS = {**{k: v for k, v in UNITS.items() if v}, "ten": 10, "eleven": 11, "twelve": 12}


def _hour(tok: str) -> int | None:
    if tok.isdigit() and 0 <= int(tok) <= 23:
        return int(tok)
    return _HOUR_WORDS.get(tok)


def _clock(hour: int, minute: int, meridiem: str | None) -> str:
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    elif meridiem is None and 1 <= hour <= 7:
        hour += 12  # business hours: "at three" means the afternoon
    return f"{hour:02d}:{minute:02d}"


def _meridiem(tokens: list[str], i: int) -> str | None:
    rest = " ".join(tokens[i : i + 4])
    if rest.startswith(("am", "in the morning")):
        return "am"
    if rest.startswith(("pm", "in the afternoon", "in the evening", "tonight")):
        return "pm"
    return None


def parse_time(text: str) -> str | None:
    """ "HH:MM" from "3 pm", "10:30", "half past two", "three thirty", "noon"; None if absent."""
    tokens = normalise(text).split()
    for tok in tokens:
        if tok in ("noon", "midday"):
            return "12:00"
        if tok == "midnight":
            return "00:00"
    for i, tok in enumerate(tokens):
        if re.fullmatch(r"\d{1,2}:\d{2}", tok):
            h, m = (int(x) for x in tok.split(":"))
            return _clock(h, m, _meridiem(tokens, i + 1))
        if tok in ("half", "quarter") and i + 2 < len(tokens) and tokens[i + 1] in ("past", "to"):
            hour = _hour(tokens[i + 2])
            if hour is not None:
                minutes = 30 if tok == "half" else 15
                if tokens[i + 1] == "to":
                    hour, minutes = (hour - 1) % 24, 60 - minutes
                return _clock(hour, minutes, _meridiem(tokens, i + 3))
        hour = _hour(tok)
        if hour is None:
            continue
        j = i + 1
        if j < len(tokens) and tokens[j] in ("o'clock", "oclock"):
            return _clock(hour, 0, _meridiem(tokens, j + 1))
        minute, used = _minutes(tokens, j)
        meridiem = _meridiem(tokens, j + used)
        if meridiem is not None:
            return _clock(hour, minute, meridiem)
        if used and i >= 1 and tokens[i - 1] in ("at", "around", "about", "by"):
            return _clock(hour, minute, None)
        if i >= 1 and tokens[i - 1] == "at" and not used:
            return _clock(hour, 0, None)
    return None


def _minutes(tokens: list[str], j: int) -> tuple[int, int]:
    if j >= len(tokens):
        return 0, 0
    tok = tokens[j]
    if tok.isdigit() and len(tok) == 2 and int(tok) < 60:
        return int(tok), 1
    if tok == "oh" and j + 1 < len(tokens) and tokens[j + 1] in UNITS:
        return UNITS[tokens[j + 1]], 2
    if tok in TEENS:
        return TEENS[tok], 1
    if tok in TENS and TENS[tok] < 60:
        if j + 1 < len(tokens) and tokens[j + 1] in UNITS and UNITS[tokens[j + 1]] > 0:
            return TENS[tok] + UNITS[tokens[j + 1]], 2
        return TENS[tok], 1
    return 0, 0
