"""A review of the mends of probe 70 to compare (support checks, runs averaged over the same classes, --num past a
shallow clone's history):

- the compare stage given evaluate's summaries without a ``support`` (a summary evaluate never writes, which the
  report refuses): every class counted as tested, a class without test images averaged in;
- ``winnow compare`` over one run whose summary of one variant says a class has no test image (support 0) and whose
  summary of the other was not read (F1 as DVC shows it): the class's 0s averaged in, where the runs' mend leaves
  it out when the two summaries are of two runs;
- ``winnow compare`` over runs whose summaries give a class 0 test images in one run and 4 in another: the class was
  left out of every run's average and tests, its row an unmeasured 0 averaged with a measured score;
- ``winnow compare --num 5`` in a clone whose HEAD history is whole but which another branch's shallow fetch made
  shallow: refused as cut off, a false alarm;
- ``winnow study collect --rev BRANCH --num 3`` where that branch was fetched shallow and HEAD's history is whole:
  HEAD's history was counted, and the branch's cut-off history passed.
"""

import json

import pytest
from hostile_harness import default_params, make_project, refused_line

from winnow.metrics import PER_CLASS_METRICS, summary_path


def _write(project, variant: str, per_class: dict) -> None:
    (project / summary_path(variant)).parent.mkdir(parents=True, exist_ok=True)
    (project / summary_path(variant)).write_text(json.dumps({"per_class": per_class}))


@pytest.mark.hostile("compare")
def test_the_compare_stage_refuses_a_summary_without_support(tmp_path):
    # class z has no test image (every metric 0), but the summaries give no support, as evaluate always writes. Before,
    # the stage exited 0, counted z as tested and averaged its unmeasured 0s in (macro F1 0.4000 and 0.4500 where
    # evaluate's macro figures say 0.8000 and 0.9000); the report refuses the same summaries
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    for variant, score in (("baseline", 0.8), ("pruned", 0.9)):
        _write(project, variant, {"a": dict.fromkeys(PER_CLASS_METRICS, score),
                                  "z": dict.fromkeys(PER_CLASS_METRICS, 0.0)})
    assert refused_line(project, "compare") == (
        "error: metrics/evaluate/baseline/summary.json: per_class.a.support is missing, not a count of test images; "
        "rerun `dvc repro -f evaluate@baseline`")
