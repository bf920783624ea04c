"""Turn stored JSON (evaluation metrics, decomposition history, module specs) into what a page shows.

The engine writes these JSON fields; the readers here accept the shapes it produces and degrade to
"nothing to show" on anything else, so a page never fails because a field is missing.
"""
from __future__ import annotations

from frontend import charts


def per_class_rows(metrics: dict, class_names: list[str]) -> list[dict]:
    """[{class, precision, recall, f1, support}] from ``per_class`` as a list or a dict keyed by class."""
    per_class = (metrics or {}).get("per_class")
    rows = []
    if isinstance(per_class, dict):
        per_class = [dict(per_class.get(name) or {}, **{"class": name}) for name in class_names if name in per_class]
    if isinstance(per_class, list):
        for i, entry in enumerate(per_class):
            if not isinstance(entry, dict):
                continue
            name = entry.get("name") or entry.get("class") or entry.get("class_name") or (class_names[i] if i < len(class_names) else i)
            rows.append({"class": name, "precision": entry.get("precision"), "recall": entry.get("recall"),
                         "f1": entry.get("f1", entry.get("f1-score")), "support": entry.get("support")})
    return rows


def confusion_picture(metrics: dict, class_names: list[str]):
    matrix = (metrics or {}).get("confusion") or (metrics or {}).get("confusion_matrix")
    if not (isinstance(matrix, list) and matrix and all(isinstance(r, list) for r in matrix)):
        return None
    return charts.confusion_matrix(matrix, class_names)


def epoch_picture(history: list[dict], selected_epoch: int | None):
    rows = [h for h in (history or []) if isinstance(h, dict) and "accuracy" in h]
    if not rows:
        return None
    xs = [h.get("epoch", i) + 1 for i, h in enumerate(rows)]  # counted from 1, as the job log counts them
    series = [("validation accuracy", [h.get("accuracy") for h in rows], charts.ACCENT)]
    if any("retention" in h for h in rows):
        series.append(("kernels kept", [h.get("retention") for h in rows], charts.SECOND))
    for key, colour in (("fitness", charts.MUTED), ("diff", "#2e9d5b")):  # CNNSplitter's generations
        if all(isinstance(h.get(key), (int, float)) for h in rows):
            series.append((key, [h[key] for h in rows], colour))
    marker = selected_epoch + 1 if isinstance(selected_epoch, int) else None
    return charts.line_chart(xs, series, title="Validation accuracy and kernel retention per epoch", marker=marker)


def module_vs_base_rows(modules, metrics: dict) -> list[dict]:
    """Per module: its test F1 beside the base model's F1 for the class on the same test images (the
    decomposition's ``base_class_f1``), the difference, and whether it is one of the ``weak_modules`` (more than
    ``weak_module_margin`` below). [] when the decomposition did not store the base model's per-class F1."""
    base_f1 = (metrics or {}).get("base_class_f1")
    if not isinstance(base_f1, list):
        return []
    weak = {w.get("class_index") for w in (metrics or {}).get("weak_modules") or [] if isinstance(w, dict)}
    rows = []
    for m in modules:
        base = base_f1[m.class_index] if m.class_index < len(base_f1) else None
        if not isinstance(base, (int, float)):
            continue
        rows.append({"module": m, "f1": m.f1, "base_f1": base, "difference": m.f1 - base,
                     "weak": m.class_index in weak})
    return rows


def training_picture(history):
    rows = [h for h in (history or []) if isinstance(h, dict)] if isinstance(history, list) else []
    keys = [k for k in ("val_accuracy", "accuracy", "train_accuracy") if any(k in h for h in rows)]
    if not rows or not keys:
        return None
    series = [(k.replace("_", " "), [h.get(k) for h in rows], colour)
              for k, colour in zip(keys[:2], (charts.ACCENT, charts.SECOND))]
    xs = [h.get("epoch", i) for i, h in enumerate(rows)]
    return charts.line_chart(xs, series, title="Training accuracy per epoch")


