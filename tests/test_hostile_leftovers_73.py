"""Leftovers of stop 72, mended at stop 73.

- the report's and compare's same-run check (:func:`winnow.same_run.check_same_run`) reads a setting written out
  at what it means left out as the same setting: threshold.issues' ``{}``, ``{method: auto}`` and ``{method: auto,
  alpha: 0.01}`` cut alike, as the flags' own check reads them, and ``dedup.keep: best_quality`` is what a left-out
  keep means; a setting that does differ is named as the stages read it (method "auto", not absent);
- ``winnow compare`` over two commits that each ran an experiment of one name (``dvc exp run -n seed1`` on both,
  ``--num 2``) names each by its commit too, in its notes and in the --out JSON that traces the table to its runs;
- a small lossy WebP (32x32) whose last 48 bytes were zeroed (a download cut short at full length) is a rejected row,
  as one with a longer zeroed tail was, and the whole WebP beside it is read;
- degrade's odd_size on files that are not square (24x48) keeps their aspect ratio, size the side of a square of as
  many pixels, rather than planting size x size files, an odd aspect ratio the ground truth does not record; a size
  too small to keep the ratio in whole pixels is refused;
- ingest.path edited to another folder, then ingest run by itself (the source stage's listing is of the old folder):
  refused naming the two folders and ``dvc repro ingest``, not as data written while ingest read it; a data/source.json
  of an earlier winnow (no path recorded) is read as before.
"""

from __future__ import annotations

import copy
import json
import runpy
import shutil

import numpy as np
import pytest
import yaml

from hostile_harness import ROOT, assert_nothing_left, default_params, files_under, imagefolder_project, make_project
from test_hostile_cli import _locked, _write_summaries
from test_hostile_compare_72 import F1, _shown
from test_hostile_image_decode import UNWRITTEN, decoded, encoded, pixels_of
from test_streaming_ingest import ingest_in_process
from winnow.cli import main as winnow
from test_hostile_degrade_66 import colour_imageset
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.image_damage import ZERO_TAIL
from winnow.image_files import load_imagefolder
from winnow.metrics import summary_path
from winnow.same_run import check_same_run


def _ran_under(project, params: dict, *, stage: str, section: str, then: dict) -> None:
    """A dvc.lock where each variant's train and evaluate are this run's and pruned's train read what ``stage`` wrote
    under params.yaml's ``section`` ``then``."""
    _write_summaries(project, {"baseline": {"a": 0.5, "b": 0.6}, "pruned": {"a": 0.6, "b": 0.7}})
    _locked(project, ["baseline", "pruned"], train=params["train"])
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    lock["stages"][stage] = {"cmd": "x", "params": {"params.yaml": {section: then}},
                             "outs": [{"path": f"data/{stage}", "md5": "s.dir"}]}
    lock["stages"]["train@pruned"]["deps"] = [{"path": f"data/{stage}", "md5": "s.dir"}]
    (project / "dvc.lock").write_text(yaml.safe_dump(lock))


@pytest.mark.hostile("report")
@pytest.mark.parametrize(("then", "now"), [({}, {"method": "auto"}), ({"method": "auto"}, {}),
                                           ({}, {"method": "auto", "alpha": 0.01})])
def test_the_same_run_is_not_refused_for_a_threshold_setting_written_out_at_its_default(tmp_path, then, now):
    # before: "threshold ran under threshold.issues.dark.method = absent, params.yaml now says "auto": not from this
    # run", though the two cut alike (the flags' own check, winnow.flag_cuts.check_cut, passed them)
    params = default_params() | {"variants": ["baseline", "pruned"]}
    params["threshold"]["issues"]["dark"] = now
    project = make_project(tmp_path / "project", params)
    ran = copy.deepcopy(params["threshold"])
    ran["issues"]["dark"] = then
    _ran_under(project, params, stage="threshold", section="threshold", then=ran)
    check_same_run(["baseline", "pruned"], params, repo=project, stage="report")  # no refusal


