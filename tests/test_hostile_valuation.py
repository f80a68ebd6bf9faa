"""Hostile inputs around data-valuation (issue 23): bad data_valuation params, a missing or incomplete
embedding, an empty val split to value against, and a pruned variant that asks for valuation decisions the
stage never wrote."""

from __future__ import annotations

import html
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from budget_project import clean_clouds_state
from hostile_harness import (
    assert_error_line, assert_nothing_left, files_under, make_project, planted_log, regroup, run_stage,
)
from winnow.imageset import read_imageset, write_imageset


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """What the stages before data-valuation wrote: two small clouds, clean labels."""
    return clean_clouds_state(tmp_path_factory.mktemp("state") / "p")


@pytest.fixture
def project(state, tmp_path):
    return shutil.copytree(state, tmp_path / "project")


def fails(project, stage: str, *fragments: str) -> str:
    before = files_under(project)
    line = assert_error_line(run_stage(project, stage), *fragments)
    assert_nothing_left(project, before)
    return line


def with_params(project, section: dict):
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data_valuation"] = {**params["data_valuation"], **section}
    return make_project(project, params)


# -- params ---------------------------------------------------------------------------------------------

@pytest.mark.hostile("params")
@pytest.mark.parametrize("section, message", [
    ({"bound": -1}, "error: params.yaml: data_valuation.bound: -1 is below 0"),
    ({"knn_k": 0}, "error: params.yaml: data_valuation.knn_k: 0 is below 1"),
    ({"combine": "all"}, "error: params.yaml: data_valuation.combine:"),
    ({"tracin": {"epochs": 0}}, "error: params.yaml: data_valuation.tracin.epochs: 0 is below 1"),
    ({"tracin": {"lr": 0}}, "error: params.yaml: data_valuation.tracin.lr: 0"),
    ({"tracin": {"weight_decay": -0.1}}, "error: params.yaml: data_valuation.tracin.weight_decay: -0.1 is below 0"),
    ({"batch_size": 0}, "error: params.yaml: data_valuation.batch_size: 0 is below 1"),
    ({"bound": True}, "error: params.yaml: data_valuation.bound:"),
    ({"knnk": 5}, "error: params.yaml: data_valuation.knnk: unknown parameter (did you mean knn_k?)"),
])
def test_bad_valuation_params_stop_the_stage_with_one_line(project, section, message):
    with_params(project, section)
    line = fails(project, "data-valuation")
    assert line.startswith(message), line


@pytest.mark.hostile("params")
def test_a_cuda_device_without_cuda_names_the_parameter(project):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the request is valid here")
    with_params(project, {"device": "cuda"})
    line = fails(project, "data-valuation")
    assert line == "error: data_valuation.device: cuda requested but no CUDA device is visible; use auto or cpu"


# -- intermediates --------------------------------------------------------------------------------------

@pytest.mark.hostile("intermediates")
def test_missing_embeddings_name_the_represent_stage(project):
    (project / "data/represent/embeddings.npy").unlink()
    line = fails(project, "data-valuation")
    assert line == "error: data/represent/embeddings.npy: missing; rerun the represent stage (dvc repro represent)"


@pytest.mark.hostile("intermediates")
def test_a_train_image_without_an_embedding_names_it(project):
    ids = json.loads((project / "data/represent/ids.json").read_text())
    features = np.load(project / "data/represent/embeddings.npy")
    keep = [i for i, name in enumerate(ids) if name != "train-0007"]
    np.save(project / "data/represent/embeddings.npy", features[keep])
    (project / "data/represent/ids.json").write_text(json.dumps([ids[i] for i in keep]))
    line = fails(project, "data-valuation")
    assert line == ("error: data/represent/ids.json: 1 image(s) have no embedding, first 'train-0007'; rerun the "
                    "represent stage (dvc repro represent)")


