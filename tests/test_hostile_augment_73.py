"""Hostile augmentation, balance and GAN synthesis, probe 73:

- augment-search's policy (data/augment-search/policy.json) chosen by trainings of another seed or train section
  (train.lr, train.model, ...) than params.yaml gives now, read by balance or by train@<v> under train.augment:
  searched run alone (``dvc repro -s balance``): refused in one line naming the option and the augment-search stage,
  not applied as if the trainings of the new settings had chosen it; a policy.json without the record (an earlier
  winnow's, or written by hand) is refused, as one without ``searched_with`` is;
- gan-synthesize under gan.threshold real_median keeping no sample because the baseline gives every sample more of
  another class than of its own: the warning told the user to "set gan.threshold to a number below" the surest
  sample's probability, a bound that keeps exactly those samples, pictures the baseline takes for another class, under
  the weak class's label (what real_median's top-class rule leaves out); now it names the class they are taken for and
  offers training longer alone, and where some sample is its class's top class, the figure is the surest of those;
- the balanced variant built on another pruned than data/variants/pruned holds now (variants rerun after a cleaner, a
  verdict or the budget changed, then train@balanced run alone): trained as "pruned plus copies" of the old pruned,
  exit 0; now refused by train@balanced naming an image the two disagree on and the balance stage.

Each case runs the real stages in this process and asserts the whole line and that nothing was left behind.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, files_under
from test_augment import _project, _stage
from test_gan import gan_project
from test_hostile_balance_more import balance_project
from test_hostile_threshold_64 import _stage_in_process

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RERUN = "rerun the augment-search stage (dvc repro augment-search)"


def _searched(tmp_path, monkeypatch) -> dict:
    """A project after the real augment-search stage ran (its short trainings stood in by a scorer that prefers
    rotate at 0.6): policy.json as the stage writes it. Returns the params it ran under."""
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.6],
                                                    "op_sets": [["rotate"]], "with_fixed": False})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer",
                        lambda *a, **k: lambda policy: np.array([0.0, 0.0] if policy is None else [1.0, 0.0]))
    _stage("augment_search").main()
    return yaml.safe_load((tmp_path / "params.yaml").read_text())


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("edit", "named"), [
    (lambda p: p["train"].update(lr=0.01), "train.lr 0.001, but params.yaml gives 0.01"),
    (lambda p: p["train"].update(model="cnn_small"), 'train.model "lenet5", but params.yaml gives "cnn_small"'),
    (lambda p: p.update(seed=1), "seed 0, but params.yaml gives 1"),
], ids=["lr", "model", "seed"])
def test_balance_refuses_a_policy_chosen_by_trainings_of_another_train_section_or_seed(tmp_path, monkeypatch, capsys,
                                                                                       edit, named):
    # before: exit 0, balanced made with the policy the old settings' short trainings chose (augment-search reads seed
    # and train, dvc.yaml, but the policy recorded neither, so balance run alone after the edit could not tell)
    params = _searched(tmp_path, monkeypatch)
    edit(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: data/augment-search/policy.json: chosen by trainings with {named} now; {RERUN}"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_train_refuses_a_searched_policy_that_records_no_training(tmp_path, monkeypatch):
    # an earlier winnow's file (policy, fixed and searched_with; no trained_with), read for train.augment: searched.
    # Before: applied, whatever seed and train section its trainings had taken
    from winnow.augment_search import SEARCHED, policy_for
    from winnow.errors import WinnowError

    params = _searched(tmp_path, monkeypatch)
    written = json.loads((tmp_path / SEARCHED).read_text())
    del written["trained_with"]
    (tmp_path / SEARCHED).write_text(json.dumps(written))
    with pytest.raises(WinnowError) as refused:
        policy_for(params, "searched")
    assert str(refused.value) == (
        "data/augment-search/policy.json: records no training it was chosen by (trained_with): made by an earlier "
        f"winnow or by hand; {RERUN}")


@pytest.mark.hostile("training")
def test_a_policy_chosen_under_todays_seed_and_train_section_is_read(tmp_path, monkeypatch):
    # the other side: edits that change no step of the search's trainings (train.epochs and patience, which the search
    # replaces; train.device and threads, which change where it runs) leave the searched policy current
    from winnow.augment_search import policy_for
    from winnow.configs import Policy

    params = _searched(tmp_path, monkeypatch)
    params["train"].update(epochs=3, patience=2, threads=2, device="cpu")
    assert policy_for(params, "searched") == Policy(ops=("rotate",), n=1, magnitude=0.6, kind="trivial")


@pytest.mark.hostile("training")
def test_no_sample_kept_under_real_median_for_another_class_is_not_told_to_set_a_number(tmp_path, monkeypatch, capsys):
    # the baseline (its probabilities stood in) gives every image 0.4 of 'a', 0.35 of 'b', 0.25 of 'c': val's median of
    # 'b' is 0.35, and 'b' (F1 0, and 'c' has no pruned train image) is the weak class. Every sample of 'b' is given
    # 0.35 of 'b' and 0.4 of 'a': a picture of 'a' to the baseline. Before: "... or set gan.threshold to a number below
    # 0.35, the surest sample's probability of its class", which keeps all 4 samples of 'a' as 'b', exit 0
    project = gan_project(tmp_path / "project", weak_k=1)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"].update(weak_by="f1", threshold="real_median")
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    from winnow import training

    monkeypatch.setattr(training, "predict_proba",
                        lambda model, images: np.tile(np.float32([0.4, 0.35, 0.25]), (len(images), 1)))
    monkeypatch.chdir(project)
    _stage("gan_synthesize").main()
    out = capsys.readouterr().out.splitlines()
    assert "gan-synthesize: weak classes b; kept b 0/4; augmented 18 rows" in out
    assert out[-1] == (
        "warning: gan-synthesize: the filter kept no sample, so augmented holds pruned's images alone; train the GAN "
        "longer (gan.train.epochs): the baseline gives every sample as much or more of another class than of its own "
        "(the surest: 0.35 of its class, 0.4 of 'a'), so a number for gan.threshold would only keep pictures of other "
        "classes under its label")


@pytest.mark.hostile("training")
def test_the_number_offered_under_real_median_is_the_surest_sample_of_its_own_class():
    # two samples of 'b' (index 1): the first given 0.45 of 'b' but 0.55 of 'a', the second 0.4 of 'b', more than of
    # any other. Before: "below 0.45", which keeps the first (a picture of 'a') and not the second; now below 0.4,
    # which keeps both, and the line says so of the first
    from winnow.gan_eval import kept_none_warning, surest_sample

    probs = np.array([[0.55, 0.45, 0.0], [0.3, 0.4, 0.3]])
    chosen = surest_sample(probs, np.array([1, 1]), classes=["a", "b", "c"], top_class=True)
    assert kept_none_warning("real_median", **chosen) == (
        "warning: gan-synthesize: the filter kept no sample, so augmented holds pruned's images alone; train the GAN "
        "longer (gan.train.epochs) or set gan.threshold to a number below 0.4, the surest sample's probability of its "
        "class; any such number also keeps 1 sample(s) the baseline gives as much or more of another class than of its "
        "own, under its label")


def _balanced(tmp_path, monkeypatch, **balance) -> None:
    """A project whose balanced variant the real balance stage made of pruned (classes a 5, b 3, c 2 random images)."""
    labels = np.repeat([0, 1, 2], [5, 3, 2])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    project = balance_project(tmp_path, images, labels, policy={"ops": ["noise"], "n": 1})
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["balance"] |= balance
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(project)
    _stage("balance").main()


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("balance", "left_out", "line"), [
    ({}, False, "is kept as 'a' there"),
    # max_images 7: a keeps 3 of its 5, b 2 of its 3 (a random draw), c its 2. Pruned now drops an image of a
    # that balance left out: a balanced of this pruned would draw from the others
    ({"max_images": 7}, True, "is kept as 'a' (left out for balance.max_images) there"),
], ids=["dropped since", "dropped since, left out by max_images"])
def test_train_refuses_a_balanced_variant_built_on_another_pruned(tmp_path, monkeypatch, balance, left_out, line):
    # before: exit 0, train@balanced learnt the old pruned's image (and its copies) as "pruned plus copies"
    from winnow.errors import WinnowError
    from winnow.variants import read_rows, write_variant

    _balanced(tmp_path, monkeypatch, **balance)
    balanced = read_rows("balanced")
    of_a = balanced[(balanced["origin"] == "ingest") & (balanced["label"] == 0)]
    image = of_a["id"][(of_a["stage"] == "balance") == left_out].iloc[0]
    rows = read_rows("pruned")
    rows.loc[rows["id"] == image, ["action", "reason", "stage"]] = ["drop", "duplicate", "dedup"]
    write_variant("pruned", rows)  # variants, rerun since, dropped it
    before = files_under(tmp_path)
    monkeypatch.setattr("sys.argv", ["train.py", "balanced"])
    with pytest.raises(WinnowError) as refused:
        _stage("train").main()
    assert str(refused.value) == (f"data/variants/balanced/rows.parquet: built on another pruned: image {image!r} "
                                  f"{line}, dropped in data/variants/pruned now (1 such image(s)); rerun the balance "
                                  "stage (dvc repro balance)")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_a_balanced_variant_of_todays_pruned_is_built_on_it(tmp_path, monkeypatch):
    # the other side: what balance writes of pruned as it is, max_images' drops among it, passes
    from winnow.built_on import check_built_on_pruned
    from winnow.variants import read_rows

    _balanced(tmp_path, monkeypatch, max_images=7)
    assert (read_rows("balanced")["stage"] == "balance").sum() > 0  # some rows are its copies and max_images' drops
    check_built_on_pruned("balanced", classes=["a", "b", "c"])
