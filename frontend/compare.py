"""Side by side: the figures and charts of two or more decompositions (or builds) a user picked."""
from __future__ import annotations

from frontend import charts, presenters

COLOURS = (charts.ACCENT, charts.SECOND, "#2e9d5b", "#b03a8c", charts.MUTED, "#7a5c1e")
MAX_COMPARED = len(COLOURS)


def parse_ids(values: list[str]) -> list[int] | str:
    """The picked ids in order, de-duplicated; or what to fix, as a message."""
    ids: list[int] = []
    for value in values:
        for part in str(value).replace(",", " ").split():
            if not part.isdigit() or len(part) > 12:
                return f"{part[:20]!r} is not an id; pick entries with the check boxes of the list"
            if int(part) not in ids:
                ids.append(int(part))
    if not 2 <= len(ids) <= MAX_COMPARED:
        return f"pick 2 to {MAX_COMPARED} entries to compare ({len(ids)} picked)"
    return ids


def _mean(values) -> float | None:
    values = [v for v in values if isinstance(v, (int, float))]
    return sum(values) / len(values) if values else None


def _line(label: str, kind: str, cells: list) -> dict:
    return {"label": label, "kind": kind, "cells": cells}


def _params_fraction(row: dict) -> float | None:
    base = row["decomposition"].base_model.params
    return _mean([m.params / base for m in row["modules"] if m.params and base])


def decomposition_table(rows: list[dict]) -> list[dict]:
    """One line per figure, one cell per decomposition (``rows``: {decomposition, modules})."""
    ds = [r["decomposition"] for r in rows]
    metrics = [d.metrics or {} for d in ds]
    return [
        _line("Base model", "text", [d.base_model.name for d in ds]),
        _line("Method (preset)", "text", [d.get_method_display() + (f" ({d.preset})" if d.preset else "") for d in ds]),
        _line("Composed accuracy, test split", "pct", [d.composed_accuracy for d in ds]),
        _line("Base model accuracy, test split", "pct", [d.base_accuracy for d in ds]),
        _line("Accuracy change", "pct", [d.composed_accuracy - d.base_accuracy for d in ds]),
        _line("Kernels kept (mean)", "pct", [d.mean_kernel_retention for d in ds]),
        _line("Hidden units kept (mean)", "pct", [m.get("mean_unit_retention") for m in metrics]),
        _line("Module parameters, of the base model's (mean)", "pct", [_params_fraction(r) for r in rows]),
        _line("Module F1, test split (mean)", "pct", [_mean([x.f1 for x in r["modules"]]) for r in rows]),
        _line("Weak modules", "text", [str(len(m.get("weak_modules") or [])) for m in metrics]),
        _line("Search time", "seconds", [m.get("seconds") for m in metrics]),
    ]


def f1_picture(rows: list[dict], class_names: list[str], f1_of) -> object:
    """Per class, each entry's F1 as one line (classes on the x axis)."""
    series = []
    for i, r in enumerate(rows):
        by_class = f1_of(r)
        series.append((r["label"], [by_class.get(c) for c in class_names], COLOURS[i % len(COLOURS)]))
    if not class_names or not any(any(v is not None for v in s[1]) for s in series):
        return None
    return charts.line_chart(list(class_names), series, title="F1 per class, test split", x_label="class")


def decomposition_charts(rows: list[dict]) -> dict:
    names = list(rows[0]["decomposition"].base_model.class_names)
    same_classes = all(list(r["decomposition"].base_model.class_names) == names for r in rows)
    return {
        "f1": f1_picture(rows, names, lambda r: {x.class_name: x.f1 for x in r["modules"]}) if same_classes else None,
        "epochs": [(r["label"], presenters.epoch_picture(r["decomposition"].history if isinstance(
            r["decomposition"].history, list) else [], r["decomposition"].selected_epoch)) for r in rows],
    }


def _footprint(build, part: str, key: str):
    return (((build.metrics or {}).get("footprint") or {}).get(part) or {}).get(key)


def _build_kind(build) -> str:
    strategy = f" · {build.get_strategy_display()}" if build.strategy else ""
    return f"{build.get_kind_display()}{strategy} · {build.calibration}"


def build_table(builds: list) -> list[dict]:
    metrics = [b.metrics or {} for b in builds]
    return [
        _line("Classes", "text", [", ".join(b.class_names) for b in builds]),
        _line("Kind · strategy · calibration", "text", [_build_kind(b) for b in builds]),
        _line("Accuracy, test split", "pct", [m.get("accuracy") for m in metrics]),
        _line("Base model on these classes, test split", "pct", [m.get("base_accuracy_on_classes") for m in metrics]),
        _line("Parameters", "count", [m.get("params") for m in metrics]),
        _line("FLOPs (one image)", "count", [m.get("flops") for m in metrics]),
        _line("ONNX size", "bytes", [b.onnx.size for b in builds]),
        _line("onnxruntime, batch 1 (ms)", "number", [_footprint(b, "build", "latency_ms_b1") for b in builds]),
        _line("onnxruntime, batch 64 (ms)", "number", [_footprint(b, "build", "latency_ms_b64") for b in builds]),
        _line("FLOPs, of the base model's", "pct", [_footprint(b, "ratio", "flops") for b in builds]),
        _line("ONNX parity (max |Δ|)", "sci", [b.parity_max_abs_diff for b in builds]),
    ]


def build_charts(builds: list, labels: list[str]) -> dict:
    names: list[str] = []
    for b in builds:
        names += [c for c in b.class_names if c not in names]
    rows = [{"label": label, "build": b} for label, b in zip(labels, builds)]

    def f1_of(r):
        build = r["build"]
        return {row["class"]: row["f1"] for row in presenters.per_class_rows(build.metrics, build.class_names)}

    return {"f1": f1_picture(rows, names, f1_of)}
