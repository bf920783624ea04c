"""CNNSplitter: config validation, genes and GA operators, the staged-composition fitness against brute
force, the sensitivity rule, and tiny real searches on digits-16 (a narrow ResCNN: residual groups; a narrow
SimCNN: hidden units of the classifier)."""
import copy
import dataclasses
import functools
import itertools
import json
import re

import numpy as np
import pytest
import torch

from composition_support import digits, trained
from splitter_engine.channels import analyse_channels
from splitter_engine.extraction import extract_modules, load_module
from splitter_engine.gating import masked_forward
from splitter_engine.methods import get_decomposer, list_decomposers, make_config
from splitter_engine.methods.cnnsplitter import safe_ratio_ranges
from splitter_engine.methods.cnnsplitter_config import CNNSplitterConfig
from splitter_engine.methods.genetic import decode, gene_layout, initial_population, next_generation
from splitter_engine.methods.staged_fitness import diff_tables, staged_fitness
from splitter_engine.runtime import EngineError, RunCancelled, RunContext
from splitter_engine.scoring import scoring_kind

TINY = dict(val_per_class=8, sensitivity_ratios=(0.5,), ratio_floor=0.8, ratio_cap=0.9, population=6, parents=4,
            elites=2, generations=2,
            keep_min=4, keep_max=16, seed=3)


# -- config ------------------------------------------------------------------------------------------------
def test_presets_and_registration():
    assert "cnnsplitter" in list_decomposers()
    paper = make_config("cnnsplitter", "paper")
    assert (paper.population, paper.parents, paper.elites, paper.generations, paper.mutation) == (100, 50, 20, 200, 0.05)
    assert paper.thresholds == (0.95, 0.95, 0.85, 0.8) and (paper.keep_min, paper.keep_max) == (50, 500)
    assert paper.preset == "paper" and json.loads(json.dumps(paper.to_dict()))["preset"] == "paper"
    assert make_config("gradsplitter", "paper").to_dict()["preset"] == "paper"  # was the classmethod, not JSON
    fast = make_config("cnnsplitter", "fast", {"generations": 3})
    assert fast.generations == 3 and fast.preset == "fast"
    assert paper.hidden_units is False and fast.hidden_units is True  # the reference masks kernels only
    assert CNNSplitterConfig.from_dict(fast.to_dict()) == fast


@pytest.mark.parametrize("overrides, message", [
    ({"elites": 100}, "elites (100) must be fewer than population"),
    ({"parents": 1}, "parents must be between 2"),
    ({"thresholds": [0.9, 1.5]}, "thresholds must lie in [0, 1]"),
    ({"mutation": 2}, "mutation must be between 0 and 1"),
    ({"init_max_drop": 1.5}, "init_max_drop must be between 0 and 1"),
    ({"generations": 0}, "generations must be between 1 and 10,000"),
    ({"population": 2.5}, "population must be an integer"),
    ({"keep_min": 600}, "keep_min (600) must not exceed keep_max"),
    ({"sensitivity_ratios": [0.5, 1.0]}, "sensitivity_ratios must be increasing"),
    ({"mutaton": 0.1}, "unknown CNNSplitter setting"),
])
def test_bad_configs_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(EngineError, match=re.escape(message)):
        CNNSplitterConfig.preset("paper", **overrides)
    with pytest.raises(EngineError, match="unknown CNNSplitter preset"):
        CNNSplitterConfig.preset("turbo")


def test_thresholds_generalise_to_any_number_of_levels():
    config = CNNSplitterConfig()
    assert [config.threshold(level, final=level == 3) for level in range(4)] == [0.95, 0.95, 0.85, 0.8]
    assert [config.threshold(level, final=level == 5) for level in range(6)] == [0.95, 0.95, 0.85, 0.85, 0.85, 0.8]


# -- genes and operators ----------------------------------------------------------------------------------
def test_genes_follow_each_class_importance_and_an_empty_group_keeps_its_best_channel():
    importance = torch.tensor([[1.0, 4.0, 3.0, 2.0, 9.0, 8.0], [4.0, 3.0, 2.0, 1.0, 8.0, 9.0]])
    layout = gene_layout(importance, [4, 2], small=2, large=100, large_group=256)
    assert layout.blocks == [2, 2] and layout.length == 4
    # class 0: group 0 ranks channels 1, 2 | 3, 0 -> gene 0 holds channels 1 and 2
    assert layout.slot_gene[0].tolist() == [1, 0, 0, 1, 2, 3]
    assert layout.slot_gene[1].tolist() == [0, 0, 1, 1, 3, 2]
    masks = decode(torch.tensor([[1, 0, 0, 0], [0, 0, 0, 1]]), layout, 0)
    assert masks.tolist() == [[0, 1, 1, 0, 1, 0], [0, 1, 0, 0, 0, 1]]  # row 1, group 0 empty: its best (1) stays


