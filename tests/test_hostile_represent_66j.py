"""Hostile edits between represent and the stages that read its outputs: degrade's labels or pixels changed since
the embedding was made (the stage run alone, `dvc repro -s budget`, or by hand), and an embedding an earlier winnow
made without a record of what it was made from."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from budget_project import case, planted_fixes_then_mistakes, write_state
from hostile_harness import files_under, log_nothing_planted, make_project, planted_log, record_represent, regroup
from test_judges import STAGES, separable, stage_project
from test_represent import FLIPPED, blobs, opts
from winnow import checkpoints, represent
from winnow.errors import WinnowError
from winnow.imageset import ImageSet, read_imageset, write_imageset
from winnow.stage import write_json

RERUN = "; rerun the represent stage (dvc repro represent)"


@pytest.fixture(scope="module")
def budget_state(tmp_path_factory):
    """What the stages before budget wrote for budget_project's planted case (judged on clean val)."""
    c = case()
    return write_state(tmp_path_factory.mktemp("state") / "p", c, issues=planted_fixes_then_mistakes(c),
                       trusted=False)


def relabelled(data: ImageSet, row: int, label: int) -> ImageSet:
    manifest = data.manifest.copy()
    manifest.loc[row, "label"] = label
    return ImageSet(data.images, manifest, data.classes)


def run_here(monkeypatch, project, name: str) -> None:
    """``stages/<name>.py``'s main in this process inside ``project``."""
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(STAGES))
    sys.modules.pop(name, None)
    __import__(name).main()


@pytest.mark.hostile("represent")
def test_budget_run_alone_after_a_relabel_refuses_the_embedding_of_the_represent_judge(budget_state, tmp_path,
                                                                                       monkeypatch):
    # found: represent.source judge, then a val label of data/degrade fixed (val-0000: left -> middle) and
    # `dvc repro -s budget` run: read_representation checked only ids, so every candidate was scored in the space of
    # the judge that chose its epoch on the old labels (and that judge could stand in for none), exit 0
    project = shutil.copytree(budget_state, tmp_path / "project")
    record_represent(project, source="judge")
    data = read_imageset(project / "data/degrade")
    row = int(np.flatnonzero(data.manifest["id"] == "val-0000")[0])
    assert data.classes[data.labels[row]] == "left"
    write_imageset(project / "data/degrade", np.asarray(data.images), relabelled(data, row, 1).manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    regroup(project)  # dedup ran on the new labels too (else budget refuses its groups first)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        run_here(monkeypatch, project, "budget")
    assert str(refused.value) == ("data/represent: its judge learnt 1 train or val image(s) under another label than "
                                  "the data set holds now, first 'val-0000' ('left', now 'middle'): the labels changed "
                                  "since the embedding was made, and features trained on the old labels would vouch "
                                  "for them" + RERUN)
    assert files_under(project) == before


@pytest.mark.hostile("represent")
def test_confident_learn_run_alone_after_a_relabel_refuses_the_embedding_of_the_represent_judge(tmp_path,
                                                                                                monkeypatch):
    # found: the same with `dvc repro -s confident-learn` after a train label changed (img-5, moved to class 1 by
    # degrade, given back its class 0): its probe judged the new labels in the old labels' space, exit 0
    stage_project(tmp_path, features=separable, section="confident_learn", options={"judge": "probe", "folds": 3})
    record_represent(tmp_path, source="judge")
    data = read_imageset(tmp_path / "data/degrade")
    write_imageset(tmp_path / "data/degrade", np.asarray(data.images), relabelled(data, 5, 0).manifest, data.classes)
    log_nothing_planted(tmp_path)  # a rerun planting none: the old log's flip of img-5 no longer holds
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        run_here(monkeypatch, tmp_path, "confident_learn")
    assert str(refused.value) == ("data/represent: its judge learnt 1 train or val image(s) under another label than "
                                  "the data set holds now, first 'img-5' ('1', now '0'): the labels changed since the "
                                  "embedding was made, and features trained on the old labels would vouch for them"
                                  + RERUN)
    assert files_under(tmp_path) == before


@pytest.mark.hostile("represent")
def test_a_label_free_embedding_is_read_after_a_relabel_and_refused_after_its_pixels_change(tmp_path):
    # selfsup, pretrained and file never read a label, so a relabel leaves their features right; the pixels under an
    # id are what they describe: before, an image replaced under its id (degrade rerun on other data) was judged by
    # the old picture's features, exit 0
    data = blobs()
    folder = tmp_path / "represent"
    folder.mkdir()
    features = np.arange(len(data) * 3, dtype=np.float32).reshape(len(data), 3) + 1
    np.save(folder / "embeddings.npy", features)
    write_json(folder / "ids.json", data.manifest["id"].tolist())
    write_json(folder / represent.MADE_FROM, represent.made_from(data, source="selfsup"))
    ids = data.manifest["id"].to_numpy()[[FLIPPED, 0]]
    fixed = relabelled(data, FLIPPED, 0)
    np.testing.assert_array_equal(represent.read_representation(folder, ids, data=fixed), features[[FLIPPED, 0]])
    images = np.array(data.images)
    images[FLIPPED] = 255 - images[FLIPPED]
    manifest = data.manifest.drop(columns="digest", errors="ignore")
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, ids, data=ImageSet(images, manifest, data.classes))
    assert str(refused.value) == (f"{folder}: 1 image(s) were embedded from other pixels than the data set holds now "
                                  "(or are new or gone), first 'img-4': the data changed since the embedding was "
                                  "made, and its features would describe other pictures" + RERUN)
    # the other image's pixels are those it was embedded from: it is read as before
    np.testing.assert_array_equal(represent.read_representation(folder, ids[1:], data=ImageSet(images, manifest,
                                                                                               data.classes)),
                                  features[[0]])


