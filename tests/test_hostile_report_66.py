"""Hostile inputs to the report (third pass): class names the metrics keys hold as they are, and metrics files
of a section that contradict the data the page shows beside them. Each case runs the real report stage on a
project holding only what it reads."""

import html
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import make_manifest
from hostile_harness import default_params, refused_line, run_stage
from winnow.imageset import write_imageset


def dotted_project(root):
    """params.yaml, and data/ingest of two classes, one named with a dot (8 train images of each)."""
    params = default_params()
    params["contracts"]["enforce_variants"] = []
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    manifest = make_manifest(16, labels=np.repeat([0, 1], 8))
    write_imageset(root / "data/ingest", np.zeros((16, 8, 8, 1), np.uint8), manifest, ["st.bernard", "pug"])
    return root


def table_rows(page: str, heading: str) -> list[list[str]]:
    """The body rows of the table under ``heading`` (an h3 or a folded summary), each cell as plain text."""
    found = re.search(re.escape(heading) + r".*?<tbody>(.*?)</tbody>", page, re.S)
    assert found, f"no table under {heading!r}"
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", found.group(1))]


@pytest.mark.hostile("report")
def test_a_class_named_with_a_dot_has_its_balance_counts_shown(tmp_path):
    # found by probing: the number check looked the keys up as dotted paths, counts → st → bernard, and refused each
    # balance.json of such a class: "metrics/balance.json: counts.st.bernard.before is missing; rerun the balance
    # stage", which wrote the same file again
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/balance.json").write_text(json.dumps({"added": 5, "left_out": 0, "counts": {
        "st.bernard": {"before": 3, "left_out": 0, "added": 5, "after": 8},
        "pug": {"before": 8, "left_out": 0, "added": 0, "after": 8}}}))
    done = run_stage(root, "report")
    assert done.returncode == 0, done.stderr
    rows = table_rows((root / "reports/index.html").read_text(), "Train images per class, before and after")
    assert rows == [["st.bernard", "3", "0", "5", "8"], ["pug", "8", "0", "0", "8"]]


GAN = {"weak_classes": ["pug"], "weak_by": "f1", "weak_without_train_images": [],
       "weak_scores": {"st.bernard": 0.8, "pug": 0.4}, "threshold": 0.5, "class_threshold": {"pug": 0.5},
       "acceptance": {"pug": {"generated": 4, "accepted": 3, "rate": 0.75, "real_val_rate": 1.0}}, "added": 3,
       "frechet": {"pug": {which: {"real_images": 8, "generated_images": 4, "samples": 4, "dims": 2,
                                   "generated": 9.5, "real_reference": 0.5} for which in ("generated", "accepted")}},
       "epochs": 1}


def gan_project(root, summary: dict):
    """:func:`dotted_project` with data/gan (4 samples of pug, 3 kept) and metrics/gan.json ``summary``."""
    dotted_project(root)
    manifest = make_manifest(4, labels=np.ones(4, np.int64)).assign(accepted=[True, True, True, False],
                                                                   p_intended=[0.9, 0.8, 0.7, 0.2])
    write_imageset(root / "data/gan", np.zeros((4, 8, 8, 1), np.uint8), manifest, ["st.bernard", "pug"])
    (root / "metrics").mkdir()
    (root / "metrics/gan.json").write_text(json.dumps(summary))
    return root


