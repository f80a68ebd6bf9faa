"""Hostile params (probes, stop 73): a setting the run silently did not apply.

- ``train.schedule: onecycle`` with ``optimizer: sgd``: torch's OneCycleLR cycled SGD's momentum between 0.95 and 0.85,
  so ``train.momentum`` (0 for plain SGD, or any other value) changed nothing (winnow.schedule);
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from winnow.configs import TrainConfig
from winnow.schedule import optimizer_and_schedule


@pytest.mark.hostile("params")
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_sgd_under_onecycle_steps_with_the_momentum_given(momentum):
    # before: OneCycleLR's cycle_momentum set SGD's momentum to 0.95 at the first step and cycled it down to 0.85 and
    # back, so momentum 0 (plain SGD, nesterov off) trained with 0.95, and 0.5 trained as 0.9 did
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    config = TrainConfig(optimizer="sgd", momentum=momentum, schedule="onecycle", epochs=2, lr=0.1)
    optimizer, schedule = optimizer_and_schedule(model, config, steps_per_epoch=5)
    used = []
    for _ in range(10):  # the whole budget: the rise to the peak rate and the fall after it
        used.append(optimizer.param_groups[0]["momentum"])
        model(torch.ones(4, 3)).sum().backward()
        optimizer.step()
        schedule.step()
    assert used == [momentum] * 10
