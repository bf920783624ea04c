"""What a decomposition produces: per class the keep-mask per channel group, how its module scores its
class (the scoring kind and that kind's tensors), history and metrics.

Stored without pickles: ``to_state()`` gives a JSON-ready dict and a flat dict of tensors (for
safetensors); ``from_state()`` reverses it, and still reads results stored before scoring kinds
(``decomposition/v1``: GradSplitter's heads).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from splitter_engine.runtime import EngineError
from splitter_engine.scoring import ScoringKind, scoring_kind

STATE_FORMAT = "decomposition/v2"
_V1_FORMAT = "decomposition/v1"


@dataclass
class DecompositionResult:
    method: str
    config: dict
    class_names: list[str]
    group_roots: list[str]  # root conv of each channel group, in mask order
    group_sizes: list[int]
    masks: torch.Tensor  # N x total_slots, bool: the selected epoch's keep-masks
    scoring: str  # the modules' scoring kind (splitter_engine.scoring)
    scoring_tensors: dict[str, torch.Tensor] = field(default_factory=dict)  # that kind's tensors, first dim = class
    history: list[dict] = field(default_factory=list)
    selected_epoch: int = -1
    metrics: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind.check(self.scoring_tensors, self.num_classes)

    @property
    def kind(self) -> ScoringKind:
        return scoring_kind(self.scoring)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def keep_masks(self, class_index: int) -> list[torch.Tensor]:
        """The bool keep-mask of every channel group for one class."""
        return list(torch.split(self.masks[class_index], self.group_sizes))

    def kept_indices(self, class_index: int) -> list[list[int]]:
        return [mask.nonzero().flatten().tolist() for mask in self.keep_masks(class_index)]

    def to_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        meta = {"format": STATE_FORMAT, "method": self.method, "scoring": self.scoring, "config": self.config,
                "class_names": list(self.class_names), "group_roots": list(self.group_roots),
                "group_sizes": [int(s) for s in self.group_sizes], "history": self.history,
                "selected_epoch": int(self.selected_epoch), "metrics": self.metrics}
        tensors = {"masks": self.masks.to(torch.uint8).contiguous()}
        tensors.update({f"scoring.{name}": value.contiguous() for name, value in self.scoring_tensors.items()})
        return meta, tensors

    @classmethod
    def from_state(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> "DecompositionResult":
        fmt = meta.get("format")
        if fmt not in (STATE_FORMAT, _V1_FORMAT):
            raise EngineError(f"not a decomposition state (format {fmt!r}, expected {STATE_FORMAT!r})")
        prefix, scoring = ("heads.", "head") if fmt == _V1_FORMAT else ("scoring.", meta.get("scoring"))
        try:
            return cls(method=meta["method"], config=dict(meta["config"]), class_names=list(meta["class_names"]),
                       group_roots=list(meta["group_roots"]), group_sizes=[int(s) for s in meta["group_sizes"]],
                       masks=tensors["masks"].bool(), scoring=scoring,
                       scoring_tensors={k[len(prefix):]: v.float() for k, v in tensors.items() if k.startswith(prefix)},
                       history=list(meta.get("history", [])), selected_epoch=int(meta["selected_epoch"]),
                       metrics=dict(meta.get("metrics", {})))
        except KeyError as exc:
            raise EngineError(f"decomposition state is missing {exc}") from exc
