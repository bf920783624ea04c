"""All reads, visibility-aware: a private entry is invisible (404) to everyone but its owner."""
from __future__ import annotations

import json

from django.db.models import ExpressionWrapper, F, FloatField, OuterRef, Q, Subquery, TextField
from django.db.models.functions import Cast
from django.shortcuts import get_object_or_404

from modules_registry.models import (BaseModel, Build, Dataset, Decomposition, Evaluation, Experiment, Job, Module,
                                     Visibility)

# --- The one visibility rule -------------------------------------------------------------------------
# Lists, details, lineage links (the API's `ref`), commands and downloads all ask these three functions, so a
# private entry is missing from lists, 404 on its detail and download, and null where another entry links it.


def visibility_rule(user, prefix: str = "") -> Q | None:
    """Which artefacts ``user`` may see: public ones and their own; a superuser sees all (None: no filter).

    ``prefix`` applies the rule to a related row instead, e.g. ``"dataset__"`` for a model's data set."""
    if user is not None and user.is_authenticated:
        if user.is_superuser:
            return None
        return Q(**{f"{prefix}visibility": Visibility.PUBLIC}) | Q(**{f"{prefix}owner_id": user.pk})
    return Q(**{f"{prefix}visibility": Visibility.PUBLIC})


def _matches_visible(user, lookup: str, q: str, prefix: str) -> Q:
    """``lookup`` contains ``q``, counted only where the related row at ``prefix`` is visible to ``user`` (a search
    must not confirm a guess of a private data set's name)."""
    rule = visibility_rule(user, prefix)
    match = Q(**{lookup: q})
    return match if rule is None else match & rule


def visible(queryset, user):
    """``queryset`` narrowed to the rows ``user`` may see (the rule as SQL)."""
    rule = visibility_rule(user)
    return queryset if rule is None else queryset.filter(rule)


def is_visible(row, user) -> bool:
    """Whether ``user`` may see ``row`` (the same rule, checked on a row already loaded); ``user=None`` asks
    whether anyone may, i.e. whether the row is public."""
    rule = visibility_rule(user)
    return rule is None or _holds(rule, row)


def _holds(rule: Q, row) -> bool:
    """Evaluate a Q of exact lookups on a loaded row."""
    results = []
    for child in rule.children:
        if isinstance(child, Q):
            results.append(_holds(child, row))
        else:
            field, value = child
            assert "__" not in field, f"only exact lookups on the row's own fields: {field}"
            results.append(getattr(row, field) == value)
    held = all(results) if rule.connector == Q.AND else any(results)
    return not held if rule.negated else held


def datasets_visible_to(user):
    return visible(Dataset.objects.all(), user)


def models_visible_to(user):
    return visible(BaseModel.objects.all(), user).select_related("dataset", "weights")


def decompositions_visible_to(user):
    return visible(Decomposition.objects.all(), user).select_related("base_model")


def modules_visible_to(user):
    return visible(Module.objects.all(), user).select_related("base_model", "decomposition")


def builds_visible_to(user):
    return visible(Build.objects.all(), user)


def evaluations_visible_to(user):
    return visible(Evaluation.objects.all(), user)


def jobs_visible_to(user):
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    if user.is_superuser:
        return Job.objects.all()
    return Job.objects.filter(owner=user)


def jobs_running_first(user):
    """The user's jobs, running ones first, then queued, then the newest ended ones."""
    from django.db.models import Case, IntegerField, Value, When

    rank = Case(When(status=Job.Status.RUNNING, then=Value(0)), When(status=Job.Status.QUEUED, then=Value(1)),
                default=Value(2), output_field=IntegerField())
    return jobs_visible_to(user).annotate(rank=rank).order_by("rank", "-created_at", "-id")


def public_models_in_training() -> int:
    """How many public models are being trained now (e.g. the demo models after a fresh start): a count, no names."""
    return (Job.objects.filter(kind=Job.Kind.TRAIN, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
            .filter(params__visibility=Visibility.PUBLIC).count())


def get_visible(queryset, **lookup):
    return get_object_or_404(queryset, **lookup)


def hub_summary(user) -> dict:
    return {
        "datasets": datasets_visible_to(user).count(),
        "models": models_visible_to(user).count(),
        "decompositions": decompositions_visible_to(user).count(),
        "modules": modules_visible_to(user).count(),
        "builds": builds_visible_to(user).count(),
    }


# --- Browsing: filtered, sorted lists and detail reads used by the web pages -------------------------

MODEL_SORTS = {"newest": "-created_at", "oldest": "created_at", "name": "name", "params": "params",
               "accuracy": F("test_accuracy").desc(nulls_last=True)}
MODULE_SORTS = {"newest": "-created_at", "class": "class_name", "kept": "kept_kernels_ratio",
                "-kept": "-kept_kernels_ratio", "f1": "-f1", "params": "params", "flops": "flops"}


def tagged(models, tag: str):
    """Models carrying ``tag`` (stored lower-case; a whole tag matches, not a part of one)."""
    needle = json.dumps(tag.strip().lower())
    return models.annotate(_tags_text=Cast("tags", TextField())).filter(_tags_text__contains=needle)


def models_filtered(user, *, q: str = "", dataset: int | None = None, architecture: str = "",
                    fmt: str = "", owner: str = "", tag: str = "", sort: str = "newest"):
    qs = models_visible_to(user)
    if tag:
        qs = tagged(qs, tag)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(architecture__icontains=q)
                       | _matches_visible(user, "dataset__name__icontains", q, "dataset__")
                       | Q(class_names__icontains=q))
    if dataset:
        qs = qs.filter(dataset_id=dataset)
    if architecture:
        qs = qs.filter(architecture=architecture)
    if fmt:
        qs = qs.filter(format=fmt)
    if owner:
        qs = qs.filter(owner__username=owner)
    return with_test_accuracy(qs, user).select_related("owner").order_by(MODEL_SORTS.get(sort, "-created_at"), "-id")


