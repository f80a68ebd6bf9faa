"""Hostile inputs to the report found at stop 79:

- a data set of many classes (60 here; ImageNet has 1,000): the confusion matrices were 4.4-inch panels whatever the
  classes, so 60 class names on an axis lay over one another, a black smear; the per-class F1 figure was one panel
  0.25 inch a bar wide, 32 inches for 60 classes of two versions, which the page (1,132 pixels wide) shrank to a third,
  every class name and bar with it.
"""

import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

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
