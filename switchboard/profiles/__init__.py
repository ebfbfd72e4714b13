"""Agent profiles: one JSON file per job, which names its tools by string.

A profile file says which tools its agent has (``"tools": ["find_slots", …]``), which of their
arguments are read back and confirmed, and which need a supervisor's approval. What a tool *is*
(its description, its JSON schema, whether it writes back) lives with the tool in the registry,
``activities.tools``: ``activities.tools.profiles.load_profile`` joins a ``ProfileSource`` with it
into the ``AgentProfile`` a call runs with. This package is on the ground floor, so it reads the
files and knows nothing of the registry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from switchboard.models import AgentProfile, ToolSpec

PROFILES_DIR_ENV = "SWITCHBOARD_PROFILES_DIR"


class UnknownProfile(LookupError):
    pass


@dataclass(frozen=True)
class ProfileSource:
    """A profile as its file has it: the job's settings, and its tools by name only."""

    tools: tuple[str, ...]
    settings: dict[str, Any]  # every field of AgentProfile but ``tools``, as written
    confirm_arguments: dict[str, list[str]] = field(default_factory=dict)
    require_approval: frozenset[str] = frozenset()

    @property
    def require_consent(self) -> bool:
        """Whether the agent asks for recording consent (and so has the ``record_consent`` tool)."""
        return bool(self.settings.get("guardrails", {}).get("require_recording_consent", True))

    def with_tools(self, specs: list[ToolSpec]) -> AgentProfile:
        """The profile with its tools' specs, as whoever knows the tools built them."""
        return AgentProfile.model_validate(self.settings | {"tools": specs})


def profile_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in resources.files(__package__).iterdir()
        if p.name.endswith(".json")
    )


def parse_source(raw: dict[str, Any]) -> ProfileSource:
    """A profile file's JSON; raises ValueError unless it names 3 to 5 tools."""
    raw = dict(raw)
    names: list[str] = raw.pop("tools")
    confirm: dict[str, list[str]] = raw.pop("confirm_arguments", {})
    approval = frozenset(raw.pop("require_approval", []))
    if not 3 <= len(names) <= 5:
        raise ValueError(f"a profile has one clear job with 3 to 5 tools, not {len(names)}")
    return ProfileSource(
        tools=tuple(names), settings=raw, confirm_arguments=confirm, require_approval=approval
    )


def read_profile(name: str) -> ProfileSource:
    """The named profile's file (``clinic_booking``, ``law_intake``, …); raises UnknownProfile.

    A ``<name>.json`` in the folder ``SWITCHBOARD_PROFILES_DIR`` names takes the place of the
    bundled one: the eval runner scores a changed profile this way (``--profiles-dir``)."""
    folder = os.environ.get(PROFILES_DIR_ENV)
    if folder and (Path(folder) / f"{name}.json").is_file():
        return parse_source(json.loads((Path(folder) / f"{name}.json").read_text()))
    try:
        text = resources.files(__package__).joinpath(f"{name}.json").read_text()
    except FileNotFoundError as exc:
        raise UnknownProfile(f"no agent profile {name!r}; known: {', '.join(profile_names())}") from exc
    return parse_source(json.loads(text))


__all__ = [
    "PROFILES_DIR_ENV",
    "ProfileSource",
    "UnknownProfile",
    "parse_source",
    "profile_names",
    "read_profile",
]
