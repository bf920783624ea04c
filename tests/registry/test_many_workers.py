"""#19.2: many `db_worker` processes share one queue. Two and then four workers on PostgreSQL (and two on SQLite)
drain 40 mixed jobs (imports, trainings, decompositions, builds): every job runs exactly once, none is lost, none
is run twice, which the job rows, the task rows and the workers' own logs each show."""
import collections
import re
import subprocess
import time

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tasks_db.models import DBTaskResult

from modules_registry.models import BaseModel, Build, Dataset, Decomposition, Job, Module
from modules_registry.services.builds import start_build
from modules_registry.services.datasets import import_builtin_dataset, upload_dataset
from modules_registry.services.decompositions import start_decomposition
from modules_registry.services.models import start_training, upload_model
from tiny_lineage import TINY_SEARCH, Lineage, digits_npz, make_tiny_lineage
from worker_process import start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

STARTED = re.compile(r"job (\d+) \((\w+)\) started on worker (\S+)")


@pytest.fixture
def lineage(user, drain_jobs) -> Lineage:
    return make_tiny_lineage(user, drain_jobs)


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


def on(database: str):
    return pytest.mark.skipif(
        connection.vendor != database,
        reason=f"a {database} run: this run's database is {connection.vendor} (the PostgreSQL runs are in "
               "scripts/test_postgres.sh, with DATABASE_URL=postgres://...; it skips them when no server is reachable)")


@pytest.mark.parametrize("database, workers", [pytest.param("sqlite", 2, marks=on("sqlite")),
                                               pytest.param("postgresql", 2, marks=on("postgresql")),
                                               pytest.param("postgresql", 4, marks=on("postgresql"))])
def test_workers_drain_a_mixed_queue_running_each_job_exactly_once(database, workers, user, lineage, isolated_media,
                                                                   tmp_path, settings):
    settings.HUB_QUOTA_JOBS = 0  # one user queues all 40
    before = {"datasets": Dataset.objects.count(), "models": BaseModel.objects.count(), "builds": Build.objects.count(),
              "decompositions": Decomposition.objects.count()}
    queued = queue_mixed_jobs(user, lineage)
    logs = [tmp_path / f"worker-{i}.log" for i in range(workers)]
    started = time.monotonic()
    processes = []
    for i, path in enumerate(logs):
        with path.open("w") as handle:
            # One thread each: N workers share this machine's cores instead of each claiming all of them.
            processes.append(start_worker(isolated_media, worker_id=f"pool-{i}", stdout=handle,
                                          stderr=subprocess.STDOUT, OMP_NUM_THREADS="1"))
    try:
        wait_for(lambda: not Job.objects.filter(pk__in=queued, status__in=["queued", "running"]).exists(), 600,
                 "the queue to drain")
    finally:
        for process in processes:
            stop_worker(process)
    seconds = time.monotonic() - started
    rows = Job.objects.filter(pk__in=queued)
    failed = {j.pk: (j.kind, j.error[:300]) for j in rows if j.status != "succeeded"}
    assert not failed, failed

    # The workers' logs: each job started exactly once, on one of the pool, and none of them hit a locked database.
    text = {path.name: path.read_text() for path in logs}
    runs = collections.Counter()
    per_worker = collections.Counter()
    for output in text.values():
        for job_id, kind, worker in STARTED.findall(output):
            if int(job_id) in queued:
                assert queued[int(job_id)] == kind
                runs[int(job_id)] += 1
                per_worker[worker] += 1
    assert set(runs) == set(queued) and set(runs.values()) == {1}, runs
    assert all("database is locked" not in output for output in text.values())
    assert all("Traceback" not in output for output in text.values()), text
    # The rows: each job and its task were claimed by one worker, once; each result was registered once.
    for job in rows:
        assert job.log.count("started on worker") == 1 and job.worker_id.startswith("pool-"), job.log
        task = DBTaskResult.objects.get(id=job.task_id)
        assert task.status == "SUCCESSFUL" and task.worker_ids == [job.worker_id]
    kinds = collections.Counter(queued.values())
    assert Dataset.objects.count() - before["datasets"] == kinds["import_dataset"] == 14
    assert BaseModel.objects.count() - before["models"] == kinds["import_model"] + kinds["train"] == 20
    assert Decomposition.objects.count() - before["decompositions"] == kinds["decompose"] == 2
    assert Build.objects.count() - before["builds"] == kinds["build"] == 4
    assert not default_storage.listdir("uploads")[1]  # every staged upload was consumed
    mix = ", ".join(f"{n} {k}" for k, n in kinds.items())
    print(f"\n{workers} workers on {database}: 40 jobs ({mix}) drained in {seconds:.1f} s, jobs per worker "
          f"{dict(sorted(per_worker.items()))}")
    assert len(per_worker) >= 2  # the queue was shared, not drained by one worker while the others idled
