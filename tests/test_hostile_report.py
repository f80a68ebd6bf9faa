"""Hostile inputs around leaks, ground truth, skipped stages and the report (issue 16 items 13 and 14; the
study table it draws): each case runs the real stage scripts in a throwaway project on a few generated 8x8
images."""

import json

import numpy as np
import pandas as pd
import pytest

import hostile_harness
from conftest import make_manifest
from hostile_harness import (
    assert_error_line, assert_nothing_left, contract_inputs, default_params, files_under, make_project, refused_line,
    run_stage, write_judged,
)
from winnow.degrade import perturbation_table
from winnow.imageset import write_imageset
from winnow.quality import SCORES
from winnow.stage import write_table
from winnow.stand_ins import SKIPPED_NOTE, clear_skipped, write_skipped

CLASSES = ["a", "b"]
# train t0..t3, val v0 v1, test x0 x1; t0 copies v0 and x0 copies v1
SPLITS = ["train"] * 4 + ["val"] * 2 + ["test"] * 2


def write_images(project, *, copies: dict[int, int], folders=("data/ingest", "data/degrade"),
                 splits=SPLITS) -> pd.DataFrame:
    """Random 8x8 images (row ``i`` a pixel copy of row ``j`` for each ``i: j`` of ``copies``) written as
    each imageset of ``folders``, with an empty degrade log (degrade off); the manifest."""
    images = np.random.default_rng(0).integers(0, 256, (len(SPLITS), 8, 8, 1), dtype=np.uint8)
    for i, j in copies.items():
        images[i] = images[j]
    manifest = make_manifest(len(SPLITS), labels=np.arange(len(SPLITS)) % 2).assign(
        split=splits, id=["t0", "t1", "t2", "t3", "v0", "v1", "x0", "x1"])
    for folder in folders:
        write_imageset(project / folder, images, manifest, CLASSES)
    if "data/degrade" in folders:
        write_table(project / "data/degrade/perturbations.parquet", perturbation_table([]))
    return manifest


def write_scores(project, manifest: pd.DataFrame, *, copies: dict[int, int]) -> None:
    """data/score/scores.parquet: every quality score 0.9, pHashes far apart except for the copies, and each image's
    pixel digest in data/degrade and the score options as score records them (the report refuses a table without the
    digests, threshold one without either)."""
    hashes = np.array([(k + 1) * 0x0F0F_0F0F_0F0F_0F0F % 2**64 for k in range(len(manifest))], dtype=np.uint64)
    for i, j in copies.items():
        hashes[i] = hashes[j]
    hostile_harness.write_scores(project, pd.DataFrame({"id": manifest["id"], **{s: np.float32(0.9) for s in SCORES},
                                                       "phash": hashes}))


@pytest.mark.hostile("intermediates")
def test_dedup_counts_leaks_by_kind_and_warns_when_test_holds_copies_of_val(tmp_path):
    project = make_project(tmp_path)
    copies = {0: 4, 6: 5}
    write_scores(project, write_images(project, copies=copies), copies=copies)
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert ("dedup: train copies of val images: 1 train image(s) in 1 group(s) with 1 val image(s), dropped from "
            "train (dedup.drop_leaks)") in lines
    assert [line for line in lines if line.startswith("warning: ")] == [
        "warning: dedup: test holds copies of val images: 1 test image(s) (50.0% of test) in 1 group(s) with 1 val "
        "image(s); val picks every checkpoint, so the test score is flattered. dedup never changes val or test: "
        "remove the copies from your test split (data/dedup/groups.parquet lists them: same group, splits val and "
        "test)",
        # labels alternate 0/1: v1 (1) and x0 (0) are one picture under two labels, which is said too
        "warning: dedup: 1 group(s) of copies in val and test carry different labels (2 images, e.g. v1, x0): no model "
        "scores 100% on them; dedup never changes val or test: correct their labels where the data comes from"]
    metrics = json.loads((project / "metrics/dedup.json").read_text())
    assert metrics["leaks"] == {"train_copies_of_val": {"groups": 1, "images": 1, "val_images": 1},
                                "train_copies_of_test": {"groups": 0, "images": 0, "test_images": 0},
                                "val_copies_of_test": {"groups": 1, "images": 1, "test_images": 1}}
    assert "detection" not in metrics  # degrade planted no duplicates: nothing to score against
    groups = pd.read_parquet(project / "data/dedup/groups.parquet").set_index("id")
    assert groups.loc["t0", ["kept", "reason"]].tolist() == [False, "leak"]
    assert groups.loc[["v1", "x0"], "kept"].all()


