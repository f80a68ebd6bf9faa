"""Review of stop 79's libyaml reader (winnow.yaml_text._parsed_by_libyaml): texts libyaml read otherwise than ruamel,
DVC's reader, which ruamel alone read or refused before. Each is read now as ruamel reads it, in ruamel's words."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ruamel.yaml import YAML

from hostile_harness import _env
from winnow.errors import WinnowError
from winnow.review_verdicts import class_verdict, resolve
from winnow.yaml_text import load_yaml


@pytest.mark.parametrize("text, value", [
    ("- &x:\n  b: 1\n", [{"b": 1}]),  # before: [{None: None, 'b': 1}], libyaml's anchor x then the key ':'
    ("a: !\nb: 1\n", {"a": None, "b": 1}),  # before: '' (a bare tag: libyaml's text, ruamel's null)
    ("[x, ?:]\n", ["x", {":": None}]),  # before: [x, {None: None}], libyaml's key ? and value :
    ('a: "x\ty"\n', {"a": "x\ty"}),  # a tab inside quotes is text to both: still read
], ids=["anchor-colon", "bare-tag", "key-colon", "quoted-tab"])
def test_a_text_libyaml_reads_otherwise_has_ruamels_value(text, value):
    assert YAML(typ="safe", pure=True).load(text) == value  # DVC's reader: the value the text has
    assert load_yaml(text, name="dvc.yaml") == value


@pytest.mark.parametrize("text, line", [
    # before: {'seed': 3}, where DVC and params.yaml's own check (ruamel) refuse the tab
    ("seed:\t3\n", " at line 1: found character '\\t' that cannot start any token"),
    ("a: x\ty\n", " at line 1: found character '\\t' that cannot start any token"),  # before: 'x\ty'
    ("a: &x 1\nb: [*x:]\n", " at line 2: found undefined alias 'x:'"),  # before: [{1: None}]
    ("a: |#\n  y\n", " at line 1: expected chomping or indentation indicators, but found '#'"),  # before: 'y\n'
    ("a: >-\n \n  x\n", ": more indented follow up line than first in a block scalar"),  # before: '\nx'
], ids=["tab-after-colon", "tab-in-plain", "alias-colon", "block-header-hash", "block-space-line"])
def test_a_text_ruamel_refuses_is_refused_in_its_words(text, line):
    with pytest.raises(WinnowError) as raised:
        load_yaml(text, name="params.yaml")
    assert str(raised.value).startswith(f"params.yaml: not valid YAML{line}")


def test_nesting_past_libyamls_stack_is_one_line_not_a_crash():
    # before: a segmentation fault (exit -11, no word) in PyYAML's C composer, which recurses once a level
    code = ("from winnow.yaml_text import load_yaml\nfrom winnow.errors import WinnowError\n"
            "try:\n    load_yaml('- ' * 100000 + 'x\\n', name='dvc.yaml')\nexcept WinnowError as err:\n    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=_env())  # this checkout's src
    assert (done.returncode, done.stdout) == (0, "dvc.yaml: not valid YAML: nested deeper than the parser reads\n")


def test_a_full_width_verdict_word_that_names_a_class_is_refused_as_ambiguous():
    # before: 'ｄｒｏｐ', the choice an earlier review page and Label Studio wrote for the class ｄｒｏｐ, was dropped
    classes = ["cat", "ｄｒｏｐ", "dog"]
    with pytest.raises(WinnowError) as raised:
        resolve("ｄｒｏｐ", where="reviews/queue.csv: line 2 (id 'a')", given=0, action="relabel", suggested=2,
                classes=classes)
    assert str(raised.value) == ("reviews/queue.csv: line 2 (id 'a'): verdict 'ｄｒｏｐ' reads as drop and names the "
                                 "class 'ｄｒｏｐ'; write drop, or class:ｄｒｏｐ for the class")
    # the class as the page writes it now, and the word without a class of its name
    assert resolve(class_verdict("ｄｒｏｐ"), where="w", given=0, action="relabel", suggested=2,
                   classes=classes) == ("relabel", 1)
    assert resolve("ｄｒｏｐ", where="w", given=0, action="relabel", suggested=2, classes=["cat", "x", "dog"]) == \
        ("drop", -1)
