"""Concern identification (Pan & Rajan) on real small models trained on digits-16.

What is checked: the masks are the OR of the observed inputs' activity (a unit active for one observed input
is kept, one active for none is dropped, and dropping it changes nothing on those inputs); tangling keeps
what negatives use; hooks find the pre-activation maps on every architecture (torchvision's ResNet reuses
one ReLU module); a sliced module equals the masked module; voting picks the most confident module and
equals an ensemble build of the modules; replace swaps exactly one class; the settings, seed, cancellation,
progress and a model without positives for a class.
"""
import copy
import functools
import json

import numpy as np
import pytest
import torch
from composition_support import base_source, chosen, digits, key_of, trained
from engine_helpers import narrow_spec, randomise

from splitter_engine.architectures import build_model
from splitter_engine.channels import analyse_channels, build_dependency_graph
from splitter_engine.composition import ComposeOptions, PatchOptions, compose, patch
from splitter_engine.extraction import extract_modules, load_module
from splitter_engine.gating import masked_forward
from splitter_engine.methods import get_decomposer, list_decomposers
from splitter_engine.methods.concern import _Concern, classes_without_positives, spread_negatives
from splitter_engine.methods.concern_activity import ActivityRecorder
from splitter_engine.methods.concern_config import ConcernConfig
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.output_layer import find_output_linear
from splitter_engine.runtime import EngineError, RunCancelled, RunContext
from splitter_engine.scoring import class_tensors, scoring_kind

pytestmark = pytest.mark.slow


def concern(preset: str = "paper", **overrides):
    return get_decomposer("concern").make_config(preset, **overrides)


@functools.lru_cache(maxsize=None)
def observed(bln_delta: float = 0.0, negative_ratio: float = 1.0):
    """A run's state after observation: (runner, positives, negatives, seen)."""
    model, _, _ = trained()
    runner = _Concern(model, digits(), concern(bln_delta=bln_delta, negative_ratio=negative_ratio), RunContext())
    positives, negatives = runner.observed_sets(runner._probabilities(runner.x))
    return runner, positives, negatives, runner.observe(positives, negatives)


def per_image_activity(runner, positions: np.ndarray) -> torch.Tensor:
    """Activity bits of each image on its own (batches of one): len x total_slots bool."""
    runner.recorder.attach()
    try:
        return torch.cat([runner.recorder.observe(runner.x[int(i)][None])[1] for i in positions])
    finally:
        runner.recorder.detach()


@functools.lru_cache(maxsize=None)
def decomposed(preset: str):
    model, spec, names = trained()
    result = get_decomposer("concern").decompose(model, digits(), concern(preset))
    return model, spec, names, result, extract_modules(model, spec, result, digits())


def test_concern_is_a_registered_method_of_class_vs_rest_modules():
    assert "concern" in list_decomposers()
    result = decomposed("paper")[3]
    assert result.method == "concern" and result.scoring == "class_vs_rest"
    assert result.scoring_tensors["weight"].shape[:2] == (10, 2) and result.scoring_tensors["bias"].shape == (10, 2)


def test_the_masks_are_the_or_of_the_observed_inputs_activity():
    runner, positives, negatives, seen = observed()
    masks = runner.masks(seen, None)
    for c in (0, 3):
        members = np.concatenate([positives[c], negatives[c]])
        activity = per_image_activity(runner, members)
        assert torch.equal(activity.sum(0).float(), seen["counts"][c])  # the shared pool's counts, image by image
        rescued = torch.zeros_like(masks[c])  # a group with no active channel keeps its most active one
        for part, kept in zip(runner.graph.split(rescued), runner.graph.split(activity.any(0))):
            if not kept.any():
                part[0] = True
        assert torch.equal(masks[c], activity.any(0) | rescued)


