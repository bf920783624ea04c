"""How GradSplitter's epoch selection trades kernels for test accuracy: one `fast` search per model, then every
candidate epoch (within the accuracy window) refitted as the selection refits it, and each selection rule's pick
read off the same candidates: "fewest kernels whose refitted heads are within ``tolerance`` of the reference on
the validation split", for several tolerances, and the same with the validation split's binomial standard error
added to the margin (``+1 SE``).

Tune on one data set, report on another: the test split here is read only to score the rules, so run it on a
data set you will not report (e.g. a shapes set from bench/make_shapes.py with its own seed), pick the rule, then
run bench/decompose.py on the data sets you report.

    python bench/gradsplitter_selection.py --data var/bench/shapes-tune.npz --models rescnn,simcnn
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.base_models import train_base  # noqa: E402
from bench.decompose import QUICK_MODELS, bench_data, config_overrides, models_subset  # noqa: E402
from splitter_engine.architectures import ArchSpec  # noqa: E402
from splitter_engine.methods import gradsplitter  # noqa: E402
from splitter_engine.methods.gradsplitter_config import GradSplitterConfig  # noqa: E402
from splitter_engine.methods.selection import refit_candidates  # noqa: E402
from splitter_engine.runtime import RunContext  # noqa: E402

TOLERANCES = (0.0, 0.005, 0.01, 0.015, 0.02)


def candidates_of(name: str, width: float, epochs: int, data, seed: int, overrides: dict) -> dict:
    """Run the search; refit every candidate epoch and measure its validation and test accuracy."""
    spec = ArchSpec(name, data.num_classes, data.spec.channels, {"width": width})
    model, _ = train_base(spec, data, epochs)
    config = GradSplitterConfig.preset("fast", seed=seed, **overrides)
    search = gradsplitter._Search(model, data, config, RunContext(device="cpu"))
    seen = {}
    original = search._refit_select

    def record(history, snapshots, chosen, reference):
        seen.update(history=history, snapshots=snapshots, reference=reference)
        return original(history, snapshots, chosen, reference)

    search._refit_select = record
    result = search.run()
    history, snapshots, reference = seen["history"], seen["snapshots"], seen["reference"]
    rows = []
    search.gate.attach()
    try:
        for epoch in refit_candidates(history, reference, config.accuracy_window, float("inf")):
            snapshot = snapshots[epoch]
            val = search._refit(snapshot)
            heads = search._heads(snapshot.refit_heads)
            test, _ = search.composed_accuracy(search.x_test, search.y_test, snapshot.masks.to(search.device).float(),
                                               heads)
            rows.append({"epoch": epoch, "retention": history[epoch]["retention"], "val": round(val, 5),
                         "test": round(test, 5)})
    finally:
        search.gate.detach()
    base_test = search.base_accuracy(search.x_test, search.y_test)
    return {"model": name, "reference": reference, "base_val": result.metrics["val_base_accuracy"],
            "base_test": round(base_test, 5), "val_images": len(search.y_val), "test_images": len(search.y_test),
            "hub_selected_epoch": result.metrics["selected_epoch"], "candidates": rows}


def pick(run: dict, tolerance: float, standard_errors: float) -> dict | None:
    """The rule's choice: fewest kernels whose refitted validation accuracy clears the floor."""
    ref, n = run["reference"], run["val_images"]
    margin = standard_errors * math.sqrt(max(ref * (1 - ref), 1 / n) / n)
    eligible = [c for c in run["candidates"] if c["val"] >= ref - tolerance + margin - 1e-9]
    return min(eligible, key=lambda c: (c["retention"], -c["val"])) if eligible else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits-32")
    parser.add_argument("--models", default="simcnn,rescnn")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="config override")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = bench_data(args.data)
    overrides = config_overrides(args.set)
    runs = [candidates_of(name, width, epochs, data, args.seed, overrides)
            for name, width, epochs in models_subset(QUICK_MODELS, args.models)]
    rules = [(t, se) for se in (0, 1) for t in TOLERANCES]
    print(f"{data.name}: test loss (points) and kernels kept of each rule's pick; base test accuracy in brackets")
    print("rule".ljust(16) + "".join(f"{r['model']} ({100 * r['base_test']:.1f} %)".rjust(26) for r in runs))
    table = []
    for tolerance, se in rules:
        cells, label = [], f"tol {tolerance:.3f}" + (" +1 SE" if se else "")
        for run in runs:
            chosen = pick(run, tolerance, se)
            loss = None if chosen is None else round(100 * (chosen["test"] - run["base_test"]), 2)
            cells.append({"model": run["model"], "test_loss_points": loss,
                          "retention": chosen["retention"] if chosen else None})
        table.append({"tolerance": tolerance, "standard_errors": se, "picks": cells})
        print(label.ljust(16) + "".join(
            (f"{c['test_loss_points']:+.2f} at {100 * c['retention']:.1f} %" if c["retention"] is not None
             else "none").rjust(26) for c in cells))
    print(json.dumps({"bench": "gradsplitter_selection", "data": data.name, "seed": args.seed, "overrides": overrides,
                      "runs": runs, "rules": table}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
