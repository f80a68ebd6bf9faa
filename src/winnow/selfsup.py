"""Self-supervised features: SimCLR (Chen et al. 2020) in torch alone, small enough for two CPU cores.

Each image is seen as two random views (crop, flip, colour); an encoder and a projection head map both,
and the NT-Xent loss pulls the two views of one image together while pushing them from the other
``2B - 2`` views of the batch. No label is an input, so the features cannot learn label noise: two
images end up close because they look alike, which is what a judge of labels needs.

Read top to bottom: :class:`SelfSupConfig`, :class:`SimCLR` (encoder + head), :func:`augment`,
:func:`nt_xent`, :func:`pretrain` (the loop), :func:`encode`, :func:`save` and :func:`load`.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from winnow.configs import SelfSupConfig
from winnow.device_rows import to_tensor
from winnow.engine import Encoder
from winnow.errors import WinnowError
from winnow.progress_env import epoch_bar
from winnow.stage import torch_file_damage, write_torch
from winnow.torch_runtime import determinism_kept, deterministic_algorithms, pick_device


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SimCLR(nn.Module):
    """Encoder (three 3x3 conv blocks, the first with stride 2, then global average pooling) and the
    projection head the loss sees. Features are the encoder's output, before the head: the head learns
    to discard what the augmentations vary, which later tasks still need (SimCLR section 4.2).

    A 28x28 digit becomes 14x14 after the stem and 7x7 after the pool. Its cost on two CPU cores is in
    benchmarks/results/represent_speed.json (about 3 s an epoch on MNIST-5k, 9 s on the CIFAR subset when
    the machine is quiet); a 6-layer width-64 net was reported at ~4 min an epoch on the CIFAR subset.
    """

    def __init__(self, *, in_channels: int, width: int, projection_dim: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(
            _block(in_channels, width, stride=2),
            _block(width, 2 * width), nn.MaxPool2d(2),
            _block(2 * width, 4 * width), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.dim = 4 * width
        self.head = nn.Sequential(nn.Linear(self.dim, self.dim), nn.ReLU(inplace=True),
                                  nn.Linear(self.dim, projection_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def augment(batch: torch.Tensor, *, generator: torch.Generator, min_scale: float, hflip: bool) -> torch.Tensor:
    """One random view of each image: float ``(B, C, H, W)`` in [0, 1] → the same shape, in [0, 1].

    Random resized crop (area in ``[min_scale, 1]``, aspect 3/4..4/3, resampled to the full size, which
    also translates) and optional mirror, in one batched affine resample; then, with probability 0.8,
    brightness and contrast jitter (and saturation for RGB); RGB views turn grey with probability 0.2,
    grey views get Gaussian noise (sigma up to 0.05). Random numbers come from ``generator`` (on the
    CPU), so a view depends on the seed alone, not on the device.
    """
    b, c, h, w = batch.shape

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return (low + (high - low) * torch.rand(b, *shape, generator=generator)).to(batch.device)

    area, log_ratio = uniform(min_scale, 1.0), uniform(math.log(3 / 4), math.log(4 / 3))
    sx = (area * log_ratio.exp()).sqrt().clamp(max=1.0)  # crop width and height as fractions of the image
    sy = (area / log_ratio.exp()).sqrt().clamp(max=1.0)
    cx, cy = (2 * uniform(0, 1) - 1) * (1 - sx), (2 * uniform(0, 1) - 1) * (1 - sy)  # crop stays inside
    if hflip:
        sx = torch.where(uniform(0, 1) < 0.5, -sx, sx)
    zero = torch.zeros_like(sx)
    theta = torch.stack([torch.stack([sx, zero, cx], 1), torch.stack([zero, sy, cy], 1)], 1)
    grid = F.affine_grid(theta, [b, c, h, w], align_corners=False)
    view = F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)

    jitter = (uniform(0, 1, 1, 1, 1) < 0.8).float()
    view = view * (1 + jitter * uniform(-0.4, 0.4, 1, 1, 1))  # brightness
    level = _grey(view).mean((2, 3), keepdim=True)
    view = (view - level) * (1 + jitter * uniform(-0.4, 0.4, 1, 1, 1)) + level  # contrast
    if c == 3:
        grey = _grey(view)
        view = (view - grey) * (1 + jitter * uniform(-0.4, 0.4, 1, 1, 1)) + grey  # saturation
        view = torch.where(uniform(0, 1, 1, 1, 1) < 0.2, _grey(view).expand_as(view), view)
    else:
        view = view + uniform(0, 0.05, 1, 1, 1) * torch.randn(view.shape, generator=generator).to(view.device)
    return view.clamp(0, 1)


def _grey(batch: torch.Tensor) -> torch.Tensor:
    """float ``(B, 1, H, W)`` luminance (ITU-R 601 weights, as PIL's convert("L")) of ``(B, C, H, W)``."""
    if batch.shape[1] == 1:
        return batch
    return (batch * torch.tensor([0.299, 0.587, 0.114], device=batch.device)[:, None, None]).sum(1, keepdim=True)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """The NT-Xent loss of two views' projections, float ``(B, P)`` each: cross-entropy of each view's
    cosine similarities (over ``temperature``) to the other ``2B - 1`` views, its twin being the target."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = (z @ z.T / temperature).fill_diagonal_(-torch.inf)
    b = len(z1)
    twin = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
    return F.cross_entropy(sim, twin)


@dataclass
class Pretrained:
    """A trained :class:`SimCLR` and what :func:`encode` needs."""

    model: SimCLR
    mean: torch.Tensor  # (C,) float32, of the training images scaled to [0, 1]
    std: torch.Tensor
    history: list[dict[str, float]]  # per epoch: epoch, loss (mean NT-Xent), seconds
    config: SelfSupConfig


def pretrain(images: np.ndarray, *, config: SelfSupConfig, seed: int, progress: bool = True) -> Pretrained:
    """Train SimCLR on ``images`` (uint8 ``(N, H, W, C)``, labels never seen) for ``config.epochs`` epochs,
    or fewer when ``config.seconds`` runs out; cosine learning-rate decay over the epochs budget.

    On CPU the result is identical for one seed and thread count (``config.threads``; the wall-clock
    budget aside, which depends on the machine). On CUDA the steps run under bf16 autocast.
    """
    if len(images) < 2:
        # before: the line ended there, with nothing to do about it
        raise WinnowError(f"represent.selfsup: {len(images)} image(s) to learn from (the train and val splits), and "
                          "contrastive learning needs two; add train or val images, or choose represent.source "
                          "pretrained or file")
    if min(images.shape[1:3]) < 3:  # the stem's stride and the pooling leave nothing of a 2x2 image
        raise WinnowError(f"represent.selfsup: images of {images.shape[1]}x{images.shape[2]} pixels; the encoder "
                          "needs at least 3x3: set ingest.size, or choose represent.source judge or pretrained")
    device = pick_device(config.device, option="represent.selfsup.device")
    # before: left deterministic (warn only) for the process
    with _threads(config.threads), determinism_kept(), ExitStack() as stack:
        torch.manual_seed(seed)
        if device.type == "cpu":
            deterministic_algorithms(True, warn_only=True)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        x = to_tensor(images, device)
        scaled = x.float() / 255.0
        mean, std = scaled.mean(dim=(0, 2, 3)), scaled.std(dim=(0, 2, 3)).clamp_min(1e-3)
        del scaled
        model = SimCLR(in_channels=x.shape[1], width=config.width).to(device)
        batch_size = min(config.batch_size, len(x))
        steps = len(x) // batch_size  # the last partial batch is left out: a batch of a few gives a noisy loss
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps)
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
        history, start = [], time.perf_counter()
        bar = stack.enter_context(epoch_bar(shown=progress, total=config.epochs, desc="represent selfsup"))
        for epoch in range(1, config.epochs + 1):
            model.train()
            order, total = torch.randperm(len(x), generator=generator).to(device), 0.0
            for step in range(steps):
                batch = x[order[step * batch_size:(step + 1) * batch_size]].float() / 255.0
                views = torch.cat([augment(batch, generator=generator, min_scale=config.min_scale,
                                           hflip=config.hflip) for _ in range(2)])
                with autocast:  # both views in one pass: the batch-norm statistics are the whole batch's
                    z = model((views - mean[:, None, None]) / std[:, None, None])
                loss = nt_xent(z[:len(batch)], z[len(batch):], temperature=config.temperature)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item()
            elapsed = time.perf_counter() - start
            history.append({"epoch": epoch, "loss": total / steps, "seconds": elapsed})
            if bar is not None:
                bar.set_postfix(loss=f"{total / steps:.3f}", refresh=False)
                bar.update()
            if config.seconds is not None and elapsed * (epoch + 1) / epoch > config.seconds:
                break  # another epoch of the same length would overrun the budget
    return Pretrained(model.eval(), mean.cpu(), std.cpu(), history, config)


@torch.inference_mode()
def encode(trained: Pretrained, images: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """float32 ``(N, 4 * width)`` encoder features (before the projection head) of uint8 ``(N, H, W, C)``
    images, computed in fp32."""
    device = next(trained.model.parameters()).device
    mean, std = trained.mean.to(device)[:, None, None], trained.std.to(device)[:, None, None]
    with _threads(trained.config.threads):
        out = [trained.model.encoder((to_tensor(images[i:i + batch_size], device).float() / 255.0 - mean) / std)
               for i in range(0, len(images), batch_size)]
    return torch.cat(out).float().cpu().numpy() if out else np.zeros((0, trained.model.dim), np.float32)


def encoder(trained: Pretrained) -> Encoder:
    """``trained`` as an :class:`winnow.engine.Encoder` for :meth:`winnow.engine.Engine.embed`: its
    architecture and :func:`encode`, with ``threads`` fixed to the count it runs with here (``null``: the
    current one), which actors then use too."""
    threads = torch.get_num_threads() if trained.config.threads is None else trained.config.threads
    return Encoder(trained.model, partial(SimCLR, in_channels=len(trained.mean), width=trained.config.width),
                   partial(_encode_with, mean=trained.mean, std=trained.std,
                           config=replace(trained.config, threads=threads)), trained.config.device)


def _encode_with(model: SimCLR, images: np.ndarray, *, batch_size: int, mean: torch.Tensor, std: torch.Tensor,
                 config: SelfSupConfig) -> np.ndarray:
    return encode(Pretrained(model, mean, std, [], config), images, batch_size=batch_size)


def save(trained: Pretrained, path: str | os.PathLike) -> None:
    """Write the weights (encoder and head), normalisation and history, atomically."""
    write_torch(path, {"source": "selfsup", "state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
                       "config": asdict(trained.config), "mean": trained.mean, "std": trained.std,
                       "history": trained.history})


def load(path: str | os.PathLike, *, device: str = "auto") -> Pretrained:
    """A model written by :func:`save`, on the chosen device, ready for :func:`encode`."""
    if not os.path.isfile(path):
        raise WinnowError(f"{path}: model file not found (run the represent stage with source selfsup)")
    damage = torch_file_damage(path)  # torch.load checks no CRC: flipped bits would encode with other weights
    if damage:
        raise WinnowError(f"{path}: corrupt: {damage}; run the represent stage again (dvc repro represent)")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    config = SelfSupConfig(**saved["config"])
    model = SimCLR(in_channels=len(saved["mean"]), width=config.width)
    model.load_state_dict(saved["state_dict"])
    return Pretrained(model.to(pick_device(device)).eval(), saved["mean"], saved["std"], saved["history"], config)


@contextmanager
def _threads(count: int | None):
    """torch's intra-op thread count set to ``count`` inside the block (None: left alone)."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
