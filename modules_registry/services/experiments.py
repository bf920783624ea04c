"""Experiments: start a run of the papers' experiments (one ``reproduce`` job) after checking the request."""
from __future__ import annotations

from modules_registry.errors import HubError
from modules_registry.models import Dataset, Job
from modules_registry.services.jobs import start_job
from modules_registry.services.validation import check_dataset_usable, clean_seed, derived_visibility

MAX_SEEDS = 10


def _clean_list(value, allowed: tuple[str, ...], field: str) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise HubError(f"{field} must be a non-empty list drawn from {', '.join(allowed)}", field=field)
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise HubError(f"unknown {field} {unknown}; choose from {', '.join(allowed)}", field=field)
    return [v for v in allowed if v in value]


def _clean_seeds(seeds) -> list[int]:
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_SEEDS:
            raise HubError(f"seeds: run 1 to {MAX_SEEDS} seeds (3 or more for a spread)", field="seeds")
        return list(range(1, seeds + 1))
    if not isinstance(seeds, (list, tuple)) or not 1 <= len(seeds) <= MAX_SEEDS:
        raise HubError(f"seeds must be a count or a list of 1 to {MAX_SEEDS} seeds", field="seeds")
    cleaned = [clean_seed(s) for s in seeds]
    if len(set(cleaned)) != len(cleaned):
        raise HubError("seeds must not repeat", field="seeds")
    return cleaned


SPLIT_NEEDS = {"val": "every selection in the experiments reads validation data only",
               "test": "the reported figures are measured on the test split"}


def _check_splits(dataset: Dataset, classes: int) -> None:
    """Every class of the run needs validation images (the choices) and test images (the figures)."""
    names = dataset.class_names[:classes] if classes else dataset.class_names
    counts = dataset.class_counts or {}
    for split, why in SPLIT_NEEDS.items():
        per_class = counts.get(split) or []
        missing = [name for i, name in enumerate(names) if i >= len(per_class) or not per_class[i]]
        if missing:
            raise HubError(f"data set {dataset.name!r} has no {split} images of class(es) {missing[:5]}; {why}",
                           field="dataset")


def start_experiment(*, owner, dataset: Dataset, profile: str = "quick", experiments=None, seeds=3,
                     classes: int = 0, name: str = "", visibility: str | None = None, device: str = "") -> Job:
    """Queue a run. ``classes`` > 0 restricts it to the data set's first ``classes`` classes (a smaller run)."""
    from modules_registry.experiments.profiles import EXPERIMENTS, PROFILES

    if profile not in PROFILES:
        raise HubError(f"profile must be one of {', '.join(PROFILES)}", field="profile")
    chosen = _clean_list(list(EXPERIMENTS) if experiments is None else experiments, EXPERIMENTS, "experiments")
    seeds = _clean_seeds(seeds)
    if dataset is None:
        raise HubError("choose a data set for the experiments", field="dataset")
    check_dataset_usable(dataset, owner, default=False)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 0:
        raise HubError("classes must be a whole number (0: every class)", field="classes")
    if classes and not 4 <= classes <= len(dataset.class_names):
        raise HubError(f"classes: choose 4 to {len(dataset.class_names)} (two halves of at least two classes), or 0 "
                       "for every class", field="classes")
    if len(dataset.class_names) < 4:
        raise HubError("the experiments need a data set of at least 4 classes (two halves of two)", field="dataset")
    _check_splits(dataset, classes)
    chosen_profile = PROFILES[profile]
    device = device or chosen_profile.device
    name = (name or f"{profile} experiments on {dataset.name}").strip()[:120]
    return start_job(kind=Job.Kind.REPRODUCE, owner=owner, device=device, params={
        "profile": profile, "dataset": dataset.pk, "experiments": chosen, "seeds": seeds, "classes": classes,
        "name": name, "device": device, "visibility": derived_visibility(visibility, dataset)})