@pytest.mark.hostile("report")
@pytest.mark.parametrize("summary, line", [
    # before: the table read "pug | generated 4 | kept 30" under the line "3 of 4 generated images kept"
    (GAN | {"acceptance": {"pug": GAN["acceptance"]["pug"] | {"accepted": 30}}},
     "error: metrics/gan.json: acceptance of 'pug' counts 30 of 4 kept, but data/gan holds 3 of 4: the two are from "
     "different runs, or edited; rerun the gan-synthesize stage (dvc repro gan-synthesize)"),
    # found in review: "pug | generated 4 | kept 3 | acceptance rate 0.1"
    (GAN | {"acceptance": {"pug": GAN["acceptance"]["pug"] | {"rate": 0.1}}},
     "error: metrics/gan.json: acceptance of 'pug' gives rate 0.1, but counts 3 of 4 kept; rerun the gan-synthesize "
     "stage (dvc repro gan-synthesize)"),
    # before: KeyError: 'frechet', a traceback
    ({k: v for k, v in GAN.items() if k != "frechet"},
     "error: metrics/gan.json: frechet.pug.generated.generated is missing; rerun the gan-synthesize stage (dvc repro "
     "gan-synthesize)"),
])
def test_a_gan_summary_that_is_not_its_samples_stops_the_report(tmp_path, summary, line):
    root = gan_project(tmp_path, summary)
    assert refused_line(root, "report") == line


def balanced_project(root, counts: dict, **summary):
    """:func:`dotted_project` with data/variants/balanced/rows.parquet holding 8 images of each class (st.bernard's
    3 and 5 copies added, 2 of them of edge cases) and metrics/balance.json of ``counts`` (and ``summary``)."""
    dotted_project(root)
    rows = pd.DataFrame({"id": [f"img-{i}" for i in range(16)] + [f"copy-{i}" for i in range(5)],
                         "origin": ["ingest"] * 16 + ["extra"] * 5,
                         # img-0..7 are st.bernard's, img-8..15 pug's (dotted_project): 5 of st.bernard's dropped
                         "label": [0] * 8 + [1] * 8 + [0] * 5,
                         "action": ["keep"] * 3 + ["drop"] * 5 + ["keep"] * 8 + ["add"] * 5,
                         "reason": [""] * 16 + ["balance(edge):rotate"] * 2 + ["balance:rotate"] * 3,
                         "stage": [""] * 16 + ["balance"] * 5})
    (root / "data/variants/balanced").mkdir(parents=True)
    rows.to_parquet(root / "data/variants/balanced/rows.parquet", index=False)
    (root / "metrics").mkdir()
    (root / "metrics/balance.json").write_text(json.dumps({"added": 5, "left_out": 0, "counts": counts, **summary}))
    return root


COUNTS = {"st.bernard": {"before": 3, "left_out": 0, "added": 5, "after": 8},
          "pug": {"before": 8, "left_out": 0, "added": 0, "after": 8}}


@pytest.mark.hostile("report")
@pytest.mark.parametrize("counts, problem", [
    # before: a balance.json of another data set was shown as this run's ("airplane 5 0 3 8")
    ({"airplane": {"before": 5, "left_out": 0, "added": 3, "after": 8}},
     "counts holds the classes 'airplane', not data/ingest's 'st.bernard', 'pug'"),
    # before: "pug: after 12" beside the 8 pug images the balanced version holds
    (COUNTS | {"pug": {"before": 8, "left_out": 0, "added": 4, "after": 12}},
     "counts.pug.after is 12, but data/variants/balanced/rows.parquet holds 8 images of it"),
    (COUNTS | {"pug": {"before": 8, "left_out": 0, "added": 0, "after": 12}},
     "counts.pug.after is 12, but before - left_out + added is 8"),
])
def test_balance_counts_that_are_not_the_balanced_images_stop_the_report(tmp_path, counts, problem):
    root = balanced_project(tmp_path, counts)
    assert refused_line(root, "report") == (f"error: metrics/balance.json: {problem}; rerun the balance stage "
                                            "(dvc repro balance)")