def test_initial_population_draws_int_g_r_blocks_favouring_important_ones():
    importance = torch.arange(40.0).view(1, 40)
    layout = gene_layout(importance, [20, 20], small=10, large=100, large_group=256)
    bits = initial_population(np.random.default_rng(0), 400, layout, [[0.3], [0.5, 0.6]], temperature=10.0)
    assert (bits[:, :10].sum(1) == 3).all()
    assert set(bits[:, 10:].sum(1).tolist()) == {5, 6}
    frequency = bits[:, :10].mean(0)
    assert frequency[0] > frequency[9]  # block 0 is the most important


def test_next_generation_keeps_elites_best_first_and_mutates_floor_p_l_genes():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(10, 40)).astype(np.uint8)
    fitness = np.arange(10.0)
    elites, offspring = next_generation(rng, bits, fitness, parents=4, elites=3, mutation=0.0)
    assert elites.tolist() == [9, 8, 7] and offspring.shape == (7, 40)
    parents = bits[[9, 8, 7, 6]]
    for k, child in enumerate(offspring):  # single-point crossover of parents k % 4 and (k + 1) % 4
        first, second = parents[k % 4], parents[(k + 1) % 4]
        assert any((child[:cut] == first[:cut]).all() and (child[cut:] == second[cut:]).all() for cut in range(41))


