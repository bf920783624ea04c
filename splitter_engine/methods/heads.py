"""GradSplitter's N module heads, Linear(N,10)-ReLU-Linear(10,1)-sigmoid over ReLU(logits), trained batched
(the ``head`` scoring kind of splitter_engine.scoring)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from splitter_engine.scoring import KINDS

HEAD_TENSORS = KINDS["head"].tensor_names


class ModuleHeads(nn.Module):
    def __init__(self, num_classes: int, hidden: int = 10):
        super().__init__()
        n = num_classes
        self.w1 = nn.Parameter(torch.empty(n, hidden, n))
        self.b1 = nn.Parameter(torch.empty(n, hidden))
        self.w2 = nn.Parameter(torch.empty(n, 1, hidden))
        self.b2 = nn.Parameter(torch.empty(n, 1))
        for weight, bias in ((self.w1, self.b1), (self.w2, self.b2)):
            bound = 1.0 / math.sqrt(weight.shape[-1])  # nn.Linear's default init, per head
            nn.init.uniform_(weight, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)

    def forward(self, logits: torch.Tensor, modules: torch.Tensor, sigmoid: bool = True) -> torch.Tensor:
        """``logits`` (M, B, N) of the modules ``modules`` (M ids) -> scores (M, B), sigmoid or raw."""
        hidden = torch.relu(torch.einsum("mbn,mhn->mbh", torch.relu(logits), self.w1[modules]) + self.b1[modules][:, None])
        out = torch.einsum("mbh,moh->mbo", hidden, self.w2[modules]).squeeze(-1) + self.b2[modules]
        return torch.sigmoid(out) if sigmoid else out

    def tensors(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name).detach().cpu().clone() for name in HEAD_TENSORS}
