"""Hostile represent, probe 74: the represent embedding read after represent's params changed.

- ``represent.source`` (file -> selfsup) or the ``file`` path edited in params.yaml, represent not rerun, then a reader
  of the embedding run alone (dedup's embedding search here; embedding-clean, confident-learn's probe, data valuation
  and the budget read it through the same call): the old embedding was read as the new settings', exit 0. The
  represent stage now records the settings it made the embedding under (data/represent/made_at.json),
  and every reader refuses an embedding of other settings in one line naming the first setting then and now and
  represent as the stage to rerun;
- the same by the read every reader calls (:func:`winnow.represent.read_representation` with params.yaml): selfsup's
  epochs, the pretrained model's name, the judge's training (train.lr under represent.judge, its epochs), the seed of
  a model trained here; settings that make no other features (the kNN vote's k, threads, devices, a pretrained pass's batch
  size, train.threads, 10 for 10.0) are read as before;
- an embedding that records no settings (an earlier winnow's, or made by hand) is read as before, as the sizes record
  and the cleaners' settings are; a record damaged (not a section of settings) names made_at.json and represent;
- represent rerun under unchanged params, then the reader: read (the record is what params.yaml gives);
- next to it, outputs judged by the embedding, its bytes unchanged since: dedup's groups linked by the embedding's
  search, read by a reader of the groups run alone, and the budget's decisions chosen by probes on it, applied by
  variants run alone, after represent.file or represent.source was edited: their records of the embedding's bytes
  passed, and the old settings' links and cut were read as current, exit 0. Now refused in the same line, naming
  represent (whose rerun comes first).

Stage cases run the real scripts in this process on a throwaway project of eight 8x8 images (represent from a
``file`` source: nothing trained); the others call the library the stages call."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, record_represent
from test_hostile_budget_72 import _budgeted
from test_hostile_dedup_more import dedup_project
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.imageset import read_imageset
from winnow.judged_rows import read_filters
from winnow.represent import read_representation
from winnow.represent_settings import MADE_AT, made_at
from winnow.stage import write_json

SPLITS = ["train"] * 6 + ["val", "test"]
REFUSED = ("error: data/represent/embeddings.npy: made under other represent settings than params.yaml's ({}); rerun "
           "the represent stage (dvc repro represent)")


def _project(root: Path) -> Path:
    """Eight 8x8 images in data/degrade, dedup's embedding search on, represent from ``mine.npy`` (a distinct row each
    image, in manifest order), ``other.npy`` beside it, the same features."""
    project = dedup_project(root / "project", splits=SPLITS, copies={},
                            dedup={"embedding_radius": 0.01, "embedding_confirm": False, "keep": "first"})
    _edit(project, source="file", file="mine.npy", knn_k=3)
    features = np.eye(len(SPLITS), 16)
    np.save(project / "mine.npy", features)
    np.save(project / "other.npy", features)
    return project


def _project_params(project: Path) -> dict:
    """params.yaml of ``project`` as it is now."""
    return yaml.safe_load((project / "params.yaml").read_text())


def _edit(project: Path, **section) -> None:
    """params.yaml's represent section updated by ``section``."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["represent"] |= section
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.mark.hostile("represent")
@pytest.mark.parametrize(("edit", "named"), [
    ({"source": "selfsup", "file": None}, "source file then, selfsup now"),
    ({"file": "other.npy"}, "file mine.npy then, other.npy now"),
], ids=["source", "file"])
def test_a_reader_run_alone_after_a_represent_edit_refuses_the_old_embedding(tmp_path, monkeypatch, capsys, edit,
                                                                              named):
    # before: represent.source file -> selfsup (or another file named) in params.yaml and dedup run alone (dvc repro -s
    # dedup, python stages/dedup.py): exit 0, its embedding search linking copies in the file's features as if they
    # were selfsup's (the other file's)
    project = _project(tmp_path)
    assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    _edit(project, **edit)
    before = files_under(project)
    assert assert_error_line(_stage_in_process(project, "dedup", monkeypatch, capsys)) == REFUSED.format(named)
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_represent_rerun_under_unchanged_params_is_read_by_its_readers(tmp_path, monkeypatch, capsys):
    # the record is what params.yaml gives: represent run twice, then dedup, reads it (and after the edit is undone)
    project = _project(tmp_path)
    for _ in range(2):
        assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    _edit(project, file="other.npy")
    assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0


