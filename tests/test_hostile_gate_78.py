"""Hostile inputs to the merge gate, probe 78. The gate runs in-process (:func:`winnow.cli.main`) and its lines are
asserted whole.

- gate.files matching evaluate's summaries (``metrics/evaluate/**/*.json``): since evaluate records the test split it
  measured there (``test_split_digest``, an md5), every revision was refused, "gated metrics are not all finite
  numbers: ... test_split_digest = '...' (rerun the stage that writes them ...)", a rerun writing it again; the
  record is no metric and is left out, while any other value under the key is still named;
- a class of 100 test images the base recognises 5 of, lost at the head: told it "holds too few test images" and to
  get more, as if the collapse rule still watched it, when under half at base it cannot collapse either; the warning
  now says the base recognises too few and that the gate cannot see it fall at all.
"""

import json

import numpy as np
import pandas as pd
import pytest
from gate_repo import commit, git, gated, init, labels_of, notes_of, write_variant
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_gate_73 import REPORT, committed
from winnow.cli import main as winnow
from winnow.metrics import TEST_SPLIT_KEY, digest_of_test_split, summary_path


def write_summaries(project, record) -> None:
    """Each variant's summary.json as evaluate writes it, its test split recorded as ``record``."""
    for variant in ("baseline", "pruned"):
        path = project / summary_path(variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"accuracy": 0.998, "macro": {"f1": 0.998}, TEST_SPLIT_KEY: record}))


@pytest.mark.hostile("gate")
def test_evaluates_record_of_its_test_split_in_a_gated_summary_is_no_metric(tmp_path, capsys):
    params = default_params()
    params["gate"]["files"] = ["metrics/evaluate/**/*.json"]
    project = committed(tmp_path, params)
    manifest = pd.DataFrame({"id": ["a", "b"], "label": ["0", "1"], "digest": ["d1", "d2"], "split": "test"})
    write_summaries(project, digest_of_test_split(manifest))
    commit(project)
    # before: exit 1, "error: gated metrics are not all finite numbers: metrics/evaluate/baseline/summary.json at
    # HEAD: test_split_digest = '...'; ... (rerun the stage that writes them and commit its outputs)", at every commit
    code, out = gated(project, capsys)
    assert code == 0 and out.splitlines()[-1].startswith("gate: PASS — 2 variant(s)")


@pytest.mark.hostile("gate")
def test_a_hand_edited_test_split_record_in_a_gated_summary_is_still_named(tmp_path, capsys):
    params = default_params()
    params["gate"]["files"] = ["metrics/evaluate/**/*.json"]
    project = committed(tmp_path, params)
    write_summaries(project, "not an md5")
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / REPORT),
                   "--variants", "baseline"])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert_nothing_left(project, before)
    assert err.splitlines() == [
        "error: gated metrics are not all finite numbers: metrics/evaluate/baseline/summary.json at workspace: "
        "test_split_digest = 'not an md5'; metrics/evaluate/pruned/summary.json at workspace: test_split_digest = "
        "'not an md5' (rerun the stage that writes them and commit its outputs)"]


@pytest.mark.hostile("gate")
def test_a_class_the_base_hardly_recognises_is_said_to_be_unwatched_not_short_of_images(tmp_path, capsys):
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    nines = np.flatnonzero(labels == "9")
    base = labels.copy()
    base[nines[5:]] = "8"  # 5 of class 9's 100 test images right at base
    write_variant(project, "baseline", labels, base)
    init(project)
    head = labels.copy()
    head[nines] = "8"  # none at head: recall 0.05 -> 0
    write_variant(project, "baseline", labels, head)
    code, out = gated(project, capsys)
    # before: "class(es) 9 (100) hold too few test images for any drop to be significant ...: the gate cannot see
    # them fall unless they collapse; give the test split more of their images": 100 images, and no collapse to see
    assert code == 0
    assert [n for n in notes_of(out) if n.startswith("- warning:")] == [
        "- warning: baseline: class(es) 9 (5 of 100 right at base): the base recognises too few of them for any drop "
        "to be significant (losing every one tests at p adj ≥ 0.05) and under half, so they cannot collapse either: "
        "the gate cannot see them fall at all; gate against a base that recognises more of them, or give the test "
        "split more of their images"]


LFS_POINTER_TEXT = ("version https://git-lfs.github.com/spec/v1\n"
                    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 38910\n")


@pytest.mark.hostile("gate")
def test_predictions_git_lfs_holds_are_named_as_pointers_not_sent_to_rerun_evaluate(tmp_path, capsys):
    # a project whose .gitattributes sends *.csv to Git LFS: git holds a pointer at every commit, whatever evaluate
    # wrote, and the gate reads each revision from git. Before: "error: metrics/evaluate/baseline/predictions.csv at
    # HEAD: no column id, label, predicted; rerun evaluate (...)", and a rerun changed nothing
    project = committed(tmp_path)
    real = (project / "metrics/evaluate/baseline/predictions.csv").read_text()
    (project / "metrics/evaluate/baseline/predictions.csv").write_text(LFS_POINTER_TEXT)
    commit(project, "predictions in LFS")
    (project / "metrics/evaluate/baseline/predictions.csv").write_text(real)  # the workspace's, smudged
    head = git(project, "rev-parse", "HEAD").strip()
    before = files_under(project)
    code = winnow(["gate", "--base", "HEAD", "--repo", str(project), "--markdown", str(project / REPORT)])
    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert_nothing_left(project, before)
    assert err.splitlines() == [
        f"error: metrics/evaluate/baseline/predictions.csv at {head[:12]}: a Git LFS pointer, not the file "
        "(.gitattributes sends it to Git LFS), and winnow reads each revision's files from git itself; keep it in git "
        "as a plain file: `git lfs untrack` the pattern that matches it, `git add --renormalize "
        "metrics/evaluate/baseline/predictions.csv` and commit, at the base too"]
