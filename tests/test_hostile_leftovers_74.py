"""Leftovers of stops 73-74, mended at stop 74.

- a stage run in-process (:func:`winnow.stage.run` called by a test runner or a notebook) gives the caller its own
  SIGTERM and SIGHUP handlers and ``sys.unraisablehook`` back when it returns, on success and on a refusal; a stage
  run again in the same process after one that a SIGTERM stopped is stopped by the next SIGTERM too;
- `winnow study queue` counts an experiment that ran to the end as done only where it ran under the code and inputs the
  workspace holds (its dvc.lock's hashes), and names the others; experiments of the sweeps queued earlier under params
  since edited are named, with the command that drops them;
- an image folder of split folders with a plain file named ``test`` (or ``val``) at its top (an archive left packed):
  refused, naming the file and the split that would be carved from train, not one row and the split carved unsaid;
  with class folders alone (no split read from folders) such a file stays a row;
- a class folder that is a dangling link (a DVC link cache not pulled, a drive not mounted), in the image folder or in
  a split folder: refused naming it, not one row and its class gone from classes.json without a word; a dangling link
  named as an image file beside the class folders stays a row;
- the advice to give the val split more images (augment-search's refusal, gan-synthesize's and data-valuation's
  lines) where the source holds its own val split (an imagefolder's val/, an npz's val arrays), which
  ingest.val_fraction never changes: it says to add them there, not to raise the fraction; where ingest carved val
  from train it still says to raise it;
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from hostile_harness import assert_nothing_left, default_params, files_under, make_project, params_with
from test_contracts import _stage_module
from test_hostile_imagefolder_73 import project_of, refused
from test_hostile_ingest import image_folder
from test_study import ingested_project  # noqa: F401 (a fixture)
from winnow import cli, stage, study_sweeps
from winnow.imageset import more_val, read_imageset
from winnow.errors import WinnowError


def _stops_now() -> tuple:
    return signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP), sys.unraisablehook


def _refused() -> None:
    raise WinnowError("somewhere: refused here; do something else")


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("main", "status"), [(lambda: None, None), (_refused, 1)])
def test_a_stage_run_in_process_leaves_the_callers_handlers_of_the_stops_as_they_were(monkeypatch, capsys, main,
                                                                                      status):
    # before: SIGTERM and SIGHUP stayed winnow's handler and sys.unraisablehook winnow's wrapper after run() returned
    # (or refused): a later SIGTERM raised winnow's Terminated inside the caller
    monkeypatch.setattr(sys, "argv", ["stages/some.py"])
    handlers = _stops_now()
    if status is None:
        stage.run(main)
    else:
        with pytest.raises(SystemExit) as stopped:
            stage.run(main)
        assert stopped.value.code == status
    assert _stops_now() == handlers
    assert capsys.readouterr().err == ("" if status is None else "error: somewhere: refused here; do something else\n")


def _terminated() -> None:
    signal.raise_signal(signal.SIGTERM)  # the handler raises here, in this thread
    raise AssertionError("the SIGTERM did not stop the stage")


@pytest.mark.hostile("interrupted")
def test_a_stage_run_in_process_again_after_a_sigterm_is_stopped_by_the_next_one(monkeypatch, capsys):
    # before: the first SIGTERM stayed recorded and its handler stayed set, so the second run's handler took the next
    # SIGTERM for a second one sent during the first one's clean-up and ignored it: the stage ran on (here: the
    # AssertionError's traceback)
    monkeypatch.setattr(sys, "argv", ["stages/some.py"])
    for _ in range(2):
        with pytest.raises(SystemExit) as stopped:
            stage.run(_terminated)
        assert stopped.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == 2 * ("error: stages/some.py: terminated (SIGTERM); outputs not yet complete were "
                                           "left unwritten: rerun it\n")


def _shown(monkeypatch, *experiments) -> None:
    """`dvc exp show` of one baseline holding ``experiments`` (name, params, executor state, deps), as DVC's Python API
    gives them."""
    def one(name, params, state, deps):
        record = {"rev": name * 8, "name": name, "error": None,
                  "data": {"params": {"params.yaml": {"data": params}}, "metrics": {}, "deps": deps}}
        return {"revs": [record], "executor": state and {"state": state}, "name": name}

    baseline = {"rev": "b" * 40, "name": "main", "error": None, "data": {"params": {}, "metrics": {}},
                "experiments": [one(*experiment) for experiment in experiments]}
    monkeypatch.setattr(study_sweeps, "shown_experiments", lambda **_: [baseline])


def _study_run(params: dict, perturbations: list) -> dict:
    return {**params, "degrade": {**params["degrade"], "enabled": True, "perturbations": perturbations}}


def _size_commands(keeps) -> list[str]:
    return [f"dvc exp run --queue -S degrade.enabled=true -S 'degrade.perturbations=[{{kind: subsample, keep: {keep}}}]'"
            for keep in keeps]


@pytest.mark.hostile("study")
@pytest.mark.parametrize("state", [None, "success"])
def test_study_queue_counts_a_run_of_other_code_as_not_run(ingested_project, monkeypatch, capsys, state):  # noqa: F811
    # the clean run ended under the code here, keep 0.1 under an older src/winnow/degrade.py (its dvc.lock's md5).
    # Before: both counted as done by their params alone ("2 of the 10 experiments are queued, running or done
    # already"), keep 0.1 was never run under the new code, and the study drew its old result as the new code's.
    # state "success": the runs ended in DVC's queue, whose executor DVC's Python API lists in that state; before
    # stop 77 such a run was taken for one still on its way, its code not checked, and counted as done
    code = ingested_project / "src/winnow/degrade.py"
    code.parent.mkdir(parents=True)
    code.write_text("new code\n")
    now, old = (hashlib.md5(text.encode()).hexdigest() for text in ("new code\n", "old code\n"))
    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    _shown(monkeypatch, ("clean", _study_run(params, []), state, {"src/winnow/degrade.py": {"hash": now}}),
           ("k01", _study_run(params, [{"kind": "subsample", "keep": 0.1}]), state,
            {"src/winnow/degrade.py": {"hash": old}}))
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "clean", "size", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 experiment(s) of these params ran under other code or inputs than the workspace's (src/winnow/degrade.py), "
        "so they count as not run: k01",
        "1 of the 10 experiments are queued, running or done already (`dvc exp show`); the commands of the rest",
        *_size_commands((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))]
    assert_nothing_left(ingested_project, before)


@pytest.mark.hostile("study")
def test_study_queue_names_the_runs_of_its_sweeps_queued_under_params_since_edited(ingested_project,  # noqa: F811
                                                                                   monkeypatch, capsys):
    # keep 0.1 and 0.2 were queued, then train.epochs was edited in params.yaml. Before: the queue added the 9 new
    # experiments without a word, and `dvc exp run --run-all` ran the two old ones too; a queued experiment of the
    # user's own (degrade off) is not the study's and goes unnamed
    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    earlier = {**params, "train": {**params["train"], "epochs": params["train"]["epochs"] + 1}}
    own = {**earlier, "degrade": {**params["degrade"], "enabled": False, "perturbations": []}}
    _shown(monkeypatch, *((f"q{keep}", _study_run(earlier, [{"kind": "subsample", "keep": keep}]), "queued", {})
                          for keep in (0.1, 0.2)), ("mine", own, "queued", {}))
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "size", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2 experiment(s) of these sweeps queued earlier under other params (train.epochs) stay queued and run with "
        "`dvc exp run --run-all`: drop them with `dvc queue remove q0.1 q0.2`",
        *_size_commands((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))]
    assert_nothing_left(ingested_project, before)


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("split", ["val", "test"])
def test_a_file_named_as_a_split_folder_beside_the_train_folder_is_refused(tmp_path, monkeypatch, split):
    # before: one row "not in a class folder: files must sit in root/<class>/ or root/<split>/<class>/" and the split
    # carved from the train images without a word
    data = tmp_path / "data"
    image_folder(data / "train", {"a": 12, "b": 12})
    (data / split).write_bytes(b"PK\x03\x04 an archive left packed")
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        f"ingest.path: split folder {data / split} is a file, not a folder, so the {split} split would be carved from "
        f"the train images instead; unpack its images into {data / split}/<class>/ (an archive?), or move it out of "
        f"{data} to have ingest carve that split from train")
    (data / split).rename(tmp_path / split)  # the second fix it gives: read, the split carved
    _stage_module("ingest").main()
    assert set(pd.read_parquet(project / "data/ingest/manifest.parquet")["split"]) == {"train", "val", "test"}


@pytest.mark.hostile("imagefolder")
def test_a_file_named_test_beside_class_folders_alone_stays_a_row(tmp_path, monkeypatch):
    # no split is read from folders there (every split is carved): the file is one more file outside a class folder
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    (data / "test").write_bytes(b"notes")
    project = project_of(tmp_path, data)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [
        [str(data / "test"), "not in a class folder: files must sit in root/<class>/ or root/<split>/<class>/"]]


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("split", [None, "train"])
def test_a_class_folder_that_is_a_dangling_link_is_refused_not_dropped(tmp_path, monkeypatch, split):
    # before: one row (1 of 25 files, under ingest.max_reject_fraction 0.05), and classes.json held a and b alone: the
    # class c was gone from the data set without a word, where an empty class folder is refused. (A link loop there
    # stays a row: test_hostile_ingest.py's test_symlink_loop_beside_class_folders_is_a_row)
    data = tmp_path / "data"
    parent = data / split if split else data
    image_folder(parent, {"a": 12, "b": 12})
    (parent / "c").symlink_to(tmp_path / "unmounted", target_is_directory=True)
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        f"ingest.path: class folder {parent / 'c'} cannot be read (dangling symbolic link: its target does not exist), "
        "so its class would be left out, with its images; restore what it links to (`dvc pull`, a drive to mount), or "
        "remove it to leave the class out")
    (parent / "c").unlink()  # the second fix it gives: read, without the class
    _stage_module("ingest").main()
    assert json.loads((project / "data/ingest/classes.json").read_text()) == ["a", "b"]


@pytest.mark.hostile("imagefolder")
def test_a_dangling_link_named_as_an_image_beside_the_class_folders_stays_a_row(tmp_path, monkeypatch):
    # a file's link (DVC's link cache links files, never folders), not a class: one row, as before
    data = image_folder(tmp_path / "data", {"a": 12, "b": 12})
    (data / "x.png").symlink_to(tmp_path / "gone.png")
    project = project_of(tmp_path, data)
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    assert pd.read_csv(project / "data/ingest/rejected.csv").values.tolist() == [
        [str(data / "x.png"), "dangling symbolic link: its target does not exist"]]


def _ingested_with_one_val_class(tmp_path, monkeypatch, layout: str):
    """data/ingest of a source whose val images are all of class a where it holds a val split: the source's own val split (an imagefolder's
    val/, an npz's val arrays); with class folders alone, val is carved from train (of both classes)."""
    if layout == "npz":
        images = np.stack([np.full((8, 8), 8 * i, np.uint8) for i in range(30)])
        data = tmp_path / "set.npz"
        np.savez(data, x_train=images[:24], y_train=np.arange(24) % 2, x_val=images[24:27], y_val=np.zeros(3, int),
                 x_test=images[27:], y_test=[0, 1, 1], classes=["a", "b"])
    else:
        data = tmp_path / "data"
        image_folder(data / "train" if layout == "val/" else data, {"a": 12, "b": 12})
        if layout == "val/":
            image_folder(data / "val", {"a": 3})
    project = project_of(tmp_path, data) if layout != "npz" else make_project(
        tmp_path / "project", params_with("ingest", {**default_params()["ingest"], "source": "npz", "path": str(data),
                                                     "size": None}))
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    return read_imageset(project / "data/ingest")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("layout", "advice"), [
    ("val/", "add them to the source's own val split, its val/<class>/ folders: ingest.val_fraction carves no val "
             "images where the source holds some"),
    ("npz", "add them to the source's own val split, its val arrays: ingest.val_fraction carves no val images where "
            "the source holds some")])
