"""Small display filters: percentages, compact counts, short hashes, input shapes."""
from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def markdown(value) -> str:
    """A user's Markdown as safe HTML (frontend.markdown: raw HTML is shown as text)."""
    from frontend.markdown import render_markdown

    return render_markdown(str(value or ""))


@register.filter
def pct(value, digits: int = 1) -> str:
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value) * 100:.{int(digits)}f} %"
    except (TypeError, ValueError):
        return "—"


@register.filter
def compact(value) -> str:
    """12_345_678 -> 12.3 M"""
    if value is None or value == "":
        return "—"
    value = float(value)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f}"


@register.filter
def short_sha(value) -> str:
    return f"{value[:12]}…" if value else "—"


@register.filter
def shape(spec) -> str:
    """An input spec as C×H×W."""
    try:
        return f"{spec['channels']}×{spec['height']}×{spec['width']}"
    except (KeyError, TypeError):
        return "—"


@register.filter
def floats(values, digits: int = 3) -> str:
    try:
        return ", ".join(f"{float(v):.{int(digits)}f}" for v in values)
    except (TypeError, ValueError):
        return "—"


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


PRIVATE_DATASET = "a private data set"


def _viewer(context):
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.simple_tag(takes_context=True)
def dataset_name(context, dataset, link: bool = True):
    """A data set's name, linked to its page, where the viewer may see the data set; else "a private data set"
    (no name, no link: a public model trained on a private data set must not give its name away)."""
    from django.urls import reverse
    from django.utils.html import format_html

    from modules_registry.selectors import is_visible

    if dataset is None:
        return "unknown"
    if not is_visible(dataset, _viewer(context)):
        return PRIVATE_DATASET
    if not link:
        return dataset.name
    return format_html('<a href="{}">{}</a>', reverse("frontend:dataset_detail", args=[dataset.pk]), dataset.name)


@register.filter
def visible_to(row, user) -> bool:
    """Whether ``user`` may see ``row`` (the one visibility rule)."""
    from modules_registry.selectors import is_visible

    return row is not None and is_visible(row, user)


@register.filter
def job_duration(job) -> str:
    """How long a job ran (or has been running); '—' while it waits."""
    from django.utils import timezone

    from frontend.presenters import duration_text

    if job.started_at is None:
        return "—"
    end = job.finished_at or timezone.now()
    return duration_text(max(0.0, (end - job.started_at).total_seconds()))


@register.filter
def any_active(jobs) -> bool:
    return any(not job.is_terminal for job in jobs)


@register.simple_tag(takes_context=True)
def job_subject(context, job):
    """What a job is for: the model it evaluates or decomposes, else the name of what it makes (data set,
    model, build); a model the viewer may not see is only a number."""
    from django.urls import reverse
    from django.utils.html import format_html

    from modules_registry.selectors import models_visible_to

    params = job.params if isinstance(job.params, dict) else {}
    model_id = params.get("model")
    if isinstance(model_id, int):
        name = models_visible_to(_viewer(context)).filter(pk=model_id).values_list("name", flat=True).first()
        prefix = "patch of " if job.kind == "patch" else ""
        if name is None:
            return f"{prefix}model #{model_id}"
        return format_html('{}<a href="{}">{}</a>', prefix, reverse("frontend:model_detail", args=[model_id]), name)
    return params.get("name") or params.get("builtin") or "—"


@register.filter
def onnx_bytes(params) -> int | None:
    """An ONNX file's size from its parameter count: float32 weights dominate it."""
    try:
        return int(params) * 4
    except (TypeError, ValueError):
        return None
