"""``aidants dev-run``: the web server, a worker and the scheduler together; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType


@dataclass(frozen=True)
class Process:
    """One process of the development stack."""

    name: str
    argv: list[str]


def processes(port: int, web_workers: int, instance: Path, sandbox_port: int = 0) -> list[Process]:
    """What `make run` starts. Production runs the same three (see README), each on its own."""
    bin_dir = Path(sys.executable).parent
    celery = [str(bin_dir / "celery"), "-A", "aidants.jobs.worker"]
    found = [
        Process("web", [str(bin_dir / "gunicorn"), "--workers", str(web_workers), "--threads", "4",
                        "--bind", f"127.0.0.1:{port}", "--access-logfile", str(instance / "access.log"), "wsgi:app"]),
        Process("worker", [*celery, "worker", "--pool", "threads", "--concurrency", "4", "-l", "info",
                           "--without-gossip", "--without-mingle"]),
        Process("scheduler", [*celery, "beat", "-l", "info", "--schedule", str(instance / "celerybeat-schedule")]),
    ]
    if sandbox_port:
        # The FranceConnect sandbox and the demonstration service in their own gunicorn: their calls back
        # into the service never take its threads.
        found.append(Process("sandbox", [str(bin_dir / "gunicorn"), "--workers", "1", "--threads", "4",
                                         "--bind", f"127.0.0.1:{sandbox_port}", "sandbox_wsgi:app"]))
    return found


def run(port: int, web_workers: int, instance: Path, sandbox_port: int = 0) -> int:
    """Start every process; when one stops or Ctrl-C / SIGTERM arrives, stop them all; the first failure's code."""
    instance.mkdir(parents=True, exist_ok=True)
    started: list[tuple[Process, subprocess.Popen[bytes]]] = []
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes(port, web_workers, instance, sandbox_port):
            print(f"[dev-run] {process.name}: {' '.join(process.argv)}", flush=True)
            # Each in its own process group, so that Ctrl-C reaches it once, through us.
            started.append((process, subprocess.Popen(process.argv, start_new_session=True)))  # noqa: S603
        code = 0
        while not stopping:
            for process, child in started:
                status = child.poll()
                if status is not None:
                    print(f"[dev-run] {process.name} stopped ({status}): stopping the others", flush=True)
                    code, stopping = status or 1, True
                    break
            else:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    started[0][1].wait(timeout=0.5)
        return code
    finally:
        for _process, child in started:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for process, child in started:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                print(f"[dev-run] {process.name} did not stop: killed", flush=True)
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
