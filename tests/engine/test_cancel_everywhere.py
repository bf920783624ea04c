"""#19: cancel is honoured in every loop of a run, the set-up included (a decomposition asked for an absurd plan sat
in its set-up for minutes and ignored cancel)."""
import pytest

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.data import load_builtin
from splitter_engine.evaluation import run_batched
from splitter_engine.methods.gradsplitter import _Search
from splitter_engine.methods.gradsplitter_config import GradSplitterConfig
from splitter_engine.runtime import RunCancelled, RunContext


class CancelAfter:
    """is_cancelled that answers True from its ``n``-th call on; counts the calls."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls >= self.n


@pytest.fixture(scope="module")
def digits16():
    return load_builtin("digits-16")


def test_the_decomposition_set_up_checks_cancel(digits16):
    model = build_model(ArchSpec("simcnn", 10, 1, {"width": 0.125}))
    config = GradSplitterConfig.preset("fast")  # activation init: a pass over the training images in set-up
    probe = CancelAfter(1)
    with pytest.raises(RunCancelled):
        _Search(model, digits16, config, RunContext(is_cancelled=probe))
    assert probe.calls == 1


def test_batched_passes_check_before_each_batch():
    import torch

    probe = CancelAfter(3)
    with pytest.raises(RunCancelled):
        run_batched(lambda b: b, torch.zeros(10, 1), 2, RunContext(is_cancelled=probe).check_cancelled)
    assert probe.calls == 3
