"""The N module heads, Linear(N,10)-ReLU-Linear(10,1)-sigmoid over ReLU(logits), stored batched."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

HEAD_TENSORS = ("w1", "b1", "w2", "b2")


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


def head_network(tensors: dict[str, torch.Tensor], class_index: int) -> nn.Sequential:
    """One class's head as a plain nn.Sequential (sigmoid applied by the caller)."""
    w1, b1, w2, b2 = (tensors[name][class_index] for name in HEAD_TENSORS)
    head = nn.Sequential(nn.Linear(w1.shape[1], w1.shape[0]), nn.ReLU(), nn.Linear(w2.shape[1], 1))
    with torch.no_grad():
        head[0].weight.copy_(w1)
        head[0].bias.copy_(b1)
        head[2].weight.copy_(w2)
        head[2].bias.copy_(b2)
    return head
