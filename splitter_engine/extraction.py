"""Physical extraction: each class's module sliced for real into a standalone network that scores its class.

A module is stored as a JSON spec (architecture, input spec, kept root channels per group, its scoring
kind and that kind's structural facts) and a plain state dict; ``load_module`` rebuilds it from those
alone: it builds the architecture, shapes it for the scoring kind, slices it the same way and loads the
sliced weights, never touching the base model's weights. Specs stored before scoring kinds
(``module/v1``) are GradSplitter heads and load unchanged.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch_pruning as tp

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.channels import ChannelGraph, analyse_channels, build_dependency_graph, slice_groups
from splitter_engine.data import ImageDataset
from splitter_engine.evaluation import run_batched
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.runtime import EngineError, RunContext
from splitter_engine.scoring import ModuleNetwork, ScoringKind, class_tensors, scoring_kind
from splitter_engine.specs import InputSpec

MODULE_FORMAT = "module/v2"
MODULE_FORMATS = ("module/v1", MODULE_FORMAT)


@dataclass
class ExtractedModule:
    class_index: int
    class_name: str
    spec: dict  # JSON-ready
    state_dict: dict[str, torch.Tensor]  # plain tensors, for safetensors
    params: int
    flops: int  # multiply-accumulates per image, as torch-pruning counts them
    kept_kernels: int
    total_kernels: int
    kernel_fraction: float
    params_fraction: float
    flops_fraction: float
    precision: float
    recall: float
    f1: float
    base_f1: float  # the base model's F1 for this class (its argmax) on the same test images
    network: nn.Module = field(repr=False, default=None)

    def metrics(self) -> dict:
        keys = ("params", "flops", "kept_kernels", "total_kernels", "kernel_fraction", "params_fraction",
                "flops_fraction", "precision", "recall", "f1")
        return {key: getattr(self, key) for key in keys}

    def record(self) -> dict:
        """What the registry stores of the module besides its weights (JSON-ready)."""
        return {"class_index": self.class_index, "class_name": self.class_name,
                "scoring": self.spec["scoring"]["kind"], "spec": self.spec, **self.metrics()}


def _check_same_groups(graph: ChannelGraph, roots: list[str], sizes: list[int]) -> None:
    found = ([g.root for g in graph.groups], [g.size for g in graph.groups])
    if found != (list(roots), [int(s) for s in sizes]):
        raise EngineError("the channel groups of this architecture do not match the decomposition "
                          "(different architecture, kwargs or library version)")


def _sliced_trunk(trunk: nn.Module, input_shape, roots, sizes, kept: list[list[int]]) -> nn.Module:
    dg = build_dependency_graph(trunk, input_shape)
    graph = analyse_channels(trunk, input_shape, dg, roots=roots)
    _check_same_groups(graph, roots, sizes)
    return slice_groups(trunk, graph, kept, dg).eval()


def module_scoring(spec: dict) -> dict:
    """The module's scoring kind and facts; a v1 spec is a GradSplitter head."""
    if spec.get("format") not in MODULE_FORMATS:
        raise EngineError(f"not a module spec (format {spec.get('format')!r}, expected one of {MODULE_FORMATS})")
    if spec["format"] == "module/v1":
        return {"kind": "head", "hidden": int(spec["head_hidden"])}
    return dict(spec["scoring"])


def _module_network(kind: ScoringKind, model: nn.Module, class_index: int, num_classes: int, tensors, facts: dict,
                    input_shape, slice_trunk) -> ModuleNetwork:
    """``kind`` shapes the unsliced ``model`` for its score, ``slice_trunk`` slices it, then the scorer goes on top."""
    trunk = slice_trunk(kind.prepare(model, class_index, tensors, facts, input_shape))
    return ModuleNetwork(trunk, kind.scorer(class_index, tensors, facts, num_classes))


def count_params_and_flops(network: nn.Module, input_shape) -> tuple[int, int]:
    example = torch.zeros(1, *input_shape, device=next(network.parameters()).device)
    with torch.no_grad():
        flops, params = tp.utils.count_ops_and_params(network, example)
    return int(params), int(flops)


