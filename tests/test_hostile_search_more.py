"""Hostile inputs of augment-search, data-valuation's settings and the GAN's checkpoint, second pass: a val split
the search cannot score on, a refusal after a skipped run, density's comparison with no augmentation, a knn_k
that makes kNN-Shapley blind, and a damaged models/gan.pt read back to resume."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import (
    ROOT, assert_error_line, assert_nothing_left, contract_inputs, default_params, files_under, flip_a_bit, make_project,
    run_stage,
)
from test_gan import gan_project
from winnow.imageset import write_imageset
from winnow.variants import write_variant

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def search_project(root: Path, *, val_labels: list[int], **section) -> Path:
    """A pipeline state after the variants stage: 3 classes of random 12x12 images (12, 5, 2 train), val images
    of ``val_labels``, pruned keeps every train image; the search on, one candidate, one epoch."""
    labels = np.repeat([0, 1, 2], [12, 5, 2])
    ids = [f"i{k}" for k in range(len(labels))] + [f"v{k}" for k in range(len(val_labels))]
    images = np.random.default_rng(0).integers(0, 256, (len(ids), 12, 12, 1), dtype=np.uint8)
    manifest = pd.DataFrame({"id": ids, "split": ["train"] * len(labels) + ["val"] * len(val_labels),
                             "label": np.r_[labels, val_labels].astype(np.int64), "source": "t", "orig_h": 12,
                             "orig_w": 12, "orig_mode": "L"})
    write_imageset(root / "data/ingest", images, manifest, ["a", "b", "c"])
    write_variant("pruned", pd.DataFrame({"id": ids[:len(labels)], "origin": "ingest", "label": labels,
                                          "action": "keep", "reason": "", "stage": ""}), root=root / "data/variants")
    contract_inputs(root)
    params = default_params()
    params["train"] |= {"device": "cpu", "threads": 1, "batch_size": 8}
    params["augment_search"] |= {"enabled": True, "epochs": 1, "kinds": ["trivial"], "magnitudes": [0.3],
                                 "op_sets": [["rotate"]], **section}
    return make_project(root, params)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("method", ["train", "density"])
def test_a_val_split_of_one_class_is_refused_by_the_search(tmp_path, method):
    # before: exit 0, every candidate and no augmentation scored 1.0000 (the model naming 'a' everywhere), and the
    # first candidate was written as "chosen on val"
    project = search_project(tmp_path / "project", val_labels=[0, 0], method=method)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "augment_search"))
    assert line == ("error: augment-search: pruned's val split holds images of one class only ('a'); a candidate is "
                    "scored by its accuracy on val, which a model naming that class everywhere maximises, so no "
                    "policy can be told apart: give the val split images of at least 2 classes (raise "
                    "ingest.val_fraction), or set augment_search.enabled: false")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_search_refused_after_a_skipped_run_leaves_the_stand_ins_as_they_were(tmp_path):
    # before: the stand-in data/augment-search was removed before the refusal, and metrics/augment_search.json
    # still said skipped beside no policy folder at all
    project = search_project(tmp_path / "project", val_labels=[])
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["augment_search"]["enabled"] = False
    make_project(project, params)
    assert run_stage(project, "augment_search").returncode == 0
    written = {p: (project / p).read_bytes() for p in files_under(project)}
    params["augment_search"]["enabled"] = True
    make_project(project, params)
    written["params.yaml"] = (project / "params.yaml").read_bytes()
    line = assert_error_line(run_stage(project, "augment_search"))
    assert line == ("error: augment-search: pruned's val split holds no images, and a candidate is scored by its "
                    "accuracy on val: set ingest.val_fraction above 0, or augment_search.enabled: false")
    assert {p: (project / p).read_bytes() for p in files_under(project)} == written
    assert (project / "data/augment-search/skipped.txt").read_text().startswith("skipped: augment_search.enabled")


@pytest.mark.hostile("intermediates")
def test_a_search_failing_while_writing_after_a_skipped_run_puts_the_stand_ins_back(tmp_path, monkeypatch):
    # before: the stand-in data/augment-search was removed just before the policy and its table were written, so a
    # fault there (here the metrics write failing: a full disk) left no data/augment-search beside
    # metrics/augment_search.json saying skipped
    project = search_project(tmp_path / "project", val_labels=[0, 1])
    params = yaml.safe_load((project / "params.yaml").read_text())
    make_project(project, {**params, "augment_search": {**params["augment_search"], "enabled": False}})
    assert run_stage(project, "augment_search").returncode == 0
    make_project(project, params)
    written = {p: (project / p).read_bytes() for p in files_under(project)}
    monkeypatch.chdir(project)
    stage = _stage("augment_search")
    real_write_json = stage.write_json

    def write_json(path, value):
        if str(path) == stage.METRICS:
            raise OSError(28, "No space left on device")
        real_write_json(path, value)

    monkeypatch.setattr(stage, "write_json", write_json)
    with pytest.raises(OSError, match="No space left on device"):
        stage.main()
    assert {p: (project / p).read_bytes() for p in files_under(project)} == written
    assert (project / "data/augment-search/skipped.txt").read_text().startswith("skipped: augment_search.enabled")


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_stage", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.hostile("training")
def test_density_does_not_claim_no_policy_helped_training(tmp_path, monkeypatch, capsys):
    # before: density scores a policy by an unaugmented model's accuracy on val images the policy changed, which
    # sits below plain val accuracy by construction, so every density search warned "no policy beat training
    # without augmentation ... a policy that did not help", and printed that accuracy as "val accuracy"
    project = search_project(tmp_path / "project", val_labels=[0, 1], method="density")
    monkeypatch.chdir(project)
    from winnow import augment_search

    # a model right on both val images: 0.5 would be no better than naming one of their two classes, which the
    # search rightly warns of
    monkeypatch.setattr(augment_search, "density_scorer", lambda *a, **k: lambda p: 1.0 if p is None else 0.5)
    _stage("augment_search").main()
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("warning:")] == []
    assert out[-1].endswith("(accuracy 0.5000 on the val images it augmented, 1.0000 on val as it is)")
    assert json.loads(Path("metrics/augment_search.json").read_text())["method"] == "density"


@pytest.fixture(scope="module")
def valuation_state(tmp_path_factory):
    """What the stages before data-valuation wrote: two clouds of 30 train images each, clean labels."""
    from budget_project import clean_clouds_state

    return clean_clouds_state(tmp_path_factory.mktemp("state") / "p")


@pytest.mark.hostile("params")
def test_knn_k_of_the_whole_train_set_is_refused(valuation_state, tmp_path):
    # before: exit 0, "0 of 60 train images valued reliably below zero": at k = N every train image neighbours
    # every val image, kNN-Shapley values each image at its label's share of val over N, never below zero
    project = shutil.copytree(valuation_state, tmp_path / "project")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data_valuation"]["knn_k"] = 60
    make_project(project, params)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "data-valuation"))
    assert line == ("error: data_valuation.knn_k: 60 is every one of the 60 train images, so each val image's "
                    "neighbours are all of them and kNN-Shapley values no image below zero (its value is its label's "
                    "share of the val images over N); choose an integer in [1, 59], well below the train set's size")
    assert_nothing_left(project, before)


def test_knn_shapley_refuses_k_of_the_whole_train_set_and_takes_one_less():
    # at k = N every step of Jia et al.'s recursion weighs 1 / N, so s(a_j) = m_j / N: 0 or 1 / N, never negative
    from winnow.errors import WinnowError
    from winnow.valuation import knn_shapley

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype(np.float32), np.array([0, 1] * 4)
    vx, vy = rng.normal(size=(5, 3)).astype(np.float32), np.array([0, 0, 0, 1, 1])
    assert len(knn_shapley(x, y, vx, vy, k=7).mean) == 8  # one below N: still allowed
    with pytest.raises(WinnowError, match=r"^data_valuation.knn_k: 8 is every one of the 8 train images"):
        knn_shapley(x, y, vx, vy, k=8)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("content, problem", [
    (b"PK\x03\x04" + b"garbage" * 20, "not a readable GAN checkpoint (PytorchStreamReader failed reading zip archive"),
    (None, "not a GAN checkpoint of this version (lacks seed, history, num_classes, image_shape, generator, "
           "discriminator, opt_g, opt_d, rng)"),
    # before: torch.load checks no CRC, so a flipped bit was read back as other weights without a word
    ("flipped", "corrupt: its member gan/data.pkl fails its CRC-32 check (a bit changed on disk or in a copy)"),
])
def test_a_damaged_gan_checkpoint_is_one_line_naming_it(tmp_path, content, problem):
    # before: torch's traceback ("PytorchStreamReader failed reading zip archive ...") or a KeyError, when the
    # stage read models/gan.pt back to resume a run
    import torch

    project = gan_project(tmp_path / "project", weak_k=2)
    if content in (None, "flipped"):
        torch.save({"config": {}}, project / "models/gan.pt")  # torch names the archive's folder gan
        if content == "flipped":
            flip_a_bit(project / "models/gan.pt", member="data.pkl")
    else:
        (project / "models/gan.pt").write_bytes(content)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "gan-synthesize"))
    assert line.startswith(f"error: models/gan.pt: {problem}")
    assert line.endswith("; remove it to train the GAN afresh (gan-synthesize writes it anew)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("training")
def test_a_search_whose_short_trainings_learnt_nothing_says_the_policy_was_chosen_on_noise(tmp_path):
    # found by probing: train.lr 3e-5 and one epoch scored every candidate 0.098-0.100 against a largest val class of
    # 0.100, and the pick shipped as "chosen on val" without a word. Here the val images are one picture, so any
    # model names one class for all of them and scores at most the largest class's share (3 of 5)
    project = search_project(tmp_path / "project", val_labels=[0, 0, 0, 1, 2])
    from winnow.imageset import read_imageset

    data = read_imageset(project / "data/ingest")
    images = np.array(data.images)
    images[data.manifest["split"].to_numpy() == "val"] = images[-1]
    write_imageset(project / "data/ingest", images, data.manifest.drop(columns="digest"), data.classes)
    done = run_stage(project, "augment_search")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / "metrics/augment_search.json").read_text())
    assert ("warning: augment-search: no short training learnt: the best score ("
            f"{max(row['score'] for row in metrics['table']):.4f}) is no better than naming the largest val class for "
            "every image (0.6000), so the policy was chosen on noise; raise augment_search.epochs, or check train.lr "
            "and train.weight_decay") in done.stdout.splitlines()  # the sample took every train image
