"""Streaming one response: wait for the words, let the policy decide, speak at real-time pace.

Speech is synthesised clause by clause (``split_sentences``): the first clause alone, and
while the latency profile's wait runs (the wait is a floor, not an addition), so the first
audio comes as early as it can; as soon as it is ready, every other clause of the reply
is queued for synthesis at once, ``SYNTH_CONCURRENCY`` at a time and in order, so the speech
process never idles while audio is still to come and a slow clause (a long read-back on a
loaded machine) has the whole of the earlier clauses' playback to get ready in. Audio is
encoded to the session's output format and sent in ``chunk_ms`` deltas no more than
``lead_ms`` ahead of real time, as the real service does, so a barge-in cuts a response that
is still playing. All events go through ``ResponseWriter``; a cancelled response raises
``ResponseGone`` there and this task ends quietly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np

from infra.realtime_engine.faults import Options
from infra.realtime_engine.response_events import ActiveResponse, ResponseGone
from infra.realtime_engine.session import Session
from infra.speech.tts import split_sentences
from voice.audio import Pcm16, resample, to_mulaw_8k

log = logging.getLogger(__name__)
SYNTH_CONCURRENCY = 2  # clauses synthesised at once after the first


class Speech(Protocol):
    async def synthesize(self, text: str, *, length_scale: float | None = None) -> tuple[Pcm16, int]: ...


def encode(pcm: Pcm16, rate: int, fmt: dict[str, Any]) -> tuple[bytes, int]:
    """Samples → (bytes in the output format, bytes per ms)."""
    if fmt.get("type") == "audio/pcmu":
        return to_mulaw_8k(pcm, rate), 8
    return resample(pcm, rate, 24000).astype("<i2").tobytes(), 48


class Responder:
    def __init__(
        self, session: Session, speech: Speech, options: Options, inputs_ready: Callable[[], Awaitable[None]]
    ) -> None:
        self.session = session
        self.speech = speech
        self.options = options
        self.inputs_ready = inputs_ready

    async def run(self, resp: ActiveResponse) -> None:
        first: asyncio.Task[tuple[bytes, int]] | None = None
        try:
            await self.inputs_ready()
            plan = self.session.plan(resp)
            sentences = (split_sentences(plan.say) or [plan.say]) if plan.say else []
            if sentences and resp.modality == "audio":  # synthesise while the latency profile waits
                first = asyncio.create_task(self._synth(sentences[0], resp.audio_format))
            await self._first_output_delay(resp)
            if plan.say:
                if first is not None:
                    await self._speak(resp, sentences, first)
                else:
                    self._write_text(resp, sentences)
            for name, args in plan.calls:
                self.session.writer.function_call(resp, name, args)
            self.session.finish_response(resp, plan)
        except ResponseGone:
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # TTS down or a bug: fail this response, keep the session
            log.exception("response failed")
            self.session.fail_response(resp, f"{type(exc).__name__}")
        finally:
            if first is not None and not first.done():
                first.cancel()

    async def _first_output_delay(self, resp: ActiveResponse) -> None:
        target = resp.started + (self.options.latency_ms + self.options.delay_ms) / 1000
        wait = target - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def _write_text(self, resp: ActiveResponse, sentences: list[str]) -> None:
        self.session.writer.begin_message(resp)
        for i, sentence in enumerate(sentences):
            self.session.writer.text(resp, (" " if i else "") + sentence)
        self.session.writer.end_message(resp)

    async def _synth(self, sentence: str, fmt: dict[str, Any]) -> tuple[bytes, int]:
        pcm, rate = await self.speech.synthesize(sentence)
        return encode(np.asarray(pcm, dtype=np.int16), rate, fmt)

    async def _speak(
        self, resp: ActiveResponse, sentences: list[str], first: asyncio.Task[tuple[bytes, int]]
    ) -> None:
        writer = self.session.writer
        fmt = resp.audio_format
        slots = asyncio.Semaphore(SYNTH_CONCURRENCY)

        async def bounded(sentence: str) -> tuple[bytes, int]:
            async with slots:
                return await self._synth(sentence, fmt)

        pending = [first]
        writer.begin_message(resp)
        t0: float | None = None
        sent_ms = 0.0
        try:
            for i, sentence in enumerate(sentences):
                data, per_ms = await pending[i]
                if i == 0:  # the first clause is ready: queue all the others behind it
                    pending += [asyncio.create_task(bounded(s)) for s in sentences[1:]]
                writer.text(resp, (" " if i else "") + sentence, len(data) / per_ms)
                step = self.options.chunk_ms * per_ms
                for at in range(0, len(data), step):
                    chunk = data[at : at + step]
                    if t0 is None:
                        t0 = time.monotonic()
                    wait = t0 + (sent_ms - self.options.lead_ms) / 1000 - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    writer.audio(resp, chunk, len(chunk) / per_ms)
                    sent_ms += len(chunk) / per_ms
        finally:
            for task in pending:
                task.cancel()
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved: a clause that failed after the response ended is no error
        writer.end_message(resp)
