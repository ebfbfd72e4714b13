"""How the party at a number behaves when it is dialled (or when it dials in).

Registered per number through the control API; an unregistered number answers after one
ring as a human who stays silent, so a plain outbound call always reaches the media stream.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from infra.phone.script import CallerScript, Hangup, Pause, Say, Tone, load_script

Answer = Literal["human", "busy", "no_answer", "voicemail", "fail"]

DEFAULT_GREETING = "Hi, you have reached my voicemail. I can't take your call right now. Please leave a message after the tone."


class Callee(BaseModel):
    """One number's behaviour. ``script`` may be inline data or the name/path of a script file."""

    model_config = ConfigDict(extra="forbid")

    answer: Answer = "human"
    rings: int = Field(default=1, ge=0, le=50)
    ring_ms: int = Field(
        default=400, ge=0, description="One ring's length (Twilio's is ~6 s; kept short here)."
    )
    no_answer_after_ms: int | None = Field(
        default=None, ge=0, description="Give up ringing after this instead of the request's Timeout."
    )
    hangup_after_ms: int | None = Field(default=None, ge=0, description="Hang up this long after answering.")
    script: CallerScript | str | None = None
    voicemail_greeting: str = DEFAULT_GREETING
    voicemail_max_ms: int = Field(default=20000, gt=0, description="The machine hangs up after this.")
    amd_human_ms: int = Field(default=1200, ge=0, description="How long AMD takes to call a human a human.")
    texts: Literal["deliver", "fail"] = Field(
        default="deliver", description="Whether texts to the number arrive."
    )
    reply_after_ms: int = Field(default=300, ge=0, description="How long the callee takes to answer a text.")

    def caller_script(self, *, greeting_played: bool = False) -> CallerScript:
        """The script played once the stream starts (a voicemail is a script too).

        ``greeting_played``: synchronous AMD waited for the beep before running the TwiML, so
        the stream only hears the machine record.
        """
        if self.answer == "voicemail":
            greeting = (
                [] if greeting_played else [Say(text=self.voicemail_greeting), Tone(freq_hz=1000.0, ms=400)]
            )
            return CallerScript(
                name="voicemail",
                steps=[*greeting, Pause(ms=self.voicemail_max_ms), Hangup()],
            )
        if self.script is None:
            return CallerScript(name="silent", steps=[])
        if isinstance(self.script, str):
            return load_script(self.script)
        return self.script

    @property
    def is_machine(self) -> bool:
        return self.answer == "voicemail"


class CalleeBook:
    """Behaviours by number."""

    def __init__(self) -> None:
        self._by_number: dict[str, Callee] = {}

    def register(self, number: str, callee: Callee) -> None:
        if isinstance(callee.script, str):
            load_script(callee.script)  # fail at registration, not mid-call
        self._by_number[number] = callee

    def forget(self, number: str) -> bool:
        return self._by_number.pop(number, None) is not None

    def lookup(self, number: str) -> Callee:
        return self._by_number.get(number) or Callee()
