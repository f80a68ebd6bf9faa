import pytest
import torch

from winnow.errors import WinnowError
from winnow.models import MODELS, build_model

# in-process nets this small (8 Adam steps of resnet18 on 24 images of 16x16) gain nothing from intra-op threads: on
# two busy cores two threads spun 25 CPU s where one took 3, with the same losses to the last digit
pytestmark = pytest.mark.usefixtures("one_torch_thread")


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



@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("height, width", [(28, 40), (40, 28)])
def test_non_square_images_give_logits(name, height, width):
    # before: lenet5 and cnn_small sized their dense layer from the height alone, and represent's judge stopped
    # with "mat1 and mat2 shapes cannot be multiplied (64x640 and 400x120)" on 28x40 digits
    model = build_model(name, in_channels=1, num_classes=5, image_size=(height, width)).eval()
    assert model(torch.randn(2, 1, height, width)).shape == (2, 5)


def test_square_models_keep_their_weights_shapes():
    # a side and (side, side) are one architecture: checkpoints written before (H, W) was accepted still load
    for name in MODELS:
        side = build_model(name, in_channels=3, num_classes=4, image_size=32).state_dict()
        pair = build_model(name, in_channels=3, num_classes=4, image_size=(32, 32)).state_dict()
        assert {k: v.shape for k, v in side.items()} == {k: v.shape for k, v in pair.items()}