@pytest.mark.hostile("represent")
def test_groups_linked_by_an_embedding_of_other_settings_are_refused_by_their_readers(tmp_path, monkeypatch, capsys):
    # dedup's embedding search linked copies in the embedding; then represent.file edited (another file), neither rerun,
    # and a reader of the groups run alone (the label cleaners', the budget's read_filters): the groups' record of the
    # embedding's bytes passed (unchanged), so the links of the old file's features were read as dedup's now, exit 0
    project = _project(tmp_path)
    assert _stage_in_process(project, "represent", monkeypatch, capsys).returncode == 0
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    _edit(project, file="other.npy")
    manifest = read_imageset("data/degrade").manifest
    before = files_under(project)
    with pytest.raises(WinnowError) as refused:
        read_filters(manifest, params=_project_params(project))
    assert f"error: {refused.value}" == REFUSED.format("file mine.npy then, other.npy now")
    assert_nothing_left(project, before)


@pytest.fixture
def embedded(tmp_path, monkeypatch) -> Path:
    """data/represent of eight 8x8 images as the represent stage writes it, its record of what it was made from
    recording no settings yet; the project the working folder, as for a stage."""
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    data = read_imageset(project / "data/degrade")
    (project / "data/represent").mkdir(parents=True)
    np.save(project / "data/represent/embeddings.npy", np.eye(len(SPLITS), 16, dtype=np.float32))
    write_json(project / "data/represent/ids.json", data.manifest["id"].tolist())
    record_represent(project)
    return project


def _made_under(project: Path, params: dict) -> None:
    """The embedding's record says it was made under ``params``, as the represent stage writes it."""
    write_json(project / "data/represent" / MADE_AT, made_at(params))


def _read(project: Path, params: dict):
    data = read_imageset("data/degrade")
    return read_representation("data/represent", data.manifest["id"], data=data, params=params)


def _params(**represent) -> dict:
    params = default_params()
    params["represent"] |= represent
    return params


def _with(params: dict, path: str, value) -> dict:
    """``params`` with the dotted setting ``path`` set to ``value``."""
    params = copy.deepcopy(params)
    *sections, key = path.split(".")
    where = params
    for section in sections:
        where = where.setdefault(section, {})
    where[key] = value
    return params


SELFSUP = _params(source="selfsup", selfsup={"epochs": 4, "width": 8, "threads": 1, "device": "cpu"})
PRETRAINED = _params(source="pretrained", pretrained={"model": "timm:resnet18", "batch_size": 16})
JUDGE = _params(source="judge", judge={"epochs": 10})


@pytest.mark.hostile("represent")
@pytest.mark.parametrize(("then", "now", "named"), [
    (SELFSUP, _with(SELFSUP, "represent.selfsup.epochs", 30), "selfsup.epochs 4 then, 30 now"),
    (SELFSUP, _with(SELFSUP, "seed", 7), "seed 0 then, 7 now"),
    (PRETRAINED, _with(PRETRAINED, "represent.pretrained.model", "timm:resnet50"),
     "pretrained.model timm:resnet18 then, timm:resnet50 now"),
    # the judge's training is the train section under represent.judge's overrides: train.lr edited moves it
    (JUDGE, _with(JUDGE, "train.lr", 0.01), "judge.lr 0.001 then, 0.01 now"),
    (JUDGE, _with(JUDGE, "represent.judge.epochs", 20), "judge.epochs 10 then, 20 now"),
    (JUDGE, SELFSUP, "source judge then, selfsup now"),
], ids=["selfsup-epochs", "seed", "pretrained-model", "judge-train-lr", "judge-epochs", "source"])
def test_the_read_every_reader_calls_refuses_an_embedding_of_other_settings(embedded, then, now, named):
    # before: each read as the embedding of params.yaml's settings now (no reader held them to the embedding)
    _made_under(embedded, then)
    before = files_under(embedded)
    with pytest.raises(WinnowError) as refused:
        _read(embedded, now)
    assert f"error: {refused.value}" == REFUSED.format(named)
    assert_nothing_left(embedded, before)


