"""What a tool is: a pydantic input, a pydantic output, a function over the business system.

Every output may carry ``say``: one sentence the agent can speak as is (the local engine speaks
it verbatim; a real model uses it as a hint). Write-back inputs carry ``confirmed``, which the
workflow's validator requires to be true (the caller heard the details read back and agreed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.business import BusinessSystem

CONFIRMED_DESCRIPTION = (
    "true only after you have read every detail back to the caller (digits one by one) and they said yes"
)


class ToolInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteBackInput(ToolInput):
    confirmed: bool = Field(description=CONFIRMED_DESCRIPTION)


class ToolOutput(BaseModel):
    say: str = ""


class ToolError(Exception):
    """A business outcome the caller should hear (not found, taken): returned to the model, not retried."""


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_model: type[ToolInput]
    run: Callable[[BusinessSystem, str, Any], ToolOutput]
    write_back: bool = False
    slow: bool = False  # run as a normal activity rather than a local one
    # The business records about the caller this tool reads or writes (``SqliteBusiness.ERASABLE``):
    # what ``switchboard forget`` erases unless a profile using the tool keeps its records.
    records: str | None = None

    def parameters(self) -> dict[str, Any]:
        """The JSON schema handed to the model: pydantic's, without titles."""
        schema = self.input_model.model_json_schema()
        return _strip_titles(schema)


def _strip_titles(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_titles(v) for k, v in node.items() if k != "title"}
    if isinstance(node, list):
        return [_strip_titles(v) for v in node]
    return node


def spell_digits(value: str) -> str:
    """'4172' → 'four one seven two', for read-backs."""
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return " ".join(names[int(c)] if c.isdigit() else c for c in value if c.strip())
