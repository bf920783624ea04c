"""What a decomposition produces: per class the keep-mask per channel group and the head, history, metrics.

Stored without pickles: ``to_state()`` gives a JSON-ready dict and a flat dict of tensors (for
safetensors); ``from_state()`` reverses it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from splitter_engine.methods.heads import HEAD_TENSORS
from splitter_engine.runtime import EngineError

STATE_FORMAT = "decomposition/v1"


@dataclass
class DecompositionResult:
    method: str
    config: dict
    class_names: list[str]
    group_roots: list[str]  # root conv of each channel group, in mask order
    group_sizes: list[int]
    masks: torch.Tensor  # N x total_slots, bool: the selected epoch's keep-masks
    heads: dict[str, torch.Tensor]  # batched head tensors w1, b1, w2, b2 (first dim = class)
    history: list[dict] = field(default_factory=list)
    selected_epoch: int = -1
    metrics: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def keep_masks(self, class_index: int) -> list[torch.Tensor]:
        """The bool keep-mask of every channel group for one class."""
        return list(torch.split(self.masks[class_index], self.group_sizes))

    def kept_indices(self, class_index: int) -> list[list[int]]:
        return [mask.nonzero().flatten().tolist() for mask in self.keep_masks(class_index)]

    def to_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        meta = {"format": STATE_FORMAT, "method": self.method, "config": self.config,
                "class_names": list(self.class_names), "group_roots": list(self.group_roots),
                "group_sizes": [int(s) for s in self.group_sizes], "history": self.history,
                "selected_epoch": int(self.selected_epoch), "metrics": self.metrics}
        tensors = {"masks": self.masks.to(torch.uint8).contiguous()}
        tensors.update({f"heads.{name}": self.heads[name].contiguous() for name in HEAD_TENSORS})
        return meta, tensors

    @classmethod
    def from_state(cls, meta: dict, tensors: dict[str, torch.Tensor]) -> "DecompositionResult":
        if meta.get("format") != STATE_FORMAT:
            raise EngineError(f"not a decomposition state (format {meta.get('format')!r}, expected {STATE_FORMAT!r})")
        try:
            return cls(method=meta["method"], config=dict(meta["config"]), class_names=list(meta["class_names"]),
                       group_roots=list(meta["group_roots"]), group_sizes=[int(s) for s in meta["group_sizes"]],
                       masks=tensors["masks"].bool(), heads={n: tensors[f"heads.{n}"].float() for n in HEAD_TENSORS},
                       history=list(meta.get("history", [])), selected_epoch=int(meta["selected_epoch"]),
                       metrics=dict(meta.get("metrics", {})))
        except KeyError as exc:
            raise EngineError(f"decomposition state is missing {exc}") from exc
