"""Calibration layers that make scores from different sources comparable, fitted on labelled samples.

- ``none``: the argmax of the raw scores (exact module behaviour).
- ``linear``: a k x k linear layer over the k scores (MODA's repair layer), started at the identity.
- ``temperature``: per module a temperature and an offset on its score in logit space (Platt scaling
  per column): 2k numbers instead of k^2 + k, so it needs fewer samples but cannot mix columns.

Both are fitted by full-batch L-BFGS on the cross entropy, with a small pull towards the identity so
a handful of samples cannot drive them far.

Patching also offers ``minmax`` (CNNSplitter's patch, ``experiments/patch/apply_patch.py``): the weak
model's other classes as a softmax, the module's score min-max normalised with the min and max of that
score over the validation images of its class (so other images may fall outside [0, 1]). Nothing is fitted.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from splitter_engine.composition.options import CALIBRATIONS, PATCH_CALIBRATIONS  # noqa: F401
from splitter_engine.runtime import EngineError

_EPS = 1e-6


class LinearCalibration(nn.Module):
    def __init__(self, k: int):
        super().__init__()
        self.linear = nn.Linear(k, k)
        with torch.no_grad():
            self.linear.weight.copy_(torch.eye(k))
            self.linear.bias.zero_()

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return self.linear(scores)

    def penalty(self) -> torch.Tensor:
        eye = torch.eye(self.linear.weight.shape[0], device=self.linear.weight.device)
        return (self.linear.weight - eye).pow(2).sum() + self.linear.bias.pow(2).sum()


class TemperatureCalibration(nn.Module):
    """``z_i / T_i + b_i`` where ``z_i`` is column i in logit space (probability columns are mapped there)."""

    def __init__(self, probability_columns: list[bool]):
        super().__init__()
        k = len(probability_columns)
        self.log_temperature = nn.Parameter(torch.zeros(k))
        self.offset = nn.Parameter(torch.zeros(k))
        self.register_buffer("is_probability", torch.tensor(probability_columns, dtype=torch.bool))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        p = scores.clamp(_EPS, 1 - _EPS)
        z = torch.where(self.is_probability, torch.log(p) - torch.log1p(-p), scores)
        return z * torch.exp(-self.log_temperature) + self.offset

    def penalty(self) -> torch.Tensor:
        return self.log_temperature.pow(2).sum() + self.offset.pow(2).sum()


class MinMaxCalibration(nn.Module):
    """softmax over every column but ``column``; ``(z - low) / (high - low)`` for ``column``."""

    def __init__(self, k: int, column: int, low: float, high: float):
        super().__init__()
        others = [j for j in range(k) if j != column]
        order = [others.index(j) if j != column else k - 1 for j in range(k)]
        self.register_buffer("others", torch.tensor(others, dtype=torch.long))
        self.register_buffer("column", torch.tensor([column], dtype=torch.long))
        self.register_buffer("order", torch.tensor(order, dtype=torch.long))
        self.register_buffer("low", torch.tensor(float(low)))
        self.register_buffer("span", torch.tensor(max(float(high) - float(low), _EPS)))

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        rest = torch.softmax(scores.index_select(1, self.others), dim=1)
        own = (scores.index_select(1, self.column) - self.low) / self.span
        return torch.cat([rest, own], dim=1).index_select(1, self.order)


def fit_minmax(k: int, column: int, class_scores: torch.Tensor) -> MinMaxCalibration:
    """``class_scores``: the score of ``column`` on images of its own class (validation split)."""
    if not len(class_scores):
        raise EngineError("minmax calibration needs validation images of the patched class")
    return MinMaxCalibration(k, column, float(class_scores.min()), float(class_scores.max())).eval()


def fit_calibration(kind: str, scores: torch.Tensor, labels: torch.Tensor, probability_columns: list[bool],
                    weight_decay: float = 1e-3, iterations: int = 200) -> nn.Module | None:
    """The fitted layer for uncalibrated ``scores`` (n x k) with ``labels`` in 0..k-1; None for ``none``."""
    if kind not in CALIBRATIONS:
        raise EngineError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {kind!r}")
    if kind == "none":
        return None
    k = scores.shape[1]
    missing = sorted(set(range(k)) - set(labels.unique().tolist()))
    if missing:
        raise EngineError(f"the calibration samples have no image of output(s) {missing}; "
                          "calibration needs labelled samples of every chosen class")
    layer = LinearCalibration(k) if kind == "linear" else TemperatureCalibration(probability_columns)
    scores, labels = scores.detach().float(), labels.detach().long()
    optimiser = torch.optim.LBFGS(layer.parameters(), lr=0.5, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = F.cross_entropy(layer(scores), labels) + weight_decay * layer.penalty()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    for p in layer.parameters():
        p.requires_grad_(False)
    return layer.eval()
