"""Hostile cleaners, probe 74: label cleaners' decisions made on an embedding the represent stage has since rewritten.

- confident-learn's probe, embedding-clean in the represent embedding and data-valuation decide on
  data/represent/embeddings.npy; represent rerun alone (its settings edited: other features, the same images), then the
  budget run alone weighed the decisions made on the old embedding as current, exit 0 (before, their decisions recorded
  the settings they were decided under, not the embedding). They record its files' sha256 now, and the budget refuses
  them in one line naming the cleaner's stage;
- the same by a later reader: the budget ran, then represent, then the variants stage or `winnow review export` alone;
- represent's settings edited (represent.source) and represent not rerun: the embedding's bytes are as the cleaner
  read them, but params.yaml makes another one; variants run alone applied the drops chosen among decisions made on
  the old source's embedding. Refused naming represent, whose rerun comes first;
- the embedding cut short since: refused naming represent, which writes it again, not the cleaner; a record of the
  embedding of another kind (decisions rewritten by another tool): refused naming the cleaner;
- a cleaner that read no embedding (confident-learn's CNN folds) is read whatever represent writes, and so are
  decisions that record no embedding (an earlier winnow's), as before.

The cleaner stages run in this process on budget_project's two clouds of 60 train images (2-d embedding, 1x1 images);
confident-learn's CNN folds are stood in for (their images are too small for a model)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from budget_project import clean_clouds_state
from hostile_harness import assert_nothing_left, files_under
from test_hostile_threshold_64 import _stage_in_process
from winnow.cli import main as winnow
from winnow.represent_settings import MADE_AT, made_at
from winnow.stage import write_json

EMBEDDING = "data/represent/embeddings.npy"
WRITTEN = {"confident_learn": ("confident-learn", "data/confident-learn/label_issues.parquet"),
           "embedding_clean": ("embedding-clean", "data/embedding-clean/decisions.parquet"),
           "data_valuation": ("data-valuation", "data/data-valuation/decisions.parquet")}


@pytest.fixture(scope="module")
def clouds(tmp_path_factory) -> Path:
    """What the stages before the label cleaners wrote: two clouds of 30 train images each, every third in val."""
    return clean_clouds_state(tmp_path_factory.mktemp("cleaners74") / "project")


def _decided(clouds: Path, tmp_path: Path, monkeypatch, capsys, cleaner: str, *, also=("threshold", "dedup"),
             **section) -> Path:
    """A copy of ``clouds`` whose pruned.cleaners are ``also`` and ``cleaner``, ``section`` merged into its params
    section, after ``cleaner``'s stage ran."""
    project = Path(shutil.copytree(clouds, tmp_path / "project"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["pruned"]["cleaners"] = [*also, cleaner]
    params[cleaner] = {**(params.get(cleaner) or {}), **section}
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    done = _stage_in_process(project, cleaner, monkeypatch, capsys)
    assert (done.returncode, done.stderr.count("error:")) == (0, 0), done.stderr
    return project


def _represent_reran(project: Path) -> None:
    """embeddings.npy as represent rerun on other settings writes it: other features of the same images."""
    features = np.load(project / EMBEDDING)
    np.save(project / EMBEDDING, (features * [1.0, 4.0]).astype(np.float32))


def _refused_by(project: Path, reader: str, monkeypatch, capsys, line: str) -> None:
    """``reader`` (a stage) run alone ends in the one line ``line`` and leaves nothing behind."""
    before = files_under(project)
    done = _stage_in_process(project, reader, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [line])
    assert_nothing_left(project, before)


def _stale(cleaner: str) -> str:
    stage, path = WRITTEN[cleaner]
    return (f"error: {path}: decided on {EMBEDDING} as it was before the represent stage wrote it anew (its bytes "
            f"differ now); rerun the {stage} stage (dvc repro {stage})")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("cleaner", list(WRITTEN))
def test_decisions_made_on_an_embedding_represent_wrote_anew_are_refused_by_the_budget(clouds, tmp_path, monkeypatch,
                                                                                       capsys, cleaner):
    # before: exit 0, the budget weighed the decisions of the old embedding (dvc repro -s represent, -s budget)
    project = _decided(clouds, tmp_path, monkeypatch, capsys, cleaner)
    _represent_reran(project)
    _refused_by(project, "budget", monkeypatch, capsys, _stale(cleaner))


@pytest.mark.hostile("intermediates")
def test_variants_run_alone_refuses_decisions_the_budget_chose_among_on_the_old_embedding(clouds, tmp_path,
                                                                                         monkeypatch, capsys):
    # the budget ran, then represent on other settings, then variants alone. Before: exit 0, pruned applied what the
    # budget chose among the decisions data-valuation made on the old embedding
    project = _decided(clouds, tmp_path, monkeypatch, capsys, "data_valuation")
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    _represent_reran(project)
    _refused_by(project, "variants", monkeypatch, capsys, _stale("data_valuation"))


@pytest.mark.hostile("intermediates")
def test_a_review_export_refuses_decisions_made_on_the_old_embedding(clouds, tmp_path, monkeypatch, capsys):
    # before: exit 0, the queue put embedding-clean's decisions of the old embedding before the person as current
    # (threshold no cleaner: the export reads no scores, which this project lacks)
    project = _decided(clouds, tmp_path, monkeypatch, capsys, "embedding_clean", also=("dedup",))
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    _represent_reran(project)
    monkeypatch.chdir(project)
    before = files_under(project)
    assert winnow(["review", "export"]) == 1
    assert capsys.readouterr().err.splitlines() == [_stale("embedding_clean")]
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_decisions_on_an_embedding_of_other_represent_settings_are_refused_naming_represent(clouds, tmp_path,
                                                                                           monkeypatch, capsys):
    # the embedding records the settings it was made under (made_at.json); represent.source edited, represent not
    # rerun, variants run alone. Before: exit 0, the drops chosen among confident-learn's decisions on the embedding
    # params.yaml no longer makes were applied
    project = Path(shutil.copytree(clouds, tmp_path / "recorded"))
    write_json(project / "data/represent" / MADE_AT, made_at(yaml.safe_load((project / "params.yaml").read_text())))
    project = _decided(project, tmp_path, monkeypatch, capsys, "confident_learn")
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["represent"]["source"] = "selfsup"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    _refused_by(project, "variants", monkeypatch, capsys,
                f"error: {EMBEDDING}: made under other represent settings than params.yaml's (source judge then, "
                "selfsup now); rerun the represent stage (dvc repro represent)")  # the project's source: judge


@pytest.mark.hostile("intermediates")
def test_an_embedding_cut_short_since_is_refused_naming_represent(clouds, tmp_path, monkeypatch, capsys):
    # a damaged file is represent's to write again (the cleaner's rerun would refuse it too). Before: variants run
    # alone applied the drops chosen among confident-learn's decisions, exit 0 (the budget judged nothing here, so its
    # own decisions record no embedding)
    project = _decided(clouds, tmp_path, monkeypatch, capsys, "confident_learn")
    assert _stage_in_process(project, "budget", monkeypatch, capsys).returncode == 0
    data = (project / EMBEDDING).read_bytes()
    (project / EMBEDDING).write_bytes(data[:len(data) // 2])
    _refused_by(project, "variants", monkeypatch, capsys,
                f"error: {EMBEDDING}: not a readable .npy file (mmap length is greater than file size); rerun the "
                "represent stage (dvc repro represent)")


def _cnn_folds(images, labels, *, val_images, val_labels, config, classes, folds, repeats, seed, progress):
    """confident-learn's CNN folds stood in for: every given label judged right, as CNNs agreeing with them would."""
    from winnow.out_of_sample import Judged

    def sure(y):
        return np.eye(len(classes), dtype=np.float32)[np.asarray(y)] * 0.9 + 0.1 / len(classes)
    return Judged(pred_probs=sure(labels), val_probs=sure(val_labels), val_accuracy=1.0)


@pytest.mark.hostile("intermediates")
def test_a_cnn_judges_decisions_are_read_whatever_represent_writes(clouds, tmp_path, monkeypatch, capsys):
    # confident_learn.judge cnn reads no embedding: represent rerun moves none of its decisions, and the budget must
    # not send the user to rerun it
    monkeypatch.setattr("winnow.out_of_sample.cross_val_pred_probs", _cnn_folds)
    project = _decided(clouds, tmp_path, monkeypatch, capsys, "confident_learn", judge="cnn")
    _represent_reran(project)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("intermediates")
def test_decisions_recording_no_embedding_are_read_as_before(clouds, tmp_path, monkeypatch, capsys):
    # an earlier winnow's decisions record the settings they were decided under but no embedding: read as before
    project = _decided(clouds, tmp_path, monkeypatch, capsys, "data_valuation")
    path = project / WRITTEN["data_valuation"][1]
    table = pd.read_parquet(path)
    table.attrs = {"decided_at": table.attrs["decided_at"]}
    table.to_parquet(path, index=False)
    _represent_reran(project)
    done = _stage_in_process(project, "budget", monkeypatch, capsys)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.hostile("intermediates")
def test_a_record_of_the_embedding_of_another_kind_is_refused_naming_the_cleaner(clouds, tmp_path, monkeypatch,
                                                                                  capsys):
    # decisions rewritten by another tool, their record of the embedding a list: the cleaner writes it again
    project = _decided(clouds, tmp_path, monkeypatch, capsys, "embedding_clean")
    path = project / WRITTEN["embedding_clean"][1]
    table = pd.read_parquet(path)
    table.attrs = {**table.attrs, "embedding_files": ["data/represent/embeddings.npy"]}
    table.to_parquet(path, index=False)
    _refused_by(project, "budget", monkeypatch, capsys,
                "error: data/embedding-clean/decisions.parquet: records the represent files it decided on as "
                "[\"data/represent/embeddings.npy\"], not their digests by path; rerun the embedding-clean stage (dvc "
                "repro embedding-clean)")