@pytest.mark.hostile("represent")
def test_an_embedding_without_its_record_is_refused_where_a_stage_checks_it(tmp_path):
    # an earlier winnow's data/represent: which pixels and labels it came from cannot be told, so it is refused
    data = blobs()
    folder = tmp_path / "data/represent"
    folder.mkdir(parents=True)
    np.save(folder / "embeddings.npy", np.ones((len(data), 2), np.float32))
    write_json(folder / "ids.json", data.manifest["id"].tolist())
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, data.manifest["id"][:3], data=data)
    assert str(refused.value) == (f"{folder}/made_from.json: missing: the embedding was made by an earlier winnow, "
                                  "which kept no record of the pixels and labels it was made from, so images or labels "
                                  "changed since cannot be told" + RERUN)
    assert sorted(p.name for p in folder.iterdir()) == ["embeddings.npy", "ids.json"]


@pytest.mark.hostile("represent")
def test_the_represent_judge_keeps_the_labels_it_learnt_and_is_refused_after_a_relabel(tmp_path, one_torch_thread):
    # found: models/represent.pt (source judge) kept no 'learnt' record, so the budget let the judge of the old labels
    # stand in for none after a relabel, checking only its config and seed
    data = blobs(per_class=(4, 2, 0), size=8)
    options = opts("judge", judge={"model": "lenet5", "epochs": 1, "crop_padding": 0, "batch_size": 8})
    represent.embed_imageset(data, options=options, seed=0, progress=False, model_out=tmp_path / "represent.pt")
    learnt = data.manifest["split"].isin(["train", "val"]).to_numpy()
    ids, labels = data.manifest["id"].to_numpy()[learnt], data.labels[learnt]
    checkpoints.load(tmp_path / "represent.pt", written_by="represent", trained_on=lambda: (ids, labels))
    fixed = labels.copy()
    fixed[FLIPPED] = 0
    with pytest.raises(WinnowError) as refused:
        checkpoints.load(tmp_path / "represent.pt", written_by="represent", trained_on=lambda: (ids, fixed))
    assert str(refused.value) == (f"{tmp_path}/represent.pt: learnt 1 of the images its data set version holds under "
                                  "another label, first 'img-4': its rows changed since it was trained, and its score "
                                  "would be the old version's" + RERUN)
    # and the embedding's record says the same of the features
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "embeddings.npy", np.ones((len(data), 2), np.float32))
    write_json(folder / "ids.json", data.manifest["id"].tolist())
    write_json(folder / represent.MADE_FROM, represent.made_from(data, source="judge"))
    with pytest.raises(WinnowError) as refused:
        represent.read_representation(folder, ["img-0"], data=relabelled(data, FLIPPED, 0))
    assert str(refused.value) == (f"{folder}: its judge learnt 1 train or val image(s) under another label than the "
                                  "data set holds now, first 'img-4' ('bright', now 'dark'): the labels changed since "
                                  "the embedding was made, and features trained on the old labels would vouch for "
                                  "them" + RERUN)
    assert pd.Series(represent.made_from(data, source="judge")["labels"]).index.tolist() == ids.tolist()


