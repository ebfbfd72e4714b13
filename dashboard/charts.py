"""Server-rendered SVG charts for the overview: the geometry here, the markup in ``_charts.html``.

No chart library and nothing fetched at run time: a stacked bar per day, and a bar per latency
slice against its budget line. Every chart has a text alternative (its ``summary``) and a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from dashboard.figures import OUTCOME_STYLE, Overview, SliceFigure
from switchboard.models import Outcome

WIDTH = 760
BARS_HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 12, 34


@dataclass
class Segment:
    outcome: Outcome
    count: int
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Day:
    day: date
    total: int
    label: str  # shown under the bar, or "" when the axis is too crowded for it
    x_mid: float
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Tick:
    value: int
    y: float


@dataclass
class StackedBars:
    width: int
    height: int
    days: list[Day]
    ticks: list[Tick]
    left: int
    bottom_y: float
    summary: str


def nice_ceiling(n: int) -> int:
    """The axis maximum: 1, 2, 5 × a power of ten, at least ``n`` (and at least 4, for a readable axis)."""
    n = max(n, 4)
    power = 10 ** math.floor(math.log10(n))
    for step in (1, 2, 5, 10):
        if step * power >= n:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def stacked_bars(ov: Overview) -> StackedBars:
    days = list(ov.by_day)
    top = nice_ceiling(max((sum(c.values()) for c in ov.by_day.values()), default=0))
    plot_h = BARS_HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    bar_w = max(step * 0.7, 2.0)
    every = 1 if len(days) <= 14 else 5
    bottom_y = float(TOP + plot_h)
    out: list[Day] = []
    for i, d in enumerate(days):
        counts = ov.by_day[d]
        x = LEFT + i * step + (step - bar_w) / 2
        label = d.strftime("%a %-d") if every == 1 else (d.strftime("%-d %b") if i % every == 0 else "")
        day = Day(day=d, total=sum(counts.values()), label=label, x_mid=x + bar_w / 2)
        y = float(bottom_y)
        for outcome, (colour, name) in OUTCOME_STYLE.items():
            n = counts[outcome]
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            title = f"{d:%a %-d %b}: {n} {name.lower()}"
            day.segments.append(Segment(outcome, n, x, y, bar_w, h, colour, title))
        out.append(day)
    ticks = [Tick(v, bottom_y - plot_h * v / top) for v in _tick_values(top)]
    busiest = max(out, key=lambda d: d.total, default=None)
    summary = f"{ov.calls} calls over {len(days)} days"
    if busiest is not None and busiest.total:
        summary += f"; the busiest day was {busiest.day:%A %-d %B} with {busiest.total}"
    return StackedBars(WIDTH, BARS_HEIGHT, out, ticks, LEFT, bottom_y, summary + ".")


def _tick_values(top: int) -> list[int]:
    step = top // 4 if top % 4 == 0 else top // 5 if top % 5 == 0 else max(top // 2, 1)
    return list(range(0, top + 1, max(step, 1)))


@dataclass
class SliceBar:
    figure: SliceFigure
    p50_w: float  # the bar's length, in px from the row's start
    p95_x: float  # the p95 marker
    budget_x: float
    grade: str  # ok / amber / red, of the p95 against the budget


@dataclass
class LatencyChart:
    width: int
    bar_left: int
    bar_width: int
    rows: list[SliceBar]


def latency_chart(ov: Overview) -> LatencyChart:
    """Each slice on its own scale, up to twice its budget (or its p95, if further): the budget line
    sits at the same place in every row, so a bar past it reads as over budget at a glance."""
    bar_left, bar_width = 0, 420
    rows = []
    for f in ov.slices:
        scale_max = max(2 * f.budget_ms, (f.p95 or 0) * 1.05)
        px = bar_width / scale_max
        p95 = f.p95 or 0.0
        grade = "ok" if p95 <= f.budget_ms else ("red" if p95 > 1.5 * f.budget_ms else "amber")
        rows.append(SliceBar(f, (f.p50 or 0.0) * px, p95 * px, f.budget_ms * px, grade))
    return LatencyChart(width=bar_left + bar_width + 4, bar_left=bar_left, bar_width=bar_width, rows=rows)


__all__ = ["LatencyChart", "StackedBars", "latency_chart", "nice_ceiling", "stacked_bars"]
