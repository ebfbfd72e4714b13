"""The engine's client-visible errors, with the real service's codes and message texts.

An ``EngineError`` raised anywhere while handling a client event becomes one ``error`` frame;
the session lives on. ``fatal`` errors also close the socket, by default with code 4000 and the
reason ``<type>.<code>`` as the real service does for the retired beta shape; the session cap
(``session_expired``) closes with 1001 and its message as the reason, as the real service does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class EngineError(Exception):
    message: str
    code: str | None = None
    param: str | None = None
    type: str = "invalid_request_error"
    fatal: bool = False
    close_code: int = 4000
    close_message: str | None = None

    def payload(self, client_event_id: str | None) -> dict[str, Any]:
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "event_id": client_event_id,
        }

    @property
    def close_reason(self) -> str:
        return self.close_message or f"{self.type}.{self.code}"


def beta_shape_disabled() -> EngineError:
    return EngineError(
        "The Realtime Beta API is no longer supported. Please use /v1/realtime for the GA API.",
        code="beta_api_shape_disabled",
        fatal=True,
    )


def unknown_parameter(param: str) -> EngineError:
    return EngineError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)


def invalid_value(param: str, detail: str) -> EngineError:
    return EngineError(f"Invalid value for '{param}': {detail}", code="invalid_value", param=param)


def invalid_event(message: str) -> EngineError:
    return EngineError(message, code="invalid_event")


def invalid_json(detail: str) -> EngineError:
    return EngineError(f"We could not parse the JSON body of your request. ({detail})", code="invalid_json")


def active_response(response_id: str) -> EngineError:
    return EngineError(
        f"Conversation already has an active response in progress: {response_id}. "
        "Wait until the response is finished before creating a new one.",
        code="conversation_already_has_active_response",
    )


def cancel_not_active() -> EngineError:
    return EngineError("Cancellation failed: no active response found", code="response_cancel_not_active")


def commit_empty(buffered_ms: float) -> EngineError:
    return EngineError(
        "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
        f"but buffer only has {buffered_ms:.2f}ms of audio.",
        code="input_audio_buffer_commit_empty",
    )


def truncate_too_long(have_ms: int, asked_ms: int) -> EngineError:
    return EngineError(
        f"Audio content of {have_ms}ms is already shorter than {asked_ms}ms",
        code="invalid_value",
        param="audio_end_ms",
    )


def below_min(param: str, value: int) -> EngineError:
    return EngineError(
        f"Invalid '{param}': integer below minimum value. Expected a value >= 0, but got {value} instead.",
        code="integer_below_min_value",
        param=param,
    )


def item_not_found(item_id: str, param: str = "item_id") -> EngineError:
    return EngineError(f"Item with item_id '{item_id}' not found.", code="item_not_found", param=param)


def not_truncatable() -> EngineError:
    return EngineError("Only model output audio messages can be truncated", code="unsupported_content_type")


def server_error(message: str = "The server had an error while processing your request.") -> EngineError:
    return EngineError(message, code="server_error", type="server_error")


def session_expired(max_session_s: int) -> EngineError:
    """OpenAI's end of a session at its cap: this error, then close 1001 with the same sentence.

    The live service says "of 60 minutes"; a cap in whole minutes is worded the same way here,
    any other cap in seconds ("of 90 seconds").
    """
    message = f"Your session hit the maximum duration of {_duration(max_session_s)}."
    return EngineError(message, code="session_expired", fatal=True, close_code=1001, close_message=message)


def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} second" if seconds == 1 else f"{seconds} seconds"
