"""Small display filters: percentages, compact counts, short hashes, input shapes."""
from __future__ import annotations

from django import template

register = template.Library()


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
