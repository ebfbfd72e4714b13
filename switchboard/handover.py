"""The context note a person hears before an escalated caller is put through to them.

Pure and deterministic (the call's workflow builds it): the agent's job, why the caller is being
handed over, and what was already done on the call, each tool that succeeded with its values. It
is spoken to the person who answers (the whisper), shown on the dashboard's call card and sent
in the escalation email, so nobody has to ask the caller to start again.
"""

from __future__ import annotations

from switchboard.models import AgentProfile, ToolResult

MAX_CHARS = 400  # about 25 seconds spoken: the caller is waiting on hold meanwhile
_SYSTEM = {"record_consent", "end_call", "escalate"}


def handover_note(profile: AgentProfile, reason: str, tool_results: list[ToolResult]) -> str:
    """ "Transfer from the AI assistant: <job>. Reason: <reason>. So far: <tool>: <values>; …" """
    done = [_done(r) for r in tool_results if r.ok and r.name not in _SYSTEM]
    note = f"Transfer from the AI assistant: {profile.job}. Reason: {reason.strip().rstrip('.') or 'none given'}."
    note += f" So far: {'; '.join(done)}." if done else " Nothing was done on the call yet."
    return note if len(note) <= MAX_CHARS else note[: MAX_CHARS - 1].rsplit(" ", 1)[0] + "…"


def _done(result: ToolResult) -> str:
    values = [
        f"{key.replace('_', ' ')} {_spoken(value)}"
        for key, value in {**result.arguments, **result.output}.items()
        if key not in ("confirmed", "say", "action") and isinstance(value, (str, int, float)) and value != ""
    ]
    return (
        f"{result.name.replace('_', ' ')}: {', '.join(values)}" if values else result.name.replace("_", " ")
    )


def _spoken(value: str | int | float) -> str:
    return ("yes" if value else "no") if isinstance(value, bool) else str(value)
