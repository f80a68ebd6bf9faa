"""Faults around the records stages keep in what they write (stop 70): a parquet file's pandas metadata, where the
score, threshold, budget and variants stages record how they ran, damaged, dropped or of the wrong kind, and
augment-search's policy file of an earlier winnow.

- a table whose pandas metadata (PANDAS_ATTRS, a DataFrame's attrs) is JSON null, a number or a list, or cut
  mid-way: one line naming the metadata and the stage to rerun, not a TypeError's traceback or "not a readable
  parquet file (Expecting value: ...)" of a file that reads;
- budget decisions whose records (the model check's settings, the train images judged, the cleaners chosen among)
  are not of their kind, as another tool may rewrite them: one line naming the record and the budget stage, not an
  AttributeError or TypeError traceback, nor cleaners "threshold" read as its letters;
- augment-search's policy file of an earlier winnow, which kept no record of the balance.policy it was chosen against
  (no ``fixed``), read by balance after balance.policy was edited: refused in one line naming the augment-search
  stage, not applied as if chosen against the policy params.yaml gives now; and one whose incumbent is no policy of
  the fields the stage writes (``{}``, a text): one line naming the record, not read as the default policy, nor
  blamed on a valid policy and params.yaml's balance.policy;
- represent.file removed (moved away) while represent reads it: one line saying so, not that another version was
  written meanwhile, which nobody wrote;
- threshold's flags recording threshold.issues that are no section (a list), read by the variants' contracts, and
  pruned's rows recording cleaners that are no list of cleaners (a text), read by the report: one line naming the
  record and the stage to rerun, not read as recording nothing and left unchecked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from hostile_harness import (
    assert_error_line, assert_nothing_left, files_under, make_project, tiny_degraded, undamaged_params,
)
from review_project import write_project
from test_augment import _project
from test_contracts import _run_stage, project  # noqa: F401 - project: the contracts stage's fixture
from test_hostile_budget_70r import _budget_then_edit
from test_hostile_represent import separable
from test_hostile_represent_65 import _project as _represent_project
from test_hostile_represent_65 import _represent
from test_hostile_threshold_64 import _stage_in_process
from winnow import represent

SCORES = "data/score/scores.parquet"
DECISIONS = "data/budget/decisions.parquet"
POLICY = "data/augment-search/policy.json"
FLAGS = "data/threshold/flags.parquet"
PRUNED = "data/variants/pruned/rows.parquet"


def _with_metadata(path, key: bytes, value: bytes) -> None:
    """Rewrite the parquet file at ``path`` with its schema metadata ``key`` set to ``value``, as another tool may."""
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, key: value}), path)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("value", "why"), [
    (b"null", "holds a JSON null, not an object"),
    (b"3", "holds a JSON int, not an object"),
    (b'[{"score_settings": {}}]', "holds a JSON list, not an object"),
    # cut at the opening quote of "dark_, the 21st character (char 20 from 0), a string that never closes
    (b'{"score_settings": {"dark_', "is cut or not JSON (Unterminated string starting at: line 1 column 21 (char 20))"),
])
def test_a_table_whose_pandas_metadata_is_damaged_is_refused_naming_it(tmp_path, monkeypatch, capsys, value, why):
    # before: null, a number or a list stopped threshold in pandas' read with "TypeError: 'NoneType' object is not
    # iterable" (a traceback), and the cut record read "not a readable parquet file (Unterminated string ...)", of a
    # file whose rows read whole
    params = undamaged_params()
    project = make_project(tmp_path / "p", params)
    tiny_degraded(project, score=params["score"])
    _with_metadata(project / SCORES, b"PANDAS_ATTRS", value)
    before = files_under(project)
    done = _stage_in_process(project, "threshold", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {SCORES}: its pandas metadata (PANDAS_ATTRS) {why}; rerun the score stage (dvc repro score)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("key", "recorded", "line"), [
    ("model_check", ["train.epochs", 1], 'model check settings ["train.epochs", 1], not a section of settings'),
    ("train_ids", 5, "train images 5, not a list of ids"),
    ("cleaners", "threshold", 'cleaners "threshold", not a list of cleaners'),
])
def test_decisions_whose_records_are_not_of_their_kind_are_refused_in_one_line(tmp_path, monkeypatch, capsys, key,
                                                                               recorded, line):
    # the file's metadata rewritten by another tool. Before: variants stopped in "AttributeError: 'list' object has
    # no attribute 'get'" (model_check) or "TypeError: 'int' object is not iterable" (train_ids), tracebacks, and
    # cleaners "threshold" was refused as "chosen among the decisions of pruned.cleaners t, h, r, e, s, h, o, l, d"
    project = _budget_then_edit(tmp_path, monkeypatch, capsys, before={}, after={})
    decisions = pd.read_parquet(project / DECISIONS)
    decisions.attrs[key] = recorded
    decisions.to_parquet(project / DECISIONS)
    before = files_under(project)
    done = _stage_in_process(project, "variants", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {DECISIONS}: records {line}; rerun the budget stage (dvc repro budget)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_searched_policy_of_an_earlier_winnow_is_refused_once_balance_policy_may_have_changed(
        tmp_path, monkeypatch, capsys):
    # augment-search kept balance.policy (magnitude 0.3) and wrote its file as winnow did before it recorded the
    # incumbent (no "fixed"); then balance.policy.magnitude set to 0.6 and balance run alone (dvc repro -s balance).
    # Before: exit 0, balance made its copies with the old balance.policy, the edit silently not applied
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.3],
                                                    "op_sets": [["rotate"]]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer", lambda *a, **k: lambda p: 0.5)  # all tie: kept
    assert _stage_in_process(tmp_path, "augment_search", monkeypatch, capsys).returncode == 0
    written = json.loads((tmp_path / POLICY).read_text())
    del written["fixed"]
    (tmp_path / POLICY).write_text(json.dumps(written))
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["balance"]["policy"]["magnitude"] = 0.6
    make_project(tmp_path, params)
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {POLICY}: records no incumbent it was chosen against (fixed: the balance.policy it scored, or null): "
        "made by an earlier winnow or by hand; rerun the augment-search stage (dvc repro augment-search)"])
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("interrupted")
def test_an_embedding_file_removed_while_it_is_read_is_refused_naming_the_removal(tmp_path, monkeypatch, capsys):
    # the user's file moved away (or deleted by an exporter about to write it anew) while its rows were read. Before:
    # "represent.file: mine.npy changed while represent read it (another version was written meanwhile); run
    # represent again once the file is complete", where no other version was to be found
    project = _represent_project(tmp_path, source="file", file="mine.npy")
    np.save(project / "mine.npy", separable())
    read = represent.read_embedding_file

    def moved_away_meanwhile(*args, **kwargs):
        rows = np.array(read(*args, **kwargs))
        (project / "mine.npy").rename(tmp_path / "elsewhere.npy")
        return rows

    monkeypatch.setattr(represent, "read_embedding_file", moved_away_meanwhile)
    before = files_under(project) - {"mine.npy"}
    line = assert_error_line(_represent(project, monkeypatch, capsys))
    assert line == ("error: represent.file: mine.npy was removed while represent read it (moved away, or deleted to be "
                    "written anew); run represent again once the file is in place")
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_flags_recording_issues_that_are_no_section_are_refused_by_the_contracts(
        project, tmp_path, monkeypatch, capsys):  # noqa: F811 - project: the contracts stage's fixture
    # the flags' metadata rewritten by another tool, threshold.issues recorded as a list of names. Before: read as
    # flags recording no issues, so the check of the issues they were cut by was skipped and the contracts ran, exit 0
    root = Path(shutil.copytree(project, tmp_path / "project"))
    flags = pd.read_parquet(root / FLAGS)
    flags.attrs = {"threshold_issues": ["dark", "blurry"]}
    flags.to_parquet(root / FLAGS, index=False)
    before = files_under(root)
    with pytest.raises(SystemExit) as stopped:
        _run_stage(root, monkeypatch, variants=("baseline", "pruned"))
    assert stopped.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        f'error: {FLAGS}: records threshold.issues ["dark", "blurry"], not a section of issues; rerun the threshold '
        "stage (dvc repro threshold)"]
    assert_nothing_left(root, before, allowed={"params.yaml"})  # the one _run_stage writes


@pytest.mark.hostile("interrupted")
def test_a_pruned_variant_recording_cleaners_as_text_is_refused_by_the_report(tmp_path, monkeypatch, capsys):
    # pruned's metadata rewritten by another tool, its cleaners recorded as one text. Before: read as rows recording
    # no cleaners, the check of the cleaners they were made of skipped, and the report written, exit 0
    project = write_project(tmp_path / "p")
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0
    rows = pd.read_parquet(project / PRUNED)
    rows.attrs = {"cleaners": "confident_learn, dedup, embedding_clean, threshold"}
    rows.to_parquet(project / PRUNED, index=False)
    before = files_under(project)
    done = _stage_in_process(project, "report", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        # the record's JSON to its 40th character, as the budget's records are shown
        f'error: {PRUNED}: records cleaners "confident_learn, dedup, embedding_clean, not a list of cleaners; '
        "rerun the variants stage (dvc repro variants)"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("recorded", "why"), [({}, "fixed lacks field(s) ops, n, magnitude, kind, fill"),
                                               ("rotate", "fixed is str, not a mapping")])
def test_a_searched_policy_recording_an_incumbent_that_is_no_policy_is_refused_naming_it(
        tmp_path, monkeypatch, capsys, recorded, why):
    # the policy file edited by hand or another tool. Before: {} was read as the default policy, as if the search had
    # scored it, and balance, whose balance.policy is the default here, ran on, exit 0; "rotate" was refused as
    # "holds no valid policy (balance.policy: unknown parameter(s) a, e, o, r, t; ...)", of a valid policy and of
    # params.yaml's balance.policy
    _project(tmp_path, monkeypatch, augment_search={"enabled": True, "kinds": ["trivial"], "magnitudes": [0.3],
                                                    "op_sets": [["rotate"]]})
    from winnow import augment_search

    monkeypatch.setattr(augment_search, "short_training_scorer", lambda *a, **k: lambda p: 0.5)  # all tie: kept
    assert _stage_in_process(tmp_path, "augment_search", monkeypatch, capsys).returncode == 0
    written = json.loads((tmp_path / POLICY).read_text())
    (tmp_path / POLICY).write_text(json.dumps({**written, "fixed": recorded}))
    before = files_under(tmp_path)
    done = _stage_in_process(tmp_path, "balance", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {POLICY}: records no valid incumbent it was chosen against ({why}); rerun the augment-search stage "
        "(dvc repro augment-search)"])
    assert_nothing_left(tmp_path, before)
