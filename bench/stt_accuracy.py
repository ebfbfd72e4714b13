"""Whisper's fitted window against its full 30 s window: word error rate and time, same clips.

The clips are every caller line of the eval bank, spoken by Piper and carried over the phone
path (8 kHz μ-law, back to 16 kHz), with the 300 ms of line silence a turn ends with. Numbers
are compared digit by digit ("0412" and "zero four one two" are the same words), punctuation
and case ignored.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.common import percentiles
from infra.speech.stt import Transcriber
from infra.speech.tts import Synthesizer
from voice.audio import mulaw_decode, resample

BANK = Path(__file__).resolve().parents[1] / "evals" / "bank"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def bank_lines() -> list[str]:
    lines: list[str] = []
    for case in sorted(BANK.glob("*.yaml")):
        for said in re.findall(r'say: "([^"]+)"', case.read_text()):
            line = said.replace("{day}", "Tuesday")
            if "{" not in line and line not in lines:
                lines.append(line)
    return lines


def words(text: str) -> list[str]:
    text = text.lower().replace("p.m.", "pm").replace("a.m.", "am")
    text = re.sub(r"\d", lambda m: f" {DIGITS[int(m.group())]} ", text)
    return re.sub(r"[^a-z' ]", " ", text).split()


def errors(reference: str, heard: str) -> tuple[int, int]:
    """(word edits, reference words): Levenshtein distance over words."""
    ref, hyp = words(reference), words(heard)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        diag, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (ref[i - 1] != hyp[j - 1]))
    return row[len(hyp)], len(ref)


async def phone_clips(tts_url: str, lines: list[str]) -> list[npt.NDArray[np.float32]]:
    speech = Synthesizer(tts_url)
    try:
        clips = []
        for line in lines:
            pcm = resample(mulaw_decode(await speech.mulaw(line)), 8000, 16000).astype(np.float32) / 32768
            clips.append(np.concatenate([pcm, np.zeros(4800, np.float32)]))
        return clips
    finally:
        await speech.aclose()


def compare(lines: list[str], clips: list[npt.NDArray[np.float32]]) -> dict[str, object]:
    """Both windows over the same clips: WER, model time (wall and CPU) per clip, and ratios."""
    out: dict[str, object] = {"clips": len(clips)}
    medians: dict[str, float] = {}
    for window in ("full", "fit"):
        stt = Transcriber(window=window)
        try:
            stt.transcribe_sync(clips[0])  # warm
            wall, cpu, edits, total = [], [], 0, 0
            for line, clip in zip(lines, clips, strict=True):
                w, c = time.perf_counter(), time.process_time()
                heard = stt.transcribe_sync(clip).text
                wall.append(1000 * (time.perf_counter() - w))
                cpu.append(1000 * (time.process_time() - c))
                e, n = errors(line, heard)
                edits, total = edits + e, total + n
        finally:
            stt.close()
        out[f"{window}: wer_percent"] = round(100 * edits / max(total, 1), 2)
        out[f"{window}: model_ms"] = percentiles(wall)
        out[f"{window}: model_cpu_ms"] = percentiles(cpu)
        medians[window] = float(np.median(wall))
    out["fit_speedup_x (median model time, full / fit)"] = round(medians["full"] / medians["fit"], 2)
    return out
