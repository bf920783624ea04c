"""Mask scores -> binary masks with the straight-through estimator, and activation-based init."""
from __future__ import annotations

import torch

from splitter_engine.channels import ChannelGraph
from splitter_engine.gating import ChannelGate


def hard_masks(scores: torch.Tensor, slot_group: torch.Tensor, n_groups: int) -> torch.Tensor:
    """1[s > 0] per slot, except that a group never loses every channel: its highest score stays.

    (A layer with no channel left cannot be sliced; the reference code has no such guard.)
    """
    hard = (scores > 0).to(scores.dtype)
    rows = scores.reshape(-1, scores.shape[-1])
    index = slot_group.expand(rows.shape[0], -1)
    kept = torch.zeros(rows.shape[0], n_groups, dtype=scores.dtype, device=scores.device).index_add_(1, slot_group, hard.reshape(rows.shape))
    best = torch.full((rows.shape[0], n_groups), float("-inf"), dtype=scores.dtype, device=scores.device)
    best = best.scatter_reduce(1, index, rows, reduce="amax")
    rescue = (kept[:, slot_group] == 0) & (rows == best[:, slot_group])
    return torch.where(rescue, torch.ones_like(rows), hard.reshape(rows.shape)).reshape(scores.shape)


class StraightThroughMask(torch.autograd.Function):
    """Forward: binary mask. Backward: dL/ds = hardtanh(dL/dm) (GradSplitter's estimator)."""

    @staticmethod
    def forward(ctx, scores, slot_group, n_groups):
        return hard_masks(scores, slot_group, n_groups)

    @staticmethod
    def backward(ctx, grad_mask):
        return grad_mask.clamp(-1.0, 1.0), None, None


def ste_masks(scores: torch.Tensor, slot_group: torch.Tensor, n_groups: int) -> torch.Tensor:
    return StraightThroughMask.apply(scores, slot_group, n_groups)


@torch.no_grad()
def class_activation_means(gate: ChannelGate, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                           batch_size: int, device: torch.device, check=None) -> torch.Tensor:
    """Mean |activation| of every slot over each class's images (N x total_slots), unmasked model. ``check``
    (e.g. ``ctx.check_cancelled``) is called before each batch.

    A slot's activation is read where it is consumed (the same place the mask acts), averaged over
    its positions and spatial locations.
    """
    slots = gate.graph.total_slots
    sums = torch.zeros(num_classes, slots + 1, dtype=torch.float64, device=device)
    counts = torch.zeros(slots + 1, dtype=torch.float64, device=device)
    current_labels: list[torch.Tensor] = []

    def observe(index: torch.Tensor, channel_last: bool):
        index = index.to(device)
        per_slot = torch.bincount(index, minlength=slots + 1).to(torch.float64)
        counts.add_(per_slot)

        def hook(module, args):
            a = args[0].detach().abs()
            per_channel = a if channel_last else a.flatten(2).mean(-1)  # B x C
            by_class = torch.zeros(num_classes, per_channel.shape[1], dtype=torch.float64, device=device)
            by_class.index_add_(0, current_labels[0], per_channel.to(torch.float64))
            sums.index_add_(1, index, by_class)
        return hook

    handles = [module.register_forward_pre_hook(observe(index, channel_last))
               for module, index, channel_last in gate.consumer_indices()]
    try:
        model = gate.model
        for start in range(0, len(x), batch_size):
            if check is not None:
                check()
            current_labels[:] = [y[start:start + batch_size].to(device)]
            model(x[start:start + batch_size].to(device))
    finally:
        for handle in handles:
            handle.remove()
    per_class = torch.bincount(y, minlength=num_classes).to(torch.float64).to(device).clamp_min(1)
    means = sums / counts.clamp_min(1) / per_class[:, None]
    return means[:, :slots].float()


def activation_scores(means: torch.Tensor, graph: ChannelGraph, scale: float, keep: float) -> torch.Tensor:
    """Initial scores from activation means, per class and group: the ``keep`` fraction of channels
    the class activates most start above zero, the rest below, all within ``scale`` of the threshold
    (so the search moves them in a few steps, not the ~1/lr steps scores initialised to 1 need).
    Channels a class never activates start dropped whatever ``keep`` says.
    """
    parts = []
    for part in graph.split(means):
        size = part.shape[-1]
        rank = part.argsort(dim=-1).argsort(dim=-1).float()  # 0 = least active
        position = (rank + 0.5) / size  # in (0, 1)
        score = scale * (position - (1.0 - keep))
        dead = part <= 1e-6 * part.amax(dim=-1, keepdim=True).clamp_min(1e-12)
        parts.append(torch.where(dead, torch.full_like(score, -scale), score))
    return torch.cat(parts, dim=-1)
