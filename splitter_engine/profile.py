"""Size of a network as it really runs: parameter count and FLOPs (multiply-accumulates) for one image."""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch_pruning as tp

from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec


@dataclass(frozen=True)
class ModelSize:
    params: int
    flops: int


def model_size(model: nn.Module, spec: InputSpec) -> ModelSize:
    example = torch.zeros(1, *spec.shape, device=next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            flops, _ = tp.utils.count_ops_and_params(model, example)
    except (RuntimeError, AssertionError) as exc:  # a kernel larger than a small input's map; ViT's size check
        raise EngineError(f"the model cannot run on {spec.channels}x{spec.height}x{spec.width} inputs: {exc}") from exc
    finally:
        model.train(was_training)
    return ModelSize(params=sum(p.numel() for p in model.parameters()), flops=int(flops))