@pytest.mark.hostile("intermediates")
def test_val_images_of_a_class_without_train_images_do_not_value_the_others(project):
    # before: val images of a class with no train image (class 7 removed by degrade) were predicted as the
    # look-alike class, and TracIn valued that class's clean train images below zero: 346 of 350 clean 9s dropped
    with_params(project, {"combine": "either"})
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.copy()
    moved = np.flatnonzero((manifest["split"] == "val") & (manifest["label"] == 1))[:5]
    manifest.iloc[moved, manifest.columns.get_loc("label")] = 2  # class 'right': no train image, in class 1's cloud
    write_imageset(project / "data/degrade", data.images, manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    regroup(project)  # dedup reran on the new data/degrade
    done = run_stage(project, "data-valuation")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("data-valuation: 5 val image(s) of class(es) with no train image left to value are left out "
                        "of the judging")
    assert "on 15 val images" in lines[-1]
    assert json.loads((project / "metrics/data_valuation.json").read_text())["val_left_out"] == 5


@pytest.mark.hostile("params")
def test_a_knn_k_too_wide_to_value_any_image_below_zero_says_so(project):
    # before: knn_k 1,000 of 2,763 train images valued none below zero and dropped nothing, without a word
    with_params(project, {"knn_k": 50})
    done = run_stage(project, "data-valuation")
    assert done.returncode == 0, done.stderr
    assert ("warning: data-valuation: kNN-Shapley valued no train image below zero (data_valuation.knn_k 50 is wider "
            "than the 30 train images of class 'left': a vote that wide changes with no one image), so under combine "
            "both nothing can be dropped; lower data_valuation.knn_k to 30 or below") in done.stdout.splitlines()


@pytest.mark.hostile("intermediates")
def test_an_empty_val_split_names_the_parameter_that_makes_one(project):
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.copy()
    manifest.loc[manifest["split"] == "val", "split"] = "test"
    write_imageset(project / "data/degrade", data.images, manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    regroup(project)  # dedup reran on the new data/degrade
    with_cleaners(project, ["threshold", "dedup", "data_valuation"])  # else it goes on without deciding (below)
    fails(project, "data-valuation", "no train or no val images", "ingest.val_fraction")


@pytest.mark.hostile("intermediates")
def test_budget_without_valuation_decisions_names_the_data_valuation_stage(project):
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = ["threshold", "dedup", "data_valuation"]
    make_project(project, params)
    line = fails(project, "budget")
    assert line == ("error: data/data-valuation/decisions.parquet: not found; rerun the data-valuation stage "
                    "(dvc repro data-valuation)")


@pytest.mark.hostile("intermediates")
def test_valuation_decisions_without_harm_name_the_data_valuation_stage(project):
    import yaml

    assert run_stage(project, "data-valuation").returncode == 0
    path = project / "data/data-valuation/decisions.parquet"
    pd.read_parquet(path).drop(columns="harm").to_parquet(path, index=False)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = ["threshold", "dedup", "data_valuation"]
    make_project(project, params)
    line = fails(project, "budget")
    assert line == ("error: data/data-valuation/decisions.parquet: lacks column(s) harm; rerun the data-valuation "
                    "stage (dvc repro data-valuation)")


@pytest.mark.hostile("params")
def test_a_weight_decay_that_erases_the_probe_is_refused_naming_weight_decay(project):
    # before: "the probe diverged (non-finite weights) at lr 0.1; lower data_valuation.tracin.lr", which blamed lr
    with_params(project, {"tracin": {"weight_decay": 1000000.0}})
    line = fails(project, "data-valuation")
    assert line == ("error: data_valuation.tracin.weight_decay: 1e+06 at lr 0.1 makes each SGD step scale the weights "
                    "by 1 - lr * weight_decay = -99999, where a probe that learns needs a factor just under 1; lower "
                    "data_valuation.tracin.weight_decay so that lr * weight_decay is well below 1 "
                    "(the default is 1e-4)")


def with_cleaners(project, cleaners: list[str]):
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = cleaners
    return make_project(project, params)


def keep_val_images(project, per_class: dict[int, int]) -> None:
    """Move all but the first ``per_class[label]`` val images of each named class to test."""
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.copy()
    for label, keep in per_class.items():
        rows = manifest.index[(manifest["split"] == "val") & (manifest["label"] == label)]
        manifest.loc[rows[keep:], "split"] = "test"
    write_imageset(project / "data/degrade", data.images, manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    regroup(project)  # dedup reran on the new data/degrade


def checked_against_degrade(project, metrics: dict, table: pd.DataFrame) -> dict:
    """The report's check of data-valuation's figures, its undecided entry against data/degrade included."""
    from winnow.report_recounts import checked_valuation

    data = read_imageset(project / "data/degrade")
    return checked_valuation(metrics, decisions=table, path="metrics/data_valuation.json", stage="data-valuation",
                             manifest=data.manifest, classes=data.classes)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("left", [0, 1])
def test_a_class_with_too_few_val_images_is_left_undecided_with_a_warning(project, left):
    # before (MNIST-5k, no val image of '7'): all 120 train images of '7' valued negative and dropped, exit 0, no
    # warning (35 dropped with its 50 val images); one val image gave a standard error from one value
    keep_val_images(project, {1: left})  # class 1 ('middle'): train-0030 .. train-0059; class 0 keeps its 10
    done = run_stage(project, "data-valuation")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (f"warning: data-valuation: class(es) 'middle' ({left} val image(s)) have fewer than 2 val images, so "
            "their 30 train image(s) are left undecided and kept (a value is measured against val images of the "
            "image's class); give the val split at least 2 images of each class") in done.stdout.splitlines()
    table = pd.read_parquet(project / "data/data-valuation/decisions.parquet")
    assert table["id"].tolist() == [f"train-{i:04d}" for i in range(30)]  # no row: no variant drops them
    metrics = json.loads((project / "metrics/data_valuation.json").read_text())
    assert metrics["undecided"] == {"images": 30, "min_class_val": 2,
                                    "classes": {"middle": {"val_images": left, "train_images": 30}}}
    assert metrics["considered"] == 30
    assert checked_against_degrade(project, metrics, table) == metrics  # the report shows it (found by review)


@pytest.mark.hostile("intermediates")
def test_a_val_split_too_thin_for_every_class_is_refused(project):
    # before (MNIST-5k cut to 3 val images): 577 train images "reliably" harmful, standard errors over 3 values
    keep_val_images(project, {0: 1, 1: 1})
    with_cleaners(project, ["threshold", "dedup", "data_valuation"])
    line = fails(project, "data-valuation")
    assert line == ("error: data-valuation: the val split's 2 image(s) hold fewer than 2 of every class "
                    "with train images, and a value is measured against val images of the valued image's class; give "
                    "the val split at least 2 images of each class (raise ingest.val_fraction)")


@pytest.mark.hostile("intermediates")
def test_a_val_split_too_thin_to_value_anything_goes_on_when_pruned_does_not_use_valuation(project):
    # before: the same refusal stopped the default dvc repro on a small legal data set, where data_valuation is
    # not among pruned.cleaners and its decisions go nowhere
    keep_val_images(project, {0: 1, 1: 1})
    before = files_under(project)
    done = run_stage(project, "data-valuation")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "warning: data-valuation: the val split's 2 image(s) hold fewer than 2 of every class with train images, and "
        "a value is measured against val images of the valued image's class; give the val split at least 2 images "
        "of each class (raise ingest.val_fraction). data_valuation is not among pruned.cleaners, so it values no "
        "image and the pipeline goes on"]
    assert files_under(project) - before == {"data/data-valuation/decisions.parquet", "metrics/data_valuation.json"}
    assert pd.read_parquet(project / "data/data-valuation/decisions.parquet").empty
    metrics = json.loads((project / "metrics/data_valuation.json").read_text())
    assert (metrics["considered"], metrics["flagged"], metrics["undecided"]["images"]) == (0, 0, 60)
    assert checked_against_degrade(project, metrics, pd.read_parquet(
        project / "data/data-valuation/decisions.parquet")) == metrics
    # and the report says why, not "valued 0" beside two empty grids (found by review)
    from winnow.report_valuation import valuation_section

    page = valuation_section(decisions=pd.read_parquet(project / "data/data-valuation/decisions.parquet"),
                             summary=metrics, imageset=read_imageset(project / "data/degrade"), count=5,
                             cleaning=False, applied=0)
    assert html.unescape(page).startswith("<p>Data valuation decided nothing about the 60 train images: the val split's 2 image(s) "
                           "hold fewer than 2 of every class")
