"""A small training loop: data as tensors on the device, augmentation in batches on the device,
best-on-val checkpoint, early stopping on val with patience under a maximum budget of epochs, CUDA with
bf16 autocast when present, DistributedDataParallel under torchrun.

Reproducible where it can be: the same seed, thread count (``threads``) and machine give bit-identical
weights and probabilities; evaluation runs in float32 on every device (README, Training).

Read top to bottom: :func:`fit` (its :class:`winnow.configs.TrainConfig` is the ``train:`` section), then
the helpers it uses.
"""

from __future__ import annotations

import math
import os
import shutil
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from winnow.augment import apply_policy
from winnow.configs import STEP_SETTINGS, Policy, TrainConfig
from winnow.device_rows import channel_stats, device_images
from winnow.engine import Encoder
from winnow.epoch_batches import epoch_batches
from winnow.errors import WinnowError
from winnow.metrics import no_better_than_one_class, recall_total
from winnow.models import build_model, lone_image_fails
from winnow.progress_env import epoch_bar
from winnow.schedule import optimizer_and_schedule, patience_starts
from winnow.torch_runtime import (
    DEFAULT_THREADS, check_same_data, ddp_device, distributed_setup, float32_math, pick_device, rank_seed,
    reproducible, shard, sync_buffers,
)




@dataclass
class Trained:
    """A fitted model and what is needed to use it again."""

    model: nn.Module
    mean: torch.Tensor  # (C,) float32, of the training images scaled to [0, 1]
    std: torch.Tensor
    history: list[dict[str, float]]
    best_epoch: int
    config: TrainConfig
    # the seed fit drew from, which a checkpoint keeps (budget reuses the represent judge only when it is params'
    # seed); None where unknown: a checkpoint of an earlier winnow
    seed: int | None = None
    # the policy every training batch was augmented by (train.augment's), which a checkpoint keeps; None: none
    policy: Policy | None = None

    @property
    def best_val_acc(self) -> float:
        """Val accuracy at the epoch kept."""
        return float(self.history[self.best_epoch - 1]["val_acc"])

    @property
    def stop_reason(self) -> str:
        """``patience`` when val accuracy stopped improving before ``config.epochs``, else ``budget``."""
        return "patience" if len(self.history) < self.config.epochs else "budget"

    def stopped(self) -> str:
        """How the run ended, in words: ``stopped at epoch 12/30 (patience 5: best val acc 0.9620 at epoch 7)``."""
        why = f"patience {self.config.patience}" if self.stop_reason == "patience" else "budget"
        return (f"stopped at epoch {len(self.history)}/{self.config.epochs} ({why}: best val acc "
                f"{self.best_val_acc:.4f} at epoch {self.best_epoch})")


