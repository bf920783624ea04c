"""The architecture registry and every architecture it claims, built narrow."""
import pytest
import torch
import torch.nn as nn

from engine_helpers import narrow_spec
from splitter_engine.architectures import ArchSpec, build_model, list_architectures, register_architecture
from splitter_engine.runtime import EngineError

ALL_ARCHS = [entry["name"] for entry in list_architectures()]


def test_registry_lists_paper_and_torchvision_models():
    assert {"simcnn", "rescnn", "incecnn", "resnet18", "vgg11_bn", "mobilenet_v2"} <= set(ALL_ARCHS)
    assert all(entry["description"] for entry in list_architectures())


def test_duplicate_names_are_refused():
    with pytest.raises(EngineError, match="already registered"):
        register_architecture("simcnn", lambda num_classes, in_channels: nn.Identity())


def test_unknown_name_lists_known_ones():
    with pytest.raises(EngineError, match="known: .*resnet18"):
        build_model(ArchSpec("no-such-net", 10))


def test_unknown_kwarg_is_refused():
    with pytest.raises(EngineError, match="does not take"):
        build_model(ArchSpec("simcnn", 10, 3, {"depth": 3}))


def test_arch_spec_round_trips_through_a_dict():
    spec = ArchSpec("rescnn", 7, 1, {"width": 0.5})
    assert ArchSpec.from_dict(spec.to_dict()) == spec


def test_paper_simcnn_has_13_convs_and_fc_scaled_with_width():
    full = build_model(ArchSpec("simcnn", 10))
    convs = [m for m in full.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in full.modules() if isinstance(m, nn.Linear)]
    assert len(convs) == 13 and all(isinstance(m, nn.Conv2d) for m in convs)
    assert [(l.in_features, l.out_features) for l in linears] == [(512, 4096), (4096, 4096), (4096, 10)]
    narrow = build_model(ArchSpec("simcnn", 10, 3, {"width": 0.25}))
    assert [l.out_features for l in narrow.modules() if isinstance(l, nn.Linear)] == [1024, 1024, 10]
    assert sum(isinstance(m, nn.Conv2d) for m in build_model(ArchSpec("rescnn", 10)).modules()) == 12


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_every_architecture_runs_on_small_inputs_and_other_channel_counts(name):
    model = build_model(narrow_spec(name, in_channels=1, num_classes=4))
    with torch.no_grad():
        assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4)


@pytest.mark.parametrize("name", ["simcnn", "rescnn", "incecnn", "resnet18", "mobilenet_v2"])
def test_16x16_inputs_run(name):
    model = build_model(narrow_spec(name, in_channels=1))
    with torch.no_grad():
        assert model(torch.randn(2, 1, 16, 16)).shape == (2, 10)


def test_torchvision_width_narrows_every_conv_group():
    full = build_model(ArchSpec("resnet18", 10))
    narrow = build_model(ArchSpec("resnet18", 10, 3, {"width": 0.25}))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(narrow) < count(full) / 8
    assert narrow.layer4[1].conv2.out_channels == 128
