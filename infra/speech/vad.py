"""Streaming voice-activity detection: Silero VAD v6 (ONNX) through onnxruntime.

The model file ships inside faster-whisper (``faster_whisper/assets/silero_vad_v6.onnx``), so
nothing extra is installed or downloaded. That build is 16 kHz only: every window is 512 new
samples (32 ms) preceded by the last 64 samples of the previous window (input ``[1, 576]``),
with the LSTM state carried in ``h`` and ``c``. Telephone audio (8 kHz) and Realtime PCM
(24 kHz) are resampled to 16 kHz with a streaming soxr resampler, so window boundaries never
depend on how the caller chunks its packets.

One ``InferenceSession`` (1 intra-op, 1 inter-op thread) is shared by every stream in the
process; each ``VadStream`` keeps only its own state, so a session costs ~2 KB, not a model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

VAD_RATE = 16000
WINDOW = 512  # samples per decision at 16 kHz
CONTEXT = 64  # samples of the previous window the model sees again
WINDOW_MS = WINDOW * 1000 // VAD_RATE  # 32

_session_lock = threading.Lock()
_session: object | None = None


def model_path() -> Path:
    import faster_whisper

    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.exists():
        raise FileNotFoundError(f"Silero VAD model missing from faster-whisper: {path}")
    return path


def _shared_session() -> object:
    """The process-wide ONNX session (onnxruntime's ``run`` is thread-safe)."""
    global _session
    with _session_lock:
        if _session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.inter_op_num_threads = 1
            opts.log_severity_level = 4
            _session = ort.InferenceSession(
                str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        return _session


@dataclass(frozen=True)
class VadWindow:
    """One 32 ms decision: where it ends on the stream's clock and the speech probability."""

    end_ms: int
    probability: float


class StreamResampler:
    """int16 packets at ``rate`` → float32 at 16 kHz, continuous across packets (soxr stream)."""

    def __init__(self, rate: int) -> None:
        if rate not in (8000, 16000, 24000):
            raise ValueError(f"unsupported VAD input rate {rate}")
        self.rate = rate
        self._stream = None
        if rate != VAD_RATE:
            import soxr

            self._stream = soxr.ResampleStream(rate, VAD_RATE, 1, dtype="float32", quality="HQ")

    def __call__(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        x = pcm.astype(np.float32) / 32768.0
        if self._stream is None:
            return x
        out: npt.NDArray[np.float32] = self._stream.resample_chunk(x)
        return out


class VadStream:
    """Speech probabilities for one audio stream, fed in packets of any size.

    Feed float32 samples at 16 kHz (``feed_16k``) or int16 at the stream's own rate (``feed``);
    get one ``VadWindow`` per 32 ms of audio completed. ``end_ms`` counts audio fed, so it sits
    on the input-audio clock.
    """

    def __init__(self, rate: int = VAD_RATE) -> None:
        self._resample = StreamResampler(rate)
        self._session = _shared_session()
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._windows = 0

    def feed(self, pcm: npt.NDArray[np.int16]) -> list[VadWindow]:
        """Add int16 samples at the stream's rate; return the windows they complete."""
        return self.feed_16k(self._resample(pcm))

    def feed_16k(self, x: npt.NDArray[np.float32]) -> list[VadWindow]:
        """Add float32 samples at 16 kHz in [-1, 1]; return the windows they complete."""
        self._pending = np.concatenate([self._pending, x]) if self._pending.size else x
        out: list[VadWindow] = []
        while self._pending.size >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            self._windows += 1
            out.append(VadWindow(self._windows * WINDOW_MS, self._probability(window)))
        return out

    def _probability(self, window: npt.NDArray[np.float32]) -> float:
        frame = np.concatenate([self._context, window[None, :]], axis=1).astype(np.float32)
        prob, self._h, self._c = self._session.run(  # type: ignore[attr-defined]
            None, {"input": frame, "h": self._h, "c": self._c}
        )
        self._context = frame[:, -CONTEXT:]
        return float(np.asarray(prob).reshape(-1)[0])


def to_vad_rate(pcm: npt.NDArray[np.int16], rate: int) -> npt.NDArray[np.int16]:
    """A whole buffer at 16 kHz (for one-off uses; streams use ``VadStream``)."""
    from voice.audio import resample

    return resample(pcm, rate, VAD_RATE)
