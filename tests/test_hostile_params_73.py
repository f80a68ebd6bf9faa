"""Hostile params (probes, stop 73): a setting the run silently did not apply.

- ``train.schedule: onecycle`` with ``optimizer: sgd``: torch's OneCycleLR cycled SGD's momentum between 0.95 and 0.85,
  so ``train.momentum`` (0 for plain SGD, or any other value) changed nothing (winnow.schedule);
- ``dedup.min_correlation: -1``, which every correlation reaches: every candidate pair passed the thumbnail check, and
  ``embedding_confirm: true`` "confirmed" embedding pairs by it (winnow.param_checks.correlation_binds);
- ``%YAML 1.1`` after a byte-order mark (Notepad's UTF-8): the directive went unseen, the file was read as YAML 1.1,
  and the refusal named the wrong cause (``balance.policy.False: unknown parameter``) (winnow.params.load);
- a key whose name was deleted (``  : 5``), or ``null:``: refused as the parameter "None", which nobody wrote
  (winnow.param_rules.Section).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hostile_harness import ROOT, assert_nothing_left, files_under, make_project, params_with
from winnow import params
from winnow.configs import TrainConfig
from winnow.errors import WinnowError
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


@pytest.mark.hostile("params")
@pytest.mark.parametrize("embedding_radius, expected", [
    (None, "params.yaml: dedup.min_correlation: -1 bounds nothing: every correlation is at least -1, so every "
           "candidate pair passes the thumbnail check; to take the candidates as they are write null"),
    (0.1, "params.yaml: dedup.min_correlation: -1 bounds nothing: every correlation is at least -1, so every candidate "
          "pair passes the thumbnail check; to take the candidates as they are write null and embedding_confirm: "
          "false"),
], ids=["phash", "embedding_confirmed"])
def test_a_min_correlation_of_minus_one_that_confirms_every_pair_is_refused(tmp_path, embedding_radius, expected):
    # before: accepted; dedup took every pHash candidate, mirror and crop as a copy, and with embedding_confirm true
    # metrics/dedup.json said the embedding's pairs were confirmed by thumbnails that confirmed every one
    settings = params_with("dedup.min_correlation", -1)
    settings["dedup"]["embedding_radius"] = embedding_radius
    project = make_project(tmp_path / "project", settings)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        params.load(project / "params.yaml")
    assert str(refused.value) == expected
    assert_nothing_left(project, before)
    followed = params_with("dedup.min_correlation", None)  # the advice, followed, passes
    followed["dedup"] |= {"embedding_radius": embedding_radius, "embedding_confirm": embedding_radius is None}
    assert params.validate(followed)["dedup"]["min_correlation"] is None


@pytest.mark.hostile("params")
def test_a_yaml_1_1_directive_after_a_byte_order_mark_is_refused_as_such(tmp_path):
    # before: the directive check looked for %YAML at a line's start, where the mark stood; ruamel skips the mark and
    # honours the directive, so balance.policy's key n read as false: "params.yaml: balance.policy.False: unknown
    # parameter; known: ops, n, magnitude, kind, fill"
    text = "%YAML 1.1\n---\n" + (ROOT / "params.yaml").read_text(encoding="utf-8")
    project = make_project(tmp_path / "project")
    (project / "params.yaml").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        params.load(project / "params.yaml")
    assert str(refused.value) == ("params.yaml: %YAML 1.1 (line 1) reads n, y, no, yes, on and off as booleans, to DVC "
                                  "too (balance.policy.n as false); leave the directive out (YAML 1.2)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("old, new, expected", [
    ("  patience: 5              # stop", "  : 5              # stop",
     "params.yaml: train: a key with no name (null) holds 5; write the parameter's name before its colon"),
    ("    dark: {method: auto}", "    ~: {method: auto}",
     'params.yaml: threshold.issues: a key with no name (null) holds {"method": "auto"}; write the issue\'s name '
     "before its colon"),
    ("seed: 0\n", "null: 0\n", "params.yaml: a key with no name (null) holds 0; write the parameter's name before "
                               "its colon"),
], ids=["name_deleted", "tilde_issue", "null_at_the_top"])
def test_a_key_without_a_name_is_told_so(tmp_path, old, new, expected):
    # before: "params.yaml: train.None: unknown parameter; known: model, epochs, …", a parameter nobody wrote
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    assert text.count(old) == 1
    project = make_project(tmp_path / "project", text=text.replace(old, new))
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        params.load(project / "params.yaml")
    assert str(refused.value) == expected
    assert_nothing_left(project, before)
