"""The voice worker's Prometheus metrics, served at ``/metrics`` on the media server's port.

Every metric the voice worker reports is defined here, on a registry of its own (one
:class:`VoiceMetrics` per process, made in ``voice/__main__``; tests make their own). The hot path
is not touched: frames, malformed frames and Realtime errors are counted by the relay already and
added here once, when a call ends; the latency slices are observed as the meter measures them (a
few per turn); barge-ins, Realtime session changes and tool results come through the
conversation's hooks, which run off the audio path.

Labels carry a profile name, a tool name, a slice or a reason, never a phone number, a name or a
call id: a label value that is not a short identifier (``[a-z0-9_-]``, 48 characters at most) is
reported as ``other``, so a mistake cannot turn into a label per caller.

Names follow Prometheus' conventions (``_total`` counters, ``_seconds`` and ``_bytes`` units) under
``switchboard_voice_``; :data:`METRIC_NAMES` lists them, the dashboard and alert tests check
against it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from switchboard.costs import PriceTable, model_cost
from switchboard.models import LatencySlices
from voice.results import ConversationResult

__all__ = ["CONTENT_TYPE", "METRIC_NAMES", "SLICE_BUCKETS", "VoiceMetrics", "label_value"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
PREFIX = "switchboard_voice_"
_LABEL = re.compile(r"[a-z0-9][a-z0-9_-]{0,47}")

# Buckets per slice (seconds), with the budget's edges among them so a quantile near a budget is
# read off a bucket boundary: first audio 0.7 s, interrupt → clear 0.2 s.
_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)
_TURN = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
_SLOW = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
SLICE_BUCKETS: Mapping[str, tuple[float, ...]] = {
    "turn_to_first_audio": _TURN,
    "barge_in_to_clear": _FAST,
    "tool_round_trip": _SLOW,
    "end_intent_to_hangup": _SLOW,
    "goodbye_heard_to_hangup": _FAST,
    "realtime_gap": _SLOW,
}
assert {f"{name}_ms" for name in SLICE_BUCKETS} == set(LatencySlices.model_fields)
LOOP_LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
REALTIME_EVENTS = {
    "realtime_dropped": "dropped",
    "realtime_reconnected": "reconnected",
    "realtime_rolled_over": "rolled_over",
    "realtime_gave_up": "gave_up",
}
STREAM_REFUSALS = ("bad_token", "duplicate", "unclaimed")

# No ``_created`` series beside each counter and histogram: half the series, nothing lost (this
# process is the voice worker, whose only metrics are these).
disable_created_metrics()


def label_value(value: str) -> str:
    """``value`` when it is a short identifier (a profile or tool name), else ``other``."""
    return value if _LABEL.fullmatch(value) else "other"


def _histogram_name(slice_name: str) -> str:
    return f"{PREFIX}{slice_name}_seconds"


class VoiceMetrics:
    """The voice worker's metrics on ``registry`` (a new one by default, with the process's own
    CPU, memory, file descriptors and GC figures unless ``process=False``)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        r = self.registry = registry or CollectorRegistry()
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        p = PREFIX
        self.live_calls = Gauge(f"{p}live_calls", "Conversations running on this worker now.", registry=r)
        self.calls = Counter(
            f"{p}calls",
            "Conversations ended, by profile and end reason.",
            ["profile", "end_reason"],
            registry=r,
        )
        self.streams_accepted = Counter(
            f"{p}streams_accepted", "Media streams accepted (their token verified).", registry=r
        )
        self.streams_refused = Counter(
            f"{p}streams_refused",
            "Media streams refused: bad_token (1008), duplicate or unclaimed (1013).",
            ["reason"],
            registry=r,
        )
        self.frames = Counter(
            f"{p}frames", "Twilio media frames, in (caller) and out (agent).", ["direction"], registry=r
        )
        self.malformed_frames = Counter(f"{p}malformed_frames", "Frames that did not decode.", registry=r)
        self.barge_ins = Counter(
            f"{p}barge_ins", "Caller interruptions of the agent.", ["profile"], registry=r
        )
        self.realtime_errors = Counter(
            f"{p}realtime_errors", "Realtime error events (the call went on).", ["profile"], registry=r
        )
        self.realtime_sessions = Counter(
            f"{p}realtime_sessions",
            "Realtime session changes: dropped, reconnected, rolled_over, gave_up.",
            ["profile", "event"],
            registry=r,
        )
        self.tool_calls = Counter(
            f"{p}tool_calls",
            "Tool calls by result: ok, failed (the tool's error or unreachable), rejected (the workflow refused).",
            ["profile", "tool", "result"],
            registry=r,
        )
        self.recording_bytes = Counter(
            f"{p}recording_bytes", "Recording bytes shipped to S3 (verified uploads).", registry=r
        )
        self.realtime_tokens = Counter(
            f"{p}realtime_tokens",
            "Realtime model tokens of ended calls, by kind (cached ones are part of the input ones).",
            ["profile", "kind"],
            registry=r,
        )
        self.model_cost = Counter(
            f"{p}model_cost_usd",
            "What ended calls' Realtime tokens cost, in US dollars, at the configured price table.",
            ["profile"],
            registry=r,
        )
        self.loop_lag = Histogram(
            f"{p}loop_lag_seconds",
            "How late the event loop ran a timer: the wait a frame has before it is read.",
            buckets=LOOP_LAG_BUCKETS,
            registry=r,
        )
        self.slices = {
            name: Histogram(
                _histogram_name(name),
                f"Latency slice {name} (see voice/latency.py), by profile.",
                ["profile"],
                buckets=buckets,
                registry=r,
            )
            for name, buckets in SLICE_BUCKETS.items()
        }
        for reason in STREAM_REFUSALS:  # every series exists from the start: rate() sees the first one
            self.streams_refused.labels(reason)
        for direction in ("in", "out"):
            self.frames.labels(direction)

    # -- the scrape ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)

    # -- what the worker reports ----------------------------------------------------------------

    def stream_accepted(self) -> None:
        self.streams_accepted.inc()

    def stream_refused(self, reason: str) -> None:
        self.streams_refused.labels(reason if reason in STREAM_REFUSALS else "other").inc()

    def slice_sink(self, profile: str) -> Callable[[str, float], None]:
        """``sink(slice, ms)`` for one call's latency meter: the profile's histograms resolved once."""
        children = {name: h.labels(label_value(profile)) for name, h in self.slices.items()}

        def sink(slice_name: str, ms: float) -> None:
            child = children.get(slice_name.removesuffix("_ms"))
            if child is not None:
                child.observe(ms / 1000.0)

        return sink

    def event(self, profile: str, name: str) -> None:
        """A conversation's notice (the hooks' ``on_event``): barge-ins and Realtime session changes."""
        if name == "barge_in":
            self.barge_ins.labels(label_value(profile)).inc()
        elif name in REALTIME_EVENTS:
            self.realtime_sessions.labels(label_value(profile), REALTIME_EVENTS[name]).inc()

    def tool_result(self, profile: str, tool: str, outcome: str) -> None:
        """A tool call's ``outcome``: ok, failed or rejected."""
        self.tool_calls.labels(label_value(profile), label_value(tool), outcome).inc()

    def call_ended(self, profile: str, result: ConversationResult, prices: PriceTable | None = None) -> None:
        """A conversation's totals, added once when it ends (cancelled ones too)."""
        self.calls.labels(label_value(profile), result.end_reason).inc()
        usage = result.usage
        for kind in (
            "input_text",
            "input_audio",
            "cached_text",
            "cached_audio",
            "output_text",
            "output_audio",
        ):
            count = getattr(usage, kind)
            if count:
                self.realtime_tokens.labels(label_value(profile), kind).inc(count)
        if usage.responses:
            self.model_cost.labels(label_value(profile)).inc(float(model_cost(usage, prices or PriceTable())))
        self.frames.labels("in").inc(result.frames_in)
        self.frames.labels("out").inc(result.frames_out)
        self.malformed_frames.inc(result.malformed_frames)
        if result.realtime_errors:
            self.realtime_errors.labels(label_value(profile)).inc(result.realtime_errors)

    def recording_shipped(self, size: int) -> None:
        self.recording_bytes.inc(size)

    async def watch_loop_lag(self, every_s: float = 0.25) -> None:
        """Until cancelled: sleep ``every_s`` and observe how much later than asked the loop woke."""
        observe, clock = self.loop_lag.observe, time.perf_counter
        while True:
            asked = clock()
            await asyncio.sleep(every_s)
            observe(max(0.0, clock() - asked - every_s))


def _names() -> frozenset[str]:
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    names: set[str] = set()
    for family in VoiceMetrics(process=False).registry.collect():  # labelled ones too, with no samples yet
        names |= {family.name + suffix for suffix in suffixes[family.type]}
    return frozenset(names)


METRIC_NAMES: frozenset[str] = _names()
"""Every sample name this module exposes (``_total``, ``_bucket``, ``_sum``, ``_count`` included)."""
