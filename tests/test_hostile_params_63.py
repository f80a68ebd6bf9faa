"""params.yaml as a person edits it: tidied with YAML anchors, then ``dvc exp run -S`` (winnow.yaml_text.unshared);
saved half-made while a stage runs (winnow.params_read)."""

from pathlib import Path

import pytest

from hostile_harness import ROOT, assert_error_line, assert_nothing_left, files_under, make_project, run_stage
from test_hostile_params import _passed, _refused, _train_project
from winnow.errors import WinnowError
from winnow.params import load
from winnow.stage import load_params, together, write_text
from winnow.yaml_text import load_yaml

SHIPPED = (ROOT / "params.yaml").read_text()
JUDGE = "  judge: {model: lenet5, epochs: 20, patience: 5}   # overrides"
CL_TRAIN = "  train: {model: lenet5, epochs: 20, patience: 5}   # judge cnn"


def edited(*replacements: tuple[str, str]) -> str:
    """The shipped params.yaml with each ``(old, new)`` line part replaced once."""
    text = SHIPPED
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# the judges' identical overrides shared by an alias, as a person tidies them
JUDGE_ALIASED = edited((JUDGE, "  judge: &judge {model: lenet5, epochs: 20, patience: 5}   # overrides"),
                       (CL_TRAIN, "  train: *judge   # judge cnn"))
# every quality issue cut alike: one setting, aliased
ISSUE_ALIASED = edited(("    dark: {method: auto}", "    dark: &cut {method: auto}"), ("    light: {method: auto}",
                                                                                         "    light: *cut"))
ADVICE = ("so dvc exp run -S would change both or neither, without a word; write its keys out here, or merge them in "
          "with <<: *anchor")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("text, expected", [
    (JUDGE_ALIASED, f"confident_learn.train: the same mapping as represent.judge (a YAML alias), {ADVICE}"),
    (ISSUE_ALIASED, f"threshold.issues.light: the same mapping as threshold.issues.dark (a YAML alias), {ADVICE}"),
], ids=["judge_overrides", "issue_setting"])
def test_a_mapping_aliased_under_two_keys_is_one_line_before_any_stage_works(tmp_path, text, expected):
    # before: accepted, and `dvc exp run -S represent.judge.epochs=3` ran an experiment of 20 epochs, exit 0, while
    # -S confident_learn.train.epochs=3 set represent.judge's epochs to 3 too (DVC merges its edited copy back key by
    # key, the second key's old values last): an edit neither honoured nor refused
    project = make_project(tmp_path / "project", text=text)
    before = files_under(project)
    line = assert_error_line(run_stage(project, "ingest"))
    assert line == f"error: params.yaml: {expected}"
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_a_mapping_a_merge_key_brings_in_nested_is_refused_too(tmp_path):
    # the merged mapping's own keys are its own, but a mapping inside the merged one is still one object under both
    (tmp_path / "params.yaml").write_text("a: &x {inner: {d: 1}, e: 2}\nb:\n  <<: *x\n  e: 3\n")
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "params.yaml")
    assert str(refused.value) == f"params.yaml: b.inner: the same mapping as a.inner (a YAML alias), {ADVICE}"


def test_merge_keys_and_aliases_of_lists_and_numbers_still_pass(tmp_path):
    # each of these DVC's -S sets in one place
    # (test_dvc_sets_a_merged_mapping_alone_and_an_aliased_one_in_both_or_neither)
    text = edited((JUDGE, "  judge: &judge {model: lenet5, epochs: &epochs 20, patience: 5}   # overrides"),
                  (CL_TRAIN, "  train: {<<: *judge, epochs: 30}   # judge cnn"),
                  ("  train: {model: lenet5, epochs: 20, patience: 5}   # judge: overrides",
                   "  train: {model: lenet5, epochs: *epochs, patience: 5}   # judge: overrides"),
                  ("    ops: [shear, translate, rotate, noise, crop]",
                   "    ops: &ops [shear, translate, rotate, crop]"),
                  ("    - [shear, translate, rotate, crop]\n", "    - *ops\n"))
    (tmp_path / "params.yaml").write_text(text)
    params = load(tmp_path / "params.yaml")
    assert params["confident_learn"]["train"] == {"model": "lenet5", "epochs": 30, "patience": 5}
    assert params["embedding_clean"]["train"]["epochs"] == 20
    assert params["augment_search"]["op_sets"][0] == ["shear", "translate", "rotate", "crop"]


