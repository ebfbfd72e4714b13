"""The comparison with the baseline as the scorecard shows it, first, above the per-case table.

``card["comparison"]`` (set by ``attach``) holds the report of ``evals.baseline.compare``: the
findings by kind, failing cases counted by cause, a warning when the engine differs from the
baseline's, and for ``evals gate`` what changed, what ran and what the sample left out.
"""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console
from rich.table import Table

from evals.baseline import Report

SECTIONS = (
    ("regression", "Regressions", "red"),
    ("new_flake", "New flakes (noise: did not reproduce)", "yellow"),
    ("fix", "Fixes", "green"),
    ("still_failing", "Still failing (as in the baseline)", "yellow"),
    ("new_case", "New cases (not in the baseline)", "cyan"),
)


def attach(card: dict[str, Any], report: Report, gate: dict[str, Any] | None = None) -> dict[str, Any]:
    """Put the report (and the gate's selection) into the scorecard."""
    card["comparison"] = {
        "summary": report.summary(),
        "regressions": len(report.regressions),
        "engine_warning": report.engine_warning,
        "causes": report.causes(),
        "known_by_cause": _known_by_cause(report),
        "flaky_now": sorted(f.case for f in report.findings if 0 < f.rate < 1),
        "findings": [f.model_dump() for f in report.findings if f.kind != "pass"],
        "gate": gate,
    }
    return card


def _known_by_cause(report: Report) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in report.findings:
        if f.known and f.cause:
            out[f.cause] = out.get(f.cause, 0) + 1
    return dict(sorted(out.items()))


def _label(f: dict[str, Any]) -> str:
    cause = f" [{f['cause']}{', known issue' if f['known'] else ''}]" if f.get("cause") else ""
    return f"{f['case']}{cause}"


def _gate_lines(gate: dict[str, Any]) -> list[str]:
    lines = [f"Gate: changes since {gate.get('base') or '(no base: the smoke set)'}"]
    lines += [f"- {r}" for r in gate.get("reasons", [])]
    lines.append(f"ran: {', '.join(gate.get('ran', []))}")
    if gate.get("sampled_out"):
        lines.append(
            f"SAMPLED: {len(gate['ran'])} of {len(gate['ran']) + len(gate['sampled_out'])} selected cases ran; "
            f"left out: {', '.join(gate['sampled_out'])} (the full set: make evals)"
        )
    return lines


def comparison_markdown(card: dict[str, Any]) -> list[str]:
    comp = card.get("comparison")
    if not comp:
        return []
    lines = [f"## Against the baseline: {comp['summary']}", ""]
    if comp.get("engine_warning"):
        lines += [f"**Warning:** {comp['engine_warning']}", ""]
    if comp.get("gate"):
        lines += [*_gate_lines(comp["gate"]), ""]
    for kind, title, _ in SECTIONS:
        found = [f for f in comp["findings"] if f["kind"] == kind]
        if found:
            lines += [f"### {title}: {len(found)}", ""]
            lines += [f"- **{_label(f)}**: {f['detail']}" for f in found] + [""]
    causes = ", ".join(f"{k} {v}" for k, v in comp["causes"].items()) or "none"
    known = ", ".join(f"{k} {v}" for k, v in comp["known_by_cause"].items()) or "none"
    lines += [f"Failing cases by cause: {causes}. Known issues by cause: {known}.", ""]
    return lines


def comparison_html(card: dict[str, Any]) -> str:
    comp = card.get("comparison")
    if not comp:
        return ""
    esc = html.escape
    colours = {"regression": "#fdd", "new_flake": "#ffe9b0", "fix": "#dfd", "still_failing": "#fff4d6"}
    parts = [f"<h2>Against the baseline: {esc(comp['summary'])}</h2>"]
    if comp.get("engine_warning"):
        parts.append(f"<p><b>Warning:</b> {esc(comp['engine_warning'])}</p>")
    if comp.get("gate"):
        parts.append("<p>" + "<br>".join(esc(x) for x in _gate_lines(comp["gate"])) + "</p>")
    for kind, title, _ in SECTIONS:
        found = [f for f in comp["findings"] if f["kind"] == kind]
        if found:
            rows = "".join(
                f"<tr style='background:{colours.get(kind, '#fff')}'><td>{esc(_label(f))}</td>"
                f"<td>{esc(f['detail'])}</td></tr>"
                for f in found
            )
            parts.append(f"<h3>{esc(title)}: {len(found)}</h3><table>{rows}</table>")
    causes = ", ".join(f"{k} {v}" for k, v in comp["causes"].items()) or "none"
    known = ", ".join(f"{k} {v}" for k, v in comp["known_by_cause"].items()) or "none"
    parts.append(f"<p>Failing cases by cause: {esc(causes)}. Known issues by cause: {esc(known)}.</p>")
    return "\n".join(parts)


def print_comparison(card: dict[str, Any], console: Console) -> None:
    comp = card.get("comparison")
    if not comp:
        return
    style = "red" if comp["regressions"] else "green"
    console.rule(f"[{style}]against the baseline: {comp['summary']}")
    if comp.get("engine_warning"):
        console.print(f"[yellow]warning: {comp['engine_warning']}[/]")
    if comp.get("gate"):
        for line in _gate_lines(comp["gate"]):
            console.print(line, style="bold yellow" if line.startswith("SAMPLED") else None)
    table = Table(title="findings (regressions first)", show_lines=False)
    for col in ("finding", "case", "detail"):
        table.add_column(col, overflow="fold")
    for kind, _title, colour in SECTIONS:
        for f in (f for f in comp["findings"] if f["kind"] == kind):
            table.add_row(f"[{colour}]{kind}[/]", _label(f), f["detail"][:300])
    if table.row_count:
        console.print(table)
    causes = ", ".join(f"{k} {v}" for k, v in comp["causes"].items()) or "none"
    known = ", ".join(f"{k} {v}" for k, v in comp["known_by_cause"].items()) or "none"
    console.print(f"failing cases by cause: {causes}; known issues by cause: {known}")


__all__ = ["attach", "comparison_html", "comparison_markdown", "print_comparison"]
