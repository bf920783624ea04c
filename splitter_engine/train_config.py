"""What a training run is asked to do, checked at the door: every option typed and in range.

No torch here: the web process checks a training request without loading the engine."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from splitter_engine.bounds import MAX_BATCH, MAX_EPOCHS, MAX_SEED, ConfigError, integer, number, typed

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
AUGMENTATIONS = ("none", "crop", "flip-crop")  # digits and text must not be flipped: choose "crop" there
SELECTIONS = ("best", "last")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9            # sgd only
    weight_decay: float = 0.0
    lr_schedule: str = "none"
    step_epochs: int = 0             # step schedule: multiply lr by step_gamma every this many epochs (0: epochs // 3)
    step_gamma: float = 0.1
    augmentation: str = "none"       # crop: random crop after zero padding; flip-crop: also horizontal flips
    crop_padding: int = 0            # 0: an eighth of the image side
    seed: int = 0
    classes: tuple[str, ...] = ()    # class subset by name; empty: all classes
    dirichlet_alpha: float = 0.0     # > 0: class proportions of the train subsample drawn from Dirichlet(alpha)
    subsample: float = 1.0           # fraction of the (class-subset) train split to draw
    select: str = "best"             # keep the epoch with the best val accuracy, or the last one

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        what = "training config"
        # Sizes and counts first (splitter_engine.bounds): each is an int in its range, never "2" or 1.5.
        integer(what, "epochs", self.epochs, 1, MAX_EPOCHS)
        integer(what, "batch_size", self.batch_size, 2, MAX_BATCH)
        integer(what, "seed", self.seed, 0, MAX_SEED)
        integer(what, "step_epochs", self.step_epochs, 0, MAX_EPOCHS)
        integer(what, "crop_padding", self.crop_padding, 0, 256)
        for name in ("lr", "momentum", "weight_decay", "step_gamma", "dirichlet_alpha", "subsample"):
            number(what, name, getattr(self, name), -1e9, 1e9)
        checks = [
            ("optimizer", self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}"),
            ("lr", self.lr > 0, "lr must be a positive number"),
            ("momentum", 0 <= self.momentum < 1, "momentum must lie in [0, 1)"),
            ("weight_decay", self.weight_decay >= 0, "weight_decay must not be negative"),
            ("lr_schedule", self.lr_schedule in SCHEDULES, f"lr_schedule must be one of {SCHEDULES}"),
            ("step_gamma", 0 < self.step_gamma <= 1, "step_epochs >= 0 and 0 < step_gamma <= 1"),
            ("augmentation", self.augmentation in AUGMENTATIONS, f"augmentation must be one of {AUGMENTATIONS}"),
            ("classes", len(set(self.classes)) == len(self.classes), "classes must not repeat"),
            ("classes", not self.classes or len(self.classes) >= 2, "a class subset needs at least 2 classes"),
            ("dirichlet_alpha", self.dirichlet_alpha >= 0, "dirichlet_alpha must not be negative (0 turns skew off)"),
            ("subsample", 0 < self.subsample <= 1, "subsample must lie in (0, 1]"),
            ("select", self.select in SELECTIONS, f"select must be one of {SELECTIONS}"),
        ]
        for name, ok, message in checks:
            if not ok:
                raise ConfigError(f"{what}: {message}", setting=name)

    def to_dict(self) -> dict:
        return {**asdict(self), "classes": list(self.classes)}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """A config from JSON: each value must have its option's type (``epochs`` an integer, ``lr`` a number,
        ``optimizer`` a string); nothing is converted, so "2" and 1.5 epochs are refused, not run as 2 or 1."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"training config: unknown option(s) {unknown}; known: {sorted(known)}")
        values = {}
        for key, value in data.items():
            if key == "classes":
                if not isinstance(value, (list, tuple)) or not all(isinstance(c, (str, int)) and not
                                                                   isinstance(c, bool) for c in value):
                    raise ConfigError(f"training config: classes must be a list of class names, got {value!r}",
                                      setting="classes")
                values[key] = tuple(str(c) for c in value)
            else:
                values[key] = typed("training config", key, known[key].default, value)
        return cls(**values)
