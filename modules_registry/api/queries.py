"""The querysets the API lists and serializes: the selectors' visibility rules plus the joins it needs."""
from __future__ import annotations

from django.db.models import Prefetch

from modules_registry import lanes, selectors
from modules_registry.models import Module


def datasets(user):
    return selectors.datasets_visible_to(user).select_related("owner", "arrays", "archive")


def models(user):
    return selectors.models_visible_to(user).select_related("owner", "dataset", "dataset__owner", "weights")


def model_detail(user):
    return models(user).prefetch_related(
        Prefetch("evaluations", queryset=selectors.evaluations_visible_to(user).select_related("dataset"),
                 to_attr="visible_evaluations"),
        Prefetch("decompositions", queryset=selectors.decompositions_visible_to(user).only(
            "id", "method", "owner_id", "visibility", "base_model_id"), to_attr="visible_decompositions"))


def decompositions(user):
    return selectors.decompositions_visible_to(user).select_related(
        "owner", "base_model", "base_model__owner", "dataset", "dataset__owner", "result")


def decomposition_detail(user):
    return decompositions(user).prefetch_related(
        Prefetch("modules", queryset=selectors.modules_visible_to(user).order_by("class_index"),
                 to_attr="visible_modules"))


def modules(user):
    return selectors.modules_visible_to(user).select_related(
        "owner", "base_model", "base_model__owner", "decomposition", "decomposition__owner",
        "decomposition__dataset", "decomposition__dataset__owner", "spec", "weights")


def builds(user):
    return selectors.builds_visible_to(user).select_related("owner", "onnx")


def build_detail(user):
    return builds(user).prefetch_related(
        Prefetch("items__module", queryset=Module.objects.select_related("owner")),
        "base_models", "base_models__owner")


def build(user, pk: int):
    """One build as its detail serializer needs it (e.g. the cached build a build request answers with)."""
    return build_detail(user).get(pk=pk)


def jobs(user):
    return lanes.with_queue_ahead(selectors.jobs_visible_to(user).select_related("owner"))
