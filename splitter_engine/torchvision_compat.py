"""The one place the engine imports torchvision.

The registry's torchvision wheel is a CUDA build. On the CPU build of torch its import fails with
``operator torchvision::nms does not exist`` because the compiled ops are missing; defining the two
op schemas first lets the pure-Python parts (``torchvision.models``) import and run. Where the plain
import works (a matching CUDA build), nothing is defined.
"""
from __future__ import annotations

import sys
from types import ModuleType

import torch

_op_library = None  # kept alive: dropping the Library object unregisters the ops


def _define_missing_ops() -> None:
    global _op_library
    _op_library = torch.library.Library("torchvision", "DEF")
    _op_library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _op_library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def _forget_partial_import() -> None:
    for name in list(sys.modules):
        if name == "torchvision" or name.startswith("torchvision."):
            del sys.modules[name]


def _import_torchvision() -> ModuleType:
    try:
        import torchvision
    except RuntimeError as exc:
        if "torchvision::nms" not in str(exc):
            raise
        _forget_partial_import()
        _define_missing_ops()
        import torchvision
    return torchvision


torchvision = _import_torchvision()
models = torchvision.models

__all__ = ["torchvision", "models"]
