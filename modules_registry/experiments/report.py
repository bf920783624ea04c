"""The report of a run: per claim the paper's number, ours (mean and spread over the seeds), and whether the
effect reproduced; the per-seed tables behind it, each figure with the registry rows it came from."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from statistics import mean, stdev


def summary(values: list[float]) -> dict | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": round(mean(values), 3), "std": round(stdev(values), 3) if len(values) > 1 else 0.0,
            "min": round(min(values), 3), "max": round(max(values), 3), "n": len(values)}


@dataclass(frozen=True)
class Claim:
    key: str
    experiment: str
    text: str  # the paper's claim, in words
    paper: float  # the paper's number, in points (or a ratio for cost)
    unit: str
    source: str
    low: float | None = None  # the paper's range, where it reports one
    high: float | None = None
    differs: str = ""  # why this hub's setting may give another number


PATCH_DIFFERS = ("the papers' weak models are weak because of the data they saw (CNNSplitter's: CIFAR-100 classes "
                 "plus one CIFAR-10 class); ours are a small net and an under-trained one on digits, and one test "
                 "image of the target class moves its recall by several points")
EVERY_CLASS = ("the papers' new tasks have two classes (see the two-class claims); this one composes every class "
               "from two models of half the classes each, whose modules never saw the other half's classes as "
               "negatives, so they also fire on them")

CLAIMS = (
    Claim("accuracy_gain", "accuracy", "modules composed across ten models beat the best single model",
          5.0, "points", "ModelFoundry README, GradSplitter on CIFAR-10/SVHN", 3.9, 6.1,
          differs="the papers' single models reach 81-88 % on CIFAR-10/SVHN and were trained on the whole training "
          "set; the quick profile's pool models see a skewed half of digits for 10 epochs (about 50-90 %), which "
          "leaves much more room above the best one"),
    Claim("patch_gs_precision", "patching", "GradSplitter patch: target-class precision gain", 17.13, "points",
          "Qi et al., TOSEM 2023 (GradSplitter)", differs=PATCH_DIFFERS),
    Claim("patch_gs_recall", "patching", "GradSplitter patch: target-class recall gain", 4.95, "points",
          "Qi et al., TOSEM 2023 (GradSplitter)", differs=PATCH_DIFFERS),
    Claim("patch_gs_f1", "patching", "GradSplitter patch: target-class F1 gain", 11.47, "points",
          "Qi et al., TOSEM 2023 (GradSplitter)", differs=PATCH_DIFFERS),
    Claim("patch_cs_precision", "patching", "CNNSplitter patch: target-class precision gain", 12.54, "points",
          "Qi et al., ASE 2022 / TOSEM 2023 (CNNSplitter)", differs=PATCH_DIFFERS),
    Claim("patch_cs_recall", "patching", "CNNSplitter patch: target-class recall gain", 2.14, "points",
          "Qi et al., ASE 2022 / TOSEM 2023 (CNNSplitter)", differs=PATCH_DIFFERS),
    Claim("pair_gradsplitter", "reuse", "a new two-class task, one GradSplitter module from each of two models, "
          "vs training from scratch", -2.46, "points", "Qi et al., TOSEM 2023 (GradSplitter)",
          differs="the paper pairs a CIFAR-10 class with an SVHN class (two data sets, rarely confused); ours "
          "pairs two digit classes of one data set"),
    Claim("pair_concern", "reuse", "a two-class task from concern modules vs training from scratch", 2.5,
          "points", "Pan & Rajan, ICSE 2022 (intra-data-set two-class reuse)",
          differs="their two modules come from one model trained on every class; ours from two models trained on "
          "half the classes each; voting, no calibration, as the paper"),
    Claim("reuse_gradsplitter", "reuse", "every class from GradSplitter modules of two half-class models vs "
          "training from scratch", -2.46, "points", "Qi et al., TOSEM 2023 (GradSplitter)", differs=EVERY_CLASS),
    Claim("reuse_concern", "reuse", "every class from concern modules of two half-class models vs training from "
          "scratch", -2.3, "points", "Pan & Rajan, ICSE 2022 (abstract: the mean over their scenarios)",
          differs=EVERY_CLASS + "; voting, no calibration, as the paper"),
    Claim("replace_concern", "reuse", "replacing one class's module with another model's", -0.5, "points",
          "Pan & Rajan, ICSE 2022 (abstract)", differs="the donor is a model of half the classes (the paper swaps "
          "between two architectures trained on every class); one class per seed, not every class"),
    Claim("kernels_gs_vs_cs", "methods", "GradSplitter keeps fewer kernels than CNNSplitter (CNNSplitter's "
          "kept kernels minus GradSplitter's)", 19.88, "points", "Qi et al., TOSEM 2023",
          differs="narrow models (an eighth of the paper's width) and, in the quick profile, CNNSplitter shortened "
          "to 8 generations: a short GA keeps nearer its initial ratios"),
    Claim("loss_gs_vs_cs", "methods", "... at less accuracy loss (CNNSplitter's loss minus GradSplitter's)", 0.0,
          "points (> 0)", "Qi et al., TOSEM 2023"),
    Claim("concern_paper_loss", "methods", "concern identification's composed modules vs the model (top-1)", -1.77,
          "points", "Pan & Rajan, ICSE 2022", differs="the paper's channels (all active ones kept), not its position "
          "masks; digits models are near 100 %"),
    Claim("cost_ratio", "cost", "reuse costs less than retraining (retraining / reuse)", 37.0, "x",
          "Pan & Rajan, ICSE 2022 (CO2e)", differs="CPU seconds, not CO2e, where the machine has no energy counter; "
          "the paper retrains for 200 epochs on CIFAR, the quick profile for 10 on digits"),
)


def _rows(per_seed: dict, experiment: str) -> list[tuple[int, dict]]:
    return [(seed, results[experiment]) for seed, results in per_seed.items()
            if experiment in results and "error" not in results[experiment]]


def failures(per_seed: dict) -> list[dict]:
    """The experiments that failed for a seed, with the reason (their claims count the other seeds only)."""
    return [{"seed": seed, "experiment": name, "error": result["error"]}
            for seed, results in per_seed.items() for name, result in results.items() if "error" in result]


def _method_row(result: dict, method: str, preset: str | None = None) -> dict | None:
    return next((r for r in result["rows"] if r["method"] == method and (preset is None or r["preset"] == preset)),
                None)


def claim_values(per_seed: dict) -> dict[str, list[float]]:
    """Our measurement of each claim, one value per seed (per seed and weak model for patching)."""
    values: dict[str, list[float]] = {c.key: [] for c in CLAIMS}
    for _, r in _rows(per_seed, "accuracy"):
        values["accuracy_gain"].append(r["gain_points"])
    for _, r in _rows(per_seed, "patching"):
        for row in r["rows"]:
            tag = "gs" if row["method"] == "gradsplitter" else "cs"
            for metric in ("precision", "recall", "f1"):
                key = f"patch_{tag}_{metric}"
                if key in values:
                    values[key].append(round(100 * (row[f"after_{metric}"] - row[f"before_{metric}"]), 3))
    for _, r in _rows(per_seed, "reuse"):
        for row in r["rows"]:
            key = f"reuse_{row['method']}"
            if key in values:  # a method without a reuse claim of its own (CNNSplitter) is shown, not claimed
                values[key].append(row["difference_points"])
        for row in r.get("pairs", []):
            if f"pair_{row['method']}" in values:
                values[f"pair_{row['method']}"].append(row["difference_points"])
        values["replace_concern"].append(r["replace"]["difference_points"])
    for _, r in _rows(per_seed, "methods"):
        gs, cs = _method_row(r, "gradsplitter"), _method_row(r, "cnnsplitter")
        if gs and cs:
            values["kernels_gs_vs_cs"].append(round(100 * (cs["kernels_kept"] - gs["kernels_kept"]), 3))
            values["loss_gs_vs_cs"].append(round(cs["loss_points"] - gs["loss_points"], 3))
        concern = _method_row(r, "concern", "paper")
        if concern:
            values["concern_paper_loss"].append(-concern["loss_points"])
    for _, r in _rows(per_seed, "cost"):
        ratios = [route.get("speedup_vs_scratch") for route in r["routes"] if route["route"] == "reuse (concern)"]
        values["cost_ratio"].extend(v for v in ratios if v is not None)
    return values


def verdict(claim: Claim, ours: dict | None, resolution: float = 0.0) -> str:
    """Whether the paper's effect reproduced: direction and size, against noise = the larger of the spread over
    seeds and what one test image moves the figure (``resolution``, points)."""
    if ours is None:
        return "not run"
    m, paper = ours["mean"], claim.paper
    noise = max(ours["std"], resolution)
    if claim.key == "loss_gs_vs_cs":
        if abs(m) <= noise:
            return f"inconclusive (within noise, ±{noise:.2f} points)"
        return "reproduced (GradSplitter loses less)" if m > 0 else "not reproduced (GradSplitter loses more)"
    if claim.unit == "x":
        if m <= 1:
            return "not reproduced (reuse is not cheaper)"
        return "reproduced, smaller effect" if m < paper / 2 else "reproduced"
    if paper <= 0:  # a loss (or "less loss" with paper 0): reproduced when ours loses no more than about the paper's
        if m < paper - noise:
            return "not reproduced (we lose more)"
        if abs(m) <= noise:
            return "reproduced (no loss beyond noise)"
        return "reproduced (a gain here)" if m > 0 else "reproduced (we lose about as much or less)"
    if abs(m) <= noise:  # a mean inside the paper's range says nothing when the spread reaches zero
        return f"inconclusive (within noise, ±{noise:.2f} points)"
    if claim.low is not None and claim.low <= m <= claim.high:
        return "reproduced (within the paper's range)"
    if m < 0:
        return "not reproduced (opposite direction)"
    if abs(m - paper) <= noise:
        return "reproduced (about the paper's size)"
    return "reproduced, larger effect" if m > paper else "reproduced, smaller effect"


def resolutions(per_seed: dict, images_per_point: float) -> dict[str, float]:
    """Points one test image moves each claim's figure: the run's test images for accuracies, the target class's
    test images (the fewest of any patch) for patching, the two classes' test images for a two-class task."""
    one_image = 1 / images_per_point if images_per_point else 0.0
    supports = [row["target_support"] for _, r in _rows(per_seed, "patching") for row in r["rows"]]
    per_patch = 100 / min(supports) if supports else 0.0
    pair_images = [row["test_images"] for _, r in _rows(per_seed, "reuse") for row in r.get("pairs", [])]
    per_pair = 100 / min(pair_images) if pair_images else 0.0
    return {c.key: (per_patch if c.experiment == "patching" else per_pair if c.key.startswith("pair_")
                    else 0.0 if c.unit == "x" or c.key == "kernels_gs_vs_cs" else one_image) for c in CLAIMS}


