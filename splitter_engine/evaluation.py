"""How good a classifier is on a data split: accuracy, per-class precision/recall/F1, confusion matrix."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from splitter_engine.data.dataset import ImageDataset
from splitter_engine.runtime import EngineError, RunContext
from splitter_engine.specs import InputSpec


@dataclass(frozen=True)
class ClassMetrics:
    name: str
    precision: float
    recall: float
    f1: float
    support: int      # true samples of this class
    predicted: int    # samples predicted as this class


@dataclass
class EvaluationReport:
    class_names: list[str]
    num_samples: int
    accuracy: float
    per_class: list[ClassMetrics]
    macro_precision: float
    macro_recall: float
    macro_f1: float
    confusion: list[list[int]]   # rows = true class, columns = predicted class
    split: str = ""
    excluded: int = 0            # split samples of classes the model does not have

    def to_dict(self) -> dict:
        return asdict(self)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    if y_true.size and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def metrics_from_predictions(y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str],
                             split: str = "", excluded: int = 0) -> EvaluationReport:
    """Pure metrics of predicted vs true class indices. A class never predicted has precision 0, one
    never present has recall 0 (as scikit-learn with ``zero_division=0``); macro values average all classes."""
    names = [str(c) for c in class_names]
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), len(names))
    per_class = []
    for i, name in enumerate(names):
        tp, support, predicted = int(cm[i, i]), int(cm[i].sum()), int(cm[:, i].sum())
        precision, recall = _ratio(tp, predicted), _ratio(tp, support)
        per_class.append(ClassMetrics(name, precision, recall, _ratio(2 * precision * recall, precision + recall),
                                      support, predicted))
    n = int(cm.sum())
    return EvaluationReport(
        class_names=names, num_samples=n, accuracy=_ratio(np.trace(cm), n), per_class=per_class,
        macro_precision=float(np.mean([c.precision for c in per_class])),
        macro_recall=float(np.mean([c.recall for c in per_class])),
        macro_f1=float(np.mean([c.f1 for c in per_class])),
        confusion=cm.astype(int).tolist(), split=split, excluded=excluded)


def normalise_batch(images_uint8: torch.Tensor, spec: InputSpec, device: torch.device) -> torch.Tensor:
    x = images_uint8.to(device, non_blocking=True).float().div_(255.0)
    mean = torch.tensor(spec.mean, device=device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, device=device).view(1, -1, 1, 1)
    return x.sub_(mean).div_(std)


@torch.no_grad()
def channels_last(images: torch.Tensor) -> torch.Tensor:
    """Image batches in channels-last memory format (faster convolutions on these CPUs); other tensors as they are."""
    return images.contiguous(memory_format=torch.channels_last) if images.dim() == 4 else images


@torch.no_grad()
def run_batched(fn, x: torch.Tensor, batch_size: int = 256, check=None) -> torch.Tensor:
    """``fn`` applied to ``x`` in batches of ``batch_size``, outputs concatenated (no gradients); ``check`` (e.g.
    ``ctx.check_cancelled``) is called before each batch."""
    outputs = []
    for start in range(0, len(x), batch_size):
        if check is not None:
            check()
        outputs.append(fn(x[start:start + batch_size]))
    return torch.cat(outputs) if outputs else torch.empty(0)


@torch.no_grad()
def predict_logits(model: nn.Module, images: np.ndarray, spec: InputSpec, *, ctx: Optional[RunContext] = None,
                   batch_size: int = 256, stage: str = "evaluate") -> torch.Tensor:
    """float32 logits (on CPU) of uint8 images N x C x H x W, normalised with ``spec``; leaves the model in eval mode."""
    ctx = ctx or RunContext()
    device = ctx.torch_device
    model.to(device).eval()
    source = torch.from_numpy(np.ascontiguousarray(images))
    outputs = []
    for start in range(0, len(source), batch_size):
        ctx.check_cancelled()
        x = normalise_batch(source[start:start + batch_size], spec, device)
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=ctx.use_amp):
            outputs.append(model(x).float().cpu())
    if not outputs:
        return torch.empty(0, 0)
    return torch.cat(outputs)


def _label_map(data: ImageDataset, class_names: Optional[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    """The model's class names and, per data set label, the model output index (-1 where it has none)."""
    names = list(data.class_names) if class_names is None else [str(c) for c in class_names]
    unknown = [n for n in names if n not in data.class_names]
    if unknown:
        raise EngineError(f"the model's classes {unknown[:10]} are not classes of data set {data.name!r}; "
                          f"evaluate on a data set that has them")
    lut = np.full(data.num_classes, -1, dtype=np.int64)
    for out, name in enumerate(names):
        lut[data.class_names.index(name)] = out
    return names, lut


def evaluate(model: nn.Module, data: ImageDataset, split: str = "test", ctx: Optional[RunContext] = None,
             batch_size: int = 256, class_names: Optional[Sequence[str]] = None,
             spec: Optional[InputSpec] = None) -> EvaluationReport:
    """Metrics of ``model`` on one split of ``data``.

    ``class_names``: the model's outputs in order (default: the data set's classes). A model of a class
    subset is evaluated on the split's samples of those classes only (``excluded`` counts the others).
    ``spec``: the normalisation the model was trained with (default: the data set's).
    """
    ctx = ctx or RunContext()
    if split not in data.splits:
        raise EngineError(f"data set {data.name!r} has no split {split!r}; use one of {sorted(data.splits)}")
    spec = spec or data.spec
    if spec.shape != data.spec.shape:
        raise EngineError(f"the model takes {spec.shape} inputs but data set {data.name!r} has {data.spec.shape} images")
    names, lut = _label_map(data, class_names)
    idx = data.splits[split]
    mapped = lut[data.labels[idx]]
    keep = mapped >= 0
    if not keep.any():
        raise EngineError(f"split {split!r} of data set {data.name!r} has no images of the model's classes")
    ctx.report(0.0, "evaluate", f"evaluating on {int(keep.sum()):,} {split} images")
    logits = predict_logits(model, data.images[idx[keep]], spec, ctx=ctx, batch_size=batch_size)
    if logits.shape[1] != len(names):
        raise EngineError(f"the model has {logits.shape[1]} outputs but {len(names)} class names were given")
    report = metrics_from_predictions(mapped[keep], logits.argmax(1).numpy(), names, split=split,
                                      excluded=int((~keep).sum()))
    ctx.report(1.0, "evaluate", f"accuracy {report.accuracy:.4f}, macro F1 {report.macro_f1:.4f}",
               {"accuracy": report.accuracy, "macro_f1": report.macro_f1})
    return report
