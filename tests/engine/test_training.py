"""Training inside the hub: a real short run on digits-16, determinism, class subsets, Dirichlet skew, cancel."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn as nn

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.data import load_builtin
from splitter_engine.evaluation import evaluate
from splitter_engine.runtime import EngineError, RunCancelled, RunContext
from splitter_engine.training import TrainConfig, augment, select_subset, train_model, training_classes


@pytest.fixture(scope="module")
def digits16():
    return load_builtin("digits-16")


def small_cnn(num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """Two conv blocks: learns digits-16 in seconds on 2 CPU cores."""
    return nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 4 * 4, num_classes))


@pytest.mark.slow
def test_short_real_training_run_on_digits16_is_accurate(digits16):
    reports = []
    ctx = RunContext(progress=lambda f, stage, msg, metrics: reports.append((f, stage, msg, metrics)))
    torch.manual_seed(0)
    model = small_cnn()
    config = TrainConfig(epochs=2, batch_size=32, lr=3e-3, lr_schedule="cosine", seed=0)
    started = time.perf_counter()
    result = train_model(model, digits16, config, ctx)
    seconds = time.perf_counter() - started
    report = evaluate(model, digits16, "test")
    print(f"digits-16 small CNN: test accuracy {report.accuracy:.4f} after {seconds:.1f} s")
    assert report.accuracy >= 0.9
    assert result.class_names == [str(i) for i in range(10)] and result.device == "cpu"
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.history[-1].loss < result.history[0].loss
    assert all(0 <= r.train_accuracy <= 1 and 0 <= r.val_accuracy <= 1 and r.seconds > 0 for r in result.history)
    assert result.train_counts == digits16.class_counts("train")
    assert np.array_equal(result.train_indices, digits16.splits["train"])
    epoch_reports = [r for r in reports if r[3] is not None]
    assert [r[0] for r in epoch_reports] == [0.5, 1.0]
    assert epoch_reports[-1][3]["val_accuracy"] == result.history[-1].val_accuracy
    best = max(r.val_accuracy for r in result.history)
    assert result.chosen.val_accuracy == best and result.chosen_epoch == next(
        r.epoch for r in result.history if r.val_accuracy == best)
    assert set(result.state_dict) == set(model.state_dict())
    assert result.to_dict()["history"][0]["epoch"] == 1 and "train_indices" not in result.to_dict()


@pytest.mark.slow
def test_registry_architecture_trains_on_a_class_subset_with_k_outputs(digits16):
    config = TrainConfig(epochs=1, batch_size=16, lr=5e-3, classes=("8", "3", "5"), seed=1)
    indices, names = training_classes(digits16, config)
    assert (indices, names) == ([3, 5, 8], ["3", "5", "8"])
    torch.manual_seed(1)
    model = build_model(ArchSpec("rescnn", num_classes=len(names), in_channels=1, kwargs={"width": 0.0625}))
    result = train_model(model, digits16, config)
    assert result.class_names == ["3", "5", "8"] and result.class_indices == [3, 5, 8]
    assert set(digits16.labels[result.train_indices]) == {3, 5, 8}
    report = evaluate(model, digits16, "test", class_names=result.class_names)
    test_labels = digits16.labels[digits16.splits["test"]]
    assert report.num_samples == int(np.isin(test_labels, [3, 5, 8]).sum())
    assert report.excluded == len(test_labels) - report.num_samples
    assert report.accuracy > 0.6  # chance is 1/3


@pytest.mark.slow
def test_training_is_deterministic_on_cpu_with_the_same_seed(digits16):
    def run(seed):
        torch.manual_seed(123)  # same initial weights; the config seed drives data order and augmentation
        model = small_cnn()
        config = TrainConfig(epochs=1, batch_size=32, seed=seed, augmentation="crop", subsample=0.2,
                             dirichlet_alpha=1.0, optimizer="sgd", lr=0.05)
        return train_model(model, digits16, config)

    first, again, other = run(7), run(7), run(8)
    assert all(torch.equal(first.state_dict[k], again.state_dict[k]) for k in first.state_dict)
    assert [r.loss for r in first.history] == [r.loss for r in again.history]
    assert np.array_equal(first.train_indices, again.train_indices)
    assert not np.array_equal(first.train_indices, other.train_indices)
    assert first.train_counts == np.bincount(digits16.labels[first.train_indices], minlength=10).tolist()


def test_dirichlet_skew_really_skews_the_class_counts(digits16):
    balanced = select_subset(digits16, TrainConfig(subsample=0.5, seed=0)).train_counts
    skewed = [select_subset(digits16, TrainConfig(subsample=0.5, dirichlet_alpha=0.3, seed=s)).train_counts
              for s in range(5)]
    near_even = select_subset(digits16, TrainConfig(subsample=0.5, dirichlet_alpha=1000.0, seed=0)).train_counts
    assert max(balanced) - min(balanced) <= 4  # half of each class: 61..64
    for counts in skewed:
        assert max(counts) >= 4 * max(min(counts), 1)
    assert max(near_even) - min(near_even) <= 12
    assert len({tuple(c) for c in skewed}) == 5  # each seed draws its own skew
    assert select_subset(digits16, TrainConfig(subsample=0.5, dirichlet_alpha=0.3, seed=2)).train_counts == skewed[2]
    assert sum(near_even) == round(0.5 * len(digits16.splits["train"]))


@pytest.mark.slow
def test_cancellation_stops_training_between_batches(digits16):
    calls = {"n": 0}

    def cancel_after_a_few_batches():
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(RunCancelled):
        train_model(small_cnn(), digits16, TrainConfig(epochs=50, batch_size=32),
                    RunContext(is_cancelled=cancel_after_a_few_batches))
    assert calls["n"] == 6


def test_augment_crops_within_padding_and_flips_only_when_asked():
    gen = torch.Generator().manual_seed(0)
    batch = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).reshape(2, 1, 6, 6).repeat(50, 1, 1, 1)
    assert augment(batch, TrainConfig(augmentation="none"), gen) is batch

    def windows(image, pad):
        padded = torch.nn.functional.pad(image, (pad, pad, pad, pad))
        return [padded[:, y:y + 6, x:x + 6] for y in range(2 * pad + 1) for x in range(2 * pad + 1)]

    cropped = augment(batch, TrainConfig(augmentation="crop", crop_padding=2), gen)
    flipped_seen = 0
    for src, out in zip(batch, cropped):
        assert any(torch.equal(out, w) for w in windows(src, 2))
    both = augment(batch, TrainConfig(augmentation="flip-crop", crop_padding=2), gen)
    for src, out in zip(batch, both):
        straight = any(torch.equal(out, w) for w in windows(src, 2))
        mirrored = any(torch.equal(out, w) for w in windows(src.flip(-1), 2))
        assert straight or mirrored
        flipped_seen += mirrored and not straight
    assert 20 <= flipped_seen <= 80


@pytest.mark.slow
def test_lr_schedules_and_last_epoch_selection(digits16):
    small = dict(batch_size=32, subsample=0.1, seed=0, lr=0.1, optimizer="sgd")
    cosine = train_model(small_cnn(), digits16, TrainConfig(epochs=4, lr_schedule="cosine", select="last", **small))
    assert [round(r.lr, 6) for r in cosine.history] == [0.1, 0.085355, 0.05, 0.014645]
    assert cosine.chosen_epoch == 4
    step = train_model(small_cnn(), digits16, TrainConfig(epochs=3, lr_schedule="step", step_epochs=1,
                                                          step_gamma=0.5, **small))
    assert [round(r.lr, 6) for r in step.history] == [0.1, 0.05, 0.025]


def test_model_with_the_wrong_output_count_is_refused(digits16):
    with pytest.raises(EngineError, match=r"has 10 outputs but training uses 3 classes.*num_classes=3"):
        train_model(small_cnn(10), digits16, TrainConfig(classes=("1", "2", "3")))
    with pytest.raises(EngineError, match="cannot take 1x16x16 images"):
        train_model(small_cnn(10, in_channels=3), digits16, TrainConfig())


def test_config_round_trip_and_validation(digits16):
    config = TrainConfig(epochs=3, optimizer="adamw", classes=("1", "2"), dirichlet_alpha=0.5, subsample=0.4)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig.from_dict({"epochs": 4, "lr": 1, "classes": [1, 2]}).classes == ("1", "2")
    with pytest.raises(EngineError, match=r"unknown option\(s\) \['epochz'\]"):
        TrainConfig.from_dict({"epochz": 3})
    for value in ("many", "4", 1.5, True):  # nothing is converted: "4" and 1.5 are not run as 4 or 1 epochs
        with pytest.raises(EngineError, match="epochs must be an integer"):
            TrainConfig.from_dict({"epochs": value})
    for bad, message in [({"optimizer": "rmsprop"}, "optimizer must be one of"), ({"subsample": 0}, "subsample"),
                         ({"augmentation": "flip"}, "augmentation must be one of"), ({"epochs": 0}, "epochs"),
                         ({"classes": ("1",)}, "at least 2 classes"), ({"lr": -1}, "lr must be a positive number")]:
        with pytest.raises(EngineError, match=message):
            TrainConfig(**bad)
    with pytest.raises(EngineError, match=r"classes \['ten'\] are not in data set"):
        select_subset(digits16, TrainConfig(classes=("1", "ten")))


@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_uses_mixed_precision_and_learns(digits16):
    torch.manual_seed(0)
    model = small_cnn()
    ctx = RunContext(device="cuda")
    assert ctx.use_amp
    result = train_model(model, digits16, TrainConfig(epochs=3, batch_size=32, lr=3e-3), ctx)
    assert result.device.startswith("cuda")
    assert all(t.device.type == "cpu" for t in result.state_dict.values())
    assert evaluate(model, digits16, "test", ctx=ctx).accuracy >= 0.9
