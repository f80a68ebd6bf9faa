"""Hostile leftovers of stop 74, mended at stop 75 (records of what an output was made from).

- represent from a user's file (``represent.file``): the file rewritten in place (same path, new vectors), then a
  reader of the embedding run alone (dedup's embedding search here; embedding-clean, confident-learn's probe, data
  valuation and the budget read it through the same call): data/represent/made_at.json recorded the path only, so the
  old vectors were read as the new file's, exit 0. represent now records the sha256 of the bytes it read
  (``file.sha256``), and a reader refuses the embedding of another version in one line naming represent;
- the same of a pretrained model's file (``represent.pretrained.torchscript``) exported again in place;
- next to it, dedup's groups linked by the embedding's search, read by a reader of the groups run alone after the file
  was rewritten: refused in the same line (represent's rerun comes first);
- the same bytes written anew (a copy over it: another inode and time) are read as before, and so is an embedding whose
  record holds no digest (stop 74's), as one that records no settings is;
- degrade's log of what it planted (data/degrade/perturbations.parquet) deleted, then a stage that scores against it
  run alone (threshold, dedup, the label cleaners' judged rows, variants' split check, the report's recount of
  metrics/degrade.json): read as "nothing planted", so the scores against the planted damage were left out of the
  metrics (or the report's counts shown unchecked), exit 0. Now one line naming degrade to rerun.

Stage cases run the real scripts in this process on throwaway projects of a few 8x8 images; the others call the
library the stages call."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, files_under, write_judged
from review_project import write_project
from test_hostile_represent_74 import SPLITS, _params, _project, _read, embedded  # noqa: F401
from test_hostile_report_71 import _report
from test_hostile_report_73 import _flagged_project
from test_hostile_threshold_64 import _stage_in_process, template  # noqa: F401
from winnow.errors import WinnowError
from winnow.file_ops import file_sha256
from winnow.imageset import read_imageset
from winnow.judged_rows import read_filters, read_judged
from winnow.represent_settings import MADE_AT, made_at
from winnow.stage import write_json

REWRITTEN = ("error: data/represent/embeddings.npy: made from another version of {} than the one there now (sha256 {} "
             "then, {} now: rewritten since represent read it); rerun the represent stage (dvc repro represent)")


def _rewritten(project: Path) -> tuple[str, str]:
    """mine.npy rewritten in place with other vectors (the rows reversed): (its sha256 before, after), as the line
    shows them (12 hex digits)."""
    then = file_sha256(project / "mine.npy")
    np.save(project / "mine.npy", np.eye(len(SPLITS), 16)[::-1].copy())
    return then[:12], file_sha256(project / "mine.npy")[:12]


@pytest.mark.hostile("represent")
def test_a_user_file_rewritten_in_place_refuses_the_old_embedding_to_a_reader_run_alone(tmp_path, monkeypatch,
                                                                                        capsys):
    # before: mine.npy rewritten in place (same path, other vectors), then dedup run alone (python stages/dedup.py):
    # exit 0, its embedding search linking copies in the old file's features as the new file's
    project = _project(tmp_path)
    assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    then, now = _rewritten(project)
    before = files_under(project)
    line = assert_error_line(_stage_in_process(project, "dedup", monkeypatch, capsys))
    assert line == REWRITTEN.format("represent.file mine.npy", then, now)
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_groups_linked_by_the_embedding_of_a_rewritten_user_file_are_refused_by_their_readers(tmp_path, monkeypatch,
                                                                                               capsys):
    # before: dedup's groups linked in the old file's features, mine.npy rewritten, and a reader of the groups run alone
    # (the label cleaners', the budget's read_filters): the groups' record of data/represent's bytes passed
    # (unchanged), so the old vectors' links were read as current, exit 0
    project = _project(tmp_path)
    assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    then, now = _rewritten(project)
    manifest = read_imageset("data/degrade").manifest
    params = yaml.safe_load((project / "params.yaml").read_text())
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=params)
    assert f"error: {refused.value}" == REWRITTEN.format("represent.file mine.npy", then, now)
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_pretrained_model_file_exported_again_in_place_refuses_the_old_embedding(embedded):
    # before: model.pt (represent.pretrained.torchscript) exported again at the same path, then a reader run alone: the
    # features of the old model read as the new one's, exit 0
    params = _params(source="pretrained", pretrained={"torchscript": "model.pt"})
    (embedded / "model.pt").write_bytes(b"the model represent ran")
    then = file_sha256(embedded / "model.pt")
    write_json(embedded / "data/represent" / MADE_AT, made_at(params, sha256=then))
    (embedded / "model.pt").write_bytes(b"the model exported again")
    before = files_under(embedded)
    with pytest.raises(WinnowError) as refused:
        _read(embedded, params)
    assert f"error: {refused.value}" == REWRITTEN.format("represent.pretrained.torchscript model.pt", then[:12],
                                                         file_sha256(embedded / "model.pt")[:12])
    assert_nothing_left(embedded, before)


@pytest.mark.hostile("represent")
def test_the_same_bytes_written_anew_and_a_record_without_the_digest_are_read_as_before(embedded):
    # a copy of the same bytes over the file (another inode and time) makes no other features; a record of stop 74's
    # (the settings, no digest) is read as before, as one recording no settings is
    params = _params(source="file", file="mine.npy")
    write_json(embedded / "data/represent" / MADE_AT, made_at(params, sha256=file_sha256(embedded / "mine.npy")))
    shutil.copyfile(embedded / "other.npy", embedded / "copy.npy")
    (embedded / "copy.npy").replace(embedded / "mine.npy")  # other.npy holds mine.npy's vectors
    np.testing.assert_array_equal(_read(embedded, params), np.eye(len(SPLITS), 16))
    write_json(embedded / "data/represent" / MADE_AT, made_at(params))
    np.save(embedded / "mine.npy", np.zeros((len(SPLITS), 16)))
    np.testing.assert_array_equal(_read(embedded, params), np.eye(len(SPLITS), 16))


LOG_MISSING = "error: data/degrade/perturbations.parquet: not found; rerun the degrade stage (dvc repro degrade)"


@pytest.fixture
def unlogged(template, tmp_path) -> Path:
    """A copy of the threshold template (data/degrade of 30 random 8x8 images and their scores) whose degrade log
    was deleted."""
    project = tmp_path / "project"
    shutil.copytree(template, project)
    (project / "data/degrade/perturbations.parquet").unlink()
    return project


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["threshold", "dedup"])
def test_a_deleted_degrade_log_stops_a_stage_that_scores_against_it(unlogged, monkeypatch, capsys, stage):
    # before: exit 0, read as nothing planted, so each issue's precision and recall (dedup's detection scores) against
    # the damage degrade planted were left out of metrics/threshold.json (metrics/dedup.json) without a word
    before = files_under(unlogged)
    assert assert_error_line(_stage_in_process(unlogged, stage, monkeypatch, capsys)) == LOG_MISSING
    assert_nothing_left(unlogged, before)


@pytest.mark.hostile("cleaners")
def test_a_deleted_degrade_log_stops_the_label_cleaners_before_they_judge(unlogged, monkeypatch):
    # before: read_judged (confident-learn, embedding-clean, data valuation) gave truth None, so the cleaners' scores
    # against the flips degrade planted were left out of their metrics, exit 0
    monkeypatch.chdir(unlogged)
    params = yaml.safe_load((unlogged / "params.yaml").read_text())
    before = files_under(unlogged)
    with pytest.raises(WinnowError) as refused:
        read_judged(cleaners=[], params=params)
    assert f"error: {refused.value}" == LOG_MISSING
    assert_nothing_left(unlogged, before)


@pytest.mark.hostile("report")
def test_a_deleted_degrade_log_stops_the_report(tmp_path, monkeypatch, capsys):
    # before: the report's recount of metrics/degrade.json (images perturbed, each kind's count) against the log was
    # skipped as if degrade had not run, and its counts shown unchecked beside data/degrade's images
    root, flags = _flagged_project(tmp_path / "project")
    write_judged(root, "data/threshold/flags.parquet", flags)
    (root / "data/degrade/perturbations.parquet").unlink()
    assert _report(root, monkeypatch, capsys) == LOG_MISSING + "\n"


@pytest.mark.hostile("intermediates")
def test_a_deleted_degrade_log_stops_variants(tmp_path, monkeypatch, capsys):
    # before: read as no image removed or added by degrade, so its split check ran on an empty plan (an image degrade
    # removed was refused as one ingest read anew since, the wrong cause), exit 0 where it removed none
    project = write_project(tmp_path / "project")
    (project / "data/degrade/perturbations.parquet").unlink()
    before = files_under(project)
    assert assert_error_line(_stage_in_process(project, "variants", monkeypatch, capsys)) == LOG_MISSING
    assert_nothing_left(project, before)
