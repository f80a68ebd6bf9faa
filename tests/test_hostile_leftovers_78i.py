"""Leftovers of the stop-78 review (rev9) of the module splits, test trims and report wording commits:

- the report's cleaners' table and the note beside it (an image counted in more than one row) split every decision's
  reason anew, about 9 s each at a million decisions of a few reasons: each distinct reason is read once now.
"""


def test_the_cleaners_table_and_its_note_read_each_reason_once_not_once_a_row(monkeypatch):
    import pandas as pd

    from winnow import report_summary

    # before: both the table and fb655510's note split every row's reason anew, ~9 s each at a million decisions
    # (a few reasons, repeated), so the report stage sat twenty seconds on one table
    read, tokens = [], report_summary.reason_tokens
    monkeypatch.setattr(report_summary, "reason_tokens", lambda reason: read.append(reason) or tokens(reason))
    report_summary._row_kinds.cache_clear()
    decisions = pd.DataFrame({"id": [f"i{k}" for k in range(300)], "stage": "threshold", "action": "drop",
                              "reason": ["dark+grayscale", "odd_size", "near_duplicate"] * 100, "given": [0, 1] * 150})
    table = report_summary._cleaner_counts(decisions, classes=["a", "b"])
    note = report_summary._several_rows_note(decisions)
    assert sorted(read) == ["dark+grayscale", "near_duplicate", "odd_size"]
    assert table["all"].to_dict() == {"threshold · removed · dark": 100, "threshold · removed · grayscale": 100,
                                      "threshold · removed · near_duplicate": 100, "threshold · removed · odd_size": 100}
    assert note.startswith('<p class="note">100 image(s) count in more than one row, once for each cleaner and reason')
