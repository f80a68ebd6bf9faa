"""The report's duplicate note, found in review of stop 69: dedup marks a train copy of a trusted image a leak, as
it does one of a val or test image, and the note says so."""

from __future__ import annotations

import pandas as pd
import pytest

from test_hostile_report_more import plain, tiny_imageset
from winnow.report_grids import duplicates_section


@pytest.mark.hostile("report")
def test_the_duplicate_note_names_a_train_copy_of_a_trusted_image_among_those_always_dropped(tmp_path):
    # found in review of 984a5ae1: review import's line came to name a train copy of a trusted image, which dedup
    # marks 'leak' and pruned always drops, but the report's note under the groups still said "a train copy of a
    # val or test image is dropped whatever they decide", where the project's only leak was of a trusted image
    groups = pd.DataFrame({"id": ["t0", "t1", "t2", "t3"], "split": ["trusted", "train", "train", "train"],
                           "label": [0, 0, 1, 1], "group": [0, 0, 1, 1], "group_size": 2,
                           "kept": [True, False, True, False], "reason": ["eval_copy", "leak", "kept", "near_duplicate"],
                           "label_conflict": False})
    text = plain(duplicates_section(groups=groups, summary={"images": 4, "groups": 2}, imageset=tiny_imageset(tmp_path),
                                    count=4, applied=1))
    assert ("dedup marks 2 train image(s) to remove; the pruned variant drops 1 of them (data/variants/pruned/"
            "rows.parquet): the cleaning budget and a person's verdicts decide what pruned drops, and a train copy of "
            "a val, test or trusted image is dropped whatever they decide. |") in text
