"""A new user's first hour with their own photos, stop 78: what the report, the review page and the stages said on
a folder of 158 generated colour photos (3 classes, near-copies, mislabelled, black and thumbnail images) run as the
README tells a user with their own data. Each case calls the stage's function on tiny data."""

import pandas as pd
import pytest

from test_hostile_report_more import plain, tiny_imageset
from winnow.report_grids import neighbours_section
from winnow.review_page import review_page


@pytest.mark.hostile("report")
def test_a_blocked_relabel_in_the_neighbour_grid_names_the_class_the_neighbours_agree_on(tmp_path):
    # found on the photos: embedding-clean's relabel of a sky photo filed under grass became a drop (too few val
    # relabels to trust one), and its caption read "neighbours_agree:2; untrusted_relabel (...)": class number 2
    # where the data set names its classes; reason_text read the whole reason as one token
    rounds = pd.DataFrame({"id": ["t0", "t1"], "round": 1, "decision": ["drop", "keep"],
                           "reason": ["neighbours_agree:1; untrusted_relabel (too few val relabels)", "consistent"],
                           "agreement": 1.0, "given_label": [0, 1], "suggested_label": [0, 1]})
    text = plain(neighbours_section(rounds=rounds, summary={}, imageset=tiny_imageset(tmp_path), count=4))
    assert 'a · drop | 100% agree · neighbours agree on "b"; untrusted_relabel (too few val relabels)' in text
    assert "neighbours_agree:1" not in text


@pytest.mark.hostile("review")
def test_the_review_page_names_the_class_a_label_reason_points_at():
    # the same photo on reviews/index.html: "grass · judge: sky" above "neighbours_agree:2; untrusted_relabel (...)"
    queue = pd.DataFrame([{"id": "grass/mis.png", "kind": "label", "image": "thumbs/x.png", "given": "grass",
                           "suggested": "sky", "action": "drop", "pruned": "keep", "stage": "embedding_clean",
                           "reason": "neighbours_agree:2; untrusted_relabel (too few val relabels)", "score": 0.5,
                           "copy_of": "", "digest": "d", "saved": "", "verdict": ""}])
    text = plain(review_page(queue, classes=["apple", "grass", "sky"], thumbs={"grass/mis.png": "thumbs/x.png"}))
    assert 'grass · judge: sky | neighbours agree on "sky"; untrusted_relabel (too few val relabels) · score 0.50' \
        in text
    assert "neighbours_agree:2" not in text

