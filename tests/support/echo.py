"""A minimal workflow and activity used to prove the dev server and the data converter work."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from switchboard.models import Turn


@activity.defn
async def shout(turn: Turn) -> Turn:
    return turn.model_copy(update={"text": turn.text.upper()})


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, turn: Turn) -> Turn:
        return await workflow.execute_activity(shout, turn, start_to_close_timeout=timedelta(seconds=10))
