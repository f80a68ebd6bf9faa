"""Hostile use of the command line and params.yaml (probe 77): what a careless user types. Each case calls the command
or the params check in-process and asserts the one line a user sees, and that nothing was left behind.

- ``winnow study queue`` on a params.yaml whose degrade section leaves out ``enabled`` or ``perturbations`` (valid:
  the degrade stage reads its defaults): each ``dvc exp run --queue -S degrade.enabled=true`` failed on DVC's "Could
  not override 'degrade.enabled'. To append to your config use +degrade.enabled=true", an override study queue does
  not take, and ``--dry-run`` printed those commands, exit 0;
- ``winnow study collect --axis`` with a list index in a digit Python's ``isdigit`` takes and ``int`` refuses
  (``degrade.perturbations.².fraction``), or a key of two minus signs (``degrade.--1``): a ValueError traceback;
- a comment glued to its value in params.yaml (``epochs: 20# more is slower``, no space before the #), which YAML reads
  as part of the value: refused as "a string, not an integer", the # that made it one not named;
- ``winnow study collect --out results/study.csv`` (a file named where the option takes a folder): wrote
  results/study.csv/study.csv and the PNGs beside it, exit 0;
- a very long list whose items must differ (``ingest.classes`` of 20,000 names, an npz of many classes): each item was
  compared with every one before it, 6 s in every stage's params check (the count of comparisons is asserted);
- a share or percentile written as a percentage (``val_fraction: 15%``, ``light_percentile: 75%``): "is a string, not a
  number in [0, 1)", the % not named, nor the number meant;
- ``None`` (Python's) where null is allowed: text to YAML, so ``ingest.trusted_path: None`` passed the check and ingest
  refused "ingest.trusted_path: None does not exist; give a folder ...", as if null were a path not found; a number's
  ``patience: none`` was "a string, not null or an integer";
- a key indented with no-break spaces (a YAML block copied from a web page) or an ideographic space: "not valid YAML at
  line 230: expected <block end>, but found '<block mapping start>'", two lines below it, the space no editor shows not
  named; a control character (a NUL, a terminal's colour escape pasted in): "... in "<unicode string>", position 5123",
  a character offset, and no line.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest

from hostile_harness import ROOT, assert_nothing_left, files_under, params_with
from test_hostile_cli_64 import _run
from winnow import cli, params
from winnow.errors import WinnowError


def _without_lines(pattern: str) -> str:
    """The project's params.yaml without the lines that match ``pattern``."""
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines(keepends=True) if not re.match(pattern, line)]
    assert len(kept) < len(text.splitlines())
    return "".join(kept)