def normalise(batch: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (batch.float() / 255.0 - mean[:, None, None]) / std[:, None, None]


def augment(batch: torch.Tensor, *, padding: int, hflip: bool, generator: torch.Generator) -> torch.Tensor:
    """Random crop after zero padding and optional horizontal flip, for a whole float batch at once."""
    b, _, h, w = batch.shape
    if padding > 0:
        padded = F.pad(batch, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=generator.device).to(batch.device)
        dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=generator.device).to(batch.device)
        rows = (dy[:, None] + torch.arange(h, device=batch.device))[:, :, None]
        cols = (dx[:, None] + torch.arange(w, device=batch.device))[:, None, :]
        batch = padded[torch.arange(b, device=batch.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    if hflip:
        flip = (torch.rand(b, generator=generator, device=generator.device) < 0.5).to(batch.device)
        batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
    return batch


def fit(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    *,
    config: TrainConfig,
    num_classes: int,
    seed: int,
    log_dir: str | os.PathLike | None = None,
    progress: bool = True,
    policy: Policy | None = None,
    label: str | None = None,
) -> Trained:
    """Train ``config.model`` and return the weights of the epoch with the best validation accuracy.

    Training runs at most ``config.epochs`` epochs and stops early once ``config.patience`` epochs in a row
    brought no strictly higher val accuracy (None: never). The learning-rate schedule is laid over the whole
    budget whether or not the run stops early, so a run that stops is exactly the first epochs of the run
    that does not (the same weights at every epoch); stopping only saves the epochs after the last
    improvement. Epochs count towards patience only once the learning rate is down to half its peak
    (:func:`winnow.schedule.patience_starts`).
    Under DDP every rank takes rank 0's val numbers, so all keep the same epoch and stop at the same one.

    Args:
        train_images, val_images: uint8 ``(N, H, W, C)``.
        train_labels, val_labels: int ``(N,)`` in ``[0, num_classes)``.
        log_dir: where dvclive writes per-epoch metrics (rank 0 only), epoch by epoch; None logs nothing. A
            caller replacing an older log gives a staging folder (stages/train.py: winnow.stage.together).
        policy: augmentation applied to every training batch on the device before the random crop and
            flip (:func:`winnow.augment.apply_policy`, drawn from the rank's augmentation stream); None: none.
        label: which of a judge's models this is (``confident-learn fold 2/4``), beside ``train <model>`` in its bar
            and lines: before, a K-fold judge's lines and warnings were K alike, none saying which model they were of.
    """
    rank, world = distributed_setup()
    device = (pick_device(config.device, option=config.option("device")) if world == 1 else
              ddp_device(rank, requested=config.device, option=config.option("device")))
    if world > 1:  # before the checks below: one rank failing one alone left the others waiting in the comparison
        check_same_data(train_images, np.asarray(train_labels, np.int64), val_images, np.asarray(val_labels, np.int64),
                        settings={**{config.option(name): getattr(config, name) for name in STEP_SETTINGS},
                                  "seed": seed, "class count (classes.json)": num_classes,
                                  "augmentation policy (train.augment's)": policy}, device=device)
    if len(train_images) == 0:
        raise WinnowError("train: the training split is empty")
    if len(val_images) == 0:  # before: best val accuracy 0.0 at epoch 1 kept the first epoch's weights, exit 0
        raise WinnowError("train: the val split is empty; a training keeps the epoch with the best val accuracy, "
                          "so it needs val images: set ingest.val_fraction above 0")
    if config.epochs < 1:  # before dvclive opens its log: zero epochs would leave a summary of nothing
        raise WinnowError(f"{config.option('epochs')}: {config.epochs} is below 1")
    if config.patience is not None and config.patience < 1:  # 0 would stop after the first epoch, always
        raise WinnowError(f"{config.option('patience')}: {config.patience} is below 1; null runs every epoch")
    height, width = train_images.shape[1:3]
    if 2 * config.crop_padding >= min(height, width):  # the crop could keep less than half the image, or none
        raise WinnowError(f"{config.option('crop_padding')}: {config.crop_padding} pixels on {height}x{width} images "
                          f"shifts a crop past half the image; set it below {(min(height, width) + 1) // 2}, or 0 for "
                          "no crop")
    with reproducible(threads=config.threads, device=device, training=True), ExitStack() as stack:
        torch.manual_seed(seed)  # initial weights and dropout masks (the same on every rank; DDP also broadcasts)
        # the epoch's permutation comes from the seed alone, so every rank draws the same one and takes its own
        # shard of it; crops and flips come from a stream of the rank's own
        shuffle = torch.Generator(device="cpu").manual_seed(seed)
        generator = torch.Generator(device="cpu").manual_seed(rank_seed(seed, rank))

        # one device tensor each, or batches read from host memory / the memory map (train.stream)
        x_train = device_images(train_images, device, stream=config.stream)
        x_val = device_images(val_images, device, stream=config.stream)
        y_train = torch.as_tensor(np.array(train_labels), dtype=torch.long, device=device)
        y_val = torch.as_tensor(np.array(val_labels), dtype=torch.long, device=device)
        mean, std = channel_stats(x_train)

        model = build_model(config.model, in_channels=x_train.shape[1], num_classes=num_classes,
                            image_size=tuple(x_train.shape[2:4]), option=config.option("model"))
        # before: resnet18 on 8x8 images stopped in a ValueError traceback on a batch of one image
        batches = epoch_batches(math.ceil(len(x_train) / world), config.batch_size,
                                lone_fails=lone_image_fails(model, in_channels=x_train.shape[1],
                                                            image_size=tuple(x_train.shape[2:4])),
                                model=config.model, image_shape=(height, width), option=config.option("batch_size"),
                                images=len(x_train), ranks=world)
        model = model.to(device)
        if device.type == "cuda":
            model = model.to(memory_format=torch.channels_last)
        net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
        optimizer, scheduler = optimizer_and_schedule(model, config, len(batches))
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()

        live = _live(log_dir) if rank == 0 and log_dir is not None else None
        history, best_acc, best_epoch, best_state = [], -1.0, 0, None
        patience_from = patience_starts(config)
        name = f"train {config.model}" + (f" ({label})" if label else "")
        bar = stack.enter_context(epoch_bar(shown=progress and rank == 0, total=config.epochs, desc=name))
        for epoch in range(1, config.epochs + 1):
            net.train()
            order = shard(torch.randperm(len(x_train), generator=shuffle), rank=rank, world=world).to(device)
            total_loss = 0.0
            for start, stop in batches:
                idx = order[start:stop]
                batch = x_train[idx] if policy is None else apply_policy(x_train[idx], policy, generator=generator)[0]
                batch = augment(normalise(batch, mean, std), padding=config.crop_padding, hflip=config.hflip,
                                generator=generator)
                if device.type == "cuda":
                    batch = batch.contiguous(memory_format=torch.channels_last)
                with autocast:
                    loss = F.cross_entropy(net(batch), y_train[idx], label_smoothing=config.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                total_loss += loss.item() * len(idx)
            if world > 1:
                sync_buffers(model)
            val_loss, val_acc = _evaluate(model, x_val, y_val, mean, std, config.eval_batch_size)
            if world > 1:
                val_loss, val_acc = _from_rank0(val_loss, val_acc, device=device)
            record = {"epoch": epoch, "train_loss": total_loss / len(order), "val_loss": val_loss, "val_acc": val_acc}
            # the weights are NaN too: no epoch after this one is a model. The val loss as well: the epoch's last
            # step can break the weights after its (finite) loss was taken, and NaN logits argmax to class 0, so
            # such an epoch could score best on val and be saved (before: epochs 2, lr 1e6, exit 0, NaN model)
            broken = next((name for name in ("train_loss", "val_loss") if not math.isfinite(record[name])), None)
            if broken is not None:
                if live is not None:
                    live.end()
                    shutil.rmtree(log_dir, ignore_errors=True)  # this run's log, a partial one: gone with it
                what = "training loss" if broken == "train_loss" else "val loss"
                # AdamW's decoupled decay scales the weights by 1 - lr * weight_decay each step: at 0 or below the
                # decay is the cause, not lr; sgd's and adam's decay adds to the gradient, so either may be
                step = config.lr * config.weight_decay
                lr, decay = config.option("lr"), config.option("weight_decay")
                fix = (f"lower {lr}" if step < 1 else
                       f"lower {decay} ({config.weight_decay:g}: each step scales the weights by 1 - "
                       f"lr * weight_decay = {1 - step:g})" if config.optimizer == "adamw" else
                       f"lower {lr} or {decay}")
                raise WinnowError(f"train: the {what} became {record[broken]} at epoch {epoch} "
                                  f"({config.optimizer}, lr {config.lr:g}); {fix}")
            history.append(record)
            if val_acc > best_acc or best_state is None:
                best_acc, best_epoch = val_acc, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if live is not None:
                for key in ("train_loss", "val_loss", "val_acc"):
                    live.log_metric(key, record[key])
                live.next_step()
            if bar is not None:
                bar.set_postfix(loss=f"{record['train_loss']:.3f}", val_acc=f"{val_acc:.3f}", refresh=False)
                bar.update()
            if config.patience is not None and epoch - max(best_epoch, patience_from) >= config.patience:
                break
        model.load_state_dict(best_state)
        trained = Trained(model.eval(), mean.cpu(), std.cpu(), history, best_epoch, config, seed, policy)
        if bar is not None:
            bar.close()  # before the lines below: the bar is drawn above them
            print(f"{name}: {trained.stopped()}", flush=True)
            # the warnings below name the options as the user wrote them (config.option): a judge's section may set
            # them, and before, a represent.judge.lr that kept its judge from learning was sent to train.lr
            one_class = len(np.unique(np.asarray(val_labels))) < 2
            # a 9-image val split tied every epoch and kept an untrained net; at 1.0 too where val is one class
            # (before: a one-image val kept epoch 1's net unsaid; the not-learnt warning below skips a one-class val)
            if best_epoch == 1 and len(history) > 1 and (best_acc < 1 or one_class):
                print(f"warning: {name}: the model kept is epoch 1's: none of the {len(history) - 1} "
                      f"later epochs beat its val accuracy {best_acc:.4f} on {len(val_images)} val images"
                      + ("; they are all of one class, which a model naming that class for every image scores as "
                         "well, so they cannot tell the epochs apart: add val images of every class" if best_acc == 1
                         else "; a val split this small ties every epoch, and a learning rate too high never improves: "
                              f"add val images or check {config.option('lr')}"), flush=True)
            # as good as naming one class for every image: lr 10 or weight_decay 1000 kept a model that called every
            # test image class 0, and evaluate reported its 0.1000 without a word. Weighed by the val classes'
            # recalls, as evaluate and the gate weigh it (metrics.not_learnt): before, accuracy was weighed against
            # the largest class's share, and a model right on 89% of a val split 90% one class was told it had not
            # learnt
            recalls = _recalls(model, x_val, y_val, mean, std, config.eval_batch_size)
            if no_better_than_one_class(best_acc, recalls):
                print(f"warning: {name}: the model kept is right on {best_acc:.4f} of the val images "
                      f"and its recalls of the {len(recalls)} val classes add up to {recall_total(recalls):.4f}, no "
                      "more than naming one class for every image scores (1): it has not learnt; check "
                      f"{config.option('lr')}, {config.option('weight_decay')} and {config.option('epochs')}",
                      flush=True)
        if live is not None:
            # the summary's train_loss, val_loss and val_acc are the kept epoch's, as the model is: dvclive leaves the
            # last epoch's there, and `dvc metrics show` listed a discarded epoch's val accuracy as the model's. So is
            # its step (dvclive's, 0-based, which end() takes from the summary): it said 14, the last epoch's, beside
            # figures of step 7 (epoch 8), where the plots' step 14 holds other ones
            live.summary.update({key: history[best_epoch - 1][key] for key in ("train_loss", "val_loss", "val_acc")},
                                step=best_epoch - 1)
            live.summary.update(best_epoch=best_epoch, best_val_acc=best_acc, stopped_epoch=len(history),
                                stop_reason=trained.stop_reason)
            live.end()
        return trained


def _from_rank0(val_loss: float, val_acc: float, *, device: torch.device) -> tuple[float, float]:
    """Rank 0's val numbers on every rank. Each rank validates the same weights, but on CUDA two devices may
    sum in another order: the kept epoch and the stop must not hang on the last bit of a float."""
    numbers = torch.tensor([val_loss, val_acc], dtype=torch.float64, device=device)
    torch.distributed.broadcast(numbers, src=0)
    return float(numbers[0]), float(numbers[1])


@torch.inference_mode()
def _evaluate(model, x, y, mean, std, batch_size) -> tuple[float, float]:
    if len(x) == 0:
        return float("nan"), 0.0
    model.eval()
    logits = _logits(model, x, mean, std, batch_size)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


@torch.inference_mode()
def _recalls(model, x, y, mean, std, batch_size) -> np.ndarray:
    """float64 ``(C,)``: the share of each class present in int64 ``y`` ``(N,)`` that ``model`` names right."""
    model.eval()
    right = (_logits(model, x, mean, std, batch_size).argmax(1) == y).cpu().numpy()
    labels = y.cpu().numpy()
    counts = np.bincount(labels)
    present = counts > 0
    return np.bincount(labels, weights=right, minlength=len(counts))[present] / counts[present]


def _logits(model, x, mean, std, batch_size) -> torch.Tensor:
    """float32 ``(N, classes)``. No autocast: training may run in bf16, but the probabilities that rank label
    issues, clear the relabel threshold and filter GAN samples are float32 on every device, so a CUDA run
    judges the data as the CPU run does."""
    mean, std = mean.to(x.device), std.to(x.device)
    with float32_math(x.device):
        out = [model(normalise(x[i:i + batch_size], mean, std)) for i in range(0, len(x), batch_size)]
    return torch.cat(out).float()


@torch.inference_mode()
def predict_proba(trained: Trained, images: np.ndarray, *, batch_size: int | None = None) -> np.ndarray:
    """float32 ``(N, classes)`` softmax probabilities of float32 logits for uint8 ``(N, H, W, C)`` images,
    computed with the model's own ``config.threads``, in batches of ``batch_size`` (default its own
    ``config.eval_batch_size``: evaluate once took 1,024 a batch whatever train.eval_batch_size said, and ran
    out of memory where training had not).

    Holds the images' pixels once more for one batch only on the CPU, and the probabilities once: a batch's are
    written into the result as they come. Before, a full-size contiguous copy and a full-size permuted copy of the
    images (two more arrays of pixels beside them, which :func:`winnow.gan_memory.generation_bytes` did not count), and
    the logits three times over (per batch, concatenated, softmaxed) before the float32 result; the same bytes."""
    batch_size = batch_size or trained.config.eval_batch_size
    device = next(trained.model.parameters()).device
    model = trained.model.eval()
    out = None
    with reproducible(threads=trained.config.threads, device=device, training=False):
        # the CPU reads a batch at a time whatever train.stream says: a tensor of all the images there is no nearer the
        # model, only a copy beside them. A batch is the same uint8 (B, C, H, W) tensor, with the same strides, as a
        # slice of the whole one, so the probabilities are the same bytes
        x = device_images(images, device, stream="always" if device.type == "cpu" else trained.config.stream)
        mean, std = trained.mean.to(device), trained.std.to(device)
        with float32_math(device):
            for i in range(0, max(len(x), 1), batch_size):  # no image: one empty batch, for the (0, classes) shape
                probs = torch.softmax(model(normalise(x[i:i + batch_size], mean, std)).float(), dim=1)
                if out is None:
                    out = np.empty((len(x), probs.shape[1]), np.float32)
                out[i:i + len(probs)] = probs.cpu().numpy()
    return out


def run_as(trained: Trained, config: TrainConfig) -> Trained:
    """A loaded ``trained`` that predicts as train ``config`` (params.yaml's now) says where and how fast: its threads,
    stream and eval_batch_size, which change no weight (:func:`winnow.checkpoints.load` compares none of them). Before,
    the checkpoint's: lowering train.eval_batch_size (or streaming) after running out of memory changed nothing."""
    return replace(trained, config=replace(trained.config, threads=config.threads, stream=config.stream,
                                           eval_batch_size=config.eval_batch_size))


@torch.inference_mode()
def embed(trained: Trained, images: np.ndarray, *, batch_size: int | None = None) -> np.ndarray:
    """float32 ``(N, D)`` penultimate features (``model.features``) for uint8 ``(N, H, W, C)`` images,
    computed in float32 with the model's own ``config.threads``, in batches of ``batch_size`` (default its own
    ``config.eval_batch_size``, as :func:`predict_proba`: before, 1,024 whatever train.eval_batch_size said)."""
    batch_size = batch_size or trained.config.eval_batch_size
    device = next(trained.model.parameters()).device
    x = device_images(images, device, stream=trained.config.stream)
    mean, std = trained.mean.to(device), trained.std.to(device)
    with reproducible(threads=trained.config.threads, device=device, training=False), float32_math(device):
        out = [trained.model.eval().features(normalise(x[i:i + batch_size], mean, std)).float()
               for i in range(0, len(x), batch_size)]
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, 0), np.float32)


def encoder(trained: Trained, *, num_classes: int, image_shape: tuple[int, ...]) -> Encoder:
    """``trained`` as an :class:`winnow.engine.Encoder` for :meth:`winnow.engine.Engine.embed`: its
    architecture (for ``(H, W, C)`` images of ``num_classes`` classes) and :func:`embed`, with ``threads``
    fixed to the count it runs with here (``null``: this machine's default), which actors then use too."""
    h, w, c = image_shape
    threads = DEFAULT_THREADS[0] if trained.config.threads is None else trained.config.threads
    return Encoder(trained.model, partial(build_model, trained.config.model, in_channels=c, num_classes=num_classes,
                                          image_size=(h, w)),
                   partial(_embed_with, mean=trained.mean, std=trained.std,
                           config=replace(trained.config, threads=threads)), trained.config.device)


def _embed_with(model: nn.Module, images: np.ndarray, *, batch_size: int, mean: torch.Tensor, std: torch.Tensor,
                config: TrainConfig) -> np.ndarray:
    return embed(Trained(model, mean, std, [], 0, config), images, batch_size=batch_size)


def _live(log_dir):
    from dvclive import Live

    return Live(str(log_dir), save_dvc_exp=False, dvcyaml=None, report=None)