@pytest.mark.hostile("report")
def test_the_same_run_is_not_refused_for_a_dedup_setting_written_out_at_what_its_absence_means(tmp_path):
    # dedup.keep left out is best_quality (the dedup stage's reading); before: refused as "dedup.keep = absent"
    params = default_params() | {"variants": ["baseline", "pruned"]}
    params["dedup"]["keep"] = "best_quality"
    project = make_project(tmp_path / "project", params)
    ran = {k: v for k, v in params["dedup"].items() if k != "keep"}
    _ran_under(project, params, stage="dedup", section="dedup", then=ran)
    check_same_run(["baseline", "pruned"], params, repo=project, stage="compare")  # no refusal


@pytest.mark.hostile("report")
@pytest.mark.parametrize(("now", "said"), [
    ({"method": "otsu"}, 'threshold.issues.dark.method = "auto", params.yaml now says "otsu"'),
    # alpha reads alike (0.01 is auto's default), isolated_max does not: named, at the 10 a left-out one means
    ({"alpha": 0.01, "isolated_max": 5}, "threshold.issues.dark.isolated_max = 10, params.yaml now says 5")])
def test_a_threshold_setting_that_does_differ_is_still_refused_and_named_as_it_cuts(tmp_path, now, said):
    # before the mend the first of these read "dark.method = absent", the second "dark.alpha = absent ... 0.01"
    params = default_params() | {"variants": ["baseline", "pruned"]}
    params["threshold"]["issues"]["dark"] = now
    project = make_project(tmp_path / "project", params)
    ran = copy.deepcopy(params["threshold"])
    ran["issues"]["dark"] = {}
    _ran_under(project, params, stage="threshold", section="threshold", then=ran)
    with pytest.raises(WinnowError) as refused:
        check_same_run(["baseline", "pruned"], params, repo=project, stage="report")
    assert str(refused.value) == (f"{summary_path('pruned')}: threshold ran under {said}: not from this run; run "
                                  "`dvc repro report`, which brings every variant up to date")


@pytest.mark.hostile("compare")
def test_compare_names_apart_two_experiments_of_one_name_at_two_commits(tmp_path, capsys):
    # seed1 run on commit a (seed 1) and on commit b (seed 1 again, a repeat). Before: the --out JSON listed "seed1"
    # and the note left out "seed1", so which of the two the table holds could not be told
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    shown = [{**_shown("a" * 40, "main", 0, F1), "experiments": [{"name": "seed1",
                                                                   "revs": [_shown("c" * 40, "seed1", 1, F1)]}]},
             {**_shown("b" * 40, None, 2, F1), "experiments": [{"name": "seed1",
                                                                "revs": [_shown("d" * 40, "seed1", 1, F1)]}]}]
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "seeds.md"
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("# Variants over 3 run(s) (seeds 0, 1, 2)\n\n"
                                              "_left out 1 run(s) repeating a seed: seed1 (ddddddd)_\n")
    assert json.loads(out.with_suffix(".json").read_text())["runs"] == ["main", "seed1 (ccccccc)", "bbbbbbb"]


@pytest.mark.hostile("imagefolder")
def test_a_small_webp_whose_last_bytes_were_zeroed_is_a_rejected_row(tmp_path):
    # before: a tail under 64 zero bytes was never looked at, so the cut file was read as a whole image, its last
    # macroblock (a quarter of its 32x32 pixels) garbage
    noise = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    whole = encoded(noise, "WEBP", quality=80)
    # and one whose encoder ended its image data in 16 zeros of its own, which its decoder reads: under 64, now
    # looked at, and read (a white band below a pattern, 128x128)
    banded = np.full((128, 128, 3), 255, np.uint8)
    yy, xx = np.mgrid[:96, :128]
    banded[:96] = np.stack([xx * 3 % 256, yy * 5 % 256, (xx + yy) * 7 % 256], -1)
    flat_end = encoded(banded, "WEBP", quality=50, method=0)
    assert flat_end.endswith(bytes(16)) and not flat_end.endswith(bytes(ZERO_TAIL))
    for name, data in (("small/a/cut.webp", whole[:-48] + bytes(48)), ("small/a/whole.webp", whole),
                       ("large/a/flat_end.webp", flat_end)):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    loaded = load_imagefolder(tmp_path / "small", size=None)
    assert loaded.rejected == [(f"{tmp_path}/small/a/cut.webp", UNWRITTEN)]
    np.testing.assert_array_equal(pixels_of(loaded, "a/whole.webp"), decoded(whole))
    large = load_imagefolder(tmp_path / "large", size=None)
    assert large.rejected == []
    np.testing.assert_array_equal(pixels_of(large, "a/flat_end.webp"), decoded(flat_end))


