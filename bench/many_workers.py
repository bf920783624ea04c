"""Many `db_worker` processes draining one queue: the 40 mixed jobs of tests/registry/test_many_workers.py
(14 data set imports, 14 model imports, 6 trainings, 2 decompositions, 4 builds), drained by N workers.

The suite drains it with 2 workers on SQLite and on PostgreSQL; this times other counts (4 workers on 2 cores: more
processes than cores) on a throw-away database: a fresh SQLite file, or a fresh database on the PostgreSQL server at
--postgres-url (dropped after). For each count: a new user and its lineage (a 3-class data set, a narrow ResCNN
trained on it and its modules, made through the real jobs), the 40 jobs queued, N workers started, and once the
queue has drained the test's own checks (tests/registry/mixed_queue.py: each job ran exactly once by its row, its
task row and the workers' logs, none lost, no "database is locked"). Prints the drain time and the jobs each worker
ran, and the host's load average before and after; the last line is one JSON object with every figure.

    python bench/many_workers.py --db postgres --workers 4        # about 2-4 minutes on 2 cores
    python bench/many_workers.py --db sqlite --workers 2,4
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "registry")]

from load import postgres_database  # noqa: E402  (bench/load.py, beside this file)


def drain_once(workers: int, database: str, media: Path, log_dir: Path) -> dict:
    from django.core.management import call_command

    from factories import make_user
    from mixed_queue import check_each_job_ran_once, describe, drain_with_workers, queue_mixed_jobs, row_counts
    from tiny_lineage import make_tiny_lineage

    def drain_in_process():  # the lineage's jobs; their per-job log lines would only bury the figures
        quiet = logging.getLogger("modules_registry")
        level = quiet.level
        quiet.setLevel(logging.WARNING)
        try:
            call_command("db_worker", batch=True, startup_delay=False, queue_name="fast,default,gpu", reload=False,
                         verbosity=0)
        finally:
            quiet.setLevel(level)

    user = make_user(f"bench-{workers}-{time.monotonic_ns()}")  # its own builds: none answered from another's cache
    lineage = make_tiny_lineage(user, drain_in_process)
    before = row_counts()
    queued = queue_mixed_jobs(user, lineage)
    load_before = os.getloadavg()[0]
    drain = drain_with_workers(queued, workers, media, log_dir)
    per_worker = check_each_job_ran_once(queued, drain, before)
    print(describe(queued, drain, per_worker, workers, database), flush=True)
    return {"database": database, "workers": workers, "jobs": len(queued), "drain_seconds": round(drain.seconds, 1),
            "jobs_per_worker": dict(sorted(per_worker.items())), "load_before": load_before,
            "load_after": os.getloadavg()[0]}


def run(args, database_env: dict, work: Path) -> list[dict]:
    media = work / "media"
    media.mkdir()
    os.environ.update({**database_env, "HUB_DATA_DIR": str(work), "HUB_MEDIA_ROOT": str(media), "HUB_QUOTA_JOBS": "0",
                       "DJANGO_SETTINGS_MODULE": "hub.settings"})
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    results = []
    for workers in args.workers:
        log_dir = work / f"logs-{workers}"
        log_dir.mkdir()
        results.append(drain_once(workers, args.db, media, log_dir))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--postgres-url", default="postgres://postgres:hub-test@127.0.0.1:5432")
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[4],
                        help="worker counts, comma-separated (one drain each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hub-many-workers-") as tmp:
        work = Path(tmp)
        if args.db == "sqlite":
            results = run(args, {"HUB_SQLITE_PATH": str(work / "hub.sqlite3")}, work)
        else:
            with postgres_database(args.postgres_url) as url:  # bench/load.py's fresh, dropped-after database
                if url is None:
                    return 1
                results = run(args, {"DATABASE_URL": url}, work)
    print(json.dumps({"host_cores": os.cpu_count(), "drains": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
