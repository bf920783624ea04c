"""Model weights in and out: safetensors (safe to read anywhere), PyTorch state_dicts (worker only), and
strict loading into a built architecture with a message that names every key that does not fit.
"""
from __future__ import annotations

import json
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Union

import torch
import torch.nn as nn
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from splitter_engine.runtime import EngineError

Source = Union[str, Path, bytes, bytearray, memoryview]
_LISTED = 8
_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net")


class WeightsError(EngineError):
    """Weights that cannot be read, or that do not fit the declared architecture; the message says why."""


@dataclass
class WeightsFile:
    tensors: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)


def _listed(items: list, limit: int = _LISTED) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" (and {len(items) - limit} more)" if len(items) > limit else "")


def _check_tensors(tensors: Mapping[str, object], what: str) -> dict[str, torch.Tensor]:
    if not tensors:
        raise WeightsError(f"{what} holds no tensors; upload the model's state_dict")
    not_tensors = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise WeightsError(f"{what} holds entries that are not tensors: {_listed(not_tensors)}; upload only the state_dict")
    broken = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if broken:
        raise WeightsError(f"{what} has NaN or infinite values in {_listed(broken)}; the model diverged in training")
    return dict(tensors)


def _header_metadata(data: bytes) -> dict[str, str]:
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    return dict(header.get("__metadata__") or {})


def read_safetensors(source: Source) -> WeightsFile:
    """Tensors and string metadata of a ``.safetensors`` file (path or bytes); truncation or corruption
    raises ``WeightsError``."""
    what = "the .safetensors file"
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            tensors = load_safetensors_bytes(data)
            metadata = _header_metadata(data)
        else:
            with safe_open(str(source), framework="pt", device="cpu") as handle:
                metadata = dict(handle.metadata() or {})
                tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, ValueError, struct.error, OSError, RuntimeError) as exc:
        raise WeightsError(
            f"{what} is truncated or not a valid safetensors file ({exc}); upload the complete file saved with "
            f"safetensors.torch.save_file") from exc
    return WeightsFile(_check_tensors(tensors, what), metadata)


def _unwrap_checkpoint(obj: object, what: str) -> Mapping[str, object]:
    """A state_dict, or the state_dict inside a common training checkpoint dict."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{what} holds a {type(obj).__name__}, not a state_dict; save model.state_dict()")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in _CHECKPOINT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner
    return obj


def _strip_data_parallel(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    if tensors and all(k.startswith("module.") for k in tensors):
        return {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def _unpickler_reason(exc: Exception) -> str:
    """The line of torch's long weights_only message that names the refused global (never its advice to
    retry with ``weights_only=False``)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), "")
    reason = reason.replace("WeightsUnpickler error:", "").split(". Please")[0].strip()
    return reason[:300] or "a pickled object that is not a tensor"


def read_torch_state_dict(path: Union[str, Path]) -> dict[str, torch.Tensor]:
    """A ``.pt``/``.pth`` state_dict, read with ``torch.load(weights_only=True)``.

    Only ever call this inside the background worker, never in the web process: ``weights_only`` refuses
    pickled code (a malicious ``__reduce__`` is rejected before it runs), but it is a mitigation, not a
    sandbox. Convert the result to safetensors at once (``state_dict_to_safetensors``).
    """
    what = "the PyTorch file"
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"{what} holds Python objects other than tensors, which are never loaded ({_unpickler_reason(exc)}); "
            f"save only model.state_dict() with torch.save, or better upload .safetensors") from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, struct.error) as exc:
        raise WeightsError(f"{what} is truncated or not a PyTorch state_dict ({str(exc)[:300]}); upload the "
                           f"complete file saved with torch.save(model.state_dict(), path)") from exc
    return _strip_data_parallel(_check_tensors(_unwrap_checkpoint(obj, what), what))


def state_dict_to_safetensors(state_dict: Mapping[str, torch.Tensor], metadata: Optional[dict] = None) -> bytes:
    """Bytes of a ``.safetensors`` file; tensors are copied so tied/shared weights serialise too."""
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    return save_safetensors_bytes(tensors, metadata={str(k): str(v) for k, v in (metadata or {}).items()})


