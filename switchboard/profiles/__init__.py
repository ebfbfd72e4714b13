"""Agent profiles: one JSON file per job, with tool schemas filled in from the tool registry."""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from switchboard.models import AgentProfile, ToolSpec


class UnknownProfile(LookupError):
    pass


def profile_names() -> list[str]:
    return sorted(
        p.name.removesuffix(".json")
        for p in resources.files(__package__).iterdir()
        if p.name.endswith(".json")
    )


def _tool_specs(
    names: list[str], confirm: dict[str, list[str]], require_consent: bool, approval: set[str]
) -> list[ToolSpec]:
    from activities.tools import REGISTRY
    from activities.tools.system import RECORD_CONSENT, SYSTEM_TOOLS

    specs = []
    wanted = ([RECORD_CONSENT] if require_consent else []) + names
    for name in wanted:
        if name in SYSTEM_TOOLS:
            description, model = SYSTEM_TOOLS[name]
            parameters = {k: v for k, v in model.model_json_schema().items() if k != "title"}
            for prop in parameters.get("properties", {}).values():
                prop.pop("title", None)
            specs.append(ToolSpec(name=name, description=description, parameters=parameters))
            continue
        tool = REGISTRY.get(name)
        if tool is None:
            raise UnknownProfile(f"profile names an unknown tool {name!r}")
        specs.append(
            ToolSpec(
                name=name,
                description=tool.description,
                parameters=tool.parameters(),
                confirm_arguments=confirm.get(name, []),
                write_back=tool.write_back,
                requires_approval=name in approval,
            )
        )
    return specs


def parse_profile(raw: dict[str, Any]) -> AgentProfile:
    raw = dict(raw)
    names: list[str] = raw.pop("tools")
    confirm: dict[str, list[str]] = raw.pop("confirm_arguments", {})
    approval = set(raw.pop("require_approval", []))
    require = raw.get("guardrails", {}).get("require_recording_consent", True)
    if not 3 <= len(names) <= 5:
        raise ValueError(f"a profile has one clear job with 3 to 5 tools, not {len(names)}")
    return AgentProfile.model_validate(raw | {"tools": _tool_specs(names, confirm, require, approval)})


@cache
def load_profile(name: str) -> AgentProfile:
    """The named profile (``clinic_booking``, ``law_intake``, …); raises UnknownProfile.

    A ``<name>.json`` in the folder ``SWITCHBOARD_PROFILES_DIR`` names takes the place of the
    bundled one: the eval runner scores a changed profile this way (``--profiles-dir``)."""
    folder = os.environ.get("SWITCHBOARD_PROFILES_DIR")
    if folder and (Path(folder) / f"{name}.json").is_file():
        return parse_profile(json.loads((Path(folder) / f"{name}.json").read_text()))
    try:
        text = resources.files(__package__).joinpath(f"{name}.json").read_text()
    except FileNotFoundError as exc:
        raise UnknownProfile(f"no agent profile {name!r}; known: {', '.join(profile_names())}") from exc
    return parse_profile(json.loads(text))
