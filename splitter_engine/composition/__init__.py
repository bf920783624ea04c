"""Composition: modules into new classifiers (ensemble or fused), calibration, patching, ONNX builds.

The options and input planning load at once; the rest (torch) on first use, so that the web process can
check a build request without importing torch."""
import sys
import types
from importlib import import_module

from splitter_engine.composition.inputs import plan_inputs
from splitter_engine.composition.options import (CALIBRATIONS, MODES, PATCH_CALIBRATIONS, STRATEGIES, ComposeOptions,
                                                 PatchOptions, patched_class_names)

_LAZY = {"BuildOutput": "build", "export_build": "build", "fit_calibration": "calibration",
         "Composition": "compose", "check_selection": "compose", "fused_size": "estimate",
         "patch": "patching", "BaseSource": "sources", "ChosenModule": "sources"}

__all__ = ["BaseSource", "BuildOutput", "CALIBRATIONS", "ChosenModule", "ComposeOptions", "Composition", "MODES",
           "PATCH_CALIBRATIONS", "PatchOptions", "STRATEGIES", "check_selection", "compose", "export_build",
           "fit_calibration", "fused_size", "patch", "patched_class_names", "plan_inputs"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    """``composition.compose`` is the function, loaded on first use. Loading the submodule of the same name binds
    the submodule to the package's attribute; the setter ignores that, as the eager import once rebound it."""

    @property
    def compose(self):
        return import_module(f"{__name__}.compose").compose

    @compose.setter
    def compose(self, value) -> None:
        pass


sys.modules[__name__].__class__ = _Package