def layer_rows(spec: dict) -> list[tuple[str, int, int]]:
    """(layer, kept channels, total channels) per channel group of a module spec."""
    groups = spec.get("groups") if isinstance(spec, dict) else None
    rows = []
    if isinstance(groups, list):
        for i, g in enumerate(groups):
            if not isinstance(g, dict):
                continue
            kept = g.get("kept_channels", g.get("kept"))
            kept = len(kept) if isinstance(kept, list) else kept
            total = g.get("total_channels", g.get("size", g.get("total")))
            if isinstance(kept, int) and isinstance(total, int):
                rows.append((str(g.get("root") or g.get("name") or f"group {i}"), kept, total))
        return rows
    spec = spec or {}
    kept, sizes = spec.get("kept", spec.get("kept_channels")), spec.get("group_sizes")
    roots = spec.get("group_roots") or []
    if isinstance(kept, list) and isinstance(sizes, list):
        for i, (k, total) in enumerate(zip(kept, sizes)):
            name = roots[i] if i < len(roots) else f"group {i}"
            rows.append((str(name), len(k) if isinstance(k, list) else int(k), int(total)))
    return rows


def _natural(name: str) -> list:
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def layer_picture(spec: dict):
    rows = sorted(layer_rows(spec), key=lambda row: _natural(row[0]))  # input side first
    if not rows:
        return None, rows
    return charts.horizontal_bars(rows, title="Kept channels per layer"), rows


def class_unit_table(metrics: dict, class_names: list[str]) -> dict | None:
    """Per class: units kept per layer and the composition's recall/F1 for the class, from a decomposition's
    ``units`` ({layers: [{name, kind, size, sliced}], kept: [[per layer] per class]}) and ``composed_per_class``;
    None when the metrics have no units (methods that do not record them)."""
    units = (metrics or {}).get("units")
    if not isinstance(units, dict) or not isinstance(units.get("layers"), list) or not isinstance(units.get("kept"), list):
        return None
    layers = [layer for layer in units["layers"] if isinstance(layer, dict)]
    composed = (metrics or {}).get("composed_per_class")
    composed = composed if isinstance(composed, list) else []
    retention = (metrics or {}).get("retention_per_class") or []
    positives, negatives = (metrics or {}).get("positives") or [], (metrics or {}).get("negatives") or []

    def at(values, i):
        return values[i] if isinstance(values, list) and i < len(values) else None

    rows = []
    for i, kept in enumerate(units["kept"]):
        if not isinstance(kept, list):
            continue
        scores = at(composed, i) if isinstance(at(composed, i), dict) else {}
        rows.append({"class": class_names[i] if i < len(class_names) else i, "positives": at(positives, i),
                     "negatives": at(negatives, i), "retention": at(retention, i),
                     "recall": scores.get("recall"), "f1": scores.get("f1"),
                     "units": [(k, layer.get("size")) for k, layer in zip(kept, layers)]})
    return {"layers": layers, "rows": rows}


def class_count_picture(class_names: list[str], counts: dict):
    totals = [0] * len(class_names)
    for split_counts in (counts or {}).values():
        for i, n in enumerate(split_counts or []):
            if i < len(totals):
                totals[i] += int(n)
    if not any(totals):
        return None
    biggest = max(totals)
    return charts.horizontal_bars([(name, n, biggest) for name, n in zip(class_names, totals)],
                                  title="Images per class", unit=" images", show_total=False)


RESULT_ROUTES = {"dataset": ("frontend:dataset_detail", "data set"), "model": ("frontend:model_detail", "model"),
                 "decomposition": ("frontend:decomposition_detail", "decomposition"),
                 "build": ("frontend:build_detail", "build")}


