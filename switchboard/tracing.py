"""One OpenTelemetry trace per call: the process's tracer provider, the Temporal interceptor, spans.

Every process sets its tracer provider up once (:func:`install`, called by
``switchboard.temporal.connect_client``, so nothing that talks to Temporal can forget it), and every
Temporal client carries :func:`interceptor` (``temporalio.contrib.opentelemetry``), which puts the
current context in each start, signal, Update and activity's headers. The trace that the web form's
Lambda opens therefore runs through the callback workflow, the call workflow, their activities and
the voice worker's ``converse``, where :func:`span` adds one span per turn and per tool round trip.

Where spans go, by the standard variables first:

* ``OTEL_SDK_DISABLED=true`` — no provider and no interceptor: tracing off (the benchmark's "off").
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) — OTLP over HTTP,
  batched; every ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_BSP_*`` variable applies.
* ``OTEL_TRACES_EXPORTER`` — ``otlp``, ``console`` (stderr), ``none``, or ``file``.
* otherwise a local stack (AWS on a local endpoint) writes JSON lines, one span a line, to
  ``<home>/traces/<service>-<pid>.jsonl`` as each span ends; a stack in AWS with no endpoint
  exports nothing (the provider still carries the trace id from process to process).

Spans carry our own ids and statuses only: never a phone number, a name or anything said.
Workflow code never calls this module: the interceptor makes the workflows' spans, replay-safe.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.util.types import AttributeValue
from temporalio import client as temporal_client
from temporalio.contrib.opentelemetry import TracingInterceptor

from switchboard.config import Settings, get_settings

__all__ = [
    "JsonLinesExporter",
    "QuietTracingInterceptor",
    "enabled",
    "flush",
    "install",
    "interceptor",
    "span",
    "xray_context",
]

TRACER_NAME = "switchboard"
_lock = threading.Lock()
_installed: TracerProvider | None = None


def enabled() -> bool:
    """False when ``OTEL_SDK_DISABLED`` is true: no spans and no interceptor in this process."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() not in ("true", "1")


class JsonLinesExporter(SpanExporter):
    """Each span as one JSON line (the SDK's own ``to_json``, compacted) appended to ``path``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(_record(s), separators=(",", ":")) + "\n" for s in spans)
        with self._lock:
            self._file.write(lines)
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()


def _record(span: ReadableSpan) -> dict[str, Any]:
    """A span as one compact JSON object, in the field names of the SDK's own ``to_json`` (which
    pretty-prints and costs several times as much: this runs once per span in the voice worker)."""
    ctx, parent = span.context, span.parent
    return {
        "name": span.name,
        "context": {
            "trace_id": f"0x{ctx.trace_id:032x}" if ctx else None,
            "span_id": f"0x{ctx.span_id:016x}" if ctx else None,
        },
        "kind": str(span.kind),
        "parent_id": f"0x{parent.span_id:016x}" if parent else None,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": {"status_code": span.status.status_code.name},
        "attributes": dict(span.attributes or {}),
        "links": [
            {
                "context": {
                    "trace_id": f"0x{link.context.trace_id:032x}",
                    "span_id": f"0x{link.context.span_id:016x}",
                }
            }
            for link in span.links
        ],
        "resource": {"attributes": dict(span.resource.attributes)},
    }


def _processor(settings: Settings, service: str) -> SpanProcessor | None:
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if chosen == "otlp" or (not chosen and endpoint):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return BatchSpanProcessor(OTLPSpanExporter())
    if chosen == "console":
        return BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr))
    if chosen == "file" or (not chosen and settings.is_local_aws):
        path = settings.home / "traces" / f"{_safe(service)}-{os.getpid()}.jsonl"

        return SimpleSpanProcessor(JsonLinesExporter(path))  # a line per span, written as it ends
    return None


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name) or "switchboard"


def install(settings: Settings | None = None, service: str | None = None) -> TracerProvider | None:
    """This process's tracer provider, set globally once (later calls return the first one).

    ``service`` names the process (``OTEL_SERVICE_NAME`` first, then this, then the program).
    """
    global _installed
    if not enabled():
        return None
    with _lock:
        if _installed is not None:
            return _installed
        s = settings or get_settings()
        name = (
            os.environ.get("OTEL_SERVICE_NAME")
            or service
            or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
            or Path(sys.argv[0] or "python").stem
        )
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        processor = _processor(s, name)
        if processor is not None:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _installed = provider
        return provider


def flush(timeout_ms: int = 2000) -> None:
    """Export what is buffered (a Lambda before it freezes)."""
    if _installed is not None:
        _installed.force_flush(timeout_ms)


class _QuietClientOutbound(temporal_client.OutboundInterceptor):
    """Queries pass untraced: the voice worker and the dashboard poll them every second, and a
    query with no trace header makes no span in the workflow either."""

    def __init__(
        self, traced: temporal_client.OutboundInterceptor, plain: temporal_client.OutboundInterceptor
    ):
        super().__init__(traced)
        self._plain = plain

    async def query_workflow(self, input: temporal_client.QueryWorkflowInput) -> Any:
        return await self._plain.query_workflow(input)


class QuietTracingInterceptor(TracingInterceptor):
    """The contrib's interceptor, less the once-a-second query spans."""

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _QuietClientOutbound(super().intercept_client(next), next)


def interceptor() -> list[TracingInterceptor]:
    """The Temporal interceptors for a client: the tracing one, or none when tracing is off."""
    return [QuietTracingInterceptor(trace.get_tracer(TRACER_NAME))] if enabled() else []


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[trace.Span]:
    """A span under the current one (ids and statuses only in ``attributes``)."""
    with trace.get_tracer(TRACER_NAME).start_as_current_span(name, attributes=attributes) as current:
        yield current


def xray_context(header: str | None = None) -> tuple[otel_context.Context | None, str | None]:
    """The OTel parent of a Lambda invocation from its X-Ray header (``_X_AMZN_TRACE_ID``), and the
    X-Ray trace id: ``Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1``
    becomes trace id ``5759e988bd862e3fe1be46a994272793`` under span ``53995c3f42cd8ad8``, so the
    call's trace has the X-Ray trace's id. (None, None) without a usable header (local runs)."""
    raw = header if header is not None else os.environ.get("_X_AMZN_TRACE_ID", "")
    fields = dict(part.split("=", 1) for part in raw.split(";") if "=" in part)
    root = re.fullmatch(r"1-([0-9a-f]{8})-([0-9a-f]{24})", fields.get("Root", ""))
    parent = re.fullmatch(r"[0-9a-f]{16}", fields.get("Parent", ""))
    if root is None:
        return None, None
    trace_id = int(root.group(1) + root.group(2), 16)
    if parent is None:
        return None, fields["Root"]
    # Always sampled here: X-Ray samples a few requests a second, and every call gets its trace.
    remote = SpanContext(trace_id, int(parent.group(0), 16), is_remote=True, trace_flags=TraceFlags(1))
    return trace.set_span_in_context(NonRecordingSpan(remote)), fields["Root"]
