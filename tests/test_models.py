import pytest
import torch

from winnow.errors import WinnowError
from winnow.models import MODELS, build_model


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_output_and_feature_shapes(name, channels, size):
    model = build_model(name, in_channels=channels, num_classes=7, image_size=size).eval()
    x = torch.randn(3, channels, size, size)
    assert model(x).shape == (3, 7)
    assert model.features(x).shape[0] == 3 and model.features(x).ndim == 2


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_few_steps_lower_the_loss(name):
    torch.manual_seed(0)
    model = build_model(name, in_channels=1, num_classes=3, image_size=16)
    x, y = torch.randn(24, 1, 16, 16), torch.arange(24) % 3
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_unknown_model_is_a_clear_error():
    with pytest.raises(WinnowError, match="unknown model 'vit'"):
        build_model("vit", in_channels=1, num_classes=2, image_size=28)

