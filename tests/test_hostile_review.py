"""Hostile input to the review (issue 21): a verdict for an image the queue never listed, a class that does
not exist, a word that is no verdict, one image judged two ways, a Label Studio export whose annotators
disagree, an import before any export, an export before the budget ran or asking for an absent FiftyOne,
and a reviews/verdicts.csv edited by hand into nonsense. Each ends in one `error:` line naming the file and
row, and nothing written: reviews/verdicts.csv stays as it was, variants writes no variant."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hostile_harness import (
    assert_error_line, assert_nothing_left, budget_stamped, edit_table, files_under, planted_log, refused_line,
    regroup, run_stage, run_winnow, write_judged,
)
from review_project import digest, exported, write_project  # noqa: F401  (exported: a fixture)

from winnow.imageset import read_imageset, write_imageset
from winnow.verdicts import class_list_key

HEADER = "id,verdict,label,suggested,given,digest,classes\n"


def row(project: Path, text: str) -> str:
    """A verdicts.csv line: ``text``, the digest of its id's pixels and the key of the class list in the project
    now."""
    return f"{text},{digest(project, text.split(',')[0])},{classes_key(project)}"


def classes_key(project: Path) -> str:
    return class_list_key(json.loads((project / "data/degrade/classes.json").read_text()))


@pytest.fixture
def project(exported, tmp_path) -> Path:
    """A fresh copy of the exported project, holding one earlier verdict."""
    root = Path(shutil.copytree(exported, tmp_path / "project"))
    (root / "reviews/verdicts.csv").write_text(HEADER + row(root, "train-08,accept,-1,-1,2") + "\n")
    return root


def as_seen(project: Path, text: str) -> str:
    """``id,verdict`` CSV text with the columns a person's file must carry added to each row: the given class,
    digest and suggestion the exported queue showed (an id the queue lacks: its class and digest in
    data/degrade); blank lines are kept."""
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False).set_index("id")
    data = read_imageset(project / "data/degrade")
    labels = data.manifest.set_index("id")["label"]
    lines = text.splitlines()
    out = [lines[0] + ",given,digest,action,suggested"]
    for line in lines[1:]:
        image = line.split(",")[0]
        if not line:
            out.append(line)
        elif image in queue.index:
            out.append(",".join([line, *queue.loc[image, ["given", "digest", "action", "suggested"]]]))
        else:
            out.append(",".join([line, data.classes[labels[image]], digest(project, image), "", ""]))
    return "\n".join(out) + "\n"


def relabel_everywhere(project: Path, image_id: str, label: int) -> None:
    """``image_id`` labelled ``label`` in data/degrade and in the label cleaners' given_label and the budget's: the
    data changed and the pipeline ran again since the export (the cleaners' suggestions as they were)."""
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.copy()
    manifest.loc[manifest["id"] == image_id, "label"] = label
    write_imageset(project / "data/degrade", np.asarray(data.images), manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    regroup(project)  # dedup reran on the new labels
    for table in ("data/confident-learn/label_issues.parquet", "data/embedding-clean/decisions.parquet"):
        frame = pd.read_parquet(project / table)
        frame.loc[frame["id"] == image_id, "given_label"] = label
        frame.to_parquet(project / table, index=False)
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))


def import_refused(project: Path, name: str, text: str | None, *fragments: str) -> None:
    """Importing ``text`` (saved as ``name``; None: as ``name`` is) ends in one error line with ``fragments``;
    nothing changes."""
    if text is not None:
        (project / name).write_text(text)
    before, verdicts = files_under(project), (project / "reviews/verdicts.csv").read_text()
    done = run_winnow(project, "review", "import", name)
    assert_error_line(done, *fragments)
    assert_nothing_left(project, before)
    assert (project / "reviews/verdicts.csv").read_text() == verdicts


@pytest.mark.hostile("review")
def test_a_verdict_for_an_image_the_queue_never_listed_is_refused(project):
    # train-09 is a train image no cleaner raised; val-0 is no train image at all
    import_refused(project, "mine.csv", as_seen(project, "id,verdict\ntrain-04,accept\ntrain-09,reject\n"),
                   "mine.csv: line 3", "'train-09' is not in the review queue", "winnow review export")
    import_refused(project, "mine.csv", "id,verdict\nval-0,accept\n", "mine.csv: line 2", "'val-0' is not in the review queue")


@pytest.mark.hostile("review")
def test_an_unknown_class_is_refused_by_name_and_by_index(project):
    import_refused(project, "mine.csv", as_seen(project, "id,verdict\ntrain-04,fox\n"),
                   "mine.csv: line 2 (id 'train-04')", "'fox' is neither accept, reject, drop nor a class (cat, dog, owl)")
    import_refused(project, "mine.csv", as_seen(project, "id,verdict\ntrain-04,3\n"),
                   "mine.csv: line 2 (id 'train-04')", "class index 3 is outside 0-2")


