"""Hostile leftovers of probe 74, mended in 75b:

- a contract verdict checked under ``threshold.issues.dark: {}`` trained by hand once params.yaml wrote the same
  setting with its default filled in (``dark: {method: auto}``), and the reverse: refused as "another
  threshold.issues", where the threshold stage cuts both alike (a real change still refuses);
- ``winnow compare --out seeds.md`` over an earlier comparison's pair: the runs' JSON and the markdown were renamed into
  place one after the other, so a failed rename of the second, or a Ctrl-C between the two, left the new JSON beside
  the old markdown (two comparisons read as one);
- labels of type bool in an .npz (the trusted split's, ingest.trusted_path, or the data set's own): True and False
  read as classes 1 and 0 without a word, where labels of text or other types are refused.
"""

import errno
import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_compare_more import TWO_CLASSES, record, shifted
from test_hostile_sources_70 import grey_images, refused_ingest
from winnow.cli import main as winnow
from winnow.contract_verdict import bounds_of, refuse_failed
from winnow.errors import WinnowError
from winnow.file_ops import file_digests

RERUN = "run the contracts stage first (dvc repro contracts)"


def enforced_params(**issues) -> dict:
    """The harness's params under contracts.mode enforce for baseline, threshold.issues' settings replaced by
    ``issues``."""
    params = default_params()
    threshold = params["threshold"] | {"issues": params["threshold"]["issues"] | issues}
    contracts = {"mode": "enforce", "enforce_variants": ["baseline"], "bounds": {"min_images_per_class": 3}}
    return params | {"threshold": threshold, "contracts": contracts}


def write_passes(root: Path, params: dict) -> None:
    """Passing verdicts of the ingest and scores contracts and of baseline's, checked under ``params`` (as the
    contracts stage records them: metrics/contracts.json, metrics/contracts/baseline.json), of one suite file and
    one data file there."""
    (root / "contracts").mkdir()
    (root / "contracts/variant.yaml").write_text("expectations: []\n")
    (root / "data").mkdir()
    (root / "data/flags.parquet").write_bytes(b"flags")
    recorded = {"bounds": bounds_of(params["contracts"]),
                "suite_files": file_digests([Path("contracts/variant.yaml")]),
                "data_files": file_digests([Path("data/flags.parquet")])}
    passed = {"passed": 5, "failed": 0}
    (root / "metrics/contracts").mkdir(parents=True)
    (root / "metrics/contracts.json").write_text(json.dumps(recorded | {
        "mode": "enforce", "settings": {"ingest.size": params["ingest"]["size"]},
        "suites": {"ingest": passed, "scores": passed}}))
    (root / "metrics/contracts/baseline.json").write_text(json.dumps(recorded | passed | {
        "variant": "baseline", "enforced": True,
        "settings": {"threshold.issues": params["threshold"]["issues"]}}))


@pytest.mark.hostile("contracts")
@pytest.mark.parametrize(("checked", "now"), [({}, {"method": "auto"}), ({"method": "auto"}, {}),
                                              ({}, {"method": "auto", "alpha": 0.01})],
                         ids=["filled-in", "left-out", "default-written-out"])
def test_a_pass_trains_under_the_same_threshold_issues_written_otherwise(tmp_path, monkeypatch, checked, now):
    # before: "metrics/contracts/baseline.json holds a verdict checked under another threshold.issues than
    # params.yaml's", though {}, {method: auto} and auto's alpha written out at its default cut alike
    monkeypatch.chdir(tmp_path)
    write_passes(tmp_path, enforced_params(dark=checked))
    assert refuse_failed("baseline", params=enforced_params(dark=now)) is None  # trains


@pytest.mark.hostile("contracts")
def test_a_pass_checked_under_other_threshold_issues_still_trains_nothing(tmp_path, monkeypatch):
    # the same check, of a real change (dark cut at a fixed value): refused before the mend and after it
    monkeypatch.chdir(tmp_path)
    write_passes(tmp_path, enforced_params(dark={}))
    with pytest.raises(WinnowError) as refused:
        refuse_failed("baseline", params=enforced_params(dark={"method": "fixed", "value": 0.5}))
    assert str(refused.value) == ("metrics/contracts/baseline.json holds a verdict checked under another "
                                  f"threshold.issues than params.yaml's: {RERUN}")


OLD_MD = "# Variants over 2 run(s) (seeds 1, 2)\n"
OLD_RUNS = {"runs": ["seed-1", "seed-2"], "variants": ["baseline", "pruned"]}


