"""Shared benchmark harness: serve a WSGI app with gunicorn, load it with wrk, record results.

Machines here are shared and noisy, so a figure is never an absolute requests/s: it is a
ratio against the bare hello-world app (`hello.py`) served the same way in the same run,
measured alternately with the target (`interleaved`) so that noise hits both sides alike.

Scripts run as ``.venv/bin/python bench/<script>.py``; Python puts ``bench/`` first on
``sys.path``, so they simply ``import harness``. This module prints: it is used by scripts
(command-line programs), never by the application.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
WRK_SCRIPT = BENCH_DIR / "wrk_report.lua"
#: gunicorn spec of the baseline app; `serve` puts bench/ on the workers' path.
HELLO = "hello:app"
# Taken when a script imports the harness, i.e. before it starts loading the machine itself.
_LOAD_AT_START = [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_bin(name: str) -> str:
    # The venv's own gunicorn, so the served app runs on exactly the packages under test.
    return str(Path(sys.executable).parent / name)


@contextlib.contextmanager
def serve(
    wsgi_spec: str,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] = REPO_ROOT,
    extra_args: Iterable[str] = (),
    ready_path: str = "/",
    timeout: float = 30.0,
) -> Iterator[str]:
    """Serve `wsgi_spec` with gunicorn on a free port; yield its base URL; always stop it.

    `env` is added to (not substituted for) the current environment. The server runs in its
    own process group, so stopping it takes the workers along even if the master hangs. Any
    HTTP answer on `ready_path` (even a 404) counts as ready.
    """
    port = free_port()
    cmd = [
        _venv_bin("gunicorn"),
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        f"--pythonpath={BENCH_DIR}",
    ]
    if os.path.isdir("/dev/shm"):
        # Worker heartbeats on an overlay/disk filesystem can stall workers (gunicorn docs).
        cmd.append("--worker-tmp-dir=/dev/shm")
    cmd += [*extra_args, wsgi_spec]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_ready(proc, url + ready_path, timeout, log)
            yield url
        finally:
            _stop(proc)


def _wait_ready(proc: subprocess.Popen, url: str, timeout: float, log: Any) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered; the status is the app's business
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    log.seek(0)
    tail = log.read().decode(errors="replace")[-3000:]
    raise RuntimeError(f"gunicorn did not answer at {url} (exit code {proc.poll()}):\n{tail}")


def _stop(proc: subprocess.Popen) -> None:
    # SIGTERM lets the master stop its workers gracefully; it exits only once they are gone.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    # Anything left in the group (a hung master or an orphaned worker) is killed outright.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package when it is missing."""
    path = shutil.which("wrk")
    if path:
        return path
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("wrk is missing: installing it with `apt-get update && apt-get install -y wrk`")
    subprocess.run([*sudo, "apt-get", "update"], check=True)
    subprocess.run([*sudo, "apt-get", "install", "-y", "wrk"], check=True)
    path = shutil.which("wrk")
    if not path:
        raise RuntimeError("wrk is still missing after apt-get install")
    return path