# the judges' overrides of JUDGE_ALIASED with the second a merge of the first (its keys its own)
JUDGE_MERGED = JUDGE_ALIASED.replace("  train: *judge   # judge cnn", "  train: {<<: *judge}   # judge cnn")


@pytest.mark.parametrize("text, override, epochs", [
    (JUDGE_ALIASED, "represent.judge.epochs=3", (20, 20)),  # neither
    (JUDGE_ALIASED, "confident_learn.train.epochs=3", (3, 3)),  # both
    (JUDGE_MERGED, "represent.judge.epochs=3", (3, 20)),
    (JUDGE_MERGED, "confident_learn.train.epochs=3", (20, 3)),
], ids=["alias_anchor", "alias_alias", "merge_anchor", "merge_merged"])
def test_dvc_sets_a_merged_mapping_alone_and_an_aliased_one_in_both_or_neither(tmp_path, text, override, epochs):
    # why the alias is refused and the merge key is not: what `dvc exp run -S` writes into params.yaml
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    path.write_text(text)
    apply_overrides(path, [override])
    written = load_yaml(path.read_text(), name="params.yaml")
    assert (written["represent"]["judge"]["epochs"], written["confident_learn"]["train"]["epochs"]) == epochs


def _breaking(edit):
    """A stage's main that reads params.yaml, finds it changed by ``edit`` (its text -> the new text, or None: the
    file removed) meanwhile, and then writes its outputs."""
    def main():
        load_params()
        text = edit(Path("params.yaml").read_text())
        if text is None:
            Path("params.yaml").unlink()
        else:
            Path("params.yaml").write_text(text)
        with together():
            write_text("models/baseline.pt", "weights\n")
    return main


def _weak_by_twice(text: str) -> str:
    """A half-made edit of the gan section (not a param of train@baseline): its weak_by key written twice."""
    return text.replace("gan:\n", "gan:\n  weak_by: count\n", 1)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("edit, why", [
    (_weak_by_twice, "not valid YAML at line {line}: found duplicate key \"weak_by\""),
    (lambda text: "", "it holds no mapping of sections"),
    (lambda text: None, "it is gone"),
], ids=["key_twice_in_another_section", "emptied", "removed"])
def test_params_broken_while_a_stage_runs_say_why_not_which_keys_changed(tmp_path, monkeypatch, capsys, edit, why):
    # before: "params.yaml changed while train@baseline ran: seed, train, balance.policy; ...": keys nobody touched,
    # for a key written twice in the gan section; the refusal itself is right (DVC cannot read the file to lock it)
    project = _train_project(tmp_path, monkeypatch)
    line = _weak_by_twice((project / "params.yaml").read_text()).splitlines().index("  weak_by: f1") + 1
    before = files_under(project)
    assert _refused(_breaking(edit), capsys) == (
        f"error: params.yaml changed while train@baseline ran and cannot be read now ({why.format(line=line)}); its "
        "outputs follow the values it held before; fix it, then run dvc repro again\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("setting", ["    light:   # {method: auto}, off for now", "    light: null"],
                         ids=["value_commented_out", "null"])
def test_a_null_quality_issue_is_one_line_not_an_automatic_cut(tmp_path, setting):
    # before: accepted and read as {method: auto}, so light went on flagging images the filters then dropped, where
    # an issue left out flags nothing (as threshold's warnings advise) and null turns dedup.crop or
    # embedding_clean.isolation off
    project = make_project(tmp_path / "project", text=edited(("    light: {method: auto}", setting)))
    before = files_under(project)
    assert assert_error_line(run_stage(project, "threshold")) == (
        "error: params.yaml: threshold.issues.light: null; to flag nothing leave light out of threshold.issues, for "
        "the automatic cut give {method: auto}")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_an_anchor_given_twice_is_one_line_not_a_warning_and_the_latest(tmp_path):
    # the judge's overrides anchored, and the anchored line pasted as confident_learn's: before, every stage printed
    # ruamel's six-line ReusedAnchorWarning (its source line in site-packages among them) and read on, the
    # embedding-clean judge's merge taking the pasted copy
    text = edited((JUDGE, "  judge: &judge {model: lenet5, epochs: 20, patience: 5}   # overrides"),
                  (CL_TRAIN, "  train: &judge {model: lenet5, epochs: 30, patience: 5}   # judge cnn"),
                  ("  train: {model: lenet5, epochs: 20, patience: 5}   # judge: overrides",
                   "  train: {<<: *judge}   # judge: overrides"))
    lines = text.splitlines()
    first, again = (next(i for i, line in enumerate(lines, 1) if line.startswith(start)) for start in
                    ("  judge: &judge", "  train: &judge"))
    project = make_project(tmp_path / "project", text=text)
    before = files_under(project)
    done = run_stage(project, "ingest")
    assert assert_error_line(done) == (f"error: params.yaml: not valid YAML at line {again}: anchor &judge given "
                                       f"again (first at line {first}), so an alias *judge after it would mean this "
                                       "one; give each anchor its own name")
    assert done.stderr.count("\n") == 1
    assert_nothing_left(project, before)


