"""Session configuration: the service's defaults, partial updates, and validation.

The effective session is kept as the JSON the client would see in ``session.updated``. Field
names are checked against the SDK's own pydantic models (so an unknown field such as the beta
``session.input_audio_format`` is refused with ``param``), and the merged result is validated
with ``RealtimeSessionCreateRequest`` before it replaces the old one: a bad update changes
nothing.
"""

from __future__ import annotations

import copy
import time
import types
import typing
from typing import Any

from openai.types.realtime import (
    RealtimeResponseCreateParams,
    RealtimeSessionCreateRequest,
)
from pydantic import BaseModel, TypeAdapter, ValidationError

from infra.realtime_engine import errors
from infra.realtime_engine.ids import new_id

SERVER_VAD: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 200,  # what the live service reports in session.created
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# Semantic VAD has no silence knob; this engine maps eagerness to the silence it waits for.
EAGERNESS_SILENCE_MS = {"low": 900, "medium": 500, "auto": 500, "high": 250}
PCM_RATE = 24000
SUPPORTED_FORMATS = ("audio/pcmu", "audio/pcm")

# Paths replaced whole by an update rather than merged key by key.
_REPLACED = {
    ("audio", "input", "format"),
    ("audio", "output", "format"),
    ("audio", "input", "transcription"),
    ("audio", "input", "noise_reduction"),
    ("tools",),
    ("tool_choice",),
    ("prompt",),
    ("tracing",),
    ("truncation",),
    ("reasoning",),
    ("include",),
    ("output_modalities",),
}

_SESSION_ADAPTER: TypeAdapter[RealtimeSessionCreateRequest] = TypeAdapter(RealtimeSessionCreateRequest)
_RESPONSE_ADAPTER: TypeAdapter[RealtimeResponseCreateParams] = TypeAdapter(RealtimeResponseCreateParams)


def default_session(model: str, max_session_s: int = 3600) -> dict[str, Any]:
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "You are a helpful, concise voice assistant.",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "expires_at": int(time.time()) + max_session_s,
        "include": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": PCM_RATE},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD),
            },
            "output": {"format": {"type": "audio/pcm", "rate": PCM_RATE}, "voice": "marin", "speed": 1.0},
        },
    }


# -- unknown-field check against the SDK models ----------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic model classes an annotation can hold (through Optional/Union/Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _list_item(annotation: Any) -> Any | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _list_item(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            item = _list_item(arg)
            if item is not None:
                return item
        return None
    if origin is list:
        return typing.get_args(annotation)[0]
    return None


def _pick(models: list[type[BaseModel]], value: dict[str, Any]) -> type[BaseModel] | None:
    if len(models) == 1:
        return models[0]
    kind = value.get("type")
    for model in models:
        field = model.model_fields.get("type")
        if field is not None and kind in (*typing.get_args(field.annotation), field.default):
            return model
        if field is not None and kind in _literal_values(field.annotation):
            return model
    return None


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return tuple(v for a in typing.get_args(annotation) for v in _literal_values(a))
    return ()


def check_known_fields(value: Any, model: type[BaseModel], path: str) -> None:
    """Raise ``unknown_parameter`` for the first key the SDK model does not define."""
    if not isinstance(value, dict):
        return
    for key, sub in value.items():
        field = model.model_fields.get(key)
        if field is None:
            raise errors.unknown_parameter(f"{path}.{key}")
        check_value(sub, field.annotation, f"{path}.{key}")


def check_value(value: Any, annotation: Any, path: str) -> None:
    """Check a value's keys against whichever SDK model its annotation (and ``type``) selects."""
    if isinstance(value, dict):
        models = _models_in(annotation)
        chosen = _pick(models, value) if models else None
        if chosen is not None:
            check_known_fields(value, chosen, path)
    elif isinstance(value, list):
        item = _list_item(annotation)
        if item is not None:
            for i, element in enumerate(value):
                check_value(element, item, f"{path}[{i}]")


# -- merging and validation --------------------------------------------------------------------


