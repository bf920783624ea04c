"""The model's output layer: find the nn.Linear that produces the model's output, and swap its rows."""
from __future__ import annotations

import torch
import torch.nn as nn


def find_output_linear(model: nn.Module, input_shape: tuple[int, int, int]) -> str | None:
    """The name of the nn.Linear whose output is the model's output, if there is one."""
    seen: list[tuple[str, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda mod, args, out, n=name: seen.append((n, out)))
             for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    try:
        with torch.no_grad():
            out = model.eval()(torch.randn(2, *input_shape, device=_device_of(model)))
    finally:
        for h in hooks:
            h.remove()
    for name, value in reversed(seen):
        if value.shape == out.shape and torch.equal(value, out):
            return name
    return None


def replace_output_rows(model: nn.Module, name: str, weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Module:
    """``model`` (in place) with its output Linear ``name`` replaced by one with these rows."""
    old: nn.Linear = model.get_submodule(name)
    new = nn.Linear(old.in_features, weight.shape[0], bias=bias is not None).to(old.weight.device)
    with torch.no_grad():
        new.weight.copy_(weight)
        if bias is not None:
            new.bias.copy_(bias)
    parent_name, _, attr = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, attr, new)
    return model


def keep_output_rows(model: nn.Module, name: str, positions: list[int]) -> nn.Module:
    """``model`` (in place) giving only the outputs at ``positions`` (the same numbers, fewer rows)."""
    old: nn.Linear = model.get_submodule(name)
    with torch.no_grad():
        return replace_output_rows(model, name, old.weight[positions].clone(),
                                   old.bias[positions].clone() if old.bias is not None else None)


def _device_of(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")