def _dvc_yaml_anchored(project: Path) -> None:
    """The project's dvc.yaml with each stage's ``src/winnow/errors.py`` dep anchored ``&code``, as a block copied from
    stage to stage, anchor and all: DVC runs it (ruamel's warning on its stderr), each ``*code`` meaning the latest."""
    text = (project / "dvc.yaml").read_text()
    assert text.count("      - src/winnow/errors.py\n") > 1
    (project / "dvc.yaml").write_text(text.replace("      - src/winnow/errors.py\n",
                                                   "      - &code src/winnow/errors.py\n"))


@pytest.mark.hostile("params")
def test_a_dvc_yaml_with_an_anchor_given_twice_is_read_as_dvc_reads_it(tmp_path, monkeypatch, capsys):
    # before: the anchor refusal meant for params.yaml made dvc.yaml unreadable to the check of params edited
    # meanwhile, which then compared every key of the file under the name stages/train.py: an edit to gan.per_class,
    # not a param of train@baseline, stopped it ("params.yaml changed while stages/train.py ran: gan.per_class")
    from test_hostile_params import TRAIN_OUTPUTS, _editing

    project = _train_project(tmp_path, monkeypatch)
    _dvc_yaml_anchored(project)
    before = files_under(project)
    assert _passed(_editing("gan.per_class", 7), capsys, project, before) == ("", TRAIN_OUTPUTS)
    (project / "models/baseline.pt").unlink()
    (project / "metrics/train/baseline.json").unlink()
    assert _refused(_editing("train.epochs", 3), capsys) == (
        "error: params.yaml changed while train@baseline ran: train.epochs; its outputs follow the old values; run dvc "
        "repro again\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("params")
def test_an_anchor_given_twice_in_another_stages_params_while_a_stage_runs_passes(tmp_path, monkeypatch, capsys):
    # gan.train's values anchored alike meanwhile: DVC locks train@baseline's keys as they were (the next stage to
    # read params.yaml refuses it); before, "cannot be read now (not valid YAML at line 261: anchor &g given again ...)"
    project = _train_project(tmp_path, monkeypatch)
    before = files_under(project)
    def edit(text: str) -> str:
        return text.replace("    lr_d: 0.0004", "    lr_d: &g 0.0004").replace("    beta1: 0.5", "    beta1: &g 0.5")

    assert _passed(_breaking(edit), capsys, project, before) == ("", {"models/baseline.pt"})


def test_dvc_files_are_read_with_an_anchor_given_twice_meaning_the_latest_as_dvc_reads_them():
    # before: refused, so the gate read such a dvc.yaml as one it cannot read (stage names None) and left out its
    # check that dvc.lock has an entry for each target dvc.yaml defines
    from winnow.lock_entries import dvc_yaml_stages

    pipeline = "stages:\n  a:\n    cmd: x\n    deps: [&code x.py]\n  b:\n    cmd: y\n    deps: [&code y.py, *code]\n"
    assert dvc_yaml_stages(pipeline) == ({"a", "b"}, set())
    # the latest &code, as DVC reads it (`dvc stage list`: b depends on y.py, y.py)
    assert load_yaml(pipeline, name="dvc.yaml")["stages"]["b"]["deps"] == ["y.py", "y.py"]
    with pytest.raises(WinnowError) as refused:  # params.yaml's reader still refuses it
        load_yaml(pipeline, name="params.yaml", anchors_once=True)
    assert str(refused.value) == ("params.yaml: not valid YAML at line 7: anchor &code given again (first at line 4), "
                                  "so an alias *code after it would mean this one; give each anchor its own name")
