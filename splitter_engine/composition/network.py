"""The composed classifier as one exportable network: branches side by side, reordered, calibrated.

A *branch* maps the build's input to some of its columns: an ensemble branch runs standalone modules
(one score each), a fused branch runs one sliced trunk of a base model (its logits for the chosen
classes). The columns of all branches are concatenated, put in the order the user chose, and passed
through the calibration layer (identity when there is none).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from splitter_engine.specs import InputSpec


class Renormalise(nn.Module):
    """Turns inputs normalised with one spec into inputs normalised with another (exact, per channel)."""

    def __init__(self, source: InputSpec, target: InputSpec):
        super().__init__()
        src_mean, src_std = torch.tensor(source.mean), torch.tensor(source.std)
        tgt_mean, tgt_std = torch.tensor(target.mean), torch.tensor(target.std)
        self.register_buffer("scale", (src_std / tgt_std).view(1, -1, 1, 1))
        self.register_buffer("shift", ((src_mean - tgt_mean) / tgt_std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class ModuleScores(nn.Module):
    """Ensemble branch: each standalone module gives one score per image; they stand side by side."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([m(x).reshape(x.shape[0], 1) for m in self.members], dim=1)


class SelectOutputs(nn.Module):
    """A network's outputs at fixed positions (used when its output layer cannot be sliced)."""

    def __init__(self, network: nn.Module, positions: list[int]):
        super().__init__()
        self.network = network
        self.register_buffer("positions", torch.tensor(positions, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x).index_select(1, self.positions)


class Branch(nn.Module):
    def __init__(self, network: nn.Module, adapter: nn.Module | None = None):
        super().__init__()
        self.adapter = adapter if adapter is not None else nn.Identity()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(self.adapter(x))


class ComposedClassifier(nn.Module):
    """``forward(input) -> logits``: branch columns concatenated, reordered to ``order``, calibrated.

    ``order[j]`` is the concatenated column that becomes output column j.
    """

    def __init__(self, branches: list[Branch], order: list[int], calibration: nn.Module | None = None):
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.register_buffer("order", torch.tensor(order, dtype=torch.long))
        self.calibration = calibration if calibration is not None else nn.Identity()
        self._identity_order = order == list(range(len(order)))

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """The uncalibrated columns, in output order."""
        parts = [branch(x) for branch in self.branches]
        out = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return out if self._identity_order else out.index_select(1, self.order)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.calibration(self.scores(x))