def test_a_unit_active_for_one_observed_input_is_kept_and_goes_without_it():
    runner, positives, negatives, seen = observed()
    counts = seen["counts"]
    c, slot = divmod(int(torch.where(counts > 0, counts, torch.inf).argmin()), counts.shape[1])  # the rarest unit
    members = np.concatenate([positives[c], negatives[c]])
    users = members[per_image_activity(runner, members)[:, slot].numpy()]
    assert len(users) == int(counts[c, slot])

    def observing_without(drop):
        return runner.observe([p[~np.isin(p, drop)] if k == c else p for k, p in enumerate(positives)],
                              [n[~np.isin(n, drop)] if k == c else n for k, n in enumerate(negatives)])

    one = observing_without(users[1:])  # only one observed input uses the unit
    assert one["counts"][c, slot] == 1 and one["observed"][c] == seen["observed"][c] - len(users) + 1
    assert runner.masks(one, None)[c, slot]
    none = observing_without(users)  # none does
    assert none["counts"][c, slot] == 0
    group = int(runner.graph.slot_group()[slot])
    offset = runner.graph.offsets()[group]
    others_active = (none["counts"][c, offset:offset + runner.graph.groups[group].size] > 0).any()
    kept = runner.masks(none, None)[c]
    if others_active:
        assert not kept[slot]
    else:  # a group keeps one channel whatever happens
        assert int(kept[offset:offset + runner.graph.groups[group].size].sum()) == 1


def test_dropping_the_inactive_channels_changes_nothing_on_the_observed_inputs():
    runner, positives, negatives, seen = observed()
    exact = runner.masks(seen, None)
    model = trained()[0]
    for c in (1, 8):
        x = runner.x[torch.from_numpy(np.concatenate([positives[c], negatives[c]]))]
        with torch.no_grad():
            full = model(x)
        assert (masked_forward(model, runner.graph, x, exact[c].float()) - full).abs().max() <= 1e-5


def test_tangling_keeps_what_the_negatives_use():
    runner, positives, negatives, seen = observed()
    alone = observed(negative_ratio=0.0)[3]
    assert all(len(n) == 0 for n in observed(negative_ratio=0.0)[2])
    with_negatives = runner.masks(seen, None)
    only_positives = runner.masks(alone, None)
    assert bool((with_negatives | ~only_positives).all())  # tangling only adds channels
    negatives_only = (seen["counts"] > 0) & (alone["counts"] == 0)
    assert negatives_only.any(), "no channel was used by negatives only"
    assert bool(with_negatives[negatives_only].all())
    # the negatives are spread over the other classes, 1 : 1
    labels = runner.y.numpy()
    for c in range(10):
        assert len(negatives[c]) == len(positives[c]) and c not in set(labels[negatives[c]])
        per_class = np.bincount(labels[negatives[c]], minlength=10)
        others = np.delete(per_class, c)
        assert others.max() - others.min() <= 1


def test_negatives_are_spread_evenly_when_some_classes_run_short():
    labels = np.array([0] * 5 + [1] * 2 + [2] * 50 + [3] * 50)
    picked = spread_negatives(labels, 0, 30, np.random.default_rng(0))
    counts = np.bincount(labels[picked], minlength=4)
    assert counts[0] == 0 and counts[1] == 2 and counts[2] == counts[3] == 14 and len(set(picked)) == 30


@pytest.mark.parametrize("arch", ["simcnn", "rescnn", "incecnn", "resnet18", "mobilenet_v2"])
def test_hooks_find_every_pre_activation_map_on_any_architecture(arch):
    spec = narrow_spec(arch, in_channels=1)
    model = randomise(build_model(spec), seed=3)
    shape = (1, 16, 16) if arch in ("simcnn", "rescnn", "incecnn") else (1, 32, 32)
    dg = build_dependency_graph(model, shape)
    graph = analyse_channels(model, shape, dg)
    recorder = ActivityRecorder(model, graph, dg, find_output_linear(model, shape), shape)
    if arch == "resnet18":  # torchvision's BasicBlock: one ReLU module, called twice; BN found by the tensor
        assert recorder._pre_activation["layer1.0.conv1"] == "layer1.0.bn1"
        assert recorder._pre_activation["layer1.0.conv2"] == "layer1.0.bn2"
    x = torch.randn(6, *shape, generator=torch.Generator().manual_seed(0))
    recorder.attach()
    try:
        out, active = recorder.observe(x)
    finally:
        recorder.detach()
    keep = active.any(0)
    with torch.no_grad():
        assert torch.equal(out, model(x))
        assert (masked_forward(model, graph, x, keep.float()) - out).abs().max() <= 1e-4
    # and a channel active for these inputs does matter to some consumer: zeroing all active ones changes the output
    assert (masked_forward(model, graph, x, (~keep).float()) - out).abs().max() > 1e-3


