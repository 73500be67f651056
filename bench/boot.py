"""Boot figures: importing the package and ``create_app`` in a fresh interpreter, and its memory after that.

    .venv/bin/python -m bench.boot                 # 15 runs, median and max
    .venv/bin/python -m bench.boot --importtime    # also the slowest imports (python -X importtime) of one run

Each run is a new ``python`` process (as a gunicorn worker starts: the master imports the app, or each worker
does with ``--preload`` off) with development settings and throw-away secrets. The time of the whole process
(interpreter start included) is printed too. Bytecode is written as a deployment would (the variable
PYTHONDONTWRITEBYTECODE, if set in this shell, is removed for the runs). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cards import random_key

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import json, time
started, cpu = time.perf_counter(), time.process_time()
import aidants
imported = time.perf_counter()
app = aidants.create_app()
built, cpu = time.perf_counter(), time.process_time() - cpu
rss = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:"))
print(json.dumps({"import": imported - started, "create_app": built - imported, "cpu": cpu, "rss_kb": rss}))
"""


def environ(workdir: Path, bytecode: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update({"AIDANTS_ENV": "development", "AIDANTS_INSTANCE": str(workdir / "instance"),
                "DATABASE_URL": f"sqlite:///{workdir / 'boot.sqlite3'}", "SECRET_KEY": random_key(),
                "SEED_ENCRYPTION_KEYS": "b1:" + random_key(), "JOURNAL_SIGNING_KEY": random_key(),
                "USAGER_SUB_KEY": random_key()})
    return env


def one_run(env: dict[str, str]) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process"] = time.perf_counter() - started
    return figures


def slowest_imports(env: dict[str, str], count: int) -> list[tuple[int, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import aidants; aidants.create_app()"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if len(name) - len(name.lstrip()) <= 3:  # the app's imports and their direct dependencies
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true", help="print the slowest imports of one more run")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE=1 (modules without .pyc files are compiled at each start)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-boot-") as tmp:
        env = environ(Path(tmp), bytecode=not args.no_bytecode)
        one_run(env)  # writes the bytecode, creates the instance folder
        load = os.getloadavg()[0]
        runs = [one_run(env) for _ in range(args.runs)]
        load = max(load, os.getloadavg()[0])
        print(f"{args.runs} runs; machine load (1 min) up to {load:.1f} on {os.cpu_count()} CPUs")
        for name, unit, scale in [("import", "s", 1), ("create_app", "s", 1), ("process", "s", 1),
                                  ("rss_kb", "MB", 1 / 1024)]:
            values = [run[name] * scale for run in runs]
            label = {"import": "import aidants", "process": "whole process", "rss_kb": "RSS after create_app"}
            print(f"{label.get(name, name):<22} median {statistics.median(values):7.2f} {unit}   "
                  f"max {max(values):7.2f} {unit}")
        boot = [run["import"] + run["create_app"] for run in runs]
        print(f"{'import + create_app':<22} median {statistics.median(boot):7.2f} s    max {max(boot):7.2f} s")
        cpu = [run["cpu"] for run in runs]  # this process's CPU: steadier than wall time on a busy machine
        print(f"{'  of which CPU':<22} median {statistics.median(cpu):7.2f} s    max {max(cpu):7.2f} s")
        if args.importtime:
            print("\nslowest imports (cumulative ms):")
            for micros, name in slowest_imports(env, 25):
                print(f"{micros / 1000:9.1f}  {name}")


if __name__ == "__main__":
    main()
