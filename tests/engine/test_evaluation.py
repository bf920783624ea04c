"""Evaluation metrics against a hand computation, scikit-learn, and models whose predictions are known."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.metrics import confusion_matrix as sk_confusion
from sklearn.metrics import precision_recall_fscore_support

from splitter_engine.data.assemble import assemble_dataset
from splitter_engine.evaluation import evaluate, metrics_from_predictions
from splitter_engine.runtime import EngineError, RunCancelled, RunContext


def test_metrics_match_a_hand_computation():
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    y_pred = [0, 1, 0, 1, 1, 2, 0, 2, 1]
    report = metrics_from_predictions(y_true, y_pred, ["a", "b", "c"], split="test")
    # rows = true, columns = predicted
    assert report.confusion == [[2, 1, 0],
                                [0, 2, 0],
                                [1, 1, 2]]
    assert report.accuracy == pytest.approx(6 / 9)
    # a: tp 2, predicted 3, support 3 | b: tp 2, predicted 4, support 2 | c: tp 2, predicted 2, support 4
    expected = {"a": (Fraction(2, 3), Fraction(2, 3)), "b": (Fraction(1, 2), Fraction(1)),
                "c": (Fraction(1), Fraction(1, 2))}
    for metrics in report.per_class:
        p, r = expected[metrics.name]
        assert metrics.precision == pytest.approx(float(p)) and metrics.recall == pytest.approx(float(r))
        assert metrics.f1 == pytest.approx(float(2 * p * r / (p + r)))  # 2/3 for every class here
    assert [m.support for m in report.per_class] == [3, 2, 4]
    assert [m.predicted for m in report.per_class] == [3, 4, 2]
    assert report.macro_precision == pytest.approx(13 / 18) and report.macro_recall == pytest.approx(13 / 18)
    assert report.macro_f1 == pytest.approx(2 / 3)
    assert report.num_samples == 9 and report.split == "test"


def test_metrics_match_scikit_learn_on_random_predictions():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    y_pred[y_pred == 6] = 5  # class 6 is never predicted: its precision is 0
    report = metrics_from_predictions(y_true, y_pred, [f"c{i}" for i in range(7)])
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=range(7), zero_division=0)
    assert np.allclose([m.precision for m in report.per_class], p)
    assert np.allclose([m.recall for m in report.per_class], r)
    assert np.allclose([m.f1 for m in report.per_class], f)
    assert [m.support for m in report.per_class] == s.tolist()
    assert report.macro_f1 == pytest.approx(f.mean())
    assert report.confusion == sk_confusion(y_true, y_pred, labels=range(7)).tolist()
    assert report.per_class[6].precision == 0.0 and report.per_class[6].f1 == 0.0


def test_metrics_refuse_mismatched_inputs():
    with pytest.raises(ValueError, match="3 true labels but 2 predictions"):
        metrics_from_predictions([0, 1, 1], [0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="labels must lie in 0..1"):
        metrics_from_predictions([0, 2], [0, 1], ["a", "b"])


class PixelClassifier(nn.Module):
    """Predicts the class written into each image's first pixel (the fixture stores label * 40 there),
    except that ``wrong_class`` is always predicted as ``wrong_as``."""

    def __init__(self, num_classes: int, mean: float, std: float, wrong_class: int, wrong_as: int, outputs=None):
        super().__init__()
        self.num_classes, self.mean, self.std = num_classes, mean, std
        self.wrong_class, self.wrong_as = wrong_class, wrong_as
        self.outputs = outputs  # data set label -> output index, for subset models
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        pixel = x[:, 0, 0, 0] * self.std + self.mean
        label = torch.round(pixel * 255 / 40).long()
        label[label == self.wrong_class] = self.wrong_as
        if self.outputs is not None:
            label = torch.tensor([self.outputs.get(int(v), 0) for v in label])
        size = self.num_classes if self.outputs is None else len(set(self.outputs.values()))
        return nn.functional.one_hot(label, size).float() + self.dummy


@pytest.fixture
def coded():
    labels = np.repeat(np.arange(4), 25)
    images = np.zeros((100, 1, 4, 4), dtype=np.uint8)
    images[:, 0, 0, 0] = labels * 40
    return assemble_dataset("coded", ["w", "x", "y", "z"], images, labels, seed=0)


def test_evaluate_a_model_with_known_predictions(coded):
    model = PixelClassifier(4, coded.spec.mean[0], coded.spec.std[0], wrong_class=2, wrong_as=1)
    report = evaluate(model, coded, "test", batch_size=3)
    support = coded.class_counts("test")
    assert report.num_samples == sum(support) and report.excluded == 0
    expected = np.diag(support)
    expected[2, 2], expected[2, 1] = 0, support[2]
    assert report.confusion == expected.tolist()
    assert report.accuracy == pytest.approx((sum(support) - support[2]) / sum(support))
    assert report.per_class[2].recall == 0 and report.per_class[1].precision == pytest.approx(
        support[1] / (support[1] + support[2]))
    json.dumps(report.to_dict())


def test_evaluate_a_class_subset_model_on_its_classes_only(coded):
    model = PixelClassifier(4, coded.spec.mean[0], coded.spec.std[0], wrong_class=-1, wrong_as=0,
                            outputs={1: 0, 3: 1})
    report = evaluate(model, coded, "test", class_names=["x", "z"])
    support = coded.class_counts("test")
    assert report.class_names == ["x", "z"] and report.num_samples == support[1] + support[3]
    assert report.excluded == support[0] + support[2] and report.accuracy == 1.0


def test_evaluate_refuses_what_does_not_fit(coded):
    model = PixelClassifier(4, coded.spec.mean[0], coded.spec.std[0], wrong_class=-1, wrong_as=0)
    with pytest.raises(EngineError, match=r"classes \['q'\] are not classes of data set 'coded'"):
        evaluate(model, coded, class_names=["w", "q"])
    with pytest.raises(EngineError, match="has no split 'holdout'"):
        evaluate(model, coded, "holdout")
    with pytest.raises(EngineError, match="has 4 outputs but 2 class names"):
        evaluate(model, coded, class_names=["w", "x"])
    from splitter_engine.specs import InputSpec
    with pytest.raises(EngineError, match=r"takes \(3, 4, 4\) inputs"):
        evaluate(model, coded, spec=InputSpec(3, 4, 4))
    with pytest.raises(RunCancelled):
        evaluate(model, coded, ctx=RunContext(is_cancelled=lambda: True))
