"""Sliced modules equal the masked full model, are smaller, and reload from spec + weights alone."""
import numpy as np
import pytest
import torch

from engine_helpers import narrow_spec, randomise
from splitter_engine.architectures import build_model, list_architectures
from splitter_engine.channels import analyse_channels
from splitter_engine.data import ImageDataset
from splitter_engine.extraction import extract_modules, load_module
from splitter_engine.gating import masked_forward
from splitter_engine.methods.heads import ModuleHeads
from splitter_engine.methods.mask_scores import hard_masks
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.runtime import EngineError
from splitter_engine.scoring import class_tensors, scoring_kind
from splitter_engine.specs import InputSpec

ALL_ARCHS = [entry["name"] for entry in list_architectures()]
N_CLASSES = 3


def tiny_dataset(seed: int = 0) -> ImageDataset:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(12, 3, 32, 32), dtype=np.uint8)
    labels = np.arange(12) % N_CLASSES
    idx = np.arange(12)
    return ImageDataset("tiny", [f"c{i}" for i in range(N_CLASSES)], images, labels,
                        InputSpec(3, 32, 32, (0.5,) * 3, (0.25,) * 3), {"train": idx, "val": idx, "test": idx})


def random_result(graph, seed: int, keep_fraction: float = 0.4) -> DecompositionResult:
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand(N_CLASSES, graph.total_slots, generator=gen) - (1 - keep_fraction)
    masks = hard_masks(scores, graph.slot_group(), len(graph.groups)).bool()
    torch.manual_seed(seed)
    return DecompositionResult("gradsplitter", {}, [f"c{i}" for i in range(N_CLASSES)],
                               [g.root for g in graph.groups], [g.size for g in graph.groups], masks, "head",
                               ModuleHeads(N_CLASSES).tensors())


def head_scorer(tensors):
    return scoring_kind("head").scorer(0, tensors, {"hidden": tensors["w1"].shape[0]}, N_CLASSES)


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_sliced_module_matches_masked_model_and_is_smaller(name):
    spec = narrow_spec(name, num_classes=N_CLASSES)
    model = randomise(build_model(spec))
    data = tiny_dataset()
    graph = analyse_channels(model, (3, 32, 32))
    result = random_result(graph, seed=len(name))
    modules = extract_modules(model, spec, result, data)
    x = data.tensors("test")[0][:4]
    for module in modules:
        reference_logits = masked_forward(model, graph, x, result.masks[module.class_index].float())
        with torch.no_grad():
            reference = head_scorer(class_tensors(result.scoring_tensors, module.class_index))(reference_logits)
            reloaded = load_module(module.spec, module.state_dict)
            got = reloaded(x)
        assert (got - reference).abs().max().item() <= 1e-5
        assert module.params_fraction < 1 and module.flops_fraction < 1
        assert module.kept_kernels < module.total_kernels
        assert 0 <= module.precision <= 1 and 0 <= module.recall <= 1


def test_parity_against_the_unsliced_logits_is_not_trivial():
    """The masks used above change the output: parity would catch a slicing that ignored them."""
    spec = narrow_spec("resnet18", num_classes=N_CLASSES)
    model = randomise(build_model(spec))
    graph = analyse_channels(model, (3, 32, 32))
    result = random_result(graph, seed=1)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        full = model(x)
    masked = masked_forward(model, graph, x, result.masks[0].float())
    assert (full - masked).abs().max().item() > 1e-2


def test_load_module_refuses_weights_that_do_not_fit():
    spec = narrow_spec("simcnn", num_classes=N_CLASSES)
    model = randomise(build_model(spec))
    graph = analyse_channels(model, (3, 32, 32))
    module = extract_modules(model, spec, random_result(graph, seed=3), tiny_dataset())[0]
    other = extract_modules(model, spec, random_result(graph, seed=4), tiny_dataset())[0]
    with pytest.raises(EngineError, match="do not fit"):
        load_module(module.spec, other.state_dict)
    state = {k: v.clone() for k, v in module.state_dict.items()}
    assert all(torch.equal(v, state[k]) for k, v in load_module(module.spec, state).state_dict().items())
