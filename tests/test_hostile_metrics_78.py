"""What `dvc plots show` (the README's `dvc plots diff main`) draws of the committed default run, read from the
Vega-Lite specs DVC renders (`--json`), not from winnow's files:

- a bar's length is its value: DVC's own bar_horizontal sets ``scale.zero`` false, so every per-class F1 bar began at
  the weakest class's F1 (oracle's class 2, 0.945, a sliver beside class 1's 0.990 bar, as if it were near 0);
- each score histogram draws its cut, the one metrics/threshold.json records (the `linear` template drew the counts
  alone: the README's "histograms with the cut" had no cut in DVC's view), and none where the issue has none;
- the study's curves (plots/study/study.csv, which `winnow study collect` writes) keep each sweep apart: DVC's scatter
  drew every sweep's points on one level axis alike, a label noise rate of 0.4 beside a train size of 0.25.
"""

import json
import shutil
import subprocess
import sys

import pytest
from hostile_harness import ROOT


def _show(project, study: str | None = None) -> dict:
    """``dvc plots show --json``'s ``data`` for a copy of the project's dvc.yaml, params, plots and templates in
    ``project``, with plots/study/study.csv replaced by ``study`` where given."""
    project.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, project)
    shutil.copytree(ROOT / "plots", project / "plots")
    if study is not None:
        (project / "plots/study/study.csv").write_text(study)
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=project, check=True, timeout=60)
    shutil.copytree(ROOT / ".dvc" / "plots", project / ".dvc" / "plots")
    done = subprocess.run([*dvc, "plots", "show", "--json"], cwd=project, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["data"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    """What `dvc plots show` renders of the committed default run."""
    return _show(tmp_path_factory.mktemp("plots") / "project")


def _layers(spec: dict) -> list[dict]:
    """The single-view specs of a rendered spec: itself, its layers, its facet's inner spec."""
    if "layer" in spec:
        return [view for layer in spec["layer"] for view in _layers(layer)]
    if "spec" in spec:
        return _layers(spec["spec"])
    return [spec]


def _mark(view: dict) -> str | None:
    mark = view.get("mark")
    return mark.get("type") if isinstance(mark, dict) else mark


@pytest.mark.hostile("report")
def test_every_bar_dvc_plots_show_draws_starts_at_zero(rendered):
    bars = {name: view for name, plots in rendered.items() for plot in plots
            for view in _layers(plot["content"]) if _mark(view) == "bar"}
    # the per-class F1 of every variant the committed run evaluated
    assert {f"plots/evaluate/{v}/per_class.csv" for v in ("oracle", "baseline", "pruned", "balanced")} <= set(bars)
    for name, view in bars.items():
        length = next(e for e in view["encoding"].values() if isinstance(e, dict) and e.get("type") == "quantitative")
        scale = length.get("scale", {})
        assert scale.get("zero") is not False, name  # before: False, bars from the smallest value
        assert scale.get("domain", [0])[0] == 0, name


@pytest.mark.hostile("report")
def test_each_score_histogram_draws_the_cut_metrics_threshold_json_records(rendered):
    recorded = json.loads((ROOT / "metrics/threshold.json").read_text())
    drawn = 0
    for issue, record in recorded.items():
        plot = rendered[f"plots/threshold/{issue}.csv"][0]["content"]
        rules = [view for view in _layers(plot) if _mark(view) == "rule"]
        # before: one line of counts (DVC's linear template), no rule anywhere
        assert [rule["encoding"].get("x", {}).get("field") for rule in rules] == ["threshold"], issue
        cuts = {row["threshold"] for row in plot["data"]["values"]}
        if record["threshold"] is None:  # no cut (light: no rule fired; grayscale: too many): no rule drawn
            assert cuts == {""}, issue
        else:
            assert [float(cut) for cut in cuts] == [pytest.approx(record["threshold"])], issue
            drawn += 1
    assert drawn >= 4  # dark, blurry, low_information and the reference cuts of the committed run


@pytest.mark.hostile("report")
def test_the_study_scatter_draws_each_sweep_on_its_own_level_axis(tmp_path):
    # two sweeps as `winnow study collect` writes them, the clean run the origin of each curve
    columns = "sweep,damage,level,experiment,rev,accuracy,macro_f1,f1_0,f1_1,metrics,axis\n"
    rows = [("label_noise", "symmetric_noise", 0.0, "clean", 0.96), ("label_noise", "symmetric_noise", 0.4, "e1", 0.80),
            ("size", "subsample", 1.0, "clean", 0.96), ("size", "subsample", 0.25, "e2", 0.85)]
    study = columns + "".join(f"{s},{d},{level},{e},r{e},{a},{a},0.9,0.9,metrics/evaluate/baseline.json,\n"
                              for s, d, level, e, a in rows)
    plot = _show(tmp_path / "project", study)["study accuracy against damage level"][0]["content"]
    # before: one panel, one level axis, every point alike but for accuracy against macro F1
    assert plot["facet"]["column"]["field"] == "sweep"
    assert plot["resolve"]["scale"]["x"] == "independent"
    assert plot["spec"]["encoding"]["x"]["field"] == "level"
    assert sorted({(row["sweep"], row["level"]) for row in plot["data"]["values"]}) == [
        ("label_noise", "0.0"), ("label_noise", "0.4"), ("size", "0.25"), ("size", "1.0")]
