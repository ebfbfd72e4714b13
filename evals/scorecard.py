"""The scorecard: pass/fail per expectation and per case, pass counts per failure mode, latency
percentiles per slice, a histogram image; written as JSON, Markdown and HTML, shown as a table."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from evals.case import DEFAULT_CEILINGS_MS, SLICES
from evals.comparison import comparison_html, comparison_markdown, print_comparison
from evals.engine import engine_info
from evals.histogram import bin_edges, histogram_png
from evals.replay import CaseResult

OUT_DIR = Path(__file__).resolve().parent / "out"


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """n, p50, p90, p95, max and mean (as ``bench.common.percentiles``; bench is not installed)."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    pct = {f"p{q}": float(np.percentile(arr, q)) for q in (50, 90, 95)}
    return {"n": int(arr.size), **pct, "max": float(arr.max()), "mean": float(arr.mean())}


def build(
    results: Sequence[CaseResult],
    *,
    wall_s: float,
    realtime_url: str,
    concurrency: int,
    repeat: int = 1,
) -> dict[str, Any]:
    """The scorecard as plain data (what scorecard.json holds); ``results`` holds every round's."""
    slices: dict[str, list[float]] = {s: [] for s in SLICES}
    for r in results:
        if r.outcome is not None:
            for s in SLICES:
                slices[s].extend(getattr(r.outcome.latency, s))
    # The phone's own measure of the caller talking over the agent: onset → the last agent frame
    # heard. A stop where the case asks the agent to yield; elsewhere (the disclosure, which is
    # not interruptible) how long the agent rightly played on.
    talked_over: dict[bool, list[float]] = {True: [], False: []}
    for r in results:
        for b in r.phone.get("barge_ins", []):
            if b.get("latency_ms") is not None:
                talked_over[r.barge_in_expected is True].append(float(b["latency_ms"]))
    modes: dict[str, dict[str, Any]] = {}
    for r in results:
        for m in r.modes:
            entry = modes.setdefault(m, {"cases": 0, "passed": 0, "failed": []})
            entry["cases"] += 1
            if r.passed:
                entry["passed"] += 1
            else:
                entry["failed"].append(r.case_id)
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "realtime_url": realtime_url.split("?")[0],
        "engine": engine_info(realtime_url),
        "concurrency": concurrency,
        "repeat": repeat,
        "wall_s": round(wall_s, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cases": len({r.case_id for r in results}),
        "passed": len({r.case_id for r in results} - {r.case_id for r in results if not r.passed}),
        "checks": sum(len(r.checks) for r in results),
        "checks_passed": sum(r.passed_checks for r in results),
        "modes": dict(sorted(modes.items())),
        "latency_ms": {s: percentiles(v) for s, v in slices.items()}
        | {
            "phone_barge_in_stop_ms": percentiles(talked_over[True]),
            "phone_played_on_ms": percentiles(talked_over[False]),
        },
        "latency_samples_ms": slices,
        "results": [result_json(r) for r in results],
    }


def result_json(r: CaseResult) -> dict[str, Any]:
    outcome = r.outcome
    return {
        "case": r.case_id,
        "profile": r.profile,
        "modes": r.modes,
        "call_id": r.call_id,
        "attempt": r.attempt,
        "passed": r.passed,
        "checks_passed": r.passed_checks,
        "checks_total": len(r.checks),
        "known_issue": r.known_issue.model_dump() if r.known_issue else None,
        "known": bool(
            r.known_issue
            and not r.passed
            and r.known_issue.explains([c.name for c in r.checks if not c.passed])
        ),
        "error": r.error,
        "wall_s": round(r.wall_s, 1),
        "outcome": outcome.outcome.value if outcome else None,
        "duration_s": round(outcome.duration_s, 1) if outcome else None,
        "checks": [c.model_dump() for c in r.checks],
        "tools": [
            {"name": t.name, "ok": t.ok, "arguments": t.arguments, "error": t.error}
            for t in (outcome.tool_results if outcome else [])
        ],
        "transcript": [
            f"{t.speaker.value}{' (interrupted)' if t.interrupted else ''}: {t.text}"
            for t in (outcome.transcript if outcome else [])
        ],
        "phone": r.phone,
    }


