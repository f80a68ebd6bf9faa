"""Hostile class names through the pipeline (probe 78):

- a class whose name reached classes.json decomposed (NFD: "café" as "cafe" + U+0301, as macOS names a folder), named
  in a degrade option as typed (NFC): refused as "no class is named 'café' (classes.json: 'café', ...): name one of
  them", whose fix, to name the class shown, failed the same way. It is the class, as the review reads a verdict
  (winnow.imageset.alike): ingest refuses two classes that read alike, so the name picks one class; `winnow study
  queue --classes café` likewise, queued as classes.json spells it;
- a class named "true", "null", "1.0", "1e3" or a day, named in a degrade option unquoted: YAML reads a boolean, None, a
  float or a date, refused as "got True" with no word of the quoting that names the class (as a number's refusal says).
"""

import json
import unicodedata

import numpy as np
import pandas as pd
import pytest
from winnow.degrade import degrade
from winnow.errors import WinnowError
from winnow.imageset import ImageSet
from winnow.study_ingested import deletable_classes
from winnow.yaml_text import load_yaml

DECOMPOSED = unicodedata.normalize("NFD", "café")
TYPED = unicodedata.normalize("NFC", "café")


def imageset(classes: list[str]) -> ImageSet:
    """4 train, 1 val and 1 test image of random 8x8 grey pixels per class of ``classes``."""
    rows = [(f"{split}-{c}-{i}", split, c) for split, n in (("train", 4), ("val", 1), ("test", 1))
            for c in range(len(classes)) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(
        source="t", orig_h=8, orig_w=8, orig_mode="L", digest="")
    images = np.random.default_rng(0).integers(1, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    return ImageSet(images=images, manifest=manifest, classes=list(classes))


@pytest.mark.hostile("params")
def test_a_degrade_option_naming_a_decomposed_class_as_typed_cuts_that_class():
    kept, _ = degrade(imageset([DECOMPOSED, "thé", "eau"]),
                      perturbations=[{"kind": "class_subsample", "classes": [TYPED], "keep": 0.5}])
    train = kept.manifest[kept.manifest["split"] == "train"]
    assert np.bincount(train["label"], minlength=3).tolist() == [2, 4, 4]
    assert kept.classes == [DECOMPOSED, "thé", "eau"]  # the names stay as the data set gives them


@pytest.mark.hostile("params")
@pytest.mark.parametrize("name", ["true", "null", "1.0", "1e3", "2024-01-02"])
def test_a_class_whose_name_yaml_reads_as_another_type_written_unquoted_is_told_to_quote_it(name):
    # params.yaml's `classes: [true]` for a class named "true" (YAML 1.2, as DVC reads it: a boolean; "null" None,
    # "1.0" and "1e3" floats, a day a date). Before: "... or a name in classes.json, got True", beside a class of that
    # very name, and no word of the quoting that names it (a number's refusal says it since stop 64)
    spec = load_yaml(f"{{kind: class_subsample, keep: 0.5, classes: [{name}]}}", name="params.yaml")
    with pytest.raises(WinnowError) as refused:
        degrade(imageset(["cat", name, "dog"]), perturbations=[spec])
    assert str(refused.value) == (
        "degrade.perturbations[0] (class_subsample): classes must be a class index in [0, 2] or a name in classes.json; "
        f"to name class {name!r} write it as text, quoted, got {spec['classes'][0]!r}")


@pytest.mark.hostile("study")
def test_study_queue_deletes_a_decomposed_class_named_as_typed(tmp_path, monkeypatch):
    # the study's class_deletion names the class to degrade as classes.json spells it. Before: `--classes café` (NFC)
    # refused as "not among the 3 classes of data/ingest/classes.json ('café', ...)", the class shown being it
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data/ingest").mkdir(parents=True)
    (tmp_path / "data/ingest/classes.json").write_text(json.dumps([DECOMPOSED, "thé", "eau"]))
    assert deletable_classes([TYPED, "eau"], current=lambda: True) == [DECOMPOSED, "eau"]
