"""Which epoch's masks and heads become the result."""
from __future__ import annotations

_EPS = 1e-9


def select_epoch(history: list[dict], reference: float, rule: str, tolerance: float) -> int:
    """``best_accuracy``: the reference code's choice, the latest epoch with the best held-out accuracy.
    ``tolerance``: the fewest kept kernels among epochs within ``tolerance`` of the ``reference`` held-out
    accuracy (ties: the more accurate, then the earlier); falls back to best accuracy. The reference is
    the better of the base model and the search's best epoch: on a weak base model the modules' heads
    learn more than the model knew, and "within a point of the base" would then allow a large loss.
    """
    if not history:
        raise ValueError("no epochs to select from")
    best = 0
    for i, h in enumerate(history):
        if h["accuracy"] >= history[best]["accuracy"] - _EPS:
            best = i
    if rule == "best_accuracy":
        return best
    reference = max(reference, history[best]["accuracy"])
    eligible = [i for i, h in enumerate(history) if h["accuracy"] >= reference - tolerance - _EPS]
    if not eligible:
        return best
    return min(eligible, key=lambda i: (history[i]["retention"], -history[i]["accuracy"], i))


def refit_candidates(history: list[dict], reference: float, window: float, below_retention: float) -> list[int]:
    """Mask epochs worth refitting: within ``window`` of the reference accuracy and fewer kernels than
    ``below_retention``, fewest kernels first."""
    eligible = [i for i, h in enumerate(history) if h["phase"] == "mask"
                and h["accuracy"] >= reference - window - _EPS and h["retention"] < below_retention - _EPS]
    return sorted(eligible, key=lambda i: (history[i]["retention"], -history[i]["accuracy"], i))
