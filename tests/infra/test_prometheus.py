"""The local Prometheus: its generated config, the alerting rules (``promtool check rules`` and
``promtool test rules``: each alert fires on a breaking series and stays quiet on a healthy one),
the Grafana dashboard naming only metrics that exist, and a stack that says so when Prometheus is
not installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra import prometheus
from infra.stack import Stack
from infra.testing import isolated_settings
from infra.voice_pool import HAPROXY
from voice.metrics import METRIC_NAMES

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian's prometheus: `make unit` installs it)"
)
KNOWN = METRIC_NAMES | prometheus.SDK_METRIC_NAMES
_KEYWORDS = {"by", "without", "or", "and", "unless", "on", "ignoring", "group_left", "group_right", "bool"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (not its functions, labels or keywords)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        following = expr[m.end() :].lstrip()
        if following.startswith("(") or m.group() in _KEYWORDS or m.group() in {"Inf", "NaN"}:
            continue
        names.add(m.group())
    return names


def test_names_are_read_from_promql() -> None:
    expr = 'histogram_quantile(0.95, sum by (le, profile) (rate(a_bucket{x="y"}[5m]))) > 0.7 or vector(0) + b'
    assert metric_names(expr) == {"a_bucket", "b"}


@needs_promtool
def test_rules_check_and_their_unit_tests_pass() -> None:
    assert PROMTOOL is not None
    check = subprocess.run(
        [PROMTOOL, "check", "rules", str(prometheus.ALERTS)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = prometheus.ALERTS.with_name("alerts.test.yaml")
    run = subprocess.run(
        [PROMTOOL, "test", "rules", tests.name], cwd=tests.parent, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_has_a_firing_and_a_quiet_case_and_names_known_metrics() -> None:
    rules = [r for g in yaml.safe_load(prometheus.ALERTS.read_text())["groups"] for r in g["rules"]]
    alerts = {r["alert"] for r in rules}
    assert len(alerts) == 8
    for rule in rules:
        assert metric_names(rule["expr"]) <= KNOWN, (rule["alert"], metric_names(rule["expr"]) - KNOWN)
    cases = yaml.safe_load(prometheus.ALERTS.with_name("alerts.test.yaml").read_text())["tests"]
    fires = {t["alertname"] for c in cases for t in c["alert_rule_test"] if t["exp_alerts"]}
    quiet = {t["alertname"] for c in cases for t in c["alert_rule_test"] if not t["exp_alerts"]}
    assert fires == quiet == alerts


def test_the_dashboard_parses_and_names_only_metrics_that_exist() -> None:
    dashboard = json.loads(prometheus.DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 20
    named = set().union(*(metric_names(e) for e in exprs))
    assert named <= KNOWN, named - KNOWN
    for slice_name in ("turn_to_first_audio", "barge_in_to_clear", "tool_round_trip", "realtime_gap"):
        assert f"switchboard_voice_{slice_name}_seconds_bucket" in named


def test_the_config_scrapes_every_service_with_metrics(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path, voice_workers=1)
    cfg = yaml.safe_load(prometheus.config(settings, scrape_interval_s=1))
    targets = {c["job_name"]: c["static_configs"][0]["targets"] for c in cfg["scrape_configs"]}
    p = settings.ports
    assert targets == {
        "voice": [f"127.0.0.1:{p.voice}"],
        "voice_sdk": [f"127.0.0.1:{p.voice_sdk_metrics}"],
        "worker_sdk": [f"127.0.0.1:{p.worker_sdk_metrics}"],
        "temporal": [f"127.0.0.1:{p.temporal_metrics}"],
        "prometheus": [f"127.0.0.1:{p.prometheus}"],
    }
    assert cfg["rule_files"] == [str(prometheus.ALERTS)] and cfg["global"]["scrape_interval"] == "1s"
    pool = isolated_settings(tmp_path, voice_workers=2)  # behind haproxy: each worker, not the balancer
    if shutil.which(HAPROXY) is not None:
        cfg = yaml.safe_load(prometheus.config(pool))
        voice = next(c for c in cfg["scrape_configs"] if c["job_name"] == "voice")["static_configs"][0]
        first = pool.ports.voice_workers
        assert voice["targets"] == [f"127.0.0.1:{first}", f"127.0.0.1:{first + 1}"]
    if PROMTOOL is not None:
        path = tmp_path / "prometheus.yml"
        path.write_text(prometheus.config(settings))
        check = subprocess.run([PROMTOOL, "check", "config", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


async def test_a_stack_without_prometheus_says_so_and_starts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prometheus, "binary", lambda: None)
    settings = isolated_settings(tmp_path)
    spec = prometheus.service(settings)
    assert spec.unavailable and "make up" in spec.unavailable
    stack = Stack(settings, [spec])
    (report,) = await stack.up()
    assert not report.running and report.note == spec.unavailable
    (status,) = await stack.status()
    assert status.note == spec.unavailable
    assert stack.down() == []
