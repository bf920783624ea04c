"""Composition: modules into new classifiers (ensemble or fused), calibration, patching, ONNX builds.

The options and input planning load at once; the rest (torch) on first use, so that the web process can
check a build request without importing torch."""
from importlib import import_module

from splitter_engine.composition.inputs import plan_inputs
from splitter_engine.composition.options import (CALIBRATIONS, MODES, PATCH_CALIBRATIONS, STRATEGIES, ComposeOptions,
                                                 PatchOptions, patched_class_names)

_LAZY = {"BuildOutput": "build", "export_build": "build", "fit_calibration": "calibration",
         "Composition": "compose", "check_selection": "compose", "compose": "compose", "fused_size": "estimate",
         "patch": "patching", "BaseSource": "sources", "ChosenModule": "sources"}

__all__ = ["BaseSource", "BuildOutput", "CALIBRATIONS", "ChosenModule", "ComposeOptions", "Composition", "MODES",
           "PATCH_CALIBRATIONS", "PatchOptions", "STRATEGIES", "check_selection", "compose", "export_build",
           "fit_calibration", "fused_size", "patch", "patched_class_names", "plan_inputs"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
