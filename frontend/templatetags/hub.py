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
