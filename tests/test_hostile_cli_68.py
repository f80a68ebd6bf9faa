"""Hostile cases of the winnow command's options (a probe's findings, stop 68): each asserts the line a user gets."""

import pytest

from winnow.cli import main


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("command, given", [(["compare"], ""), (["study", "collect"], " ")])
def test_an_empty_from_json_is_a_usage_mistake_not_the_current_folder(tmp_path, monkeypatch, capsys, command, given):
    # found by probing: `--from-json ''` (an unset shell variable: --from-json "$SAVED") read the current folder and
    # said "error: --from-json: . is a folder, not a file (write it with `dvc exp show --json > .`)"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--from-json", given])
    prog = " ".join(["winnow", *command])
    assert (stopped.value.code, capsys.readouterr()) == (2, ("", f"error: {prog}: argument --from-json: {given!r} is "
                                                             "no file to read; give a saved `dvc exp show --json`, or - "
                                                             f"to read standard input (see {prog} --help)\n"))
    assert list(tmp_path.iterdir()) == []
