"""BatchNorm folding for the search: same outputs, no BatchNorm left, layer names kept."""
import pytest
import torch
import torch.nn as nn

from engine_helpers import narrow_spec
from splitter_engine.architectures import build_model, list_architectures
from splitter_engine.folding import fold_batchnorm

ALL_ARCHS = [entry["name"] for entry in list_architectures()]


def _trained_statistics(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, as a trained model has."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=generator) * 0.3)
            module.running_var.copy_(torch.rand(size, generator=generator) + 0.5)
            with torch.no_grad():
                module.weight.copy_(torch.rand(size, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(size, generator=generator) * 0.2)
    return model.eval()


@pytest.mark.parametrize("name", ALL_ARCHS)
def test_folded_model_gives_the_same_outputs_and_keeps_layer_names(name):
    model = _trained_statistics(build_model(narrow_spec(name, in_channels=1)))
    batchnorms = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    folded = fold_batchnorm(model)
    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    convs = {n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    assert convs <= {n for n, _ in folded.named_modules()}
    assert sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()) == batchnorms


def test_a_model_fx_cannot_trace_is_returned_unfolded():
    class DataDependent(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)

        def forward(self, x):
            y = self.bn(self.conv(x))
            return y if y.sum() > 0 else -y

    model = DataDependent().eval()
    folded = fold_batchnorm(model)
    assert folded is not model and isinstance(folded.bn, nn.BatchNorm2d)