@pytest.mark.hostile("study")
@pytest.mark.parametrize("left_out, expected", [
    (r"  enabled: true ", "params.yaml holds no degrade.enabled, which each experiment sets with dvc exp run -S, and "
                          "-S sets only keys the file holds; write enabled: true under degrade (the degrade stage's "
                          "default: dvc repro runs as before)"),
    (r"  (enabled: true |perturbations:|  - \{kind)",
     "params.yaml holds no degrade.enabled and degrade.perturbations, which each experiment sets with dvc exp run -S, "
     "and -S sets only keys the file holds; write enabled: true, perturbations: [] under degrade (the degrade stage's "
     "defaults: dvc repro runs as before)"),
], ids=["enabled", "both"])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["queue", "dry-run"])
def test_study_queue_refuses_a_degrade_key_its_experiments_set_but_params_yaml_lacks(tmp_path, monkeypatch, capsys,
                                                                                      left_out, expected, dry_run):
    # before: `dvc exp run --queue -S degrade.enabled=true ...` failed with status 255 for each experiment ("Invalid
    # `--set-param` value: Could not override 'degrade.enabled'. To append to your config use +degrade.enabled=true"),
    # and --dry-run printed those commands, exit 0
    (tmp_path / "params.yaml").write_text(_without_lines(left_out), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    assert cli.main(["study", "queue", "--sweeps", "clean", *dry_run]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"error: study queue: {expected}\n")
    assert_nothing_left(tmp_path, before)


def _saved_study(folder):
    """A project folder holding dvc.yaml and exps.json, a saved `dvc exp show --json` of a clean run and one of noise."""
    shutil.copy(ROOT / "dvc.yaml", folder / "dvc.yaml")
    base = _run("main", [{"kind": "blur", "fraction": 0.04, "kernel": 5}], 0.8)
    base["experiments"] = [{"revs": [run], "executor": None, "name": run["name"]} for run in
                           (_run("clean", [], 0.95), _run("noise20", [{"kind": "symmetric_noise", "fraction": 0.2}], 0.85))]
    (folder / "exps.json").write_text(json.dumps([base]), encoding="utf-8")


@pytest.mark.hostile("cli")
@pytest.mark.parametrize("axis", ["degrade.perturbations.\u00b2.fraction", "degrade.--1"], ids=["superscript", "minus"])
def test_study_collect_refuses_an_axis_with_an_index_no_list_takes_in_one_line(tmp_path, monkeypatch, capsys, axis):
    # before: ValueError: invalid literal for int() with base 10: '²' (or '--1'), a traceback from params_compared.lookup
    _saved_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    assert cli.main(["study", "collect", "--from-json", "exps.json", "--axis", axis]) == 1
    assert capsys.readouterr().err == (
        f"error: study collect --axis {axis}: no experiment holds a number there (a mistyped key, or a list index past "
        "the end); give the dotted params path of the value the runs vary, e.g. degrade.perturbations.0.fraction\n")
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("line, glued, expected", [
    ("  epochs: 20 ", "  epochs: 20# more is slower\n",
     'train.epochs: "20# more is slower" is one string: YAML starts a comment at a # only after a space, so the comment '
     "is read as part of the value; put a space before the # (20 #...)"),
    ("  optimizer: adam ", "  optimizer: adam# or sgd\n",
     'train.optimizer: "adam# or sgd" is one string: YAML starts a comment at a # only after a space, so the comment is '
     "read as part of the value; put a space before the # (adam #...)"),
    ("  hflip: false ", "  hflip: false# digits\n",
     'train.hflip: "false# digits" is one string: YAML starts a comment at a # only after a space, so the comment is '
     "read as part of the value; put a space before the # (false #...)"),
], ids=["number", "choice", "boolean"])
def test_a_comment_glued_to_its_value_is_named_as_the_cause(tmp_path, line, glued, expected):
    # before: 'train.epochs: "20# more is slower" is a string, not an integer in [1, 1000]', and the same "is not one
    # of" / "is not true or false" for the others: the # that made the value a string was not named
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    lines = (ROOT / "params.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    at = [i for i, text in enumerate(lines) if text.startswith(line)]
    assert len(at) == 1
    lines[at[0]] = glued
    (tmp_path / "params.yaml").write_text("".join(lines), encoding="utf-8")
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        params.load(tmp_path / "params.yaml")
    assert str(refused.value) == f"params.yaml: {expected}"
    assert_nothing_left(tmp_path, before)


@pytest.mark.hostile("params")
def test_a_value_that_fits_nothing_before_its_glued_comment_keeps_its_own_refusal(tmp_path):
    # the hint is given only where the text before the # fits: here it would be refused too
    with pytest.raises(WinnowError) as refused:
        params.validate(params_with("train.epochs", "2000# more"))
    assert str(refused.value) == 'params.yaml: train.epochs: "2000# more" is a string, not an integer in [1, 1000]'


@pytest.mark.hostile("cli")
@pytest.mark.parametrize("out, folder", [("results/study.csv", "results"), ("accuracy.PNG", ".")])
def test_study_collect_refuses_an_out_that_names_a_file(tmp_path, monkeypatch, capsys, out, folder):
    # before: --out results/study.csv wrote results/study.csv/study.csv, results/study.csv/accuracy.png, ..., exit 0
    _saved_study(tmp_path)
    monkeypatch.chdir(tmp_path)
    before = files_under(tmp_path)
    assert cli.main(["study", "collect", "--from-json", "exps.json", "--out", out]) == 1
    assert capsys.readouterr().err == (
        f"error: study collect --out {out}: names a file, but --out is the folder study.csv and the PNGs are written "
        f"into; give a folder, e.g. --out {folder}\n")
    assert_nothing_left(tmp_path, before)


class _Counted(str):
    """A class name that counts the comparisons made with it."""

    compared = 0
    __hash__ = str.__hash__

    def __eq__(self, other):
        _Counted.compared += 1
        return str.__eq__(self, other)


@pytest.mark.hostile("params")
def test_a_long_list_of_distinct_items_is_checked_without_comparing_every_pair():
    # before: 20,000 distinct class names took 6 s, 2 * 10**8 comparisons, in the params check every stage runs
    names = [_Counted(f"class_{i}") for i in range(2000)]
    _Counted.compared = 0
    params.SCHEMA.fields["ingest"].fields["classes"].check(names, "ingest.classes")
    assert _Counted.compared < len(names)  # pairwise: 1,999,000


@pytest.mark.hostile("params")
@pytest.mark.parametrize("value, expected", [
    (["a", "b", "a"], 'params.yaml: ingest.classes[2]: "a" is listed twice'),
    ([[1], [2], [1]], "params.yaml: ingest.classes[2]: [1] is listed twice"),
], ids=["names", "lists"])
def test_an_item_listed_twice_in_a_long_list_is_still_named(value, expected):
    from winnow.param_rules import ListOf, Rule

    class Anything(Rule):
        def verify(self, value, path):
            pass

    with pytest.raises(WinnowError) as refused:
        ListOf(Anything(), unique=True).check(value, "ingest.classes")
    assert str(refused.value) == expected


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path, value, expected", [
    ("ingest.val_fraction", "15%", '"15%" is a string, not a number in [0, 1) (write 0.15, a number without the %)'),
    ("gate.alpha", "5 %", '"5 %" is a string, not a number in [0.0001, 1) (write 0.05, a number without the %)'),
    ("score.light_percentile", "75%", '"75%" is a string, not a number in [0, 100] (write 75, a number without the %)'),
    ("budget.tie_se", "10%", '"10%" is a string, not a number >= 0 (write a number, without the %)'),
], ids=["share", "share-spaced", "percentile", "unbounded"])
def test_a_percentage_names_the_number_meant(path, value, expected):
    # before: '"15%" is a string, not a number in [0, 1)', and nothing said that the % made it one, nor which number
    # the parameter takes (a share of 1: 0.15; a percentile: 75)
    with pytest.raises(WinnowError) as refused:
        params.validate(params_with(path, value))
    assert str(refused.value) == f"params.yaml: {path}: {expected}"


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path, value, named", [
    ("ingest.trusted_path", "None", ", or ./None for a file or folder of that name"), ("compute.ray.address", "None", ""),
    ("train.patience", "none", ""),
], ids=["path", "address", "number"])
def test_pythons_none_where_null_is_allowed_is_told_to_be_null(path, value, named):
    # before: the two texts passed (ingest then refused "ingest.trusted_path: None does not exist; give a folder
    # root/<class>/<image files> or an .npz ...", and under engine ray a cluster at "None" was looked for), and
    # patience was '"none" is a string, not null or an integer >= 1'
    with pytest.raises(WinnowError) as refused:
        params.validate(params_with(path, value))
    assert str(refused.value) == (f'params.yaml: {path}: "{value}" is text to YAML, not null (Python\'s None); write null '
                                  f'or ~{named}')


