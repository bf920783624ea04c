"""What a fresh `make run` gives: the demo content's accuracies and how long its queue takes to drain.

It does what `make run` does in a throw-away data directory (migrate, `load_demo`, one worker per lane as
scripts/run_hub.sh starts them), waits until every job has ended, and prints each demo model's test accuracy
and training time, the time from start to the last job's end, and the host's load average at the start and end.

    python bench/demo.py            # about 5-25 minutes on 2 cores, depending on what else runs

The last line is one JSON object with every figure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANES = ("fast", "default")


def manage(env: dict, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, **kwargs)


def job_states(env: dict) -> list[dict]:
    script = ("import json; from modules_registry.models import Job; "
              "print(json.dumps(list(Job.objects.values('id', 'kind', 'status', 'params', 'result', 'error', "
              "'created_at', 'started_at', 'finished_at')), default=str))")
    return json.loads(manage(env, "shell", "-c", script).stdout.strip().splitlines()[-1])


def model_figures(jobs: list[dict]) -> list[dict]:
    """Each training job's model: its name, test accuracy and training seconds (from the job's result)."""
    rows = []
    for job in sorted(jobs, key=lambda j: j["id"]):
        if job["kind"] == "train":
            result = job["result"] or {}
            rows.append({"name": job["params"].get("name"), "architecture": job["params"].get("architecture"),
                         "test_accuracy": result.get("test_accuracy"), "train_seconds": result.get("seconds")})
    return rows


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="hub-demo-") as data_dir:
        env = {**os.environ, "HUB_DATA_DIR": data_dir, "PYTHONUNBUFFERED": "1"}
        env.pop("DATABASE_URL", None)
        load_start = os.getloadavg()[0]
        started = time.perf_counter()
        manage(env, "migrate", "--noinput")
        manage(env, "load_demo")
        workers = [subprocess.Popen([sys.executable, "manage.py", "db_worker", "--queue-name", lane, "--no-reload"],
                                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for lane in LANES]
        try:
            while True:
                time.sleep(5)
                jobs = job_states(env)
                pending = [j for j in jobs if j["status"] in ("queued", "running")]
                print(f"{time.perf_counter() - started:7.1f} s: {len(jobs) - len(pending)}/{len(jobs)} jobs ended",
                      flush=True)
                if jobs and not pending:
                    break
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
        wall = time.perf_counter() - started
    failed = [j for j in jobs if j["status"] != "succeeded"]
    models = model_figures(jobs)
    for m in models:
        accuracy = "—" if m["test_accuracy"] is None else f"{m['test_accuracy']:.1%}"
        print(f"{m['name']:<20} {m['architecture'] or '':<10} test accuracy {accuracy}, "
              f"trained in {m['train_seconds']} s")
    print(f"{len(jobs)} jobs in {wall:.0f} s wall ({len(failed)} not succeeded); load average "
          f"{load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; {os.cpu_count()} CPUs")
    print(json.dumps({"bench": "demo", "wall_seconds": round(wall, 1), "jobs": len(jobs), "failed": len(failed),
                      "load_average_start": round(load_start, 2), "load_average_end": round(os.getloadavg()[0], 2),
                      "models": models, "kinds": sorted({j["kind"] for j in jobs})}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
