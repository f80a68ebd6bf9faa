"""The optimiser and learning-rate schedule of a training run (``train.optimizer``, ``train.schedule``, laid
over the whole budget of epochs), and the epoch from which patience counts, which hangs on the schedule's
shape: :func:`winnow.training.fit` uses both.
"""

from __future__ import annotations

import math

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
