"""Hostile review cases of the third probe (stop 64): a reviewed queue a spreadsheet saved in another form, which
the export that would overwrite it could not read. Run in-process on the hand-written project of
review_project.py (no export, no training), so each case costs a fraction of a second."""

import pytest

from review_project import write_project
from test_hostile_faults_65 import _permissions_bind
from test_hostile_faults_more import shared_tmp  # noqa: F401 (fixture)
from winnow import review_page  # noqa: F401 (export's lazy import, done here: as nobody, root's Python is unread)
from winnow.cli import main as winnow
from winnow.review import QUEUE_COLUMNS


@pytest.mark.hostile("review")
@pytest.mark.parametrize("separator, encoding, why", [
    # (a spreadsheet's semicolons are read as import reads them since stop 79: test_hostile_lsreview_79.py)
    # saved as "CSV" in the Windows code page: the reason's dash is byte 0x96
    (",", "cp1252", "not readable as UTF-8 text ('utf-8' codec can't decode byte 0x96 in position {dash}: invalid "
                    "start byte)"),
])
def test_an_export_over_a_queue_a_spreadsheet_saved_in_another_form_keeps_its_verdicts(
        tmp_path, monkeypatch, capsys, separator, encoding, why):
    # before: the export took such a queue for none it could have written and overwrote it, exit 0: the person's
    # verdict (reject train-04's relabel) was lost without a word
    root = write_project(tmp_path)
    (root / "reviews").mkdir()
    row = ["train-04", "label", "reviews/thumbs/x.png", "dog", "owl", "relabel", "relabel", "label_issue – seen",
           "0.9", "confident_learn", "", "58f03c5b40b20c8e", "reject"]
    text = "\n".join(separator.join(fields) for fields in (QUEUE_COLUMNS, row)) + "\n"
    (root / "reviews/queue.csv").write_bytes(text.encode(encoding))
    monkeypatch.chdir(root)
    assert winnow(["review", "export"]) == 1
    assert capsys.readouterr().err == (
        f"error: reviews/queue.csv: not readable as the exported queue ({why.format(dash=text.index('–'))}), so whether it holds verdicts not "
        "imported cannot be told, and a new export would overwrite it; save it as comma-separated UTF-8 CSV and import "
        "it (winnow review import reviews/queue.csv), or delete it to discard its verdicts\n")
    assert (root / "reviews/queue.csv").read_bytes() == text.encode(encoding)
    assert sorted(p.name for p in (root / "reviews").iterdir()) == ["queue.csv"]


@pytest.mark.hostile("review")
def test_an_export_over_a_header_only_queue_of_another_form_is_not_refused(tmp_path):
    # a queue a spreadsheet saved with no row holds no verdict: nothing to keep, so the export may replace it
    from winnow.unimported_verdicts import refuse_unimported_verdicts

    queue = tmp_path / "queue.csv"
    queue.write_text(";".join(QUEUE_COLUMNS) + "\n")
    assert refuse_unimported_verdicts(queue, ["cat", "dog", "owl"]) is None


@pytest.mark.hostile("review")
def test_the_report_counts_as_a_persons_own_class_only_the_class_chosen_over_the_suggestion():
    # before: four verdicts that relabelled three images (two accepted suggestions, one class of the person's own)
    # read "1 given another label by a person" on the page, as if one image had been relabelled in review
    import pandas as pd

    from winnow.report_versions import review_line
    from winnow.verdicts import apply_verdicts

    baseline = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [0, 0, 1, 1]})
    kept = baseline.assign(action="keep", reason="", stage="")  # pruned changed none of them
    verdicts = pd.DataFrame({"id": ["a", "b", "c", "d"], "verdict": ["accept", "accept", "relabel", "reject"],
                             "label": [1, 2, 2, 1]})
    rows, counts = apply_verdicts(kept, verdicts, baseline=baseline)
    assert rows["action"].tolist() == ["relabel", "relabel", "relabel", "keep"]
    assert review_line(counts, path="metrics/variants.json") == (
        "<p>People reviewed <b>4</b> decisions: 1 confirmed, 3 overruled; 1 relabelled to a class the person chose "
        "instead of the suggestion.</p>")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("text, encoding", [
    # Excel's Unicode text: UTF-16 with tabs, whose last line break leaves a NUL on a line of its own
    ("\t".join(QUEUE_COLUMNS) + "\r\n", "utf-16"),
    # a spreadsheet's semicolon CSV of a queue whose rows were emptied: a line of separators each
    (";".join(QUEUE_COLUMNS) + "\n" + ";" * (len(QUEUE_COLUMNS) - 1) + "\n", "utf-8"),
])
def test_an_export_over_a_queue_of_another_form_without_a_row_replaces_it(tmp_path, monkeypatch, text, encoding):
    # before: the NUL and the separators counted as rows, and the export was refused, though no verdict was there
    root = write_project(tmp_path)
    (root / "reviews").mkdir()
    (root / "reviews/queue.csv").write_bytes(text.encode(encoding))
    monkeypatch.chdir(root)
    assert winnow(["review", "export"]) == 0
    assert (root / "reviews/queue.csv").read_text().splitlines()[0] == ",".join(QUEUE_COLUMNS)


@pytest.mark.hostile("interrupted")
def test_an_export_in_a_project_folder_that_takes_no_new_file_is_refused_before_its_work(shared_tmp, monkeypatch,
                                                                                           capsys):
    # a checkout mounted read-only with reviews/ writable: the export's files land as one, their moves listed first in
    # a journal in the project folder. Before, it drew every thumbnail, then ended "error: review: .winnow-commit-
    # <pid>-<token>.json.part: Permission denied [EACCES]; ...", a file the user never heard of
    root = write_project(shared_tmp / "project")
    (root / "reviews").mkdir()
    monkeypatch.chdir(root)
    with _permissions_bind(shared_tmp):
        root.chmod(0o555)
        status = winnow(["review", "export"])
    assert (status, capsys.readouterr()) == (1, ("", (
        f"error: review export: cannot write in the working folder {root} (Permission denied), where the command lists "
        "its outputs' moves into place before it makes them; fix its permissions, or run it from a folder you can "
        "write in\n")))
    assert list((root / "reviews").iterdir()) == []
