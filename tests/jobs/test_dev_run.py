"""`aidants dev-run` (what `make run` starts): web, worker and scheduler come up together; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.conftest import TEST_SECRETS
from tests.jobs.sink import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(p) for p in (task / "children").read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a local URL)
            return response.status == 200
    except OSError:
        return False


def test_dev_run_starts_the_three_processes_and_ctrl_c_stops_them_all(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **TEST_SECRETS, "AIDANTS_ENV": "test", "DATABASE_URL": database_url,
           "AIDANTS_INSTANCE": str(tmp_path / "instance"), "CELERY_BROKER_URL": f"sqla+sqlite:///{tmp_path}/b.sqlite3"}
    log = (tmp_path / "dev-run.log").open("wb")
    process = subprocess.Popen([str(Path(sys.executable).parent / "aidants"), "dev-run", "--port", str(port),
                                "--web-workers", "1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(120):  # up to about a minute: each try waits up to 0.5 s in process.wait
            if _healthy(f"http://127.0.0.1:{port}/healthz") and len(_children(process.pid)) == 3:
                break
            try:
                process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
            break
        children = _children(process.pid)
        assert len(children) == 3, (tmp_path / "dev-run.log").read_text()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert not any(_alive(pid) for pid in children)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    text = (tmp_path / "dev-run.log").read_text()
    assert "[dev-run] web:" in text and "[dev-run] worker:" in text and "[dev-run] scheduler:" in text
