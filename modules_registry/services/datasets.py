from __future__ import annotations

from modules_registry import uploads
from modules_registry.errors import ErrorCode, HubError
from modules_registry.models import Dataset, Job
from modules_registry.services import quotas
from modules_registry.services.jobs import start_job
from modules_registry.services import registration
from modules_registry.services.validation import clean_name, clean_seed, clean_visibility
from splitter_engine.data import BUILTIN_DATASETS, load_builtin
from splitter_engine.data.builtin import SPLIT_SEED
from splitter_engine.data.packed import pack


def _check_name_free(owner, name: str) -> None:
    if Dataset.objects.filter(owner=owner, name=name).exists():
        raise HubError(f"you already have a data set named {name!r}; choose another name",
                       code=ErrorCode.DUPLICATE_NAME, field="name")


def _check_builtin(builtin: str) -> None:
    if builtin not in BUILTIN_DATASETS:
        raise HubError(f"unknown built-in data set {builtin!r}; choose one of {sorted(BUILTIN_DATASETS)}",
                       field="builtin")


def add_builtin_dataset(*, owner, builtin: str, name: str | None = None, visibility: str = "public",
                        job: Job | None = None) -> Dataset:
    """Register a built-in data set now (they are small and bundled, so no upload to check)."""
    _check_builtin(builtin)
    name = name or builtin
    _check_name_free(owner, name)
    dataset = load_builtin(builtin)
    return registration.register_dataset(
        owner=owner, job=job, name=name, description=BUILTIN_DATASETS[builtin], source=Dataset.Source.BUILTIN,
        visibility=clean_visibility(visibility), class_names=dataset.class_names,
        input_spec=dataset.spec.to_dict(), class_counts={s: dataset.class_counts(s) for s in dataset.splits},
        split_seed=SPLIT_SEED, packed_arrays=pack(dataset), archive=None)


def import_builtin_dataset(*, owner, builtin: str, name: str | None = None, visibility: str = "public") -> Job:
    """The same as a job, for callers that follow everything through jobs (the API, the UI)."""
    _check_builtin(builtin)
    name = name or builtin
    _check_name_free(owner, name)
    return start_job(kind=Job.Kind.IMPORT_DATASET, owner=owner, device="cpu",
                     params={"builtin": builtin, "name": name, "source": "builtin", "visibility": visibility,
                             "description": BUILTIN_DATASETS[builtin]})


def upload_dataset(*, owner, archive, name: str, fmt: str = "auto", image_size=None, channels: int | None = None,
                   seed: int = 0, visibility: str = "public", description: str = "") -> Job:
    """Stage an uploaded archive; the import job reads it, and on any problem fails and keeps nothing."""
    from splitter_engine.data.read import FORMATS, check_upload
    from splitter_engine.runtime import EngineError

    name = clean_name(name, what="data set")
    _check_name_free(owner, name)
    if fmt != "auto" and fmt not in FORMATS:
        raise HubError(f"format must be auto or one of {', '.join(FORMATS)}", field="format")
    if channels not in (None, 1, 3):
        raise HubError("channels must be 1 or 3", field="channels")
    try:
        path = getattr(archive, "temporary_file_path", lambda: None)()
        check_upload(path or archive, fmt)
    except EngineError as exc:
        raise HubError(str(exc), code=ErrorCode.INVALID_FILE, field="archive") from exc
    finally:
        archive.seek(0)
    seed, visibility = clean_seed(seed), clean_visibility(visibility)
    quotas.check_storage(owner, archive.size)  # before copying it to the staging area; again with the job
    staged = uploads.stage(archive)
    with uploads.discarded_on_error(staged):
        return start_job(kind=Job.Kind.IMPORT_DATASET, owner=owner, device="cpu", incoming_bytes=archive.size, params={
            "staged": staged, "format": fmt, "name": name, "description": description,
            "image_size": list(image_size) if image_size else None, "channels": channels, "seed": seed,
            "visibility": visibility, "source": "upload", "filename": getattr(archive, "name", "")})
