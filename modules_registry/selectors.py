"""All reads, visibility-aware: a private entry is invisible (404) to everyone but its owner."""
from __future__ import annotations

from django.shortcuts import get_object_or_404

from modules_registry.models import BaseModel, Build, Dataset, Decomposition, Job, Module


def datasets_visible_to(user):
    return Dataset.objects.visible_to(user)


def models_visible_to(user):
    return BaseModel.objects.visible_to(user).select_related("dataset", "weights")


def decompositions_visible_to(user):
    return Decomposition.objects.visible_to(user).select_related("base_model")


def modules_visible_to(user):
    return Module.objects.visible_to(user).select_related("base_model", "decomposition")


def builds_visible_to(user):
    return Build.objects.visible_to(user)


def jobs_visible_to(user):
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    if user.is_superuser:
        return Job.objects.all()
    return Job.objects.filter(owner=user)


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
