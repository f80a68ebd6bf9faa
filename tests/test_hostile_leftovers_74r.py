"""Leftovers of the mends of stop 74 (tests/test_hostile_leftovers_74.py), found in their review.

- `winnow study queue` names, as run under other code, only the ended runs of a setting the study queues and no run of
  the workspace's code covers: the user's own experiment (degrade off) of older code, and an older run of a setting
  run again since, were named as "count as not run";
- `winnow study queue` after ``seed`` was edited (each setting run at a second seed, which `study collect` averages)
  leaves the experiments queued at the first seed unnamed: they were told to be dropped as queued under other params;
- the advice to give the val split more images where the val rows are those of an .npz of one ``images`` array, its
  ``splits`` array naming them val: told to raise ingest.val_fraction alone, which carves nothing there;
- a class folder that is a link whose target cannot be looked at (a path through a file: ``Not a directory``; a folder
  of another user's: ``Permission denied``) is refused naming its target, not one row and its class gone.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import yaml

from hostile_harness import assert_nothing_left, default_params, files_under, make_project, params_with
from test_contracts import _stage_module
from test_hostile_imagefolder_73 import project_of, refused
from test_hostile_ingest import image_folder
from test_hostile_leftovers_74 import _shown, _size_commands, _study_run
from test_study import ingested_project  # noqa: F401 (a fixture)
from winnow import cli
from winnow.errors import WinnowError
from winnow.imageset import more_val, read_imageset


@pytest.mark.hostile("study")
def test_study_queue_names_no_run_of_old_code_whose_setting_is_not_queued_or_is_done(ingested_project,  # noqa: F811
                                                                                     monkeypatch, capsys):
    # "mine" is the user's own experiment (degrade off), k01 a run of keep 0.1 under an older src/winnow/degrade.py,
    # k01b one of keep 0.1 under the code here. Before: "2 experiment(s) of these params ran under other code or inputs
    # than the workspace's (src/winnow/degrade.py), so they count as not run: mine, k01", where the study queues no
    # experiment of mine's params and counts keep 0.1 as done (k01b)
    code = ingested_project / "src/winnow/degrade.py"
    code.parent.mkdir(parents=True)
    code.write_text("new code\n")
    now, old = (hashlib.md5(text.encode()).hexdigest() for text in ("new code\n", "old code\n"))
    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    own = {**params, "degrade": {**params["degrade"], "enabled": False, "perturbations": []}}
    keep = [{"kind": "subsample", "keep": 0.1}]
    _shown(monkeypatch, ("mine", own, None, {"src/winnow/degrade.py": {"hash": old}}),
           ("k01", _study_run(params, keep), None, {"src/winnow/degrade.py": {"hash": old}}),
           ("k01b", _study_run(params, keep), None, {"src/winnow/degrade.py": {"hash": now}}))
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "size", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1 of the 9 experiments are queued, running or done already (`dvc exp show`); the commands of the rest",
        *_size_commands((0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))]
    assert_nothing_left(ingested_project, before)


@pytest.mark.hostile("study")
def test_study_queue_leaves_unnamed_the_runs_queued_at_another_seed(ingested_project,  # noqa: F811
                                                                    monkeypatch, capsys):
    # keep 0.1 and 0.2 were queued at seed 0, then seed set to 1 to run every setting again. Before: "2 experiment(s)
    # of these sweeps queued earlier under other params (seed) stay queued and run with `dvc exp run --run-all`: drop
    # them with `dvc queue remove q0.1 q0.2`", of the replicates study collect averages with the seed-1 runs
    params = yaml.safe_load((ingested_project / "params.yaml").read_text())
    (ingested_project / "params.yaml").write_text(yaml.safe_dump({**params, "seed": params["seed"] + 1}))
    _shown(monkeypatch, *((f"q{keep}", _study_run(params, [{"kind": "subsample", "keep": keep}]), "queued", {})
                          for keep in (0.1, 0.2)))
    before = files_under(ingested_project)
    assert cli.main(["study", "queue", "--sweeps", "size", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == _size_commands((0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))
    assert_nothing_left(ingested_project, before)


@pytest.mark.hostile("intermediates")
def test_the_val_rows_an_npz_splits_array_names_are_not_told_to_raise_the_fraction_alone(tmp_path, monkeypatch):
    # an .npz of one images array whose 'splits' array names 3 val images, all of class a. Before: "... give the val
    # split images of at least 2 classes (raise ingest.val_fraction), ...", which carves no val image beside them
    images = np.stack([np.full((8, 8), 8 * i, np.uint8) for i in range(30)])
    labels = np.array([*(np.arange(24) % 2), 0, 0, 0, 0, 1, 1])
    data = tmp_path / "set.npz"
    np.savez(data, images=images, labels=labels, splits=np.array(["train"] * 24 + ["val"] * 3 + ["test"] * 3),
             classes=["a", "b"])
    project = make_project(tmp_path / "project", params_with("ingest", {
        **default_params()["ingest"], "source": "npz", "path": str(data), "size": None}))
    monkeypatch.chdir(project)
    _stage_module("ingest").main()
    ingested = read_imageset(project / "data/ingest")
    val = (ingested.manifest["split"] == "val").to_numpy()
    with pytest.raises(WinnowError) as raised:
        _stage_module("augment_search").check_val_classes(ingested.labels[val], ingested.classes,
                                                          more=more_val(ingested.manifest))
    assert str(raised.value) == (
        "augment-search: pruned's val split holds images of one class only ('a'); a candidate is scored by its "
        "accuracy on val, which a model naming that class everywhere maximises, so no policy can be told apart: give "
        "the val split images of at least 2 classes (raise ingest.val_fraction, or, where the .npz's 'splits' array "
        "names the val images, name more of its rows val: ingest.val_fraction carves no val images where the source "
        "holds some), or set augment_search.enabled: false")


@pytest.mark.hostile("imagefolder")
@pytest.mark.parametrize("split", [None, "train"])
def test_a_class_folder_linked_through_a_file_is_refused_not_dropped(tmp_path, monkeypatch, split):
    # c links to archive.zip/c, a path through a file (its target cannot be looked at: Not a directory). Before: one
    # row "unreadable: Not a directory" (1 of 25 files, under ingest.max_reject_fraction 0.05), and classes.json held
    # a and b alone, as it did of a dangling link before stop 74's mend
    data = tmp_path / "data"
    parent = data / split if split else data
    image_folder(parent, {"a": 12, "b": 12})
    (tmp_path / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (parent / "c").symlink_to(tmp_path / "archive.zip" / "c", target_is_directory=True)
    project = project_of(tmp_path, data)
    assert refused(project, monkeypatch) == (
        f"ingest.path: class folder {parent / 'c'} is a symbolic link whose target cannot be looked at (Not a "
        f"directory), so its class would be left out, with its images; make {tmp_path / 'archive.zip' / 'c'} a folder "
        "this user can read, or remove the link to leave the class out")
    (parent / "c").unlink()  # the second fix it gives: read, without the class
    _stage_module("ingest").main()
    assert json.loads((project / "data/ingest/classes.json").read_text()) == ["a", "b"]
