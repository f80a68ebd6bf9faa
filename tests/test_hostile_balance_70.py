"""Hostile inputs of balance, gan-synthesize and augment-search, tenth pass:

- a GAN whose generator's weights the last step of an epoch made non-finite, after that epoch's (finite) losses were
  taken: refused by train_gan before its checkpoint is saved, as winnow.training refuses a classifier so broken;
- gan.weak_k above the number of classes where one class has no val image (weak_by f1): refused naming the classes
  there are, not those with an F1;
- balance.max_images cutting two classes below 5 source images while a class of one image got copies: the warning
  names that class and told it to raise balance.max_images, which only gives it more copies of its one image;
- a collapsed generator whose samples are one white image: the filter kept all 4 and augmented took the same image 4
  times; now the first alone, with a warning and metrics' repeats_dropped;
- augment_search.tie_se with with_fixed false, and augment_search.ns with kinds of trivial alone: settings the search
  never reads, accepted (and tie_se recorded in metrics as if applied); now refused by the params check;
- a search whose sample already took every train image (max_images 2000 or null on 19): its warnings told the user to
  raise augment_search.max_images, which changes nothing; now only where the sample left images out;
- a searched policy alike to balance.policy under with_fixed false (a candidate, never balance.policy): balance's
  refusal of its copies named balance.policy.magnitude, and the search, rerun, picked the same candidate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from hostile_harness import assert_nothing_left, default_params, edit_table, files_under, make_project
from test_augment import _project, _stage
from test_gan import gan_project
from test_hostile_balance_more import _relearnt
from winnow.balance import balanced_augment, few_sources
from winnow.configs import GanConfig
from winnow.errors import WinnowError
from winnow.gan import train_gan
from winnow.imageset import pixel_digest, read_imageset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("training")
def test_a_generator_broken_by_the_last_step_of_an_epoch_is_refused_before_its_checkpoint(tmp_path, monkeypatch):
    # one epoch of one step (4 images, batch 4): the generator's optimiser, made first, leaves its first weight NaN
    # after its step, once the epoch's losses are taken, as a step too large does. Before: the losses were finite, so
    # train_gan saved the NaN generator and returned it; its samples, NaN cast to uint8, came out black and the stage
    # kept them in augmented (threshold 0: 4 of 4 kept), exit 0
    made = []

    class Breaking(torch.optim.Adam):
        def __init__(self, params, **options):
            super().__init__(params, **options)
            made.append(self)

        def step(self, closure=None):
            out = super().step(closure)
            if self is made[0]:
                with torch.no_grad():
                    self.param_groups[0]["params"][0].view(-1)[0] = float("nan")
            return out

    monkeypatch.setattr(torch.optim, "Adam", Breaking)
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 1), dtype=np.uint8)
    config = GanConfig(latent_dim=8, width=4, epochs=1, batch_size=4, ac_weight=2.0, device="cpu")
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        train_gan(images, np.array([0, 0, 1, 1]), config=config, num_classes=2, seed=0, progress=False,
                  checkpoint=tmp_path / "gan.pt")
    assert str(refused.value) == (
        "gan: training diverged: the generator's weights became non-finite in the last step of epoch 1, after its "
        "losses were taken; lower gan.train.lr, gan.train.lr_d or gan.train.ac_weight (2)")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("training")
def test_a_weak_k_above_the_classes_is_refused_naming_every_class_when_one_has_no_val_image(tmp_path, monkeypatch):
    # classes a, b, c, b's val images made test images, so b has no F1 to rank by (weak_by f1). weak_k 3 runs (on the
    # two classes with an F1, with a warning); 4 is one more than there are classes. Before: "gan.weak_k: 4 is more
    # than the 2 classes; set at most 2": the classes with an F1 counted as the classes, and 3 was accepted
    project = gan_project(tmp_path / "project", weak_k=4)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["weak_by"] = "f1"
    make_project(project, params)
    for name in ("ingest", "degrade"):
        edit_table(project / f"data/{name}/manifest.parquet", lambda m: m.assign(
            split=np.where(m["id"].str.startswith("val-1-"), "test", m["split"])))
    _relearnt(project / "models/baseline.pt", pd.read_parquet(project / "data/ingest/manifest.parquet"))
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("gan_synthesize").main()
    assert str(refused.value) == "gan.weak_k: 4 is more than the 3 classes; set at most 3"
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_the_few_sources_warning_gives_the_named_class_its_own_fix_under_a_budget():
    # a, b, c of 20, 10 and 1 train images, max_images 12: shares of 4, so a and b are cut to 4 images each and c's one
    # image gets 3 copies. The line names c, the class of fewest sources. Before: "...: raise balance.max_images",
    # because a and b were cut; with max_images 300 c ends with 19 copies of the same image, still 1 source
    labels = np.repeat([0, 1, 2], [20, 10, 1])
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 8, 8, 1), dtype=np.uint8)
    made = balanced_augment(images, labels, policy={"ops": ["noise", "shear"], "n": 1}, seed=0, num_classes=3,
                            max_images=12)
    assert few_sources(labels, made, ["a", "b", "c"], digests=pixel_digest(images)) == (
        "warning: balance: class c ends with 4 train images from 1 source image (3 augmented copies), and 2 more "
        "classes from fewer than 5; so few sources add little variety: give the class more train images, and raise "
        "balance.max_images for the 2 other classes it cut to fewer than 5")


@pytest.mark.hostile("training")
def test_samples_a_collapsed_generator_repeats_join_augmented_once(tmp_path, monkeypatch, capsys):
    # the trained generator's last layer zeroed but for a bias of 5: tanh(5) at every pixel, so each of a's 4 samples is
    # the same all-white image (c has no pruned train image, b is not weak). threshold 0 keeps all 4. Before: kept a
    # 4/4, and augmented held that one image 4 times as 4 new samples of a, exit 0 and not a word
    import winnow.gan

    trained_as_asked = winnow.gan.train_gan

    def collapsed(*args, **kwargs):
        trained = trained_as_asked(*args, **kwargs)
        with torch.no_grad():
            trained.generator.body[-2].weight.zero_()
            trained.generator.body[-2].bias.fill_(5.0)
        return trained

    monkeypatch.setattr(winnow.gan, "train_gan", collapsed)
    project = gan_project(tmp_path / "project", weak_k=2)
    monkeypatch.chdir(project)
    _stage("gan_synthesize").main()
    printed = capsys.readouterr().out.splitlines()  # the whole line, not a piece of a longer one
    assert ("warning: gan-synthesize: 3 of the 4 samples the filter kept equal an earlier kept sample pixel for pixel "
            "(3 of 'a'), so augmented takes the first of each alone; the generator repeats itself (mode collapse): "
            "train the GAN longer (gan.train.epochs), or leave augmented out of variants") in printed
    metrics = json.loads(Path("metrics/gan.json").read_text())
    assert (metrics["added"], metrics["repeats_dropped"], metrics["acceptance"]["a"]["accepted"]) == (1, 3, 1)
    assert read_imageset("data/gan").manifest["accepted"].tolist() == [True, False, False, False]
    assert len(read_imageset("data/variants/augmented/extra")) == 1


@pytest.mark.hostile("training")
@pytest.mark.parametrize("settings, line", [
    ({"with_fixed": False, "tie_se": 3},
     "params.yaml: augment_search.tie_se: 3, but with_fixed false scores no balance.policy to keep on a tie, and "
     "nothing else reads it; set tie_se: 1.0, or with_fixed: true"),
    ({"kinds": ["trivial"], "ns": [3]},
     'params.yaml: augment_search.ns: [3], but kinds ["trivial"] has no rand, the only kind that reads it (trivial '
     "draws one op an image); set ns: [2], or add rand to kinds"),
], ids=["tie_se without with_fixed", "ns without rand"])
def test_search_settings_the_search_never_reads_are_refused(tmp_path, monkeypatch, settings, line):
    # before: accepted; search() takes tie_se only with an incumbent (with_fixed), candidates() takes ns only for rand,
    # so the search ran as under the defaults, and metrics/augment_search.json said tie_se 3
    params = default_params()
    params["augment_search"].update(enabled=True, **settings)
    project = make_project(tmp_path / "project", params)
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        _stage("augment_search").main()
    assert str(refused.value) == line
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
@pytest.mark.parametrize("max_images, raise_", [
    (None, "augment_search.epochs"), (2000, "augment_search.epochs"),
    (3, "augment_search.epochs or augment_search.max_images"),
], ids=["null", "above the train images", "a sample of 3"])
def test_a_search_that_learnt_nothing_names_max_images_only_where_the_sample_left_images_out(
        tmp_path, monkeypatch, capsys, max_images, raise_):
    # 19 train images; every candidate right on one of the 2 val images (a and b, one each): no better than naming
    # val's largest class. Before: "raise augment_search.epochs or augment_search.max_images" also where max_images
    # (null, or 2000) had taken all 19 train images already
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.2],
                                                    "op_sets": [["rotate"]], "max_images": max_images})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer", lambda *a, **k: lambda policy: np.array([1.0, 0.0]))
    _stage("augment_search").main()
    assert (f"warning: augment-search: no short training learnt: the best score (0.5000) is no better than naming the "
            f"largest val class for every image (0.5000), so the policy was chosen on noise; raise {raise_}, or check "
            "train.lr and train.weight_decay") in capsys.readouterr().out.splitlines()


@pytest.mark.hostile("training")
def test_copies_of_a_searched_candidate_alike_to_balance_policy_name_the_search_without_with_fixed(tmp_path,
                                                                                                  monkeypatch):
    # with_fixed false: the search scores its own candidates alone, here one, [translate, noise] at magnitude 1e-4,
    # which balance.policy happens to equal; its copies equal their source. Before: "balance.policy: ...; raise
    # balance.policy.magnitude", which reruns the search (dvc.yaml: it reads balance.policy), and with_fixed false it
    # picks the same candidate again
    weak = {"ops": ["translate", "noise"], "n": 1, "magnitude": 0.0001, "kind": "rand", "fill": "border"}
    _project(tmp_path, monkeypatch, balance={"policy": weak},
             augment_search={"enabled": True, "with_fixed": False, "kinds": ["rand"], "ns": [1], "magnitudes": [0.0001],
                             "op_sets": [["translate", "noise"]]})
    from winnow.augment_search import SEARCHED, pruned_record, search_settings, search_training
    from winnow.stage import write_json

    write_json(SEARCHED, {"policy": weak, "val_accuracy": 0.5, "no_augmentation_val_accuracy": 0.5,
                          "fixed": None,  # with_fixed false: the search scored no incumbent
                          "searched_with": search_settings(yaml.safe_load((tmp_path / "params.yaml").read_text())),
                          "trained_with": search_training(yaml.safe_load((tmp_path / "params.yaml").read_text())),
                          "chosen_on": pruned_record()})
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        _stage("balance").main()
    assert str(refused.value) == ("augment_search: 16 of 16 copies made with translate equal their source pixel for "
                                  "pixel (magnitude 0.0001: too close to no change); raise augment_search.magnitudes")
    assert_nothing_left(tmp_path, before)