def job_result_links(job) -> list[tuple[str, str]]:
    """(label, url) for each row the job created, e.g. the new model of a training job."""
    from django.urls import NoReverseMatch, reverse

    result = dict(job.result) if isinstance(job.result, dict) else {}
    if "evaluation" in result and "model" not in result and isinstance(job.params.get("model"), int):
        result["model"] = job.params["model"]  # an evaluation is shown on its model's page
    links = []
    for key, (route, label) in RESULT_ROUTES.items():
        pk = result.get(key)
        if isinstance(pk, int):
            try:
                links.append((f"Open the {label} #{pk}", reverse(route, args=[pk])))
            except NoReverseMatch:
                pass
    return links


def builder_groups(modules, ticked) -> list[dict]:
    """Modules grouped by decomposition for the picker: [{title, dataset, modules: [(module, ticked)]}]."""
    ticked = {str(v) for v in ticked}
    groups: dict[int, dict] = {}
    for m in modules:
        group = groups.setdefault(m.decomposition_id, {
            "title": f"{m.base_model.name} · {m.decomposition.get_method_display()} #{m.decomposition_id}",
            "model": m.base_model, "modules": []})
        group["modules"].append((m, str(m.pk) in ticked))
    return list(groups.values())


def patch_rows(metrics: dict) -> list[dict] | None:
    """Rows of a patch build's class-c metrics: before, control (the weak model with the same calibration and no
    module; None for patches made before it was measured) and after; None for a composed build."""
    before, after = (metrics or {}).get("before"), (metrics or {}).get("after")
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return None
    control = metrics.get("control") if isinstance(metrics.get("control"), dict) else None
    return [{"metric": label, "before": before.get(key), "control": control.get(key) if control else None,
             "after": after.get(key)}
            for key, label in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1"),
                               ("accuracy", "Overall accuracy"))]


def patch_class_rows(metrics: dict) -> list[dict]:
    """Per class F1 before, with the calibration alone (control) and after the patch; [] when not stored."""
    lists = [(metrics or {}).get(key) for key in ("before_per_class", "control_per_class", "per_class")]
    if not all(isinstance(rows, list) for rows in lists):
        return []
    f1 = [{r.get("class"): r.get("f1") for r in rows if isinstance(r, dict)} for rows in lists]
    return [{"class": name, "before": f1[0].get(name), "control": f1[1].get(name), "after": f1[2].get(name)}
            for name in f1[2]]


def config_rows(config) -> list[tuple[str, str]]:
    """A stored config (e.g. a model's training settings) as (setting, value) rows: lists comma-separated,
    nested objects as compact JSON; [] when there is none."""
    import json

    if not isinstance(config, dict):
        return []
    rows = []
    for key, value in config.items():
        if isinstance(value, (list, tuple)):
            text = ", ".join(str(v) for v in value) or "—"
        elif isinstance(value, dict):
            text = json.dumps(value, separators=(", ", ": "))
        else:
            text = "—" if value is None else str(value)
        rows.append((str(key), text))
    return rows


def slug(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "build"


def duration_text(seconds: float | None) -> str:
    """'45 s', '3 min 20 s', '1 h 05 min' ('' for None): a job's time left, short and exact enough to plan by."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


FOOTPRINT_FIGURES = (("params", "Parameters", "compact"), ("flops", "FLOPs (one image)", "compact"),
                     ("onnx_bytes", "ONNX size", "bytes"), ("latency_ms_b1", "onnxruntime, batch 1", "ms"),
                     ("latency_ms_b64", "onnxruntime, batch 64", "ms"))


def footprint_rows(metrics: dict) -> list[dict]:
    """The build's measured cost beside its base model's (``metrics["footprint"]``), one row per figure; [] for
    builds made before builds measured it."""
    report = (metrics or {}).get("footprint")
    if not isinstance(report, dict) or not isinstance(report.get("build"), dict):
        return []
    bases = [b for b in report.get("bases") or [] if isinstance(b, dict)]
    ratio = report.get("ratio") or {}
    return [{"label": label, "format": kind, "build": report["build"].get(key),
             "bases": [b.get(key) for b in bases], "ratio": ratio.get(key)} for key, label, kind in FOOTPRINT_FIGURES]