@pytest.mark.hostile("review")
def test_one_image_judged_two_ways_is_refused(project):
    import_refused(project, "mine.csv", as_seen(project, "id,verdict\ntrain-04,accept\ntrain-06,owl\ntrain-04,reject\n"),
                   "mine.csv: line 4", "'train-04' has verdict 'reject' here but 'accept' at line 2",
                   "one verdict per image")


@pytest.mark.hostile("review")
def test_a_file_without_a_verdict_column_is_refused(project):
    import_refused(project, "mine.csv", "id,decision\ntrain-04,accept\n", "mine.csv: lacks column(s) verdict")


@pytest.mark.hostile("review")
def test_a_label_studio_export_whose_annotators_disagree_is_refused(project):
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    for task, choices in zip(tasks, (["drop"], ["owl", "cat"])):
        task["annotations"] = [{"was_cancelled": False, "result": [
            {"type": "choices", "from_name": "verdict", "value": {"choices": [c]}}]} for c in choices]
    import_refused(project, "export.json", json.dumps(tasks[:2]),
                   "export.json: task 2", "its annotations disagree ('owl', 'cat')", "settle them in Label Studio")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("annotations, fragment", [
    # before: AttributeError, TypeError (unhashable) tracebacks, or 0 verdicts and exit 0
    ([{"result": [{"type": "choices", "value": "drop"}]}], 'a choices result whose value is "drop"'),
    ([{"result": [{"type": "choices", "value": {"choices": [["drop"]]}}]}], "a choices result whose value is "
                                                                           '{"choices": [["drop"]]}'),
    ([{"result": [{"type": "choices", "value": {"choices": "drop"}}]}], 'a choices result whose value is '
                                                                       '{"choices": "drop"}'),
    (5, "annotations are not Label Studio's"),
    ({"a": 1}, "annotations are not Label Studio's"),
    # before: each of these was skipped, the person's verdict lost: "0 verdict(s)", exit 0
    ([{"result": {"type": "choices", "from_name": "verdict", "value": {"choices": ["drop"]}}}],
     "an annotation's result is {\"type\": \"choices\""),
    ([{"result": ["drop"]}], "an annotation's result is [\"drop\"]"),
    # found by probing: the text "false" counted as cancelled, the verdict lost, exit 0
    ([{"was_cancelled": "false", "result": [{"type": "choices", "from_name": "verdict", "value": {"choices": ["drop"]}}]}],
     "an annotation's was_cancelled is \"false\", not true or false"),
], ids=["value-text", "nested-list", "choices-text", "number", "mapping", "result-mapping", "result-words",
        "cancelled-text"])
def test_label_studio_annotations_of_another_shape_are_refused(project, annotations, fragment):
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    tasks[0]["annotations"] = annotations
    import_refused(project, "export.json", json.dumps(tasks[:1]), "export.json: task 1", fragment,
                   "export the project from Label Studio as JSON")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("result, kind", [
    ({"from_name": "verdict", "value": {"choices": ["drop"]}}, "null"),
    ({"type": "taxonomy", "from_name": "verdict", "value": {"taxonomy": [["drop"]]}}, '"taxonomy"'),
], ids=["no-type", "taxonomy"])
def test_a_verdict_control_that_is_no_choices_is_refused(project, result, kind):
    # before: skipped, the person's verdict lost: "0 verdict(s)", exit 0
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    tasks[0]["annotations"] = [{"result": [result]}]
    import_refused(project, "export.json", json.dumps(tasks[:1]), "export.json: task 1: a result of the 'verdict' "
                   f"control has type {kind}, not choices", "reviews/label_studio_config.xml")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("word", ["²", "٣", "-0"])
def test_a_verdict_that_only_looks_like_a_class_index_is_refused(project, word):
    # before: "²" was a ValueError traceback, "٣" read as class 3 and "-0" as class 0
    import_refused(project, "mine.csv", as_seen(project, f"id,verdict\ntrain-04,{word}\n"), "mine.csv: line 2 (id 'train-04')",
                   f"verdict {word!r} is neither accept, reject, drop nor a class (cat, dog, owl)")


@pytest.mark.hostile("review")
def test_a_json_file_that_is_no_label_studio_export_is_refused(project):
    import_refused(project, "export.json", json.dumps({"tasks": []}), "export.json: holds a JSON dict, not a list of tasks")
    import_refused(project, "export.json", json.dumps([{"data": {"image": "x.png"}}]),
                   "export.json: task 1: no data.winnow_id", "reviews/label_studio_tasks.json")


@pytest.mark.hostile("review")
def test_import_before_any_export_is_refused(tmp_path):
    project = write_project(tmp_path / "project")
    (project / "mine.csv").write_text("id,verdict\ntrain-04,accept\n")
    before = files_under(project)
    done = run_winnow(project, "review", "import", "mine.csv")
    assert_error_line(done, "reviews/queue.csv: not found", "run `winnow review export`")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_importing_a_missing_file_or_a_folder_says_which(project):
    (project / "mine").mkdir()
    import_refused(project, "absent.csv", None, "error: absent.csv: not found; give the edited reviews/queue.csv")
    import_refused(project, "mine", None, "error: mine: a folder, not a file; give the edited reviews/queue.csv")
    os.mkfifo(project / "pipe.csv")  # before: "not found", beside the file a listing shows
    import_refused(project, "pipe.csv", None, "error: pipe.csv: not a regular file; give the edited reviews/queue.csv")


