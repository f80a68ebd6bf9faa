"""Hostile class names, the neighbours of probe 78 (tests/test_hostile_classnames_78.py): a class whose name reached
the data decomposed (NFD: "café" as "cafe" + U+0301, as macOS names a folder) and is typed composed (NFC) elsewhere
is the class, as a person reads it (winnow.imageset.alike), wherever a class name is typed:

- gate.tolerances' per_class.café.recall: refused as "match no metric the gate tests" beside a class printed alike;
  and a base's earlier-release per_class.café.f1: 0 was left out with a note, the class gated at the looser
  per_class.*.f1 0.25: the gate passed a class whose recall fell by 0.2;
- ingest.classes typed beside an npz's own classes array: refused as "names its own classes; set ingest.classes: null
  or make them equal", both lists printing alike. They are the file's classes, kept as the file spells them (its
  other readers, a trusted set of the same names, match the file's spelling exactly);
- study queue --classes café café, the one typed NFC and the other NFD: with no classes.json to spell them, queued as
  two experiments (each a full dvc repro) deleting one class, as degrade reads both.
"""

import unicodedata

import numpy as np
import pandas as pd
import pytest
from gate_repo import init, labels_of, write_variant, wrong_on
from hostile_harness import ROOT, default_params, make_project, run_winnow

from winnow import cli
from winnow.errors import WinnowError
from winnow.gate_table import GateSettings, unused_tolerances
from winnow.npz_files import load_npz

DECOMPOSED = unicodedata.normalize("NFD", "café")
TYPED = unicodedata.normalize("NFC", "café")


@pytest.mark.hostile("gate")
def test_a_tolerance_typed_for_a_decomposed_class_decides_that_class():
    # before: unused_tolerances gave (['per_class.café.recall'], []), refused as "match no metric the gate tests"
    settings = GateSettings(files=(), tolerances={"accuracy": 0.005, "per_class.*.recall": 0.02,
                                                  "per_class.*.false_positives": 0.02, f"per_class.{TYPED}.recall": 0.0})
    table = pd.DataFrame({"class": ["", DECOMPOSED, DECOMPOSED, "thé", "thé"],
                          "metric": ["accuracy", "recall", "false_positives", "recall", "false_positives"]})
    assert unused_tolerances(table, settings) == ([], [])
    assert settings.tolerance(f"per_class.{DECOMPOSED}.recall") == 0.0
    assert settings.tolerance("per_class.thé.recall") == 0.02


@pytest.mark.hostile("gate")
def test_an_earlier_release_entry_typed_for_a_decomposed_class_still_gates_it(tmp_path):
    # the worst case: before, café passed with the note "HEAD's gate.tolerances.per_class.café.f1, read as
    # per_class.café.recall, decides no class's recall here; left out", café's recall down 0.2 judged at 0.25
    classes = [DECOMPOSED, "b"]
    tolerances = {"accuracy": 0.25, "per_class.*.f1": 0.25, f"per_class.{TYPED}.f1": 0.0}
    project = make_project(tmp_path / "project", default_params() | {
        "gate": {**default_params()["gate"], "tolerances": tolerances}})
    labels = labels_of(100, classes)
    write_variant(project, "baseline", labels, labels, classes=classes)
    init(project)
    write_variant(project, "baseline", labels, wrong_on(labels, range(20), classes=classes), classes=classes)
    done = run_winnow(project, "gate", "--base", "HEAD")
    assert done.returncode == 1, done.stdout + done.stderr
    # b took those 20 images: 20 per 100 of b's own, its false positives (at the default 0.02) regress too
    verdict = done.stdout.splitlines()[-1]
    assert verdict.startswith("gate: FAIL — 2 regression(s): baseline b (false positives) +0.2000 (p adj ")
    assert f"; baseline {DECOMPOSED} -0.2000 (p adj " in verdict


def _named_npz(path, classes: list[str]):
    """An .npz of 2 tiny grey images per class of ``classes``, with its own ``classes`` array."""
    labels = np.repeat(np.arange(len(classes)), 2)
    np.savez(path, images=np.full((len(labels), 8, 8), 128, np.uint8), labels=labels, classes=np.array(classes))
    return path


@pytest.mark.hostile("npz")
def test_ingest_classes_typed_for_a_decomposed_class_of_the_npz_are_its_classes_as_the_file_spells_them(tmp_path):
    path = _named_npz(tmp_path / "set.npz", [DECOMPOSED, "eau"])
    assert load_npz(path, classes=[TYPED, "eau"]).classes == [DECOMPOSED, "eau"]


@pytest.mark.hostile("npz")
def test_ingest_classes_naming_other_classes_than_the_npz_are_refused(tmp_path):
    path = _named_npz(tmp_path / "set.npz", [DECOMPOSED, "eau"])
    with pytest.raises(WinnowError) as refused:
        load_npz(path, classes=["thé", "eau"])
    assert str(refused.value) == f"ingest.classes: {path} names its own classes; set ingest.classes: null or make them equal"


@pytest.mark.hostile("study")
def test_study_queue_refuses_one_class_given_twice_in_two_unicode_forms(tmp_path, monkeypatch, capsys):
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)  # no data/ingest: nothing spells the names as the data does
    assert cli.main(["study", "queue", "--sweeps", "class_deletion", "--classes", TYPED, DECOMPOSED, "--dry-run"]) == 1
    assert capsys.readouterr() == ("", "error: study queue --classes: 'caf\\xe9' and 'cafe\\u0301' name one class "
                                       "(they differ only in Unicode form or surrounding spaces); give it once\n")
    assert [path.name for path in tmp_path.iterdir()] == ["params.yaml"]  # nothing queued, nothing written
