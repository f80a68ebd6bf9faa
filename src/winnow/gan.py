"""A class-conditional DCGAN in torch alone: the generator, the discriminator, a small training loop,
and generation.

Read top to bottom: :class:`Generator`, :class:`Discriminator`, :func:`train_gan` (its
:class:`winnow.configs.GanConfig` is the ``gan.train:`` section), :func:`generate`. Filtering and
quality measures live in :mod:`winnow.gan_eval`.

Stability: every weight of the discriminator is spectrally normalised (Miyato et al. 2018) and both
nets train on the hinge loss. The class enters the discriminator twice: by projection (Miyato &
Koyama 2018) into the realness score, and as an auxiliary classifier head (AC-GAN, Odena et al. 2017)
trained with cross-entropy on real images; the generator is trained to make that head predict the
class it was asked for. Without the head the projection alone did not make samples class-specific
in a CPU budget (MNIST-5k, 15 epochs: digit-like strokes of any class, 0-0.2% passing a 0.9
classifier filter). The generator is a plain DCGAN (Radford et al. 2016): transposed convolutions
with batch norm, tanh out, the class as a learned embedding that scales the latent vector.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from winnow.configs import GanConfig, gan_size_fits
from winnow.device_rows import to_tensor
from winnow.errors import WinnowError, out_of_memory, refuse_unreadable
from winnow.gan_memory import GENERATE_BATCH
from winnow.progress_env import epoch_bar
from winnow.stage import torch_file_damage, write_torch
from winnow.stand_ins import is_stand_in
from winnow.torch_runtime import determinism_kept, deterministic_algorithms, pick_device


class Generator(nn.Module):
    """(z float32 ``(B, latent_dim)``, labels int64 ``(B,)``) → images float ``(B, C, S, S)`` in [-1, 1]."""

    def __init__(self, *, latent_dim: int, num_classes: int, channels: int, image_size: int, width: int):
        super().__init__()
        self.latent_dim, self.base = latent_dim, image_size // 4
        self.embed = nn.Embedding(num_classes, latent_dim)
        self.project = nn.Sequential(nn.Linear(latent_dim, 2 * width * self.base ** 2, bias=False),
                                     nn.BatchNorm1d(2 * width * self.base ** 2), nn.ReLU())
        self.body = nn.Sequential(  # two stride-2 upsamplings: S/4 → S/2 → S
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # z scaled elementwise by the class embedding: the label only acts through z, so a generator
        # that ignored z (one image per class, mode collapse) would have to ignore the label too
        h = self.project(z * self.embed(labels))
        return self.body(h.view(len(z), -1, self.base, self.base))


class Discriminator(nn.Module):
    """(images float ``(B, C, S, S)`` in [-1, 1], labels int64 ``(B,)``) → (float ``(B,)`` realness scores,
    float ``(B, classes)`` class logits).

    Projection: score = w·h + embed(label)·h, with h the flattened features, so the class acts through an
    inner product instead of an extra input channel. The class logits come from an auxiliary head on the
    same features (AC-GAN); they do not depend on ``labels``.
    """

    def __init__(self, *, num_classes: int, channels: int, width: int, image_size: int):
        super().__init__()
        self.body = nn.Sequential(  # two stride-2 convolutions, S → S/2 → S/4, as DCGAN's: cheap on a CPU
            spectral_norm(nn.Conv2d(channels, width, 4, 2, 1)), nn.LeakyReLU(0.1),
            spectral_norm(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.1),
        )
        features = 2 * width * (image_size // 4) ** 2
        self.linear = spectral_norm(nn.Linear(features + 1, 1))
        self.embed = spectral_norm(nn.Embedding(num_classes, features))
        self.classify = spectral_norm(nn.Linear(features, num_classes))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x).flatten(1)
        # minibatch standard deviation (Karras et al. 2018): a batch of near-identical fakes is easy to
        # tell apart, so a generator that ignores its latent vector is punished (mode collapse)
        spread = h.std(dim=0).mean().expand(len(h), 1)
        score = self.linear(torch.cat([h, spread], dim=1)).squeeze(1) + (self.embed(labels) * h).sum(dim=1)
        return score, self.classify(h)


@dataclass
class TrainedGan:
    """A trained generator and its losses; ``history`` has one dict per epoch: ``epoch, d_loss, g_loss`` and
    ``ac_real_acc, ac_fake_acc``, how often the discriminator's class head named the class of real images
    and the requested class of generated ones."""

    generator: Generator
    history: list[dict[str, float]]
    config: GanConfig


def build(config: GanConfig, *, num_classes: int, channels: int, image_size: int) -> tuple[Generator, Discriminator]:
    if not gan_size_fits(image_size):
        raise WinnowError(f"gan: images of {image_size}px do not fit the generator; it needs a multiple of 4, "
                          "at least 8 (set ingest.size)")
    gen = Generator(latent_dim=config.latent_dim, num_classes=num_classes, channels=channels,
                    image_size=image_size, width=config.width)
    disc = Discriminator(num_classes=num_classes, channels=channels, width=config.width, image_size=image_size)
    return gen, disc


@determinism_kept()  # set for the CPU's run below; before, left on for the rest of the process
def train_gan(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    config: GanConfig,
    num_classes: int,
    seed: int,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
) -> TrainedGan:
    """Train generator and discriminator on real images with the hinge loss plus the auxiliary
    classifier's cross-entropy (weighted by ``config.ac_weight``), one D step per G step.

    Args:
        images: uint8 ``(N, S, S, C)``.
        labels: int ``(N,)`` in ``[0, num_classes)``.
        checkpoint: written after every epoch (atomically); when it holds fewer epochs of a run of the
            same data, seed, code (:data:`CODE`, torch's version too), device and otherwise the same config, training
            resumes from it (so raising ``epochs`` continues a finished run), and when it holds all of them that
            run's nets are returned as they are, no epoch trained and the file left as it was.
    """
    if len(images) < 2:
        # said with a fix: before, "a GAN needs at least a batch of real images" named nothing to change
        raise WinnowError(f"gan: {len(images)} training image(s); a GAN needs at least 2 (batch norm normalises over a "
                          "batch of real images): give the pruned variant more train images (fewer drops of "
                          "pruned.cleaners), or leave augmented out of variants")
    device = pick_device(config.device, option="gan.train.device")
    torch.manual_seed(seed)
    if device.type == "cpu":
        deterministic_algorithms(True, warn_only=True)
    order_rng = torch.Generator(device="cpu").manual_seed(seed)
    x = to_tensor(images, device)  # uint8 (N, C, S, S); scaled per batch so the set stays small on device
    y = torch.as_tensor(np.array(labels), dtype=torch.long, device=device)
    if x.shape[2] != x.shape[3]:  # the generator's transposed convolutions make square images
        raise WinnowError(f"gan: images of {x.shape[2]}x{x.shape[3]}px; the generator makes square images: set "
                          "ingest.size to resize them, or leave augmented out of variants")
    gen, disc = build(config, num_classes=num_classes, channels=x.shape[1], image_size=x.shape[2])
    gen, disc = gen.to(device), disc.to(device)
    # betas (0.5, 0.999): DCGAN's; a lower beta1 keeps Adam from overshooting against a moving target
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr_d, betas=(config.beta1, 0.999))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    data = _fingerprint(images, labels)
    history, start = _resume(checkpoint, config, seed, data, gen, disc, opt_g, opt_d, order_rng,
                             num_classes=num_classes, image_shape=images.shape[1:], device=device_tag(device))

    # each epoch counted as it ends, its losses beside it (progress_env.epoch_bar): before, a bar wrapping the epochs
    # drew each epoch's losses beside the count of the epoch before ("0/3 ... d=3.442, g=1.609"), there while the next
    # epoch ran
    with epoch_bar(shown=progress, total=config.epochs, desc="train gan", initial=start) as bar:
        for epoch in range(start + 1, config.epochs + 1):
            gen.train(), disc.train()
            sums = dict.fromkeys(("d_loss", "g_loss", "ac_real_acc", "ac_fake_acc"), 0.0)
            order = torch.randperm(len(x), generator=order_rng).to(device)
            # the ragged last batch is dropped: batch norm on a handful of images is noise
            for step in range(max(1, len(order) // config.batch_size)):
                idx = order[step * config.batch_size:(step + 1) * config.batch_size]
                real, real_y = x[idx].float() / 127.5 - 1.0, y[idx]
                z = torch.randn(len(idx), config.latent_dim, generator=order_rng).to(device)
                # class-balanced fakes: every class equally often whatever the real frequencies, so a rare
                # (weak) class gets as many generator updates as a common one. The cyclic run of labels starts at a
                # random class: from class 0 a batch of 64 asked for classes 0-63 only, and on 100 classes the
                # generator never learnt classes 64-99 (their samples came from an untrained embedding)
                first = torch.randint(num_classes, (1,), generator=order_rng)
                fake_y = ((torch.randperm(len(idx), generator=order_rng) + first) % num_classes).to(device)
                with autocast:
                    fake = gen(z, fake_y)
                    real_score, real_logits = disc(real, real_y)
                    fake_score, _ = disc(fake.detach(), fake_y)
                    d_loss = (F.relu(1 - real_score).mean() + F.relu(1 + fake_score).mean()
                              + config.ac_weight * F.cross_entropy(real_logits.float(), real_y))
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                opt_d.step()
                with autocast:
                    score, logits = disc(fake, fake_y)
                    # AC-GAN: the generator is also scored on whether the discriminator's class head sees the
                    # requested class; the head only ever learns from real images, so it cannot be taught by
                    # the generator's own samples what a class looks like
                    g_loss = -score.mean() + config.ac_weight * F.cross_entropy(logits.float(), fake_y)
                opt_g.zero_grad(set_to_none=True)
                g_loss.backward()
                opt_g.step()
                sums["d_loss"] += d_loss.item()
                sums["g_loss"] += g_loss.item()
                sums["ac_real_acc"] += (real_logits.argmax(1) == real_y).float().mean().item()
                sums["ac_fake_acc"] += (logits.argmax(1) == fake_y).float().mean().item()
            history.append({"epoch": epoch, **{k: v / (step + 1) for k, v in sums.items()}})
            broken = next((name for name in ("d_loss", "g_loss") if not math.isfinite(history[-1][name])), None)
            if broken is not None:  # before: NaN losses went into metrics/gan.json and all-black samples into augmented
                who = "discriminator" if broken == "d_loss" else "generator"
                raise WinnowError(f"gan: training diverged: the {who}'s loss became {history[-1][broken]} at epoch "
                                  f"{epoch}; lower gan.train.lr, gan.train.lr_d or gan.train.ac_weight "
                                  f"({config.ac_weight:g})")
            # the epoch's last step can break the weights after its (finite) losses were taken, as winnow.training's
            # val loss checks for the classifier: before, the last epoch's NaN generator was saved and its samples, NaN
            # cast to uint8, came out black and were kept in augmented (threshold 0: 4 of 4), exit 0
            if not all(torch.isfinite(t).all() for t in gen.state_dict().values() if t.is_floating_point()):
                raise WinnowError(f"gan: training diverged: the generator's weights became non-finite in the last step "
                                  f"of epoch {epoch}, after its losses were taken; lower gan.train.lr, gan.train.lr_d "
                                  f"or gan.train.ac_weight ({config.ac_weight:g})")
            if bar is not None:
                bar.set_postfix(d=f"{history[-1]['d_loss']:.3f}", g=f"{history[-1]['g_loss']:.3f}", refresh=False)
                bar.update()
            if checkpoint is not None:
                _save(checkpoint, config=config, seed=seed, data=data, device=device_tag(device), history=history,
                      gen=gen, disc=disc, opt_g=opt_g, opt_d=opt_d, order_rng=order_rng, num_classes=num_classes,
                      image_shape=images.shape[1:])
    return TrainedGan(gen.eval(), history, config)


@torch.inference_mode()
def generate(generator: Generator, labels: np.ndarray, *, seed: int, batch_size: int = GENERATE_BATCH) -> np.ndarray:
    """uint8 ``(N, S, S, C)`` images, one per requested int label ``(N,)``; same seed, same images on CPU, whatever
    ``batch_size``.

    The generator runs in eval mode, so batch norm uses its running statistics and an image does not
    depend on which others share its batch. Each batch is made uint8 as it comes: float32 outputs are held for one
    batch only (:func:`winnow.gan_memory.generation_bytes`). A non-finite pixel is refused (:class:`WinnowError`).
    """
    generator.eval()
    device = next(generator.parameters()).device
    rng = torch.Generator(device="cpu").manual_seed(seed)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    z = torch.randn(len(labels), generator.latent_dim, generator=rng)
    size, channels = 4 * generator.base, generator.body[-2].out_channels
    # filled as the generator's (N, C, S, S) and returned as its (N, S, S, C) view, the layout the samples always had:
    # a contiguous copy gave the classifier's convolutions other strides (one channel) and other last bits of
    # p_intended and the Fréchet distances
    pixels = np.empty((len(labels), channels, size, size), np.uint8)
    for i in range(0, len(labels), batch_size):
        out = generator(z[i:i + batch_size].to(device), labels[i:i + batch_size].to(device)).float()
        broken = ~torch.isfinite(out).flatten(1).all(dim=1)
        if broken.any():  # cast to uint8, NaN came out as a black image, kept without a word
            first = i + int(broken.nonzero()[0, 0])
            raise WinnowError(f"gan: the generator drew non-finite pixels (NaN or inf) for sample {first:,} of "
                              f"{len(labels):,} (label {int(labels[first])}): its weights are broken; remove "
                              "models/gan.pt to train the GAN afresh, with a lower gan.train.lr, gan.train.lr_d or "
                              "gan.train.ac_weight")
        # as one rounding of all the outputs: elementwise, so a batch at a time gives the same bytes
        batch = ((out + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
        pixels[i:i + len(out)] = batch.cpu().numpy()
    return pixels.transpose(0, 2, 3, 1)


def _fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """The SHA-256 of the training images and labels: a checkpoint resumes only on the data it was trained on
    (a run killed before a person's verdicts changed the pruned variant had resumed on other images)."""
    digest = hashlib.sha256(np.ascontiguousarray(np.asarray(labels, dtype=np.int64)).tobytes())
    for start in range(0, len(images), 4096):  # a memory map is read a slice at a time
        digest.update(np.ascontiguousarray(images[start:start + 4096]).tobytes())
    return digest.hexdigest()


# the code that trains the GAN: the SHA-256 of each winnow module whose code runs in training (this one: the nets and
# the loop; device_rows: the images' copy to the device; torch_runtime: the device and the deterministic kernels), and
# torch's version, whose kernels compute it. A checkpoint resumes, or is reused, only under the same code. Before: after
# a change to this file (a winnow update), dvc repro reran gan-synthesize for it, and the persisted models/gan.pt of
# the old code was reused as it was, exit 0; and, with this file alone hashed, so it was after an edit of to_tensor
CODE = {**{f"src/winnow/{Path(module.__file__).name}": hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()
           for module in map(sys.modules.get, (__name__, to_tensor.__module__, pick_device.__module__))},
        "torch version": str(torch.__version__)}  # str: a TorchVersion is a global torch.load(weights_only) refuses


def device_tag(device: torch.device) -> str:
    """What a GAN's weights depend on of the device that trained them: ``cpu`` (float32, deterministic kernels) or
    ``cuda:<its name>`` (bfloat16 autocast, the card's own kernels)."""
    return f"cuda:{torch.cuda.get_device_name(device)}" if device.type == "cuda" else device.type


def _save(path, *, config, seed, data, device, history, gen, disc, opt_g, opt_d, order_rng, num_classes,
          image_shape) -> None:
    write_torch(path, {"config": asdict(config), "seed": seed, "data": data, "code": CODE, "device": device,
                       "history": history, "num_classes": num_classes,
                       "image_shape": list(image_shape), "generator": gen.state_dict(),
                       "discriminator": disc.state_dict(), "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                       "rng": order_rng.get_state()})


def _resume(path, config, seed, data, gen, disc, opt_g, opt_d, order_rng, *, num_classes, image_shape,
            device: str) -> tuple[list[dict[str, float]], int]:
    """(history, epochs done) from a checkpoint of the same run (data, seed, config, classes, image shape, code and
    ``device``, :func:`device_tag`), ``config.epochs`` of them for a finished one, or ([], 0) to start afresh.
    Before: a finished run of the same data, seed and config was trained again from scratch (gan-synthesize rerun for
    ``gan.threshold`` alone: 12 epochs, 64 s on 2 cores, for the same weights on CPU)."""
    # a skipped run's stand-in is no checkpoint: the stage leaves it in place until the first epoch overwrites it,
    # so a refusal before then leaves every stand-in as it was
    if path is None or not Path(path).is_file() or is_stand_in(path):
        return [], 0
    ckpt = _read_checkpoint(path, needed=CHECKPOINT_KEYS)
    # the classes and the image shape too: the images' bytes alone do not fix them, and nets of another shape are
    # another run, not a damaged file. An earlier winnow's checkpoint keeps no code, or gan.py's digest alone: every
    # part of the code differs
    code = ckpt.get("code") if isinstance(ckpt.get("code"), dict) else {}
    differs = {"images or labels": ckpt.get("data") != data, "seed": ckpt["seed"] != seed,
               # device as the option is spelt: the device it picks is "device" below (before: auto edited to cpu on a
               # machine without a GPU trained the same weights afresh, "not the same gan.train")
               "gan.train": {**ckpt["config"], "epochs": config.epochs, "device": config.device} != asdict(config),
               "classes": ckpt["num_classes"] != num_classes,
               "image shape": list(ckpt["image_shape"]) != list(image_shape),
               # before: gan.train.device auto, a GAN trained on a GPU (bfloat16) was reused as it was on a machine
               # without one, and a run killed there resumed on the CPU: weights no run of either device makes
               "device": ckpt.get("device") != device,
               **{name: code.get(name) != digest for name, digest in CODE.items()}}
    # another run's checkpoint, or a longer one (its nets at this epoch are not kept): start over, saying why. Before:
    # without a word, so a rerun expected to resume or reuse the GAN trained all of it again, unexplained
    if any(differs.values()):
        # "not the same ...": "its ... differ" read "its seed differ" when one thing differed
        named = ", ".join(name for name, other in differs.items() if other)
        print(f"gan: {path} holds another run (not the same {named}); training the GAN afresh")
        return [], 0
    if len(ckpt["history"]) > config.epochs:
        print(f"gan: {path} holds {len(ckpt['history'])} epochs and gan.train.epochs is {config.epochs}, whose nets it "
              "does not keep; training the GAN afresh")
        return [], 0
    try:
        gen.load_state_dict(ckpt["generator"])
        disc.load_state_dict(ckpt["discriminator"])
        opt_g.load_state_dict(ckpt["opt_g"])
        opt_d.load_state_dict(ckpt["opt_d"])
        order_rng.set_state(ckpt["rng"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:  # nets of another shape (another version)
        if out_of_memory(err):  # a device's memory, not the checkpoint's fault
            raise
        raise _damaged(path, f"its weights do not fit this run's nets ({_detail(err)})") from err
    return ckpt["history"], len(ckpt["history"])


# what _save writes; a resumed run reads them all (the optimisers' and the order's state too)
CHECKPOINT_KEYS = ("config", "seed", "history", "num_classes", "image_shape", "generator", "discriminator", "opt_g",
                   "opt_d", "rng")


def _read_checkpoint(path, *, needed) -> dict:
    """The dict :func:`_save` wrote at ``path``; a truncated, foreign or incomplete file raises one line that
    names it. Before: torch's traceback ("PytorchStreamReader failed reading zip archive") or a KeyError."""
    import pickle
    import warnings

    damage = torch_file_damage(path)  # torch.load checks no CRC: flipped bits would resume as other weights
    if damage:
        raise _damaged(path, f"corrupt: {damage}")
    try:
        with warnings.catch_warnings():  # torch warns before failing on a file that is no zip archive
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise _damaged(path, "not a GAN checkpoint (a pickle torch.load(weights_only=True) refuses)") from err
    # IndexError, KeyError: torch's legacy unpickler on a text file ('stub', 'skipped: ...')
    except (EOFError, OSError, RuntimeError, ValueError, IndexError, KeyError) as err:
        refuse_unreadable(err, path)  # before: "remove it to train the GAN afresh", of a file it may not read
        if out_of_memory(err):  # torch's allocator under a memory limit: the epochs it holds are whole
            raise
        raise _damaged(path, f"not a readable GAN checkpoint ({_detail(err)})") from err
    missing = [key for key in needed if key not in ckpt] if isinstance(ckpt, dict) else list(needed)
    if missing:
        raise _damaged(path, f"not a GAN checkpoint of this version (lacks {', '.join(missing)})")
    return ckpt


def _detail(err: BaseException) -> str:
    return str(err).strip().split(". ")[0].splitlines()[0][:160] if str(err).strip() else type(err).__name__


def _damaged(path, problem: str) -> WinnowError:
    # the stage's own checkpoint, read back to resume: rerunning would read it again, so the fix is to remove it
    return WinnowError(f"{path}: {problem}; remove it to train the GAN afresh (gan-synthesize writes it anew)")


def load_generator(path: str | os.PathLike, *, device: str = "auto") -> TrainedGan:
    """The generator of a checkpoint written by :func:`train_gan`."""
    if not Path(path).is_file():
        raise WinnowError(f"{path}: GAN checkpoint not found (run gan-synthesize)")
    ckpt = _read_checkpoint(path, needed=("config", "history", "num_classes", "image_shape", "generator"))
    config = GanConfig(**ckpt["config"])
    size, _, channels = ckpt["image_shape"]
    gen, _ = build(config, num_classes=ckpt["num_classes"], channels=channels, image_size=size)
    gen.load_state_dict(ckpt["generator"])
    return TrainedGan(gen.to(pick_device(device)).eval(), ckpt["history"], config)
