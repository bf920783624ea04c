"""The channel gate: N masks in one module-major batch give what N separate masked passes give."""
import pytest
import torch

from engine_helpers import narrow_spec, randomise
from splitter_engine.architectures import build_model, list_architectures
from splitter_engine.channels import analyse_channels
from splitter_engine.gating import ChannelGate

ALL_ARCHS = [entry["name"] for entry in list_architectures()]


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_batched_masks_equal_separate_passes_with_their_gradients(name):
    model = randomise(build_model(narrow_spec(name))).eval()
    graph = analyse_channels(model, (3, 32, 32))
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 32, 32, generator=generator).contiguous(memory_format=torch.channels_last)
    masks = (torch.rand(3, graph.total_slots, generator=generator) > 0.4).float()
    gate = ChannelGate(model, graph)

    batched_masks = masks.clone().requires_grad_()
    with gate.attached(batched_masks):
        batched = model(x.repeat(3, 1, 1, 1)).view(3, 4, -1)
    batched.square().sum().backward()

    for i in range(3):
        single_mask = masks[i].clone().requires_grad_()
        with gate.attached(single_mask):
            single = model(x)
        single.square().sum().backward()
        torch.testing.assert_close(batched[i], single, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(batched_masks.grad[i], single_mask.grad, atol=1e-3, rtol=1e-3)