@pytest.mark.parametrize("preset", ["paper", "sliced"])
def test_a_sliced_module_equals_the_masked_module(preset):
    model, _, _, result, modules = decomposed(preset)
    x = digits().tensors("test")[0][:64]
    kind = scoring_kind("class_vs_rest")
    for module in modules:
        c = module.class_index
        tensors = class_tensors(result.scoring_tensors, c)
        facts = {k: v for k, v in module.spec["scoring"].items() if k != "kind"}
        prepared = kind.prepare(copy.deepcopy(model), c, tensors, facts, digits().spec.shape)
        graph = analyse_channels(prepared, digits().spec.shape, roots=result.group_roots)
        with torch.no_grad():
            masked = kind.scorer(c, tensors, facts, 10)(masked_forward(prepared, graph, x, result.masks[c].float()))
            sliced = load_module(module.spec, module.state_dict)(x)
        assert (sliced - masked).abs().max().item() <= 1e-5
    if preset == "sliced":
        assert max(m.params_fraction for m in modules) < 0.95 and result.metrics["tau"] is not None
    else:  # the paper's modules keep every channel active for some observed input: the model's size but two output rows
        assert min(m.params_fraction for m in modules) > 0.95


def test_voting_picks_the_most_confident_module_and_equals_an_ensemble_build():
    model, _, names, result, modules = decomposed("sliced")
    x = digits().tensors("test")[0]
    built = compose(chosen(model, modules, names), ComposeOptions("ensemble"), digits(),
                    {key_of(model): base_source(model, names)})
    with torch.no_grad():
        scores = torch.stack([m.network(x) for m in modules], 1)
        composed = built.model(x)
    assert torch.equal(composed, scores)  # uncalibrated: the modules' own probabilities, side by side
    winner = scores.argmax(1)
    assert torch.equal(composed.argmax(1), winner)
    assert bool((scores.gather(1, winner[:, None]).squeeze(1) >= scores.max(1).values).all())
    assert built.metrics["accuracy"] == pytest.approx(result.metrics["composed_accuracy"], abs=1e-4)
    # with MC-BLN off and the paper's rule, voting is the model's own argmax: z_c - mean of the others is
    # monotone in z_c
    no_bln = get_decomposer("concern").decompose(model, digits(), concern("paper", bln_delta=0.0))
    assert no_bln.metrics["composed_accuracy"] == no_bln.metrics["base_accuracy"]


def test_the_decomposition_reports_units_per_layer_history_and_retention():
    result = decomposed("sliced")[3]
    m = result.metrics
    assert {"composed_accuracy", "base_accuracy", "mean_retention", "val_composed_accuracy"} <= set(m)
    taus = [h["tau"] for h in result.history]
    assert taus == sorted(taus) and set(taus) <= set(concern("sliced").tau_grid)
    assert len(taus) <= 4 and sum(h["chosen"] for h in result.history) == 1  # bisection over 10 values
    floor = m["val_base_accuracy"] - concern("sliced").tolerance
    above = [h["tau"] for h in result.history if h["tau"] > m["tau"]]
    assert all(h["accuracy"] < floor for h in result.history if h["tau"] in above)
    assert result.history[result.selected_epoch]["tau"] == m["tau"] and m["tau_chosen_on"] == "val"
    chosen_acc = result.history[result.selected_epoch]["accuracy"]
    assert chosen_acc >= m["val_base_accuracy"] - concern("sliced").tolerance - 1e-9
    layers, kept = m["units"]["layers"], m["units"]["kept"]
    assert len(kept) == 10 and all(len(row) == len(layers) for row in kept)
    assert [k[:len(result.group_sizes)] for k in kept] == [[len(k) for k in result.kept_indices(c)] for c in range(10)]
    assert m["positives"] == m["negatives"] and min(m["positives"]) > 0
    meta, tensors = result.to_state()
    again = DecompositionResult.from_state(meta, tensors)
    assert torch.equal(again.masks, result.masks) and again.scoring == "class_vs_rest"


