"""Twilio's playback buffer for the audio a media server sends (sans-I/O).

Outbound ``media`` is queued and played at real time (8 bytes per ms); a ``mark`` is echoed when
every byte queued before it has played; ``clear`` drops what is queued and echoes every pending
mark at once (so an echo after a clear means "flushed", not "played"). The stream loop calls
``play(n)`` once per 20 ms frame and sends the echoes it returns.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass
class Played:
    """One frame's worth of playback: the audio heard (possibly short) and the marks now due."""

    audio: bytes
    marks: list[str]


class Playback:
    def __init__(self) -> None:
        self._items: deque[bytes | str] = deque()  # audio chunks and mark names, in arrival order
        self._queued_bytes = 0

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def pending_marks(self) -> list[str]:
        return [item for item in self._items if isinstance(item, str)]

    def feed(self, audio: bytes) -> None:
        if audio:
            self._items.append(audio)
            self._queued_bytes += len(audio)

    def mark(self, name: str) -> list[str]:
        """Queue a mark; returns it at once when nothing is left to play before it."""
        if not self._items:
            return [name]
        self._items.append(name)
        return []

    def clear(self) -> tuple[int, list[str]]:
        """Drop queued audio; returns (bytes dropped, the pending marks to echo now)."""
        dropped, marks = self._queued_bytes, self.pending_marks
        self._items.clear()
        self._queued_bytes = 0
        return dropped, marks

    def play(self, n: int) -> Played:
        """Take up to ``n`` bytes of audio; marks reached by then are due."""
        out = bytearray()
        marks: list[str] = []
        while self._items:
            head = self._items[0]
            if isinstance(head, str):
                marks.append(head)
                self._items.popleft()
                continue
            if len(out) == n:
                break
            take = min(n - len(out), len(head))
            out += head[:take]
            self._queued_bytes -= take
            if take == len(head):
                self._items.popleft()
            else:
                self._items[0] = head[take:]
        return Played(bytes(out), marks)
