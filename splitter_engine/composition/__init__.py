"""Composition: modules into new classifiers (ensemble or fused), calibration, patching, ONNX builds."""
from splitter_engine.composition.build import BuildOutput, export_build
from splitter_engine.composition.calibration import CALIBRATIONS, PATCH_CALIBRATIONS, fit_calibration
from splitter_engine.composition.compose import STRATEGIES, ComposeOptions, Composition, check_selection, compose
from splitter_engine.composition.estimate import fused_size
from splitter_engine.composition.inputs import plan_inputs
from splitter_engine.composition.patching import MODES, PatchOptions, patch, patched_class_names
from splitter_engine.composition.sources import BaseSource, ChosenModule

__all__ = ["BaseSource", "BuildOutput", "CALIBRATIONS", "ChosenModule", "ComposeOptions", "Composition", "MODES",
           "PATCH_CALIBRATIONS", "PatchOptions", "STRATEGIES", "check_selection", "compose", "export_build",
           "fit_calibration", "fused_size", "patch", "patched_class_names", "plan_inputs"]