@pytest.mark.hostile("review")
def test_export_before_the_budget_ran_names_the_stage(tmp_path):
    project = write_project(tmp_path / "project")
    (project / "data/budget/decisions.parquet").unlink()
    before = files_under(project)
    done = run_winnow(project, "review", "export")
    assert_error_line(done, "data/budget/decisions.parquet: not found", "dvc repro budget")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_export_asking_for_fiftyone_without_it_says_so_in_one_line(tmp_path):
    project = write_project(tmp_path / "project")
    # shadows an installed fiftyone too (the command runs from the project), so the case means the same anywhere
    (project / "fiftyone.py").write_text("raise ImportError('No module named fiftyone')\n")
    before = files_under(project)
    done = run_winnow(project, "review", "export", "--fiftyone")
    assert_error_line(done, "--fiftyone: the fiftyone package cannot be imported", "pip install fiftyone")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
@pytest.mark.parametrize("line, fragments", [
    ("val-0,reject,0,2,0", ("line 3 (id 'val-0')", "not a train image of data/degrade",
                            "no export lists it to review again; remove the line")),
    ("train-04,maybe,1,2,1", ("line 3 (id 'train-04')", "verdict 'maybe' is not one of accept, reject, relabel, drop")),
    ("train-04,relabel,7,2,1", ("line 3 (id 'train-04')", "label '7' is not a class index in [0, 2] or -1")),
    ("train-04,accept,2,9,1", ("line 3 (id 'train-04')", "suggested '9' is not a class index in [0, 2] or -1")),
    ("train-04,accept,2,,1", ("line 3 (id 'train-04')", "suggested '' is not a class index in [0, 2] or -1")),
    ("train-04,reject,0,2,1", ("line 3 (id 'train-04')", "verdict reject needs the label its given label 1, not 0")),
    # before: applied as a relabel to the label the image had, and counted as relabelled by a person
    ("train-04,relabel,1,2,1", ("line 3 (id 'train-04')", "verdict relabel needs the label a class index other than its "
                                                        "given label 1, not 1")),
    # before (no suggested column): applied as a relabel to cat, and counted as accepting the suggestion owl
    ("train-04,accept,0,2,1", ("line 3 (id 'train-04')", "verdict accept needs the label its suggestion 2, not 0")),
    ("train-04,accept,1,2,1", ("line 3 (id 'train-04')", "verdict accept needs the label its suggestion 2, not 1")),
    ("train-04,relabel,2,2,1", ("line 3 (id 'train-04')", "verdict relabel with label 2 is its suggestion: write accept")),
    ("train-07,drop,-1,-1,1", ("line 3 (id 'train-07')", "verdict drop with label -1 is its suggestion: write accept")),
    ("train-04,reject,1,1,1", ("line 3 (id 'train-04')", "suggested 1 is its label in data/degrade; a suggestion drops "
                                                       "or relabels: if the data changed since the review")),
    ("train-08,accept,-1,-1,2", ("line 3: id 'train-08' has a verdict already", "one line per image")),
    ("train-04,accept,2,2,", ("line 3 (id 'train-04')", "given '' is not a class index in [0, 2]")),
    ("train-04,reject,0,2,0", ("line 3 (id 'train-04')", "its label was 0 when reviewed and is 1 in data/degrade now",
                               "export and review again")),
])
def test_a_verdicts_file_edited_into_nonsense_stops_the_variants_stage(project, line, fragments):
    (project / "reviews/verdicts.csv").write_text(
        HEADER + row(project, "train-08,accept,-1,-1,2") + "\n" + row(project, line) + "\n")
    before = files_under(project)
    done = run_stage(project, "variants")
    assert_error_line(done, "reviews/verdicts.csv", *fragments)
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_verdicts_file_without_the_suggestions_is_refused(project):
    # written before verdicts recorded what accepting did: its accept could not be checked against its label
    (project / "reviews/verdicts.csv").write_text("id,verdict,label\ntrain-04,accept,0\n")
    assert refused_line(project, "variants") == (
        "error: reviews/verdicts.csv: lacks columns suggested, given, digest, classes (written by an older winnow); "
        "import the "
        "reviewed "
        "file again with `winnow review import --replace FILE`, which writes it anew")
    # and that advice works: --replace does not read the old file
    (project / "mine.csv").write_text(as_seen(project, "id,verdict\ntrain-04,accept\n"))
    done = run_winnow(project, "review", "import", "--replace", "mine.csv")
    assert done.returncode == 0, done.stderr
    assert (project / "reviews/verdicts.csv").read_text().splitlines() == [
        "id,verdict,label,suggested,given,digest,classes", row(project, "train-04,accept,2,2,1")]


