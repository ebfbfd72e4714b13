"""Incoming frames → checked client events, or the ``EngineError`` the real service would send.

Each event is checked against the SDK's model for its ``type``: unknown fields are refused
with ``param`` (``unknown_parameter``), missing or mistyped fields with ``invalid_value``. The
session object of ``session.update`` and the ``response`` of ``response.create`` are checked
by ``config`` (their partial-update rules need the current session).
"""

from __future__ import annotations

import json
import typing
from typing import Any

from openai.types.realtime import RealtimeClientEvent
from pydantic import BaseModel, TypeAdapter, ValidationError

from infra.realtime_engine import errors
from infra.realtime_engine.config import check_value

MAX_FRAME_BYTES = 24 * 1024 * 1024  # a maximal 15 MiB append, base64-encoded, fits


def _registry() -> dict[str, type[BaseModel]]:
    union = typing.get_args(RealtimeClientEvent)[0]
    out: dict[str, type[BaseModel]] = {}
    for model in typing.get_args(union):
        kind = typing.get_args(model.model_fields["type"].annotation)[0]
        out[kind] = model
    return out


EVENT_MODELS = _registry()
_ADAPTERS = {kind: TypeAdapter(model) for kind, model in EVENT_MODELS.items()}
# Checked elsewhere with the session's own partial-update rules.
_DEFERRED = {"session.update": "session", "response.create": "response"}


def client_event_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("event_id"), str):
        return raw["event_id"]
    return None


def parse_frame(frame: str | bytes) -> dict[str, Any]:
    """A JSON text frame → an event dict with a known ``type`` and known fields."""
    try:
        event = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.invalid_json(str(exc).split(":")[0]) from None
    if not isinstance(event, dict):
        raise errors.invalid_event("Expected an object with a 'type' field.")
    kind = event.get("type")
    if kind is None:
        raise errors.invalid_event("The 'type' field is missing.")
    model = EVENT_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise errors.EngineError(
            f"Invalid value: '{kind}'. Supported values are: {', '.join(sorted(EVENT_MODELS))}.",
            code="invalid_event",
            param="type",
        )
    deferred = _DEFERRED.get(kind)
    shallow = {k: v for k, v in event.items() if k != deferred}
    for key in shallow:
        if key not in model.model_fields:
            raise errors.unknown_parameter(key)
    for key, value in shallow.items():
        check_value(value, model.model_fields[key].annotation, key)
    if deferred is None:
        try:
            _ADAPTERS[kind].validate_python(event)
        except ValidationError as exc:
            raise _validation_error(exc) from None
    return event


def _validation_error(exc: ValidationError) -> errors.EngineError:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p)[:1].isupper() and "-" not in str(p))
    if err["type"] == "missing":
        return errors.EngineError(
            f"Missing required parameter: '{loc}'.", code="missing_required_parameter", param=loc
        )
    return errors.invalid_value(loc, err["msg"])
