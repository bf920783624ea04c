"""Train any classifier on an ``ImageDataset``: optimiser, lr schedule, augmentation, class subset and
Dirichlet-skewed subsample, per-epoch progress, cancellation, CUDA mixed precision, CPU determinism.

A class subset of k classes trains a k-output model: the caller builds the architecture with
``num_classes=k`` (``training_classes`` says which, in data set order) and the result's ``class_names``
are the model's outputs in order.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from splitter_engine.data.dataset import ImageDataset
from splitter_engine.evaluation import normalise_batch, predict_logits
from splitter_engine.runtime import EngineError, RunContext, seed_everything
from splitter_engine.train_config import AUGMENTATIONS, OPTIMIZERS, SCHEDULES, SELECTIONS, TrainConfig  # noqa: F401

_PROGRESS_SECONDS = 2.0


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: Optional[float]
    lr: float
    seconds: float


@dataclass
class TrainingSubset:
    class_indices: list[int]      # data set label of each model output
    class_names: list[str]
    train_indices: np.ndarray     # data set indices actually trained on
    val_indices: np.ndarray
    train_counts: list[int]       # per model output


@dataclass
class TrainResult:
    state_dict: dict[str, torch.Tensor]
    class_names: list[str]
    class_indices: list[int]
    history: list[EpochRecord]
    chosen_epoch: int
    train_indices: np.ndarray
    train_counts: list[int]
    seconds: float
    device: str
    config: TrainConfig = field(default_factory=TrainConfig)

    @property
    def chosen(self) -> EpochRecord:
        return self.history[self.chosen_epoch - 1]

    def to_dict(self, include_indices: bool = False) -> dict:
        out = {"class_names": self.class_names, "class_indices": self.class_indices,
               "history": [asdict(r) for r in self.history], "chosen_epoch": self.chosen_epoch,
               "train_size": int(len(self.train_indices)), "train_counts": self.train_counts,
               "seconds": round(self.seconds, 3), "device": self.device, "config": self.config.to_dict()}
        if include_indices:
            out["train_indices"] = self.train_indices.tolist()
        return out


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    raw = weights * total
    counts = np.floor(raw).astype(np.int64)
    counts[np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]] += 1
    return counts


def training_classes(data: ImageDataset, config: TrainConfig) -> tuple[list[int], list[str]]:
    """Data set labels and names of the model's outputs, in data set order."""
    if not config.classes:
        return list(range(data.num_classes)), list(data.class_names)
    unknown = [c for c in config.classes if c not in data.class_names]
    if unknown:
        raise EngineError(f"classes {unknown} are not in data set {data.name!r}; it has {data.class_names[:20]}")
    indices = sorted(data.class_names.index(c) for c in config.classes)
    return indices, [data.class_names[i] for i in indices]