@pytest.mark.hostile("intermediates")
def test_dedup_counts_trusted_copies_and_warns_when_the_trusted_split_copies_test(tmp_path):
    # before: train copies of a trusted image were dropped as leaks but counted under no kind (removed.leak 123,
    # every leaks.*.images 0), and a label book holding test images judged the budget without a word
    project = make_project(tmp_path)
    copies = {0: 5, 6: 5}  # t0 and x0 copy v1, here a trusted image
    manifest = write_images(project, copies=copies, splits=["train"] * 4 + ["val", "trusted"] + ["test"] * 2)
    write_scores(project, manifest, copies=copies)
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert ("dedup: train copies of trusted images: 1 train image(s) in 1 group(s) with 1 trusted image(s), dropped "
            "from train (dedup.drop_leaks)") in lines
    assert [line for line in lines if line.startswith("warning: ")] == [
        "warning: dedup: the trusted split holds copies of test images: 1 trusted image(s) in 1 group(s) with 1 test "
        "image(s); the budget chooses the cleaning on the trusted split, so partly on test images. Remove them from "
        "ingest.trusted_path (data/dedup/groups.parquet lists them: same group, splits trusted and test)",
        # labels alternate 0/1 (classes a, b): the test image x0 is a, its copy in the label book b
        "warning: dedup: 1 val/test image(s) carry another label than their train or trusted copies (e.g. x0 as "
        "'a', a copy as 'b'): one of the labels is wrong, and a wrong val or test label counts a right prediction as "
        "wrong; dedup never changes val or test: check their labels where the data comes from "
        "(data/dedup/groups.parquet: label_conflict)",
        # and the label book's v1 (b) its train copy t0 (a)
        "warning: dedup: 1 trusted image(s) carry another label than their train copies (e.g. v1 as 'b', a copy as "
        "'a'): one of the labels is wrong, and the budget judges on the trusted labels, where a wrong one counts a "
        "right prediction as wrong: check them in ingest.trusted_path (data/dedup/groups.parquet: label_conflict)"]
    leaks = json.loads((project / "metrics/dedup.json").read_text())["leaks"]
    assert (leaks["train_copies_of_trusted"], leaks["trusted_copies_of_test"], leaks["trusted_copies_of_val"]) == (
        {"groups": 1, "images": 1, "trusted_images": 1}, {"groups": 1, "images": 1, "test_images": 1},
        {"groups": 0, "images": 0, "val_images": 0})


@pytest.mark.hostile("intermediates")
def test_dedup_warns_that_train_copies_stay_when_drop_leaks_is_off(tmp_path):
    params = default_params()
    params["dedup"]["drop_leaks"] = False
    project = make_project(tmp_path, params)
    copies = {0: 7}
    write_scores(project, write_images(project, copies=copies), copies=copies)
    done = run_stage(project, "dedup")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("warning: ")] == [
        "warning: dedup: train copies of test images: 1 train image(s) in 1 group(s) with 1 test image(s), kept in "
        "train because dedup.drop_leaks is false: the test score is flattered by images the model trained on",
        # labels alternate 0/1 (classes a, b): t0 (a) and its test copy (b) carry two labels, which is said too
        "warning: dedup: 1 group(s) of copies carry more than one label; one train copy of each stays, under its "
        "label: the label most of the group's train copies carry in 1, on a tie the copy dedup.keep prefers in 0 "
        "(e.g. t0 as 'a', not 'b'); check their labels (data/dedup/groups.parquet: label_conflict)"]
    assert pd.read_parquet(project / "data/dedup/groups.parquet").set_index("id").loc["t0", "kept"]