@pytest.mark.hostile("params")
def test_an_odd_size_of_files_that_are_not_square_keeps_their_aspect_ratio(tmp_path):
    # before: size 8 on 24x48 files recorded the 6 picked files as 8x8, an aspect ratio of 1 where the others have 2,
    # which the odd-aspect score flags though the ground truth records odd_size alone
    source = colour_imageset(grey=0)
    source.manifest[["orig_h", "orig_w"]] = (24, 48)
    out, log = degrade(source, perturbations=[{"kind": "odd_size", "fraction": 0.2, "size": 8}], seed=0)
    # as many pixels as 8x8 at 1:2: sqrt(64 / 2) = 5.7 high, sqrt(64 * 2) = 11.3 wide, in whole pixels
    assert out.manifest.set_index("id").loc[log["id"], ["orig_h", "orig_w"]].drop_duplicates().values.tolist() == [
        [6, 11]]
    with pytest.raises(WinnowError) as refused:  # 2x2's pixels at 1:2 are 1.4 x 2.8: 1x3 in whole pixels
        degrade(source, perturbations=[{"kind": "odd_size", "fraction": 0.2, "size": 2}], seed=0, workdir=tmp_path)
    assert str(refused.value) == ("degrade.perturbations[0] (odd_size): size must be large enough to keep the files' "
                                  "24x48 aspect ratio within 10% (1x3 here), got 2")
    assert list(tmp_path.iterdir()) == []


def _listed_then_moved(tmp_path, monkeypatch):
    """(project, params, the new folder): the source stage listed the project's images, then params.yaml's ingest.path
    was edited to a copy of them elsewhere."""
    project, params = imagefolder_project(tmp_path)
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/source.py"), run_name="source")["main"]()
    other = tmp_path / "other"
    shutil.copytree(params["ingest"]["path"], other)
    params["ingest"]["path"] = str(other)
    make_project(project, params)
    return project, params, other


@pytest.mark.hostile("ingest")
def test_ingest_run_by_itself_after_ingest_path_was_edited_names_the_edit(tmp_path, monkeypatch):
    # `dvc repro -s ingest` after the edit. Before: "ingest.path: <other> changed after the source stage listed it (36
    # file(s) then, 36 now, or edited) and before ingest had read it ... run `dvc repro` again once the data is no longer
    # being written": the new folder was never written to; the source stage had listed the old one
    project, params, other = _listed_then_moved(tmp_path, monkeypatch)
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        ingest_in_process(project, monkeypatch)
    assert str(refused.value) == (
        f"ingest.path: the source stage listed {tmp_path / 'images'} (data/source.json), params.yaml names {other} "
        "now: edited since, and ingest run by itself; nothing was ingested: run `dvc repro ingest`, which lists it first")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_a_source_listing_of_an_earlier_winnow_without_the_path_is_read_as_before(tmp_path, monkeypatch):
    # data/source.json written before the path was recorded: the files alone are compared, as before, so a listing of
    # the same files passes and ingest runs (before this record, no path was ever compared)
    project, params = imagefolder_project(tmp_path)
    monkeypatch.chdir(project)
    runpy.run_path(str(ROOT / "stages/source.py"), run_name="source")["main"]()
    listed = json.loads((project / "data/source.json").read_text())
    del listed["listed_paths"]
    (project / "data/source.json").write_text(json.dumps(listed))
    ingest_in_process(project, monkeypatch)
    assert (project / "data/ingest").is_dir()
