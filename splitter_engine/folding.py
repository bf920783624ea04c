"""Fold frozen BatchNorm layers into the convolutions (or linear layers) that feed them."""
from __future__ import annotations

import copy

import torch.nn as nn
from torch.fx.experimental.optimization import fuse


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with each BatchNorm merged into its producer, for a model whose
    weights and statistics stay frozen (the decomposition search): the same outputs, and a forward
    and backward pass without the BatchNorm kernels (10-20 % of a search step on CPU).

    Layer names are kept, so hooks registered by name still find their layers. A model that torch.fx
    cannot trace is returned as an unfolded copy.
    """
    model = copy.deepcopy(model).eval()
    try:
        return fuse(model, inplace=True)
    except Exception:  # noqa: BLE001 - data-dependent control flow; folding is only an optimisation
        return model