def select_subset(data: ImageDataset, config: TrainConfig) -> TrainingSubset:
    """The train indices a run uses: class subset, then a (Dirichlet-skewed) subsample, seeded."""
    class_indices, class_names = training_classes(data, config)
    rng = np.random.default_rng(config.seed)
    train = data.splits["train"]
    pools = [rng.permutation(train[data.labels[train] == c]) for c in class_indices]
    available = np.array([len(p) for p in pools])
    target_total = int(round(config.subsample * available.sum()))
    if config.dirichlet_alpha > 0:
        proportions = rng.dirichlet(np.full(len(pools), config.dirichlet_alpha))
        counts = np.minimum(_largest_remainder(proportions, target_total), available)
    elif config.subsample < 1:
        counts = np.minimum(np.maximum(np.round(available * config.subsample).astype(np.int64), 1), available)
    else:
        counts = available
    chosen = np.sort(np.concatenate([p[:n] for p, n in zip(pools, counts)])).astype(np.int64)
    if len(chosen) < 2:
        raise EngineError(f"the training subset of {data.name!r} has {len(chosen)} images; raise subsample "
                          f"or dirichlet_alpha, or use a larger data set")
    val = data.splits.get("val", np.empty(0, dtype=np.int64))
    val = val[np.isin(data.labels[val], class_indices)]
    return TrainingSubset(class_indices, class_names, chosen, val, [int(n) for n in counts])


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    if config.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.lr_schedule == "step":
        step = config.step_epochs or max(1, config.epochs // 3)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=config.step_gamma)
    return None


def augment(batch: torch.Tensor, config: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding (and horizontal flips for ``flip-crop``) of a uint8 batch, seeded."""
    if config.augmentation == "none":
        return batch
    n, _, h, w = batch.shape
    pad = config.crop_padding or max(1, min(h, w) // 8)
    padded = F.pad(batch, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    out = padded[torch.arange(n)[:, None, None, None], torch.arange(batch.shape[1])[None, :, None, None], rows, cols]
    if config.augmentation == "flip-crop":
        flip = torch.rand(n, generator=generator) < 0.5
        out[flip] = out[flip].flip(-1)
    return out


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def _check_model(model: nn.Module, data: ImageDataset, subset: TrainingSubset, device: torch.device) -> None:
    """Fail before training when the model cannot take these images or has the wrong number of outputs."""
    sample = normalise_batch(torch.from_numpy(data.images[subset.train_indices[:2]]), data.spec, device)
    model.eval()
    try:
        with torch.no_grad():
            outputs = model(sample).shape[-1]
    except RuntimeError as exc:
        raise EngineError(f"the model cannot take {data.spec.channels}x{data.spec.height}x{data.spec.width} "
                          f"images of data set {data.name!r}: {str(exc)[:300]}") from exc
    if outputs != len(subset.class_names):
        raise EngineError(f"the model has {outputs} outputs but training uses {len(subset.class_names)} classes "
                          f"({subset.class_names[:10]}); build it with num_classes={len(subset.class_names)}")


@dataclass
class _TrainTensors:
    """The subset's images (uint8) and labels as model outputs (0..k-1); the val labels likewise."""
    images: torch.Tensor
    labels: torch.Tensor
    val_labels: np.ndarray
    usable: int  # images used per epoch: BatchNorm cannot train on a batch of one, so a lone last one is dropped

    @classmethod
    def of(cls, data: ImageDataset, subset: TrainingSubset, batch_size: int) -> "_TrainTensors":
        lut = np.full(data.num_classes, -1, dtype=np.int64)
        lut[subset.class_indices] = np.arange(len(subset.class_indices))
        images = torch.from_numpy(data.images[subset.train_indices])
        labels = torch.from_numpy(lut[data.labels[subset.train_indices]])
        val_labels = lut[data.labels[subset.val_indices]]
        n = len(labels)
        return cls(images, labels, val_labels, n - 1 if n % batch_size == 1 else n)


class _ProgressThrottle:
    """Says when a progress report within an epoch is due: at most one every ``_PROGRESS_SECONDS``."""

    def __init__(self) -> None:
        self.last = time.perf_counter()

    def due(self) -> bool:
        if time.perf_counter() - self.last > _PROGRESS_SECONDS:
            self.last = time.perf_counter()
            return True
        return False


def _train_epoch(model: nn.Module, data: ImageDataset, tensors: _TrainTensors, optimizer: torch.optim.Optimizer,
                 scaler: torch.amp.GradScaler, config: TrainConfig, ctx: RunContext, generator: torch.Generator,
                 epoch: int, throttle: _ProgressThrottle) -> tuple[float, float]:
    """One pass over the shuffled training images; returns the mean loss and the training accuracy."""
    device = ctx.torch_device
    usable = tensors.usable
    model.train()
    order = torch.randperm(len(tensors.labels), generator=generator)[:usable]
    loss_sum, correct, seen = 0.0, 0, 0
    for start in range(0, usable, config.batch_size):
        ctx.check_cancelled()
        idx = order[start:start + config.batch_size]
        x = normalise_batch(augment(tensors.images[idx], config, generator), data.spec, device)
        y = tensors.labels[idx].to(device)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=ctx.use_amp):
            logits = model(x)
            loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        loss_sum += float(loss.detach()) * len(idx)
        correct += int((logits.detach().argmax(1) == y).sum())
        seen += len(idx)
        if throttle.due():
            ctx.report((epoch - 1 + seen / usable) / config.epochs, "train",
                       f"epoch {epoch}/{config.epochs}: {seen:,}/{usable:,} images")
    return loss_sum / seen, correct / seen


def _val_accuracy(model: nn.Module, data: ImageDataset, subset: TrainingSubset, val_labels: np.ndarray,
                  ctx: RunContext) -> Optional[float]:
    """Accuracy on the subset's validation images; None when the data set has none."""
    if not len(val_labels):
        return None
    logits = predict_logits(model, data.images[subset.val_indices], data.spec, ctx=ctx)
    return float((logits.argmax(1).numpy() == val_labels).mean())


def _report_epoch(ctx: RunContext, record: EpochRecord, epochs: int) -> None:
    ctx.report(record.epoch / epochs, "train",
               f"epoch {record.epoch}/{epochs}: loss {record.loss:.4f}, train acc {record.train_accuracy:.4f}"
               + (f", val acc {record.val_accuracy:.4f}" if record.val_accuracy is not None else ""),
               asdict(record))


def train_model(model: nn.Module, data: ImageDataset, config: TrainConfig,
                ctx: Optional[RunContext] = None) -> TrainResult:
    """Train ``model`` in place and return the chosen epoch's weights with the run's history."""
    ctx = ctx or RunContext()
    started = time.perf_counter()
    generator = seed_everything(config.seed)
    device = ctx.torch_device
    subset = select_subset(data, config)
    model.to(device)
    _check_model(model, data, subset, device)
    tensors = _TrainTensors.of(data, subset, config.batch_size)
    optimizer = _optimizer(model, config)
    scheduler = _scheduler(optimizer, config)
    scaler = torch.amp.GradScaler("cuda", enabled=ctx.use_amp)
    history: list[EpochRecord] = []
    best_state, best_acc = None, -1.0
    throttle = _ProgressThrottle()
    ctx.report(0.0, "train", f"training on {len(tensors.labels):,} images of {len(subset.class_names)} classes")
    for epoch in range(1, config.epochs + 1):
        ctx.check_cancelled()
        epoch_start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        loss, train_accuracy = _train_epoch(model, data, tensors, optimizer, scaler, config, ctx, generator, epoch,
                                            throttle)
        if scheduler is not None:
            scheduler.step()
        val_acc = _val_accuracy(model, data, subset, tensors.val_labels, ctx)
        record = EpochRecord(epoch, loss, train_accuracy, val_acc, lr, time.perf_counter() - epoch_start)
        history.append(record)
        score = val_acc if val_acc is not None else record.train_accuracy
        if config.select == "best" and score > best_acc:
            best_acc, best_state = score, (epoch, _cpu_copy(model))
        _report_epoch(ctx, record, config.epochs)
    if config.select == "best" and best_state is not None:
        chosen_epoch, state = best_state
    else:
        chosen_epoch, state = config.epochs, _cpu_copy(model)
    model.load_state_dict(state)
    model.eval()
    return TrainResult(state_dict=state, class_names=subset.class_names, class_indices=subset.class_indices,
                       history=history, chosen_epoch=chosen_epoch, train_indices=subset.train_indices,
                       train_counts=subset.train_counts, seconds=time.perf_counter() - started,
                       device=str(device), config=config)
