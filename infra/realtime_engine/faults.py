"""Per-connection timing profile and fault injection, from the URL's query string or the environment.

Query parameters (on ``/v1/realtime?model=gpt-realtime&…``), each overriding its environment
variable ``SWITCHBOARD_ENGINE_<NAME>``:

- ``latency_ms`` (default 350): the earliest first audio (or function call) after a response
  starts, i.e. after ``speech_stopped``. The engine waits only what its own work did not
  already take; ``0`` adds nothing. The real service answers in roughly 300–450 ms.
- ``lead_ms`` (default 250): how far ahead of real time output audio is sent.
- ``chunk_ms`` (default 50): audio per ``response.output_audio.delta`` (10–200).
- ``fault``: comma-separated faults, e.g. ``fault=drop_after:40,delay:200``:
  ``drop_after:N`` aborts the TCP connection (no close frame) after N server events;
  ``error_after:N`` sends one ``server_error`` event after N server events (the session lives on);
  ``delay:MS`` adds MS before every response's first output;
  ``close_after:N`` closes cleanly with code 1011 after N server events.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from infra.realtime_engine import errors


@dataclass(frozen=True)
class Options:
    latency_ms: int = 350
    lead_ms: int = 250
    chunk_ms: int = 50
    drop_after: int | None = None
    error_after: int | None = None
    close_after: int | None = None
    delay_ms: int = 0


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_value(name, f"expected an integer, got {raw!r}.") from None
    if not low <= value <= high:
        raise errors.invalid_value(name, f"must be between {low} and {high}.")
    return value


def parse(query: Mapping[str, str], env: Mapping[str, str] | None = None) -> Options:
    """Options from query parameters, falling back to ``SWITCHBOARD_ENGINE_*`` variables."""
    env = os.environ if env is None else env

    def pick(name: str) -> str | None:
        return query.get(name) or env.get(f"SWITCHBOARD_ENGINE_{name.upper()}")

    values: dict[str, int | None] = {}
    for name, low, high in (("latency_ms", 0, 10000), ("lead_ms", 0, 5000), ("chunk_ms", 10, 200)):
        raw = pick(name)
        if raw is not None:
            values[name] = _int(name, raw, low, high)
    for fault in filter(None, (pick("fault") or "").split(",")):
        kind, _, arg = fault.partition(":")
        key = {
            "drop_after": "drop_after",
            "error_after": "error_after",
            "close_after": "close_after",
            "delay": "delay_ms",
        }.get(kind.strip())
        if key is None:
            raise errors.invalid_value("fault", f"unknown fault {kind!r}.")
        values[key] = _int(f"fault.{kind}", arg.strip(), 0, 1_000_000)
    return Options(**values)  # type: ignore[arg-type]
