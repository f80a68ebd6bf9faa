"""Hostile use of the ``winnow`` command (probes, stop 68): an empty ``--from-json``, an unknown option beside a
missing required one. Each case calls the command in-process and asserts the one line a user sees."""

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
], ids=["gate", "review", "only-missing"])
def test_an_unknown_option_is_named_before_a_missing_required_one(capsys, args, expected):
    # before: `winnow gate --bogus` said "the following arguments are required: --base"; given --base, the user was
    # then told --bogus is unknown, one mistake a run
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert (stopped.value.code, capsys.readouterr().err) == (2, expected + "\n")
