"""Concern identification (Pan & Rajan, ICSE'22): modules from which units are active for a class.

Training-free. Per class c the method observes the training images the model classifies as c with
confidence >= 0.9 (concern identification) and as many images of the other classes, spread evenly over
them (tangling identification, 1 : 1). A channel of a channel group is **active** for an input when it is
> 0 somewhere in one of the group's pre-activation maps (``concern_activity``). All N classes are served
by one inference pass over the shared pool of observed images: each image's activity bits are added to
the counts of every class that observes it (a membership matrix product), on CPU or CUDA.

- ``paper`` preset (keep rule ``any``): a channel is kept when it is active for at least one observed
  input, the channel-level consequence of the paper's rule (a channel inactive at every position for every
  observed input is masked everywhere by the paper, and is removed physically here).
- ``sliced`` preset (keep rule ``fraction``): kept when active for at least a fraction tau of the observed
  inputs; tau is chosen on the validation split (of a grid, the largest whose voting accuracy stays within
  ``tolerance`` of the model's there), or fixed by the caller.

Concern modularization: channeling gives each module a two-row output layer, the class's row and bias and
one "rest" row with the mean of the other classes' rows and biases (scoring kind ``class_vs_rest``);
MC-BLN backtracks from that layer, zeroing the inputs that feed the rest output but not the class output
(and removing their channels when the output layer is their only consumer). Composition is voting: the
module with the highest probability for its own class wins.
"""
from __future__ import annotations

import copy
import time

import numpy as np
import torch
import torch.nn as nn

from splitter_engine.channels import ChannelGraph, analyse_channels, build_dependency_graph
from splitter_engine.data import ImageDataset
from splitter_engine.evaluation import metrics_from_predictions
from splitter_engine.gating import ChannelGate
from splitter_engine.methods.base import register_decomposer
from splitter_engine.methods.concern_activity import ActivityRecorder
from splitter_engine.methods.concern_config import ConcernConfig
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.output_layer import find_output_linear
from splitter_engine.runtime import EngineError, RunContext, seed_everything

_EPS = 1e-9


def confident_positives(probabilities: torch.Tensor, labels: torch.Tensor, confidence: float) -> list[np.ndarray]:
    """Per class, the positions of the images of that class the model gives at least ``confidence``."""
    own = probabilities.gather(1, labels[:, None]).squeeze(1)
    hit = (own >= confidence) & (probabilities.argmax(1) == labels)
    return [np.flatnonzero((hit & (labels == c)).numpy()) for c in range(probabilities.shape[1])]


