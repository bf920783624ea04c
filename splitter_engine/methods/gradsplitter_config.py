"""GradSplitter's settings: the paper's reference defaults and the tuned ``fast`` preset."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from splitter_engine.runtime import EngineError

_CHOICES = {
    "score_init": ("ones", "activation"),
    "mask_lr_schedule": ("constant", "cosine"),
    "selection": ("best_accuracy", "tolerance"),
    "loss_on": ("sigmoid", "logit"),
}


@dataclass(frozen=True)
class Phase:
    kind: str  # "head" (heads only) or "mask" (masks and heads)
    lr: float  # learning rate of what the phase trains (scores in a mask phase)
    head_lr: float


@dataclass(frozen=True)
class GradSplitterConfig:
    preset: str = "paper"
    seed: int = 1
    batch_size: int = 64
    val_fraction: float = 0.2  # of the training split, held out to measure the search
    alpha: float = 0.1  # weight of the mean kept-kernel fraction in the loss
    head_hidden: int = 10
    warmup_head_epochs: int = 5
    warmup_head_lr: float = 0.01
    cycles: int = 20
    cycle_mask_epochs: int = 5
    cycle_head_epochs: int = 2
    mask_lr: float = 0.001
    mask_lr_schedule: str = "constant"
    mask_lr_final: float = 0.1  # cosine: final lr as a fraction of mask_lr
    head_lr: float = 0.001
    score_init: str = "ones"
    # The reference feeds the heads' sigmoid outputs to cross-entropy as if they were logits; squeezed
    # into [0, 1] they give a weak gradient that alpha overpowers, so masks shrink while accuracy
    # collapses. "logit" uses the heads' outputs before the sigmoid (module scores are unchanged).
    loss_on: str = "sigmoid"
    init_scale: float = 1.0  # activation init: distance of the initial scores from the threshold
    init_keep: float = 1.0  # activation init: fraction of each group's channels (most active first) kept at start
    modules_per_pass: int = 1  # modules run together in one forward pass; 0 = all N
    selection: str = "best_accuracy"
    tolerance: float = 0.01  # selection "tolerance": accuracy loss allowed against the base model
    early_stop_patience: int = 0  # mask epochs without retention falling before stopping; 0 = never
    early_stop_min_delta: float = 0.005
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise EngineError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        positive = ("batch_size", "head_hidden", "eval_batch_size", "mask_lr", "head_lr", "warmup_head_lr")
        for name in positive:
            if not getattr(self, name) > 0:
                raise EngineError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("warmup_head_epochs", "cycles", "cycle_mask_epochs", "cycle_head_epochs",
                     "modules_per_pass", "early_stop_patience"):
            if getattr(self, name) < 0:
                raise EngineError(f"{name} must not be negative, got {getattr(self, name)!r}")
        if not 0 < self.val_fraction < 1:
            raise EngineError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if not 0 < self.init_keep <= 1:
            raise EngineError(f"init_keep must be in (0, 1], got {self.init_keep}")
        if self.alpha < 0 or self.tolerance < 0:
            raise EngineError("alpha and tolerance must not be negative")
        if self.cycles * self.cycle_mask_epochs == 0:
            raise EngineError("the search needs at least one mask epoch (cycles and cycle_mask_epochs > 0)")

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        return tuple(PRESETS)

    @classmethod
    def preset(cls, name: str = "paper", **overrides) -> "GradSplitterConfig":
        if name not in PRESETS:
            raise EngineError(f"unknown GradSplitter preset {name!r}; choose one of {sorted(PRESETS)}")
        known = {f.name for f in fields(cls)} - {"preset"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise EngineError(f"unknown GradSplitter setting(s) {unknown}; settings are {sorted(known)}")
        base = PRESETS[name]
        try:
            typed = {key: type(getattr(base, key))(value) for key, value in overrides.items()}
        except (TypeError, ValueError) as exc:
            raise EngineError(f"bad GradSplitter setting value: {exc}") from exc
        return replace(base, **typed)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "GradSplitterConfig":
        data = dict(data)
        return cls.preset(data.pop("preset", "paper"), **data)

    def phases(self) -> list[Phase]:
        """The epoch plan: warm-up on heads, then cycles of mask epochs and head epochs."""
        plan = [Phase("head", self.warmup_head_lr, self.warmup_head_lr)] * self.warmup_head_epochs
        total_mask = self.cycles * self.cycle_mask_epochs
        done = 0
        for _ in range(self.cycles):
            for _ in range(self.cycle_mask_epochs):
                plan.append(Phase("mask", self._mask_lr(done, total_mask), self.head_lr))
                done += 1
            plan += [Phase("head", self.head_lr, self.head_lr)] * self.cycle_head_epochs
        return plan

    def _mask_lr(self, step: int, total: int) -> float:
        if self.mask_lr_schedule == "constant" or total <= 1:
            return self.mask_lr
        progress = step / (total - 1)
        floor = self.mask_lr * self.mask_lr_final
        return floor + (self.mask_lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


PRESETS: dict[str, GradSplitterConfig] = {
    # GradSplitter's reference defaults (src/grad_splitter.py): scores 1, Adam, 5 head epochs at 0.01,
    # 20 cycles of [5 mask+head epochs at 0.001, 2 head epochs at 0.001], one module per pass,
    # the epoch with the best validation accuracy.
    "paper": GradSplitterConfig(),
    # All modules in one pass, activation-based init close to the threshold, a decaying mask lr,
    # automatic selection within 1 point, early stopping. Tuned briefly on a width-0.25 SimCNN on
    # digits-16 (alpha 1: ~61% kernels kept at full accuracy; alpha 3: ~35% kept, ~85% accuracy).
    "fast": GradSplitterConfig(
        preset="fast", loss_on="logit", alpha=2.0, warmup_head_epochs=2, warmup_head_lr=0.01, cycles=10, cycle_mask_epochs=1,
        cycle_head_epochs=0, mask_lr=0.005, mask_lr_schedule="cosine", mask_lr_final=0.2, head_lr=0.002,
        score_init="activation", init_scale=0.05, init_keep=1.0, modules_per_pass=0,
        selection="tolerance", early_stop_patience=2),
}
