"""Hostile class names, the trusted split's (after tests/test_hostile_classnames_78b.py): a trusted class spelt in
another Unicode form than the data set's class it shows ("café" composed, NFC, in the trusted folder or .npz beside
the data set's decomposed NFD "café", as a macOS folder names it) was refused as "differ only in Unicode form or
surrounding spaces; name the trusted folder as the data set does", the two names printing exactly alike. It is that
class now, as every other reader of a class name reads it (winnow.imageset.as_class), spelt as the data set spells it;
a name that really differs is still refused, and so are two trusted classes that read as one data-set class (which
of them the user checked is not for ingest to pick).

The sets are read with :func:`winnow.trusted_set.load_trusted` in this process, as tests/test_hostile_trusted_67.py
reads its .npz (the stage prints the message after ``error: ``); tests/test_hostile_budget.py runs the stage.
"""

import unicodedata

import numpy as np
import pytest
from test_hostile_budget import trusted_folder

from winnow.errors import WinnowError
from winnow.trusted_set import load_trusted

DECOMPOSED = unicodedata.normalize("NFD", "café")
COMPOSED = unicodedata.normalize("NFC", "café")
CLASSES = ["eau", DECOMPOSED]  # the data set's, as classes.json holds them


@pytest.mark.hostile("ingest")
def test_a_trusted_folder_spelling_a_decomposed_class_composed_is_that_class(tmp_path):
    # before: "ingest.trusted_path: class 'caf\xe9' of …/book and the data set's class 'cafe\u0301' differ only in
    # Unicode form or surrounding spaces; name the trusted folder as the data set does"
    book = trusted_folder(tmp_path / "book", {COMPOSED: 2, "eau": 1})
    loaded = load_trusted(book, classes=CLASSES, size=None)
    assert loaded.classes == CLASSES
    assert sorted(zip(loaded.ids.tolist(), loaded.labels.tolist())) == [
        (f"trusted/{COMPOSED}/0.png", 1), (f"trusted/{COMPOSED}/1.png", 1), ("trusted/eau/0.png", 0)]


@pytest.mark.hostile("npz")
def test_a_trusted_npz_naming_a_decomposed_class_composed_labels_that_class(tmp_path):
    book = tmp_path / "book.npz"
    np.savez(book, images=np.full((3, 8, 8), 128, np.uint8), labels=np.array([0, 1, 1]),
             classes=np.array([COMPOSED, "eau"]))  # its own order: café is its 0, the data set's 1
    loaded = load_trusted(book, classes=CLASSES, size=None)
    assert loaded.classes == CLASSES
    assert loaded.labels.tolist() == [1, 0, 0]


@pytest.mark.hostile("npz")
def test_two_trusted_classes_that_read_as_one_class_of_the_data_set_are_refused(tmp_path):
    # (a folder's reader refuses two such class folders itself, before any class is matched)
    book = tmp_path / "book.npz"
    np.savez(book, images=np.full((3, 8, 8), 128, np.uint8), labels=np.array([0, 1, 2]),
             classes=np.array([COMPOSED, DECOMPOSED, "eau"]))
    with pytest.raises(WinnowError) as refused:
        load_trusted(book, classes=CLASSES, size=None)
    assert str(refused.value) == (
        f"ingest.trusted_path: classes 'caf\\xe9' and 'cafe\\u0301' of {book} differ only in Unicode form or "
        "surrounding spaces, both the data set's class 'cafe\\u0301'; merge them into one")


@pytest.mark.hostile("ingest")
def test_a_trusted_class_that_really_differs_is_still_refused(tmp_path):
    book = trusted_folder(tmp_path / "book", {"cafe": 1, "eau": 1})  # no accent: another name, not another form
    with pytest.raises(WinnowError) as refused:
        load_trusted(book, classes=CLASSES, size=None)
    assert str(refused.value) == (f"ingest.trusted_path: class 'cafe' of {book} is not a class of the data set "
                                  f"(eau, {DECOMPOSED}); name its classes as the data set does")
