"""Hostile flags, probe 72: threshold's flags cut under other settings than params.yaml gives now, read as current by a
stage run alone (``dvc repro -s <stage>``, or by hand).

The threshold stage records with its flags every setting that moves their cuts (:func:`winnow.flag_cuts.cut_record`):
``threshold.issues``, ``threshold.bins``, ``threshold.max_flagged_fraction`` and the score settings the scores were
made at. Before, it recorded the issues alone, which only the variants' contracts checked. Now every reader refuses
flags cut otherwise (:func:`winnow.flag_cuts.check_cut`), in one line naming the setting, then and now, and threshold
(with score, where the scores are stale too) as the stage to rerun:

- the label cleaners (confident-learn, embedding-clean, data-valuation) after an edit of threshold.issues, bins,
  max_flagged_fraction or a score setting: before, judged the images the old cuts left them;
- dedup after an edit of max_flagged_fraction: before, kept the copies the old flags preferred;
- the budget after an edit of threshold.bins: before, weighed the old flags' drops;
- the variants stage after an edit of max_flagged_fraction: before, applied the budget's choice among the old flags;
- `winnow review export` after an edit of threshold.issues: before, queued the old flags' drops;
- the report after an edit of a score setting: before, showed the old cuts as today's;
- the variants' contracts after an edit of threshold.bins: before, measured the old flags' flagged-image rate;
- a record of another kind, or a setting recorded as text, is refused, not read as no record or as the number;
- flags that record no such settings (an earlier winnow's, their issues alone) are read as before.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from hostile_harness import (
    assert_nothing_left, budget_stamped, default_params, edit_table, files_under, make_project, run_winnow,
    tiny_degraded, undamaged_params, write_scores,
)
from review_project import write_project
from test_contracts import _params, project  # noqa: F401 - project: the contracts stage's fixture
from test_hostile_threshold_64 import _stage_in_process
from winnow.errors import WinnowError
from winnow.flag_cuts import CUT_AT, CUT_BY, cut_record
from winnow.judged_rows import read_judged

FLAGS = "data/threshold/flags.parquet"
RERUN = "; rerun the threshold stage (dvc repro threshold)"
SCORES_RERUN = "; rerun the score and threshold stages (dvc repro threshold)"


def _thresholded(root: Path, monkeypatch, capsys) -> tuple[Path, dict]:
    """A tiny project (hostile_harness.tiny_degraded, the represent embedding and dedup's groups too) whose flags the
    real threshold stage wrote under the project's params; returns it and its params."""
    params = undamaged_params()
    project = make_project(root, params)
    tiny_degraded(project, score=params["score"], clean_tables=True)
    assert _stage_in_process(project, "threshold", monkeypatch, capsys).returncode == 0
    return project, params


def _edited(params: dict, path: str, value) -> dict:
    """A deep copy of ``params`` with the dotted ``path`` set to ``value``."""
    edited = yaml.safe_load(yaml.safe_dump(params))
    *parents, last = path.split(".")
    held = edited
    for key in parents:
        held = held[key]
    held[last] = value
    return edited


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize("stage", ["confident_learn", "embedding_clean", "data_valuation"])
@pytest.mark.parametrize(("path", "value", "line"), [
    ("threshold.bins", 64, f"error: {FLAGS}: cut with threshold.bins 256, but params.yaml gives 64 now{RERUN}"),
    ("threshold.max_flagged_fraction", 0.1,
     f"error: {FLAGS}: cut with threshold.max_flagged_fraction 0.5, but params.yaml gives 0.1 now{RERUN}"),
    ("threshold.issues.dark", {"method": "otsu"},
     f"error: {FLAGS}: cut with threshold.issues.dark {{\"method\": \"auto\"}}, but params.yaml gives "
     f"{{\"method\": \"otsu\"}} now{RERUN}"),
    ("score.dark_percentile", 90,
     f"error: {FLAGS}: cut from scores made at other settings than params.yaml's score section (dark_percentile 99 "
     f"then, 90 now): made before that section changed{SCORES_RERUN}"),
], ids=["bins", "fraction", "issues", "score"])
def test_a_label_cleaner_run_alone_refuses_flags_cut_under_other_settings(tmp_path, monkeypatch, capsys, stage, path,
                                                                          value, line):
    # threshold run, then one setting that moves its cuts edited and a label cleaner run alone (dvc repro -s
    # confident-learn). Before: exit 0, the images the old cuts flagged left out of the judging (and those they passed
    # judged), though the flags of the settings now would differ; read_filters did not check even the issues
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)
    make_project(project, _edited(params, path, value))
    before = files_under(project)
    done = _stage_in_process(project, stage, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [line])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_dedup_run_alone_refuses_flags_cut_under_another_max_flagged_fraction(tmp_path, monkeypatch, capsys):
    # before: exit 0, the copy each group keeps chosen by the old flags (a copy the fraction now flags kept over one
    # it does not)
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)
    make_project(project, _edited(params, "threshold.max_flagged_fraction", 0.2))
    before = files_under(project)
    done = _stage_in_process(project, "dedup", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.max_flagged_fraction 0.5, but params.yaml gives 0.2 now{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_score_batch_size_edit_leaves_the_flags_current(tmp_path, monkeypatch, capsys):
    # the positive side: the threshold stage's own record read after an edit of score.batch_size, which moves no score
    # and so no cut, by a label cleaner's reading and by dedup without a refusal
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)
    make_project(project, _edited(params, "score.batch_size", 7))
    read_judged(cleaners=["threshold", "dedup"], params=yaml.safe_load((project / "params.yaml").read_text()))
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0


def _recorded(root: Path, params: dict) -> None:
    """review_project's flags with the record the threshold stage writes, as cut under ``params``, and the budget's
    decisions stamped after them, as a budget rerun on those flags would (they record the cleaner files' bytes)."""
    def change(flags):
        flags.attrs = cut_record(params)
        return flags
    edit_table(root / FLAGS, change)
    edit_table(root / "data/budget/decisions.parquet", lambda table: budget_stamped(root, table))


@pytest.mark.hostile("intermediates")
def test_the_budget_variants_review_and_report_refuse_flags_cut_under_other_settings(tmp_path, monkeypatch, capsys):
    # review_project's state (every cleaner, the budget's decisions), its flags recording the settings they were cut
    # under, then one edited and each reader run alone. Before: exit 0 for each: the budget weighed the old flags'
    # drops, the variants stage applied the budget's choice among them (their bytes unchanged), `winnow review export`
    # queued their drop of train-00, and the report showed their cuts as today's
    project = write_project(tmp_path / "p")
    params = yaml.safe_load((project / "params.yaml").read_text())
    _recorded(project, params)
    assert _stage_in_process(project, "variants", monkeypatch, capsys).returncode == 0  # as recorded: no refusal
    cases = [("variants", "threshold.max_flagged_fraction", 0.3,
              "cut with threshold.max_flagged_fraction 0.5, but params.yaml gives 0.3 now" + RERUN),
             ("budget", "threshold.bins", 128, "cut with threshold.bins 256, but params.yaml gives 128 now" + RERUN),
             ("report", "score.iqr_factor", 1.5, "cut from scores made at other settings than params.yaml's score "
                                                "section (iqr_factor 3 then, 1.5 now): made before that section "
                                                "changed" + SCORES_RERUN)]
    for stage, path, value, problem in cases:
        make_project(project, _edited(params, path, value))
        before = files_under(project)
        done = _stage_in_process(project, stage, monkeypatch, capsys)
        assert (done.returncode, done.stderr.splitlines()) == (1, [f"error: {FLAGS}: {problem}"]), stage
        assert_nothing_left(project, before)
    make_project(project, _edited(params, "threshold.issues.light", {"method": "fixed", "value": 0.2}))
    before = files_under(project)
    done = run_winnow(project, "review", "export")
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.issues.light {{\"method\": \"auto\"}}, but params.yaml gives "
        f"{{\"method\": \"fixed\", \"value\": 0.2}} now{RERUN}"])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_the_contracts_refuse_flags_cut_with_other_bins(project, tmp_path, monkeypatch, capsys):  # noqa: F811
    # threshold run, then threshold.bins edited and the contracts run alone. Before: exit 0, the variants'
    # flagged-image rate measured on the old cuts' flags (the issues alone were checked)
    root = Path(shutil.copytree(project, tmp_path / "project"))
    make_project(root, default_params())
    write_scores(root, pd.read_parquet(root / "data/score/scores.parquet"))
    assert _stage_in_process(root, "threshold", monkeypatch, capsys).returncode == 0
    params = _params(("baseline", "pruned"))
    params["threshold"]["bins"] = 32
    make_project(root, params)
    before = files_under(root)
    done = _stage_in_process(root, "contracts", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.bins 256, but params.yaml gives 32 now{RERUN}"])
    assert_nothing_left(root, before)


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("record", "problem"), [
    ({CUT_AT: "bins 256"}, "records the settings it was cut at as \"bins 256\", not a section of settings"),
    # a number written as text by another tool: not the number
    ({CUT_AT: {"bins": "256", "max_flagged_fraction": 0.5}},
     "cut with threshold.bins \"256\", but params.yaml gives 256 now"),
    ({CUT_AT: {"max_flagged_fraction": 0.5}}, "cut with threshold.bins unrecorded, but params.yaml gives 256 now"),
    # the issues' record dropped by another tool, the rest kept: not read as flags of every issue now
    ({CUT_BY: None}, "records the settings it was cut at but not the threshold.issues it was cut by"),
], ids=["text", "bins-as-text", "bins-unrecorded", "issues-unrecorded"])
def test_a_record_of_another_kind_is_refused_not_read_as_none(tmp_path, monkeypatch, capsys, record, problem):
    # before the mend nothing but the issues was read; with it, a record rewritten by another tool must not pass as
    # no record (flags of an earlier winnow) nor as the setting it spells
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)

    def rewrite(flags):
        flags.attrs = {**flags.attrs, **record}
        return flags
    edit_table(project / FLAGS, rewrite)
    monkeypatch.chdir(project)
    with pytest.raises(WinnowError) as refused:
        read_judged(cleaners=["threshold", "dedup"], params=params)
    assert str(refused.value) == f"{FLAGS}: {problem}{RERUN}"