def test_a_val_split_the_source_holds_is_not_told_to_raise_the_val_fraction(tmp_path, monkeypatch, layout, advice):
    # before: augment-search refused "... give the val split images of at least 2 classes (raise ingest.val_fraction),
    # or set augment_search.enabled: false", and gan-synthesize and data-valuation said the same: ingest keeps a val
    # split the source holds as it is and reads no val_fraction for it, so raising it changed nothing
    ingested = _ingested_with_one_val_class(tmp_path, monkeypatch, layout)
    val = ingested.manifest["split"] == "val"
    with pytest.raises(WinnowError) as refused:
        _stage_module("augment_search").check_val_classes(ingested.labels[val.to_numpy()], ingested.classes,
                                                          more=more_val(ingested.manifest))
    assert str(refused.value) == (
        "augment-search: pruned's val split holds images of one class only ('a'); a candidate is scored by its "
        "accuracy on val, which a model naming that class everywhere maximises, so no policy can be told apart: give "
        f"the val split images of at least 2 classes ({advice}), or set augment_search.enabled: false")


@pytest.mark.hostile("intermediates")
def test_a_val_split_ingest_carved_is_still_told_to_raise_the_val_fraction(tmp_path, monkeypatch):
    ingested = _ingested_with_one_val_class(tmp_path, monkeypatch, "class folders")
    assert more_val(ingested.manifest) == "raise ingest.val_fraction"
