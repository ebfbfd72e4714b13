"""Accessibility checks of a page in the browser: axe-core's WCAG 2 A/AA rules when it is installed
(scripts/install-axe.sh, from npm), and always a checklist of our own: every control named and
reachable by keyboard, the page's language and headings, and text contrast of at least 4.5:1."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".local" / "node" / "node_modules" / "axe-core" / "axe.min.js"

CHECKLIST = r"""() => {
  const problems = [];
  const name = (el) => {
    const by = el.getAttribute("aria-labelledby");
    const labelled = by ? by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" ") : "";
    const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : "";
    return (el.getAttribute("aria-label") || labelled || label || el.closest("label")?.textContent ||
            el.textContent || el.getAttribute("title") || "").trim();
  };
  const controls = document.querySelectorAll('a[href], button, select, textarea, input:not([type=hidden]), [role=button], [tabindex]');
  for (const el of controls) {
    const what = el.outerHTML.slice(0, 80);
    if (!name(el)) problems.push("no accessible name: " + what);
    if (el.matches("[role=button], svg [tabindex]") && el.tabIndex < 0) problems.push("not keyboard-reachable: " + what);
  }
  if (!document.documentElement.lang) problems.push("the page has no lang");
  if (document.querySelectorAll("h1").length !== 1) problems.push("not exactly one h1");
  const rgb = (s) => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || seen.has(el) || el.closest("svg, script, style, details:not([open]) > :not(summary)")) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || el.offsetParent === null) continue;
    const fg = lum(rgb(style.color).slice(0, 3)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}:1 for "${n.textContent.trim().slice(0, 40)}"`);
  }
  return problems;
}"""

AXE_RUN = """async () => {
  const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"] } });
  return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(" | ")}`);
}"""


@cache
def axe_source() -> str | None:
    """axe-core's script, installed by scripts/install-axe.sh if missing; None if npm cannot get it."""
    if not AXE.exists():
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "install-axe.sh")], check=False, capture_output=True, timeout=300
        )
    return AXE.read_text(encoding="utf-8") if AXE.exists() else None


async def accessibility_problems(page: Any) -> list[str]:
    """What is wrong with the page as it stands: the checklist's findings, then axe-core's violations."""
    problems: list[str] = await page.evaluate(CHECKLIST)
    source = axe_source()
    if source is not None:
        await page.evaluate(source)  # through the DevTools protocol: the page's CSP does not apply
        problems += await page.evaluate(AXE_RUN)
    return problems


def axe_installed() -> bool:
    return axe_source() is not None
