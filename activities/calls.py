"""Activities on the workflow worker: the profile a call runs with, and the business tools."""

from __future__ import annotations

import asyncio
import time

from pydantic import ValidationError
from temporalio import activity

from activities.business import BusinessSystem
from activities.tools import REGISTRY, ToolError
from activities.tools.profiles import load_profile
from switchboard.messages import ToolInvocation
from switchboard.models import AgentProfile, ToolResult


@activity.defn(name="get_profile")
async def get_profile(name: str) -> AgentProfile:
    """Recorded in the history, so the audit shows the exact profile each call ran with."""
    return load_profile(name)


class ToolActivities:
    """Runs a tool against the business system. Business failures are results, not retries."""

    def __init__(self, business: BusinessSystem) -> None:
        self.business = business

    @activity.defn(name="run_tool")
    async def run_tool(self, inv: ToolInvocation) -> ToolResult:
        tool = REGISTRY[inv.tool]
        started = time.perf_counter()
        try:
            args = tool.input_model.model_validate(inv.arguments)
            out = await asyncio.to_thread(tool.run, self.business, inv.idempotency_key, args)
        except (ToolError, ValidationError) as exc:
            return ToolResult(
                call_id=inv.tool_call_id,
                name=inv.tool,
                ok=False,
                arguments=inv.arguments,
                error=str(exc),
                output={"error": str(exc)},
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
        return ToolResult(
            call_id=inv.tool_call_id,
            name=inv.tool,
            ok=True,
            arguments=inv.arguments,
            output=out.model_dump(mode="json"),
            elapsed_ms=(time.perf_counter() - started) * 1000,
        )
