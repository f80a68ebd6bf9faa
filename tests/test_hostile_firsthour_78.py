"""A new user's first hour with their own photos, stop 78: what the report, the review page and the stages said on
a folder of 158 generated colour photos (3 classes, near-copies, mislabelled, black and thumbnail images) run as the
README tells a user with their own data. Each case calls the stage's function on tiny data."""

import pandas as pd
import pytest

from test_hostile_report_more import plain, tiny_imageset
from test_hostile_review_66 import exported, project  # noqa: F401  (fixtures: the exported review project)
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


def _versions(pruned_reasons: list[tuple[str, str]]) -> dict[str, pd.DataFrame]:
    """baseline and pruned rows of 6 train images of classes 0 and 1, pruned dropping the first ones for
    ``pruned_reasons`` ((reason, stage) each)."""
    base = pd.DataFrame({"id": [f"i{k}" for k in range(6)], "origin": "degrade", "label": [0, 1] * 3,
                         "action": "keep", "reason": "", "stage": ""})
    pruned = base.copy()
    for row, (reason, stage) in enumerate(pruned_reasons):
        pruned.loc[row, ["action", "reason", "stage"]] = ["drop", reason, stage]
    return {"baseline": base, "pruned": pruned}


@pytest.mark.hostile("report")
def test_the_cleaners_table_says_when_an_image_counts_in_two_rows():
    from winnow.report_summary import summary_section

    # found on the photos: the all-black photo, dropped as dark and as grayscale, counted in both rows, so
    # "dark 1, grayscale 1, odd_size 1, near_duplicate 2" (5) stood under pruned's "removed 4" without a word
    rows = _versions([("dark+grayscale", "threshold"), ("odd_size", "threshold"), ("near_duplicate", "dedup")])
    labels = pd.Series([0, 1] * 3, index=[f"i{k}" for k in range(6)])
    text = plain(summary_section(ingest=None, rejected=None, degrade=None, variant_rows=rows,
                                 origin_labels={"degrade": labels}, classes=["a", "b"]))
    assert "| pruned | 3 | 3 | 0 | 0 |" in text
    assert "| threshold · removed · dark | 1 | 1 | 0 | threshold · removed · grayscale | 1 | 1 | 0 |" in text
    assert ("1 image(s) count in more than one row, once for each cleaner and reason that acted on them, so a column "
            "adds up to more than the images the versions above removed or changed.") in text
    # one reason an image: the rows add up to the images, and no note
    rows = _versions([("dark", "threshold"), ("near_duplicate", "dedup")])
    text = plain(summary_section(ingest=None, rejected=None, degrade=None, variant_rows=rows,
                                 origin_labels={"degrade": labels}, classes=["a", "b"]))
    assert "more than one row" not in text


@pytest.mark.hostile("report")
def test_images_valued_above_zero_by_both_estimators_are_said_to_help_under_most_harmful(tmp_path):
    from winnow.report_valuation import valuation_section

    # found on the photos: nothing was harmful (one image below zero by TracIn alone), and the lower half of the
    # ranking stood under "Most harmful (16)" with values like "kNN +9.01e-03 · TracIn +4.26e-02" beside the page's
    # "Negative values hurt", without a word that they help
    rows = pd.DataFrame({"id": ["t0", "t1", "t2", "t3"], "given_label": [0, 1, 0, 1], "decision": "keep",
                         "knn_shapley": [0.125, 0.25, 0.5, 0.5], "tracin": [-1.0, 0.25, 0.5, 1.0],
                         "harm": [1.0, 2 / 3, 1 / 3, 0.0]})
    text = plain(valuation_section(decisions=rows, summary={"considered": 4, "flagged": 0}, imageset=tiny_imageset(
        tmp_path), count=16, cleaning=True, applied=0))
    harmful = text.split("Most harmful (")[1].split("Most helpful (")[0]
    assert harmful.startswith("2; red: decided drop) | a | kNN +1.25e-01 · TracIn -1.00e+00 | b | kNN +2.50e-01 · "
                              "TracIn +2.50e-01 | 1 of these 2 are valued above zero by both estimators: they rank "
                              "lowest, but help the model rather than hurt it.")
    # every shown image below zero by one estimator at least: no note
    rows["tracin"] = [-1.0, -0.25, 0.5, 1.0]
    text = plain(valuation_section(decisions=rows, summary={"considered": 4, "flagged": 0}, imageset=tiny_imageset(
        tmp_path), count=16, cleaning=True, applied=0))
    assert "above zero by both" not in text


@pytest.mark.hostile("imagefolder")
def test_the_size_of_a_photo_in_an_ingest_line_says_which_side_is_which(tmp_path, monkeypatch, capsys):
    from PIL import Image

    from test_hostile_ingest_68 import image_folder, ingest_in_process

    # found on the photos: a 609-wide, 324-high photo (609 x 324 in any photo viewer, Pillow's size (609, 324)) was
    # said "324x609", height first, without a word of the order
    data = image_folder(tmp_path / "data", {"a": 6, "b": 6})
    Image.new("L", (24, 8), 100).save(data / "a" / "wide.png")
    ingest_in_process(tmp_path, monkeypatch, data, size=8, val_fraction=0.2)
    assert any(line.startswith("warning: ingest.size: 1 of 13 images are not square (first 'a/wide.png': 8x24, "
                               "height x width) and each was stretched to 8x8 whole") for line in
               capsys.readouterr().out.splitlines())


@pytest.mark.hostile("review")
def test_the_import_line_names_the_command_that_carries_verdicts_to_the_report(project, capsys):
    import argparse

    from test_hostile_review_66 import fill_in
    from winnow import review

    # found on the photos: import said "`dvc repro variants` applies them to pruned"; run as told, it rewrote
    # pruned's rows and left train@pruned, evaluate and the report as they were: the page showed no verdict
    assert review.run(argparse.Namespace(action="import", file=str(fill_in({"train-00": "reject"})),
                                         replace=False)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "review import: 1 verdict(s) (reject 1) written to reviews/verdicts.csv; `dvc repro` applies them to pruned "
        "and retrains what it feeds, and `git add reviews/verdicts.csv` keeps them with the data version")


@pytest.mark.hostile("report")
def test_flagged_images_outside_train_are_said_to_stay(tmp_path):
    import numpy as np

    from conftest import make_manifest
    from winnow.imageset import ImageSet
    from winnow.report_grids import flagged_section

    # found on the photos: two thumbnails, one carved into train and one into test, read "odd_size: 2 flagged"
    # above "threshold · removed · odd_size 1", with no word that a val or test image is never removed
    manifest = make_manifest(3, labels=np.array([0, 1, 1])).assign(split=["train", "test", "train"])
    imageset = ImageSet(np.zeros((3, 8, 8, 1), np.uint8), manifest, ["a", "b"])
    flags = pd.DataFrame({"id": manifest["id"], "odd_size": [True, True, False], "dark": [True, False, False]})
    scores = pd.DataFrame({"id": manifest["id"], "odd_size": [0.25, 0.375, 0.9], "dark": [0.0, 0.5, 0.5]})
    text = plain(flagged_section(flags=flags, scores=scores, imageset=imageset, per_issue=4))
    assert "odd_size: 2 flagged (1 of them outside train, which pruned never changes), lowest scores first" in text
    assert "dark: 1 flagged, lowest scores first (class · score)" in text