def build_report(per_seed: dict, images_per_point: float, settings: dict) -> dict:
    values = claim_values(per_seed)
    resolution = resolutions(per_seed, images_per_point)
    claims = []
    for claim in CLAIMS:
        ours = summary(values[claim.key])
        if ours is None and claim.experiment not in settings["experiments"]:
            continue
        claims.append({"key": claim.key, "experiment": claim.experiment, "claim": claim.text, "paper": claim.paper,
                       "paper_range": [claim.low, claim.high] if claim.low is not None else None, "unit": claim.unit,
                       "source": claim.source, "ours": ours, "values": values[claim.key],
                       "one_image_points": round(resolution[claim.key], 3), "differs": claim.differs,
                       "verdict": verdict(claim, ours, resolution[claim.key])})
    return {"claims": claims, "per_seed": {str(k): v for k, v in per_seed.items()},
            "failures": failures(per_seed), "images_per_point": images_per_point}


# -- exports ------------------------------------------------------------------------------------------------


def _fmt(ours: dict | None) -> str:
    if ours is None:
        return "—"
    return f"{ours['mean']:+.2f} ± {ours['std']:.2f} (n = {ours['n']}, {ours['min']:+.2f} … {ours['max']:+.2f})"


def to_markdown(experiment) -> str:
    report = experiment.report
    lines = [f"# {experiment.name}", "",
             f"Profile `{experiment.profile}`, data set {experiment.dataset.name}, seeds {experiment.seeds}, "
             f"{experiment.seconds / 60:.1f} minutes. One test image moves an accuracy by "
             f"{1 / report['images_per_point']:.2f} points ({report['images_per_point']} images per point).", "",
             "| claim | paper | ours (mean ± std, range) | one image | verdict | source |", "|---|---|---|---|---|---|"]
    for c in report["claims"]:
        image = f"{c['one_image_points']:.2f} pts" if c.get("one_image_points") else "—"
        lines.append(f"| {c['claim']} | {c['paper']:+g} {c['unit']} | {_fmt(c['ours'])} | {image} | {c['verdict']} | "
                     f"{c['source']} |")
    differs = [c for c in report["claims"] if c.get("differs")]
    if differs:
        lines += ["", "Why a number may differ from the paper's:"]
        lines += [f"- {c['claim']}: {c['differs']}" for c in differs]
    for failed in report.get("failures", []):
        lines.append(f"- seed {failed['seed']}, {failed['experiment']}: failed: {failed['error']}")
    lines += ["", "Per-seed figures: the CSV export (`report.csv`) and the report page link every figure to its "
              "registry rows."]
    for note in experiment.settings.get("notes", []):
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"


def flat_rows(experiment) -> list[dict]:
    """One row per measured figure: experiment, seed, what, value, and the rows it came from."""
    rows = []
    for seed, results in experiment.report["per_seed"].items():
        for name, result in results.items():
            if "error" in result:
                continue
            for item in _items(result):
                refs = " ".join(f"{v['kind']}#{v['id']}" for v in item.values() if isinstance(v, dict) and "kind" in v)
                for key, value in item.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        label = " / ".join(str(item[k]) for k in ("weak", "method", "preset", "route", "class")
                                           if item.get(k))
                        rows.append({"experiment": name, "seed": seed, "row": label,
                                     "figure": key, "value": value, "rows": refs})
    return rows


def _items(result: dict) -> list[dict]:
    items = [result]
    for key in ("rows", "pairs", "routes", "pool", "sources"):
        items += result.get(key, [])
    if "replace" in result:
        items.append({**result["replace"], "method": "replace"})
    return items


def to_csv(experiment) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["experiment", "seed", "row", "figure", "value", "rows"])
    writer.writeheader()
    writer.writerows(flat_rows(experiment))
    return out.getvalue()