def write(card: dict[str, Any], out_dir: Path = OUT_DIR) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "scorecard.json",
        "md": out_dir / "scorecard.md",
        "html": out_dir / "scorecard.html",
        "png": out_dir / "latency.png",
    }
    histogram_png(card["latency_samples_ms"], paths["png"], ceilings=DEFAULT_CEILINGS_MS)
    paths["json"].write_text(json.dumps(card, indent=2, default=str))
    paths["md"].write_text(markdown(card))
    paths["html"].write_text(html_page(card))
    return paths


def _fmt(p: dict[str, Any], key: str) -> str:
    return f"{p[key]:.0f}" if key in p else "–"


def _latency_rows(card: dict[str, Any]) -> list[list[str]]:
    return [
        [name, str(p.get("n", 0)), _fmt(p, "p50"), _fmt(p, "p90"), _fmt(p, "p95"), _fmt(p, "max")]
        for name, p in card["latency_ms"].items()
    ]


def _status(r: dict[str, Any]) -> str:
    if r["error"]:
        return "ERROR"
    if r["passed"]:
        return "pass"
    issue = r.get("known_issue")
    return f"fail (known: {issue['cause']})" if r.get("known") and issue else "FAIL (product)"


def _issue_text(issue: dict[str, Any] | None) -> str:
    if not issue:
        return ""
    heard = f"; heard {issue['heard']!r}" if issue.get("heard") else ""
    return f"{issue['cause']}: fails {', '.join(issue['checks'])}{heard} — {issue['evidence']}"


def _attempt(r: dict[str, Any]) -> str:
    return f" (run {r['attempt']})" if r.get("attempt", 1) > 1 else ""