@pytest.mark.hostile("intermediates")
def test_flags_of_an_earlier_winnow_are_read_as_before(tmp_path, monkeypatch, capsys):
    # flags recording their issues alone (written before the other settings were recorded): no setting besides the
    # issues can be told, so after a bins edit they are read as before, not refused; their issues still are checked
    project, params = _thresholded(tmp_path / "p", monkeypatch, capsys)

    def earlier(flags):
        flags.attrs = {CUT_BY: flags.attrs[CUT_BY]}
        return flags
    edit_table(project / FLAGS, earlier)
    make_project(project, _edited(params, "threshold.bins", 64))
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    make_project(project, _edited(params, "threshold.issues.dark", {"method": "li"}))
    before = files_under(project)
    done = _stage_in_process(project, "dedup", monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [
        f"error: {FLAGS}: cut with threshold.issues.dark {{\"method\": \"auto\"}}, but params.yaml gives "
        f"{{\"method\": \"li\"}} now{RERUN}"])
    assert_nothing_left(project, before)


def _deduplicated(root: Path, monkeypatch, capsys) -> Path:
    """:func:`_thresholded`'s project with dedup's groups written by the real dedup stage, by its flags (none)."""
    project, _ = _thresholded(root, monkeypatch, capsys)
    assert _stage_in_process(project, "dedup", monkeypatch, capsys).returncode == 0
    return project


