"""Hostile use of the ``winnow`` command (probes, stop 68): an empty ``--from-json`` or list option's name, an
unknown option beside a missing required one. Each case calls the command in-process and asserts the one line a user sees."""

import pytest

from winnow import cli


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("command, given", [(["compare"], ""), (["study", "collect"], " ")])
def test_an_empty_from_json_is_a_usage_mistake_not_the_current_folder(tmp_path, monkeypatch, capsys, command, given):
    # found by probing: `--from-json ''` (an unset shell variable: --from-json "$SAVED") read the current folder and
    # said "error: --from-json: . is a folder, not a file (write it with `dvc exp show --json > .`)"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        cli.main([*command, "--from-json", given])
    prog = " ".join(["winnow", *command])
    assert (stopped.value.code, capsys.readouterr()) == (2, ("", f"error: {prog}: argument --from-json: {given!r} is "
                                                             "no file to read; give a saved `dvc exp show --json`, or - "
                                                             f"to read standard input (see {prog} --help)\n"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.hostile("gate")
@pytest.mark.parametrize(("args", "expected"), [
    (["gate", "--bogus"], "error: winnow gate: unrecognized arguments: --bogus (see winnow gate --help)"),
    (["review", "--bogus"], "error: winnow review: unrecognized arguments: --bogus (see winnow review --help)"),
    # nothing unknown: the missing one is still named
    (["gate"], "error: winnow gate: the following arguments are required: --base (see winnow gate --help)"),
    # a known option beside the missing one: on Python 3.13 the deferred refusal once named it unknown ("unrecognized
    # arguments: --all"), as argparse there raises and hands back every argument
    (["gate", "--all"], "error: winnow gate: the following arguments are required: --base (see winnow gate --help)"),
    (["review", "import"], "error: winnow review import: the following arguments are required: file (see winnow "
                           "review import --help)"),
], ids=["gate", "review", "only-missing", "known-option-beside-missing", "missing-positional"])
def test_an_unknown_option_is_named_before_a_missing_required_one(capsys, args, expected):
    # before: `winnow gate --bogus` said "the following arguments are required: --base"; given --base, the user was
    # then told --bogus is unknown, one mistake a run
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert (stopped.value.code, capsys.readouterr().err) == (2, expected + "\n")


@pytest.mark.parametrize("command, option, what", [
    pytest.param(["gate"], "--base", "revision", marks=pytest.mark.hostile("gate")),
    pytest.param(["gate", "--base", "main"], "--target", "revision", marks=pytest.mark.hostile("gate")),
    pytest.param(["gate", "--base", "main"], "--variants", "variant", marks=pytest.mark.hostile("gate")),
    pytest.param(["compare"], "--variants", "variant", marks=pytest.mark.hostile("compare")),
    pytest.param(["study", "queue", "--dry-run"], "--classes", "class name", marks=pytest.mark.hostile("compare")),
])
def test_an_empty_name_in_a_list_option_is_a_usage_mistake(tmp_path, monkeypatch, capsys, command, option, what):
    # found by probing: `--base "$BASE"` with BASE unset said "error: --base : unknown revision", compare's
    # `--variants ''` "no run has metrics for  (metrics/evaluate/.json)", and study queue's `--classes ''` before
    # ingest queued (or printed) the deletion of a class named ""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        cli.main([*command, option, "baseline", ""])
    prog = " ".join(["winnow", *[word for word in command if not word.startswith("-") and word != "main"]])
    assert (stopped.value.code, capsys.readouterr()) == (2, ("", f"error: {prog}: argument {option}: '' is no {what}; "
                                                             f"give one (an unset shell variable?) (see {prog} --help)\n"))
    assert list(tmp_path.iterdir()) == []