def torch_checkpoint_to_safetensors(path: Union[str, Path], metadata: Optional[dict] = None) -> bytes:
    """Worker-only: read a ``.pt``/``.pth`` state_dict safely and return it as safetensors bytes."""
    return state_dict_to_safetensors(read_torch_state_dict(path), metadata)


def _class_count_mismatch(mismatched: list[tuple[str, tuple, tuple]], num_classes: Optional[int]) -> Optional[int]:
    """The class count the file was trained for, when that alone explains every shape mismatch."""
    if num_classes is None or not mismatched:
        return None
    found = {file_shape[0] for _, file_shape, model_shape in mismatched
             if model_shape and file_shape and model_shape[0] == num_classes and file_shape[1:] == model_shape[1:]}
    all_output = all(m[2] and m[2][0] == num_classes and m[1][1:] == m[2][1:] for m in mismatched)
    return found.pop() if all_output and len(found) == 1 else None


def check_fits(model: nn.Module, tensors: Mapping[str, torch.Tensor], *, num_classes: Optional[int] = None,
               arch: str = "the architecture") -> None:
    """Raise ``WeightsError`` unless ``tensors`` match ``model.state_dict()`` key for key and shape for shape."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in tensors if k not in expected]
    mismatched = [(k, tuple(tensors[k].shape), tuple(v.shape)) for k, v in expected.items()
                  if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)]
    if not (missing or unexpected or mismatched):
        return
    trained_for = None if (missing or unexpected) else _class_count_mismatch(mismatched, num_classes)
    if trained_for is not None:
        key = mismatched[0][0]
        raise WeightsError(
            f"class-count mismatch: the weights were trained for {trained_for} classes ({key!r} has "
            f"{trained_for} rows) but {num_classes} class names were declared; declare exactly the "
            f"{trained_for} class names the model was trained with, in order")
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    if mismatched:
        problems.append("shape mismatches: " + _listed([f"{k} file {f} vs model {m}" for k, f, m in mismatched]))
    raise WeightsError(
        f"the weights do not fit {arch}: {'; '.join(problems)}. Choose the architecture and kwargs (e.g. width) "
        f"the weights were saved from")


def check_header_fits(spec, shapes: Mapping[str, dict]) -> None:
    """Check a safetensors header's shapes ({name: {"shape": [...]}}) against ``spec`` built on the meta device (no
    weight allocated): the same WeightsError as ``check_fits``, before the weights are read. A torchvision network
    narrowed by ``width`` < 1 cannot be built there (narrowing traces real tensors): the worker checks it."""
    from types import SimpleNamespace

    from splitter_engine.architectures import get_entry

    entry = get_entry(spec.name)
    kwargs = entry.merged_kwargs(spec.kwargs)
    if entry.family == "torchvision" and float(kwargs.get("width", 1.0)) < 1:
        return
    with torch.device("meta"):
        model = entry.constructor(num_classes=spec.num_classes, in_channels=spec.in_channels, **kwargs)
    tensors = {name: SimpleNamespace(shape=tuple(int(d) for d in header["shape"])) for name, header in shapes.items()}
    check_fits(model, _strip_data_parallel(tensors), num_classes=spec.num_classes,
               arch=f"architecture {spec.name!r} {spec.kwargs or ''}".rstrip())


def load_strict(model: nn.Module, tensors: Mapping[str, torch.Tensor], *, num_classes: Optional[int] = None,
                arch: str = "the architecture") -> nn.Module:
    """Check, then ``load_state_dict(strict=True)``; returns the model in eval mode."""
    check_fits(model, tensors, num_classes=num_classes, arch=arch)
    try:
        model.load_state_dict(dict(tensors), strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"the weights do not fit {arch}: {str(exc)[:600]}") from exc
    return model.eval()


def build_with_weights(spec, tensors: Mapping[str, torch.Tensor]) -> nn.Module:
    """Build ``spec`` (an ``ArchSpec``) from the registry and load ``tensors`` into it strictly."""
    from splitter_engine.architectures import build_model

    model = build_model(spec)
    return load_strict(model, tensors, num_classes=spec.num_classes, arch=f"architecture {spec.name!r} {spec.kwargs or ''}".rstrip())
