"""Hostile outputs of the 75th stop's probe: the journal of a killed run's output moves, as the next stage finds it.

- a journal an older winnow wrote (each move its three absolute paths, no identities), left by a commit killed
  between an output's two renames: left alone without a word, and the sweep then removed the output set aside and
  its new temporary, so the output was lost, neither old nor new, and the journal stayed for good; now the stage
  refuses in one line before anything is finished or swept, and once its advice is followed the next run sweeps;
- a journal that names, as a move's temporary, a file that is none (``params.yaml``; a damaged or hand-edited
  journal): the commit was dropped and that file removed; now refused in the same line, the file kept.

Each runs a stage's ``run`` in this process on a main that only records it ran, in a folder holding the journal, and
asserts the one line whole and every file left as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from winnow.stage import run


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run_stage(monkeypatch) -> list[bool]:
    """``run`` of a stage whose main records that it ran; the list it appended to."""
    worked: list[bool] = []
    monkeypatch.setattr("sys.argv", ["stages/threshold.py"])
    run(lambda: worked.append(True))
    return worked


@pytest.mark.hostile("interrupted")
def test_a_journal_of_an_older_winnow_is_refused_and_what_it_set_aside_kept(tmp_path, monkeypatch, capsys):
    # before: no word, the sweep removed data/.a.winnow-old-999999.txt and data/.a.winnow-tmp-999999.txt ("removed 2
    # temporary file(s) left by killed runs"), data/a.txt was gone, and the journal stayed
    (tmp_path / "data").mkdir()
    (tmp_path / "data/.a.winnow-old-999999.txt").write_text("old a")  # set aside; its new copy not yet in place
    (tmp_path / "data/.a.winnow-tmp-999999.txt").write_text("new a")
    (tmp_path / "data/b.txt").write_text("b")
    # the journal as winnow wrote it before identities were recorded (commit 10d8bcf8)
    (tmp_path / ".winnow-commit-999999.json").write_text(json.dumps({"direction": "forward", "moves": [[
        str(tmp_path / "data/a.txt"), str(tmp_path / "data/.a.winnow-tmp-999999.txt"),
        str(tmp_path / "data/.a.winnow-old-999999.txt")]]}))
    before = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ended:
        _run_stage(monkeypatch)
    assert (ended.value.code, capsys.readouterr()) == (1, ("", (
        "error: .winnow-commit-999999.json: a killed run's record of its output moves, which cannot be read (an older "
        "winnow's, whose moves name no identities); its outputs may be half moved, so nothing was finished or swept: "
        "run `dvc checkout --force` to put back the outputs dvc.lock records, then delete .winnow-commit-999999.json "
        "and rerun\n")))
    assert _files(tmp_path) == before
    # the advice followed (here by hand: the output put back, as dvc checkout --force does), the stage runs and sweeps
    (tmp_path / "data/a.txt").write_text("old a")
    (tmp_path / ".winnow-commit-999999.json").unlink()
    assert _run_stage(monkeypatch) == [True]
    assert _files(tmp_path) == {"data/a.txt": "old a", "data/b.txt": "b"}


@pytest.mark.hostile("interrupted")
def test_a_journal_naming_a_file_that_is_no_temporary_is_refused_and_the_file_kept(tmp_path, monkeypatch, capsys):
    # before: "left 1 output(s) of a killed run as they are, since written anew: data/a.txt", and params.yaml, named
    # as the move's temporary, was removed
    (tmp_path / "params.yaml").write_text("seed: 0\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.txt").write_text("a")
    (tmp_path / ".winnow-commit-999999-abcd1234.json").write_text(json.dumps({"direction": "forward", "moves": [
        ["data/a.txt", "params.yaml", "data/.a.winnow-old-999999.txt", [0, 0, 0, 0], None]]}))
    before = _files(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ended:
        _run_stage(monkeypatch)
    assert (ended.value.code, capsys.readouterr()) == (1, ("", (
        "error: .winnow-commit-999999-abcd1234.json: a killed run's record of its output moves, which cannot be read "
        "(params.yaml is not a temporary of data/a.txt); its outputs may be half moved, so nothing was finished or "
        "swept: run `dvc checkout --force` to put back the outputs dvc.lock records, then delete "
        ".winnow-commit-999999-abcd1234.json and rerun\n")))
    assert _files(tmp_path) == before
