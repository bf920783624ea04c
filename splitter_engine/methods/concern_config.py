"""Concern identification's settings: the paper's rule (``paper``) and the size-for-accuracy threshold (``sliced``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from splitter_engine.bounds import preset_base
from splitter_engine.runtime import EngineError

KEEP_RULES = ("any", "fraction")
TAU_SEARCHES = ("bisect", "scan")


@dataclass(frozen=True)
class ConcernConfig:
    preset: str = "paper"
    seed: int = 1
    # Concern identification observes the training images of class c that the model classifies as c with
    # at least this softmax probability (the paper: 0.9); at most max_positives of them (0 = all).
    confidence: float = 0.9
    max_positives: int = 0
    # Tangling identification: negatives (training images of the other classes, spread evenly over them)
    # per positive; the paper uses 1 : 1.
    negative_ratio: float = 1.0
    # "any": a channel is kept when it is active for at least one observed input (the paper's rule at the
    # level of whole channels). "fraction": kept when active for at least a fraction tau of the observed
    # inputs (positives and negatives).
    keep_rule: str = "any"
    # The fraction rule's threshold in (0, 1]; None = chosen per run on the data set's validation split: of
    # tau_grid, the largest tau whose voting accuracy stays within tolerance of the model's there.
    tau: float | None = None
    tau_grid: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    tolerance: float = 0.025
    # "bisect": the largest tau within tolerance, by bisection over the grid (accuracy falls as tau grows);
    # "scan": every tau measured, the fewest kernels within tolerance kept (the whole frontier in the history).
    tau_search: str = "bisect"
    # MC-BLN: backtracking from the channeled output layer, a node feeding it is dropped when it feeds
    # the "rest" output (|w_rest| >= delta * max |w_rest|) but not the class (|w_c| < delta * max |w_c|).
    # 0 turns it off.
    bln_delta: float = 0.5
    # Slice the classifier's hidden units (outputs of every Linear layer but the output layer) as the paper
    # removes inactive dense nodes; false keeps them whole (only convolution channels are sliced).
    hidden_units: bool = True
    batch_size: int = 256

    def __post_init__(self) -> None:
        if self.keep_rule not in KEEP_RULES:
            raise EngineError(f"keep_rule must be one of {KEEP_RULES}, got {self.keep_rule!r}")
        if not 0 < self.confidence < 1:
            raise EngineError(f"confidence must be between 0 and 1, got {self.confidence}")
        if self.max_positives < 0:
            raise EngineError(f"max_positives must not be negative, got {self.max_positives}")
        if not 0 <= self.negative_ratio <= 10:
            raise EngineError(f"negative_ratio must be between 0 and 10, got {self.negative_ratio}")
        if self.tau_search not in TAU_SEARCHES:
            raise EngineError(f"tau_search must be one of {TAU_SEARCHES}, got {self.tau_search!r}")
        if self.tau is not None and not 0 < self.tau <= 1:
            raise EngineError(f"tau must be in (0, 1], got {self.tau}")
        if self.tau is not None and self.keep_rule != "fraction":
            raise EngineError("tau applies to keep_rule 'fraction' (the sliced preset); the paper preset keeps "
                              "every channel active for at least one observed input")
        if not self.tau_grid or any(not 0 < t <= 1 for t in self.tau_grid):
            raise EngineError(f"tau_grid must be a non-empty list of values in (0, 1], got {list(self.tau_grid)}")
        if not 0 <= self.tolerance <= 1:
            raise EngineError(f"tolerance must be between 0 and 1, got {self.tolerance}")
        if not 0 <= self.bln_delta <= 1:
            raise EngineError(f"bln_delta must be between 0 and 1, got {self.bln_delta}")
        if self.batch_size < 1:
            raise EngineError(f"batch_size must be positive, got {self.batch_size}")

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        return tuple(PRESETS)

    @classmethod
    def preset(cls, name: str = "paper", **overrides) -> "ConcernConfig":
        base = preset_base("concern identification", PRESETS, name, (f.name for f in fields(cls)), overrides)
        try:
            typed = {key: _typed(key, value) for key, value in overrides.items()}
        except (TypeError, ValueError) as exc:
            raise EngineError(f"bad concern identification setting value: {exc}") from exc
        return replace(base, **typed)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["tau_grid"] = list(self.tau_grid)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ConcernConfig":
        data = dict(data)
        return cls.preset(data.pop("preset", "paper"), **data)


def _typed(key: str, value):
    if key == "hidden_units":
        if not isinstance(value, bool):
            raise TypeError(f"{key} must be true or false, not {value!r}")
        return value
    if key in ("keep_rule", "tau_search"):
        if not isinstance(value, str):
            raise TypeError(f"{key} must be a string, not {value!r}")
        return value
    if isinstance(value, bool):
        raise TypeError(f"{key} must be a number, not {value!r}")
    if key == "tau":
        return None if value is None else float(value)
    if key == "tau_grid":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(f"tau_grid must be a list of numbers, not {value!r}")
        return tuple(sorted(float(v) for v in value))
    if key in ("seed", "max_positives", "batch_size"):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{key} must be a whole number, not {value!r}")
        return int(value)
    return float(value)


PRESETS: dict[str, ConcernConfig] = {
    # The paper's concern identification + tangling identification + MC-BLN (delta 0.5), at the level of
    # whole channels: a channel inactive for every observed input is removed; every other channel is kept.
    "paper": ConcernConfig(preset="paper"),  # named: the classmethod ``preset`` shadows the field's default
    # Keep a channel when it is active for at least a fraction tau of the observed inputs; tau chosen per
    # run on the validation split (the largest within 2.5 points of the model's accuracy there; the target
    # allows 3 points on the test split, half a point is left for the difference between the two splits).
    "sliced": ConcernConfig(preset="sliced", keep_rule="fraction"),
}
