"""The one bridge between the registry and the engine: rows in, engine call, artefacts out.

Each job kind has one handler. A handler loads its inputs from rows and blobs, runs the engine with
the job's RunContext, and hands plain results (bytes, dicts) to a registry service that writes every
row in one transaction, so a failed or cancelled job writes nothing.
"""
from __future__ import annotations

from django_tasks import TaskContext, task

from modules_registry import blobs
from modules_registry.job_runtime import JobInputError, running
from modules_registry.models import Dataset, Job
from modules_registry.services import registration
from splitter_engine.data import ImageDataset, load_builtin
from splitter_engine.data.packed import pack, unpack
from splitter_engine.runtime import RunContext


def load_dataset(row: Dataset) -> ImageDataset:
    with blobs.open_blob(row.arrays) as handle:
        return unpack(handle.read())


def _import_dataset(job: Job, ctx: RunContext) -> dict:
    params = job.params
    ctx.report(0.05, "reading", f"reading {params.get('builtin') or params.get('format')}")
    if params.get("builtin"):
        dataset = load_builtin(params["builtin"])
    else:
        raise JobInputError("only built-in data sets can be imported so far")
    ctx.check_cancelled()
    ctx.report(0.7, "storing", f"{len(dataset.labels)} images in {dataset.num_classes} classes")
    row = registration.register_dataset(
        owner=job.owner, job=job, name=params["name"], description=params.get("description", ""),
        source=params.get("source", "builtin"), visibility=params.get("visibility", "public"),
        class_names=dataset.class_names, input_spec=dataset.spec.to_dict(),
        class_counts={split: dataset.class_counts(split) for split in dataset.splits},
        split_seed=params.get("seed", 0), packed_arrays=pack(dataset), archive_blob=None)
    return {"dataset": row.pk}


HANDLERS = {
    Job.Kind.IMPORT_DATASET: _import_dataset,
}


@task(takes_context=True)
def run_job(context: TaskContext, job_id: int) -> None:
    worker_ids = getattr(context.task_result, "worker_ids", None) or [""]
    with running(job_id, worker_id=worker_ids[-1]) as claimed:
        if claimed is None:
            return
        job, ctx = claimed
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise JobInputError(f"job kind {job.kind!r} is not supported by this worker")
        result = handler(job, ctx)
        Job.objects.filter(pk=job.pk).update(result=result or {})
