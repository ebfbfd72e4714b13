"""What every benchmark shares: percentiles, a printed table, ``bench/out/<name>.json``; and what the
multi-process ones share: pinning to a core, a command pipe, the loop-lag ticker, Twilio media
frames and TLS files."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from time import perf_counter_ns
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

OUT_DIR = Path(__file__).resolve().parent / "out"

STREAM_SID = "MZ0123456789abcdef0123456789abcdef"
MEDIA_FRAME = (
    '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
    '"timestamp":"%d","payload":"%s"},"streamSid":"' + STREAM_SID + '"}'
)
"""A Twilio media frame as Twilio writes it: ``MEDIA_FRAME % (sequence, chunk, timestamp ms, payload)``."""


def pin(core: int) -> None:
    """Run this process on ``core`` only (where the machine has more than one)."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {core})


def command_queue(pipe: Connection) -> asyncio.Queue[Any]:
    """What the coordinator sends down ``pipe``, as a queue on the running loop."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    asyncio.get_running_loop().add_reader(pipe.fileno(), lambda: queue.put_nowait(pipe.recv()))
    return queue


async def loop_lag(samples: list[int], every_s: float = 0.005) -> None:
    """Append, every ``every_s``, how late (ns) this process's loop woke: its core, not its peers.

    On ``perf_counter``, not ``loop.time()``: uvloop's clock is cached per iteration in whole ms, so
    a deadline computed late in a long iteration would start early and overstate the lag.
    """
    step = int(every_s * 1e9)
    while True:
        due = perf_counter_ns() + step
        await asyncio.sleep(every_s)
        samples.append(perf_counter_ns() - due)


def percentiles(values: Iterable[float]) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of a sample (empty sample → n=0 only)."""
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        return {"n": 0}
    return {
        "n": int(arr.size),
        "p50": float(np.percentile(arr, 50)),
        "p95": float(np.percentile(arr, 95)),
        "p99": float(np.percentile(arr, 99)),
        "max": float(arr.max()),
        "mean": float(arr.mean()),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def report(name: str, figures: Mapping[str, Any], *, notes: str = "") -> Path:
    """Print ``figures`` (a flat or one-level nested mapping) and write them to bench/out/<name>.json."""
    table = Table(title=f"bench: {name}")
    table.add_column("figure")
    table.add_column("value")
    for key, value in figures.items():
        if isinstance(value, Mapping):
            table.add_row(key, "  ".join(f"{k}={_fmt(v)}" for k, v in value.items()))
        else:
            table.add_row(key, _fmt(value))
    console = Console()
    console.print(table)
    console.print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if notes:
        console.print(notes)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    payload = {
        "name": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg": os.getloadavg()},
        "figures": figures,
        "notes": notes,
    }
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


@dataclass(frozen=True)
class TlsFiles:
    """A throwaway CA and a 127.0.0.1 server certificate signed by it, as PEM files (trustme)."""

    ca: str
    server: str  # the server's key and certificate chain, in one file

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca)


def make_tls_files(folder: Path) -> TlsFiles:
    """Certificates for a benchmark's wss:// leg; a client trusts them through ``ca`` (or ``SSL_CERT_FILE``)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(ca=str(folder / "ca.pem"), server=str(folder / "server.pem"))
    ca.cert_pem.write_to_path(files.ca)
    cert.private_key_and_cert_chain_pem.write_to_path(files.server)
    return files
