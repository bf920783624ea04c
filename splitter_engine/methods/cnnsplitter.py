"""CNNSplitter (Qi et al., TOSEM'23): per-class channel masks found by a genetic algorithm.

One job does what the reference spreads over a process per class, a recorder, signal files and a person
reading logs: kernel importance, layer sensitivity turned into initial ratio ranges by a coded rule, the
GA with staged-composition fitness, and the choice of generation. Every search signal is measured on the
validation split; the test split is read once, after the choice, for the report.

Candidates are never sliced: population x classes masks run as masked forward passes of the one frozen
model, many masks per pass (``ChannelGate``'s module-major batch). Their class logits form one tensor
[class, candidate, image] that the staged fitness scores by broadcasting (``staged_fitness.py``); elites
keep their logits and are never evaluated again. Modules use the ``logit`` scoring kind: the sliced
network with the original classifier, output = the raw logit of its class.

With ``hidden_units`` the classifier's hidden units are channel groups too (``analyse_channels``): they
get importance, sensitivity, genes and masks like convolution channels, and the modules' dense layers
are sliced. ``retention`` and ``kernels_kept`` still count convolution kernels; ``unit_retention`` counts
the hidden units.
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn as nn

from splitter_engine.channels import ChannelGraph, analyse_channels
from splitter_engine.data import ImageDataset
from splitter_engine.folding import fold_batchnorm
from splitter_engine.gating import ChannelGate
from splitter_engine.evaluation import channels_last
from splitter_engine.methods.base import register_decomposer
from splitter_engine.methods.cnnsplitter_config import CNNSplitterConfig
from splitter_engine.methods.genetic import GeneLayout, decode, gene_layout, initial_population, next_generation
from splitter_engine.methods.gradsplitter import search_split, unit_metrics
from splitter_engine.methods.mask_scores import class_activation_means
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.methods.staged_fitness import (composed_accuracy, composition_diff, diff_tables,
                                                    staged_fitness)
from splitter_engine.runtime import EngineError, RunContext, seed_everything

# The reference evaluates each candidate as its own sliced network over the validation loader (batch 128).
REFERENCE_BATCH = 128


def safe_ratio_ranges(curves: np.ndarray, ratios: tuple[float, ...], drop: float, span: float,
                      floor: float, cap: float) -> tuple[list[list[float]], list[float]]:
    """The coded sensitivity rule: ``curves`` is groups x ratios of composed validation accuracy (the last
    ratio 1.0). A group's safe ratio is the smallest r such that r and every larger ratio stay within
    ``drop`` of the accuracy at r = 1; its range starts at min(max(safe, floor), cap) and runs ``span``
    higher in steps of 0.1 (at most 1.0)."""
    ranges, safe = [], []
    for curve in curves:
        ok = curve >= curve[-1] - drop - 1e-9
        first = len(ratios) - 1
        while first > 0 and ok[first - 1]:
            first -= 1
        r = min(max(float(ratios[first]), floor), cap)
        safe.append(float(ratios[first]))
        steps = int(round(span / 0.1))
        ranges.append(sorted({round(min(r + 0.1 * k, 1.0), 2) for k in range(steps + 1)}))
    return ranges, safe


def diff_weights(graph: ChannelGraph) -> torch.Tensor:
    """Per mask slot, its weight in the fitness's Jaccard diff: its kernels; with hidden units, each unit weighs
    (grouped kernels / hidden units), so the units together weigh as much as the kernels (GradSplitter's
    ``slot_costs`` penalises each kind as if alone). Without hidden units this is the reference's kernel diff."""
    kernels, units = graph.slot_kernels(), graph.slot_units()
    if not units.sum():
        return kernels
    return kernels + units * (kernels.sum() / units.sum())


