"""The scorecard's latency histogram as a PNG, drawn with numpy and written with zlib.

matplotlib is not installed in this project (and is heavy for one picture), so this draws the
bars itself: one panel per latency slice, stacked, each with ``bins`` bars over [0, max]; the
scorecard's HTML and Markdown carry the axis ranges as text. The PNG encoder is the spec's
minimum: an 8-bit RGB IHDR, one zlib-compressed IDAT with filter byte 0 per row, IEND.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
PANEL_W, PANEL_H, MARGIN = 640, 150, 24
COLOURS = ((52, 120, 200), (220, 120, 40), (60, 160, 90), (170, 70, 160))
BACKGROUND, AXIS, CEILING = (255, 255, 255), (60, 60, 60), (200, 30, 30)


def png_bytes(image: Image) -> bytes:
    """An (h, w, 3) uint8 image as PNG bytes."""
    height, width, _ = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def bin_edges(values: Sequence[float], bins: int) -> npt.NDArray[np.float64]:
    top = max(values) if values else 1.0
    return np.linspace(0.0, max(top, 1.0), bins + 1)


def _panel(values: Sequence[float], colour: tuple[int, int, int], bins: int, ceiling: float | None) -> Image:
    img = np.empty((PANEL_H, PANEL_W, 3), np.uint8)
    img[:] = BACKGROUND
    x0, y0, w, h = MARGIN, MARGIN // 2, PANEL_W - 2 * MARGIN, PANEL_H - MARGIN - MARGIN // 2
    img[y0 + h, x0 : x0 + w] = AXIS
    img[y0 : y0 + h + 1, x0] = AXIS
    if not values:
        return img
    edges = bin_edges(values, bins)
    counts, _ = np.histogram(np.asarray(values, dtype=np.float64), bins=edges)
    peak = max(int(counts.max()), 1)
    bar_w = w / bins
    for i, n in enumerate(counts):
        if n == 0:
            continue
        top = y0 + h - round(h * int(n) / peak)
        left, right = x0 + 1 + round(i * bar_w), x0 + round((i + 1) * bar_w) - 1
        img[top : y0 + h, left : max(right, left + 1)] = colour
    if ceiling is not None and ceiling <= edges[-1]:
        cx = x0 + round(w * ceiling / edges[-1])
        img[y0 : y0 + h, max(cx - 1, 0) : cx + 1] = CEILING
    return img


def histogram_png(
    slices: Mapping[str, Sequence[float]],
    path: Path,
    *,
    bins: int = 24,
    ceilings: Mapping[str, float] | None = None,
) -> Path:
    """One panel per slice, top to bottom in the mapping's order; a red line marks a ceiling."""
    panels = [
        _panel(list(values), COLOURS[i % len(COLOURS)], bins, (ceilings or {}).get(name))
        for i, (name, values) in enumerate(slices.items())
    ]
    image = np.concatenate(panels, axis=0) if panels else np.full((PANEL_H, PANEL_W, 3), 255, np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(image))
    return path
