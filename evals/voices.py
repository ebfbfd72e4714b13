"""Extra caller voices for the bank, rendered with Debian's ``espeak-ng`` into small 8 kHz WAVs.

The phone network speaks ``say`` steps with Piper's one offline voice (joe). Every other
voice available offline comes from espeak-ng: its English accents (US, British RP, Scottish,
Lancashire, West Midlands, Caribbean) and its female variant. espeak-ng is deterministic, so a
case's ``renders`` (``path → {voice, text, speed}``) always produce the same file; the files
are kept in the bank so a run needs no espeak-ng, and are rendered again only when missing
(``scripts/install-espeak.sh`` installs espeak-ng). ``python -m evals.voices`` renders them all.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from evals.case import BANK_DIR, Case, load_bank
from voice.audio import read_wav, resample, write_wav

RATE = 8000
INSTALL = Path(__file__).resolve().parents[1] / "scripts" / "install-espeak.sh"


class VoiceUnavailable(RuntimeError):
    """A case needs a rendered voice file, and espeak-ng is not installed to render it."""


def render(voice: str, text: str, path: Path, speed: int = 160) -> Path:
    """``text`` spoken by espeak-ng's ``voice`` → a mono 16-bit 8 kHz WAV at ``path``."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise VoiceUnavailable(f"espeak-ng is not installed (run {INSTALL.name}) to render {path.name}")
    wav = subprocess.run(
        [binary, "-v", voice, "-s", str(speed), "--stdout", text],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    pcm, rate = read_wav(wav)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, [resample(pcm, rate, RATE)], RATE)
    return path


def ensure_rendered(case: Case, bank: Path = BANK_DIR) -> list[Path]:
    """Render the case's missing voice files; returns the files rendered now."""
    made = []
    for rel, spec in case.renders.items():
        target = bank / rel
        if not target.exists():
            made.append(render(str(spec["voice"]), str(spec["text"]), target, int(spec.get("speed", 160))))
    return made


def render_all(force: bool = False) -> list[Path]:
    made: list[Path] = []
    for case in load_bank():
        for rel, spec in case.renders.items():
            target = BANK_DIR / rel
            if force or not target.exists():
                made.append(
                    render(str(spec["voice"]), str(spec["text"]), target, int(spec.get("speed", 160)))
                )
    return made


def main(argv: list[str] | None = None) -> int:
    force = "--force" in (argv if argv is not None else sys.argv[1:])
    made = render_all(force=force)
    sizes: dict[str, Any] = {p.name: p.stat().st_size for p in made}
    print(f"rendered {len(made)} file(s)", sizes if sizes else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
