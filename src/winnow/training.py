"""A small training loop: data as tensors on the device, augmentation in batches on the device,
best-on-val checkpoint, CUDA with bf16 autocast when present, DistributedDataParallel under torchrun.

Read top to bottom: :func:`fit` (its :class:`winnow.configs.TrainConfig` is the ``train:`` section), then
the helpers it uses.
"""

from __future__ import annotations

import math
import os
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from winnow.configs import TrainConfig
from winnow.errors import WinnowError
from winnow.models import build_model
from winnow.stage import atomic_path


@dataclass
class Trained:
    """A fitted model and what is needed to use it again."""

    model: nn.Module
    mean: torch.Tensor  # (C,) float32, of the training images scaled to [0, 1]
    std: torch.Tensor
    history: list[dict[str, float]]
    best_epoch: int
    config: TrainConfig

    @property
    def best_val_acc(self) -> float:
        """Val accuracy at the epoch kept."""
        return float(self.history[self.best_epoch - 1]["val_acc"])


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise WinnowError("train.device: cuda requested but no CUDA device is visible; use auto or cpu")
    return torch.device(name)


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 ``(N, H, W, C)`` → uint8 ``(N, C, H, W)`` on the device (scaled later, per batch)."""
    return torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).contiguous()


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
) -> Trained:
    """Train ``config.model`` and return the weights of the epoch with the best validation accuracy.

    Args:
        train_images, val_images: uint8 ``(N, H, W, C)``.
        train_labels, val_labels: int ``(N,)`` in ``[0, num_classes)``.
        log_dir: where dvclive writes per-epoch metrics (rank 0 only); None logs nothing.
    """
    if len(train_images) == 0:
        raise WinnowError("train: the training split is empty")
    if config.epochs < 1:  # before dvclive opens its log: zero epochs would leave a summary of nothing
        raise WinnowError(f"train.epochs: {config.epochs} is below 1")
    rank, world = _distributed_setup()
    device = pick_device(config.device) if world == 1 else _ddp_device(rank)
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    generator = torch.Generator(device="cpu").manual_seed(seed + rank)

    x_train, x_val = to_tensor(train_images, device), to_tensor(val_images, device)
    y_train = torch.as_tensor(np.array(train_labels), dtype=torch.long, device=device)
    y_val = torch.as_tensor(np.array(val_labels), dtype=torch.long, device=device)
    scaled = x_train.float() / 255.0
    mean, std = scaled.mean(dim=(0, 2, 3)), scaled.std(dim=(0, 2, 3)).clamp_min(1e-3)
    del scaled

    model = build_model(config.model, in_channels=x_train.shape[1], num_classes=num_classes,
                        image_size=x_train.shape[2]).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    steps_per_epoch = math.ceil(len(x_train) / world / config.batch_size)
    optimizer, scheduler = _optimizer(model, config, steps_per_epoch)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()

    live = _live(log_dir) if rank == 0 and log_dir is not None else None
    history, best_acc, best_epoch, best_state = [], -1.0, 0, None
    epochs = range(1, config.epochs + 1)
    if progress and rank == 0:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=f"train {config.model}", unit="epoch")
    for epoch in epochs:
        net.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)[rank::world]
        total_loss = 0.0
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            batch = augment(normalise(x_train[idx], mean, std), padding=config.crop_padding, hflip=config.hflip,
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
        val_loss, val_acc = _evaluate(model, x_val, y_val, mean, std, config.eval_batch_size)
        record = {"epoch": epoch, "train_loss": total_loss / len(order), "val_loss": val_loss, "val_acc": val_acc}
        history.append(record)
        if val_acc > best_acc or best_state is None:
            best_acc, best_epoch = val_acc, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if live is not None:
            for key in ("train_loss", "val_loss", "val_acc"):
                live.log_metric(key, record[key])
            live.next_step()
        if hasattr(epochs, "set_postfix"):
            epochs.set_postfix(loss=f"{record['train_loss']:.3f}", val_acc=f"{val_acc:.3f}")
    if live is not None:
        live.summary["best_epoch"] = best_epoch
        live.summary["best_val_acc"] = best_acc
        live.end()
    model.load_state_dict(best_state)
    return Trained(model.eval(), mean.cpu(), std.cpu(), history, best_epoch, config)


def _optimizer(model: nn.Module, config: TrainConfig, steps_per_epoch: int):
    if config.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay, nesterov=config.momentum > 0)
    else:
        raise WinnowError(f"train.optimizer: unknown {config.optimizer!r}; choose adam, adamw or sgd")
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    elif config.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total)
    elif config.schedule == "constant":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    else:
        raise WinnowError(f"train.schedule: unknown {config.schedule!r}; choose cosine, onecycle or constant")
    return opt, sched


@torch.inference_mode()
def _evaluate(model, x, y, mean, std, batch_size) -> tuple[float, float]:
    if len(x) == 0:
        return float("nan"), 0.0
    model.eval()
    logits = _logits(model, x, mean, std, batch_size)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def _logits(model, x, mean, std, batch_size) -> torch.Tensor:
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if x.device.type == "cuda" else nullcontext()
    with autocast:
        out = [model(normalise(x[i:i + batch_size], mean.to(x.device), std.to(x.device)))
               for i in range(0, len(x), batch_size)]
    return torch.cat(out).float()


@torch.inference_mode()
def predict_proba(trained: Trained, images: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """float32 ``(N, classes)`` softmax probabilities for uint8 ``(N, H, W, C)`` images."""
    device = next(trained.model.parameters()).device
    logits = _logits(trained.model.eval(), to_tensor(images, device), trained.mean, trained.std, batch_size)
    return torch.softmax(logits, dim=1).cpu().numpy().astype(np.float32)


@torch.inference_mode()
def embed(trained: Trained, images: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """float32 ``(N, D)`` penultimate features (``model.features``) for uint8 ``(N, H, W, C)`` images."""
    device = next(trained.model.parameters()).device
    x = to_tensor(images, device)
    mean, std = trained.mean.to(device), trained.std.to(device)
    out = [trained.model.features(normalise(x[i:i + batch_size], mean, std)).float()
           for i in range(0, len(x), batch_size)]
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, 0), np.float32)


def save(trained: Trained, path: str | os.PathLike, *, classes: list[str], image_shape: tuple[int, ...]) -> None:
    """Write weights plus everything :func:`load` needs, atomically."""
    with atomic_path(path) as tmp:
        torch.save({
            "state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
            "config": asdict(trained.config), "mean": trained.mean, "std": trained.std, "classes": classes,
            "image_shape": list(image_shape), "history": trained.history, "best_epoch": trained.best_epoch,
        }, tmp)


def load(path: str | os.PathLike, *, device: str = "auto") -> tuple[Trained, list[str]]:
    """A model saved by :func:`save`, on the chosen device, and its class names.

    ``models/<v>.pt`` is written by the ``train@<v>`` stage; a missing, truncated or foreign file (torch
    loads with ``weights_only``, so a pickle that is not plain tensors and containers is refused, never run)
    raises :func:`winnow.stage.rerun_error` naming that stage.
    """
    import pickle
    import warnings

    from winnow.stage import rerun_error

    path = Path(path)
    written_by = f"train@{path.stem}"
    if not path.is_file():
        raise rerun_error(path, "model file not found", written_by=written_by)
    try:
        with warnings.catch_warnings():  # torch warns before failing on a file that is no zip archive
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise rerun_error(path, "not a winnow model checkpoint (a pickle torch.load(weights_only=True) refuses)",
                          written_by=written_by) from err
    except (EOFError, OSError, RuntimeError, ValueError) as err:
        detail = str(err).strip().split(". ")[0][:160] or "it ends early"
        raise rerun_error(path, f"not a readable model checkpoint ({detail})", written_by=written_by) from err
    needed = {"state_dict", "config", "mean", "std", "classes", "image_shape", "history", "best_epoch"}
    missing = sorted(needed - set(ckpt)) if isinstance(ckpt, dict) else sorted(needed)
    if missing:
        raise rerun_error(path, f"not a winnow model checkpoint (lacks {', '.join(missing)})", written_by=written_by)
    try:
        config = TrainConfig(**ckpt["config"])
        h, w, c = ckpt["image_shape"]
        model = build_model(config.model, in_channels=c, num_classes=len(ckpt["classes"]), image_size=h)
        model.load_state_dict(ckpt["state_dict"])
    except (TypeError, ValueError, KeyError, RuntimeError) as err:  # a field or a weight of the wrong shape
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise rerun_error(path, f"checkpoint does not fit its own model ({detail})", written_by=written_by) from err
    model = model.to(pick_device(device)).eval()
    return Trained(model, ckpt["mean"], ckpt["std"], ckpt["history"], ckpt["best_epoch"], config), ckpt["classes"]


def _live(log_dir):
    from dvclive import Live

    return Live(str(log_dir), save_dvc_exp=False, dvcyaml=None, report=None)


def is_main_process() -> bool:
    """True outside torchrun and on rank 0 under it: the one process that writes outputs."""
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def _distributed_setup() -> tuple[int, int]:
    """(rank, world size); initialises the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank() if world > 1 else 0), world


def _ddp_device(rank: int) -> torch.device:
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")
