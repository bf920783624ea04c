"""Channel groups found from the model graph with torch-pruning's DependencyGraph.

A *group* is a set of conv output channels that must be kept or dropped together: one root conv's
channels plus every coupled channel (the other side of a residual add, a depthwise conv tied to its
input, the offset slice of a concatenation). Each group has ``size`` root channels; one mask bit per
root channel is the unit the search learns and extraction slices. With ``hidden_units`` the hidden
units of the classifier (outputs of a Linear layer that are not the model's outputs) form groups too,
rooted at their Linear layer; they hold no kernels, but often most of the parameters.

Dropping root channel ``r`` physically removes it from every layer in the group. The same function is
obtained without slicing by zeroing ``r`` where it is *consumed*: at the inputs of the channel-mixing
layers (conv, linear) it reaches. Between producers and consumers every op is per channel (BN, ReLU,
pooling, adds), so the two are equal; that is why gating hooks sit on consumer inputs.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch_pruning as tp
from torch.overrides import TorchFunctionMode

from splitter_engine.runtime import EngineError

# Layers that mix channels in a way zeroing an input channel does not reproduce (normalising across
# channels) or that the graph analysis cannot follow.
_UNSUPPORTED = (
    (nn.LayerNorm, "normalises across channels, so a dropped channel changes the others"),
    (nn.GroupNorm, "normalises across channels, so a dropped channel changes the others"),
    (nn.LocalResponseNorm, "mixes neighbouring channels"),
    (nn.MultiheadAttention, "attention layers are not channel-sliceable convolutions"),
    (nn.RNNBase, "recurrent layers are not supported"),
    (nn.Embedding, "embeddings are not supported"),
    (nn.ConvTranspose2d, "transposed convolutions are not supported"),
    (nn.Conv1d, "only 2-d convolutions are supported"),
    (nn.Conv3d, "only 2-d convolutions are supported"),
)


@dataclass(frozen=True)
class Consumer:
    """A channel-mixing layer reached by a group: its input positions and their root channels."""

    module: str
    positions: tuple[int, ...]
    roots: tuple[int, ...]


@dataclass(frozen=True)
class ChannelGroup:
    index: int
    root: str  # the conv (or, for hidden units, the Linear layer) whose output channels are the root channels
    size: int
    producers: tuple[str, ...]  # layers whose output channels belong to the group (convs: kernels)
    consumers: tuple[Consumer, ...]
    kind: str = "conv"  # "conv": convolution channels; "linear": hidden units of the classifier

    @property
    def kernels_per_channel(self) -> int:
        return len(self.producers) if self.kind == "conv" else 0


@dataclass
class ChannelGraph:
    groups: list[ChannelGroup]
    total_kernels: int  # every conv output channel in the model, grouped or not
    fixed_kernels: int  # conv output channels no group controls (e.g. a conv classifier)

    @property
    def total_slots(self) -> int:
        return sum(g.size for g in self.groups)

    def offsets(self) -> list[int]:
        out, pos = [], 0
        for g in self.groups:
            out.append(pos)
            pos += g.size
        return out

    def slot_group(self) -> torch.Tensor:
        """For every mask slot, the index of its group."""
        return torch.cat([torch.full((g.size,), g.index, dtype=torch.long) for g in self.groups])

    def slot_kernels(self) -> torch.Tensor:
        """For every mask slot, how many conv kernels it keeps or drops."""
        return torch.cat([torch.full((g.size,), float(g.kernels_per_channel)) for g in self.groups])

    def slot_units(self) -> torch.Tensor:
        """For every mask slot, 1 where it is a hidden unit of the classifier, else 0."""
        return torch.cat([torch.full((g.size,), float(g.kind == "linear")) for g in self.groups])

    @property
    def total_units(self) -> int:
        """Hidden units of the classifier the groups control (0 without ``hidden_units``)."""
        return sum(g.size for g in self.groups if g.kind == "linear")

    def slot_costs(self) -> torch.Tensor:
        """For every mask slot, its share of a module's size as a search penalises it: its kernels as a fraction
        of the grouped kernels, plus, with hidden units, its unit as a fraction of the hidden units (a mask
        keeping every slot costs 1, or 2 with hidden units: each kind is penalised as it was alone)."""
        kernels, units = self.slot_kernels(), self.slot_units()
        cost = kernels / kernels.sum().clamp_min(1)
        return cost + units / units.sum() if units.sum() else cost

    def kept_units(self, mask: torch.Tensor) -> torch.Tensor:
        """Hidden units kept by a mask over all slots (``...`` x total_slots)."""
        return (mask * self.slot_units().to(mask.device)).sum(-1)

    def unit_fraction(self, mask: torch.Tensor) -> torch.Tensor | None:
        """Kept fraction of the classifier's hidden units per mask; None when the groups hold none."""
        return self.kept_units(mask) / self.total_units if self.total_units else None

    def kept_kernels(self, mask: torch.Tensor) -> torch.Tensor:
        """Kernels kept by a mask over all slots (``...`` x total_slots)."""
        return (mask * self.slot_kernels().to(mask.device)).sum(-1) + self.fixed_kernels

    def split(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """A flat per-slot vector as one tensor per group."""
        return list(torch.split(flat, [g.size for g in self.groups], dim=-1))


def check_supported(model: nn.Module) -> None:
    for name, module in model.named_modules():
        for layer_type, why in _UNSUPPORTED:
            if isinstance(module, layer_type):
                raise EngineError(f"layer {name!r} ({type(module).__name__}) is not supported: {why}")
        if isinstance(module, nn.Conv2d) and module.groups > 1 and not _is_depthwise(module):
            raise EngineError(f"layer {name!r} (Conv2d with groups={module.groups}) is not supported: grouped "
                              "convolutions other than depthwise cannot be sliced channel by channel")


def _is_depthwise(conv: nn.Conv2d) -> bool:
    return conv.groups == conv.out_channels and conv.out_channels > 1 and conv.groups == conv.in_channels


@contextmanager
def _trainable_for_tracing(model: nn.Module):
    """The graph is traced through autograd, so parameters must require grad while it is built."""
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for p, flag in zip(model.parameters(), flags):
            p.requires_grad_(flag)


_RESHAPES = (torch.Tensor.view, torch.Tensor.reshape, torch.reshape, torch.Tensor.unflatten, torch.unflatten)


class _ChannelSplitWatch(TorchFunctionMode):
    """Remembers the first reshape that splits the channels of an N x C x H x W tensor into more dimensions
    (a channel shuffle views them as groups x C/groups), and the layer whose forward did it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.names = {m: n for n, m in model.named_modules()}
        self.running: list[nn.Module] = [model]
        self.found: str | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        source = args[0] if args else None
        if (self.found is None and func in _RESHAPES and isinstance(source, torch.Tensor) and source.dim() == 4
                and isinstance(out, torch.Tensor) and out.dim() > 4 and out.shape[1] != source.shape[1]):
            layer = self.running[-1]
            self.found = (f"layer {self.names[layer] or 'the model itself'!r} ({type(layer).__name__}) splits the "
                          f"{source.shape[1]} channels of its input into {out.shape[1]} x {out.shape[2]} (a channel "
                          "shuffle or channel groups); channel groups cannot be followed through such a reshape")
        return out

    def _enter(self, module: nn.Module, inputs) -> None:
        self.running.append(module)

    def _leave(self, module: nn.Module, inputs, output) -> None:
        self.running.pop()

    @contextmanager
    def watching(self):
        hooks = []
        for module in self.names:
            hooks.append(module.register_forward_pre_hook(self._enter))
            hooks.append(module.register_forward_hook(self._leave))
        try:
            with torch.no_grad(), self:
                yield
        finally:
            for hook in hooks:
                hook.remove()


def check_no_channel_split(model: nn.Module, example: torch.Tensor) -> None:
    """Refuse, naming the layer, a model that reshapes its channel dimension (ShuffleNet's channel shuffle)."""
    watch = _ChannelSplitWatch(model)
    try:
        with watch.watching():
            model(example)
    except Exception as exc:  # the model cannot run on this input
        raise EngineError(f"the model cannot run on inputs of shape {tuple(example.shape[1:])}: {exc}") from exc
    if watch.found:
        raise EngineError(watch.found)


def build_dependency_graph(model: nn.Module, input_shape: tuple[int, int, int]) -> tp.DependencyGraph:
    check_supported(model)
    model.eval()
    example = torch.randn(2, *input_shape, device=next(model.parameters()).device)
    check_no_channel_split(model, example)
    with _trainable_for_tracing(model), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return tp.DependencyGraph().build_dependency(model, example_inputs=example, verbose=False)
        except EngineError:
            raise
        except Exception as exc:  # the model cannot run or be traced on this input
            raise EngineError(f"cannot trace the model on inputs of shape {tuple(input_shape)}: {exc}") from exc


def _touches_output(group) -> bool:
    return any(item.dep.target.type == tp.ops.OPTYPE.OUTPUT for item in group)


def analyse_channels(model: nn.Module, input_shape: tuple[int, int, int], dg: tp.DependencyGraph | None = None,
                     *, hidden_units: bool = False, roots: list[str] | None = None) -> ChannelGraph:
    """The prunable channel groups of ``model`` for inputs of ``input_shape`` (C, H, W): convolution channels,
    and with ``hidden_units`` the classifier's hidden units too. ``roots`` (a decomposition's group roots)
    keeps exactly the groups with those roots, hidden units included where they are among them."""
    dg = dg or build_dependency_graph(model, input_shape)
    names = {m: n for n, m in model.named_modules()}
    root_types = (nn.Conv2d, nn.Linear) if hidden_units or roots is not None else (nn.Conv2d,)
    wanted = set(roots) if roots is not None else None
    groups: list[ChannelGroup] = []
    grouped: set[str] = set()
    for group in dg.get_all_groups(root_module_types=root_types):
        # Channels that reach the model output are class scores (a conv classifier): never masked.
        if _touches_output(group):
            continue
        root = group[0].dep.target.module
        if wanted is not None and names[root] not in wanted:
            continue
        kind = "linear" if isinstance(root, nn.Linear) else "conv"
        producers, consumers = [], []
        for item in group:
            module, handler = item.dep.target.module, item.dep.handler
            if not isinstance(module, (nn.Conv2d, nn.Linear)):
                continue
            name = names[module]
            if handler.__name__ == "prune_out_channels":
                if isinstance(module, nn.Conv2d) or (kind == "linear" and isinstance(module, nn.Linear)):
                    producers.append(name)
                    if isinstance(module, nn.Conv2d) and _is_depthwise(module):  # its output is its input: consumes nothing
                        continue
                else:
                    raise EngineError(f"layer {name!r} (Linear) shares output channels with convolution {names[root]!r}; "
                                      "only convolution outputs can be masked")
            if handler.__name__ == "prune_in_channels":
                consumers.append(Consumer(name, tuple(int(i) for i in item.idxs), tuple(int(r) for r in item.root_idxs)))
        producers = sorted(set(producers), key=producers.index)
        if kind == "linear" and not consumers:  # nothing reads these units: they are the model's outputs
            continue
        grouped.update(producers)
        size = root.out_channels if kind == "conv" else root.out_features
        groups.append(ChannelGroup(len(groups), names[root], size, tuple(producers), tuple(consumers), kind))
    if not groups:
        raise EngineError("the model has no convolution channels that can be masked")
    total = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))
    grouped_kernels = sum(g.size * g.kernels_per_channel for g in groups)
    return ChannelGraph(groups=groups, total_kernels=total, fixed_kernels=total - grouped_kernels)