# -- fitness ---------------------------------------------------------------------------------------------
def _jaccard_diff(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> float:
    inter = float((a * b * w).sum())
    union = float(((a + b).clamp(max=1) * w).sum())
    return 1 - inter / union


def test_staged_fitness_equals_brute_force_when_nothing_is_cut():
    gen = torch.Generator().manual_seed(0)
    n, p, images = 3, 3, 30
    labels = torch.arange(images) % n
    logits = torch.randn(n, p, images, generator=gen)
    masks = (torch.rand(n, p, 12, generator=gen) > 0.4).float()
    weights = torch.tensor([1.0, 2.0] * 6)
    diffs = diff_tables(masks, weights)
    assert abs(float(diffs[0, 2, 1, 0]) - _jaccard_diff(masks[0, 1], masks[2, 0], weights)) < 1e-6
    staged = staged_fitness(logits, labels, diffs, [2, 0, 1], lambda level, final: 0.0, keep_min=1000,
                            keep_max=1000, acc_weight=0.95, alpha=0.9, keep_elite=False)
    expected = torch.zeros(n, p)
    for chosen in itertools.product(range(p), repeat=n):
        scores = torch.stack([logits[c, s] for c, s in enumerate(chosen)])
        accuracy = float((scores.argmax(0) == labels).float().mean())
        diff = np.mean([float(diffs[i, j, chosen[i], chosen[j]]) for i in range(n) for j in range(i + 1, n)])
        value = 0.95 * accuracy + 0.1 * diff
        for c, s in enumerate(chosen):
            expected[c, s] = max(expected[c, s], value)
    assert torch.allclose(staged.fitness, expected, atol=1e-5)
    assert abs(staged.top_fitness - float(expected.max())) < 1e-5
    assert staged.compositions_scored == 9 + 9 * 3  # a pair (3 x 3), then the pair's 9 survivors x 3


def test_staged_fitness_keeps_top_k_by_accuracy_and_the_elite_composition():
    gen = torch.Generator().manual_seed(1)
    n, p = 4, 5
    labels = torch.arange(40) % n
    logits = torch.randn(n, p, 40, generator=gen)
    logits[:, 0] -= 5  # the elites are poor: cut by accuracy, kept by the elite rule
    diffs = diff_tables((torch.rand(n, p, 8, generator=gen) > 0.5).float(), torch.ones(8))
    staged = staged_fitness(logits, labels, diffs, list(range(n)), lambda level, final: 1.0, keep_min=2,
                            keep_max=2, acc_weight=0.9, alpha=0.9, keep_elite=True)
    assert (staged.fitness[:, 0] > 0).all()  # the all-elite composition survived every level
    assert int((staged.fitness > 0).sum()) <= n * 3


def test_sensitivity_rule_starts_sensitive_groups_higher():
    ratios = (0.2, 0.4, 0.6, 0.8, 1.0)
    curves = np.array([[0.93, 0.95, 0.96, 0.96, 0.97],   # robust: safe from 0.2
                       [0.10, 0.50, 0.93, 0.96, 0.97],   # safe from 0.6
                       [0.10, 0.20, 0.30, 0.50, 0.97]])  # only 1.0 is safe: capped
    ranges, safe = safe_ratio_ranges(curves, ratios, drop=0.05, span=0.2, floor=0.1, cap=0.6)
    assert safe == [0.2, 0.6, 1.0]
    assert ranges == [[0.2, 0.3, 0.4], [0.6, 0.7, 0.8], [0.6, 0.7, 0.8]]


# -- a tiny real search ----------------------------------------------------------------------------------
class SpyData:
    """A data set that records which splits were read, in order."""

    def __init__(self, data):
        self._data, self.reads = data, []

    def __getattr__(self, name):
        return getattr(self._data, name)

    def tensors(self, split):
        self.reads.append(split)
        return self._data.tensors(split)


def with_noise_test_images(data):
    images = data.images.copy()
    test = data.splits["test"]
    images[test] = np.random.default_rng(0).integers(0, 256, size=images[test].shape, dtype=images.dtype)
    return dataclasses.replace(data, images=images)


@functools.lru_cache(maxsize=None)
def searched(noise: bool = False):
    model, spec, names = trained()
    data = SpyData(with_noise_test_images(digits()) if noise else digits())
    reports = []
    config = CNNSplitterConfig.preset("fast", **TINY)
    result = get_decomposer("cnnsplitter").decompose(
        copy.deepcopy(model), data, config, RunContext(progress=lambda *a: reports.append(a)))
    return model, spec, result, data.reads, reports


@pytest.mark.slow
def test_a_tiny_search_gives_logit_modules_with_history_and_metrics():
    model, spec, result, reads, reports = searched()
    assert result.method == "cnnsplitter" and result.scoring == "logit" and result.scoring_tensors == {}
    assert result.masks.shape == (10, sum(result.group_sizes)) and result.masks.dtype == torch.bool
    assert len(result.history) == TINY["generations"] + 1 and 0 <= result.selected_epoch <= TINY["generations"]
    for entry in result.history:
        assert {"generation", "fitness", "accuracy", "diff", "retention", "kernels_kept"} <= set(entry)
    m = result.metrics
    assert 0 < m["mean_retention"] < 1 and m["composed_accuracy"] > 0.3  # far above chance (0.1)
    assert m["pass_reduction"] >= 10  # vs one network per candidate over the validation split
    assert [r[1] for r in reports].count("search") == len(result.history)
    assert len(m["sensitivity"]["ratio_ranges"]) == m["groups"]


@pytest.mark.slow
def test_selection_reads_no_test_data_and_the_same_seed_gives_the_same_modules():
    _, _, clean, reads, _ = searched()
    _, _, noisy, _, _ = searched(noise=True)
    assert reads.count("test") == 1 and reads[-1] == "test"  # read once, for the final report
    assert torch.equal(clean.masks, noisy.masks) and clean.selected_epoch == noisy.selected_epoch
    assert [h["score"] for h in clean.history] == [h["score"] for h in noisy.history]
    assert clean.metrics["composed_accuracy"] != noisy.metrics["composed_accuracy"]  # the report did read it


@pytest.mark.slow
def test_modules_equal_the_masked_model_after_slicing_and_compose_to_the_reported_accuracy():
    model, spec, result, _, _ = searched()
    modules = extract_modules(model, spec, result, digits())
    x, y = digits().tensors("test")
    kind = scoring_kind("logit")
    columns = []
    for module in modules:
        c = module.class_index
        facts = {k: v for k, v in module.spec["scoring"].items() if k != "kind"}
        prepared = kind.prepare(copy.deepcopy(model), c, None, facts, digits().spec.shape)
        graph = analyse_channels(prepared, digits().spec.shape)
        with torch.no_grad():
            reference = kind.scorer(c, None, facts, 10)(masked_forward(prepared, graph, x, result.masks[c].float()))
            sliced = load_module(module.spec, module.state_dict)(x)
        assert (sliced - reference).abs().max().item() <= 1e-4
        assert module.params_fraction < 1
        columns.append(sliced)
    accuracy = float((torch.stack(columns, 1).argmax(1) == y).float().mean())
    assert abs(accuracy - result.metrics["composed_accuracy"]) <= 1 / len(y) + 1e-6


@pytest.mark.slow
def test_a_population_far_below_the_base_model_is_drawn_again_with_higher_ranges():
    model, _, _ = trained()
    low = {**TINY, "ratio_floor": 0.1, "ratio_cap": 0.1, "ratio_span": 0.0, "generations": 1}

    def search(**overrides):
        reports = []
        config = CNNSplitterConfig.preset("fast", **{**low, **overrides})
        result = get_decomposer("cnnsplitter").decompose(copy.deepcopy(model), digits(), config,
                                                         RunContext(progress=lambda *a: reports.append(a)))
        return result, reports

    off, _ = search(init_max_drop=1.0)
    assert off.metrics["sensitivity"]["range_raises"] == 0
    assert set(map(tuple, off.metrics["sensitivity"]["ratio_ranges"])) == {(0.1,)}
    assert off.history[0]["accuracy"] < off.metrics["val_base_accuracy"] - 0.1  # 10 % of every group: far below

    on, reports = search(init_max_drop=0.1)
    raises = on.metrics["sensitivity"]["range_raises"]
    raised = {(round(0.1 + 0.1 * raises, 2),)}
    assert raises >= 1 and set(map(tuple, on.metrics["sensitivity"]["ratio_ranges"])) == raised
    assert sum("ratio ranges raised" in r[2] for r in reports) == raises
    assert on.history[0]["accuracy"] > off.history[0]["accuracy"]
    assert on.history[0]["retention"] > off.history[0]["retention"]


@pytest.mark.slow
def test_cancel_stops_the_search():
    model, _, _ = trained()
    seen = []

    def progress(fraction, stage, message, metrics=None):
        seen.append(stage)

    ctx = RunContext(progress=progress, is_cancelled=lambda: "search" in seen)
    with pytest.raises(RunCancelled):
        get_decomposer("cnnsplitter").decompose(copy.deepcopy(model), digits(),
                                                CNNSplitterConfig.preset("fast", **{**TINY, "generations": 50}), ctx)
    assert seen.count("search") == 1


@pytest.mark.parametrize("overrides, setting", [
    ({"generations": 10**9}, "generations"), ({"population": 10**7}, "population"), ({"generations": "5"}, "generations"),
    ({"population": 5.0}, "population"), ({"batch_images": 0}, "batch_images"), ({"seed": 2**64}, "seed"),
    ({"mutation": "0.1"}, "mutation"), ({"thresholds": [0.9, "x"]}, "thresholds"),
    ({"hidden_units": 1}, "hidden_units"), ({"hidden_units": "yes"}, "hidden_units"),
])
def test_sizes_counts_and_types_are_bounded_and_name_the_setting(overrides, setting):
    from splitter_engine.bounds import ConfigError

    with pytest.raises(ConfigError) as refused:
        CNNSplitterConfig.preset("fast", **overrides)
    assert refused.value.setting == setting and setting in str(refused.value)


def test_a_non_bool_hidden_units_is_refused_however_the_config_is_made():
    from splitter_engine.bounds import ConfigError

    with pytest.raises(ConfigError, match="hidden_units must be true or false, got 1") as refused:
        CNNSplitterConfig(hidden_units=1)
    assert refused.value.setting == "hidden_units"
    with pytest.raises(ConfigError, match="hidden_units must be true or false"):
        CNNSplitterConfig.from_dict({**CNNSplitterConfig.preset("paper").to_dict(), "hidden_units": None})


def test_diff_weights_count_kernels_and_give_the_hidden_units_the_kernels_total():
    from engine_helpers import narrow_spec
    from splitter_engine.architectures import build_model
    from splitter_engine.methods.cnnsplitter import diff_weights

    model = build_model(narrow_spec("simcnn", in_channels=1))
    kernels_only = analyse_channels(copy.deepcopy(model), (1, 16, 16))
    assert torch.equal(diff_weights(kernels_only), kernels_only.slot_kernels())
    graph = analyse_channels(copy.deepcopy(model), (1, 16, 16), hidden_units=True)
    weights, units = diff_weights(graph), graph.slot_units().bool()
    assert torch.equal(weights[~units], graph.slot_kernels()[~units])
    assert abs(float(weights[units].sum()) - float(weights[~units].sum())) < 1e-3


# -- hidden units of the classifier (a narrow SimCNN: two hidden Linear layers) --------------------------
def _sliced_params(model, data, result, class_index: int, roots: list[str]) -> int:
    """Parameters of class ``class_index``'s logit module sliced in the groups ``roots`` only (the others whole)."""
    from splitter_engine.channels import build_dependency_graph, slice_groups

    kind = scoring_kind("logit")
    facts = kind.describe(model, class_index, None, data.spec.shape)
    trunk = kind.prepare(copy.deepcopy(model), class_index, None, facts, data.spec.shape)
    dg = build_dependency_graph(trunk, data.spec.shape)
    graph = analyse_channels(trunk, data.spec.shape, dg, roots=roots)
    kept = dict(zip(result.group_roots, result.kept_indices(class_index)))
    slice_groups(trunk, graph, [kept[g.root] for g in graph.groups], dg)
    return sum(p.numel() for p in trunk.parameters())


@functools.lru_cache(maxsize=None)
def searched_simcnn():
    from engine_helpers import trained_simcnn

    model, spec, data = trained_simcnn()  # shared with the GradSplitter and concern tests
    config = CNNSplitterConfig.preset("fast", **{**TINY, "val_per_class": 5})
    assert config.hidden_units
    result = get_decomposer("cnnsplitter").decompose(copy.deepcopy(model), data, config)
    return model, spec, data, result, extract_modules(model, spec, result, data)


@pytest.mark.slow
def test_without_hidden_units_the_search_groups_convolutions_only_as_the_paper():
    from engine_helpers import trained_simcnn
    from splitter_engine.methods.cnnsplitter import _Search

    model, _, data = trained_simcnn()
    conv_roots = [g.root for g in analyse_channels(copy.deepcopy(model), data.spec.shape).groups]
    for config, roots in ((CNNSplitterConfig.preset("paper", **TINY), conv_roots),
                          (CNNSplitterConfig.preset("fast", **TINY, hidden_units=False), conv_roots)):
        search = _Search(copy.deepcopy(model), data, config, RunContext())
        assert [g.root for g in search.graph.groups] == roots and search.graph.total_units == 0
        assert search.unit_retention(torch.ones(2, search.graph.total_slots)) is None
    with_units = _Search(copy.deepcopy(model), data, CNNSplitterConfig.preset("fast", **TINY), RunContext()).graph
    assert [g.root for g in with_units.groups if g.kind == "conv"] == conv_roots
    assert [g.kind for g in with_units.groups].count("linear") == 2


@pytest.mark.slow
def test_hidden_units_are_searched_masked_and_sliced_out_of_the_dense_layers():
    model, spec, data, result, modules = searched_simcnn()
    graph = analyse_channels(copy.deepcopy(model), data.spec.shape, hidden_units=True)
    dense = [(g.root, offset, g.size) for g, offset in zip(graph.groups, graph.offsets()) if g.kind == "linear"]
    assert result.group_roots == [g.root for g in graph.groups] and len(dense) == 2
    assert result.masks.shape == (10, graph.total_slots)
    units = result.masks[:, graph.slot_units().bool()]
    assert 0 < units.float().mean() < 1  # some hidden units dropped, never a whole layer
    m = result.metrics
    assert m["total_hidden_units"] == graph.total_units == units.shape[1]
    assert abs(m["mean_unit_retention"] - float(units.float().mean())) < 1e-4
    assert len(m["unit_retention_per_class"]) == 10 and all("unit_retention" in h for h in result.history)
    assert 0 < m["mean_retention"] < 1  # kernels, as before
    assert len(m["sensitivity"]["ratio_ranges"]) == len(graph.groups)

    x = data.tensors("test")[0][:64]
    kind = scoring_kind("logit")
    conv_roots = [g.root for g in graph.groups if g.kind == "conv"]
    for module in modules:
        c = module.class_index
        for root, offset, size in dense:  # the dense layers are physically smaller
            kept = int(result.masks[c, offset:offset + size].sum())
            assert module.network.trunk.get_submodule(root).out_features == kept
        facts = {k: v for k, v in module.spec["scoring"].items() if k != "kind"}
        prepared = kind.prepare(copy.deepcopy(model), c, None, facts, data.spec.shape)
        masked_graph = analyse_channels(prepared, data.spec.shape, roots=result.group_roots)
        with torch.no_grad():
            reference = kind.scorer(c, None, facts, 10)(masked_forward(prepared, masked_graph, x, result.masks[c].float()))
            sliced = load_module(module.spec, module.state_dict)(x)
        assert (sliced - reference).abs().max().item() <= 1e-5
        if not units[c].all():  # the same kernels with the dense layers whole (hidden_units false): bigger
            assert sum(p.numel() for p in module.network.trunk.parameters()) < _sliced_params(model, data, result, c, conv_roots)
