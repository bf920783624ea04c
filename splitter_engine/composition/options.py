"""The options of a composition or a patch and the names a request may use, checked without torch:
the web process validates a build request without loading the engine."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from splitter_engine.runtime import EngineError

CALIBRATIONS = ("none", "linear", "temperature")
PATCH_CALIBRATIONS = (*CALIBRATIONS, "minmax")
STRATEGIES = ("ensemble", "fused")


@dataclass(frozen=True)
class ComposeOptions:
    strategy: str = "ensemble"
    calibration: str = "none"
    refit: bool = False  # fused: refit the sliced output layer on the calibration samples
    adapt_inputs: bool = False  # renormalise inputs for modules trained with another normalisation
    calibration_per_class: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise EngineError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.calibration not in CALIBRATIONS:
            raise EngineError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {self.calibration!r}")
        if self.refit and self.strategy != "fused":
            raise EngineError("refit applies to the fused strategy only (ensemble keeps the modules exactly)")
        if self.calibration_per_class < 1:
            raise EngineError("calibration_per_class must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def needs_data(self) -> bool:
        return self.calibration != "none" or self.refit


MODES = ("replace", "add")


@dataclass(frozen=True)
class PatchOptions:
    mode: str = "replace"
    calibration: str = "linear"
    adapt_inputs: bool = False
    calibration_per_class: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise EngineError(f"mode must be 'replace' (class c is in the weak model) or 'add' (it is not), got {self.mode!r}")
        if self.calibration not in PATCH_CALIBRATIONS:
            raise EngineError(f"calibration must be one of {', '.join(PATCH_CALIBRATIONS)}, got {self.calibration!r}")
        if self.calibration_per_class < 1:
            raise EngineError("calibration_per_class must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


def patched_class_names(weak_classes: list[str], c: str, mode: str) -> list[str]:
    """The patched model's outputs: the weak model's classes, plus ``c`` at the end when it is added."""
    if mode == "replace" and c not in weak_classes:
        raise EngineError(f"the weak model has no class {c!r} to replace; its classes are {list(weak_classes)} "
                          "(use mode 'add' to add it)")
    if mode == "add" and c in weak_classes:
        raise EngineError(f"the weak model already has class {c!r}; use mode 'replace'")
    return list(weak_classes) if mode == "replace" else [*weak_classes, c]
