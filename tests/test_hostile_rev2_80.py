"""Hostile cases of the second review of the 80th stop's commits:

- evaluate of a model saved without the record of the val images it chose its epoch on (``chose_on``: an earlier
  winnow's, before f60064bb): one line naming train@<v>; before, it passed unchecked, so after train and val were
  carved anew (the same ids, labels and pixels) it was scored as the new version's, exit 0, as a model without its
  labels was before ``learnt`` was required.

Each checks the whole line a user reads, and nothing partial left behind.
"""

import pytest
import torch
from hostile_harness import assert_error_line, assert_nothing_left, files_under
from test_hostile_metrics_more import _evaluate_project
from test_hostile_training_66 import _evaluate_in_process

from winnow.metrics import metrics_path


@pytest.mark.hostile("training")
def test_evaluate_refuses_a_model_that_kept_no_record_of_the_val_images_it_chose_its_epoch_on(tmp_path, monkeypatch,
                                                                                              capsys):
    project = _evaluate_project(tmp_path / "project", ["a", "b"], [2, 2], bias=[1.0, 0.0])
    checkpoint = torch.load(project / "models/baseline.pt", weights_only=True)
    del checkpoint["chose_on"]  # as a winnow before f60064bb wrote it
    torch.save(checkpoint, project / "models/baseline.pt")
    before = files_under(project)
    done = _evaluate_in_process(project, monkeypatch, capsys)
    assert assert_error_line(done) == (
        "error: models/baseline.pt: trained by an earlier winnow, which kept no record of the val images it chose its "
        "epoch on (chose_on), so images moved between train and val since cannot be told; rerun the train@baseline "
        "stage (dvc repro train@baseline)")
    assert_nothing_left(project, before)
    assert not (project / metrics_path("baseline")).exists()