def _run_wrk(
    url: str, seconds: float, connections: int, threads: int,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    cmd = [
        ensure_wrk(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--script={WRK_SCRIPT}",
        *(f"--header={name}: {value}" for name, value in (headers or {}).items()),
        url,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    match = re.search(r"^WRK_JSON (.*)$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    return json.loads(match.group(1))


def measure_rps(
    url: str, seconds: float = 10, connections: int = 16, threads: int = 2, warmup: float = 2,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Load `url` with wrk and return requests/s, latency percentiles (ms) and failures.

    A `warmup` run (discarded) comes first, so lazy imports, caches and connection pools are
    warm. `non_2xx_3xx` counts responses with another status; `socket_errors` counts
    connect/read/write errors and timeouts. A benchmark should report both, and treat a
    non-zero count as a failed run rather than a fast one. `headers` go with every request
    (a signed-in visitor's ``Cookie``).
    """
    threads = min(threads, connections)
    if warmup > 0:
        _run_wrk(url, warmup, connections, threads, headers)
    raw = _run_wrk(url, seconds, connections, threads, headers)
    duration_s = raw["duration_us"] / 1e6
    return {
        "url": url,
        "seconds": round(duration_s, 3),
        "connections": connections,
        "threads": threads,
        "requests": raw["requests"],
        "rps": round(raw["requests"] / duration_s, 1),
        "latency_ms": {
            key: round(raw[f"latency_{key}_us"] / 1000, 3)
            for key in ("p50", "p90", "p99", "mean", "max")
        },
        "non_2xx_3xx": raw["errors_status"],
        "socket_errors": sum(
            raw[f"errors_{kind}"] for kind in ("connect", "read", "write", "timeout")
        ),
    }


def interleaved(
    pairs: Mapping[str, Callable[[], dict[str, Any]]]
    | Iterable[tuple[str, Callable[[], dict[str, Any]]]],
    rounds: int = 3,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Run each named measurement in turn (A, B, A, B, ...) and report medians and ratios.

    Each measurement is a callable returning `measure_rps`' dict. `baseline` (by default
    the last name) is the denominator: `ratio[name]` is the median of the per-round ratios,
    each taken from two measurements made back to back, so a burst of noise lands on both;
    `ratio_spread[name]` is their [min, max], the noise a reader should allow for.
    """
    items = list(pairs.items() if isinstance(pairs, Mapping) else pairs)
    names = [name for name, _ in items]
    baseline = baseline or names[-1]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(rounds):
        for name, measure in items:
            runs[name].append(measure())
    median = {
        name: {
            "rps": statistics.median(r["rps"] for r in results),
            "latency_p50_ms": statistics.median(r["latency_ms"]["p50"] for r in results),
            "latency_p99_ms": statistics.median(r["latency_ms"]["p99"] for r in results),
            "non_2xx_3xx": sum(r["non_2xx_3xx"] for r in results),
            "socket_errors": sum(r["socket_errors"] for r in results),
        }
        for name, results in runs.items()
    }
    per_round = {
        name: [
            round(r["rps"] / b["rps"], 4) if b["rps"] else None
            for r, b in zip(runs[name], runs[baseline], strict=True)
        ]
        for name in names
        if name != baseline
    }
    ratio = {
        name: round(statistics.median(v for v in values if v is not None), 4)
        for name, values in per_round.items()
        if any(v is not None for v in values)
    }
    spread = {
        name: [min(v for v in values if v is not None), max(v for v in values if v is not None)]
        for name, values in per_round.items()
        if name in ratio
    }
    return {
        "rounds": rounds,
        "baseline": baseline,
        "ratio": ratio,
        "ratio_per_round": per_round,
        "ratio_spread": spread,
        "median": median,
        "runs": runs,
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def git_state() -> dict[str, Any]:
    """``{"commit": HEAD or None, "dirty": bool}``: which code a result measured.

    Dirty means uncommitted changes outside bench/results/, so re-running a benchmark
    over a committed result does not mark the next result dirty.
    """
    status = _git("status", "--porcelain", "--", ".", ":(exclude)bench/results")
    return {"commit": _git("rev-parse", "HEAD") or None, "dirty": bool(status)}


def _proc_field(path: str, field: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == field:
                    return value.strip()
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_facts() -> dict[str, Any]:
    """What the figures were measured on; ratios travel between machines, numbers don't."""
    mem_kib = _proc_field("/proc/meminfo", "MemTotal")
    wrk = shutil.which("wrk")
    wrk_version = None
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout
        wrk_version = out.split(" Copyright")[0].strip() or None
    return {
        "cpu_model": _proc_field("/proc/cpuinfo", "model name") or platform.processor(),
        "cpu_count": os.cpu_count(),
        "cpu_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_total_mb": round(int(mem_kib.split()[0]) / 1024) if mem_kib else None,
        "load_average_start": _LOAD_AT_START,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "gunicorn": _version("gunicorn"),
        "flask": _version("flask"),
        "wrk": wrk_version,
    }


def write_result(
    name: str, data: Mapping[str, Any], results_dir: str | os.PathLike[str] = RESULTS_DIR
) -> Path:
    """Write `results/<name>.json` saying what ran, when, on what, at which commit; print it.

    The commit and dirty flag come from :func:`git_state`.
    """
    record = {
        "name": name,
        "command": shlex.join([os.path.relpath(sys.executable, REPO_ROOT), *sys.argv]),
        "timestamp_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git": git_state(),
        "machine": machine_facts(),
        "data": data,
    }
    path = Path(results_dir) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    print(summary(record, path))
    return path


def summary(record: Mapping[str, Any], path: Path) -> str:
    """A few lines for the terminal: where the result went, the machine, the ratios."""
    m, git = record["machine"], record["git"]
    lines = [
        f"{record['name']}: wrote {path}",
        f"  {m['cpu_model']} x{m['cpu_count']}, {m['memory_total_mb']} MB, "
        f"load {m['load_average_start']}; commit {(git['commit'] or '?')[:10]}"
        + (" (dirty)" if git["dirty"] else ""),
    ]
    data = record["data"]
    for key, value in data.items():
        if key != "baseline" and isinstance(value, str | int | float | bool):
            lines.append(f"  {key}: {value}")
    for key, value in (data.get("median") or {}).items():
        lines.append(
            f"  {key}: {value['rps']:.0f} req/s median, p99 {value['latency_p99_ms']} ms, "
            f"{value['non_2xx_3xx']} bad statuses, {value['socket_errors']} socket errors"
        )
    for key, value in (data.get("ratio") or {}).items():
        spread = (data.get("ratio_spread") or {}).get(key)
        lines.append(
            f"  ratio {key}/{data.get('baseline', 'baseline')}: {value}"
            + (f" (rounds from {spread[0]} to {spread[1]})" if spread else "")
        )
    return "\n".join(lines)
