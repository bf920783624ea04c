"""CNNSplitter's genes and GA operators, on whole populations at once (NumPy, one seeded generator).

Genes: per class and channel group, the group's channels sorted by that class's importance are cut into
G contiguous blocks (``np.array_split``, as the reference's ``module_tools.decode``); one bit per block,
block 0 the most important. So gene i means different channels for different classes; ``GeneLayout``
holds, per class, the gene of every mask slot.

The operators are the reference's modified PyGAD (``ga.py``): steady-state parent selection (the best
``parents`` by fitness), single-point crossover of parents k % P and (k + 1) % P at a uniform cut,
mutation of floor(p * L) distinct genes per offspring to random bits, the best ``elites`` carried over.
A GA library is not used: PyGAD evaluates one solution (or one batch of one population) per fitness
call, while here the N class populations are scored together from one tensor of logits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class GeneLayout:
    blocks: list[int]  # genes of each group
    gene_offsets: list[int]  # first gene of each group
    slot_gene: torch.Tensor  # N x total_slots: the gene controlling each slot, per class
    top_slot: torch.Tensor  # N x groups: the slot of each group's most important channel, per class
    slot_group: torch.Tensor  # total_slots: group of each slot

    @property
    def length(self) -> int:
        return int(sum(self.blocks))


def blocks_for(size: int, small: int, large: int, large_group: int) -> int:
    """Blocks of a group of ``size`` channels (never more blocks than channels)."""
    return min(size, large if size >= large_group else small)


def gene_layout(importance: torch.Tensor, group_sizes: list[int], small: int, large: int,
                large_group: int) -> GeneLayout:
    """``importance``: N x total_slots (higher = more important)."""
    n = importance.shape[0]
    blocks = [blocks_for(size, small, large, large_group) for size in group_sizes]
    gene_offsets = list(np.cumsum([0] + blocks[:-1]).astype(int))
    slot_gene = torch.empty(n, sum(group_sizes), dtype=torch.long)
    top_slot = torch.empty(n, len(group_sizes), dtype=torch.long)
    slot_offset = 0
    for g, (size, count, gene0) in enumerate(zip(group_sizes, blocks, gene_offsets)):
        for c in range(n):
            # Stable sort, most important first (ties keep channel order: deterministic).
            order = np.argsort(-importance[c, slot_offset:slot_offset + size].numpy(), kind="stable")
            for block, channels in enumerate(np.array_split(order, count)):
                slot_gene[c, slot_offset + channels] = gene0 + block
            top_slot[c, g] = slot_offset + int(order[0])
        slot_offset += size
    slot_group = torch.cat([torch.full((size,), g, dtype=torch.long) for g, size in enumerate(group_sizes)])
    return GeneLayout(blocks, gene_offsets, slot_gene, top_slot, slot_group)


def decode(bits: torch.Tensor, layout: GeneLayout, cls: int) -> torch.Tensor:
    """Keep-masks (... x total_slots, float) of class ``cls``'s bit strings (... x genes).

    A group with no block switched on keeps its most important channel (a layer cannot lose every channel).
    """
    masks = bits[..., layout.slot_gene[cls].to(bits.device)].float()
    groups = len(layout.blocks)
    flat = masks.reshape(-1, masks.shape[-1])
    kept = torch.zeros(flat.shape[0], groups, device=flat.device).index_add_(1, layout.slot_group.to(flat.device), flat)
    empty = kept == 0
    if empty.any():
        rows, g = empty.nonzero(as_tuple=True)
        flat[rows, layout.top_slot[cls].to(flat.device)[g]] = 1.0
    return flat.reshape(masks.shape)


def initial_population(rng: np.random.Generator, size: int, layout: GeneLayout,
                       ratio_ranges: list[list[float]], temperature: float) -> np.ndarray:
    """``size`` x genes bits: per group a ratio r drawn from its range, n = int(G * r) distinct blocks with
    P(block i) ~ softmax((G - 1 - i) / T) (important blocks more often)."""
    bits = np.zeros((size, sum(layout.blocks)), dtype=np.uint8)
    for count, gene0, ratios in zip(layout.blocks, layout.gene_offsets, ratio_ranges):
        logits = (count - 1 - np.arange(count)) / temperature
        p = np.exp(logits - logits.max())
        p /= p.sum()
        for row in range(size):
            n = int(count * float(rng.choice(ratios)))
            if n:
                bits[row, gene0 + rng.choice(count, size=n, replace=False, p=p)] = 1
    return bits


def next_generation(rng: np.random.Generator, bits: np.ndarray, fitness: np.ndarray, parents: int,
                    elites: int, mutation: float) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the elites in ``bits``, best first; the offspring's bits), for one class's population."""
    order = np.argsort(-fitness, kind="stable")
    elite_idx = order[:elites]
    parent_bits = bits[order[:parents]]
    count = len(bits) - elites
    length = bits.shape[1]
    offspring = np.empty((count, length), dtype=bits.dtype)
    for k in range(count):
        cut = int(rng.integers(0, length)) if length > 1 else 0
        first, second = parent_bits[k % parents], parent_bits[(k + 1) % parents]
        offspring[k, :cut] = first[:cut]
        offspring[k, cut:] = second[cut:]
    genes = int(np.floor(mutation * length))
    if genes:
        for k in range(count):
            where = rng.choice(length, size=genes, replace=False)
            offspring[k, where] = rng.integers(0, 2, size=genes)
    return elite_idx, offspring