@pytest.mark.hostile("params")
def test_a_folder_named_none_can_still_be_given():
    params.validate(params_with("ingest.trusted_path", "./None"))  # refused, it would raise


def _refusal_of_text(tmp_path, text: str) -> str:
    """The line params.load refuses a params.yaml of ``text`` with; nothing is left in the project."""
    (tmp_path / "params.yaml").write_text(text, encoding="utf-8", newline="")
    before = files_under(tmp_path)
    with pytest.raises(WinnowError) as refused:
        params.load(tmp_path / "params.yaml")
    assert_nothing_left(tmp_path, before)
    return str(refused.value)


@pytest.mark.hostile("params")
@pytest.mark.parametrize("space, named", [("\u00a0\u00a0", "\\u00a0, NO-BREAK SPACE"),
                                          ("\u3000", "\\u3000, IDEOGRAPHIC SPACE")], ids=["no-break", "ideographic"])
def test_a_key_indented_with_a_space_yaml_does_not_read_names_it(tmp_path, space, named):
    # before: "params.yaml: not valid YAML at line 5: mapping values are not allowed here", and nothing of the space on
    # line 4 that looks like two
    text = f"seed: 0\ntrain:\n  model: lenet5\n{space}epochs: 20\n  patience: 5\n"
    assert _refusal_of_text(tmp_path, text) == (
        f"params.yaml: not valid YAML at line 5: mapping values are not allowed here (line 4 holds {named}, where YAML "
        "reads only a space or a tab; type a space there)")


@pytest.mark.hostile("params")
@pytest.mark.parametrize("pasted, named, newline", [("\x1b[0m", "\\u001b", "\n"), ("\x00", "\\u0000", "\r")],
                         ids=["escape", "nul-after-lone-CRs"])
def test_a_control_character_is_refused_at_its_line(tmp_path, pasted, named, newline):
    # before: 'not valid YAML: unacceptable character #x001b: special characters are not allowed in "<unicode string>",
    # position 42', an offset no editor shows
    text = newline.join(["seed: 0", "train:", "  model: lenet5", f"  epochs: 20{pasted}", "  patience: 5", ""])
    assert _refusal_of_text(tmp_path, text) == (
        f"params.yaml: not valid YAML at line 4: it holds {named}, a control character YAML does not allow; delete it")
