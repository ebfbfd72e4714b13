"""Barge-in end to end: the caller talks over the agent and hears it stop; the archived recording's
two channels line up with what each side heard and said (phone network's own recording). The call
is conftest's ``barged``, which test_call_page draws on the dashboard too."""

from __future__ import annotations

import io

import numpy as np

from infra.phone.client import SimClient
from infra.stack import Stack
from switchboard import aws
from switchboard.config import Settings
from switchboard.models import CallOutcome


def envelope(pcm: np.ndarray, rate: int, hop_ms: int = 10) -> np.ndarray:
    """Speech energy per 10 ms, as a 0/1 'someone is talking' track."""
    hop = rate * hop_ms // 1000
    frames = pcm[: len(pcm) // hop * hop].astype(np.float64).reshape(-1, hop)
    energy = np.sqrt((frames**2).mean(axis=1))
    return (energy > max(300.0, 0.1 * energy.max())).astype(np.float64)


def best_offset_ms(a: np.ndarray, b: np.ndarray, max_ms: int = 500) -> tuple[int, float]:
    """The shift of ``b`` against ``a`` (in 10 ms steps) where the two tracks agree most."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    best = (0, -1.0)
    for shift in range(-max_ms // 10, max_ms // 10 + 1):
        x, y = (a[shift:], b[: n - shift]) if shift >= 0 else (a[: n + shift], b[-shift:])
        score = float((x * y).sum() / max(1.0, min(x.sum(), y.sum())))
        best = max(best, (shift * 10, score), key=lambda s: s[1])
    return best


def channels(wav: bytes) -> tuple[np.ndarray, np.ndarray, int]:
    import wave

    with wave.open(io.BytesIO(wav)) as w:
        rate, data = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    stereo = data.reshape(-1, 2)
    return stereo[:, 0], stereo[:, 1], rate


async def test_barge_in_stops_the_agent_and_recordings_line_up(
    e2e: tuple[Settings, Stack], sim: SimClient, barged: tuple[str, CallOutcome]
) -> None:
    settings, _ = e2e
    sid, outcome = barged
    call = await sim.call(sid)
    cleared = [b for b in call["barge_ins"] if b.get("cleared")]
    assert cleared, call["barge_ins"]
    # The caller heard the agent stop: from the onset of its own speech to the last agent frame it got.
    assert all(b["latency_ms"] is not None and b["latency_ms"] < 1500 for b in cleared), cleared
    interrupted = [t for t in outcome.transcript if t.speaker == "agent" and t.interrupted]
    assert interrupted, [t.text for t in outcome.transcript]
    assert outcome.latency.barge_in_to_clear_ms  # the worker measured speech_started → clear

    # Alignment: the archived recording (left caller, right agent) against the phone's own
    # recording of the same call (left what the caller heard, right what it said).
    assert outcome.recording_key
    body = aws.client("s3", settings).get_object(Bucket=settings.recordings_bucket, Key=outcome.recording_key)
    archived_caller, archived_agent, rate = channels(body["Body"].read())
    heard, said, phone_rate = channels(await sim.audio(sid))
    assert rate == phone_rate == 8000
    caller_shift, caller_match = best_offset_ms(envelope(said, rate), envelope(archived_caller, rate))
    agent_shift, agent_match = best_offset_ms(envelope(heard, rate), envelope(archived_agent, rate))
    assert caller_match > 0.8 and abs(caller_shift) <= 60, (caller_shift, caller_match)
    assert agent_match > 0.8 and abs(agent_shift) <= 60, (agent_shift, agent_match)
