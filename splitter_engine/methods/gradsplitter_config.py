"""GradSplitter's settings: the paper's reference defaults and the tuned ``fast`` preset."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from splitter_engine.bounds import (MAX_BATCH, MAX_EPOCHS, MAX_EVAL_BATCH, MAX_HIDDEN, MAX_SEARCH_EPOCHS, MAX_SEED,
                                    ConfigError, integer, number, preset_base, typed)

_CHOICES = {
    "score_init": ("ones", "activation"),
    "mask_lr_schedule": ("constant", "cosine"),
    "selection": ("best_accuracy", "tolerance"),
    "loss_on": ("sigmoid", "logit"),
    "holdout": ("split", "dataset_val"),
}
WHAT = "GradSplitter"
# Closed ranges of the int settings (splitter_engine.bounds: every size and count has one).
INT_RANGES = {
    "seed": (0, MAX_SEED), "batch_size": (1, MAX_BATCH), "eval_batch_size": (1, MAX_EVAL_BATCH),
    "head_hidden": (1, MAX_HIDDEN), "warmup_head_epochs": (0, MAX_EPOCHS), "cycles": (0, MAX_EPOCHS),
    "cycle_mask_epochs": (0, MAX_EPOCHS), "cycle_head_epochs": (0, MAX_EPOCHS), "modules_per_pass": (0, 1000),
    "early_stop_patience": (0, MAX_EPOCHS), "refit_head_epochs": (0, MAX_EPOCHS), "refit_max_candidates": (0, 100),
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
    # "split": the reference's val_fraction of the training images measures the search (the base model
    # was trained on them, so it flatters every epoch). "dataset_val": search on every training image and
    # measure on the data set's validation split, which the base model did not learn.
    holdout: str = "split"
    val_fraction: float = 0.2
    alpha: float = 0.1  # weight of the mean kept-kernel fraction in the loss
    # Mask the classifier's hidden units too (the outputs of every Linear layer but the output layer), with
    # the same alpha on their kept fraction; the reference masks convolution kernels only.
    hidden_units: bool = False
    # A pressure controller: after each mask epoch alpha is multiplied by alpha_growth while the held-out
    # accuracy stays within accuracy_window of the base model, and divided by it once it falls further.
    alpha_growth: float = 1.0
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
    # Weight of distillation in the loss: (1 - distill) * CE(labels) + distill * T^2 * KL(base outputs
    # at temperature T || module scores at T). The base model's soft outputs keep the margins the labels
    # of its (memorised) training images do not show.
    distill: float = 0.0
    distill_temperature: float = 4.0
    init_scale: float = 1.0  # activation init: distance of the initial scores from the threshold
    init_keep: float = 1.0  # activation init: fraction of each group's channels (most active first) kept at start
    modules_per_pass: int = 1  # modules run together in one forward pass; 0 = all N
    selection: str = "best_accuracy"
    tolerance: float = 0.01  # selection "tolerance": accuracy loss allowed against the base model
    # Heads lag the masks they were trained with. Before an epoch is judged, its heads are trained alone
    # for this many epochs on its fixed masks (cheap: the logits are computed once). The candidates are
    # the epochs within accuracy_window of the base accuracy, bisected by kernels kept, with at most
    # refit_max_candidates refits.
    refit_head_epochs: int = 0
    # An epoch further than this below the base accuracy is past the cliff: alpha backs off, it is not a
    # refit candidate, and it counts towards early stopping.
    accuracy_window: float = 0.05
    refit_max_candidates: int = 6
    # Stop after this many mask epochs without progress (retention falling by min_delta while accuracy
    # stays within accuracy_window); 0 = never.
    early_stop_patience: int = 0
    early_stop_min_delta: float = 0.005
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}", setting=name)
        for name, (low, high) in INT_RANGES.items():
            integer(WHAT, name, getattr(self, name), low, high)
        for name in ("mask_lr", "head_lr", "warmup_head_lr", "alpha_growth", "distill_temperature"):
            number(WHAT, name, getattr(self, name), 0, 1e6, low_open=True)
        for name in ("alpha", "tolerance", "accuracy_window", "init_scale", "mask_lr_final", "early_stop_min_delta"):
            number(WHAT, name, getattr(self, name), 0, 1e6)
        number(WHAT, "val_fraction", self.val_fraction, 0, 1, low_open=True, high_open=True)
        number(WHAT, "distill", self.distill, 0, 1)
        number(WHAT, "init_keep", self.init_keep, 0, 1, low_open=True)
        if self.cycles * self.cycle_mask_epochs == 0:
            raise ConfigError("the search needs at least one mask epoch (cycles and cycle_mask_epochs > 0)",
                              setting="cycles")
        planned = self.planned_epochs
        if planned > MAX_SEARCH_EPOCHS:
            raise ConfigError(f"{WHAT}: the search plans {planned:,} epochs (warmup_head_epochs + cycles x "
                              f"(cycle_mask_epochs + cycle_head_epochs)), more than the limit of "
                              f"{MAX_SEARCH_EPOCHS:,}; lower cycles or the epochs per cycle", setting="cycles")

    @property
    def planned_epochs(self) -> int:
        """Epochs the plan holds (early stopping may end it sooner)."""
        return self.warmup_head_epochs + self.cycles * (self.cycle_mask_epochs + self.cycle_head_epochs)

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        return tuple(PRESETS)

    @classmethod
    def preset(cls, name: str = "paper", **overrides) -> "GradSplitterConfig":
        base = preset_base(WHAT, PRESETS, name, (f.name for f in fields(cls)), overrides)
        checked = {key: typed(WHAT, key, getattr(base, key), value) for key, value in overrides.items()}
        return replace(base, **checked)

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
    "paper": GradSplitterConfig(preset="paper"),  # named: the classmethod `preset` shadows the field default
    # Tuned on digits-32 (SimCNN, ResCNN, InceCNN at width 0.125, resnet18 at 0.25): all modules in
    # one pass; scores start from per-class activation statistics, just around the threshold; the loss
    # on the heads' raw outputs, half of it distilled from the base model's outputs at T = 4; alpha
    # starts at 2 and grows by 1.35 per epoch while held-out accuracy holds (a fixed alpha either stalls
    # around 60 % kept or collapses the modules); a decaying mask lr; selection on the data set's
    # validation split with heads refitted, fewest kernels within half a point (re-tuned on shapes-tune,
    # a data set no figure is reported on: within 1 point lost 1.0-3.7 points on its test images, within
    # half a point 0-1.7; bench/gradsplitter_selection.py); early stopping once retention stops falling.
    "fast": GradSplitterConfig(
        preset="fast", hidden_units=True, holdout="dataset_val", loss_on="logit", distill=0.5, distill_temperature=4.0,
        score_init="activation", init_scale=0.2,
        modules_per_pass=0, warmup_head_epochs=2, warmup_head_lr=0.01, cycles=14, cycle_mask_epochs=1,
        cycle_head_epochs=0, alpha=2.0, alpha_growth=1.35, accuracy_window=0.03, mask_lr=0.01,
        mask_lr_schedule="cosine", mask_lr_final=0.2, head_lr=0.01, selection="tolerance", tolerance=0.005,
        refit_head_epochs=10, refit_max_candidates=5, early_stop_patience=3),
}