@torch.no_grad()
def binary_metrics(scores: torch.Tensor, labels: torch.Tensor, class_index: int,
                   threshold: float = 0.5) -> tuple[float, float, float]:
    """Precision, recall, F1 of "this class" (score > threshold) against the rest."""
    predicted = scores > threshold
    actual = labels == class_index
    tp_count = int((predicted & actual).sum())
    precision = tp_count / max(1, int(predicted.sum()))
    recall = tp_count / max(1, int(actual.sum()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return round(precision, 5), round(recall, 5), round(f1, 5)


@torch.no_grad()
def best_threshold(scores: torch.Tensor, labels: torch.Tensor, class_index: int) -> float:
    """The score threshold with the best F1 of "this class" on these images (midway between scores).

    The heads are trained to rank the N module scores against each other, not as calibrated one-vs-rest
    classifiers, so 0.5 is an arbitrary cut for a module used on its own.
    """
    ordered, order = scores.flatten().float().sort(descending=True)
    actual = (labels[order] == class_index).float()
    true_positives = actual.cumsum(0)
    predicted = torch.arange(1, len(ordered) + 1, dtype=torch.float32)  # cutting after each position
    best = int((2 * true_positives / (predicted + actual.sum())).argmax())
    if best + 1 < len(ordered):
        return float((ordered[best] + ordered[best + 1]) / 2)
    return float(ordered[best]) - 1e-6


def extract_modules(model: nn.Module, arch_spec: ArchSpec, result: DecompositionResult, data: ImageDataset,
                    ctx: RunContext | None = None) -> list[ExtractedModule]:
    """Slice every class's module out of ``model`` (not modified) and measure it on the test split."""
    ctx = ctx or RunContext()
    input_shape = data.spec.shape
    base = copy.deepcopy(model).cpu().eval()
    base_params, base_flops = count_params_and_flops(base, input_shape)
    graph = analyse_channels(base, input_shape, roots=result.group_roots)
    _check_same_groups(graph, result.group_roots, result.group_sizes)
    x_test, y_test = data.tensors("test")
    x_val, y_val = data.tensors("val") if len(data.splits.get("val", ())) else data.tensors("train")
    base_predictions = run_batched(base, x_test, check=ctx.check_cancelled).argmax(1)
    kind = result.kind
    modules = []
    for i in range(result.num_classes):
        ctx.check_cancelled()
        kept = result.kept_indices(i)
        tensors = class_tensors(result.scoring_tensors, i)
        facts = kind.describe(base, i, tensors, input_shape)
        network = _module_network(kind, copy.deepcopy(base), i, result.num_classes, tensors, facts, input_shape,
                                  lambda m: _sliced_trunk(m, input_shape, result.group_roots, result.group_sizes, kept))
        network.eval()
        for p in network.parameters():
            p.requires_grad_(False)
        params, flops = count_params_and_flops(network, input_shape)
        kept_kernels = int(graph.kept_kernels(result.masks[i].float()).item())
        val_scores = run_batched(network, x_val, check=ctx.check_cancelled)
        threshold = round(best_threshold(val_scores, y_val, i), 6)
        precision, recall, f1 = binary_metrics(run_batched(network, x_test, check=ctx.check_cancelled), y_test, i,
                                                threshold)
        spec = {"format": MODULE_FORMAT, "arch": arch_spec.to_dict(), "input": data.spec.to_dict(),
                "class_index": i, "class_name": result.class_names[i], "class_names": list(result.class_names),
                "method": result.method, "scoring": {"kind": kind.name, **facts},
                "group_roots": list(result.group_roots), "group_sizes": [int(s) for s in result.group_sizes],
                "kept": kept, "threshold": threshold, "val_f1": binary_metrics(val_scores, y_val, i, threshold)[2]}
        state = {k: v.detach().cpu().contiguous().clone() for k, v in network.state_dict().items()}
        modules.append(ExtractedModule(
            class_index=i, class_name=result.class_names[i], spec=spec, state_dict=state, params=params,
            flops=flops, kept_kernels=kept_kernels, total_kernels=int(graph.total_kernels),
            kernel_fraction=round(kept_kernels / graph.total_kernels, 5), params_fraction=round(params / base_params, 5),
            flops_fraction=round(flops / base_flops, 5), precision=precision, recall=recall, f1=f1,
            base_f1=binary_metrics((base_predictions == i).float(), y_test, i)[2], network=network))
        ctx.report((i + 1) / result.num_classes, "extract", f"module {i + 1}/{result.num_classes} sliced")
    return modules


WEAK_MODULE_MARGIN = 0.15


def weak_modules(modules: list[ExtractedModule], margin: float = WEAK_MODULE_MARGIN) -> list[dict]:
    """Modules whose test F1 is more than ``margin`` below the base model's F1 for their class."""
    return [{"class_index": m.class_index, "class_name": m.class_name, "f1": m.f1, "base_f1": m.base_f1}
            for m in modules if m.f1 < m.base_f1 - margin]


def load_module(spec: dict, state_dict: dict[str, torch.Tensor]) -> ModuleNetwork:
    """Rebuild a module from its spec and sliced weights alone."""
    facts = module_scoring(spec)
    kind = scoring_kind(facts.pop("kind"))
    arch = ArchSpec.from_dict(spec["arch"])
    input_shape = InputSpec.from_dict(spec["input"]).shape
    network = _module_network(kind, build_model(arch), int(spec["class_index"]), arch.num_classes, None, facts,
                              input_shape,
                              lambda m: _sliced_trunk(m, input_shape, spec["group_roots"], spec["group_sizes"], spec["kept"]))
    try:
        network.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise EngineError(f"the module's weights do not fit its spec: {exc}") from exc
    return network.eval()