def _flag_first_train_image(flags):
    first = flags["id"].str.startswith("train").idxmax()
    flags.loc[first, ["dark", "any"]] = True
    return flags


GROUPS_LINE = ("error: data/dedup/groups.parquet: chose the copies it keeps by threshold's flags as they were (0 flagged "
               "train image(s) then, 1 flagged train image(s) now): made before threshold flagged anew; rerun the dedup "
               "stage (dvc repro dedup)")


@pytest.mark.hostile("intermediates")
@pytest.mark.parametrize(("stage", "cleaners"), [("confident_learn", None), ("budget", ["threshold", "dedup"])])
def test_groups_that_kept_copies_by_other_flags_are_refused(tmp_path, monkeypatch, capsys, stage, cleaners):
    # dedup ran by threshold's flags, then threshold flagged anew (its settings edited, threshold rerun alone) and a
    # label cleaner or the budget (the filters alone: read_filters is not reached there) run alone. Before: exit 0, the
    # groups' kept copies chosen by the old flags: a group could keep the copy threshold flags now, having removed its
    # sound copy, and pruned then held no copy of the picture
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())
    make_project(project, _edited(params, "pruned.cleaners", cleaners or params["pruned"]["cleaners"]))
    edit_table(project / FLAGS, _flag_first_train_image)  # attrs kept: cut under params.yaml's settings
    before = files_under(project)
    done = _stage_in_process(project, stage, monkeypatch, capsys)
    assert (done.returncode, done.stderr.splitlines()) == (1, [GROUPS_LINE])
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_flags_of_val_images_or_groups_of_an_earlier_winnow_leave_the_groups_current(tmp_path, monkeypatch, capsys):
    # dedup keeps train copies alone, so a val image flagged anew moves no kept copy: no refusal; and groups recording
    # no flags (an earlier winnow's) are read as before
    project = _deduplicated(tmp_path / "p", monkeypatch, capsys)
    params = yaml.safe_load((project / "params.yaml").read_text())

    def flag_val(flags):
        flags.loc[flags["id"].str.startswith("val").idxmax(), ["dark", "any"]] = True
        return flags
    edit_table(project / FLAGS, flag_val)
    monkeypatch.chdir(project)
    read_judged(cleaners=["threshold", "dedup"], params=params)
    edit_table(project / FLAGS, _flag_first_train_image)

    def earlier(groups):
        groups.attrs = {}
        return groups
    edit_table(project / "data/dedup/groups.parquet", earlier)
    read_judged(cleaners=["threshold", "dedup"], params=params)
