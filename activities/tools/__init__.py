"""The tool registry: every business tool by name. System tools live in ``system``."""

from __future__ import annotations

from activities.tools import clinic, jobs, legal, sales, support
from activities.tools.base import Tool, ToolError, ToolInput, ToolOutput

REGISTRY: dict[str, Tool] = {
    t.name: t for module in (clinic, jobs, legal, sales, support) for t in module.TOOLS
}

__all__ = ["REGISTRY", "Tool", "ToolError", "ToolInput", "ToolOutput"]