def with_test_accuracy(models, user):
    """``test_accuracy``: each model's newest test-split evaluation visible to ``user`` (None when there is none)."""
    newest = (evaluations_visible_to(user).filter(model=OuterRef("pk"), split="test")
              .order_by("-created_at", "-id").values("accuracy")[:1])
    return models.annotate(test_accuracy=Subquery(newest))


def modules_filtered(user, *, q: str = "", model: int | None = None, dataset: int | None = None,
                     min_kept: float | None = None, max_kept: float | None = None, sort: str = "newest"):
    qs = modules_visible_to(user).select_related("base_model__dataset", "owner").annotate(
        kept_kernels_ratio=ExpressionWrapper(F("kept_kernels") * 1.0 / F("total_kernels"), output_field=FloatField()))
    if q:
        qs = qs.filter(Q(class_name__icontains=q) | Q(base_model__name__icontains=q)
                       | Q(base_model__architecture__icontains=q)
                       | _matches_visible(user, "base_model__dataset__name__icontains", q, "base_model__dataset__"))
    if model:
        qs = qs.filter(base_model_id=model)
    if dataset:
        qs = qs.filter(base_model__dataset_id=dataset)
    if min_kept is not None:
        qs = qs.filter(kept_kernels_ratio__gte=min_kept)
    if max_kept is not None:
        qs = qs.filter(kept_kernels_ratio__lte=max_kept)
    return qs.order_by(MODULE_SORTS.get(sort, "-created_at"), "-id")


def datasets_filtered(user, *, q: str = ""):
    qs = datasets_visible_to(user).select_related("owner")
    if q:
        qs = qs.filter(name__icontains=q)
    return qs


def decompositions_filtered(user, *, method: str = ""):
    qs = decompositions_visible_to(user).select_related("dataset", "owner")
    if method:
        qs = qs.filter(method=method)
    return qs


def jobs_filtered(user, *, status: str = ""):
    qs = jobs_visible_to(user)
    if status:
        qs = qs.filter(status=status)
    return qs


def models_with_modules(user):
    """The models, visible to ``user``, that have at least one module (visible or not)."""
    return models_visible_to(user).filter(modules__isnull=False).distinct()


def patchable_models(user):
    """The models ``user`` may patch: visible ones with PyTorch weights."""
    return models_visible_to(user).filter(format="safetensors")


def search(user, q: str, limit: int = 20) -> dict:
    """Models and modules matching a class name, data set, architecture or name."""
    q = (q or "").strip()
    if not q:
        return {"models": [], "modules": [], "datasets": []}
    return {
        "models": list(models_filtered(user, q=q)[:limit]),
        "modules": list(modules_filtered(user, q=q, sort="class")[:limit]),
        "datasets": list(datasets_visible_to(user).filter(Q(name__icontains=q) | Q(class_names__icontains=q))[:limit]),
    }


def evaluations_of(user, model: BaseModel):
    return evaluations_visible_to(user).filter(model=model).select_related("dataset")


def modules_of_decomposition(user, decomposition: Decomposition):
    return modules_visible_to(user).filter(decomposition=decomposition).order_by("class_index")


def decompositions_of(user, model: BaseModel):
    return decompositions_visible_to(user).filter(base_model=model).select_related("dataset")


def builds_of_model(user, model: BaseModel):
    return builds_visible_to(user).filter(base_models=model).distinct()


def job_of(user, row):
    """The job that produced ``row``, if the user may see it."""
    if row.job_id is None:
        return None
    return jobs_visible_to(user).filter(pk=row.job_id).first()


def dataset_samples(dataset: Dataset, *, per_class: int = 8, split: str = "train", max_classes: int = 20) -> list:
    """Up to ``per_class`` uint8 images (C x H x W) of each of the first ``max_classes`` classes."""
    from modules_registry import blobs
    from splitter_engine.data.packed import unpack

    data = unpack(blobs.read_bytes(dataset.arrays))
    indices = data.splits.get(split)
    if indices is None or not len(indices):
        indices = range(len(data.labels))
    picked: dict[int, list] = {c: [] for c in range(min(data.num_classes, max_classes))}
    for i in indices:
        label = int(data.labels[i])
        if label in picked and len(picked[label]) < per_class:
            picked[label].append(data.images[i])
    return [(dataset.class_names[c], images) for c, images in picked.items()]


def module_spec(module: Module) -> dict:
    """The module's JSON spec (architecture, kept channels per group), as stored."""
    import json

    from modules_registry import blobs

    return json.loads(blobs.read_bytes(module.spec).decode("utf-8"))


def modules_for_builder(user):
    """Every module the user may compose, grouped by decomposition in a stable order."""
    return (modules_visible_to(user).select_related("base_model__dataset", "decomposition")
            .order_by("base_model__name", "decomposition_id", "class_index"))


def builds_filtered(user, *, kind: str = "", q: str = ""):
    qs = builds_visible_to(user).select_related("owner", "job")
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(class_names__icontains=q))
    return qs


def build_items(build: Build):
    return build.items.select_related("module__base_model", "module__decomposition").order_by("position")


def build_base_models(build: Build):
    return build.base_models.all()


def experiments_visible_to(user):
    return visible(Experiment.objects.all(), user).select_related("dataset", "owner")


def experiment_jobs(user):
    """The user's experiment runs that have not ended (their reports do not exist yet)."""
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    return Job.objects.filter(owner=user, kind=Job.Kind.REPRODUCE, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