class _Search:
    def __init__(self, model: nn.Module, data: ImageDataset, config: CNNSplitterConfig, ctx: RunContext):
        self.config, self.ctx = config, ctx
        self.device = ctx.torch_device
        self.rng = np.random.default_rng(config.seed)
        seed_everything(config.seed)
        self.data = data
        self.n = data.num_classes
        if self.n < 2:
            raise EngineError("CNNSplitter needs a model with at least 2 classes")
        self.class_names = list(data.class_names)
        self.graph: ChannelGraph = analyse_channels(copy.deepcopy(model).eval(), data.spec.shape,
                                                    hidden_units=config.hidden_units)
        self.model = fold_batchnorm(model).to(self.device, memory_format=torch.channels_last)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.gate = ChannelGate(self.model, self.graph)
        self.group_sizes = [g.size for g in self.graph.groups]
        self.diff_weights = diff_weights(self.graph).to(self.device)
        self.x_val, self.y_val = self._validation()
        self.passes = 0
        self._check_outputs()

    # -- data ---------------------------------------------------------------------------------------
    def _validation(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The search's images: the validation split (or a held-out part of train), optionally per class."""
        data, config = self.data, self.config
        if len(data.splits.get("val", ())):
            x, y = data.tensors("val")
        else:
            x, y = data.tensors("train")
            _, held = search_split(y.numpy(), config.val_fraction, config.seed)
            x, y = x[held], y[held]
        if config.val_per_class:
            keep = []
            for c in range(self.n):
                idx = np.flatnonzero(y.numpy() == c)
                if len(idx) > config.val_per_class:
                    idx = np.sort(self.rng.choice(idx, config.val_per_class, replace=False))
                keep.append(idx)
            order = torch.from_numpy(np.sort(np.concatenate(keep)))
            x, y = x[order], y[order]
        missing = sorted(set(range(self.n)) - set(y.unique().tolist()))
        if missing:
            raise EngineError(f"the validation images have no image of class(es) {[self.class_names[c] for c in missing]}; "
                              "CNNSplitter measures every class on validation data")
        return channels_last(x.to(self.device)), y.to(self.device)

    def _check_outputs(self) -> None:
        with torch.no_grad():
            out = self.model(self.x_val[:2])
        if out.dim() != 2 or out.shape[1] != self.n:
            raise EngineError(f"the model outputs {tuple(out.shape[1:])} per image but the data set has {self.n} classes")

    # -- forward passes -------------------------------------------------------------------------------
    def _autocast(self):
        if self.ctx.use_amp:
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast(device_type=self.device.type, dtype=dtype)
        return nullcontext()

    @torch.no_grad()
    def class_logits(self, masks: torch.Tensor, classes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Logit of class ``classes[m]`` under mask ``masks[m]`` on every image of ``x``: M x len(x).

        Many masks share one forward pass (the batch is module-major), about ``batch_images`` images each."""
        m_total, n = len(masks), len(x)
        out = torch.empty(m_total, n, device=self.device)
        images = min(n, self.config.batch_images)
        per_pass = max(1, self.config.batch_images // images)
        masks, classes = masks.to(self.device), classes.to(self.device)
        with self.gate.attached():
            for start in range(0, m_total, per_pass):
                self.ctx.check_cancelled()
                chunk = slice(start, start + per_pass)
                mask_rows, cls = masks[chunk], classes[chunk]
                self.gate.set_masks(mask_rows)
                for first in range(0, n, images):
                    xb = x[first:first + images]
                    with self._autocast():
                        y = self.model(xb.repeat(len(mask_rows), *([1] * (xb.dim() - 1))))
                    y = y.float().view(len(mask_rows), len(xb), -1)
                    out[chunk, first:first + len(xb)] = y.gather(2, cls.view(-1, 1, 1).expand(-1, len(xb), 1)).squeeze(-1)
                    self.passes += 1
        return out

    @torch.no_grad()
    def base_logits(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for first in range(0, len(x), self.config.batch_images):
            with self._autocast():
                outs.append(self.model(x[first:first + self.config.batch_images]).float())
        return torch.cat(outs)

    def retention(self, masks: torch.Tensor) -> torch.Tensor:
        """Kept-kernel fraction of each mask (N)."""
        return self.graph.kept_kernels(masks.to(self.device)) / self.graph.total_kernels

    def unit_retention(self, masks: torch.Tensor) -> torch.Tensor | None:
        """Kept fraction of the classifier's hidden units of each mask (N); None when they are not masked."""
        return self.graph.unit_fraction(masks.to(self.device))

    # -- kernel importance ----------------------------------------------------------------------------
    def importance(self, base: torch.Tensor) -> torch.Tensor:
        """N x slots: mean |post-activation| of each channel (and hidden unit) over the class's confidently
        right images (softmax >= confidence; all its images if it has none), where it is consumed."""
        probs = base.softmax(1)
        confident = probs[torch.arange(len(self.y_val), device=self.device), self.y_val] >= self.config.confidence
        for c in range(self.n):
            of_class = self.y_val == c
            if not (confident & of_class).any():
                confident = confident | of_class
        x, y = self.x_val[confident], self.y_val[confident]
        return class_activation_means(self.gate, x, y, self.n, self.config.batch_images, self.device).cpu()

    # -- layer sensitivity -----------------------------------------------------------------------------
    def sensitivity(self, rank: torch.Tensor) -> np.ndarray:
        """groups x ratios composed validation accuracy when only that group keeps its top-r channels per
        class (own ranking), everything else full; r = 1 is the base model."""
        ratios = self.config.sensitivity_ratios
        slot_group = self.graph.slot_group()
        masks, classes = [], []
        for g, size in enumerate(self.group_sizes):
            in_group = slot_group == g
            for r in ratios:
                keep = max(1, math.ceil(r * size))
                for c in range(self.n):
                    masks.append(torch.where(in_group, (rank[c] < keep).float(), torch.ones(len(slot_group))))
                    classes.append(c)
        logits = self.class_logits(torch.stack(masks), torch.tensor(classes), self.x_val)
        logits = logits.view(len(self.group_sizes), len(ratios), self.n, -1)
        accuracy = (logits.argmax(2) == self.y_val).float().mean(-1).cpu().numpy()  # groups x ratios
        base = float((self.base_logits(self.x_val).argmax(1) == self.y_val).float().mean())
        return np.concatenate([accuracy, np.full((len(self.group_sizes), 1), base)], axis=1)

    # -- the GA ------------------------------------------------------------------------------------------
    def evaluate(self, bits: list[np.ndarray], layout: GeneLayout) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks (N x S x slots) and class logits on the validation images (N x S x n) of new candidates."""
        masks = torch.stack([decode(torch.from_numpy(b).long(), layout, c) for c, b in enumerate(bits)])
        count = masks.shape[1]
        classes = torch.arange(self.n).repeat_interleave(count)
        logits = self.class_logits(masks.view(self.n * count, -1), classes, self.x_val)
        return masks.to(self.device), logits.view(self.n, count, -1)

    def first_population(self, layout: GeneLayout, ratio_ranges: list[list[float]], base_val: float):
        """Population per class from the ratio ranges, evaluated; while its best composition is more than
        ``init_max_drop`` below the base model on validation, every range moves 0.1 higher and it is drawn again."""
        config = self.config
        for raises in range(config.init_raises + 1):
            bits = [initial_population(self.rng, config.population, layout, ratio_ranges, config.init_temperature)
                    for _ in range(self.n)]
            masks, logits = self.evaluate(bits, layout)
            top = staged_fitness(logits, self.y_val, diff_tables(masks, self.diff_weights), list(range(self.n)),
                                 config.threshold, config.keep_min, config.keep_max, config.alpha, config.alpha,
                                 keep_elite=False).top_accuracy
            full = all(r == [1.0] for r in ratio_ranges)
            if top >= base_val - config.init_max_drop - 1e-9 or full or raises == config.init_raises:
                return bits, masks, logits, ratio_ranges, raises
            self.ctx.report(0.04, "setup", f"initial population at {top:.4f} on validation, more than "
                            f"{config.init_max_drop:g} below the base model: ratio ranges raised by 0.1")
            ratio_ranges = [sorted({round(min(r + 0.1, 1.0), 2) for r in rng}) for rng in ratio_ranges]

    def run(self) -> DecompositionResult:
        config, ctx = self.config, self.ctx
        started = time.perf_counter()
        ctx.report(0.0, "importance", "kernel importance on the validation split")
        base = self.base_logits(self.x_val)
        base_val = float((base.argmax(1) == self.y_val).float().mean())
        importance = self.importance(base)
        rank = _group_ranks(importance, self.group_sizes)
        ctx.check_cancelled()
        ctx.report(0.02, "sensitivity", f"layer sensitivity: {len(self.group_sizes)} groups x {len(config.sensitivity_ratios)} ratios")
        t0 = time.perf_counter()
        curves = self.sensitivity(rank)
        ratios = (*config.sensitivity_ratios, 1.0)
        ratio_ranges, safe = safe_ratio_ranges(curves, ratios, config.sensitivity_drop, config.ratio_span,
                                               config.ratio_floor, config.ratio_cap)
        sensitivity_seconds = time.perf_counter() - t0
        layout = gene_layout(importance, self.group_sizes, config.blocks_small, config.blocks_large, config.large_group)
        bits, masks, logits, ratio_ranges, raises = self.first_population(layout, ratio_ranges, base_val)
        setup_seconds = time.perf_counter() - started

        slot_weights = self.diff_weights
        acc_weight = config.alpha
        history, snapshots = [], []
        best_score, stale, passes_per_gen = -1.0, 0, []
        for generation in range(config.generations + 1):  # generation 0 is the initial population
            ctx.check_cancelled()
            t0 = time.perf_counter()
            order = list(self.rng.permutation(self.n))
            diffs = diff_tables(masks, slot_weights)
            staged = staged_fitness(logits, self.y_val, diffs, order, config.threshold, config.keep_min,
                                    config.keep_max, acc_weight, config.alpha, keep_elite=generation > 0)
            chosen = staged.fitness.argmax(1)
            accuracy = composed_accuracy(logits, self.y_val, chosen)
            diff = composition_diff(diffs, chosen)
            selected = masks[torch.arange(self.n, device=self.device), chosen].bool().cpu()
            retention = float(self.retention(selected.float()).mean())
            units = self.unit_retention(selected.float())
            score = config.selection_accuracy_weight * accuracy + (1 - config.selection_accuracy_weight) * diff
            snapshots.append(selected)
            acc_weight = config.alpha + max(0.0, config.gamma - staged.top_accuracy)
            # The next population: elites (never evaluated again) + offspring (evaluated in one batch).
            passes_before = self.passes
            if generation < config.generations:
                elite_idx, offspring = [], []
                fitness = staged.fitness.cpu().numpy()
                for c in range(self.n):
                    e, o = next_generation(self.rng, bits[c], fitness[c], config.parents, config.elites, config.mutation)
                    elite_idx.append(torch.from_numpy(e).to(self.device))
                    offspring.append(o)
                    bits[c] = np.concatenate([bits[c][e], o])
                new_masks, new_logits = self.evaluate(offspring, layout)
                rows = torch.stack(elite_idx)
                gather = torch.arange(self.n, device=self.device)[:, None]
                masks = torch.cat([masks[gather, rows], new_masks], 1)
                logits = torch.cat([logits[gather, rows], new_logits], 1)
            passes = self.passes - passes_before
            seconds = time.perf_counter() - t0
            entry = {"epoch": generation, "generation": generation, "phase": "ga", "loss": None,
                     "fitness": round(staged.top_fitness, 5), "accuracy": round(accuracy, 5), "diff": round(diff, 5),
                     "retention": round(retention, 5),
                     **({"unit_retention": round(float(units.mean()), 5)} if units is not None else {}),
                     "score": round(score, 5),
                     "top_accuracy": round(staged.top_accuracy, 5),
                     "kernels_kept": int(round(float(self.graph.kept_kernels(selected.float().to(self.device)).mean()))),
                     "forward_passes": passes, "compositions_scored": staged.compositions_scored,
                     "seconds": round(seconds, 3)}
            history.append(entry)
            if generation < config.generations:
                passes_per_gen.append(passes)
            ctx.report(0.05 + 0.95 * (generation + 1) / (config.generations + 1), "search",
                       f"generation {generation}/{config.generations}: accuracy {accuracy:.4f}, diff {diff:.4f}, "
                       f"retention {retention:.4f}"
                       + (f", hidden units {float(units.mean()):.4f}" if units is not None else ""), dict(entry))
            if score > best_score + 1e-9:
                best_score, stale = score, 0
            else:
                stale += 1
                if config.early_stop_patience and stale >= config.early_stop_patience:
                    break
        search_seconds = time.perf_counter() - started
        chosen_gen = max(range(len(history)), key=lambda i: (history[i]["score"], -i))
        return self._result(history, snapshots, chosen_gen, base_val, curves, ratio_ranges, safe, layout,
                            passes_per_gen, setup_seconds, sensitivity_seconds, search_seconds, started, raises)

    # -- the result (the only place the test split is read) ---------------------------------------------
    def _result(self, history, snapshots, chosen: int, base_val: float, curves, ratio_ranges, safe,
                layout: GeneLayout, passes_per_gen, setup_seconds, sensitivity_seconds, search_seconds,
                started, range_raises: int) -> DecompositionResult:
        config = self.config
        masks = snapshots[chosen]
        x_test, y_test = self.data.tensors("test")
        x_test, y_test = channels_last(x_test.to(self.device)), y_test.to(self.device)
        if len(x_test):
            test_logits = self.class_logits(masks.float(), torch.arange(self.n), x_test)
            test_acc = float((test_logits.argmax(0) == y_test).float().mean())
            base_test = float((self.base_logits(x_test).argmax(1) == y_test).float().mean())
        else:
            test_acc = base_test = 0.0
        per_class = self.retention(masks.float()).cpu()
        n_val = len(self.y_val)
        reference_passes = config.population * self.n * math.ceil(n_val / REFERENCE_BATCH)
        mean_passes = float(np.mean(passes_per_gen)) if passes_per_gen else 0.0
        total = time.perf_counter() - started
        metrics = {
            "composed_accuracy": round(test_acc, 5), "base_accuracy": round(base_test, 5),
            "accuracy_loss": round(base_test - test_acc, 5),
            "val_composed_accuracy": history[chosen]["accuracy"], "val_base_accuracy": round(base_val, 5),
            "val_diff": history[chosen]["diff"], "val_fitness": history[chosen]["fitness"],
            "mean_retention": round(float(per_class.mean()), 5),
            "retention_per_class": [round(float(r), 5) for r in per_class],
            "total_kernels": int(self.graph.total_kernels), "total_hidden_units": int(self.graph.total_units),
            **unit_metrics(self.unit_retention(masks.float())),
            "groups": len(self.group_sizes), "genes": layout.length,
            "generations_run": len(history) - 1, "selected_epoch": chosen, "selected_generation": chosen,
            "sensitivity": {"ratios": [*config.sensitivity_ratios, 1.0],
                            "accuracy": [[round(float(v), 5) for v in row] for row in curves],
                            "safe_ratio": safe, "ratio_ranges": ratio_ranges, "range_raises": range_raises,
                            "sensitive_groups": [g for g, s in enumerate(safe) if s > config.sensitive_above]},
            "forward_passes_per_generation": round(mean_passes, 1),
            "reference_passes_per_generation": reference_passes,
            "pass_reduction": round(reference_passes / mean_passes, 1) if mean_passes else None,
            "seconds": round(total, 3), "setup_seconds": round(setup_seconds, 3),
            "sensitivity_seconds": round(sensitivity_seconds, 3),
            "seconds_per_generation": round(float(np.mean([h["seconds"] for h in history])), 3),
            "seconds_to_selected": round(setup_seconds + sum(h["seconds"] for h in history[:chosen + 1]), 3),
            "val_images": n_val, "test_images": int(len(x_test)),
        }
        return DecompositionResult(
            method=CNNSplitter.name, config=config.to_dict(), class_names=self.class_names,
            group_roots=[g.root for g in self.graph.groups], group_sizes=self.group_sizes,
            masks=masks, scoring="logit", scoring_tensors={}, history=history, selected_epoch=chosen, metrics=metrics)


def _group_ranks(importance: torch.Tensor, group_sizes: list[int]) -> torch.Tensor:
    """N x slots: each channel's rank within its group by the class's importance (0 = most important)."""
    parts = []
    for part in torch.split(importance, group_sizes, dim=-1):
        order = torch.from_numpy(np.argsort(-part.numpy(), axis=-1, kind="stable"))
        parts.append(order.argsort(dim=-1))
    return torch.cat(parts, dim=-1)


class CNNSplitter:
    name = "cnnsplitter"
    config_class = CNNSplitterConfig

    def make_config(self, preset: str = "fast", **overrides) -> CNNSplitterConfig:
        return CNNSplitterConfig.preset(preset, **overrides)

    def decompose(self, model: nn.Module, data: ImageDataset, config: CNNSplitterConfig | None = None,
                  ctx: RunContext | None = None) -> DecompositionResult:
        config = config or CNNSplitterConfig.preset("fast")
        ctx = ctx or RunContext()
        ctx.report(0.0, "setup", "analysing channel groups")
        return _Search(model, data, config, ctx).run()


register_decomposer(CNNSplitter())
