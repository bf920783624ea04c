"""Plain value objects shared by every part of the engine."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class InputSpec:
    """What a model expects: a float32 tensor N x C x H x W, normalised per channel.

    Pixels are scaled to [0, 1] first, then ``(x - mean[c]) / std[c]``.
    """

    channels: int
    height: int
    width: int
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.channels < 1 or self.height < 1 or self.width < 1:
            raise ValueError(f"input size must be positive, got C={self.channels} H={self.height} W={self.width}")
        mean = tuple(float(m) for m in (self.mean or (0.0,) * self.channels))
        std = tuple(float(s) for s in (self.std or (1.0,) * self.channels))
        if len(mean) != self.channels or len(std) != self.channels:
            raise ValueError(f"mean and std need one value per channel ({self.channels})")
        if any(s <= 0 for s in std):
            raise ValueError("std values must be positive")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def check_limits(self) -> "InputSpec":
        """This spec when its size is within the hub's bounds (``splitter_engine.bounds``: at most MAX_CHANNELS
        channels and MAX_IMAGE_SIDE pixels a side); else a ConfigError naming the field. Stored specs are not
        checked again when loaded: this is the door's check."""
        from splitter_engine.bounds import MAX_CHANNELS, MAX_IMAGE_SIDE, integer

        integer("input_spec", "channels", self.channels, 1, MAX_CHANNELS)
        integer("input_spec", "height", self.height, 1, MAX_IMAGE_SIDE)
        integer("input_spec", "width", self.width, 1, MAX_IMAGE_SIDE)
        return self

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    def describe(self) -> str:
        mean = ", ".join(f"{m:.4g}" for m in self.mean)
        std = ", ".join(f"{s:.4g}" for s in self.std)
        return f"{self.channels}x{self.height}x{self.width} (mean [{mean}], std [{std}])"

    def disagreement(self, dataset_spec: "InputSpec", dataset_name: str) -> str | None:
        """What to tell the user when a data set normalises differently from this (a model's) spec."""
        if dataset_spec.mean == self.mean and dataset_spec.std == self.std:
            return None
        return (f"data set {dataset_name!r} declares mean {list(dataset_spec.mean)}, std {list(dataset_spec.std)} but "
                f"the model declares mean {list(self.mean)}, std {list(self.std)}; the model's normalisation is used")

    def to_dict(self) -> dict:
        return {"channels": self.channels, "height": self.height, "width": self.width,
                "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict) -> "InputSpec":
        try:
            return cls(channels=int(data["channels"]), height=int(data["height"]), width=int(data["width"]),
                       mean=tuple(data.get("mean") or ()), std=tuple(data.get("std") or ()))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"input spec needs channels, height, width (and optionally mean, std): {exc}") from exc


def as_plain_dict(obj) -> dict:
    """A JSON-ready dict of a dataclass (tuples become lists)."""
    return asdict(obj)
