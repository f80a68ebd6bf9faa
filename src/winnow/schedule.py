"""The optimiser and learning-rate schedule of a training run (``train.optimizer``, ``train.schedule``, laid
over the whole budget of epochs), and the epoch from which patience counts, which hangs on the schedule's
shape: :func:`winnow.training.fit` uses both.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from winnow.configs import TrainConfig
from winnow.errors import WinnowError

# the share of onecycle's steps spent raising the learning rate to its peak (torch's default)
_ONECYCLE_WARMUP = 0.3
# the share of the budget after which the learning rate is at most half its peak: cosine halves it at
# mid-budget; onecycle climbs for 30% of the steps, then halves it halfway down its cosine descent
_HALF_RATE = {"cosine": 0.5, "onecycle": _ONECYCLE_WARMUP + (1 - _ONECYCLE_WARMUP) / 2, "constant": 0.0}


def patience_starts(config: TrainConfig) -> int:
    """The epoch after which epochs without a higher val accuracy count towards ``config.patience``: the
    one by which the schedule has brought the learning rate down to half its peak (cosine: half the
    budget, onecycle: 65%, constant: 0). While the rate is high, val accuracy stalls and dips with the noise
    of big steps, and the gains of the decay are still to come: on MNIST-5k, pruned, budget 20, patience 5
    counted from the first epoch stopped one of three seeds at epoch 13 keeping epoch 8, 0.8 points of test
    accuracy below the full run; counted from mid-budget it ran all 20 (benchmarks/results/convergence.md).
    """
    return math.ceil(_HALF_RATE[config.schedule] * config.epochs)


def patience_unreachable(config: TrainConfig) -> str | None:
    """The warning, without its ``warning: `` prefix, when ``config.patience`` can never end a run before its last
    epoch, so that every epoch trains as under ``patience: null``; None when it can, or is null. It counts only the
    epochs after the best one and after :func:`patience_starts`' (by which the schedule has halved the learning
    rate). Before, ``epochs: 10`` with ``patience: 5`` under cosine (or 20 with 10) ran all 10 without a word. A stage
    says it once, before its trainings (a K-fold judge's K alike). Silent where no patience could stop the budget."""
    # a budget no patience could stop (epochs 3 or fewer under cosine) is a short run by choice: nothing to say
    if config.patience is None or _most_counted(config) >= config.patience or _most_counted(config) < 1:
        return None
    needed = config.epochs + 1
    while _most_counted(replace(config, epochs=needed)) < config.patience:
        needed += 1
    start, most = patience_starts(config), _most_counted(config)
    why = (f"under the {config.schedule} schedule it counts only the epochs after epoch {start}, by which the learning "
           "rate is down to half its peak" if start >= 1 else "it counts only the epochs after the first")
    patience, epochs = config.option("patience"), config.option("epochs")
    return (f"{patience}: {config.patience} can never stop a run of {epochs} {config.epochs} before its last epoch: "
            f"{why}, {most} at most before the last, so every epoch runs as under null; set {patience} to {most} or "
            f"less or {epochs} to {needed} or more")


def _most_counted(config: TrainConfig) -> int:
    """The most epochs patience can count before a run's last epoch (:func:`winnow.training.fit`'s stop: an epoch less
    the later of the best epoch, at least 1, and :func:`patience_starts`')."""
    return config.epochs - 1 - max(1, patience_starts(config))


def optimizer_and_schedule(model: nn.Module, config: TrainConfig, steps_per_epoch: int):
    if config.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                              weight_decay=config.weight_decay, nesterov=config.momentum > 0)
    else:
        raise WinnowError(f"{config.option('optimizer')}: unknown {config.optimizer!r}; choose adam, adamw or sgd")
    # over the whole budget even when patience may end the run sooner: see winnow.training.fit
    total = max(1, config.epochs * steps_per_epoch)
    if config.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    elif config.schedule == "onecycle":
        # SGD's momentum is train.momentum throughout: before, torch's cycle_momentum replaced it by 0.95 falling to
        # 0.85 and back, so momentum 0 (plain SGD) trained with 0.95 and any other value changed nothing. Adam's and
        # AdamW's beta1, which no parameter sets, keep the cycle
        cycled = config.optimizer != "sgd"
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total,
                                                    pct_start=_ONECYCLE_WARMUP, cycle_momentum=cycled)
    elif config.schedule == "constant":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    else:
        raise WinnowError(f"{config.option('schedule')}: unknown {config.schedule!r}; choose cosine, onecycle or "
                          "constant")
    return opt, sched
