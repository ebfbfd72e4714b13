"""The call's commands to its live conversation, pushed to the voice host that holds the stream.

A command (the voicemail message, the wrap-up at the maximum length, a supervisor's whisper or
end) is numbered and kept in order; while a conversation runs, ``_push_commands`` hands each one
to it with a ``deliver_command`` activity on that host's queue (``voice/live_commands.py``), in
order, one at a time. Nothing polls the workflow. A command issued before the conversation starts
waits here and goes first; the voice host keeps one that arrives before its conversation opened.
Retries are safe: the host delivers each ``seq`` once.

Calls recorded before this (the voice worker polled a ``command`` query) replay without it: the
push runs only under ``workflow.patched("push-commands")``.

A mixin of ``CallWorkflow``: it reads the call's ``call_id``.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from workflows.failures import failure_kind

with workflow.unsafe.imports_passed_through():
    from switchboard.messages import CommandDelivery, ConversationCommand

PUSH_PATCH = "push-commands"
DELIVERY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)


class LiveCommands:
    call_id: str

    def _init_commands(self) -> None:
        self.commands: list[ConversationCommand] = []
        self.commands_pushed = 0

    def _command(self, kind: str, line: str, reason: str) -> None:
        self.commands.append(
            ConversationCommand(seq=len(self.commands) + 1, kind=kind, line=line, reason=reason)
        )

    async def _push_commands(self, host: str) -> None:
        """Hand each command, in order, to the conversation on ``host``; runs until cancelled."""
        while True:
            await workflow.wait_condition(lambda: self.commands_pushed < len(self.commands))
            command = self.commands[self.commands_pushed]
            try:
                await workflow.execute_activity(
                    "deliver_command",
                    CommandDelivery(call_id=self.call_id, command=command),
                    result_type=str,
                    task_queue=f"voice-{host}",
                    schedule_to_close_timeout=timedelta(seconds=30),
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=DELIVERY_RETRY,
                )
            except ActivityError as err:  # the host is gone: the conversation ends without it
                workflow.logger.warning("a command did not reach the conversation: %s", failure_kind(err))
            self.commands_pushed += 1
