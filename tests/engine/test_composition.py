"""Composition of real modules (a short GradSplitter run on a narrow CNN): ensemble, fused, bad selections."""
import dataclasses

import pytest
import torch

from splitter_engine.channels import analyse_channels
from splitter_engine.composition import ComposeOptions, compose, fused_size
from splitter_engine.gating import masked_forward
from splitter_engine.profile import model_size
from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec
from composition_support import base_source, chosen, decomposed, digits, key_of

PICK = ["7", "2", "5"]


@pytest.fixture(scope="module")
def source():
    model, spec, names, modules = decomposed()
    return model, names, modules, {key_of(model): base_source(model, names)}


def test_ensemble_runs_every_module_exactly(source):
    model, names, modules, bases = source
    built = compose(chosen(model, modules, PICK), ComposeOptions("ensemble"), digits(), bases)
    x, _ = digits().tensors("test")
    by_name = {m.class_name: m for m in modules}
    with torch.no_grad():
        expected = torch.stack([by_name[c].network(x) for c in PICK], 1)
        assert torch.equal(built.model(x), expected)
    assert built.class_names == PICK
    assert built.params == sum(by_name[c].params for c in PICK)
    m = built.metrics
    assert m["test_samples"] == 81 and [r["class"] for r in m["per_class"]] == PICK
    assert 0 <= m["accuracy"] <= 1 and "base_accuracy_on_classes" in m


def test_fused_trunk_is_the_base_model_masked_to_the_union_and_no_larger(source):
    model, names, modules, bases = source
    built = compose(chosen(model, modules, PICK), ComposeOptions("fused"), digits(), bases)
    x, _ = digits().tensors("test")
    graph = analyse_channels(model, digits().spec.shape)
    by_name = {m.class_name: m for m in modules}
    union = torch.zeros(graph.total_slots)
    for c in PICK:
        kept = by_name[c].spec["kept"]
        for offset, channels in zip(graph.offsets(), kept):
            union[[offset + k for k in channels]] = 1
    expected = masked_forward(model, graph, x, union)[:, [names.index(c) for c in PICK]]
    with torch.no_grad():
        assert (built.model(x) - expected).abs().max() < 1e-4
    base = model_size(model, digits().spec)
    assert built.flops <= base.flops and built.params <= base.params
    assert built.metrics["trunks"][0]["output_layer"] is not None  # the output Linear was cut to 3 rows
    estimate = fused_size(modules[0].spec["arch"], modules[0].spec["input"], modules[0].spec["group_roots"],
                          [by_name[c].spec["kept"] for c in PICK], [names.index(c) for c in PICK])
    assert (estimate.params, estimate.flops) == (built.params, built.flops)


def test_fused_of_every_class_is_close_to_the_base_model(source):
    model, names, modules, bases = source
    built = compose(chosen(model, modules, names), ComposeOptions("fused"), digits(), bases)
    assert built.metrics["accuracy"] >= built.metrics["base_accuracy_on_classes"] - 0.02
    assert built.flops <= model_size(model, digits().spec).flops


def test_fused_refit_lowers_the_loss_on_its_samples(source):
    model, names, modules, bases = source
    built = compose(chosen(model, modules, PICK), ComposeOptions("fused", refit=True), digits(), bases)
    trunk = built.metrics["trunks"][0]
    assert trunk["refit_samples"] == 3 * 27
    assert trunk["refit_loss_after"] < trunk["refit_loss_before"]


def test_normalisation_mismatch_is_refused_or_adapted_exactly(source):
    model, names, modules, bases = source
    items = chosen(model, modules, PICK)
    other = InputSpec(1, 16, 16, (0.2,), (0.5,))
    items[1].spec = {**items[1].spec, "input": other.to_dict()}
    with pytest.raises(EngineError, match="incompatible inputs: class '2' was trained on 1x16x16 .*set adapt_inputs"):
        compose(items, ComposeOptions("ensemble"), digits(), bases)
    built = compose(items, ComposeOptions("ensemble", adapt_inputs=True), digits(), bases)
    assert built.metrics["adapted_inputs"] == 1
    x, _ = digits().tensors("test")
    spec = digits().spec
    pixels = x * torch.tensor(spec.std).view(1, -1, 1, 1) + torch.tensor(spec.mean).view(1, -1, 1, 1)
    with torch.no_grad():
        expected = items[1].network()((pixels - 0.2) / 0.5)
        assert (built.model(x)[:, 1] - expected).abs().max() < 1e-5


def test_size_mismatch_is_refused(source):
    model, names, modules, bases = source
    items = chosen(model, modules, PICK)
    items[2].spec = {**items[2].spec, "input": {**items[2].spec["input"], "height": 32, "width": 32}}
    with pytest.raises(EngineError, match="class '5' takes 1x32x32 .*same image size"):
        compose(items, ComposeOptions("fused"), digits(), bases)


@pytest.mark.parametrize("picks, message", [
    ([], "at least two classes"),
    (["3"], "at least two classes"),
    (["3", "4", "3"], "each class can be chosen once; repeated: 3"),
])
def test_bad_selections(source, picks, message):
    model, names, modules, bases = source
    with pytest.raises(EngineError, match=message):
        compose(chosen(model, modules, picks), ComposeOptions("ensemble"), digits(), bases)


def test_bad_options():
    with pytest.raises(EngineError, match="strategy must be one of"):
        ComposeOptions("stacked")
    with pytest.raises(EngineError, match="refit applies to the fused strategy only"):
        ComposeOptions("ensemble", refit=True)
    with pytest.raises(EngineError, match="calibration must be one of"):
        ComposeOptions("fused", calibration="isotonic")


def test_fused_needs_the_base_model_and_calibration_needs_data(source):
    model, names, modules, bases = source
    with pytest.raises(EngineError, match="needs the base model"):
        compose(chosen(model, modules, PICK), ComposeOptions("fused"), digits(), {})
    with pytest.raises(EngineError, match="need a labelled data set"):
        compose(chosen(model, modules, PICK), ComposeOptions("ensemble", calibration="linear"), None, bases)
    renamed = dataclasses.replace(digits(), class_names=[f"digit {c}" for c in digits().class_names])
    with pytest.raises(EngineError, match="has no class"):
        compose(chosen(model, modules, PICK), ComposeOptions("ensemble"), renamed, bases)
