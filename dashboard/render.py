"""Templates (Jinja2, autoescaped) and the filters that mask personal data before anything is shown."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from dashboard.live import Event, LiveCall
from dashboard.picture import clock
from dashboard.present import local, summary_items, zone_label
from switchboard import budgets
from switchboard.budgets import first_audio_grade, grade
from switchboard.privacy import mask_phone

TEMPLATES = Path(__file__).parent / "templates"


def masked(node: Any) -> Any:
    """Every phone-like run of digits in strings, dicts and lists, masked."""
    if isinstance(node, str):
        return mask_phone(node)
    if isinstance(node, dict):
        return {k: masked(v) for k, v in node.items()}
    if isinstance(node, list):
        return [masked(v) for v in node]
    return node


def _compact(node: Any) -> str:
    return json.dumps(node, ensure_ascii=False, default=str, separators=(", ", ": "))


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _clock(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {"mask": mask_phone, "masked": masked, "compact": _compact, "iso": _iso, "clock": _clock}
    env.filters |= {"latency_grade": grade, "first_audio_grade": first_audio_grade}
    env.filters |= {
        "local": local,
        "summary_items": summary_items,
        "zone_label": zone_label,
        "clock_s": clock,
    }
    env.globals["budget"] = budgets
    env.globals["tz"] = "UTC"  # a page's context sets the business's zone (state.page)
    return env


class Renderer:
    def __init__(self) -> None:
        self.env = environment()

    def page(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    def live_event(self, event: Event, call: LiveCall | None, csrf: str) -> str:
        """The HTML fragment an event carries: a card, a head, or the new turns / tool results."""
        if call is None:
            return ""
        card = self.env.get_template("_card.html").module
        if event.kind == "card":
            return str(card.card(call, csrf))  # type: ignore[attr-defined]
        if event.kind == "head":
            return str(card.head(call, csrf))  # type: ignore[attr-defined]
        if event.kind == "turns":
            return "".join(str(card.turn(t, i)) for i, t in enumerate(call.turns) if i >= event.start)  # type: ignore[attr-defined]
        if event.kind == "tools":
            return "".join(str(card.tool(t, i)) for i, t in enumerate(call.tools) if i >= event.start)  # type: ignore[attr-defined]
        return ""
