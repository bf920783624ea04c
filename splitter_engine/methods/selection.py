"""Which epoch's masks and heads become the result."""
from __future__ import annotations

_EPS = 1e-9


def select_epoch(history: list[dict], base_accuracy: float, rule: str, tolerance: float) -> int:
    """``best_accuracy``: the reference's choice, the latest epoch with the best held-out accuracy.
    ``tolerance``: the fewest kept kernels among epochs within ``tolerance`` of the base model's
    held-out accuracy (ties: the more accurate, then the earlier); falls back to best accuracy.
    """
    if not history:
        raise ValueError("no epochs to select from")
    best = 0
    for i, h in enumerate(history):
        if h["accuracy"] >= history[best]["accuracy"] - _EPS:
            best = i
    if rule == "best_accuracy":
        return best
    eligible = [i for i, h in enumerate(history) if h["accuracy"] >= base_accuracy - tolerance - _EPS]
    if not eligible:
        return best
    return min(eligible, key=lambda i: (history[i]["retention"], -history[i]["accuracy"], i))


def refit_candidates(history: list[dict], base_accuracy: float, window: float, below_retention: float) -> list[int]:
    """Mask epochs worth refitting: within ``window`` of the base accuracy and fewer kernels than
    ``below_retention``, fewest kernels first."""
    eligible = [i for i, h in enumerate(history) if h["phase"] == "mask"
                and h["accuracy"] >= base_accuracy - window - _EPS and h["retention"] < below_retention - _EPS]
    return sorted(eligible, key=lambda i: (history[i]["retention"], -history[i]["accuracy"], i))