@pytest.mark.hostile("review")
def test_a_verdicts_file_whose_every_line_has_a_field_too_many_is_refused(project):
    # before: pandas took the ids for an index, and the error named id 'accept' and verdict '-1'
    (project / "reviews/verdicts.csv").write_text(
        HEADER + row(project, "train-08,accept,-1,-1,2") + ",x\n" + row(project, "train-04,reject,1,2,1") + ",y\n")
    assert refused_line(project, "variants") == (
        "error: reviews/verdicts.csv: its lines hold more fields than the header (id, verdict, label, suggested, "
        "given, digest, classes); "
        "write it with `winnow review import`, or restore the header-only file from git")


@pytest.mark.hostile("review")
def test_a_verdict_on_a_label_that_changed_since_the_export_is_refused(project):
    # before: "reject" (keep dog, as the person saw it) was written as label cat, the image's label now
    text = as_seen(project, "id,verdict\ntrain-04,reject\n")
    relabel_everywhere(project, "train-04", 0)  # dog -> cat, as another degrade seed might
    import_refused(project, "mine.csv", text,
                   "mine.csv: id 'train-04' was 'dog' when exported and is 'cat' in data/degrade now",
                   "export the queue again and review that image anew")


@pytest.mark.hostile("review")
def test_an_imported_verdict_stops_applying_when_the_label_changes_under_it(project):
    # before: a dog judged "accept cat" became an owl (another degrade seed), and variants relabelled owl -> cat,
    # a change nobody judged, counted as the person's verdict
    (project / "mine.csv").write_text(as_seen(project, "id,verdict\ntrain-06,accept\n"))
    assert run_winnow(project, "review", "import", "mine.csv").returncode == 0
    data = read_imageset(project / "data/degrade")
    manifest = data.manifest.copy()
    manifest.loc[manifest["id"] == "train-06", "label"] = 2  # dog -> owl
    write_imageset(project / "data/degrade", np.asarray(data.images), manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))  # reran too
    assert refused_line(project, "variants") == (
        "error: reviews/verdicts.csv: line 3 (id 'train-06'): its label was 1 when reviewed and is 2 in data/degrade "
        "now; the verdict was for the label the person saw: export and review again, or remove the line")


@pytest.mark.hostile("review")
def test_a_verdict_made_before_a_label_changed_is_refused_after_a_new_export_too(project):
    # before: the queue exported again after the change said cat, so the old file's "reject" kept cat, not dog
    queue = (project / "reviews/queue.csv").read_text()
    relabel_everywhere(project, "train-04", 0)
    done = run_winnow(project, "review", "export")
    assert done.returncode == 0, done.stderr
    # the old queue as the person filled it in: verdict is its last column
    lines = [line + ("reject" if line.startswith("train-04,") else "") for line in queue.splitlines()]
    import_refused(project, "mine.csv", "\n".join(lines) + "\n",
                   "mine.csv: id 'train-04' was 'dog' when exported and is 'cat' in data/degrade now",
                   "export the queue again and review that image anew")


@pytest.mark.hostile("review")
def test_a_label_studio_export_from_another_interface_is_refused(project):
    # before: its "choice" results were left out without a word: 0 verdicts, exit 0
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    tasks[0]["annotations"] = [{"result": [{"type": "choices", "from_name": "choice", "value": {"choices": ["cat"]}}]}]
    import_refused(project, "export.json", json.dumps(tasks[:1]), "export.json: task 1",
                   "its choices come from control(s) 'choice', not 'verdict'",
                   "reviews/label_studio_config.xml as the project's labelling interface")


@pytest.mark.hostile("review")
@pytest.mark.parametrize("text, fragments", [
    # before: pandas renamed the second verdict column and the first was read without a word
    ("id,verdict,verdict\ntrain-04,accept,reject\n", ("mine.csv: the header names verdict twice",
                                                       "keep one column of each")),
    # a spreadsheet's semicolons or tabs are read as its columns (stop 79: Excel of a comma-decimal locale cannot save
    # commas), so the file is judged by what it holds: here no column saying what the person saw
    ("id;verdict\ntrain-04;accept\n", ("mine.csv: line 2 (id 'train-04'): no given, digest, action",)),
    ("id\tverdict\ntrain-04\taccept\n", ("mine.csv: line 2 (id 'train-04'): no given, digest, action",)),
    # before: blank lines were skipped, so the error named line 2 for the row on line 4
    ("id,verdict\n\n\ntrain-05,fox\n", ("mine.csv: line 4 (id 'train-05')", "no given, digest")),
])
def test_a_csv_the_import_would_misread_is_refused_naming_the_line(project, text, fragments):
    import_refused(project, "mine.csv", text, *fragments)


