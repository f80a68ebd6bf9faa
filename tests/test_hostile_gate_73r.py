"""Review of probe 73's gate and compare mends (fa928328, 69109970). The gate and compare run in-process
(:func:`winnow.cli.main`) and their lines are asserted whole.

- a file another tool writes into metrics/evaluate/ (calibration.json, text beside its numbers at both revisions),
  gated by the default pattern: fa928328 took every metrics/evaluate/<name>.json for evaluate's, so the text was "not
  all finite numbers ... rerun the stage that writes them", which no rerun mends; it is refused as the pattern's, and
  the narrower pattern offered is no longer one that matches the file again;
- a base whose params.yaml lists no variants, a stray metrics/evaluate/metrics.json there, and a gated
  metrics/dedup.json deleted at the target, gated with --variants: "metrics" was still a variant not gated (read from
  the base's files, which no list filters), every file under metrics/ its own, and the gate passed; it is refused;
- compare over two experiments of one name whose commits share their first 7 characters: both were
  "seed1 (ccccccc)", as ambiguous as before the mend; each is named by as many characters as tell them apart.
"""

from __future__ import annotations

import json

import pytest
from gate_repo import init, labels_of, write_both_variants, wrong_on
from hostile_harness import default_params, make_project, params_without
from test_hostile_compare_72 import F1, _shown
from test_hostile_gate_73 import refused
from winnow.cli import main as winnow

REPORT = "reports/gate.md"


@pytest.mark.hostile("gate")
def test_text_another_tool_writes_into_evaluates_folder_is_the_patterns_not_a_rerun(tmp_path, capsys):
    # a calibration tool writes metrics/evaluate/calibration.json ({"method": "temperature", ...}), committed and
    # unchanged. Before: "error: gated metrics are not all finite numbers: metrics/evaluate/calibration.json at HEAD:
    # method = 'temperature'; ... at workspace: ... (rerun the stage that writes them and commit its outputs)": a rerun
    # writes the text again, and no change could pass; and the pattern's refusal offered metrics/evaluate/*.json, the
    # very pattern that matched the file
    project = make_project(tmp_path / "project", default_params())
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    (project / "metrics/evaluate/calibration.json").write_text('{"method": "temperature", "ece": 0.02}')
    init(project)
    assert refused(project, capsys) == [
        "error: params.yaml at HEAD: gate.files: metrics/evaluate/calibration.json holds method = 'temperature' at "
        "every revision gated: its stage writes text, true/false, null or lists beside its numbers, so it is no "
        "metrics file to gate; narrow the pattern to files of numbers, e.g. metrics/evaluate/baseline.json, one "
        "pattern per variant (or move metrics/evaluate/calibration.json out of metrics/evaluate/, where evaluate "
        "writes its variants' metrics); the gate takes its settings from HEAD: correct them there"]


@pytest.mark.hostile("gate")
def test_a_stray_file_at_a_base_listing_no_variants_cannot_hide_a_gated_file_deleted_at_the_target(tmp_path, capsys):
    # the base's params.yaml lists no variants (from before the list), so every metrics/evaluate/<name>.json there
    # names a variant, the stray metrics.json too. Before: --variants baseline pruned left "metrics" a variant not
    # gated, every gated file under metrics/ its own, and the deletion of metrics/dedup.json passed (exit 0)
    gate = default_params()["gate"] | {"files": ["metrics/evaluate/*.json", "metrics/dedup.json"]}
    project = make_project(tmp_path / "project", params_without("variants") | {"gate": gate})
    labels = labels_of()
    write_both_variants(project, labels, wrong_on(labels, [1, 2]))
    (project / "metrics/dedup.json").write_text('{"detection": {"f1": 0.9}}')
    (project / "metrics/evaluate/metrics.json").write_text('{"rows": 10}')
    init(project)
    make_project(project, default_params() | {"gate": gate})
    (project / "metrics/dedup.json").unlink()
    assert refused(project, capsys, "--variants", "baseline", "pruned") == [
        "error: metrics/dedup.json missing at workspace (HEAD holds it): params.yaml gate.files gates it at every "
        "revision; rerun the stage that writes it and commit it at workspace, or take it out of gate.files at HEAD "
        "(the gate takes its settings from HEAD)"]


@pytest.mark.hostile("compare")
def test_compare_names_apart_two_experiments_of_one_name_whose_commits_share_seven_characters(tmp_path, capsys):
    # seed1 run on two commits (seeds 1 and 3), their experiments' revs alike in their first 7 characters. Before: both
    # "seed1 (ccccccc)" in the --out JSON that traces the table to its runs, as ambiguous as the name alone
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    first, second = "ccccccc1" + "0" * 32, "ccccccc2" + "0" * 32
    shown = [{**_shown("a" * 40, "main", 0, F1), "experiments": [{"name": "seed1",
                                                                   "revs": [_shown(first, "seed1", 1, F1)]}]},
             {**_shown("b" * 40, None, 2, F1), "experiments": [{"name": "seed1",
                                                                "revs": [_shown(second, "seed1", 3, F1)]}]}]
    saved = tmp_path / "show.json"
    saved.write_text(json.dumps(shown))
    out = tmp_path / "seeds.md"
    assert winnow(["compare", "--from-json", str(saved), "--repo", str(project), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("# Variants over 4 run(s) (seeds 0, 1, 2, 3)\n\n")
    assert json.loads(out.with_suffix(".json").read_text())["runs"] == [
        "main", "seed1 (ccccccc1)", "bbbbbbb", "seed1 (ccccccc2)"]
