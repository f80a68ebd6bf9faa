"""Review of stop 79's gan, remote-URL, yaml_text, review-verdict and ingest mends (revgan 79): inputs that were
read before those commits and were refused by them, or mends a neighbouring input still got past."""

from __future__ import annotations

import pytest

from winnow.errors import WinnowError
from winnow.review_verdicts import resolve


def _resolved(word: str, classes: list[str]) -> tuple[str, int]:
    return resolve(word, where="reviews/queue.csv: line 2 (id 'a')", given=0, action="relabel", suggested=1,
                   classes=classes)


@pytest.mark.hostile("review")
@pytest.mark.parametrize(("word", "classes", "verdict"), [
    ("drop ", ["cat", "drop"], ("drop", -1)),  # a spreadsheet's trailing space
    ("accept  ", ["accept", "dog"], ("accept", 1)),
    ("reject\u00a0", ["reject", "dog"], ("reject", 0)),  # a no-break space a web form adds
    ("ｄｒｏｐ", ["cat", "drop"], ("drop", -1)),  # the page has always written the class drop class:drop
], ids=["trailing-space", "two-spaces", "no-break-space", "full-width-word-ascii-class"])
def test_a_verdict_word_beside_a_class_of_its_ascii_name_is_the_verdict_as_documented(word, classes, verdict):
    # README: "a class named like a verdict word, such as Reject, is written class:Reject ... since the bare word is
    # the verdict". Before this mend (011a350b): "verdict 'drop ' reads as drop and names the class 'drop '; write
    # drop, or class:drop  for the class", a valid import refused, its fix naming a class that does not exist
    assert _resolved(word, classes) == verdict


@pytest.mark.hostile("review")
def test_a_full_width_class_written_bare_with_a_space_is_refused_naming_the_class_as_spelt():
    # the refusal 011a350b added still fires where it should, and its fix now names the class as classes.json spells
    # it (before: "class:ｄｒｏｐ " with the cell's trailing space, which names no class)
    with pytest.raises(WinnowError) as raised:
        _resolved("ｄｒｏｐ ", ["cat", "ｄｒｏｐ"])
    assert str(raised.value) == ("reviews/queue.csv: line 2 (id 'a'): verdict 'ｄｒｏｐ ' reads as drop and names the "
                                 "class 'ｄｒｏｐ'; write drop, or class:ｄｒｏｐ for the class")
