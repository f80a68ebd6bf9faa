"""The classifiers, in torch alone (no torchvision): lenet5, cnn_small and a CIFAR-style resnet18.

Every model maps float ``(B, C, H, W)`` to logits ``(B, classes)`` and exposes ``features(x)``,
the penultimate activations, for embeddings and Fréchet distances. ``image_size`` is the side of square
images or ``(H, W)``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from winnow.configs import MIN_SIDE, MODEL_NAMES
from winnow.errors import WinnowError


class LeNet5(nn.Module):
    """LeCun et al. 1998, with ReLU and max pooling; 28x28 inputs are padded to the 32x32 it expects."""

    def __init__(self, *, in_channels: int, num_classes: int, image_size: int | tuple[int, int]):
        super().__init__()
        pads = [max(0, (32 - side) // 2) for side in _sides(image_size)]
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=tuple(pads)), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        )
        h, w = (((side + 2 * pad - 4) // 2 - 4) // 2 for side, pad in zip(_sides(image_size), pads))
        flat = 16 * h * w
        self.head = nn.Sequential(nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU())
        self.classifier = nn.Linear(84, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class CNNSmall(nn.Module):
    """The compact CNN of 004 (Table A-I): conv 32@7x7, pool, conv 64@3x3 x2, pool, dense 64, 32; ELU,
    dropout 0.5, He-normal initialisation. 'same' padding keeps the table's output shapes."""

    def __init__(self, *, in_channels: int, num_classes: int, image_size: int | tuple[int, int]):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, 32, 7, padding=3), nn.ELU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ELU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ELU(), nn.MaxPool2d(2), nn.Flatten(),
        )
        h, w = _sides(image_size)
        flat = 64 * (h // 4) * (w // 4)
        self.head = nn.Sequential(nn.Linear(flat, 64), nn.ELU(), nn.Dropout(0.5), nn.Linear(64, 32), nn.ELU(),
                                  nn.Dropout(0.5))
        self.classifier = nn.Linear(32, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(nn.Module):
    """He et al. 2016 with the CIFAR stem (3x3 conv, stride 1, no max pool) for small images."""

    def __init__(self, *, in_channels: int, num_classes: int, image_size: int | tuple[int, int]):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(512, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # global average pooling as a mean: adaptive_avg_pool2d's CUDA backward has no deterministic kernel,
        # so it stops training under torch.use_deterministic_algorithms
        return self.layers(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODELS = {"lenet5": LeNet5, "cnn_small": CNNSmall, "resnet18": ResNet18}
assert tuple(MODELS) == MODEL_NAMES  # the names params.yaml is checked against


def _sides(image_size: int | tuple[int, int]) -> tuple[int, int]:
    return (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)


def lone_image_fails(model: nn.Module, *, in_channels: int, image_size: int | tuple[int, int]) -> bool:
    """Whether a training batch of one image leaves some batch norm of ``model`` one value per channel, which
    it cannot normalise (torch raises): resnet18 on 8x8 images, whose last stage is 1x1. Found by one
    forward pass of a zero image in eval mode (no batch statistic, no random number used), the mode restored."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    single = []
    hooks = [m.register_forward_pre_hook(lambda _, args: single.append(args[0][0].numel() == args[0].shape[1]))
             for m in norms]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, in_channels, *_sides(image_size)))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return any(single)


def build_model(name: str, *, in_channels: int, num_classes: int, image_size: int | tuple[int, int],
                option: str = "train.model") -> nn.Module:
    """A fresh model by name (see :data:`MODELS`) for images of side ``image_size`` or ``(H, W)``; an error
    names ``option``, the params path the name came from (``represent.judge.model`` for the represent judge:
    before, every error named train.model, which the user may not have set at all)."""
    if name not in MODELS:
        raise WinnowError(f"{option}: unknown model {name!r}; choose one of {', '.join(MODELS)}")
    if min(_sides(image_size)) < MIN_SIDE:
        shown = "x".join(map(str, _sides(image_size)))
        raise WinnowError(f"{option}: images of {shown}px are too small for {name} (at least {MIN_SIDE})")
    return MODELS[name](in_channels=in_channels, num_classes=num_classes, image_size=image_size)
