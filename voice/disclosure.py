"""What the caller says over the disclosure: kept, and answered once the disclosure has played.

The disclosure (any verbatim line that does not end the call) is not interruptible, yet callers
often answer "yes, that's fine" while "Is it okay if I record this call?" is still playing. While
such a line plays, the session's turn detection is *held* (:func:`turn_detection_update`):

* ``interrupt_response: false`` — the server does not cancel the line at the caller's speech;
* ``create_response: false`` — nor does it answer on its own: OpenAI's docs warn that with
  ``interrupt_response`` off an automatic response "may fail to create … if the model is already
  responding", and once the line is generated (long before it has played) one would be created
  behind it. The caller's speech is still committed and transcribed (VAD events still come).

Once the line has played, the profile's turn detection is restored, and the bridge sends one
``response.create`` for what was said over it (:class:`OverDisclosure`), as soon as the words
of every turn committed during it are in. A caller still talking when the line ends is answered
by the server itself when they stop (``create_response`` is back on). Turns begun over the line
carry ``over_disclosure``, and so does the consent recorded from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["OverDisclosure", "turn_detection_update"]


def turn_detection_update(turn_detection: dict[str, Any], *, hold: bool) -> dict[str, Any]:
    """The ``session.update`` setting the session's turn detection: the profile's own, or held."""
    td = dict(turn_detection)
    if hold:
        td["interrupt_response"] = False
        td["create_response"] = False
    return {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": td}}},
    }


@dataclass
class OverDisclosure:
    """The caller's turns over the disclosure, by Realtime item id."""

    began: set[str] = field(default_factory=set)  # speech began while the line played
    held: dict[str, str | None] = field(default_factory=dict)  # committed then → words (None: awaited)

    def started(self, item_id: str) -> None:
        self.began.add(item_id)

    def stopped(self, item_id: str) -> None:
        """Committed while the line plays: to be answered once it has played."""
        self.began.add(item_id)
        self.held[item_id] = None

    def heard(self, item_id: str, text: str) -> bool:
        """An item's words are in (``""``: none, or its transcription failed); whether it began
        over the line."""
        if item_id in self.held:
            self.held[item_id] = text
        over = item_id in self.began
        self.began.discard(item_id)
        return over

    def take(self) -> int | None:
        """How many held turns had words (then forgotten), or None while some words are awaited."""
        if any(text is None for text in self.held.values()):
            return None
        said = sum(1 for text in self.held.values() if text)
        self.held.clear()
        return said

    def clear(self) -> None:
        self.began.clear()
        self.held.clear()