def test_scan_measures_every_tau_and_keeps_the_fewest_kernels_within_tolerance():
    runner, _, _, seen = observed()
    base_val = float((runner._probabilities(runner.x_val).argmax(1) == runner.y_val).float().mean())
    config = runner.config
    try:
        runner.config = concern("sliced", tau_search="scan", bln_delta=0.0)
        history, tau, masks = runner._choose(seen, base_val)
    finally:
        runner.config = config
    assert [h["tau"] for h in history] == list(concern("sliced").tau_grid)
    within = [h for h in history if h["accuracy"] >= base_val - concern("sliced").tolerance - 1e-9]
    chosen = next(h for h in history if h["chosen"])
    assert chosen["tau"] == tau and chosen["retention"] == min(h["retention"] for h in within)
    assert torch.equal(masks, runner.masks(seen, tau))
    retention = [h["retention"] for h in history]
    assert retention == sorted(retention, reverse=True)  # masks shrink as tau grows


def test_replace_swaps_exactly_one_class():
    model, spec, names, _, modules = decomposed("sliced")
    weak, _, _ = trained(epochs=2, seed=1)
    # two epochs leave some classes below 0.5 confidence on some CPUs' float kernels: any positive will do here
    weak_result = get_decomposer("concern").decompose(weak, digits(), concern("sliced", confidence=0.2))
    weak_modules = extract_modules(weak, spec, weak_result, digits())
    x = digits().tensors("test")[0]
    # the paper's replace: the weak model's module set with the strong model's module for class 7
    mixed = [*chosen(weak, weak_modules, [n for n in names if n != "7"]), *chosen(model, modules, ["7"])]
    mixed.sort(key=lambda item: names.index(item.class_name))
    bases = {key_of(weak): base_source(weak, names), key_of(model): base_source(model, names)}
    replaced = compose(mixed, ComposeOptions("ensemble"), digits(), bases)
    original = compose(chosen(weak, weak_modules, names), ComposeOptions("ensemble"), digits(), bases)
    with torch.no_grad():
        after, before = replaced.model(x), original.model(x)
        assert torch.equal(after[:, 7], modules[7].network(x))
    assert replaced.class_names == names
    assert torch.equal(torch.cat([after[:, :7], after[:, 8:]], 1), torch.cat([before[:, :7], before[:, 8:]], 1))
    assert not torch.equal(after[:, 7], before[:, 7])
    # patching a weak base model: its outputs for the other classes stay, class 7 is the module's (uncalibrated)
    patched = patch(base_source(weak, names), chosen(model, modules, ["7"])[0], PatchOptions(calibration="none"),
                    digits())
    with torch.no_grad():
        out, weak_out = patched.model(x), weak(x)
    assert torch.equal(out[:, 7], modules[7].network(x))
    others = [i for i in range(10) if i != 7]
    assert torch.allclose(out[:, others], weak_out[:, others], atol=1e-5)


@pytest.mark.parametrize("overrides, message", [
    ({"tau": 0.0}, "tau must be in \\(0, 1\\]"),
    ({"tau": 1.5}, "tau must be in \\(0, 1\\]"),
    ({"tau": -0.1}, "tau must be in \\(0, 1\\]"),
    ({"tau_grid": [0.2, 2.0]}, "tau_grid"),
    ({"confidence": 1.0}, "confidence"),
    ({"bln_delta": 2}, "bln_delta"),
    ({"keep_rule": "all"}, "keep_rule"),
    ({"tau_search": "random"}, "tau_search"),
    ({"tau": True}, "bad concern identification setting"),
    ({"taux": 0.3}, "unknown concern identification setting"),
])
def test_bad_settings_are_refused(overrides, message):
    with pytest.raises(EngineError, match=message):
        concern("sliced", **overrides)


def test_presets():
    with pytest.raises(EngineError, match="unknown concern identification preset 'fast'"):
        concern("fast")
    with pytest.raises(EngineError, match="tau applies to keep_rule 'fraction'"):
        concern("paper", tau=0.5)
    assert concern("sliced", tau=0.5).tau == 0.5
    assert ConcernConfig.from_dict(concern("sliced", tau_grid=[0.5, 0.1]).to_dict()).tau_grid == (0.1, 0.5)
    assert get_decomposer("concern").make_config().preset == "sliced"  # the hub's default: smaller modules
    for name in ("paper", "sliced"):  # what a job stores: plain JSON that gives the same config back
        stored = json.loads(json.dumps(concern(name).to_dict()))
        assert stored["preset"] == name and ConcernConfig.from_dict(stored) == concern(name)