@pytest.mark.hostile("review")
def test_a_csv_cut_short_or_a_row_short_of_fields_is_refused_naming_the_line(project):
    # before: pandas read the missing fields as empty, so the verdict on that row was lost: exit 0
    import_refused(project, "mine.csv", "id,verdict\ntrain-04,accept\ntrain-05\n",
                   "mine.csv: line 3 holds 1 of the header's 2 fields", "fix or remove that line")
    # the exported queue with two verdicts filled in, the file ending part way through the second row
    queue = (project / "reviews/queue.csv").read_text().splitlines()
    header = queue[0].split(",")
    assert header[-1] == "verdict" and len(queue) > 2
    rows = [line.split(",") for line in queue[1:3]]
    cut = ",".join(rows[1][:6])
    import_refused(project, "queue_cut.csv", "\n".join([queue[0], ",".join(rows[0][:-1] + ["accept"]), cut]) + "\n",
                   f"queue_cut.csv: line 3 holds 6 of the header's {len(header)} fields")


@pytest.mark.hostile("review")
def test_a_label_studio_export_nested_too_deep_is_refused(project):
    # before: a RecursionError traceback
    import_refused(project, "export.json", "[" * 1500 + "]" * 1500, "export.json: not a Label Studio export "
                   "(JSON nested deeper than the parser reads)")


def test_an_old_label_studio_export_with_completions_is_read(project):
    # Label Studio before 1.0 named the annotations "completions"; before, such a file gave 0 verdicts, exit 0
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    task = next(t for t in tasks if t["data"]["winnow_id"] == "train-04")
    task["completions"] = [{"result": [{"type": "choices", "from_name": "verdict", "value": {"choices": [" cat "]}}]}]
    (project / "export.json").write_text(json.dumps([task]))
    done = run_winnow(project, "review", "import", "export.json")
    assert done.returncode == 0, done.stderr
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-04,relabel,0,2,1")]


def test_a_label_studio_result_of_another_control_is_not_a_verdict(project):
    # before: a second choices control (a comment) read as a verdict disagreeing with the first
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    task = next(t for t in tasks if t["data"]["winnow_id"] == "train-04")
    task["annotations"] = [{"was_cancelled": False, "result": [
        {"type": "choices", "from_name": "verdict", "value": {"choices": ["cat"]}},
        {"type": "choices", "from_name": "comment", "value": {"choices": ["bad-quality"]}}]}]
    (project / "export.json").write_text(json.dumps([task]))
    done = run_winnow(project, "review", "import", "export.json")
    assert done.returncode == 0, done.stderr
    assert (project / "reviews/verdicts.csv").read_text().splitlines()[1:] == [
        row(project, "train-08,accept,-1,-1,2"), row(project, "train-04,relabel,0,2,1")]


@pytest.mark.hostile("review")
def test_export_where_the_queue_is_a_folder_fails_before_any_thumbnail(tmp_path):
    # before: an IsADirectoryError traceback after hundreds of thumbnails were written
    project = write_project(tmp_path / "project")
    (project / "reviews/queue.csv").mkdir(parents=True)
    before = files_under(project)
    done = run_winnow(project, "review", "export")
    assert assert_error_line(done) == "error: review export: reviews/queue.csv: is a folder; give a file path"
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_class_named_like_a_verdict_word_is_offered_and_imported_as_that_class(tmp_path, monkeypatch):
    # before: the page offered "relabel to Reject" as the value Reject, which the import read as the verdict
    # reject (train-05 kept as dog); a class drop stood twice among Label Studio's choices
    import review_project

    monkeypatch.setattr(review_project, "CLASSES", ["cat", "dog", "Reject"])
    project = write_project(tmp_path / "project")
    assert run_winnow(project, "review", "export").returncode == 0
    assert '<option value="class:Reject">Reject</option>' in (project / "reviews/index.html").read_text()
    config = (project / "reviews/label_studio_config.xml").read_text()
    assert [line.strip() for line in config.splitlines() if "<Choice " in line] == [
        '<Choice value="drop"/>', '<Choice value="cat"/>', '<Choice value="dog"/>', '<Choice value="class:Reject"/>']
    # before: the tasks' prediction chose "Reject", none of the config's choices, and for a class named drop the
    # verdict drop: accepting the prediction dropped the image the suggestion relabelled
    tasks = json.loads((project / "reviews/label_studio_tasks.json").read_text())
    predicted = {t["data"]["winnow_id"]: t["predictions"][0]["result"][0]["value"]["choices"] for t in tasks}
    assert predicted["train-04"] == ["class:Reject"]
    (project / "mine.csv").write_text(as_seen(project, "id,verdict\ntrain-05,class:Reject\ntrain-06,Reject\n"))
    done = run_winnow(project, "review", "import", "mine.csv")
    assert done.returncode == 0, done.stderr
    rows = (project / "reviews/verdicts.csv").read_text().splitlines()
    # train-05 (dog): relabelled to class 2, Reject; train-06 (dog, embedding-clean's relabel to cat): the word
    # Reject, typed by hand, is the verdict, as the docs say: kept as dog
    assert rows[1:] == [row(project, "train-05,relabel,2,0,1"), row(project, "train-06,reject,1,0,1")]


