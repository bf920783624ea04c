"""How long engine runs talk to their caller: progress, cancellation, device and seeding.

Every long engine call takes a ``RunContext``. It reports progress through ``ctx.report`` and calls
``ctx.check_cancelled()`` between steps (an epoch, a batch group); a cancelled run raises
``RunCancelled`` and must leave nothing behind.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

if TYPE_CHECKING:  # torch loads only where a run needs it: the web process never imports it
    import torch

log = logging.getLogger(__name__)


class RunCancelled(Exception):
    """Raised inside an engine run when its caller asked it to stop."""


class EngineError(ValueError):
    """A problem with the caller's input that they can fix; the message says how."""


# progress(fraction 0..1, stage, message, metrics-or-None)
ProgressFn = Callable[[float, str, str, Optional[dict]], None]


def _no_progress(fraction: float, stage: str, message: str, metrics: Optional[dict] = None) -> None:
    return None


def _never_cancelled() -> bool:
    return False


@dataclass
class RunContext:
    """Progress sink, cancellation probe and device for one engine run."""

    device: str = "cpu"
    progress: ProgressFn = field(default=_no_progress)
    is_cancelled: Callable[[], bool] = field(default=_never_cancelled)

    def report(self, fraction: float, stage: str, message: str = "", metrics: Optional[dict] = None) -> None:
        self.progress(min(max(float(fraction), 0.0), 1.0), stage, message, metrics)

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise RunCancelled("cancelled by request")

    def stage(self, start: float, end: float) -> "RunContext":
        """A context for one part of a run, whose 0..1 progress maps onto [start, end] of this one."""
        def progress(fraction, stage, message, metrics=None):
            self.report(start + (end - start) * fraction, stage, message, metrics)

        return RunContext(device=self.device, progress=progress, is_cancelled=self.is_cancelled)

    @property
    def torch_device(self) -> torch.device:
        import torch

        return torch.device(self.device)

    @property
    def use_amp(self) -> bool:
        """Mixed precision only where it helps: on CUDA."""
        return self.torch_device.type == "cuda"


def resolve_device(requested: str = "auto") -> str:
    """``auto`` picks CUDA when usable; asking for CUDA on a machine without it is an input error."""
    import torch

    requested = (requested or "auto").lower()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineError("device 'cuda' was requested but no CUDA GPU is usable here; use 'cpu' or 'auto'")
        index = requested.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise EngineError(f"device {requested!r} was requested but this worker has {torch.cuda.device_count()} "
                              "CUDA device(s); use 'cuda' (its first) or 'auto'")
        return requested
    if requested == "cpu":
        return "cpu"
    raise EngineError(f"unknown device {requested!r}; use 'cpu', 'cuda', 'cuda:N' or 'auto'")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; returns a CPU generator for data order."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