@pytest.mark.hostile("report")
def test_with_degrade_off_neither_threshold_metrics_nor_the_report_show_truth(tmp_path):
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = ["baseline", "pruned"]  # oracle needs degrade on
    project = make_project(tmp_path, params)
    write_scores(project, write_images(project, copies={}), copies={})
    done = run_stage(project, "threshold")
    assert done.returncode == 0, done.stderr
    metrics = json.loads((project / "metrics/threshold.json").read_text())
    assert all(set(entry) == {"method", "rule", "threshold", "flagged"} for entry in metrics.values())
    done = run_stage(project, "report")
    assert done.returncode == 0, done.stderr
    text = (project / "reports/index.html").read_text()
    assert "<th>flagged</th></tr>" in text and "(planted)" not in text and "precision" not in text


@pytest.mark.hostile("report")
def test_gan_synthesize_without_augmented_writes_stand_ins_and_the_report_says_skipped(tmp_path):
    params = default_params()
    params["variants"] = ["baseline", "pruned"]
    project = make_project(tmp_path, params)
    write_images(project, copies={}, folders=("data/ingest",))
    done = run_stage(project, "gan_synthesize")  # nothing it would read exists: it must not read anything
    assert done.returncode == 0, done.stderr
    reason = "no requested variant needs GAN samples (augmented is not in params.yaml variants)"
    assert done.stdout.splitlines() == [f"gan-synthesize: skipped: {reason}"]
    assert json.loads((project / "metrics/gan.json").read_text()) == {"skipped": reason}
    for folder in ("data/gan", "data/variants/augmented", "plots/gan"):
        assert (project / folder / SKIPPED_NOTE).read_text() == f"skipped: {reason}\n"
    assert (project / "models/gan.pt").read_text() == f"skipped: {reason}\n"
    done = run_stage(project, "report")
    assert done.returncode == 0, done.stderr
    assert f"GAN samples: not run (skipped: {reason})." in (project / "reports/index.html").read_text()


@pytest.mark.hostile("intermediates")
def test_balance_without_balanced_writes_stand_ins_only(tmp_path):
    params = default_params()
    params["variants"] = ["baseline", "pruned", "augmented"]
    project = make_project(tmp_path, params)
    before = files_under(project)
    done = run_stage(project, "balance")
    assert done.returncode == 0, done.stderr
    reason = "no requested variant needs balanced copies (balanced is not in params.yaml variants)"
    assert done.stdout.splitlines() == [f"balance: skipped: {reason}"]
    assert files_under(project) - before == {"metrics/balance.json", f"data/variants/balanced/{SKIPPED_NOTE}",
                                             f"plots/balance/{SKIPPED_NOTE}", "metrics/contracts/balanced.json",
                                             f"reports/contracts/balanced/{SKIPPED_NOTE}"}


@pytest.mark.hostile("params")
def test_an_enforced_variant_that_is_not_trained_is_a_one_line_error(tmp_path):
    params = default_params()
    params["variants"] = ["baseline", "pruned"]
    params["contracts"].update(mode="enforce", enforce_variants=["augmented"])
    project = make_project(tmp_path, params)
    before = files_under(project)
    done = run_stage(project, "contracts")
    assert_error_line(done, 'params.yaml: contracts.enforce_variants[0]: augmented is not in variants '
                            '["baseline", "pruned"]')
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_a_variant_contract_without_its_rows_is_a_one_line_error(tmp_path):
    project = make_project(tmp_path)
    write_scores(project, write_images(project, copies={}), copies={})
    contract_inputs(project)
    before = files_under(project)
    done = run_stage(project, "contracts")  # the ingest and scores contracts would pass: nothing is written
    assert_error_line(done, "data/variants/oracle/rows.parquet: not found", "rerun the variants stage")
    assert_nothing_left(project, before)


@pytest.mark.hostile("intermediates")
def test_variants_when_threshold_flagged_nothing(tmp_path):
    params = default_params()
    params["pruned"]["cleaners"] = ["threshold"]
    params["budget"]["enabled"] = False
    project = make_project(tmp_path, params)
    manifest = write_images(project, copies={})
    write_judged(project, "data/threshold/flags.parquet",
                 pd.DataFrame({"id": manifest["id"], **{s: False for s in SCORES}, "any": False}))
    write_scores(project, manifest, copies={})
    assert run_stage(project, "dedup").returncode == 0  # its leak drops ship whatever pruned.cleaners says
    budgeted = run_stage(project, "budget")
    assert budgeted.returncode == 0, budgeted.stderr
    done = run_stage(project, "variants")
    assert done.returncode == 0, done.stderr
    pruned = pd.read_parquet(project / "data/variants/pruned/rows.parquet")
    assert pruned["id"].tolist() == ["t0", "t1", "t2", "t3"] and (pruned["action"] == "keep").all()


