"""Every torchvision classifier can be built (to store, train and evaluate it); whether it can be decomposed
is found from its graph, and a refusal names the offending layer."""
import io

import numpy as np
import pytest
import torch
import torch.nn as nn

from splitter_engine.architectures import ArchSpec, build_model, list_architectures
from splitter_engine.architectures.registry import check_arch_kwargs
from splitter_engine.architectures.torchvision_zoo import torchvision_classifiers
from splitter_engine.channels import decomposability
from splitter_engine.data.read import check_upload
from splitter_engine.profile import model_size
from splitter_engine.runtime import EngineError
from splitter_engine.specs import InputSpec

SMALL = (1, 32, 32)


def test_every_torchvision_classifier_is_registered_and_only_tested_ones_are_listed_by_default():
    everything = {a["name"] for a in list_architectures(everything=True)}
    tested = {a["name"] for a in list_architectures()}
    assert set(torchvision_classifiers()) | {"simcnn", "rescnn", "incecnn"} == everything
    assert {"shufflenet_v2_x0_5", "resnext50_32x4d", "convnext_tiny", "regnet_y_400mf"} <= everything - tested
    assert {"simcnn", "resnet18", "googlenet"} <= tested


@pytest.mark.parametrize("name,layer,why", [
    ("shufflenet_v2_x0_5", "'stage2.0' (InvertedResidual)", "channel shuffle"),
    ("regnet_y_400mf", "'trunk_output.block1.block1-0.f.b.0' (Conv2d with groups=", "grouped convolutions"),
    ("resnext50_32x4d", "'layer1.0.conv2' (Conv2d with groups=32)", "grouped convolutions"),
    ("convnext_tiny", "'features.0.1' (LayerNorm2d)", "normalises across channels"),
])
def test_refusals_name_the_offending_layer(name, layer, why):
    model = build_model(ArchSpec(name, 4, SMALL[0]))
    with torch.no_grad():
        assert model(torch.randn(2, *SMALL)).shape == (2, 4)  # it runs: storable and evaluable
    checked = decomposability(model, SMALL)
    assert not checked.decomposable
    assert f"layer {layer}" in checked.reason and why in checked.reason


def test_a_decomposable_model_has_no_reason():
    checked = decomposability(build_model(ArchSpec("resnet18", 4, 1, {"width": 0.25})), SMALL)
    assert checked.decomposable and checked.reason == ""


class Shuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        x = self.conv(x)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return self.head(x.mean((2, 3)))


def test_a_channel_shuffle_in_any_model_is_found_without_torchvision():
    checked = decomposability(Shuffle(), (1, 8, 8))
    assert not checked.decomposable
    assert "'the model itself' (Shuffle) splits the 4 channels of its input into 2 x 2" in checked.reason


def test_narrowing_a_network_whose_channels_do_not_group_says_to_use_width_1():
    with pytest.raises(EngineError, match="use width 1") as info:
        build_model(ArchSpec("shufflenet_v2_x0_5", 4, 1, {"width": 0.5}))
    assert "stage2.0" in str(info.value)


def test_a_network_too_deep_for_the_input_size_is_an_engine_error():
    model = build_model(ArchSpec("inception_v3", 4, 1))
    with pytest.raises(EngineError, match="cannot run on 1x32x32 inputs"):
        model_size(model, InputSpec(1, 32, 32))


@pytest.mark.parametrize("name,kwargs,message", [
    ("simcnn", {"depth": 3}, "does not take ['depth']; it takes dropout (default 0.5), width (default 1.0)"),
    ("simcnn", {"width": "0.5"}, "width must be a number, got '0.5'"),
    ("simcnn", {"width": float("nan")}, "width must be a number"),
    ("googlenet", {"aux_logits": 1}, "aux_logits must be true or false"),
    ("vit_b_16", {"image_size": 32.5}, "image_size must be an integer"),
    ("no-such-net", {}, "unknown architecture 'no-such-net'"),
])
def test_arch_kwargs_are_checked_without_building(name, kwargs, message):
    with pytest.raises(EngineError) as info:
        check_arch_kwargs(name, kwargs)
    assert message in str(info.value)


def test_good_arch_kwargs_pass():
    assert check_arch_kwargs("simcnn", {"width": 1}) == {"width": 1}
    assert check_arch_kwargs("vit_b_16", {"image_size": 32, "width": 1.0}) == {"image_size": 32, "width": 1.0}


def _npz(**arrays) -> io.BytesIO:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("arrays,message", [
    ({"x": np.zeros((4, 8, 8), np.float32), "y": np.arange(4)}, "array 'x' has dtype float32; images must be uint8"),
    ({"x": np.zeros((4, 8, 8), np.uint8)}, "has no array 'y'"),
    ({"x": np.zeros((4, 8, 8), np.uint8), "y": np.zeros(4)}, "array 'y' has dtype float64; labels must be integers"),
    ({"x": np.zeros((4, 8, 8, 5), np.uint8), "y": np.arange(4)}, "array 'x' has shape (4, 8, 8, 5)"),
    ({"x": np.zeros((4, 8, 8), np.uint8), "y": np.arange(4), "class_names": np.array(["a", 1], dtype=object)},
     "array 'class_names' holds Python objects"),
    ({"x": np.zeros((4, 8, 8), np.uint8), "y": np.arange(4), "x_test": np.ones((2, 8, 8)), "y_test": np.arange(2)},
     "array 'x_test' has dtype float64"),
])
def test_npz_uploads_are_checked_from_their_headers(arrays, message):
    with pytest.raises(EngineError) as info:
        check_upload(_npz(**arrays))
    assert message in str(info.value)


def test_a_good_npz_passes_the_header_check_and_is_rewound():
    upload = _npz(x=np.zeros((4, 8, 8), np.uint8), y=np.arange(4), class_names=np.array(["a", "b", "c", "d"]))
    assert check_upload(upload) == "npz" and upload.tell() == 0