@pytest.mark.hostile("review")
def test_an_export_over_a_queue_holding_verdicts_not_imported_is_refused(project):
    # before: exit 0 and the verdict column empty again: a person's review (reviews/ is not in git) lost
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    queue.loc[queue["id"] == "train-04", "verdict"] = "accept"
    queue.loc[queue["id"] == "train-08", "verdict"] = "drop"  # imported already (the fixture's verdicts.csv)
    queue.to_csv(project / "reviews/queue.csv", index=False)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "review", "export")) == (
        "error: reviews/queue.csv: holds 1 verdict(s) not imported (first: id 'train-04', 'accept'), "
        "which a new "
        "export would overwrite; import them first (winnow review import reviews/queue.csv), or, where that import "
        "is refused because the data or the cleaners changed since, move the file aside (mv reviews/queue.csv "
        "reviews/queue-reviewed.csv), export, and import reviews/queue-reviewed.csv; or delete the file to discard "
        "them")
    assert_nothing_left(project, before)
    assert run_winnow(project, "review", "import", "reviews/queue.csv").returncode == 0
    assert run_winnow(project, "review", "export").returncode == 0


@pytest.mark.hostile("review")
def test_a_class_typed_in_another_unicode_form_is_that_class():
    # before: "café" typed on a keyboard (one code point) for a class folder named on macOS (e + a combining
    # accent) was "neither accept, reject, drop nor a class (café, dog, owl)": a list that showed it
    from winnow.review_verdicts import resolve

    classes = ["cafe\u0301", "dog", "owl"]
    assert resolve("caf\u00e9", where="x", given=1, action="drop", suggested=-1, classes=classes) == ("relabel", 0)


@pytest.mark.hostile("review")
def test_an_export_over_verdicts_that_do_not_resolve_is_refused(project):
    # before: a verdict import refused (keep: no such word) counted as imported, so the export its error line
    # pointed to wiped every verdict with exit 0
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    queue["verdict"] = "keep"
    queue.to_csv(project / "reviews/queue.csv", index=False)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "review", "export")).startswith(
        f"error: reviews/queue.csv: holds {len(queue)} verdict(s) not imported (first: id "
        f"{queue['id'][0]!r}, 'keep'), which a new export would overwrite")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_an_export_over_a_cut_down_queue_holding_verdicts_is_refused(project):
    # before: a queue kept as id,image,verdict made import ask for a new export, which wiped the verdicts
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    queue = queue.loc[:, ["id", "image", "verdict"]].assign(verdict="accept")
    queue.to_csv(project / "reviews/queue.csv", index=False)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "review", "export")) == (
        f"error: reviews/queue.csv: holds {len(queue)} verdict(s) but lacks column(s) action, digest, given, suggested, "
        "so whether they were imported cannot be told, and a new export would overwrite them; restore the columns and "
        "import it (winnow review import reviews/queue.csv), or delete the file to discard them")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
def test_a_queue_edited_to_relabel_an_image_to_its_own_label_is_refused_at_import(project):
    # before: the import wrote "accept" of a relabel to the given class; the variants stage refused it only later
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    row = queue.index[queue["action"] == "relabel"][0]
    image, suggested = queue.loc[row, "id"], queue.loc[row, "suggested"]
    queue.loc[row, "suggested"] = queue.loc[row, "given"]
    queue.to_csv(project / "reviews/queue.csv", index=False)
    import_refused(project, "mine.csv", as_seen(project, f"id,verdict\n{image},accept\n"),
                   f"reviews/queue.csv: id {image!r} says relabel {queue.loc[row, 'given']!r}, and the cleaners suggest "
                   f"relabel {suggested!r}: the queue was edited")


def rejudged(project: Path) -> None:
    """The scores and the cleaners' tables of ``project`` stamped with data/degrade's pixels now, as the score stage and
    the cleaners rerun on them would write them (their scores and decisions as they were)."""
    for path in ("data/score/scores.parquet", "data/threshold/flags.parquet", "data/dedup/groups.parquet",
                 "data/confident-learn/label_issues.parquet", "data/embedding-clean/decisions.parquet",
                 "data/data-valuation/decisions.parquet"):
        if (project / path).is_file():
            write_judged(project, path, pd.read_parquet(project / path))


def replace_pixels(project: Path, image_id: str) -> None:
    """Other pixels under ``image_id`` in data/degrade, its label unchanged (another degrade seed, or a file
    replaced under its name), and the cleaners and the budget ran again on them."""
    data = read_imageset(project / "data/degrade")
    images, manifest = np.array(data.images), data.manifest.drop(columns="digest")
    images[manifest.index[manifest["id"] == image_id][0]] ^= 0xFF
    write_imageset(project / "data/degrade", images, manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    rejudged(project)
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))