def spread_negatives(labels: np.ndarray, c: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` positions of images of the classes other than ``c``, as evenly over those classes as their
    numbers allow (round robin over the classes in a seeded order, a seeded order within each class)."""
    others = [k for k in rng.permutation(int(labels.max()) + 1) if k != c]
    pools = {k: rng.permutation(np.flatnonzero(labels == k)) for k in others}
    taken: list[int] = []
    depth = 0
    while len(taken) < count and any(depth < len(p) for p in pools.values()):
        for k in others:
            if len(taken) >= count:
                break
            if depth < len(pools[k]):
                taken.append(int(pools[k][depth]))
        depth += 1
    return np.sort(np.asarray(taken, dtype=np.int64))


def channeled_output(weight: torch.Tensor, bias: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Channeling: per class c the rows [w_c; mean of the other rows] and biases [b_c; mean of the others]."""
    n = weight.shape[0]
    bias = bias if bias is not None else torch.zeros(n, dtype=weight.dtype, device=weight.device)
    total_w, total_b = weight.sum(0), bias.sum()
    rest_w = (total_w[None, :] - weight) / (n - 1)
    rest_b = (total_b - bias) / (n - 1)
    return torch.stack([weight, rest_w], 1), torch.stack([bias, rest_b], 1)


def backtrack_removals(weight: torch.Tensor, delta: float) -> torch.Tensor:
    """MC-BLN at the output layer: per class (N x F bool), the inputs that feed the "rest" output
    (|w_rest| >= delta * its largest) but not the class output (|w_c| < delta * its largest)."""
    if delta <= 0:
        return torch.zeros(weight.shape[0], weight.shape[2], dtype=torch.bool, device=weight.device)
    magnitude = weight.abs()
    feeds = magnitude >= delta * magnitude.amax(-1, keepdim=True)
    return feeds[:, 1] & ~feeds[:, 0]


def _no_positives(classes: list[str], confidence: float) -> str:
    return (f"the model classifies no training image of class(es) {classes} as that class with confidence >= "
            f"{confidence}: concern identification has no positive examples for them (lower 'confidence', or "
            "decompose a better model)")


class _Concern:
    def __init__(self, model: nn.Module, data: ImageDataset, config: ConcernConfig, ctx: RunContext):
        self.config, self.ctx = config, ctx
        self.device = ctx.torch_device
        seed_everything(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.n = data.num_classes
        if self.n < 2:
            raise EngineError("concern identification needs a model of at least two classes")
        self.class_names = list(data.class_names)
        shape = data.spec.shape
        self.model = copy.deepcopy(model).eval().to(self.device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.output_layer = find_output_linear(self.model, shape)
        if self.output_layer is None:
            raise EngineError("concern identification needs a model whose output comes from a Linear layer "
                              "(its modules keep two rows of it: the class and the rest)")
        dg = build_dependency_graph(self.model, shape)
        self.graph: ChannelGraph = analyse_channels(self.model, shape, dg, hidden_units=config.hidden_units)
        self.recorder = ActivityRecorder(self.model, self.graph, dg, self.output_layer, shape)
        self.gate = ChannelGate(self.model, self.graph)
        self.x, self.y = data.tensors("train")
        has_val = len(data.splits.get("val", ()))
        self.x_val, self.y_val = data.tensors("val") if has_val else (self.x, self.y)
        self.val_split = "val" if has_val else "train"
        self.x_test, self.y_test = data.tensors("test")
        output = self.model.get_submodule(self.output_layer)
        if output.out_features != self.n:
            raise EngineError(f"the model has {output.out_features} outputs but the data set has {self.n} classes")
        self.weight, self.bias = channeled_output(output.weight.detach().float(),
                                                  output.bias.detach().float() if output.bias is not None else None)
        self.removed = backtrack_removals(self.weight, config.bln_delta)
        self.weight[self.removed[:, None, :].expand_as(self.weight)] = 0.0
        self.bln_slots = self._backtracked_slots()

    # -- observation ------------------------------------------------------------------------------
    def _batches(self, x: torch.Tensor):
        step = self.config.batch_size
        for start in range(0, len(x), step):
            self.ctx.check_cancelled()
            yield start, x[start:start + step].to(self.device)

    @torch.no_grad()
    def _probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.softmax(self.model(b).float(), 1).cpu() for _, b in self._batches(x)]) \
            if len(x) else torch.empty(0, self.n)

    def observed_sets(self, probabilities: torch.Tensor) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per class, the positions (in the training split) of its positives and of its negatives."""
        positives = confident_positives(probabilities, self.y, self.config.confidence)
        empty = [self.class_names[c] for c, p in enumerate(positives) if len(p) == 0]
        if empty:
            raise EngineError(_no_positives(empty, self.config.confidence))
        labels = self.y.numpy()
        negatives = []
        for c, p in enumerate(positives):
            if self.config.max_positives and len(p) > self.config.max_positives:
                positives[c] = p = np.sort(self.rng.choice(p, self.config.max_positives, replace=False))
            negatives.append(spread_negatives(labels, c, int(round(len(p) * self.config.negative_ratio)), self.rng))
        return positives, negatives

    @torch.no_grad()
    def observe(self, positives, negatives) -> dict:
        """One pass over the pool of every observed image: per class, how many of its observed inputs each
        slot (and dense node) is active for."""
        pool = np.unique(np.concatenate([*positives, *negatives]))
        where = {int(i): k for k, i in enumerate(pool)}
        member = torch.zeros(len(pool), self.n)
        for c in range(self.n):
            for i in (*positives[c], *negatives[c]):
                member[where[int(i)], c] = 1.0
        member = member.to(self.device)
        counts = torch.zeros(self.n, self.graph.total_slots, device=self.device)
        dense: dict[str, torch.Tensor] = {}
        x_pool = self.x[torch.from_numpy(pool)]
        self.recorder.attach()
        try:
            for start, batch in self._batches(x_pool):
                _, active = self.recorder.observe(batch)
                rows = member[start:start + len(batch)]
                counts += rows.t() @ active.float()
                for name, bits in self.recorder.dense.items():
                    dense[name] = dense.get(name, 0) + rows.t() @ bits.float()
                self.ctx.report(0.05 + 0.45 * (start + len(batch)) / len(pool), "observe",
                                f"{start + len(batch)}/{len(pool)} observed images")
        finally:
            self.recorder.detach()
        observed = member.sum(0)
        return {"counts": counts, "dense": dense, "observed": observed, "pool": len(pool)}

    # -- masks ------------------------------------------------------------------------------------
    def _backtracked_slots(self) -> torch.Tensor:
        """Per class, the slots MC-BLN removes whole: every input of the output layer they reach is zeroed
        and the output layer is the only layer that consumes their group."""
        drop = torch.zeros(self.n, self.graph.total_slots, dtype=torch.bool)
        offsets = self.graph.offsets()
        for group, offset in zip(self.graph.groups, offsets):
            if not group.consumers or any(c.module != self.output_layer for c in group.consumers):
                continue
            for consumer in group.consumers:
                positions = torch.tensor(consumer.positions)
                roots = torch.tensor(consumer.roots)
                for r in roots.unique().tolist():
                    inputs = positions[roots == r]
                    drop[:, offset + r] = self.removed[:, inputs].all(1).cpu()
        return drop

    @staticmethod
    def frequencies(seen: dict) -> torch.Tensor:
        """N x total_slots: the fraction of each class's observed inputs (positives and negatives) for which
        each slot is active."""
        return (seen["counts"] / seen["observed"].clamp_min(1)[:, None]).cpu()

    def masks(self, seen: dict, tau: float | None) -> torch.Tensor:
        """N x total_slots keep-masks: active for >= 1 observed input (tau None) or with a frequency >= tau;
        MC-BLN's whole-channel removals; a group never loses all its channels (its most active one stays)."""
        counts = seen["counts"].cpu()
        if tau is None:
            keep = counts > 0
        else:
            keep = (self.frequencies(seen) >= tau - _EPS) & (counts > 0)
        keep &= ~self.bln_slots
        for part_keep, part_counts in zip(self.graph.split(keep), self.graph.split(counts)):
            empty = ~part_keep.any(1)
            if empty.any():
                best = part_counts.argmax(1)
                part_keep[empty, best[empty]] = True
        return keep

    # -- voting ---------------------------------------------------------------------------------
    @torch.no_grad()
    def module_scores(self, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """B x N: each module's probability for its own class (two-row softmax), with its masks."""
        features: list[torch.Tensor] = []
        layer = self.model.get_submodule(self.output_layer)
        # A forward hook sees the inputs as the layer used them: after the gate's mask on them.
        handle = layer.register_forward_hook(lambda mod, args, out: features.append(args[0]))
        weight, bias = self.weight.to(self.device), self.bias.to(self.device)
        per_pass = max(1, self.config.batch_size // self.n)
        out = []
        try:
            with self.gate.attached(masks.to(self.device, torch.float32)):
                for start in range(0, len(x), per_pass):
                    self.ctx.check_cancelled()
                    batch = x[start:start + per_pass].to(self.device)
                    features.clear()
                    self.model(batch.repeat(self.n, *([1] * (batch.dim() - 1))))
                    h = features[-1].float().view(self.n, len(batch), -1)
                    z = torch.einsum("mbf,mkf->mbk", h, weight) + bias[:, None, :]
                    out.append(torch.softmax(z, -1)[..., 0].t().cpu())
        finally:
            handle.remove()
        return torch.cat(out) if out else torch.empty(0, self.n)

    def voting_accuracy(self, x: torch.Tensor, y: torch.Tensor, masks: torch.Tensor) -> tuple[float, torch.Tensor]:
        predicted = self.module_scores(x, masks).argmax(1)
        return float((predicted == y).float().mean()) if len(y) else 0.0, predicted

    def retention(self, masks: torch.Tensor) -> torch.Tensor:
        return self.graph.kept_kernels(masks.float()) / self.graph.total_kernels

    # -- the run --------------------------------------------------------------------------------------
    def run(self) -> DecompositionResult:
        started = time.perf_counter()
        config, ctx = self.config, self.ctx
        ctx.report(0.02, "observe", "classifying the training images")
        probabilities = self._probabilities(self.x)
        positives, negatives = self.observed_sets(probabilities)
        predict_seconds = time.perf_counter() - started
        t0 = time.perf_counter()
        seen = self.observe(positives, negatives)
        observe_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        val_probabilities = self._probabilities(self.x_val)
        base_val = float((val_probabilities.argmax(1) == self.y_val).float().mean())
        history, chosen_tau, masks = self._choose(seen, base_val)
        select_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        ctx.report(0.95, "evaluate", "voting on the test split")
        test_acc, predicted = self.voting_accuracy(self.x_test, self.y_test, masks)
        base_test = float((self._probabilities(self.x_test).argmax(1) == self.y_test).float().mean())
        evaluate_seconds = time.perf_counter() - t0
        per_class = self.retention(masks)
        report = metrics_from_predictions(self.y_test.numpy(), predicted.numpy(), self.class_names, split="test")
        selected = next(i for i, h in enumerate(history) if h.get("chosen"))
        metrics = {
            "composed_accuracy": round(test_acc, 5), "base_accuracy": round(base_test, 5),
            "accuracy_loss": round(base_test - test_acc, 5),
            "val_composed_accuracy": history[selected]["accuracy"], "val_base_accuracy": round(base_val, 5),
            "val_split": self.val_split, "keep_rule": config.keep_rule, "tau": chosen_tau,
            "tau_chosen_on": None if config.keep_rule == "any" else ("fixed" if config.tau is not None else self.val_split),
            "mean_retention": round(float(per_class.mean()), 5),
            "retention_per_class": [round(float(r), 5) for r in per_class],
            "composed_per_class": [{"class": c.name, "precision": round(c.precision, 5), "recall": round(c.recall, 5),
                                    "f1": round(c.f1, 5), "support": c.support} for c in report.per_class],
            "positives": [int(len(p)) for p in positives], "negatives": [int(len(n)) for n in negatives],
            "observed_images": int(seen["pool"]),
            "bln_inputs_removed": [int(r) for r in self.removed.sum(1).tolist()],
            "bln_channels_removed": [int(r) for r in self.bln_slots.sum(1).tolist()],
            "units": self._units(masks, seen),
            "total_kernels": int(self.graph.total_kernels), "groups": len(self.graph.groups),
            "output_layer": self.output_layer, "device": str(self.device),
            "seconds": round(time.perf_counter() - started, 3),
            "seconds_by_stage": {"predict": round(predict_seconds, 3), "observe": round(observe_seconds, 3),
                                 "select": round(select_seconds, 3), "evaluate": round(evaluate_seconds, 3)},
            "train_images": int(len(self.x)), "val_images": int(len(self.x_val)), "test_images": int(len(self.x_test)),
        }
        ctx.report(1.0, "done", f"voting accuracy {test_acc:.4f} (model {base_test:.4f}), "
                                f"kernels kept {metrics['mean_retention']:.3f}")
        return DecompositionResult(
            method=Concern.name, config=config.to_dict(), class_names=self.class_names,
            group_roots=[g.root for g in self.graph.groups], group_sizes=[g.size for g in self.graph.groups],
            masks=masks.bool().cpu(), scoring="class_vs_rest",
            scoring_tensors={"weight": self.weight.cpu().contiguous(), "bias": self.bias.cpu().contiguous()},
            history=history, selected_epoch=selected, metrics=metrics)

    def _entry(self, index: int, tau: float | None, masks: torch.Tensor, seconds_from: float) -> dict:
        accuracy, _ = self.voting_accuracy(self.x_val, self.y_val, masks)
        return {"epoch": index, "phase": "any" if tau is None else f"tau={tau}", "tau": tau, "accuracy": round(accuracy, 5),
                "retention": round(float(self.retention(masks).mean()), 5),
                "seconds": round(time.perf_counter() - seconds_from, 3)}

    def _choose(self, seen: dict, base_val: float) -> tuple[list[dict], float | None, torch.Tensor]:
        """The keep-masks and their history: the rule's one result, or tau chosen on the validation split:
        the largest tau of the grid whose voting accuracy stays within tolerance of the model's there (the
        most accurate tried when none does). Masks shrink as tau grows and, on every bench model, accuracy
        never rose with tau (docs/concern.md), so ``bisect`` finds it in about log2(grid) measurements;
        ``scan`` measures every tau (the whole frontier in the history) and keeps the fewest kernels within
        tolerance."""
        config = self.config
        if config.keep_rule == "any" or config.tau is not None:
            tau = None if config.keep_rule == "any" else config.tau
            masks = self.masks(seen, tau)
            entry = self._entry(0, tau, masks, time.perf_counter())
            return [{**entry, "chosen": True}], tau, masks
        grid = sorted(set(config.tau_grid))
        floor = base_val - config.tolerance - _EPS
        tried: dict[int, tuple[dict, torch.Tensor]] = {}
        measured: dict[bytes, dict] = {}  # low taus often give the same masks: measured once

        def trial(i: int) -> bool:
            t0 = time.perf_counter()
            masks = self.masks(seen, grid[i])
            key = masks.numpy().tobytes()
            if key in measured:
                entry = {**measured[key], "phase": f"tau={grid[i]}", "tau": grid[i]}
            else:
                entry = measured[key] = self._entry(i, grid[i], masks, t0)
            entry["seconds"] = round(time.perf_counter() - t0, 3)
            tried[i] = (entry, masks)
            self.ctx.report(0.5 + 0.4 * len(tried) / len(grid), "select",
                            f"tau {grid[i]}: val accuracy {entry['accuracy']:.4f}, kernels kept {entry['retention']:.3f}",
                            dict(entry))
            return entry["accuracy"] >= floor

        if config.tau_search == "scan":
            within = [i for i in range(len(grid)) if trial(i)]
            best = min(within, key=lambda i: (tried[i][0]["retention"], -tried[i][0]["accuracy"], i)) if within else None
        else:
            low, high, best = 0, len(grid) - 1, None
            while low <= high:
                middle = (low + high) // 2
                if trial(middle):
                    best, low = middle, middle + 1
                else:
                    high = middle - 1
        if best is None:
            best = max(tried, key=lambda i: (tried[i][0]["accuracy"], -i))
        history = []
        for order, i in enumerate(sorted(tried)):  # in tau order
            entry = dict(tried[i][0], epoch=order, chosen=i == best)
            history.append(entry)
        return history, grid[best], tried[best][1]

    def _units(self, masks: torch.Tensor, seen: dict) -> dict:
        """Per class, units kept per layer: channels per group (sliced), and nodes per dense hidden layer active
        for at least one observed input (the paper's rule; recorded, not sliced)."""
        layers = [{"name": g.root, "kind": "channels" if g.kind == "conv" else "dense", "size": g.size, "sliced": True}
                  for g in self.graph.groups]
        kept = [[int(part.sum()) for part in self.graph.split(row)] for row in masks]
        sliced = {g.root for g in self.graph.groups}
        for name, counts in seen["dense"].items():
            if name in sliced:
                continue
            active = counts.cpu() > 0
            layers.append({"name": name, "kind": "dense", "size": int(counts.shape[1]), "sliced": False})
            for c in range(self.n):
                kept[c].append(int(active[c].sum()))
        return {"layers": layers, "kept": kept}


@torch.no_grad()
def classes_without_positives(model: nn.Module, data: ImageDataset, confidence: float, first: int = 4) -> list[str]:
    """The classes none of whose training images the model gives ``confidence`` or more for its class.

    A cheap check before a run is queued: rounds of ``first``, then twice as many, ... images of each class
    still without a positive, stopping as soon as every class has one (one small batch for a good model).
    """
    model = model.eval()
    device = next(model.parameters()).device
    train = data.splits["train"]
    labels = data.labels[train]
    pending = {c: train[labels == c] for c in range(data.num_classes)}
    missing = set(pending)
    done, size = 0, first
    while missing:
        chunks = {c: pending[c][done:done + size] for c in sorted(missing) if done < len(pending[c])}
        if not chunks:
            break
        idx = np.concatenate(list(chunks.values()))
        y = torch.from_numpy(data.labels[idx].astype(np.int64))
        probabilities = torch.softmax(model(data.normalise(data.images[idx]).to(device)).float(), 1).cpu()
        missing -= {c for c, p in enumerate(confident_positives(probabilities, y, confidence)) if len(p)}
        done, size = done + size, min(size * 2, 256)
    return [data.class_names[c] for c in sorted(missing)]


class Concern:
    name = "concern"
    config_class = ConcernConfig

    def make_config(self, preset: str = "sliced", **overrides) -> ConcernConfig:
        return ConcernConfig.preset(preset, **overrides)

    def check(self, model: nn.Module, data: ImageDataset, config: ConcernConfig) -> None:
        """What can be refused before a run is queued (EngineError): a model whose output is not a Linear
        layer, a class without a confident positive training image."""
        if find_output_linear(model, data.spec.shape) is None:
            raise EngineError("concern identification needs a model whose output comes from a Linear layer "
                              "(its modules keep two rows of it: the class and the rest)")
        if data.num_classes < 2:
            raise EngineError("concern identification needs a model of at least two classes")
        empty = classes_without_positives(model, data, config.confidence)
        if empty:
            raise EngineError(_no_positives(empty, config.confidence))

    def decompose(self, model: nn.Module, data: ImageDataset, config: ConcernConfig | None = None,
                  ctx: RunContext | None = None) -> DecompositionResult:
        config = config or ConcernConfig.preset("sliced")
        ctx = ctx or RunContext()
        ctx.report(0.0, "setup", "analysing channel groups")
        return _Concern(model, data, config, ctx).run()


register_decomposer(Concern())
