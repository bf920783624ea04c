"""The experiment report as the page shows it: claims with a chart, and per-seed tables whose figures link to the
registry rows they came from."""
from __future__ import annotations

from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from frontend import charts

ROUTES = {"model": "frontend:model_detail", "decomposition": "frontend:decomposition_detail",
          "module": "frontend:module_detail", "build": "frontend:build_detail"}


def link(ref: dict | None) -> SafeString:
    if not ref:
        return mark_safe("—")
    route = ROUTES.get(ref["kind"])
    text = f"{ref['kind']} #{ref['id']}"
    if route is None:  # an evaluation: no page of its own
        return mark_safe(f'<span title="{escape(ref["label"])}">{escape(text)}</span>')
    return mark_safe(f'<a href="{reverse(route, args=[ref["id"]])}" title="{escape(ref["label"])}">{escape(text)}</a>')


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def _num(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def claims_chart(claims: list[dict]) -> SafeString:
    """The paper's number beside ours (mean) for every claim measured in points."""
    rows = [(c["claim"][:40], c["paper"], c["ours"]["mean"]) for c in claims if c["ours"] and c["unit"] == "points"]
    return charts.paired_bars(rows, title="Paper vs this hub (points)", first="paper", second="ours")


def seed_tables(report: dict) -> list[dict]:
    """Per experiment: a title, column headers and rows of cells (strings or links), every seed in turn."""
    tables = {}
    for seed, results in report["per_seed"].items():
        for name, result in results.items():
            builder = TABLES.get(name)
            if builder is None or "error" in result:
                continue
            title, head, rows = builder(result)
            table = tables.setdefault(name, {"name": name, "title": title, "head": ["seed", *head], "rows": []})
            table["rows"].extend([seed, *row] for row in rows)
    return list(tables.values())


def _with(text: str, ref: dict | None) -> SafeString:
    """Text (escaped) and a link to the row it came from."""
    return format_html("{} {}", text, link(ref))


def _seconds(value) -> str:
    return "—" if value is None else f"{value:.0f}"


def _methods(r):
    return ("The three methods on one base model",
            ["method", "decomposition", "base acc.", "composed acc.", "loss (pts)", "kernels kept", "module params",
             "module FLOPs", "seconds"],
            [[f"{row['method']} ({row['preset']})", link(row["decomposition"]), _pct(row["base_accuracy"]),
              _pct(row["composed_accuracy"]), _num(row["loss_points"]), _pct(row["kernels_kept"]),
              _pct(row["params_fraction"]), _pct(row["flops_fraction"]), _seconds(row["seconds"])]
             for row in r["rows"]])


def _patching(r):
    return ("Patching weak models (target class, test split)",
            ["weak model", "target (chosen on val)", "module", "patch", "P before → after", "R before → after",
             "F1 before → after", "F1 calibration only", "other classes' acc. before → after"],
            [[_with(row["weak"], row["weak_model"]),
              _with(f"{row['target']} ({row['target_support']} test images)", row["validation"]),
              _with(row["method"], row["module"]), link(row["build"]),
              f"{_pct(row['before_precision'])} → {_pct(row['after_precision'])}",
              f"{_pct(row['before_recall'])} → {_pct(row['after_recall'])}",
              f"{_pct(row['before_f1'])} → {_pct(row['after_f1'])}", _pct(row["control_f1"]),
              f"{_pct(row['other_accuracy_before'])} → {_pct(row['other_accuracy_after'])}"] for row in r["rows"]])


def _reuse(r):
    rows = [[f"every class from two half models ({row['method']})", link(row["build"]), _pct(row["composed_accuracy"]),
             _with(_pct(row["scratch_accuracy"]), row["scratch_model"]), _num(row["difference_points"])]
            for row in r["rows"]]
    rows += [[f"classes {' + '.join(row['classes'])} ({row['method']})", link(row["build"]),
              _pct(row["composed_accuracy"]), _with(_pct(row["scratch_accuracy"]), row["scratch_model"]),
              _num(row["difference_points"])] for row in r.get("pairs", [])]
    rp = r["replace"]
    rows.append([f"replace class {rp['target']} (concern)", link(rp["replaced"]), _pct(rp["replaced_accuracy"]),
                 _with(_pct(rp["original_accuracy"]), rp["original"]), _num(rp["difference_points"])])
    return ("A new task from modules, and replace", ["what", "build", "accuracy", "baseline", "difference (pts)"], rows)


def _accuracy(r):
    return ("A more accurate model from modules of a pool",
            ["pool", "classes from", "composed", "best single model (by val)", "modules of the best decomposed model",
             "gain (pts)"],
            [[f"{len(r['pool'])} models ({r['models_decomposed']} decomposed)", f"{r['models_used']} models",
              _with(_pct(r["composed_accuracy"]), r["composed"]),
              _with(_pct(r["best_single_accuracy"]), r["best_model"]),
              _with(_pct(r["one_model_accuracy"]), r["one_model"]), _num(r["gain_points"])]])
def _cost(r):
    return ("Cost of each route to a classifier of every class",
            ["route", "wall s", "CPU s", "GPU s", "energy", "retraining / this (CPU s)"],
            [[route["route"], _seconds(route["seconds"]), _seconds(route["cpu_seconds"]), _seconds(route["gpu_seconds"]),
              "—" if route["joules"] is None else f"{route['joules']:.0f} J, {route['grams_co2e']:.2f} g CO2e",
              "—" if route.get("speedup_vs_scratch") is None else f"{route['speedup_vs_scratch']}×"]
             for route in r["routes"]])


TABLES = {"methods": _methods, "patching": _patching, "reuse": _reuse, "accuracy": _accuracy, "cost": _cost}


def ours_text(claim: dict) -> str:
    ours = claim["ours"]
    if not ours:
        return "—"
    unit = "×" if claim["unit"] == "x" else ""
    return f"{ours['mean']:+.2f}{unit} ± {ours['std']:.2f} (n = {ours['n']}; {ours['min']:+.2f} to {ours['max']:+.2f})"