def compare_over(tmp_path, monkeypatch, landing) -> tuple[Path, set[str], int]:
    """``winnow compare --out seeds.md`` in a project holding an earlier comparison's pair (of seeds 1 and 2), over a
    saved `dvc exp show` of seeds 3 and 4, with each rename or replace calling ``landing`` with its destination's name
    (as it happens, after it). Returns the project, its files before the command and the command's status."""
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    monkeypatch.chdir(project)
    (project / "seeds.md").write_text(OLD_MD)
    (project / "seeds.json").write_text(json.dumps(OLD_RUNS))
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps([record(str(s), f"seed-{s}", s, shifted(TWO_CLASSES, s / 100)) for s in (3, 4)]))
    before = files_under(project)
    for name in ("rename", "replace"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda src, dst, real=real: (real(src, dst), landing(Path(dst).name))[0])
    status = winnow(["compare", "--from-json", str(saved), "--variants", "baseline", "pruned", "--out", "seeds.md"])
    return project, before, status


@pytest.mark.hostile("compare")
def test_compare_out_leaves_the_earlier_pair_when_the_second_file_cannot_land(tmp_path, monkeypatch, capsys):
    # before: the runs' JSON was renamed into place, then the markdown; a rename of the second that failed left the
    # JSON naming seeds 3 and 4 beside the markdown of seeds 1 and 2, read as one comparison
    landed = []

    def second_fails(name: str) -> None:  # the second file of the pair into place fails (a folder made read-only)
        if name in ("seeds.md", "seeds.json"):
            landed.append(name)
            if len(landed) == 2:
                raise PermissionError(errno.EACCES, "Permission denied", name)

    project, before, status = compare_over(tmp_path, monkeypatch, second_fails)
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        f"error: compare: {landed[1]}: Permission denied [EACCES]; free space, or fix the path or its permissions, "
        "then rerun"]
    assert json.loads((project / "seeds.json").read_text()) == OLD_RUNS  # both given back what they held
    assert (project / "seeds.md").read_text() == OLD_MD
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_a_ctrl_c_as_the_first_file_of_compare_out_lands_waits_for_the_second(tmp_path, monkeypatch, capsys):
    # before: a Ctrl-C arriving as the runs' JSON landed stopped the command before the markdown's rename: the JSON of
    # seeds 3 and 4 beside the markdown of seeds 1 and 2. Now the moves finish first, then the command stops
    sent = []

    def interrupt_once(name: str) -> None:  # a Ctrl-C as the first file of the pair lands
        if name in ("seeds.md", "seeds.json") and not sent:
            sent.append(name)
            os.kill(os.getpid(), signal.SIGINT)

    project, before, status = compare_over(tmp_path, monkeypatch, interrupt_once)
    assert status == 130
    assert capsys.readouterr().err.splitlines() == [
        "error: compare: interrupted; outputs not yet complete were left unwritten: rerun it"]
    assert json.loads((project / "seeds.json").read_text()) == {"runs": ["seed-3", "seed-4"],
                                                                "variants": ["baseline", "pruned"]}
    assert (project / "seeds.md").read_text().startswith("# Variants over 2 run(s) (seeds 3, 4)\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("npz")
@pytest.mark.parametrize("where", ["trusted", "source"])
def test_labels_of_type_bool_are_refused_not_read_as_classes_0_and_1(tmp_path, monkeypatch, where):
    # before: True and False (a mask, or "is a dog", stored where the class numbers go) were read as classes 1 and 0
    # without a word, the trusted split's, which judges the budget's candidates, and the data set's own
    book = {"images": grey_images(4), "labels": np.array([True, False] * 2), "classes": np.array(["a", "b"])}
    data = {"images": grey_images(20), "labels": np.arange(20) % 2, "classes": np.array(["a", "b"])}
    if where == "source":
        data["labels"] = data["labels"].astype(bool)
    np.savez(tmp_path / "set.npz", **data)
    np.savez(tmp_path / "book.npz", **book)
    line = refused_ingest(tmp_path, monkeypatch, "npz", tmp_path / "set.npz", val_fraction=0.2,
                          trusted_path=str(tmp_path / "book.npz"))
    path, named = (("ingest.trusted_path: " + str(tmp_path / "book.npz"), "a 'classes' array") if where == "trusted"
                   else (str(tmp_path / "set.npz"), "a 'classes' array or ingest.classes"))
    assert line == f"{path}: labels has labels of type bool; store class numbers 0..K-1 and the names in {named}"
