"""Caller scripts: what a simulated caller says and does, as plain data (YAML or JSON).

The eval bank reuses these files, so the format is meant to be written by hand::

    name: booking-caller
    noise: {kind: pink, level_dbfs: -50, seed: 7}
    steps:
      - wait_for_agent: {silence_ms: 800}
      - say: "Yes, you may record the call."
      - say: {text: "I'd like Tuesday at ten.", length_scale: 1.3, barge_in_after_ms: 1200}
      - dtmf: "1234"
      - pause: 500
      - hangup
      - reply: "tomorrow after 3"   # not spoken: the answer to a text it reads (``infra/phone/texts.py``)

A step is a one-key mapping ``{kind: value}`` (a bare string for argument-less steps); the value
is either the step's main field (text, ms, digits, path) or a mapping of its fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

SCRIPTS_DIR = Path(__file__).parent / "scripts"


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Say(_Step):
    """Speak ``text`` with the offline TTS; ``barge_in_after_ms`` starts X ms after agent audio starts."""

    kind: Literal["say"] = "say"
    text: str = Field(min_length=1)
    length_scale: float | None = Field(default=None, gt=0.2, lt=4.0)
    barge_in_after_ms: int | None = Field(default=None, ge=0)
    agent_timeout_ms: int = Field(default=20000, gt=0, description="How long to wait for agent audio.")


class Play(_Step):
    """Play a mono 16-bit WAV (any rate); a relative path is relative to the script file."""

    kind: Literal["play"] = "play"
    path: str
    barge_in_after_ms: int | None = Field(default=None, ge=0)
    agent_timeout_ms: int = Field(default=20000, gt=0)


class Tone(_Step):
    """A sine tone, e.g. a voicemail beep."""

    kind: Literal["tone"] = "tone"
    freq_hz: float = 1000.0
    ms: int = Field(default=400, gt=0)
    level_dbfs: float = -12.0


class Pause(_Step):
    kind: Literal["pause"] = "pause"
    ms: int = Field(ge=0)


class WaitForAgent(_Step):
    """Turn taking: wait until the agent starts and then finishes a turn (``silence_ms`` without audio)."""

    kind: Literal["wait_for_agent"] = "wait_for_agent"
    silence_ms: int = Field(default=800, gt=0)
    timeout_ms: int = Field(default=30000, gt=0)
    on_timeout: Literal["continue", "hangup"] = "continue"


class Dtmf(_Step):
    kind: Literal["dtmf"] = "dtmf"
    digits: str = Field(pattern=r"^[0-9*#]+$")
    gap_ms: int = Field(default=150, ge=0)


class Noise(_Step):
    """Background noise under everything the caller sends from now on (``level_dbfs`` or ``snr_db``)."""

    kind: Literal["noise"] = "noise"
    type: Literal["white", "pink", "babble", "off"] = "pink"
    level_dbfs: float | None = None
    snr_db: float | None = None
    seed: int = 0

    @model_validator(mode="after")
    def _one_level(self) -> Noise:
        if self.type != "off" and (self.level_dbfs is None) == (self.snr_db is None):
            raise ValueError("noise needs exactly one of level_dbfs or snr_db")
        return self


class Hangup(_Step):
    kind: Literal["hangup"] = "hangup"


class Reply(_Step):
    """Not part of a call: the text the callee sends back when it reads a text (the first text
    read gets the first ``reply``, and so on), e.g. ``reply: "tomorrow after 3"`` or ``reply: STOP``."""

    kind: Literal["reply"] = "reply"
    text: str = Field(min_length=1, max_length=1600)


Step = Annotated[
    Say | Play | Tone | Pause | WaitForAgent | Dtmf | Noise | Hangup | Reply, Field(discriminator="kind")
]

# The field a bare value fills, per step kind: ``say: "hello"`` means ``say: {text: "hello"}``.
_MAIN_FIELD = {
    "reply": "text",
    "say": "text",
    "play": "path",
    "pause": "ms",
    "dtmf": "digits",
    "tone": "ms",
    "noise": "type",
}


def _normalise_step(raw: Any) -> Any:
    if isinstance(raw, str):
        return {"kind": raw}
    if isinstance(raw, dict) and "kind" not in raw and len(raw) == 1:
        ((kind, value),) = raw.items()
        if isinstance(value, dict):
            return {"kind": kind, **value}
        if value is None or value is True:
            return {"kind": kind}
        return {"kind": kind, _MAIN_FIELD.get(kind, "value"): value}
    return raw


class CallerScript(BaseModel):
    """A caller's whole part in a call."""

    model_config = ConfigDict(extra="forbid")

    name: str = "caller"
    description: str = ""
    length_scale: float | None = Field(default=None, gt=0.2, lt=4.0, description="Default talking speed.")
    noise: Noise | None = None
    steps: list[Step] = Field(default_factory=list)
    after_steps: Literal["listen", "hangup"] = Field(
        default="listen", description="Keep listening until the agent hangs up, or hang up."
    )
    max_duration_ms: int = Field(default=300_000, gt=0, description="Hang up at the latest after this.")
    base_dir: str | None = Field(default=None, description="Where relative WAV paths are resolved.")

    @model_validator(mode="before")
    @classmethod
    def _steps_as_data(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "steps" in data:
                data["steps"] = [_normalise_step(s) for s in data["steps"] or []]
            if isinstance(data.get("noise"), dict):
                data["noise"] = {"kind": "noise", **data["noise"]}
        return data

    def resolve(self, path: str) -> Path:
        p = Path(path)
        if p.is_absolute() or self.base_dir is None:
            return p
        return Path(self.base_dir) / p


_ADAPTER: TypeAdapter[CallerScript] = TypeAdapter(CallerScript)


def parse_script(data: dict[str, Any], *, base_dir: Path | None = None) -> CallerScript:
    script = _ADAPTER.validate_python(data)
    if base_dir is not None and script.base_dir is None:
        script.base_dir = str(base_dir)
    return script


def load_script(name_or_path: str | Path) -> CallerScript:
    """A script from a file path, or by name from the bundled ``infra/phone/scripts/``."""
    path = Path(name_or_path)
    if not path.exists():
        for suffix in (".yaml", ".yml", ".json"):
            candidate = SCRIPTS_DIR / f"{name_or_path}{suffix}"
            if candidate.exists():
                path = candidate
                break
        else:
            raise FileNotFoundError(f"no caller script {name_or_path!r} (nor in {SCRIPTS_DIR})")
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name}: a caller script is a mapping")
    data.setdefault("name", path.stem)
    return parse_script(data, base_dir=path.parent)


def bundled_scripts() -> list[str]:
    return sorted(p.stem for p in SCRIPTS_DIR.glob("*.y*ml")) + sorted(
        p.stem for p in SCRIPTS_DIR.glob("*.json")
    )