def _merge(current: dict[str, Any], update: dict[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    merged = dict(current)
    for key, value in update.items():
        here = (*path, key)
        if here == ("audio", "input", "turn_detection"):
            merged[key] = _merge_turn_detection(current.get(key), value)
        elif isinstance(value, dict) and here not in _REPLACED and isinstance(current.get(key), dict):
            merged[key] = _merge(current[key], value, here)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_turn_detection(current: dict[str, Any] | None, value: dict[str, Any] | None) -> Any:
    if value is None:
        return None
    kind = value.get("type", (current or {}).get("type", "server_vad"))
    base = SERVER_VAD if kind == "server_vad" else SEMANTIC_VAD if kind == "semantic_vad" else {}
    if current is not None and current.get("type") == kind:
        base = current
    return {**base, **value}


def _first_error(exc: ValidationError, prefix: str) -> errors.EngineError:
    err = exc.errors()[0]
    # Drop pydantic's union-member labels (class names, "function-…") from the location.
    loc = ".".join(str(p) for p in err["loc"] if not str(p)[:1].isupper() and "-" not in str(p))
    return errors.invalid_value(f"{prefix}.{loc}" if loc else prefix, err["msg"])


def _check_formats(session: dict[str, Any]) -> None:
    audio = session.get("audio")
    for side in ("input", "output"):
        side_cfg = audio.get(side) if isinstance(audio, dict) else None
        fmt = side_cfg.get("format") if isinstance(side_cfg, dict) else None
        if not isinstance(fmt, dict):
            continue  # the SDK model check reports the shape
        kind = fmt.get("type")
        if kind not in SUPPORTED_FORMATS:
            raise errors.invalid_value(
                f"session.audio.{side}.format.type",
                f"'{kind}' is not supported here; use audio/pcmu or audio/pcm.",
            )
        if kind == "audio/pcm" and fmt.get("rate", PCM_RATE) != PCM_RATE:
            raise errors.invalid_value(f"session.audio.{side}.format.rate", "audio/pcm must be 24000 Hz.")


def _check_semantics(session: dict[str, Any]) -> None:
    audio = session.get("audio") or {}
    vad = (audio.get("input") or {}).get("turn_detection")
    if vad and vad.get("type") == "server_vad":
        threshold = vad.get("threshold")
        if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
            raise errors.invalid_value("session.audio.input.turn_detection.threshold", "must be in [0, 1].")
        for knob in ("prefix_padding_ms", "silence_duration_ms"):
            if int(vad.get(knob) or 0) < 0:
                raise errors.below_min(f"session.audio.input.turn_detection.{knob}", int(vad[knob]))
    if session.get("type") != "realtime":
        raise errors.invalid_value("session.type", "this engine serves realtime sessions only.")


def _keep_audio_defaults(merged: dict[str, Any], current: dict[str, Any]) -> None:
    """``audio``, a side or a ``format`` set to null keeps the current one (the engine needs a format)."""
    audio = merged.get("audio")
    if audio is None:
        merged["audio"] = copy.deepcopy(current["audio"])
        return
    if not isinstance(audio, dict):
        return  # the SDK model check reports the shape
    for side in ("input", "output"):
        section = audio.get(side)
        if section is None:
            audio[side] = copy.deepcopy(current["audio"][side])
        elif isinstance(section, dict) and section.get("format") is None:
            section["format"] = copy.deepcopy(current["audio"][side]["format"])


def apply_update(current: dict[str, Any], update: Any, *, audio_sent: bool) -> dict[str, Any]:
    """The new effective session after ``session.update``; raises ``EngineError`` and changes nothing."""
    if not isinstance(update, dict):
        raise errors.invalid_value("session", "expected an object.")
    check_known_fields(update, RealtimeSessionCreateRequest, "session")
    if "type" not in update:
        raise errors.EngineError(
            "Missing required parameter: 'session.type'.", "missing_required_parameter", "session.type"
        )
    merged = _merge(current, update)
    _keep_audio_defaults(merged, current)
    _check_formats(merged)
    try:
        _SESSION_ADAPTER.validate_python(merged)
    except ValidationError as exc:
        raise _first_error(exc, "session") from None
    _check_semantics(merged)
    old_voice = current["audio"]["output"].get("voice")
    if audio_sent and merged["audio"]["output"].get("voice") != old_voice:
        raise errors.EngineError(
            "Cannot update a conversation's voice if assistant audio is present.",
            code="cannot_update_voice",
            param="session.audio.output.voice",
        )
    return merged


def check_response_params(params: Any) -> dict[str, Any]:
    """``response.create``'s ``response`` object, checked like a session update."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise errors.invalid_value("response", "expected an object.")
    check_known_fields(params, RealtimeResponseCreateParams, "response")
    try:
        _RESPONSE_ADAPTER.validate_python(params)
    except ValidationError as exc:
        raise _first_error(exc, "response") from None
    return params


def silence_ms(turn_detection: dict[str, Any]) -> int:
    """How long a pause ends the caller's turn under this turn-detection config."""
    if turn_detection.get("type") == "semantic_vad":
        return EAGERNESS_SILENCE_MS.get(str(turn_detection.get("eagerness") or "auto"), 500)
    return int(_or(turn_detection.get("silence_duration_ms"), SERVER_VAD["silence_duration_ms"]))


def prefix_ms(turn_detection: dict[str, Any]) -> int:
    if turn_detection.get("type") == "semantic_vad":
        return 300
    return int(_or(turn_detection.get("prefix_padding_ms"), SERVER_VAD["prefix_padding_ms"]))


def threshold(turn_detection: dict[str, Any]) -> float:
    if turn_detection.get("type") == "semantic_vad":
        return 0.5
    return float(_or(turn_detection.get("threshold"), 0.5))


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