@dataclass(frozen=True)
class Decomposability:
    """Whether a model's channels can be analysed into groups, so that it can be split into modules; if not,
    why, naming the offending layer."""

    decomposable: bool
    reason: str = ""


def decomposability(model: nn.Module, input_shape: tuple[int, int, int]) -> Decomposability:
    """The channel analysis run as a check (structure only: the weights do not matter)."""
    try:
        analyse_channels(model, input_shape)
    except EngineError as exc:
        return Decomposability(False, str(exc))
    return Decomposability(True)


def slice_groups(model: nn.Module, graph: ChannelGraph, keep: list[list[int]], dg: tp.DependencyGraph) -> nn.Module:
    """Physically remove every root channel not in ``keep[g]`` from ``model`` (in place).

    ``dg`` must be the dependency graph of this very model object. Root indices stay valid while
    groups are pruned one after another because each root conv's outputs belong to its group only.
    """
    modules = dict(model.named_modules())
    with _trainable_for_tracing(model), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for group, kept in zip(graph.groups, keep):
            kept_set = set(int(k) for k in kept)
            if not kept_set:
                raise EngineError(f"group {group.index} ({group.root}) would keep no channel")
            drop = [r for r in range(group.size) if r not in kept_set]
            if not drop:
                continue
            root = modules[group.root]
            pruner = dg.get_pruner_of_module(root)
            dg.get_pruning_group(root, pruner.prune_out_channels, drop).prune(record_history=False)
    return model
