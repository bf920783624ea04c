"""Channel groups from the dependency graph, for every architecture claimed."""
import pytest
import torch
import torch.nn as nn

from engine_helpers import narrow_spec
from splitter_engine.architectures import ArchSpec, build_model, list_architectures
from splitter_engine.channels import analyse_channels
from splitter_engine.runtime import EngineError

ALL_ARCHS = [entry["name"] for entry in list_architectures()]


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_groups_cover_the_conv_kernels_and_never_the_classifier_outputs(name):
    model = build_model(narrow_spec(name))
    graph = analyse_channels(model, (3, 32, 32))
    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    produced = [p for g in graph.groups for p in g.producers]
    assert len(produced) == len(set(produced)), "a conv belongs to one group only"
    assert graph.total_kernels == sum(m.out_channels for m in convs.values())
    assert graph.fixed_kernels == sum(convs[n].out_channels for n in set(convs) - set(produced))
    for group in graph.groups:
        assert all(convs[p].out_channels == group.size for p in group.producers)
        for consumer in group.consumers:
            assert set(consumer.roots) <= set(range(group.size))
    # The classifier's outputs are the class scores: no group may mask them. Most classifiers end in a
    # Linear layer, which is never a producer; a conv classifier (SqueezeNet's) must be left out by name.
    classifier, out_features = output_layer(model, (3, 32, 32))
    assert out_features == 10
    assert all(classifier != g.root and classifier not in g.producers for g in graph.groups), classifier
    if classifier in convs:
        assert graph.fixed_kernels >= convs[classifier].out_channels


def output_layer(model: nn.Module, shape) -> tuple[str, int]:
    """The name of the last Conv2d or Linear layer to run in a forward pass, and its output channels."""
    ran = []
    hooks = [m.register_forward_hook(lambda m, i, o, name=n: ran.append((name, o.shape[1])))
             for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model.eval()(torch.randn(1, *shape))
    finally:
        for hook in hooks:
            hook.remove()
    return ran[-1]


def test_residual_adds_couple_the_convs_feeding_them():
    graph = analyse_channels(build_model(ArchSpec("rescnn", 10, 3, {"width": 0.125})), (3, 32, 32))
    producers = [set(g.producers) for g in graph.groups]
    # reference layout: convs 3, 7, 11 share the mask of convs 1, 5, 9
    for a, b in ((1, 3), (5, 7), (9, 11)):
        assert any({f"convs.{a}.0", f"convs.{b}.0"} <= p for p in producers)
    assert len(graph.groups) == 9


def test_concatenation_offsets_map_branches_into_the_next_block():
    model = build_model(ArchSpec("incecnn", 10, 3, {"width": 0.125}))
    graph = analyse_channels(model, (3, 32, 32))
    branches = model.block1.branches
    widths = [b[0].out_channels for b in branches]
    for i, branch in enumerate(branches):
        group = next(g for g in graph.groups if g.root == f"block1.branches.{i}.0")
        consumer = next(c for c in group.consumers if c.module == "block2.branches.0.0")
        assert list(consumer.positions) == [sum(widths[:i]) + r for r in consumer.roots]


def test_depthwise_convs_are_tied_to_their_input_channels():
    model = build_model(ArchSpec("mobilenet_v2", 10, 3, {"width": 0.25}))
    graph = analyse_channels(model, (3, 32, 32))
    depthwise = {n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.groups > 1}
    groups_with_dw = [g for g in graph.groups if depthwise & set(g.producers)]
    assert groups_with_dw and all(len(g.producers) >= 2 for g in groups_with_dw)


def test_flatten_into_the_first_linear_maps_every_feature_to_its_channel():
    model = build_model(ArchSpec("vgg11_bn", 10, 3, {"width": 0.25}))
    graph = analyse_channels(model, (3, 32, 32))
    last = next(g for g in graph.groups if any(c.module == "classifier.0" for c in g.consumers))
    consumer = next(c for c in last.consumers if c.module == "classifier.0")
    assert len(consumer.positions) == last.size * 49  # 7x7 adaptive pool, flattened
    assert all(p // 49 == r for p, r in zip(consumer.positions, consumer.roots))


class LayerNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.norm = nn.GroupNorm(2, 8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.norm(self.conv(x)).mean((2, 3)))


def test_an_unsupported_layer_is_named_in_the_error():
    with pytest.raises(EngineError, match="'norm' \\(GroupNorm\\)"):
        analyse_channels(LayerNormNet(), (3, 16, 16))


def test_grouped_convolutions_are_refused_by_name():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, groups=2), nn.Flatten(), nn.LazyLinear(10))
    model(torch.randn(1, 3, 16, 16))
    with pytest.raises(EngineError, match="'1' \\(Conv2d with groups=2\\)"):
        analyse_channels(model, (3, 16, 16))


def test_convnext_is_refused_with_its_layer_norm_named():
    from splitter_engine.torchvision_compat import models
    with pytest.raises(EngineError, match="LayerNorm"):
        analyse_channels(models.convnext_tiny(num_classes=10), (3, 32, 32))


# Every architecture whose classifier has hidden Linear layers (torchvision's at 32 x 32 where they run there).
HIDDEN_LINEAR = [("simcnn", (3, 32, 32)), ("vgg11", (3, 32, 32)), ("alexnet", (3, 64, 64)),
                 ("mobilenet_v3_small", (3, 32, 32))]


@pytest.mark.parametrize("name, shape", HIDDEN_LINEAR)
def test_sliced_hidden_units_equal_the_masked_model(name, shape):
    import copy

    from engine_helpers import randomise
    from splitter_engine.channels import build_dependency_graph, slice_groups
    from splitter_engine.gating import masked_forward

    spec = narrow_spec(name) if name != "alexnet" else ArchSpec(name, 10, 3)  # too small at 32 x 32 to narrow
    model = randomise(build_model(spec))
    graph = analyse_channels(copy.deepcopy(model), shape, hidden_units=True)
    linear = [g for g in graph.groups if g.kind == "linear"]
    assert linear and graph.total_units == sum(g.size for g in linear)
    assert all(g.kernels_per_channel == 0 for g in linear)
    # the output layer's units are never a group; without hidden_units the groups are the conv ones, as before
    assert [g.root for g in analyse_channels(copy.deepcopy(model), shape).groups] == \
        [g.root for g in graph.groups if g.kind == "conv"]
    generator = torch.Generator().manual_seed(1)
    keep = [sorted(torch.randperm(g.size, generator=generator)[:max(1, g.size // 3)].tolist()) for g in graph.groups]
    mask = torch.zeros(graph.total_slots)
    for offset, kept in zip(graph.offsets(), keep):
        mask[[offset + k for k in kept]] = 1
    x = torch.randn(3, *shape, generator=generator)
    expected = masked_forward(model, graph, x, mask)

    sliced = copy.deepcopy(model)
    dg = build_dependency_graph(sliced, shape)
    rebuilt = analyse_channels(sliced, shape, dg, roots=[g.root for g in graph.groups])
    assert [(g.root, g.size) for g in rebuilt.groups] == [(g.root, g.size) for g in graph.groups]
    slice_groups(sliced, rebuilt, keep, dg)
    for group, kept in zip(linear, [k for g, k in zip(graph.groups, keep) if g.kind == "linear"]):
        assert sliced.get_submodule(group.root).out_features == len(kept)
    with torch.no_grad():
        assert torch.allclose(sliced(x), expected, atol=1e-5, rtol=1e-4)
    assert sum(p.numel() for p in sliced.parameters()) < sum(p.numel() for p in model.parameters()) / 2