def markdown(card: dict[str, Any]) -> str:
    lines = [
        f"# Eval scorecard — {card['passed']}/{card['cases']} cases, "
        f"{card['checks_passed']}/{card['checks']} checks",
        "",
        f"{card['at']} · engine {card['realtime_url']} · concurrency {card['concurrency']} · "
        f"repeat {card.get('repeat', 1)} · wall {card['wall_s']} s · load {card['load_average']}",
        "",
        *comparison_markdown(card),
        "| case | profile | modes | result | checks | outcome | call s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in card["results"]:
        lines.append(
            f"| {r['case']}{_attempt(r)} | {r['profile']} | {', '.join(r['modes'])} | {_status(r)} | "
            f"{r['checks_passed']}/{r['checks_total']} | {r['outcome']} | {r['duration_s']} |"
        )
    lines += ["", "## Failure modes", "", "| mode | passed | failed cases |", "|---|---|---|"]
    for mode, m in card["modes"].items():
        lines.append(f"| {mode} | {m['passed']}/{m['cases']} | {', '.join(m['failed'])} |")
    lines += ["", "## Latency (ms)", "", "| slice | n | p50 | p90 | p95 | max |", "|---|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in _latency_rows(card)]
    lines += [
        "",
        "![latency histogram](latency.png)",
        "",
        _histogram_caption(card),
        "",
        "## Failed checks",
        "",
    ]
    for r in card["results"]:
        failed = [c for c in r["checks"] if not c["passed"]]
        if not failed and not r["error"]:
            continue
        known = f" — known issue, {_issue_text(r['known_issue'])}" if r.get("known") else ""
        lines.append(f"### {r['case']}{_attempt(r)}{known}")
        if r["error"]:
            lines.append(f"- error: `{r['error']}`")
        lines += [f"- **{c['name']}**: expected `{c['expected']}`, got `{c['actual']}`" for c in failed]
        lines += ["", "<details><summary>transcript</summary>", ""]
        lines += [f"    {t}" for t in r["transcript"]] + ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def _histogram_caption(card: dict[str, Any]) -> str:
    parts = []
    for name, values in card["latency_samples_ms"].items():
        edges = bin_edges(values, 24)
        parts.append(f"{name}: 24 bins over 0–{edges[-1]:.0f} ms")
    return "Panels top to bottom: " + "; ".join(parts) + ". A red line marks the default ceiling."


def html_page(card: dict[str, Any]) -> str:
    esc = html.escape
    rows = []
    for r in card["results"]:
        colour = "#dfd" if r["passed"] else ("#ffe9b0" if r.get("known") else "#fdd")
        checks = "".join(
            f"<li class={'ok' if c['passed'] else 'bad'}>{esc(c['name'])}: expected {esc(c['expected'])}"
            f" — got {esc(c['actual'])}</li>"
            for c in r["checks"]
        )
        transcript = "<br>".join(esc(t) for t in r["transcript"])
        issue = f"<p><b>known issue:</b> {esc(_issue_text(r['known_issue']))}</p>" if r.get("known") else ""
        error = f"<p><b>error:</b> {esc(r['error'])}</p>" if r["error"] else ""
        rows.append(
            f"<tr style='background:{colour}'><td>{esc(r['case'] + _attempt(r))}</td><td>{esc(r['profile'])}</td>"
            f"<td>{esc(', '.join(r['modes']))}</td><td>{esc(_status(r))}</td>"
            f"<td>{r['checks_passed']}/{r['checks_total']}</td><td>{esc(str(r['outcome']))}</td>"
            f"<td><details><summary>checks</summary>{issue}{error}<ul>{checks}</ul>"
            f"<p class=t>{transcript}</p></details></td></tr>"
        )
    modes = "".join(
        f"<tr><td>{esc(k)}</td><td>{m['passed']}/{m['cases']}</td><td>{esc(', '.join(m['failed']))}</td></tr>"
        for k, m in card["modes"].items()
    )
    latency = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in _latency_rows(card)
    )
    return f"""<!doctype html><html><head><meta charset=utf-8><title>Switchboard eval scorecard</title>
<style>body{{font:14px system-ui;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;vertical-align:top}}li.ok{{color:#060}}li.bad{{color:#a00;font-weight:bold}}
p.t{{font:12px monospace}}</style></head><body>
<h1>Eval scorecard: {card["passed"]}/{card["cases"]} cases, {card["checks_passed"]}/{card["checks"]} checks</h1>
<p>{esc(card["at"])} · engine {esc(card["realtime_url"])} · concurrency {card["concurrency"]} ·
wall {card["wall_s"]} s · load {card["load_average"]}</p>
{comparison_html(card)}
<table><tr><th>case</th><th>profile</th><th>modes</th><th>result</th><th>checks</th><th>outcome</th>
<th>detail</th></tr>{"".join(rows)}</table>
<h2>Failure modes</h2><table><tr><th>mode</th><th>passed</th><th>failed cases</th></tr>{modes}</table>
<h2>Latency (ms)</h2><table><tr><th>slice</th><th>n</th><th>p50</th><th>p90</th><th>p95</th><th>max</th></tr>{latency}</table>
<p><img src="latency.png" alt="latency histogram"></p><p>{esc(_histogram_caption(card))}</p>
</body></html>
"""


def print_table(card: dict[str, Any], console: Console) -> None:
    print_comparison(card, console)
    table = Table(title=f"evals: {card['passed']}/{card['cases']} cases passed ({card['wall_s']} s)")
    for col in ("case", "profile", "result", "checks", "outcome", "failed checks"):
        table.add_column(col, overflow="fold")
    for r in card["results"]:
        status = _status(r)
        style = "green" if status == "pass" else ("yellow" if "known" in status else "red")
        failed = ", ".join(c["name"] for c in r["checks"] if not c["passed"]) or (r["error"] or "")
        table.add_row(
            r["case"] + _attempt(r),
            r["profile"],
            f"[{style}]{status}[/]",
            f"{r['checks_passed']}/{r['checks_total']}",
            str(r["outcome"]),
            failed[:160],
        )
    console.print(table)
    lat = Table(title="latency (ms, all calls)")
    for col in ("slice", "n", "p50", "p90", "p95", "max"):
        lat.add_column(col)
    for row in _latency_rows(card):
        lat.add_row(*row)
    console.print(lat)
