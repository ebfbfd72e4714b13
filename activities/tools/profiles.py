"""The profile a call runs with: a profile file's tool names joined with the tool registry.

``switchboard.profiles`` reads the files, which name tools by string; the tools themselves (their
descriptions, schemas, write-backs) are defined here in ``activities.tools``, so the join happens
here too, and the ground floor never imports the registry. The ``get_profile`` activity records the
result in the call's history, in the same shape as ever: ``AgentProfile`` with its ``ToolSpec`` list.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from activities.tools import REGISTRY
from activities.tools.system import RECORD_CONSENT, SYSTEM_TOOLS
from switchboard.models import AgentProfile, ToolSpec
from switchboard.profiles import ProfileSource, UnknownProfile, parse_source, read_profile


def tool_specs(source: ProfileSource) -> list[ToolSpec]:
    """The specs of the tools the profile names, ``record_consent`` first when it asks for consent."""
    specs = []
    wanted = ([RECORD_CONSENT] if source.require_consent else []) + list(source.tools)
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
                confirm_arguments=source.confirm_arguments.get(name, []),
                write_back=tool.write_back,
                requires_approval=name in source.require_approval,
            )
        )
    return specs


def parse_profile(raw: dict[str, Any]) -> AgentProfile:
    """A profile file's JSON, its tools joined with the registry."""
    source = parse_source(raw)
    return source.with_tools(tool_specs(source))


@cache
def load_profile(name: str) -> AgentProfile:
    """The named profile (``clinic_booking``, ``law_intake``, …) with its tools' specs; raises
    UnknownProfile. ``SWITCHBOARD_PROFILES_DIR`` can put another file in its place (see
    ``switchboard.profiles.read_profile``)."""
    source = read_profile(name)
    return source.with_tools(tool_specs(source))


__all__ = ["load_profile", "parse_profile", "tool_specs"]
