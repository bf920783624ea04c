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


def decomposition_table(rows: list[dict]) -> list[dict]:
    """One line per figure, one cell per decomposition (``rows``: {decomposition, modules})."""
    def cells(fn):
        return [fn(r) for r in rows]

    m = lambda r: r["decomposition"].metrics or {}  # noqa: E731
    return [
        {"label": "Base model", "kind": "text", "cells": cells(lambda r: r["decomposition"].base_model.name)},
        {"label": "Method (preset)", "kind": "text", "cells": cells(
            lambda r: f"{r['decomposition'].get_method_display()}"
                      f"{' (' + r['decomposition'].preset + ')' if r['decomposition'].preset else ''}")},
        {"label": "Composed accuracy, test split", "kind": "pct", "cells": cells(lambda r: r["decomposition"].composed_accuracy)},
        {"label": "Base model accuracy, test split", "kind": "pct", "cells": cells(lambda r: r["decomposition"].base_accuracy)},
        {"label": "Accuracy change", "kind": "pct", "cells": cells(
            lambda r: r["decomposition"].composed_accuracy - r["decomposition"].base_accuracy)},
        {"label": "Kernels kept (mean)", "kind": "pct", "cells": cells(lambda r: r["decomposition"].mean_kernel_retention)},
        {"label": "Hidden units kept (mean)", "kind": "pct", "cells": cells(lambda r: m(r).get("mean_unit_retention"))},
        {"label": "Module parameters, of the base model's (mean)", "kind": "pct", "cells": cells(
            lambda r: _mean([x.params / r["decomposition"].base_model.params for x in r["modules"]
                             if x.params and r["decomposition"].base_model.params]))},
        {"label": "Module F1, test split (mean)", "kind": "pct", "cells": cells(lambda r: _mean([x.f1 for x in r["modules"]]))},
        {"label": "Weak modules", "kind": "text", "cells": cells(lambda r: str(len(m(r).get("weak_modules") or [])))},
        {"label": "Search time", "kind": "seconds", "cells": cells(lambda r: m(r).get("seconds"))},
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


def build_table(builds: list) -> list[dict]:
    def footprint(b, key):
        return ((b.metrics or {}).get("footprint") or {}).get("build", {}).get(key)

    def ratio(b, key):
        return ((b.metrics or {}).get("footprint") or {}).get("ratio", {}).get(key)

    return [
        {"label": "Classes", "kind": "text", "cells": [", ".join(b.class_names) for b in builds]},
        {"label": "Kind · strategy · calibration", "kind": "text", "cells": [
            f"{b.get_kind_display()}{' · ' + b.get_strategy_display() if b.strategy else ''} · {b.calibration}" for b in builds]},
        {"label": "Accuracy, test split", "kind": "pct", "cells": [(b.metrics or {}).get("accuracy") for b in builds]},
        {"label": "Base model on these classes, test split", "kind": "pct", "cells": [
            (b.metrics or {}).get("base_accuracy_on_classes") for b in builds]},
        {"label": "Parameters", "kind": "count", "cells": [(b.metrics or {}).get("params") for b in builds]},
        {"label": "FLOPs (one image)", "kind": "count", "cells": [(b.metrics or {}).get("flops") for b in builds]},
        {"label": "ONNX size", "kind": "bytes", "cells": [b.onnx.size for b in builds]},
        {"label": "onnxruntime, batch 1 (ms)", "kind": "number", "cells": [footprint(b, "latency_ms_b1") for b in builds]},
        {"label": "onnxruntime, batch 64 (ms)", "kind": "number", "cells": [footprint(b, "latency_ms_b64") for b in builds]},
        {"label": "FLOPs, of the base model's", "kind": "pct", "cells": [ratio(b, "flops") for b in builds]},
        {"label": "ONNX parity (max |Δ|)", "kind": "sci", "cells": [b.parity_max_abs_diff for b in builds]},
    ]


def build_charts(builds: list, labels: list[str]) -> dict:
    names: list[str] = []
    for b in builds:
        names += [c for c in b.class_names if c not in names]
    rows = [{"label": label, "build": b} for label, b in zip(labels, builds)]

    def f1_of(r):
        return {row["class"]: row["f1"] for row in presenters.per_class_rows(r["build"].metrics, r["build"].class_names)}

    return {"f1": f1_picture(rows, names, f1_of)}