def test_stand_ins_are_cleared_before_a_real_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_skipped("not needed", folders=["data/gan"], files=["models/gan.pt"])
    (tmp_path / "models/other.pt").write_bytes(b"\x80weights")
    clear_skipped(folders=["data/gan"], files=["models/gan.pt", "models/other.pt"])
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["data", "models", "models/other.pt"]


# what `winnow study collect` writes: the clean run, repeated as the origin of the label-noise curve, and two points
STUDY = """sweep,damage,level,experiment,rev,accuracy,macro_f1,f1_a,f1_b
clean,clean,0.0,exp-0,r0,0.95,0.94,0.95,0.93
label_noise,symmetric_noise,0.0,exp-0,r0,0.95,0.94,0.95,0.93
label_noise,symmetric_noise,0.2,exp-1,r1,0.85,0.84,0.86,0.82
label_noise,symmetric_noise,0.4,exp-2,r2,0.7,,0.71,0.69
"""


def study_project(tmp_path, text: str):
    """A project holding data/ingest and plots/study/study.csv as ``text``, nothing else the report reads."""
    project = make_project(tmp_path)
    write_images(project, copies={}, folders=("data/ingest",))
    (project / "plots/study").mkdir(parents=True)
    (project / "plots/study/study.csv").write_text(text)
    return project


@pytest.mark.hostile("report")
def test_the_study_is_drawn_with_a_gap_where_a_run_has_no_macro_f1(tmp_path):
    # drawn before as well: the checks must accept the blank collect leaves where a run's metrics hold no macro F1
    project = study_project(tmp_path, STUDY)
    done = run_stage(project, "report")
    assert done.returncode == 0, done.stderr
    # and it says whose runs they are (found by probing: a study of another data set was drawn without a word)
    assert ('<p class="note">From 3 experiments (experiment refs r0, r1, r2) that `winnow study collect` gathered, not from '
            "this run: they describe the data and settings those experiments ran on. Solid: test accuracy; dashed: "
            "macro F1; one colour and marker per kind of damage; each point is one run (seed).</p>"
            '<img class="figure" src="data:image/png'
            ) in (project / "reports/index.html").read_text()


@pytest.mark.hostile("report")
@pytest.mark.parametrize("text, problem", [
    ("a,b\n1,2\n", "lacks column(s) sweep, damage, level, accuracy, macro_f1"),  # before: KeyError 'sweep'
    ("", "not a readable CSV file (No columns to parse from file)"),  # before: EmptyDataError traceback
    (STUDY.replace("0.85,0.84", "hello,0.84"), "accuracy on line 4 is hello, not a number in [0, 1]"),  # TypeError
    (STUDY.replace("0.85,0.84", "nan,0.84"), "accuracy on line 4 is empty or NaN, not a number in [0, 1]"),  # drawn
    (STUDY.replace("0.85,0.84", "7,0.84"), "accuracy on line 4 is 7.0, not a number in [0, 1]"),  # drawn off the axis
    (STUDY.replace("0.85,0.84", "0.85,-3"), "macro_f1 on line 4 is -3.0, not a number in [0, 1]"),  # drawn
    (STUDY.replace(",0.4,", ",much,"), "level on line 5 is much, not a finite number"),  # drawn as a category
    (STUDY.replace("label_noise,symmetric_noise,0.2", "label_noise,,0.2"),  # the point silently left every curve
     "damage on line 4 is empty or NaN, not a name"),
], ids=["foreign-header", "empty", "accuracy-text", "accuracy-nan", "accuracy-7", "macro-f1-negative",
        "level-text", "damage-blank"])
def test_a_study_table_collect_cannot_have_written_stops_the_report(tmp_path, text, problem):
    line = refused_line(study_project(tmp_path, text), "report")
    assert line == (f"error: plots/study/study.csv: {problem}; rerun `winnow study collect` (it writes "
                    "plots/study/study.csv)")


