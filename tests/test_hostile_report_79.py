"""Hostile inputs to the report found at stop 79:

- a data set of many classes (60 here; ImageNet has 1,000): the confusion matrices were 4.4-inch panels whatever the
  classes, so 60 class names on an axis lay over one another, a black smear; the per-class F1 figure was one panel
  0.25 inch a bar wide, 32 inches for 60 classes of two versions, which the page (1,132 pixels wide) shrank to a third,
  every class name and bar with it;
- two versions that beat baseline with the same macro F1: the verdict shipped the first in params.yaml's order and
  said nothing of the other; and of classes tied at the lowest F1, the versions table named the first alone the
  weakest class.
"""

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import f1_score
from test_report_versions import (
    BASELINE_ERRORS, LABELS, PER_CLASS, cells, first_section, plain, report_text, write_project, wrong_on,
)

from winnow.report_figures import confusion_panels, figure_uri, per_class_f1_panels

PAGE_PIXELS = 1132  # the report's column: body max-width 1180 px less 24 px padding either side (winnow.report.CSS)
MANY = [f"class_{i:03d}" for i in range(60)]


@pytest.mark.hostile("report")
def test_the_confusion_matrices_of_many_classes_name_each_class_clear_of_the_next():
    # before: both panels 4.4 inches for 60 names of 0.11 inch each: every name overlapped its neighbours
    matrix = pd.DataFrame(np.eye(len(MANY), dtype=int) * 3, index=MANY, columns=MANY)
    fig = confusion_panels({"baseline": matrix, "pruned": matrix})
    fig.draw_without_rendering()
    for ax in fig.axes:
        labels = ax.get_yticklabels()
        assert [label.get_text() for label in labels] == MANY
        boxes = [label.get_window_extent() for label in labels]
        assert [(a.y0 < b.y1 and b.y0 < a.y1) for a, b in zip(boxes, boxes[1:])] == [False] * (len(MANY) - 1)


@pytest.mark.hostile("report")
def test_the_per_class_f1_figure_of_many_classes_fits_the_page_unshrunk_and_names_each_class_once():
    # before: one panel 32 inches wide (3,200 pixels), shown at a third of its size
    f1 = pd.DataFrame({"baseline": np.linspace(0.1, 0.9, len(MANY)), "pruned": np.linspace(0.9, 0.1, len(MANY))},
                      index=MANY)
    fig = per_class_f1_panels(f1)
    assert [label.get_text() for ax in fig.axes for label in ax.get_xticklabels()] == MANY
    width, _ = Image.open(io.BytesIO(base64.b64decode(figure_uri(fig).split(",", 1)[1]))).size
    assert width <= PAGE_PIXELS


@pytest.mark.hostile("report")
def test_versions_tied_on_macro_f1_are_both_named_in_the_verdict_and_tied_classes_both_weakest(tmp_path):
    # pruned and balanced each misname 2 test images of every class (other images, alike counts): the same per-class
    # and macro F1, both well above baseline's 10 a class. Before: "Ship `pruned`: ..." and not a word of balanced,
    # shipped on params.yaml's order; and baseline's three classes, each at F1 0.750, read "weakest class cat"
    predicted = {"baseline": wrong_on(BASELINE_ERRORS),
                 "pruned": wrong_on([c * PER_CLASS + k for c in range(3) for k in (0, 1)]),
                 "balanced": wrong_on([c * PER_CLASS + k for c in range(3) for k in (2, 3)])}
    f1 = {v: f1_score(LABELS, guesses, average=None) for v, guesses in predicted.items()}
    body = first_section(report_text(write_project(tmp_path, predicted)))[1]
    sentence = plain(re.search(r'<p class="verdict">(.*?)</p>', body, re.S).group(1))
    assert sentence.startswith(f"Ship pruned: macro F1 {f1['pruned'].mean():.3f}, ")
    assert sentence.endswith(" balanced beats baseline with the same macro F1: the test split does not choose between "
                             "them, so either ships as well.")
    assert cells(body, "baseline")[3:5] == ["cat, dog, bird", "0.750"]
