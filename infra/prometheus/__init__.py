"""Debian's ``prometheus`` for the local stack: a generated config scraping every service that has
metrics, the alerting rules of this folder, its UI on ``127.0.0.1:<Ports.prometheus>`` (9090) and
its data under the stack's home.

The scrape jobs (``job`` label): ``voice`` (each voice worker's ``/metrics``), ``voice_sdk`` and
``worker_sdk`` (the Temporal SDK's metrics of the two workers), ``temporal`` (the dev server's
own) and ``prometheus``. ``make up`` installs the package when it is missing
(``scripts/install-prometheus.sh``); without it, ``switchboard up`` says so and starts the rest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from infra.stack import ServiceSpec, http_ok
from switchboard.config import LOCAL_HOST, Settings

__all__ = ["ALERTS", "DASHBOARD", "SDK_METRIC_NAMES", "binary", "config", "jobs", "service"]

HERE = Path(__file__).resolve().parent
ALERTS = HERE / "alerts.yaml"
DASHBOARD = HERE / "grafana-dashboard.json"
# The Temporal SDK's metrics that the alerts and the dashboard use, as temporalio 1.35's runtime
# names them (switchboard.temporal.metrics_runtime: seconds, _total suffixes), and Prometheus' own.
SDK_METRIC_NAMES = frozenset(
    {
        "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
        "temporal_activity_schedule_to_start_latency_seconds_bucket",
        "temporal_worker_task_slots_available",
        "temporal_activity_execution_failed_total",
        "temporal_workflow_completed_total",
        "up",
        "process_cpu_seconds_total",
    }
)
MISSING = "prometheus is not installed: `make up` installs Debian's package (scripts/install-prometheus.sh)"


def binary() -> str | None:
    """Debian's ``prometheus`` (``/usr/bin/prometheus``), or None when it is not installed."""
    return shutil.which("prometheus")


def jobs(settings: Settings) -> dict[str, str]:
    """Every scrape target of the stack: job name → host:port (all serve ``/metrics``)."""
    p = settings.ports
    return {
        "voice": f"{LOCAL_HOST}:{p.voice}",
        "voice_sdk": f"{LOCAL_HOST}:{p.voice_sdk_metrics}",
        "worker_sdk": f"{LOCAL_HOST}:{p.worker_sdk_metrics}",
        "temporal": f"{LOCAL_HOST}:{p.temporal_metrics}",
        "prometheus": f"{LOCAL_HOST}:{p.prometheus}",
    }


def _targets(settings: Settings) -> dict[str, list[str]]:
    """``jobs``, with the voice jobs on each worker of the pool (haproxy holds the voice port)."""
    from infra.voice_pool import pool_settings

    targets = {job: [target] for job, target in jobs(settings).items()}
    pool = pool_settings(settings)
    targets["voice"] = [f"{LOCAL_HOST}:{w.ports.voice}" for w in pool]
    targets["voice_sdk"] = [f"{LOCAL_HOST}:{w.ports.voice_sdk_metrics}" for w in pool]
    return targets


def config(settings: Settings, *, scrape_interval_s: float = 5.0) -> str:
    """The ``prometheus.yml`` of the local stack, as YAML text."""
    every = f"{max(1, round(scrape_interval_s))}s"
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": every, "evaluation_interval": every},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]}
                for job, targets in _targets(settings).items()
            ],
        },
        sort_keys=False,
    )


def service(settings: Settings, *, scrape_interval_s: float = 5.0) -> ServiceSpec:
    """Prometheus as a service of the stack; its config is written under ``<home>/prometheus``."""
    port = settings.ports.prometheus
    home = settings.home / "prometheus"
    found = binary()
    argv = [
        found or "prometheus",
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        "--storage.tsdb.retention.time=7d",
        f"--web.listen-address={LOCAL_HOST}:{port}",
        "--web.enable-lifecycle",  # POST /-/reload after the config changed
    ]
    if found is not None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "prometheus.yml").write_text(config(settings, scrape_interval_s=scrape_interval_s))
    return ServiceSpec(
        name="prometheus",
        argv=argv,
        port=port,
        url=f"http://{LOCAL_HOST}:{port}  (alerts: /alerts)",
        health=http_ok(f"http://{LOCAL_HOST}:{port}/-/ready"),
        ready_timeout_s=30.0,
        description="Prometheus: scrapes the workers and Temporal, evaluates the alerts",
        unavailable="" if found else MISSING,
    )
