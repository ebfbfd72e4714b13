"""Per-connection timing profile, session cap and fault injection.

A connection's options come from three places, each overriding the one before:

1. the environment, ``SWITCHBOARD_ENGINE_<NAME>`` (engine-wide defaults);
2. the URL's query string (``/v1/realtime?model=gpt-realtime&…``), per connection;
3. a plan armed on the control route (``POST /control/arm?…``, see ``armory``), taken by the
   next connections the engine accepts, whatever their URL. This is how a test gives one call
   (or one reconnect) a fault while every connection uses the same Realtime URL.

Options (the same names in all three places):

- ``latency_ms`` (default 350): the earliest first audio (or function call) after a response
  starts, i.e. after ``speech_stopped``. The engine waits only what its own work did not
  already take; ``0`` adds nothing. The real service answers in roughly 300–450 ms.
- ``lead_ms`` (default 250): how far ahead of real time output audio is sent.
- ``chunk_ms`` (default 50): audio per ``response.output_audio.delta`` (10–200).
- ``max_session_s`` (default 3600, OpenAI's 60 minutes; 1–86400): the session cap. When a
  session has lived this long after ``session.created`` the engine sends OpenAI's ``error``
  event (``invalid_request_error`` / ``session_expired``, "Your session hit the maximum duration
  of 60 minutes.") and closes with 1001 (going away) and that sentence as the reason, as the
  real service does. ``session.created`` carries the matching ``expires_at``.
- ``fault``: comma-separated faults, e.g. ``fault=drop_after:40,delay:200``:

  - ``drop_after:N`` aborts the TCP connection (no close frame) after N server events;
  - ``drop_at_ms:MS`` aborts it MS milliseconds after ``session.created`` was sent (to drop
    while the agent speaks or a tool call is out, whatever the event count);
  - ``error_after:N`` sends one ``server_error`` event after N server events (the session lives on);
  - ``close_after:N`` closes cleanly with code 1011 after N server events;
  - ``close_at_ms:MS`` closes with 1011 MS milliseconds after ``session.created`` was sent;
  - ``delay:MS`` adds MS before every response's first output;
  - ``drop_on:TYPE:N`` aborts it right after the N-th server event of type TYPE, to drop at a
    moment of the conversation: ``input_audio_buffer.speech_started:2`` (the caller's second
    utterance has begun), ``response.output_audio.delta:30`` (the agent is speaking),
    ``response.function_call_arguments.done:1`` (a tool call is out).

An abort is ``transport.abort()``: the socket is closed with no websocket close frame, so the
client sees 1006 with nothing received, like a network loss.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.realtime_engine import errors

DEFAULT_MAX_SESSION_S = 3600  # OpenAI's cap on a Realtime session: 60 minutes


@dataclass(frozen=True)
class Options:
    latency_ms: int = 350
    lead_ms: int = 250
    chunk_ms: int = 50
    max_session_s: int = DEFAULT_MAX_SESSION_S
    drop_after: int | None = None
    drop_at_ms: int | None = None
    error_after: int | None = None
    close_after: int | None = None
    close_at_ms: int | None = None
    delay_ms: int = 0
    drop_on: tuple[str, int] | None = None


# name → (low, high) for the plain numeric options
KNOBS: dict[str, tuple[int, int]] = {
    "latency_ms": (0, 10000),
    "lead_ms": (0, 5000),
    "chunk_ms": (10, 200),
    "max_session_s": (1, 86400),
}
# fault kind → the ``Options`` field it sets
FAULTS: dict[str, str] = {
    "drop_after": "drop_after",
    "drop_at_ms": "drop_at_ms",
    "error_after": "error_after",
    "close_after": "close_after",
    "close_at_ms": "close_at_ms",
    "delay": "delay_ms",
}
NAMES = (*KNOBS, "fault")


def integer(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_value(name, f"expected an integer, got {raw!r}.") from None
    if not low <= value <= high:
        raise errors.invalid_value(name, f"must be between {low} and {high}.")
    return value


def _values(pick: Callable[[str], str | None]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (low, high) in KNOBS.items():
        raw = pick(name)
        if raw is not None:
            values[name] = integer(name, raw, low, high)
    for fault in filter(None, (pick("fault") or "").split(",")):
        kind, _, arg = fault.partition(":")
        if kind.strip() == "drop_on":
            event, _, count = arg.strip().rpartition(":")
            if not event:
                raise errors.invalid_value("fault.drop_on", "expected drop_on:<event type>:<count>.")
            values["drop_on"] = (event, integer("fault.drop_on", count, 1, 1_000_000))
            continue
        key = FAULTS.get(kind.strip())
        if key is None:
            raise errors.invalid_value("fault", f"unknown fault {kind!r}.")
        values[key] = integer(f"fault.{kind}", arg.strip(), 0, 1_000_000)
    return values


def parse(query: Mapping[str, str], env: Mapping[str, str] | None = None) -> Options:
    """Options from query parameters, falling back to ``SWITCHBOARD_ENGINE_*`` variables."""
    env = os.environ if env is None else env

    def pick(name: str) -> str | None:
        return query.get(name) or env.get(f"SWITCHBOARD_ENGINE_{name.upper()}")

    return Options(**_values(pick))


def overrides(query: Mapping[str, str]) -> dict[str, Any]:
    """Only the options ``query`` sets (no environment): what an armed plan changes."""
    return _values(lambda name: query.get(name) or None)


def apply(options: Options, changes: Mapping[str, Any]) -> Options:
    return dataclasses.replace(options, **changes)