@pytest.mark.hostile("report")
@pytest.mark.parametrize("counts, summary, problem", [
    # found in review: the settings table read "added 50" (or "edge.copies 4") above classes that add 5 (2 of them
    # copies of edge cases), and "st.bernard: left out 1, added 6" (after 8 still) beside rows adding 5, leaving out 0
    (COUNTS, {"added": 50}, "added is 50, but counts.<class>.added add up to 5"),
    (COUNTS, {"edge": {"images": 2, "copies": 4}},
     "edge.copies is 4, but data/variants/balanced/rows.parquet adds copies of edge cases: 2"),
    (COUNTS | {"st.bernard": {"before": 3, "left_out": 1, "added": 6, "after": 8}}, {"added": 6, "left_out": 1},
     "counts.st.bernard.added is 6, but data/variants/balanced/rows.parquet adds 5 of it"),
])
def test_balance_totals_that_are_not_the_balanced_rows_stop_the_report(tmp_path, counts, summary, problem):
    root = balanced_project(tmp_path, counts, **summary)
    assert refused_line(root, "report") == (f"error: metrics/balance.json: {problem}; rerun the balance stage "
                                            "(dvc repro balance)")


@pytest.mark.hostile("report")
def test_a_flagged_count_that_is_not_the_flags_stops_the_report(tmp_path):
    # found by probing: the threshold table read "dark | flagged 60" above the grid's "dark: 6 flagged" from the flags
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/threshold.json").write_text(json.dumps({"dark": {"method": "auto", "threshold": 0.2,
                                                                      "flagged": 60}}))
    (root / "data/threshold").mkdir(parents=True)
    pd.DataFrame({"id": [f"img-{i}" for i in range(16)], "dark": [True] * 6 + [False] * 10}).to_parquet(
        root / "data/threshold/flags.parquet", index=False)
    assert refused_line(root, "report") == (
        "error: metrics/threshold.json: dark.flagged is 60, but data/threshold/flags.parquet flags 6 image(s) dark: the "
        "two are from different runs, or edited; rerun the threshold stage (dvc repro threshold)")


@pytest.mark.hostile("report")
def test_valuation_counts_that_are_not_its_decisions_stop_the_report(tmp_path):
    # found by probing: "decided drop (reliably negative) 5" above a grid of the most harmful images with none framed
    # red, decisions.parquet deciding no drop
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/data_valuation.json").write_text(json.dumps({"considered": 16, "left_out": 0, "flagged": 5,
                                                                  "decisions": {"keep": 16, "drop": 0}}))
    (root / "data/data-valuation").mkdir(parents=True)
    pd.DataFrame({"id": [f"img-{i}" for i in range(16)], "given_label": 0, "decision": "keep", "knn_shapley": 0.1,
                  "tracin": 0.1, "harm": 0.5}).to_parquet(root / "data/data-valuation/decisions.parquet", index=False)
    assert refused_line(root, "report") == (
        "error: metrics/data_valuation.json: flagged is 5, but data/data-valuation/decisions.parquet holds 0: the two "
        "are from different runs, or edited; rerun the data-valuation stage (dvc repro data-valuation)")


DEDUP = {"images": 16, "groups": 1, "images_in_groups": 2, "largest_group": 2, "images_removed": 1}


@pytest.mark.hostile("report")
@pytest.mark.parametrize("summary, problem", [
    # found by probing: "groups 40, images_removed 90" above the duplicate groups and a pruned note counted from
    # groups.parquet's groups and removals
    (DEDUP | {"groups": 40}, "groups is 40, but data/dedup/groups.parquet holds 1"),
    # found in review: the leaks table read "train copies of test images | 3 | 3 train | 3 test | dropped from train"
    # where groups.parquet holds no test image
    (DEDUP | {"leaks": {"train_copies_of_test": {"groups": 3, "images": 3, "test_images": 3}}},
     "leaks.train_copies_of_test.groups is 3, but data/dedup/groups.parquet holds 0"),
])
def test_dedup_counts_that_are_not_its_groups_stop_the_report(tmp_path, summary, problem):
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/dedup.json").write_text(json.dumps(summary))
    (root / "data/dedup").mkdir(parents=True)
    pd.DataFrame({"id": [f"img-{i}" for i in range(16)], "split": "train", "label": 1, "group": [0, 0, *range(1, 15)],
                  "group_size": [2, 2] + [1] * 14, "kept": [True, False] + [True] * 14, "reason": "",
                  "label_conflict": False}).to_parquet(root / "data/dedup/groups.parquet", index=False)
    assert refused_line(root, "report") == (f"error: metrics/dedup.json: {problem}: the two are from different runs, "
                                            "or edited; rerun the dedup stage (dvc repro dedup)")


