"""A call's Realtime token usage: every ``response.done`` of every session, summed.

The bridge hands each ``response.done`` here (``Bridge._on_response_done``); the bridge outlives
the call's sessions (a reconnect or a rollover only swaps the socket), so what a replaced session
used stays in the sum, and the new session's re-reading of the conversation is added on top, as
OpenAI bills it. The result goes back to the workflow in ``ConverseResult.usage``.
"""

from __future__ import annotations

from typing import Any

from switchboard.costs import TokenUsage


class CallUsage:
    """The running sum of a call's ``response.done`` usage."""

    def __init__(self) -> None:
        self.total = TokenUsage()
        self._seen: set[str] = set()

    def add(self, response: Any) -> None:
        """One ``response.done``'s ``response`` (the SDK's object); each response id counts once."""
        response_id = getattr(response, "id", None)
        if response_id:
            if response_id in self._seen:
                return
            self._seen.add(response_id)
        self.total = self.total + TokenUsage.of_response(getattr(response, "usage", None))


__all__ = ["CallUsage"]
