"""Review of stop 78's budget commits (7a3e7b8d 0a6e7d92 e23bc0c2 c706e2fe):

- the accuracy hold-out of a log-loss winner (meant for label cuts chosen on judge labels that are wrong) also held
  out the filters: random drops of 10% of train as duplicates, 2 of 300 clean val images fewer right than none's
  (SE 1.4), a noise-sized gap, made none the winner, so pruned kept the copies its contract forbids and the user was
  told to check val's labels. The filters' drops serve the contracts no judge sees; they are kept unless the score
  measures they hurt (and then their own model check), as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from budget_project import CLASSES, clouds, train_ids
from winnow.budget import choose_budget, rank_label_decisions
from winnow.budget_choice import LOG_LOSS_FLOOR
from winnow.variants import baseline_rows


@pytest.mark.hostile("budget")
def test_filters_within_a_log_loss_tie_of_none_are_not_held_out_by_accuracy():
    torch.set_num_threads(1)
    rng = np.random.default_rng(2031)  # a draw where the filters' probe gets 2 fewer of 300 judge images right
    train_x, labels = clouds(400, rng)
    ids = train_ids(len(labels))
    copies = rng.choice(len(labels), 120, replace=False)  # dedup's duplicate drops: no label is touched
    filters = pd.DataFrame({"id": ids[copies], "action": "drop", "label": -1, "reason": "exact", "stage": "dedup"})
    val_x, val_y = clouds(100, rng)
    budget = choose_budget(filters=filters, ranked=rank_label_decisions({}),
                           baseline=baseline_rows(pd.DataFrame({"id": ids, "split": "train", "label": labels})),
                           train_features=train_x, judge_features=val_x, judge_labels=val_y, classes=CLASSES,
                           l2=0.01, fractions=(0.1,), tie_se=1.0)
    rows = {row["candidate"]: row for row in budget.table}
    # the case the review found: by accuracy more than a tie below none (2 images, SE 1.4), by log-loss within one
    assert (rows["none"]["correct"] - rows["filters"]["correct"]) == 2
    assert abs(rows["none"]["log_loss"] - rows["filters"]["log_loss"]) * 300 < LOG_LOSS_FLOOR
    # before: winner none, the filters' note "not chosen: its probe gets 268 of 300 ... check the judge split's labels"
    assert (budget.winner, rows["filters"]["note"], rows["filters"]["chosen"]) == ("filters", "", True)
    assert set(budget.decisions["id"]) == set(ids[copies]) and budget.filters is not None
