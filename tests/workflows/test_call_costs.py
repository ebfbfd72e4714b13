"""A call's outcome carries its Realtime usage and what it cost; ``switchboard costs`` adds them up.

Calls run on the real dev server with a scripted conversation (``run_call``), whose ``converse``
reports token usage as the voice worker would.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from cli.costs import collect_costs, costs_query, parse_since
from dashboard.render import Renderer
from switchboard.audit import fetch_timeline
from switchboard.config import Settings
from switchboard.costs import PriceTable, TokenUsage, call_cost
from switchboard.messages import ConsentAnswer, EndReason
from switchboard.models import CallOutcome, Outcome
from tests.workflows.test_call_workflow import run_call, tool
from workflows.call import CallWorkflow

USAGE = TokenUsage(
    responses=4,
    input_text=2400,
    input_audio=900,
    cached_text=1800,
    cached_audio=300,
    output_text=120,
    output_audio=520,
)


def usage_times(k: int) -> TokenUsage:
    return TokenUsage(**{name: value * k for name, value in USAGE.model_dump().items()})


async def consented_call(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
    await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=True, said="yes"))
    await handle.execute_update(CallWorkflow.run_tool, tool("end_call", reason="done"))
    return EndReason.AGENT_ENDED


async def refused_call(handle: WorkflowHandle[CallWorkflow, CallOutcome]) -> EndReason:
    await handle.execute_update(CallWorkflow.record_consent, ConsentAnswer(granted=False, said="no"))
    await handle.execute_update(CallWorkflow.run_tool, tool("end_call"))
    return EndReason.AGENT_ENDED


async def test_a_calls_outcome_summary_and_audit_carry_its_usage_and_cost(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    outcome = await run_call(temporal_client, stack, tmp_path, consented_call, usage=USAGE, duration_s=75.0)
    expected = call_cost(USAGE, PriceTable(), seconds=75.0, direction="inbound")
    assert outcome.outcome == Outcome.COMPLETED
    assert outcome.usage == USAGE
    assert outcome.cost == expected and outcome.cost.phone_minutes == 2
    assert outcome.cost.total_usd > Decimal("0.04")  # 900 audio tokens in, 520 out: a few cents
    assert outcome.summary is not None and outcome.summary.cost == expected

    timeline = await fetch_timeline(temporal_client, outcome.call_id)
    end = next(e for e in timeline if e.kind == "end")
    assert end.detail["usage"]["output_audio"] == 520
    assert Decimal(end.detail["cost"]["total_usd"]) == expected.total_usd

    html = Renderer().page(
        "review_call.html", call_id=outcome.call_id, result=outcome, timeline=[], revealed=False, session=None
    )
    assert f"${expected.total_usd:.4f}" in html and "520" in html and "billed min" in html


async def _wait_listed(client: Client, query: str, count: int) -> None:
    """Visibility lags the closes a little: wait until it lists every call."""
    for _ in range(100):
        if len([wf async for wf in client.list_workflows(query)]) >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"visibility never listed {count} calls")


async def test_costs_over_a_handful_of_calls_match_their_outcomes(
    temporal_client: Client, stack: Settings, tmp_path: Path
) -> None:
    since = datetime.now(UTC)
    outcomes = [
        await run_call(temporal_client, stack, tmp_path, consented_call, usage=usage_times(1), duration_s=30),
        await run_call(
            temporal_client, stack, tmp_path, consented_call, usage=usage_times(3), duration_s=130
        ),
        await run_call(temporal_client, stack, tmp_path, refused_call, usage=usage_times(2), duration_s=61),
        await run_call(
            temporal_client,
            stack,
            tmp_path,
            consented_call,
            profile="job_status",
            usage=usage_times(5),
            duration_s=200,
        ),
    ]
    await _wait_listed(temporal_client, costs_query(since), len(outcomes))
    report = await collect_costs(temporal_client, since)

    total = report.total
    assert total.calls == len(outcomes) and report.unreadable == 0
    assert total.tokens == sum((o.usage for o in outcomes), TokenUsage())
    assert total.total_usd == sum(o.cost.total_usd for o in outcomes if o.cost)
    assert total.model_usd == sum(o.cost.model_usd for o in outcomes if o.cost)
    assert total.phone_minutes == 1 + 3 + 2 + 4
    rows = {(r.profile, r.outcome): r for r in report.rows}
    assert rows[("clinic_booking", "completed")].calls == 2
    assert rows[("clinic_booking", "consent_refused")].calls == 1
    assert rows[("job_status", "completed")].tokens == usage_times(5)
    assert sum(r.total_usd for r in report.rows) == total.total_usd

    only = await collect_costs(temporal_client, since, profile="job_status")
    assert only.total.calls == 1 and only.total.total_usd == outcomes[3].cost.total_usd  # type: ignore[union-attr]

    # The command itself, as an operator runs it (its own client, decoding the results).
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "costs", "--since", "1h", "--json",
        env=os.environ | stack.to_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-2000:]
    printed = json.loads(out)
    assert printed["total"]["calls"] >= len(outcomes)  # an hour back may hold the other tests' calls
    table = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "costs", "--since", "1h",
        env=os.environ | stack.to_env() | {"COLUMNS": "160"},
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    print("\n" + (await table.communicate())[0].decode())
    assert parse_since("7d") == timedelta(days=7)
