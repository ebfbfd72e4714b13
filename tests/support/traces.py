"""Spans as plain records, from an in-memory exporter or from the stack's JSON-lines files, and
the checks one call's trace must pass: one trace id, every parent present, no personal data."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


@dataclass(frozen=True)
class SpanRecord:
    name: str
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


def from_sdk(spans: Iterable[ReadableSpan]) -> list[SpanRecord]:
    out = []
    for s in spans:
        assert s.context is not None
        out.append(
            SpanRecord(
                name=s.name,
                trace_id=f"{s.context.trace_id:032x}",
                span_id=f"{s.context.span_id:016x}",
                parent_id=f"{s.parent.span_id:016x}" if s.parent else None,
                service=str(s.resource.attributes.get("service.name", "")),
                attributes=dict(s.attributes or {}),
            )
        )
    return out


def from_files(folder: Path) -> list[SpanRecord]:
    """Every span the stack's processes wrote under ``<home>/traces/`` (one JSON object a line)."""
    out = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            s = json.loads(line)
            out.append(
                SpanRecord(
                    name=s["name"],
                    trace_id=s["context"]["trace_id"].removeprefix("0x"),
                    span_id=s["context"]["span_id"].removeprefix("0x"),
                    parent_id=(s.get("parent_id") or "").removeprefix("0x") or None,
                    service=str(s.get("resource", {}).get("attributes", {}).get("service.name", "")),
                    attributes=dict(s.get("attributes") or {}),
                )
            )
    return out


def trace_of(spans: Sequence[SpanRecord], root_name: str, **attributes: Any) -> list[SpanRecord]:
    """The spans of the one trace whose root is ``root_name`` with ``attributes``."""
    roots = [
        s
        for s in spans
        if s.name == root_name and all(s.attributes.get(k) == v for k, v in attributes.items())
    ]
    assert len(roots) == 1, f"{len(roots)} roots named {root_name} with {attributes}"
    return [s for s in spans if s.trace_id == roots[0].trace_id]


def ancestors(spans: Sequence[SpanRecord], span: SpanRecord) -> list[str]:
    """The names from ``span``'s parent up to the root."""
    by_id = {s.span_id: s for s in spans}
    names, parent = [], span.parent_id
    while parent is not None and parent in by_id:
        names.append(by_id[parent].name)
        parent = by_id[parent].parent_id
    return names


def orphans(spans: Sequence[SpanRecord]) -> list[str]:
    """Spans whose parent is in none of ``spans`` (the root's parent may be X-Ray's, outside)."""
    ids = {s.span_id for s in spans}
    return [s.name for s in spans if s.parent_id is not None and s.parent_id not in ids]


def personal_data(spans: Sequence[SpanRecord], secrets: Iterable[str]) -> list[str]:
    """``span.attribute`` for every attribute whose value holds one of ``secrets`` (or its digits)."""
    needles = [n.lower() for n in secrets if n] + [
        d for d in ("".join(c for c in n if c.isdigit()) for n in secrets) if len(d) >= 6
    ]
    found = []
    for s in spans:
        for key, value in s.attributes.items():
            text = str(value).lower()
            digits = "".join(c for c in text if c.isdigit())
            if any(n in text or (n.isdigit() and n in digits) for n in needles):
                found.append(f"{s.name}.{key}")
    return found


def tree(spans: Sequence[SpanRecord]) -> str:
    """The trace drawn as an indented outline (for a failing test's message and the docs)."""
    children: dict[str | None, list[SpanRecord]] = {}
    ids = {s.span_id for s in spans}
    for s in spans:
        children.setdefault(s.parent_id if s.parent_id in ids else None, []).append(s)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            lines.append(f"{'  ' * depth}{s.name} [{s.service}]")
            walk(s.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)
