"""Turn an archived call into a bank case: recordings feed the bank.

The call's workflow history gives the dialled number (so the profile), its result gives a draft
of the expected outcomes (outcome, consent, escalation, the tools it called with their
arguments, summary fields), and its recording from S3 (two channels: left the caller, right the
agent) gives the caller's side. The caller's channel is cut into utterances at its pauses; each
becomes a ``play`` step (an 8 kHz 16-bit WAV under ``bank/audio/``) after a ``wait_for_agent``,
so the replay keeps the caller's turn taking. The draft is written with ``quick: false`` and a
``TODO`` description: read it and edit the expectations before relying on the case.

No phone number of the caller is copied: replays dial from the bank's drama number.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from temporalio.client import Client

from evals.case import BANK_DIR, load_case
from switchboard import aws
from switchboard.audit import fetch_timeline
from switchboard.config import Settings
from switchboard.models import CallOutcome
from voice.audio import Pcm16, read_wav, resample, write_wav
from workflows.call import CallWorkflow

RATE = 8000
FRAME_MS = 20
MIN_SPEECH_MS = 250
MIN_GAP_MS = 700
# Summary fields that differ on every run (generated ids) or are not outcomes.
_RUN_SPECIFIC = {"transcript_excerpt", "escalation", "booking_id", "matter_id", "meeting_id", "ticket_id"}


def utterances(caller: Pcm16, rate: int = RATE, above_floor_db: float = 9.0) -> list[tuple[int, int]]:
    """(start, end) sample spans where the caller speaks, split at pauses of at least MIN_GAP_MS.

    Speech is a frame louder than -45 dBFS and ``above_floor_db`` over the line's noise floor
    (the quietest fifth of the frames), so a caller in a car or café is still cut at pauses."""
    frame = rate * FRAME_MS // 1000
    n = caller.size // frame
    if n == 0:
        return []
    frames = caller[: n * frame].astype(np.float64).reshape(n, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    level = 20 * np.log10(rms / 32768.0)
    loud = level > max(-45.0, float(np.percentile(level, 20)) + above_floor_db)
    spans: list[tuple[int, int]] = []
    start: int | None = None
    quiet = 0
    for i, on in enumerate(loud):
        if on:
            start = i if start is None else start
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet * FRAME_MS >= MIN_GAP_MS:
                spans.append((start, i - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        spans.append((start, n - quiet))
    keep = [(a, b) for a, b in spans if (b - a) * FRAME_MS >= MIN_SPEECH_MS]
    pad = 4  # 80 ms either side, so onsets and tails are not clipped
    return [(max(0, a - pad) * frame, min(n, b + pad) * frame) for a, b in keep]


def _case_id(call_id: str, bank: Path) -> str:
    base = "recorded-" + re.sub(r"[^a-z0-9]+", "-", call_id.lower()).strip("-")[-40:]
    case_id, i = base, 2
    while (bank / f"{case_id}.yaml").exists():
        case_id, i = f"{base}-{i}", i + 1
    return case_id


def draft_expectations(outcome: CallOutcome) -> dict[str, Any]:
    """What the call did, as expectations to review (tools with their arguments, summary fields)."""
    expect: dict[str, Any] = {"outcome": outcome.outcome.value}
    if outcome.consent is not None:
        expect["consent"] = outcome.consent.recording
    expect["escalated"] = any(r.name == "escalate" and r.ok for r in outcome.tool_results)
    tools = [
        {"name": r.name, "arguments": {k: v for k, v in r.arguments.items() if k != "reason"}}
        for r in outcome.tool_results
        if r.ok and r.name not in ("end_call", "record_consent")
    ]
    if tools:
        expect["tools"] = tools
    if outcome.summary is not None:
        fields = {k: v for k, v in outcome.summary.fields.items() if v is not None and k not in _RUN_SPECIFIC}
        if fields:
            expect["summary"] = fields
    return expect


def _number_and_direction(timeline: list[Any]) -> tuple[str | None, str]:
    started = next((e for e in timeline if e.kind == "call"), None)
    request: dict[str, Any] = started.detail if started is not None else {}
    return request.get("to_number"), str(request.get("direction", "inbound"))


async def add_call_to_bank(client: Client, settings: Settings, call_id: str, bank: Path = BANK_DIR) -> Path:
    """Write ``bank/<case>.yaml`` (and its audio) from the archived call ``call_id``; returns the YAML path."""
    handle = client.get_workflow_handle_for(CallWorkflow.run, call_id)
    outcome = await handle.result()
    timeline = await fetch_timeline(client, call_id, reveal=True)
    number, direction = _number_and_direction(timeline)
    if direction != "inbound" or not number:
        raise ValueError(f"{call_id} is {direction}: only inbound calls replay from a recording for now")
    if not outcome.recording_key:
        raise ValueError(f"{call_id} kept no recording (no consent), so it cannot become a case")
    body = await asyncio.to_thread(_download, settings, outcome.recording_key)
    stereo, rate = _read_stereo(body)
    caller = stereo[:, 0] if stereo.ndim == 2 else stereo
    if rate != RATE:
        caller = resample(caller, rate, RATE)

    case_id = _case_id(call_id, bank)
    steps: list[Any] = []
    for i, (a, b) in enumerate(utterances(caller)):
        rel = f"audio/{case_id}-{i + 1:02d}.wav"
        (bank / "audio").mkdir(parents=True, exist_ok=True)
        write_wav(bank / rel, [caller[a:b]], RATE)
        steps += [{"wait_for_agent": {"silence_ms": 1500, "timeout_ms": 25000}}, {"play": rel}]
    steps.append({"wait_for_agent": {"silence_ms": 1500, "timeout_ms": 15000}})
    # A caller who hung up does so again; otherwise the caller listens until the agent hangs up.
    ending = {"after_steps": "hangup"} if outcome.outcome.value == "caller_hung_up" else {}
    case = {
        "description": f"TODO: recorded from {call_id}; review the expectations before trusting this case.",
        "modes": ["recorded_call"],
        "number": number,
        "caller": {"steps": steps, **ending, "max_duration_ms": 300000},
        "expect": draft_expectations(outcome),
    }
    path = bank / f"{case_id}.yaml"
    path.write_text(yaml.safe_dump(case, sort_keys=False, allow_unicode=True))
    load_case(path)  # the draft must be a valid case
    return path


def _download(settings: Settings, key: str) -> bytes:
    s3 = aws.client("s3", settings)
    data: bytes = s3.get_object(Bucket=settings.recordings_bucket, Key=key)["Body"].read()
    return data


def _read_stereo(body: bytes) -> tuple[Pcm16, int]:
    """The recording's samples as (n, channels) int16 (read_wav would average the channels)."""
    import wave

    with wave.open(io.BytesIO(body), "rb") as w:
        if w.getsampwidth() != 2:
            return read_wav(body)
        channels, rate = w.getnchannels(), w.getframerate()
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return (frames.reshape(-1, channels) if channels > 1 else frames), rate