def test_a_model_without_positives_for_a_class_is_refused_naming_it():
    model = copy.deepcopy(trained()[0])
    with torch.no_grad():
        model.get_submodule(find_output_linear(model, digits().spec.shape)).bias[3] -= 100.0
    decomposer = get_decomposer("concern")
    assert classes_without_positives(model, digits(), 0.9) == ["3"]
    with pytest.raises(EngineError, match=r"no training image of class\(es\) \['3'\]"):
        decomposer.check(model, digits(), concern())
    with pytest.raises(EngineError, match=r"class\(es\) \['3'\]"):
        decomposer.decompose(model, digits(), concern())
    decomposer.check(trained()[0], digits(), concern())  # a good model passes


def test_seed_progress_and_cancellation():
    model = trained()[0]
    decomposer = get_decomposer("concern")
    reports = []
    first = decomposer.decompose(model, digits(), concern("sliced", seed=5),
                                 RunContext(progress=lambda f, stage, msg, m=None: reports.append((f, stage))))
    again = decomposer.decompose(model, digits(), concern("sliced", seed=5))
    other = _Concern(model, digits(), concern("sliced", seed=6), RunContext())
    assert torch.equal(first.masks, again.masks) and first.metrics["composed_accuracy"] == again.metrics["composed_accuracy"]
    runner = _Concern(model, digits(), concern("sliced", seed=5), RunContext())
    probabilities = runner._probabilities(runner.x)
    assert any(not np.array_equal(a, b) for a, b in zip(runner.observed_sets(probabilities)[1],
                                                         other.observed_sets(probabilities)[1]))
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {"setup", "observe", "select", "evaluate", "done"} <= {s for _, s in reports}
    calls = []
    with pytest.raises(RunCancelled):
        decomposer.decompose(model, digits(), concern("sliced"),
                             RunContext(is_cancelled=lambda: calls.append(1) or len(calls) > 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_gives_the_cpu_masks():
    model = trained()[0]
    on_cpu = get_decomposer("concern").decompose(model, digits(), concern("paper"))
    on_gpu = get_decomposer("concern").decompose(model, digits(), concern("paper"), RunContext(device="cuda"))
    assert (on_cpu.masks ^ on_gpu.masks).float().mean() < 0.01
    assert abs(on_cpu.metrics["composed_accuracy"] - on_gpu.metrics["composed_accuracy"]) < 0.01


def test_hidden_units_of_the_classifier_are_sliced_as_the_paper_drops_dense_nodes():
    from engine_helpers import trained_simcnn

    model, spec, data = trained_simcnn()
    x = data.tensors("test")[0][:64]
    kind = scoring_kind("class_vs_rest")
    params = {}
    for hidden in (False, True):
        result = get_decomposer("concern").decompose(model, data, concern("paper", hidden_units=hidden))
        modules = extract_modules(model, spec, result, data)
        params[hidden] = float(np.mean([m.params_fraction for m in modules]))
        layers = result.metrics["units"]["layers"]
        dense = [layer for layer in layers if layer["kind"] == "dense"]
        assert len(dense) == 2 and all(layer["sliced"] == hidden for layer in dense)
        if not hidden:
            continue
        assert len(result.group_roots) == len(analyse_channels(copy.deepcopy(model), data.spec.shape).groups) + 2
        for module in modules[:3]:
            c = module.class_index
            tensors = class_tensors(result.scoring_tensors, c)
            facts = {k: v for k, v in module.spec["scoring"].items() if k != "kind"}
            prepared = kind.prepare(copy.deepcopy(model), c, tensors, facts, data.spec.shape)
            graph = analyse_channels(prepared, data.spec.shape, roots=result.group_roots)
            with torch.no_grad():
                masked = kind.scorer(c, tensors, facts, 10)(masked_forward(prepared, graph, x, result.masks[c].float()))
                sliced = load_module(module.spec, module.state_dict)(x)
            assert (sliced - masked).abs().max().item() <= 1e-5
    # SimCNN's dense layers hold most of its parameters: dropping their inactive nodes makes the modules smaller
    assert params[True] < params[False] - 0.02
