"""A queue of 40 mixed jobs drained by N real `db_worker` processes, and the checks that each job ran exactly once.

Shared by tests/registry/test_many_workers.py and bench/many_workers.py (which times more workers than the suite
runs), so that the benchmark drains the very queue the test checks.
"""
from __future__ import annotations

import collections
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tasks_db.models import DBTaskResult

from modules_registry.models import BaseModel, Build, Dataset, Decomposition, Job
from modules_registry.services.builds import start_build
from modules_registry.services.datasets import import_builtin_dataset, upload_dataset
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.models import start_training, upload_model
from tiny_lineage import TINY_SEARCH, Lineage, digits_npz
from worker_process import start_worker, stop_worker, wait_for

STARTED = re.compile(r"job (\d+) \((\w+)\) started on worker (\S+)")
COUNTED = {"datasets": Dataset, "models": BaseModel, "builds": Build, "decompositions": Decomposition}


def queue_mixed_jobs(user, lineage: Lineage) -> dict[int, str]:
    """40 jobs of four kinds, interleaved as users would send them; {job id: kind}."""
    dataset, model, m = lineage.dataset, lineage.model, lineage.modules
    jobs = []
    for i in range(14):
        if i % 2:
            jobs.append(import_builtin_dataset(owner=user, builtin="digits-16", name=f"builtin-{i}"))
        else:
            jobs.append(upload_dataset(owner=user, archive=SimpleUploadedFile(f"d{i}.npz", digits_npz(2 + i % 3)),
                                       name=f"uploaded-{i}", image_size=[16, 16]))
        jobs.append(upload_model(owner=user, weights=SimpleUploadedFile(f"m{i}.safetensors", lineage.weights),
                                 name=f"imported-{i}", class_names=dataset.class_names, input_spec=dataset.input_spec,
                                 dataset=dataset, architecture=model.architecture, arch_kwargs=model.arch_kwargs))
        if i < 6:
            jobs.append(start_training(owner=user, dataset=dataset, name=f"trained-{i}", architecture="rescnn",
                                       arch_kwargs={"width": 0.125}, config={"epochs": 1, "seed": i}, device="cpu"))
        if i < 2:
            jobs.append(start_decomposition(owner=user, model=model, overrides=TINY_SEARCH, seed=i + 1, device="cpu"))
        if i < 4:  # distinct selections: no build is answered from the cache
            chosen = [[m[0], m[1]], [m[0], m[2]], [m[1], m[2]], m][i]
            jobs.append(start_build(owner=user, modules=[x.pk for x in chosen], device="cpu").job)
    assert len(jobs) == 40 and all(job is not None for job in jobs)
    return {job.pk: job.kind for job in jobs}


def row_counts() -> dict[str, int]:
    return {name: model.objects.count() for name, model in COUNTED.items()}


@dataclass
class Drain:
    seconds: float
    logs: dict[str, str]  # worker log file name -> its text


def drain_with_workers(queued: dict[int, str], workers: int, media: Path, log_dir: Path) -> Drain:
    """Start ``workers`` worker processes on every lane, wait until none of ``queued`` is queued or running
    (10 minutes at most), stop them; the seconds from the first start to the drained queue, and their logs."""
    logs = [log_dir / f"worker-{i}.log" for i in range(workers)]
    started = time.monotonic()
    processes = []
    try:
        for i, path in enumerate(logs):
            with path.open("w") as handle:
                # One thread each: N workers share this machine's cores instead of each claiming all of them.
                processes.append(start_worker(media, worker_id=f"pool-{i}", stdout=handle,
                                              stderr=subprocess.STDOUT, OMP_NUM_THREADS="1"))
        wait_for(lambda: not Job.objects.filter(pk__in=queued, status__in=["queued", "running"]).exists(), 600,
                 "the queue to drain")
        seconds = time.monotonic() - started
    finally:
        for process in processes:
            stop_worker(process)
    return Drain(seconds, {path.name: path.read_text() for path in logs})


def check_each_job_ran_once(queued: dict[int, str], drain: Drain, before: dict[str, int]) -> collections.Counter:
    """Every queued job succeeded, started exactly once on one of the pool by the workers' logs, its job row and its
    task row, registered its result once, and no log shows a locked database or a traceback; jobs per worker."""
    rows = Job.objects.filter(pk__in=queued)
    failed = {j.pk: (j.kind, j.error[:300]) for j in rows if j.status != "succeeded"}
    assert not failed, failed

    # The workers' logs: each job started exactly once, on one of the pool, and none of them hit a locked database.
    runs = collections.Counter()
    per_worker = collections.Counter()
    for output in drain.logs.values():
        for job_id, kind, worker in STARTED.findall(output):
            if int(job_id) in queued:
                assert queued[int(job_id)] == kind
                runs[int(job_id)] += 1
                per_worker[worker] += 1
    assert set(runs) == set(queued) and set(runs.values()) == {1}, runs
    assert all("database is locked" not in output for output in drain.logs.values())
    assert all("Traceback" not in output for output in drain.logs.values()), drain.logs
    # The rows: each job and its task were claimed by one worker, once; each result was registered once.
    for job in rows:
        assert job.log.count("started on worker") == 1 and job.worker_id.startswith("pool-"), job.log
        task = DBTaskResult.objects.get(id=job.task_id)
        assert task.status == "SUCCESSFUL" and task.worker_ids == [job.worker_id]
    kinds = collections.Counter(queued.values())
    after = row_counts()
    assert after["datasets"] - before["datasets"] == kinds["import_dataset"] == 14
    assert after["models"] - before["models"] == kinds["import_model"] + kinds["train"] == 20
    assert after["decompositions"] - before["decompositions"] == kinds["decompose"] == 2
    assert after["builds"] - before["builds"] == kinds["build"] == 4
    assert not default_storage.listdir("uploads")[1]  # every staged upload was consumed
    return per_worker


def describe(queued: dict[int, str], drain: Drain, per_worker: collections.Counter, workers: int,
             database: str) -> str:
    mix = ", ".join(f"{n} {k}" for k, n in collections.Counter(queued.values()).items())
    return (f"{workers} workers on {database}: 40 jobs ({mix}) drained in {drain.seconds:.1f} s, jobs per worker "
            f"{dict(sorted(per_worker.items()))}")
