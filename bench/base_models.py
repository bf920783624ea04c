"""Train (or reuse from var/bench/) the base models the decomposition bench splits."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.data import ImageDataset
from splitter_engine.evaluation import run_batched
from splitter_engine.runtime import seed_everything

CACHE = Path(__file__).resolve().parent.parent / "var" / "bench"


def accuracy(model, x, y) -> float:
    return float((run_batched(model.eval(), x).argmax(1) == y).float().mean())


def _train_epoch(model, x, y, optimiser, generator, batch_size: int, schedule=None) -> float:
    """One epoch of SGD over (x, y) in a seeded order; returns its seconds."""
    started = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=generator)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if schedule is not None:
            schedule.step()
    return time.perf_counter() - started


def train_base(spec: ArchSpec, data: ImageDataset, epochs: int, lr: float = 0.05, seed: int = 0,
               batch_size: int = 64, reuse: bool = True) -> tuple[torch.nn.Module, dict]:
    """A trained model and {seconds_per_epoch, test_accuracy, epochs}; cached by spec, data and schedule."""
    key = f"{spec.name}-{json.dumps(spec.kwargs, sort_keys=True)}-{data.name}-e{epochs}-lr{lr}-s{seed}"
    key = "".join(c if c.isalnum() or c in "-._" else "_" for c in key)
    weights, info_path = CACHE / f"{key}.safetensors", CACHE / f"{key}.json"
    model = build_model(spec)
    if reuse and weights.exists() and info_path.exists():
        model.load_state_dict(load_file(weights))
        return model.eval(), json.loads(info_path.read_text())
    generator = seed_everything(seed)
    model = build_model(spec)
    x, y = data.tensors("train")
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=epochs * ((len(x) + batch_size - 1) // batch_size))
    seconds = [_train_epoch(model, x, y, optimiser, generator, batch_size, schedule) for _ in range(epochs)]
    model.eval()
    x_test, y_test = data.tensors("test")
    info = {"epochs": epochs, "seconds_per_epoch": round(sum(seconds) / len(seconds), 3),
            "test_accuracy": round(accuracy(model, x_test, y_test), 5)}
    CACHE.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, weights)
    info_path.write_text(json.dumps(info))
    return model, info