@pytest.mark.hostile("review")
def test_an_imported_verdict_stops_applying_when_the_pixels_change_under_its_id(project):
    # before: "accept" (drop train-07) stayed in force when train-07 came to hold another picture of a dog, and
    # variants dropped that picture as the person's verdict
    (project / "mine.csv").write_text(as_seen(project, "id,verdict\ntrain-07,accept\n"))
    assert run_winnow(project, "review", "import", "mine.csv").returncode == 0
    seen = digest(project, "train-07")
    replace_pixels(project, "train-07")
    assert refused_line(project, "variants") == (
        f"error: reviews/verdicts.csv: line 3 (id 'train-07'): its pixels changed since the review (digest {seen!r} "
        f"then, {digest(project, 'train-07')!r} in data/degrade now); the verdict was for the picture the person "
        "saw: export and review again, or remove the line")


@pytest.mark.hostile("review")
def test_a_verdict_on_pixels_that_changed_since_the_export_is_refused_at_import(project):
    seen = digest(project, "train-07")
    replace_pixels(project, "train-07")
    import_refused(project, "mine.csv", f"id,verdict,given,digest,action\ntrain-07,accept,dog,{seen},drop\n",
                   f"mine.csv: id 'train-07' showed pixels of digest {seen!r}, and data/degrade holds other pixels "
                   "under that id now", "export the queue again and review that image anew")


DIGITS_ONLY_PIXELS = [  # 8x8 grey pixels whose digest is 0065817473709735: decimal digits, a leading zero
    224, 235, 114, 71, 100, 138, 218, 235, 173, 181, 21, 92, 237, 129, 165, 21, 51, 84, 86, 92, 5, 202, 31, 57, 55, 129,
    79, 226, 167, 253, 249, 77, 20, 245, 155, 80, 54, 79, 235, 175, 11, 217, 33, 148, 157, 135, 72, 250, 214, 164, 135,
    87, 99, 130, 239, 162, 144, 236, 117, 107, 165, 254, 226, 123]


def write_digits_only_pixels(project: Path, image_id: str) -> None:
    """:data:`DIGITS_ONLY_PIXELS` under ``image_id`` in data/degrade (8x8 grey), its label unchanged, and the cleaners
    and the budget ran again on them."""
    data = read_imageset(project / "data/degrade")
    images, manifest = np.array(data.images), data.manifest.drop(columns="digest")
    images[manifest.index[manifest["id"] == image_id][0], :, :, 0] = np.array(DIGITS_ONLY_PIXELS).reshape(8, 8)
    write_imageset(project / "data/degrade", images, manifest, data.classes,
                   tables=planted_log(project / "data/degrade"))
    rejudged(project)
    edit_table(project / "data/budget/decisions.parquet", lambda table: budget_stamped(project, table))


@pytest.mark.hostile("review")
def test_a_digest_of_digits_a_spreadsheet_stripped_of_its_leading_zero_is_the_same_picture(project):
    # before: "showed pixels of digest '379815144627617', and data/degrade holds other pixels": 4 of MNIST-5k's
    # digests are decimal digits alone, and a spreadsheet saves 0379815144627617 as a number
    write_digits_only_pixels(project, "train-07")
    assert run_winnow(project, "review", "export").returncode == 0  # the queue shows the new picture
    (project / "mine.csv").write_text("id,verdict,given,digest,action\ntrain-07,accept,dog,65817473709735,drop\n")
    done = run_winnow(project, "review", "import", "mine.csv")
    assert done.returncode == 0, done.stderr
    assert "train-07,accept,-1" in (project / "reviews/verdicts.csv").read_text()


@pytest.mark.hostile("review")
def test_a_page_download_made_before_a_label_changed_is_refused_after_a_new_export(project):
    # before: the page's file had no given column, so its "reject" (keep dog) was checked against the queue
    # exported again after the change, and kept cat
    (project / "verdicts-reviewed.csv").write_text(
        f"id,verdict,given,digest\ntrain-04,reject,dog,{digest(project, 'train-04')}\n")
    relabel_everywhere(project, "train-04", 0)
    (project / "reviews/queue.csv").unlink()  # a new export, of the data as it is now
    assert run_winnow(project, "review", "export").returncode == 0
    import_refused(project, "verdicts-reviewed.csv", None,
                   "verdicts-reviewed.csv: id 'train-04' was 'dog' when exported and is 'cat' in data/degrade now")


@pytest.mark.hostile("review")
def test_a_queue_edited_to_suggest_what_no_cleaner_did_is_refused_at_import(project):
    # before: the dark image train-00 (a quality drop), edited into "relabel to dog" and accepted, was relabelled
    # cat -> dog, and counted as accepting a cleaner's suggestion
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    queue.loc[queue["id"] == "train-00", ["action", "suggested", "verdict"]] = ["relabel", "dog", "accept"]
    queue.to_csv(project / "reviews/queue.csv", index=False)
    import_refused(project, "reviews/queue.csv", None,
                   "reviews/queue.csv: id 'train-00' says relabel 'dog', and the cleaners suggest drop '': the queue "
                   "was edited, or the pipeline ran again since the export; run `winnow review export` again (edit "
                   "only the verdict column)")


