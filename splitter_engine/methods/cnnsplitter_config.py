"""CNNSplitter's settings: the paper's reference defaults and the tuned ``fast`` preset.

Every setting is validated here, so a bad config is refused with a message naming the setting before a
job starts (the registry turns the EngineError into a 400).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from splitter_engine.bounds import (MAX_EVAL_BATCH, MAX_GENERATIONS, MAX_POPULATION, MAX_SEED, ConfigError, integer,
                                    number, preset_base, typed)
from splitter_engine.runtime import EngineError

WHAT = "CNNSplitter"
# Closed ranges of the int settings (splitter_engine.bounds: every size and count has one).
INT_RANGES = {
    "seed": (0, MAX_SEED), "val_per_class": (0, 100_000), "blocks_small": (1, 1000), "blocks_large": (1, 1000),
    "large_group": (1, 100_000), "population": (2, MAX_POPULATION), "parents": (2, MAX_POPULATION),
    "elites": (0, MAX_POPULATION), "generations": (1, MAX_GENERATIONS), "early_stop_patience": (0, MAX_GENERATIONS),
    "keep_min": (1, 100_000), "keep_max": (1, 100_000), "batch_images": (1, MAX_EVAL_BATCH), "init_raises": (0, 10),
}


@dataclass(frozen=True)
class CNNSplitterConfig:
    preset: str = "paper"
    seed: int = 1
    # -- data: every search signal uses the validation split (a stratified val_fraction of the training
    # images when the data set has none, as the reference's 80/20 split); 0 = all of its images per class.
    val_per_class: int = 0
    val_fraction: float = 0.2
    # -- kernel importance: images of class c the base model predicts with softmax >= confidence.
    confidence: float = 0.9
    # Mask the classifier's hidden units too (the outputs of every Linear layer but the output layer): they
    # join the search as channel groups of their own (importance, sensitivity, genes, GA), so the modules'
    # dense layers are sliced. The reference masks convolution kernels only.
    hidden_units: bool = False
    # -- layer sensitivity (ratios probed below 1.0; r = 1 is the base model) and the coded rule that turns
    # it into initial ratio ranges: a group's safe ratio is the smallest probed r whose composed validation
    # accuracy, and that of every larger probed r, stays within sensitivity_drop of r = 1; its range starts
    # at min(max(safe, ratio_floor), ratio_cap) and goes ratio_span higher in steps of 0.1 (at most 1.0).
    # The cap: no layer of the reference's hand-written configs starts above 0.6 ({.6, .7, .8} for its
    # sensitive layers). A group whose safe ratio is above sensitive_above is reported as sensitive.
    sensitivity_ratios: tuple = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    sensitivity_drop: float = 0.05
    ratio_span: float = 0.2
    ratio_floor: float = 0.1
    ratio_cap: float = 0.6
    sensitive_above: float = 0.5
    # -- genes: per class and group, channels by importance cut into blocks (one bit each).
    blocks_small: int = 10
    blocks_large: int = 100
    large_group: int = 256  # groups with at least this many channels get blocks_large blocks
    init_temperature: float = 10.0  # P(block i) ~ softmax((G - 1 - i) / T): important blocks first
    # The check a person reading the reference's logs makes: while the initial population's best composition is
    # more than init_max_drop below the base model on validation, every range moves 0.1 higher and the
    # population is drawn again (at most init_raises times). 1.0 = off, as the reference.
    init_max_drop: float = 1.0
    init_raises: int = 5
    # -- GA
    population: int = 100
    parents: int = 50
    elites: int = 20  # offspring = population - elites
    mutation: float = 0.05  # floor(mutation * genes) genes per offspring set to random bits
    generations: int = 200
    early_stop_patience: int = 0  # generations without a better selection score; 0 = run them all
    # -- fitness: staged composition (pairs, 4, 8, ... N), top-k by accuracy per level with
    # k = clamp(#{accuracy >= threshold}, keep_min, keep_max); levels past the list use its second-last
    # value, the last (N-class) level always the last value.
    thresholds: tuple = (0.95, 0.95, 0.85, 0.8)
    keep_min: int = 50
    keep_max: int = 500
    alpha: float = 0.9
    gamma: float = 0.9
    selection_accuracy_weight: float = 0.9  # a generation's score: w * accuracy + (1 - w) * diff
    # -- batching: images per forward pass (masks x images), the engine's ChannelGate runs many masks at once.
    batch_images: int = 1024

    def __post_init__(self) -> None:
        for name, (low, high) in INT_RANGES.items():
            integer(WHAT, name, getattr(self, name), low, high)
        if not isinstance(self.hidden_units, bool):
            raise ConfigError(f"{WHAT}: hidden_units must be true or false, got {self.hidden_units!r}",
                              setting="hidden_units")
        if not 2 <= self.parents <= self.population:
            raise EngineError(f"parents must be between 2 and population ({self.population}), got {self.parents}")
        if self.elites >= self.population:
            raise EngineError(f"elites ({self.elites}) must be fewer than population ({self.population}): "
                              "the GA needs at least one offspring per generation")
        if self.keep_min > self.keep_max:
            raise EngineError(f"keep_min ({self.keep_min}) must not exceed keep_max ({self.keep_max})")
        for name in ("mutation", "confidence", "alpha", "gamma", "sensitivity_drop", "selection_accuracy_weight",
                     "init_max_drop"):
            if not 0 <= getattr(self, name) <= 1:
                raise EngineError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            raise EngineError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if not 0 <= self.ratio_span <= 0.9 or not 0.1 <= self.ratio_floor <= self.ratio_cap <= 1 \
                or not 0 <= self.sensitive_above <= 1:
            raise EngineError("ratio_span must be in [0, 0.9], 0.1 <= ratio_floor <= ratio_cap <= 1 and "
                              "sensitive_above in [0, 1]")
        if any(not 0 < r < 1 for r in self.sensitivity_ratios) or list(self.sensitivity_ratios) != sorted(set(self.sensitivity_ratios)):
            raise EngineError("sensitivity_ratios must be increasing ratios strictly between 0 and 1 (1.0 is always "
                              f"measured), got {list(self.sensitivity_ratios)}")
        if not self.init_temperature > 0:
            raise EngineError(f"init_temperature must be positive, got {self.init_temperature}")
        if not self.thresholds or any(not 0 <= t <= 1 for t in self.thresholds):
            raise EngineError(f"thresholds must be a non-empty list of accuracies in [0, 1], got {list(self.thresholds)}")

    @property
    def offspring(self) -> int:
        return self.population - self.elites

    def threshold(self, level: int, final: bool) -> float:
        """The accuracy threshold of composition level ``level`` (0 = pairs)."""
        if final or len(self.thresholds) == 1:
            return float(self.thresholds[-1])
        return float(self.thresholds[min(level, len(self.thresholds) - 2)])

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        return tuple(PRESETS)

    @classmethod
    def preset(cls, name: str = "paper", **overrides) -> "CNNSplitterConfig":
        base = preset_base(WHAT, PRESETS, name, (f.name for f in fields(cls)), overrides)
        checked = {}
        for key, value in overrides.items():
            current = getattr(base, key)
            if isinstance(current, tuple):
                if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                    raise ConfigError(f"{WHAT}: {key} must be a list of numbers, got {value!r}", setting=key)
                checked[key] = tuple(number(WHAT, key, v, 0, 1) for v in value)
            else:
                checked[key] = typed(WHAT, key, current, value)
        return replace(base, **checked)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["thresholds"] = list(self.thresholds)
        data["sensitivity_ratios"] = list(self.sensitivity_ratios)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "CNNSplitterConfig":
        data = dict(data)
        return cls.preset(data.pop("preset", "paper"), **data)


PRESETS: dict[str, CNNSplitterConfig] = {
    # The reference's defaults (configures/simcnn_cifar10.py, module_recorder.py, ga.py): population 100,
    # 50 parents, 20 elites, 5 % mutation, 200 generations, thresholds {2: .95, 4: .95, 8: .85, 10: .8},
    # top-k clamped to [50, 500], alpha .9, gamma .9, every validation image.
    "paper": CNNSplitterConfig(preset="paper"),  # named: the classmethod `preset` shadows the field default
    # Tuned for 2 CPU cores (see docs/cnnsplitter.md for every difference and the measurements); the
    # classifier's hidden units are masked too, as in GradSplitter's fast preset and concern identification.
    # Every validation image, as the paper: a 16-per-class subsample was fitted to 98.8 % while the test images
    # fell 8.7 points (ResCNN x0.125, shapes-tune; all 300 images: 6.3 points, fewer kernels).
    "fast": CNNSplitterConfig(
        preset="fast", hidden_units=True, sensitivity_ratios=(0.2, 0.4, 0.6, 0.8),
        sensitivity_drop=0.02, ratio_cap=0.8, population=24, parents=12, elites=4, generations=30,
        early_stop_patience=10, keep_min=16, keep_max=128, init_max_drop=0.1),
}