@pytest.mark.hostile("report")
def test_a_table_of_another_data_sets_images_stops_the_report_in_one_line(tmp_path):
    # before: a data/dedup (or confident-learn, embedding-clean, data-valuation, threshold) of another run was a
    # KeyError traceback from the image grid
    project = make_project(tmp_path)
    write_images(project, copies={})
    groups = pd.DataFrame({"id": ["t0", "other-7"], "split": "train", "label": 0, "group": [0, 0], "group_size": 2,
                           "kept": [True, False], "reason": ["kept", "near_duplicate"], "label_conflict": False})
    write_judged(project, "data/dedup/groups.parquet", groups)
    assert refused_line(project, "report") == (
        "error: data/dedup/groups.parquet: 1 id(s) not in data/degrade, first 'other-7'; rerun the dedup stage "
        "(dvc repro dedup)")


@pytest.mark.hostile("report")
def test_a_degrade_of_other_classes_stops_the_report_in_one_line(tmp_path):
    # before: a data/ingest of 3 classes beside a data/degrade of 2 wrote a page whose train counts left a class
    # out without a word, while its evaluation tables showed every class
    project = make_project(tmp_path)
    manifest = write_images(project, copies={})
    images = np.zeros((len(manifest), 8, 8, 1), np.uint8)
    write_imageset(project / "data/ingest", images, manifest, [*CLASSES, "c"])
    assert refused_line(project, "report") == (
        "error: data/degrade/classes.json: its classes (a, b) differ from data/ingest/classes.json's (a, b, c); "
        "rerun the degrade stage (dvc repro degrade)")


@pytest.mark.hostile("report")
def test_a_rejected_list_a_spreadsheet_saved_or_a_variants_row_of_no_class_stops_the_report_in_one_line(tmp_path):
    # before: data/ingest/rejected.csv saved with semicolons (a spreadsheet's CSV) stopped the report with
    # KeyError: 'reason', and a variant's row of label 2 (of 2 classes) left "Train images per class" short of its
    # train images without a word
    project = make_project(tmp_path)
    manifest = write_images(project, copies={})
    (project / "data/ingest/rejected.csv").write_text("path;reason\nx.png;not an image\n")
    assert refused_line(project, "report") == (
        "error: data/ingest/rejected.csv: lacks column(s) path, reason; rerun the ingest stage (dvc repro ingest)")
    (project / "data/ingest/rejected.csv").write_text("path,reason\nx.png,not an image\n")
    train = manifest[manifest["split"] == "train"]
    write_table(project / "data/variants/baseline/rows.parquet", pd.DataFrame({
        "id": train["id"], "origin": "degrade", "label": [0, 1, 2, 1], "action": "keep", "reason": "", "stage": ""}))
    assert refused_line(project, "report") == (
        "error: data/variants/baseline/rows.parquet: row 2 has label 2, not a class index in [0, 1]; rerun the "
        "variants stage (dvc repro variants)")


FORMULA_NAMES = ["$\\foo$", "a$x^2$b"]  # the first raised matplotlib's ParseFatalException, the second drew x²


@pytest.mark.hostile("report")
def test_class_names_that_read_as_formulas_are_drawn_as_text(tmp_path):
    from winnow.gan_eval import sample_grid
    from winnow.report_figures import confusion_figure, per_class_f1_figure, per_class_f1_panels

    f1 = pd.DataFrame({"baseline": [0.5, 0.6], "pruned": [0.7, 0.4]}, index=FORMULA_NAMES)
    assert per_class_f1_figure(f1).startswith("data:image/png;base64,")
    matrix = pd.DataFrame([[3, 1], [0, 4]], index=FORMULA_NAMES, columns=FORMULA_NAMES)
    assert confusion_figure({"baseline": matrix}).startswith("data:image/png;base64,")
    sample_grid({name: np.zeros((2, 8, 8, 1), np.uint8) for name in FORMULA_NAMES}, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes().startswith(b"\x89PNG")
    # drawn as typed, no superscript: the figure's own labels (before, a Text made anywhere in the process, the
    # setting turned off for the whole process at the import of winnow.report_figures)
    labels = per_class_f1_panels(f1).axes[0].get_xticklabels()
    assert [(label.get_text(), label.get_parse_math()) for label in labels] == [(name, False) for name in FORMULA_NAMES]