@pytest.mark.hostile("review")
def test_a_bare_number_is_refused_where_classes_are_named_by_numbers(tmp_path, monkeypatch):
    # before: a spreadsheet saved the class "01" as 1, read as index 1: the class "02", train-07's own, so the
    # person's "relabel to 01" became reject
    import review_project

    monkeypatch.setattr(review_project, "CLASSES", ["01", "02", "03"])
    project = write_project(tmp_path / "project")
    assert run_winnow(project, "review", "export").returncode == 0
    (project / "reviews/verdicts.csv").write_text(HEADER)
    import_refused(project, "mine.csv", as_seen(project, "id,verdict\ntrain-07,1\n"),
                   "mine.csv: line 2 (id 'train-07'): verdict '1' names no class, and with classes named by numbers "
                   "('01', '02', '03') an index is ambiguous (a spreadsheet drops leading zeros); write the class name "
                   "as it is, and keep the column as text")


@pytest.mark.hostile("review")
def test_a_verdict_that_keeps_a_train_copy_of_a_test_image_is_refused(tmp_path):
    # before: "reject" kept train-09, a copy of test-2 the budget dropped, and the report still said every such
    # copy was dropped
    project = write_project(tmp_path / "project")
    applied = pd.read_parquet(project / "data/budget/decisions.parquet")
    leak = pd.DataFrame({"id": ["train-09"], "action": ["drop"], "label": [-1], "reason": ["leak"],
                         "stage": ["dedup"], "confidence": [np.nan]})
    pd.concat([applied, budget_stamped(project, leak)], ignore_index=True).to_parquet(
        project / "data/budget/decisions.parquet", index=False)
    assert run_winnow(project, "review", "export").returncode == 0
    (project / "reviews/verdicts.csv").write_text(HEADER)
    import_refused(project, "mine.csv", as_seen(project, "id,verdict\ntrain-09,reject\n"),
                   "mine.csv: id 'train-09': verdict reject keeps a train copy of a val, test or trusted image "
                   "(dedup: leak), which pruned always drops")
    # and written by hand, variants refuses it
    (project / "reviews/verdicts.csv").write_text(HEADER + row(project, "train-09,reject,2,-1,2") + "\n")
    assert refused_line(project, "variants") == (
        "error: reviews/verdicts.csv: id 'train-09': verdict reject keeps a train copy of a val, test or trusted "
        "image (dedup: leak), which pruned always drops: val or the test would score an image the model learnt, or "
        "the trusted split judge the budget on one; write drop or accept for it, or remove the verdict")


@pytest.mark.hostile("review")
def test_an_export_over_a_queue_whose_verdict_changed_since_its_import_is_refused(project):
    # before: the person's second thought (reject) was wiped by the export, and verdicts.csv kept accept
    queue = pd.read_csv(project / "reviews/queue.csv", dtype=str, keep_default_na=False)
    queue.loc[queue["id"] == "train-04", "verdict"] = "accept"
    queue.to_csv(project / "reviews/queue.csv", index=False)
    assert run_winnow(project, "review", "import", "reviews/queue.csv").returncode == 0
    queue.loc[queue["id"] == "train-04", "verdict"] = "reject"
    queue.to_csv(project / "reviews/queue.csv", index=False)
    before = files_under(project)
    assert assert_error_line(run_winnow(project, "review", "export")) == (
        "error: reviews/queue.csv: id 'train-04' says 'reject' and reviews/verdicts.csv holds 'accept' for it (1 "
        "such verdict(s)), which a new export would overwrite in the queue; to keep 'accept', clear the queue's "
        "verdict cell (or delete reviews/queue.csv), to keep 'reject', import the queue (winnow review import "
        "reviews/queue.csv), then export, or, where that import is refused because the data or the cleaners changed "
        "since, move the file aside (mv reviews/queue.csv reviews/queue-reviewed.csv), export, and import "
        "reviews/queue-reviewed.csv")
    assert_nothing_left(project, before)


@pytest.mark.hostile("review")
@pytest.mark.parametrize("classes", [["cat", "owl", "dog"], ["cat", "dog", "owl", "ant"]])
def test_a_verdict_made_before_the_class_list_changed_is_refused(project, classes):
    # found by probing: verdicts hold class numbers; with a class removed (or one added that sorts earlier) a
    # person's "8" trained as "9" without a word. The classes renamed or extended here: the key no longer matches
    data = read_imageset(project / "data/degrade")
    write_imageset(project / "data/degrade", data.images, data.manifest, classes,
                   tables=planted_log(project / "data/degrade"))
    ingested = read_imageset(project / "data/ingest")
    write_imageset(project / "data/ingest", ingested.images, ingested.manifest, classes)
    before = files_under(project)
    key = class_list_key(["cat", "dog", "owl"])
    assert refused_line(project, "variants") == (
        f"error: reviews/verdicts.csv: line 2 (id 'train-08'): the data set's classes changed since the review (class "
        f"list {key!r} then, {class_list_key(classes)!r} now: a class removed, renamed or added), so its class numbers "
        "would name other classes: export and review again, or remove the line")
    assert_nothing_left(project, before)