@pytest.mark.hostile("represent")
@pytest.mark.parametrize(("then", "now"), [
    (SELFSUP, _with(SELFSUP, "represent.knn_k", 5)),  # the vote's k measures the embedding, it makes none
    (SELFSUP, _with(_with(SELFSUP, "represent.selfsup.threads", 2), "represent.selfsup.device", "auto")),
    (SELFSUP, _with(SELFSUP, "train.epochs", 99)),  # the train section trains no selfsup encoder
    (PRETRAINED, _with(PRETRAINED, "represent.pretrained.batch_size", 64)),
    (PRETRAINED, _with(PRETRAINED, "seed", 7)),  # nothing trained here
    (JUDGE, _with(_with(JUDGE, "train.threads", 4), "train.eval_batch_size", 64)),
    (JUDGE, _with(JUDGE, "train.augment", "fixed")),  # a judge trains with no policy whatever it says
    (JUDGE, _with(JUDGE, "represent.judge.epochs", 10.0)),
    (_params(source="file", file="mine.npy"), _params(source="file", file="./mine.npy")),  # the same file
], ids=["knn-k", "selfsup-threads-device", "train-section-under-selfsup", "pretrained-batch-size",
        "seed-under-pretrained", "judge-threads", "judge-augment", "ten-for-ten", "same-file"])
def test_settings_that_make_no_other_features_are_read_as_before(embedded, then, now):
    _made_under(embedded, then)
    np.testing.assert_array_equal(_read(embedded, now), np.eye(len(SPLITS), 16))


@pytest.mark.hostile("represent")
def test_an_embedding_recording_no_settings_is_read_as_before(embedded):
    # an earlier winnow's record (or one made by hand) names no settings: read whatever params.yaml gives, as the
    # decisions and scores that record none are
    np.testing.assert_array_equal(_read(embedded, SELFSUP), np.eye(len(SPLITS), 16))
    np.testing.assert_array_equal(_read(embedded, JUDGE), np.eye(len(SPLITS), 16))


@pytest.mark.hostile("represent")
def test_a_damaged_record_of_the_settings_names_the_record_and_represent(embedded):
    write_json(embedded / "data/represent" / MADE_AT, ["source", "judge"])
    before = files_under(embedded)
    with pytest.raises(WinnowError) as refused:
        _read(embedded, JUDGE)
    assert str(refused.value) == ("data/represent/made_at.json: records the settings the embedding was made under "
                                  "as [\"source\", \"judge\"], not a section of settings; rerun the represent stage "
                                  "(dvc repro represent)")
    assert_nothing_left(embedded, before)


@pytest.mark.hostile("represent")
def test_decisions_judged_on_an_embedding_of_other_settings_are_refused_by_variants(tmp_path, monkeypatch, capsys):
    # the budget chose its cut by probes on the embedding; then represent.source edited (judge to selfsup) and variants
    # run alone (dvc repro -s variants): the embedding's bytes unchanged, so the decisions' record of them passed, and
    # pruned applied the cut chosen on the judge's embedding as the selfsup one's, exit 0
    project = _budgeted(tmp_path, monkeypatch, capsys)
    _made_under(project, _project_params(project))
    params = _project_params(project)
    params["represent"]["source"] = "selfsup"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert assert_error_line(done) == REFUSED.format("source judge then, selfsup now")
    assert_nothing_left(project, before)