LABEL_ISSUES = {"considered": 16, "issues": 2, "decisions": {"keep": 14, "drop": 2, "relabel": 0},
                "reasons": {"consistent": 14, "label_issue": 2, "label_conflict": 0}}


@pytest.mark.hostile("report")
@pytest.mark.parametrize("summary, problem", [
    # found by probing: "decisions.drop 70" above the 7 label issues the grid shows dropped
    (LABEL_ISSUES | {"decisions": {"keep": 14, "drop": 20, "relabel": 0}},
     "decisions.drop is 20, but data/confident-learn/label_issues.parquet holds 2"),
    # found in review: "considered 99" and "reasons.label_issue 40" in the same table, unchecked
    (LABEL_ISSUES | {"considered": 99}, "considered is 99, but data/confident-learn/label_issues.parquet holds 16"),
    (LABEL_ISSUES | {"reasons": {"consistent": 14, "label_issue": 40, "label_conflict": 0}},
     "reasons.label_issue is 40, but data/confident-learn/label_issues.parquet holds 2"),
])
def test_label_issue_counts_that_are_not_its_table_stop_the_report(tmp_path, summary, problem):
    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/confident_learn.json").write_text(json.dumps(summary))
    (root / "data/confident-learn").mkdir(parents=True)
    # a relabel the judge blocked counts under its own reason, as the stage counts it
    pd.DataFrame({"id": [f"img-{i}" for i in range(16)], "is_issue": [True] * 2 + [False] * 14,
                  "decision": ["drop"] * 2 + ["keep"] * 14, "given_label": 0, "suggested_label": 1,
                  "label_quality": 0.5,
                  "reason": ["label_issue; untrusted_relabel (precision 0.5)", "label_issue"] + ["consistent"] * 14,
                  }).to_parquet(root / "data/confident-learn/label_issues.parquet", index=False)
    assert refused_line(root, "report") == (
        f"error: metrics/confident_learn.json: {problem}: the two are from different runs, or edited; rerun the "
        "confident-learn stage (dvc repro confident-learn)")


@pytest.mark.hostile("report")
@pytest.mark.parametrize("edit, problem", [
    # found by probing: "holds": true beside none 481 and all 470 judge images right read "all stands", under
    # "pruned applies none: ... the model check below overruled it"
    ({"winner_correct": 470, "gap_images": 11, "holds": True},
     "model_check.holds is true, but its winner_correct 470 and none_correct 481 say false"),
    # found in review: "none got 481 and all 470 of 500 judge images right (gap -50, ...)", and "520 of 500"
    ({"winner_correct": 470, "gap_images": -50},
     "model_check.gap_images is -50, but its winner_correct 470 and none_correct 481 say 11"),
    ({"winner_correct": 520, "gap_images": -39, "holds": True}, "model_check.winner_correct is 520, more than its "
                                                                "judged 500"),
])
def test_a_model_check_verdict_its_counts_contradict_stops_the_report(tmp_path, edit, problem):
    from test_hostile_report_versions import BUDGET

    root = dotted_project(tmp_path)
    (root / "metrics").mkdir()
    (root / "metrics/budget.json").write_text(json.dumps(BUDGET | {"model_check": BUDGET["model_check"] | edit}))
    assert refused_line(root, "report") == (f"error: metrics/budget.json: {problem}; rerun the budget stage "
                                            "(dvc repro budget)")
