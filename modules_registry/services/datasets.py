from __future__ import annotations

from modules_registry.models import Dataset, Job
from modules_registry.services.jobs import ServiceError, start_job
from splitter_engine.data import BUILTIN_DATASETS


def _check_name_free(owner, name: str) -> None:
    if not name or not name.strip():
        raise ServiceError("give the data set a name", field="name")
    if Dataset.objects.filter(owner=owner, name=name).exists():
        raise ServiceError(f"you already have a data set named {name!r}; choose another name",
                           code="duplicate_name", field="name", status=409)


def import_builtin_dataset(*, owner, builtin: str, name: str | None = None, visibility: str = "public") -> Job:
    if builtin not in BUILTIN_DATASETS:
        raise ServiceError(f"unknown built-in data set {builtin!r}; choose one of {sorted(BUILTIN_DATASETS)}",
                           field="builtin")
    name = name or builtin
    _check_name_free(owner, name)
    return start_job(kind=Job.Kind.IMPORT_DATASET, owner=owner, device="cpu",
                     params={"builtin": builtin, "name": name, "source": "builtin", "visibility": visibility,
                             "description": BUILTIN_DATASETS[builtin]})
