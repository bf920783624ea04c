"""CNNSplitter's staged-composition fitness, by broadcasting over one logits tensor.

``logits[c, s, n]``: the class-c logit of class c's candidate module s on validation image n. A
composition picks one candidate per class of a class set and predicts, for each image of those classes,
the class whose member has the highest logit. Levels: class pairs, then pairs of pairs (4, 8, ...) until
one group of all N classes (an odd group passes through a level unchanged, so the last merge may join
unequal sizes; the reference hard-codes N in {5, 10}). At each level the top-k compositions by accuracy
survive, k = clamp(#{accuracy >= threshold}, keep_min, keep_max). A candidate's fitness is the best
fitness a * accuracy + (1 - alpha) * diff of a surviving N-class composition containing it, else 0.

Merging groups A and B: per survivor, the highest logit and its class on the merged images; an A x B
block of compositions is then ``where(maxA >= maxB, A correct, B correct)`` averaged over images.
diff = mean over class pairs of 1 - Jaccard(kernel sets); the pair tables come from products of binary
membership matrices, and a merged composition's diff sum is A's + B's + the cross pairs' table entries.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_CHUNK_ELEMENTS = 1 << 24


@dataclass
class Group:
    classes: list[int]
    members: torch.Tensor  # S x len(classes): candidate index per class
    accuracy: torch.Tensor  # S
    diff_sum: torch.Tensor  # S: sum of pairwise diffs


@dataclass
class StagedFitness:
    fitness: torch.Tensor  # N x P: each candidate's fitness
    top_members: torch.Tensor  # N: candidates of the best N-class composition, by class
    top_accuracy: float
    top_diff: float
    top_fitness: float
    compositions_scored: int


def diff_tables(masks: torch.Tensor, slot_weights: torch.Tensor) -> torch.Tensor:
    """1 - Jaccard of the kernel sets of every pair of candidates of every pair of classes: N x N x P x P.

    ``masks``: N x P x slots binary; a slot stands for ``slot_weights`` kernels."""
    weighted = masks * slot_weights
    inter = torch.einsum("asd,btd->abst", weighted, masks)
    sizes = weighted.sum(-1)  # N x P
    union = sizes[:, None, :, None] + sizes[None, :, None, :] - inter
    return 1.0 - inter / union.clamp_min(1e-12)


def _best(group: Group, logits: torch.Tensor, samples: torch.Tensor, labels: torch.Tensor):
    """Per survivor of ``group``: highest logit and whether its class is right, on ``samples``."""
    stacked = torch.stack([logits[c, group.members[:, j]][:, samples] for j, c in enumerate(group.classes)])
    top, which = stacked.max(0)  # S x n (first member wins ties, as the reference's argmax)
    classes = torch.tensor(group.classes, device=logits.device)
    return top, classes[which] == labels[samples]


def _merge(a: Group, b: Group, logits: torch.Tensor, labels: torch.Tensor, diffs: torch.Tensor,
           threshold: float, keep_min: int, keep_max: int, keep_elite: bool) -> tuple[Group, int]:
    classes = a.classes + b.classes
    samples = torch.isin(labels, torch.tensor(classes, device=labels.device)).nonzero().flatten()
    top_a, right_a = _best(a, logits, samples, labels)
    top_b, right_b = _best(b, logits, samples, labels)
    sa, sb, n = len(a.members), len(b.members), max(len(samples), 1)
    accuracy = torch.empty(sa, sb, device=logits.device)
    rows = max(1, _CHUNK_ELEMENTS // max(sb * n, 1))
    for start in range(0, sa, rows):
        part = slice(start, start + rows)
        right = torch.where(top_a[part, None, :] >= top_b[None], right_a[part, None, :], right_b[None])
        accuracy[part] = right.float().sum(-1) / n
    cross = torch.zeros(sa, sb, device=logits.device)
    for i, ci in enumerate(a.classes):
        for j, cj in enumerate(b.classes):
            cross += diffs[ci, cj][a.members[:, i]][:, b.members[:, j]]
    diff_sum = a.diff_sum[:, None] + b.diff_sum[None, :] + cross
    flat_acc = accuracy.flatten()
    k = int((flat_acc >= threshold - 1e-9).sum())
    k = min(max(k, keep_min), keep_max, len(flat_acc))
    kept = torch.from_numpy(np.argsort(-flat_acc.cpu().numpy(), kind="stable")[:k].copy()).to(flat_acc.device)
    if keep_elite:  # the composition of every class's index-0 candidate (last generation's best) stays
        elite_a = (a.members == 0).all(1).nonzero().flatten()
        elite_b = (b.members == 0).all(1).nonzero().flatten()
        if len(elite_a) and len(elite_b):
            elite = elite_a[0] * sb + elite_b[0]
            if not (kept == elite).any():
                kept = torch.cat([kept, elite.view(1)])
    ia, ib = kept // sb, kept % sb
    merged = Group(classes, torch.cat([a.members[ia], b.members[ib]], 1), flat_acc[kept], diff_sum.flatten()[kept])
    return merged, sa * sb


def staged_fitness(logits: torch.Tensor, labels: torch.Tensor, diffs: torch.Tensor, class_order: list[int],
                   thresholds, keep_min: int, keep_max: int, acc_weight: float, alpha: float,
                   keep_elite: bool) -> StagedFitness:
    """``thresholds(level, final) -> float``; ``class_order``: the order classes are paired in (shuffled
    each generation, as the reference)."""
    n_classes, population = logits.shape[:2]
    device = logits.device
    groups = [Group([c], torch.arange(population, device=device)[:, None], torch.ones(population, device=device),
                    torch.zeros(population, device=device)) for c in class_order]
    level, scored = 0, 0
    while len(groups) > 1:
        final = len(groups) == 2
        threshold = thresholds(level, final)
        merged = []
        for i in range(0, len(groups), 2):
            if i + 1 < len(groups):
                group, count = _merge(groups[i], groups[i + 1], logits, labels, diffs, threshold, keep_min,
                                      keep_max, keep_elite)
                merged.append(group)
                scored += count
            else:
                merged.append(groups[i])
        groups, level = merged, level + 1
    last = groups[0]
    pairs = n_classes * (n_classes - 1) / 2
    diff = last.diff_sum / max(pairs, 1)
    composition_fitness = acc_weight * last.accuracy + (1 - alpha) * diff
    fitness = torch.zeros(n_classes, population, device=device)
    for j, c in enumerate(last.classes):
        fitness[c].scatter_reduce_(0, last.members[:, j], composition_fitness, reduce="amax")
    best = int(torch.argmax(composition_fitness))
    top = torch.empty(n_classes, dtype=torch.long, device=device)
    top[torch.tensor(last.classes, device=device)] = last.members[best]
    return StagedFitness(fitness, top, float(last.accuracy[best]), float(diff[best]),
                         float(composition_fitness[best]), scored)


def composed_accuracy(logits: torch.Tensor, labels: torch.Tensor, chosen: torch.Tensor) -> float:
    """Accuracy of the composition of candidate ``chosen[c]`` of every class c on all images."""
    scores = logits[torch.arange(logits.shape[0], device=logits.device), chosen]  # N x n
    return float((scores.argmax(0) == labels).float().mean())


def composition_diff(diffs: torch.Tensor, chosen: torch.Tensor) -> float:
    n = diffs.shape[0]
    values = [float(diffs[i, j, chosen[i], chosen[j]]) for i in range(n) for j in range(i + 1, n)]
    return float(np.mean(values)) if values else 0.0