@pytest.mark.hostile("training")
def test_balance_run_alone_after_a_relabel_refuses_the_baseline_model_of_the_old_labels(tmp_path, monkeypatch):
    # found: models/baseline.pt trained when baseline's i0 was 'b', then i0 relabelled 'a' (degrade and variants rerun)
    # and `dvc repro -s balance` run: its edge cases were chosen in the features of the old labels' model, exit 0
    import torch

    from test_augment import _project, _stage
    from winnow.configs import TrainConfig
    from winnow.models import build_model
    from winnow.training import Trained
    from winnow.variants import read_rows, write_variant

    _project(tmp_path, monkeypatch, balance={"edge_fraction": 0.1, "edge_extra": 2.0, "device": "cpu"})
    rows = read_rows("pruned")
    write_variant("baseline", rows)
    learnt = np.r_[rows["label"].to_numpy(), 0, 1]  # the rows' labels, then val's (v0 'a', v1 'b')
    assert rows["id"].iloc[0] == "i0" and learnt[0] == 0
    learnt[0] = 1
    # trained as params.yaml's train section and seed say: balance refuses a model of other settings before its labels
    params = yaml.safe_load(Path("params.yaml").read_text())
    trained = Trained(build_model(params["train"]["model"], in_channels=1, num_classes=3, image_size=(12, 12)),
                      torch.zeros(1), torch.ones(1), [], 0, TrainConfig.from_params(params["train"]), params["seed"])
    checkpoints.save(trained, "models/baseline.pt", classes=["a", "b", "c"], image_shape=(12, 12, 1),
                     seen=np.concatenate([rows["id"].to_numpy(str), ["v0", "v1"]]), labels=learnt)
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        _stage("balance").main()
    assert str(refused.value) == ("models/baseline.pt: learnt 1 of the images its data set version holds under another "
                                  "label, first 'i0': its rows changed since it was trained, and its score would be "
                                  "the old version's; rerun the train@baseline stage (dvc repro train@baseline)")
    assert files_under(tmp_path) == before


@pytest.mark.hostile("intermediates")
def test_represent_whose_record_path_is_a_folder_is_refused_before_it_trains(tmp_path, monkeypatch):
    # before: made_from.json was not among the outputs checked first, so a folder there was found only after the
    # judge had trained and embedded every image (minutes), when the record was written
    project = make_project(tmp_path / "project")
    (project / "data/represent/made_from.json").mkdir(parents=True)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        run_here(monkeypatch, project, "represent")
    assert str(refused.value) == ("represent: data/represent/made_from.json is a folder, where the stage writes a "
                                  "file; move it away, then rerun")
    assert files_under(project) == before


@pytest.mark.hostile("training")
def test_gan_synthesize_run_alone_after_a_relabel_refuses_the_baseline_model_of_the_old_labels(tmp_path,
                                                                                                 monkeypatch):
    # the same for gan-synthesize: before, it ranked the weak classes by the val F1 of the old labels' model, exit 0
    from test_gan import gan_project
    from winnow.variants import read_rows, write_variant

    project = gan_project(tmp_path / "project", weak_k=1)
    # every row kept, so that the model of the old labels would otherwise rank the weak class and generate for it
    write_variant("pruned", read_rows("baseline", root=project / "data/variants"), root=project / "data/variants")
    rows = read_rows("baseline", root=project / "data/variants")
    assert rows.loc[0, ["id", "label"]].tolist() == ["train-0-0", 0]
    write_variant("baseline", rows.assign(label=np.where(rows["id"] == "train-0-0", 1, rows["label"])),
                  root=project / "data/variants")
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        run_here(monkeypatch, project, "gan_synthesize")
    # baseline's rows are degrade's as they are, so rows relabelled by hand are refused first as rows of another degrade
    # (stop 70's review: the model's check reads the rows through load_variant's checks, and rerunning train@baseline,
    # which the line said before, refused the rows in turn)
    assert str(refused.value) == ("data/variants/baseline/rows.parquet: image 'train-0-0' keeps label 'b', the degrade "
                                  "imageset labels it 'a' (1 such row(s)): made from another degrade; rerun the "
                                  "variants stage (dvc repro variants)")
    assert files_under(project) == before
