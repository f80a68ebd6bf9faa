"""Hostile review cases of the fourth probe (stop 65): a person's verdicts file a spreadsheet saved. Run in-process
on the hand-written project of review_project.py (no export, no training), so each case costs a fraction of a
second."""

import pandas as pd
import pytest

from review_project import digest, write_project
from winnow.errors import WinnowError
from winnow.variants import baseline_rows
from winnow.verdicts import read_verdicts


@pytest.mark.hostile("review")
def test_a_verdicts_file_whose_class_list_key_a_spreadsheet_made_a_number_is_not_called_a_change_of_classes(
        tmp_path):
    # before: "the data set's classes changed since the review (class list '3.1E+13' then ...): export and review
    # again", false (the classes are the same) and advice that threw the person's verdicts away
    root = write_project(tmp_path)
    path = root / "reviews/verdicts.csv"
    path.parent.mkdir()
    path.write_text("id,verdict,label,suggested,given,digest,classes\n"
                    f"train-05,relabel,2,0,1,{digest(root, 'train-05')},3.1E+13\n")
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    with pytest.raises(WinnowError) as refused:  # what the variants stage and `winnow review import` read first
        read_verdicts(path, baseline=baseline_rows(manifest), digests=manifest.set_index("id")["digest"],
                      classes=["cat", "dog", "owl"])
    assert str(refused.value) == (
        f"{path}: line 2 (id 'train-05'): classes '3.1E+13' is no class list key (12 hex digits, as written): a "
        "spreadsheet may have read it as a number; restore the file from git and edit it as text, or import the "
        "reviewed file again with `winnow review import --replace FILE`")
