"""Hostile command lines: a per-variant stage started without its one variant, or with one params.yaml does not
list; a stage that takes no arguments given some; `winnow compare` with a --num below 1 or an --out that is a
folder. Each ends in one line before any work.
And compare's significance tables where the paired differences have no spread: words, never nan."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_harness import (
    ROOT, _env, assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage,
    run_winnow,
)

from winnow.errors import WinnowError
from winnow.metrics import PER_CLASS_METRICS, metrics_path, summary_path

VARIANTS = ", ".join(default_params()["variants"])


@pytest.mark.hostile("training")
@pytest.mark.parametrize("stage", ["train", "evaluate"])
@pytest.mark.parametrize(("args", "fragments"), [
    ((), ["takes one argument, the variant (got none)", "run python stages/{stage}.py <variant> with one of "
                                                        f"params.yaml variants ({VARIANTS})"]),
    (("baseline", "pruned"), ["takes one argument, the variant (got 2: baseline pruned)"]),
    (("bogus",), [f"{{stage}} bogus: 'bogus' is not one of params.yaml variants ({VARIANTS}); choose one of "
                  "them, or add it to variants"]),
], ids=["none", "two", "unknown"])
def test_a_per_variant_stage_without_one_listed_variant_fails_with_one_line(tmp_path, stage, args, fragments):
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = run_stage(project, stage, *args)
    line = assert_error_line(done, *(f.format(stage=stage) for f in fragments))
    assert line.startswith(f"error: {stage}")
    assert_nothing_left(project, before)


def _one_run(tmp_path, per_class: dict[str, dict[str, float]]):
    """A saved `dvc exp show --json` holding one run (seed 0): variant -> class -> F1."""
    metrics = {metrics_path(v): {"data": {"accuracy": 0.9, "macro": {"f1": 0.8},
                                          "per_class": {c: {"f1": f} for c, f in f1.items()}}}
               for v, f1 in per_class.items()}
    path = tmp_path / "exp.json"
    path.write_text(json.dumps([{"rev": "c" * 40, "name": "c0ffee",
                                 "data": {"params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": metrics}}]))
    return path


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("num", ["0", "-5"])
def test_compare_a_num_below_one_fails_with_one_line(tmp_path, num):
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = run_winnow(project, "compare", "--num", num, "--variants", "baseline", "pruned", timeout=60)
    assert_error_line(done, f"compare --num {num}: must be at least 1", "--num 1")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("out", "folder", "fragment"), [
    ("reviews", "reviews", "--out reviews: is a folder; give a file path"),
    ("compare.md", "compare.json", "--out compare.md: compare.json, the JSON written beside it, is a folder; "
                                   "give a file path"),
], ids=["out", "json-beside"])
def test_compare_out_that_is_a_folder_fails_with_one_line(tmp_path, out, folder, fragment):
    project = make_project(tmp_path / "project")
    (project / folder).mkdir()
    (project / folder / "keep.txt").write_text("a person's file\n")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--out", out)
    assert_error_line(done, fragment)
    assert done.stdout == ""  # refused before any work
    assert_nothing_left(project, before)
    assert (project / folder / "keep.txt").read_text() == "a person's file\n"


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("command", "made", "expected"), [
    (["gate", "--base", "HEAD", "--markdown", "gate.md"], "folder",
     "--markdown gate.md: is a folder; give a file path, e.g. --markdown reports/gate.md"),
    (["gate", "--base", "HEAD", "--markdown", "notes/gate.md"], "file",
     "--markdown notes/gate.md: lies under the file notes; give a file path, e.g. --markdown reports/gate.md"),
    (["study", "collect", "--out", "study"], "file", "--out study: is a file; give a folder path, e.g. --out plots/study"),
    (["study", "collect", "--out", "notes/study"], "file",
     "--out notes/study: lies under the file notes; give a folder path, e.g. --out plots/study"),
    (["compare", "--variants", "baseline", "pruned", "--out", "notes/compare.md"], "file",
     "--out notes/compare.md: lies under the file notes; give a file path, e.g. --out reports/compare-seeds.md"),
], ids=["gate-folder", "gate-under-file", "study-file", "study-under-file", "compare-under-file"])
def test_an_output_path_of_the_wrong_kind_fails_before_any_work(tmp_path, command, made, expected):
    # before: the gate printed its verdict and then a traceback (IsADirectoryError); study collect read every
    # experiment and then a FileExistsError or NotADirectoryError
    project = make_project(tmp_path / "project")
    target = project / command[command.index("--out" if "--out" in command else "--markdown") + 1].split("/")[0]
    if made == "folder":
        target.mkdir()
    else:
        target.write_text("a person's notes\n")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    before = files_under(project)
    extra = ["--from-json", str(saved)] if command[0] in ("study", "compare") else []
    done = run_winnow(project, *command, *extra, timeout=60)
    assert assert_error_line(done) == f"error: {expected}"
    assert done.stdout == ""
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("command", "expected"), [
    (["compare", "--variants", "baseline", "pruned", "--out", "params.yaml"],
     "--out params.yaml: is the project's params.yaml, which this would overwrite; give another path, e.g. --out "
     "reports/compare-seeds.md"),
    (["gate", "--base", "HEAD", "--markdown", "dvc.lock"],
     "--markdown dvc.lock: is the project's dvc.lock, which this would overwrite; give another path, e.g. --markdown "
     "reports/gate.md"),
    (["compare", "--variants", "baseline", "pruned", "--out", "reports/compare.md"],
     "--out reports/compare.md: is an output of the compare stage (reports/compare.md), which this would "
     "overwrite; give another path, e.g. --out reports/compare-seeds.md"),
    (["study", "collect", "--out", "metrics/evaluate"],
     "--out metrics/evaluate: is an output of the evaluate stage (metrics/evaluate/), which this would overwrite; "
     "give another path, e.g. --out plots/study"),
], ids=["compare-params", "gate-lock", "compare-stage-output", "study-stage-output"])
def test_an_output_over_the_pipelines_own_files_is_refused(tmp_path, command, expected):
    # before: `winnow compare --out params.yaml` replaced the project's params with markdown, exit 0, and every
    # later command failed on it
    project = make_project(tmp_path / "project")
    (project / "dvc.yaml").write_bytes((ROOT / "dvc.yaml").read_bytes())
    (project / "dvc.lock").write_text("schema: '2.0'\n")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    extra = ["--from-json", str(saved)] if command[0] in ("study", "compare") else []
    done = run_winnow(project, *command, *extra, timeout=60)
    assert assert_error_line(done) == f"error: {expected}"
    assert done.stdout == ""
    assert {p: p.read_bytes() for p in project.rglob("*") if p.is_file()} == before


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("command", "expected"), [
    (["gate", "--base", "HEAD", "--markdown", "/proc/gate.md"],
     "--markdown /proc/gate.md: cannot write in /proc (No such file or directory); give a file path where you can "
     "write, e.g. --markdown reports/gate.md"),
    (["compare", "--variants", "baseline", "pruned", "--out", "/dev/null/compare.md"],
     "--out /dev/null/compare.md: lies under the file /dev/null; give a file path, e.g. --out "
     "reports/compare-seeds.md"),
], ids=["gate-proc", "compare-under-device"])
def test_an_output_where_nothing_can_be_written_fails_before_any_work(tmp_path, command, expected):
    # before: the gate printed its whole report, gate: PASS included, then a FileNotFoundError traceback
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    before = files_under(project)
    extra = ["--from-json", str(saved)] if command[0] == "compare" else []
    done = run_winnow(project, *command, *extra, timeout=60)
    assert assert_error_line(done) == f"error: {expected}"
    assert done.stdout == ""
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_one_run_says_one_run_instead_of_nan(tmp_path):
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.5, "b": 0.8}})
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                      "--out", "seeds.md")
    assert done.returncode == 0, done.stderr
    tests = done.stdout.split("## f1: paired")[1]
    # one run cannot tell a difference from noise, and no difference either: class a's tie is one draw
    # (tests/test_hostile_compare_66.py)
    undefined = " | ".join(["n/a (one run)"] * 4)
    assert f"| a | baseline | pruned | 0.0000 | {undefined} | 1 |" in tests
    assert f"| b | baseline | pruned | 0.1000 | {undefined} | 1 |" in tests
    assert f"| average | baseline | pruned | 0.0500 | {undefined} | 1 |" in tests
    assert "nan" not in done.stdout.lower() and "nan" not in (project / "seeds.md").read_text().lower()


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("workspace_f1, notes", [
    (0.9, ["_left out the workspace: its metrics of baseline, pruned are in no commit or experiment; commit them "
           "(or run them with dvc exp run) to count them_"]),
    (0.6, []),  # a clean workspace: the commit's own metrics, nothing left out
], ids=["uncommitted", "clean"])
def test_compare_says_when_it_leaves_out_uncommitted_results(tmp_path, workspace_f1, notes):
    # before: dvc exp show's workspace row was dropped without a word, fresh results of `dvc repro` with it
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    shown = json.loads(saved.read_text())
    workspace = json.loads(json.dumps(shown[0]))
    workspace.update(rev="workspace", name=None)
    workspace["data"]["metrics"][metrics_path("pruned")]["data"]["per_class"]["a"]["f1"] = workspace_f1
    saved.write_text(json.dumps([workspace, *shown]))
    done = run_winnow(make_project(tmp_path / "project"), "compare", "--from-json", str(saved),
                      "--variants", "baseline", "pruned")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Variants over 1 run(s) (seeds 0)"
    assert [line for line in lines if line.startswith("_")] == notes


@pytest.mark.hostile("compare")
def test_compare_of_one_variant_shows_its_tables_and_says_there_is_no_pair(tmp_path):
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5, "b": 0.7}})
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline")
    # before: numpy's UFuncNoLoopError traceback
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("## f1: paired")[1].splitlines()[2] == "_One variant: no pair to test._"
    twice = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "baseline")
    assert assert_error_line(twice) == "error: compare --variants: baseline given twice; name each variant once"


def test_compare_stage_of_one_variant_says_there_is_no_pair(tmp_path):
    params = default_params() | {"variants": ["baseline"]}
    params["contracts"]["enforce_variants"] = ["baseline"]
    project = make_project(tmp_path / "project", params)
    _write_summaries(project, {"baseline": {"a": 0.5, "b": 0.7}})
    done = run_stage(project, "compare")
    assert done.returncode == 0, done.stderr  # before: the same traceback, after rewriting plots/compare
    assert (project / "reports/compare.md").read_text().count("_One variant: no pair to test._") == len(PER_CLASS_METRICS)


def _fresh_winnow(project, *args: str, env: dict | None = None, stdout=subprocess.PIPE):
    """The winnow command in a new interpreter: the streams' encoding is chosen as Python starts."""
    return subprocess.run([sys.executable, "-m", "winnow.cli", *args], cwd=project, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env={**_env(), **(env or {})}, timeout=300)


@pytest.mark.hostile("compare")
def test_compare_under_an_ascii_locale_writes_its_table(tmp_path):
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.5, "b": 0.8}})
    done = _fresh_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned", env={
        "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""})
    # before: UnicodeEncodeError traceback on the first "±", and no table; then "\xb1" escaped; now the command runs
    # itself again in Python's UTF-8 mode (winnow.watched.in_utf8_mode), whose stdout is UTF-8
    assert done.returncode == 0, done.stderr
    # one run's table holds no "±" (its heading says why), its tests' heading a "−"
    assert "## f1: paired t-test and its 95% t CI of the difference (to − from)" in done.stdout


@pytest.mark.hostile("compare")
def test_a_full_output_stream_is_one_line(tmp_path):
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.5, "b": 0.8}})
    with open("/dev/full", "w") as full:
        done = _fresh_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                             stdout=full)
    done.stdout = ""  # it went to /dev/full
    # before: OSError traceback from print
    assert assert_error_line(done) == ("error: compare: No space left on device [ENOSPC]; free space, or fix the path "
                                       "or its permissions, then rerun")


@pytest.mark.hostile("compare")
def test_compare_reads_a_saved_table_from_standard_input(tmp_path):
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.5, "b": 0.8}})
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "compare", "--from-json", "-", "--variants", "baseline",
                           "pruned"], cwd=project, input=saved.read_text(), capture_output=True, text=True, env=_env(),
                          timeout=300)
    assert done.returncode == 0, done.stderr  # before: "--from-json: /dev/stdin not found"; no way to pipe
    assert "| average | baseline | pruned | 0.0500 |" in done.stdout


def _write_summaries(project, per_class: dict[str, dict[str, float]]) -> None:
    """evaluate's summary.json per variant: every per-class metric of a class equal to the given value, of 10 test
    images."""
    for variant, values in per_class.items():
        path = project / summary_path(variant)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"per_class": {c: {**dict.fromkeys(PER_CLASS_METRICS, v), "support": 10}
                                                  for c, v in values.items()}}))


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("per_class", "row"), [
    ({"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.5, "b": 0.7}},
     "| baseline | pruned | 0.0000 | 0.0000 | 1.0000 (identical) | 0.0000 | 0.0000 | 2 |"),
    ({"baseline": {"a": 0.5}, "pruned": {"a": 0.75}},
     "| baseline | pruned | 0.2500 | " + " | ".join(["n/a (one class)"] * 4) + " | 1 |"),
    # before: "inf | 0.0000": a t-test has nothing to say about a change without spread; then p 0 "(the same change
    # in every pair)", a p that two equal changes cannot give
    ({"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.6, "b": 0.8}},
     "| baseline | pruned | 0.1000 | inf (no spread) | " + " | ".join(["n/a (the same change in every pair)"] * 3)
     + " | 2 |"),
], ids=["identical", "one-class", "constant-change"])
def test_compare_stage_writes_what_a_test_without_spread_means_never_nan(tmp_path, per_class, row):
    project = make_project(tmp_path / "project", default_params() | {"variants": ["baseline", "pruned"]})
    _write_summaries(project, per_class)
    done = run_stage(project, "compare")
    assert done.returncode == 0, done.stderr
    report = (project / "reports/compare.md").read_text()
    assert report.count(row) == len(PER_CLASS_METRICS)
    written = [report] + [p.read_text() for p in (project / "plots/compare").glob("*.csv")]
    assert not [text for text in written if "nan" in text.lower()]


TAKE_NONE = sorted(p.stem for p in (ROOT / "stages").glob("*.py") if p.stem not in ("train", "evaluate"))


@pytest.mark.hostile("params")
@pytest.mark.parametrize("stage", TAKE_NONE)
def test_a_stage_that_takes_no_arguments_refuses_them_before_any_work(tmp_path, stage):
    """`python stages/report.py --help` wrote the report and `ingest.py extra` ingested: an argument a stage
    does not read is a mistake to name, not to ignore."""
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = run_stage(project, stage, "--help", "extra")
    line = assert_error_line(done)
    assert line == (f"error: stages/{stage}.py takes no arguments (got --help extra); run it as dvc.yaml does: "
                    f"python stages/{stage}.py")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "expected"), [
    (["compare", "--num", "x"], "error: winnow compare: argument --num: invalid int value: 'x' (see winnow compare "
                                "--help)"),
    (["bogus"], "error: winnow: argument command: invalid choice: 'bogus' (choose from 'study', 'compare', 'gate', "
                "'review') (see winnow --help)"),
    (["gate"], "error: winnow gate: the following arguments are required: --base (see winnow gate --help)"),
    (["study", "queue", "--sweeps", "nope"], "error: winnow study queue: argument --sweeps: invalid choice: 'nope' "
                                             "(choose from 'clean', 'label_noise', 'size', 'strength', 'proportion', "
                                             "'class_deletion') (see winnow study queue --help)"),
    # before: a report file named "-" beside the project, and "" read as the current folder
    (["gate", "--base", "HEAD", "--markdown", "-"], "error: winnow gate: argument --markdown: '-' is no path to write "
                                                    "to; give one (a report is printed to the screen as well) (see "
                                                    "winnow gate --help)"),
    (["compare", "--out", ""], "error: winnow compare: argument --out: '' is no path to write to; give one (a report "
                               "is printed to the screen as well) (see winnow compare --help)"),
    # before: a traceback ending "scmrepo.exceptions.SCMError:  is not a git repository" (with --target HEAD), or
    # "No such file or directory [ENOENT]; free space, ..." (the workspace as target)
    (["gate", "--base", "HEAD", "--target", "HEAD", "--repo", ""],
     "error: winnow gate: argument --repo: '' is no folder; give the project's (the default is the current folder, .) "
     "(see winnow gate --help)"),
    (["compare", "--repo", ""], "error: winnow compare: argument --repo: '' is no folder; give the project's (the "
                                "default is the current folder, .) (see winnow compare --help)"),
    (["study", "collect", "--repo", ""], "error: winnow study collect: argument --repo: '' is no folder; give the "
                                         "project's (the default is the current folder, .) (see winnow study collect "
                                         "--help)"),
    # found by probing: argparse kept the last of two values without a word (the study drew the baseline's curves of
    # the two files named, the gate wrote the second report alone)
    (["study", "collect", "--metrics", "metrics/evaluate/pruned.json", "--metrics", "metrics/evaluate/baseline.json"],
     "error: winnow study collect: argument --metrics: given twice; give it once (see winnow study collect --help)"),
    (["gate", "--base", "HEAD", "--markdown", "a.md", "--markdown=b.md"],
     "error: winnow gate: argument --markdown: given twice; give it once (see winnow gate --help)"),
], ids=["bad-int", "no-such-command", "missing-option", "bad-choice", "markdown-dash", "out-empty", "gate-repo-empty",
        "compare-repo-empty", "study-repo-empty", "study-metrics-twice", "gate-markdown-twice"])
def test_a_usage_mistake_is_one_line_and_exit_status_2(tmp_path, args, expected):
    # before: argparse's usage block, several lines, before its own error line
    project = make_project(tmp_path / "project")
    before = files_under(project)
    done = run_winnow(project, *args, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", expected + "\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_a_reader_closing_the_pipe_is_no_error(tmp_path):
    # before: `winnow compare ... | head` ended in "error: compare: Broken pipe [EPIPE]; free space, or fix the
    # path or its permissions", advice for a full disk
    metrics = {metrics_path("baseline"): {"data": {"accuracy": 0.9, "macro": {"f1": 0.9},
                                                   "per_class": {"a": {"f1": 0.9}, "b": {"f1": 0.9}}}}}
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([{"rev": "c" * 40, "name": "c0ffee",
                                  "data": {"params": {"params.yaml": {"data": {"seed": 0}}}, "metrics": metrics}}]))
    project = make_project(tmp_path / "project")
    reader = subprocess.Popen([sys.executable, "-m", "winnow.cli", "compare", "--from-json", str(saved),
                               "--variants", "baseline"], cwd=project, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    reader.stdout.close()  # before winnow has imported anything: its first line meets a closed pipe
    errors = reader.stderr.read().decode()
    assert reader.wait(timeout=120) == 0 and errors == ""


@pytest.mark.hostile("compare")
def test_compare_out_whose_json_is_the_from_json_input_is_refused(tmp_path):
    # before: exit 0, and the saved `dvc exp show --json` was replaced by compare's own two-key JSON
    project = make_project(tmp_path / "project")
    saved = _one_run(project, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    before = saved.read_bytes()
    done = run_winnow(project, "compare", "--from-json", "exp.json", "--variants", "baseline", "pruned",
                      "--out", "exp.md", timeout=60)
    assert assert_error_line(done) == ("error: --out exp.md: exp.json, the JSON written beside it, is the --from-json "
                                       "input, which this would overwrite; give another path, e.g. --out "
                                       "reports/compare-seeds.md")
    assert saved.read_bytes() == before and not (project / "exp.md").exists()


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("where", ["subfolder", "repo"])
def test_an_output_over_the_project_params_is_refused_from_a_subfolder_or_another_folder(tmp_path, where):
    # before: from src/ (--out ../params.yaml), or from elsewhere with --repo, the project's params.yaml was replaced
    # with markdown, exit 0: the guard looked for the project in the current folder only
    project = make_project(tmp_path / "project")
    (project / "dvc.yaml").write_bytes((ROOT / "dvc.yaml").read_bytes())
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    params = (project / "params.yaml").read_bytes()
    cwd, out = ((project / "src", "../params.yaml") if where == "subfolder" else
                (tmp_path, str(project / "params.yaml")))
    cwd.mkdir(exist_ok=True)
    done = run_winnow(cwd, "compare", "--from-json", str(saved), "--variants", "baseline", "pruned", "--repo",
                      str(project), "--out", out, timeout=60)
    assert assert_error_line(done) == (f"error: --out {out}: is the project's params.yaml, which this would overwrite; "
                                       "give another path, e.g. --out reports/compare-seeds.md")
    assert (project / "params.yaml").read_bytes() == params and not (project / "params.json").exists()


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("command", [["compare", "--variants", "baseline", "pruned", "--out"],
                                     ["gate", "--base", "HEAD", "--markdown"]])
def test_an_output_name_too_long_for_its_temporary_is_refused_before_any_work(tmp_path, command):
    # before: a name that fit but whose temporary (.<name>.winnow-tmp-<pid>...) did not failed after the work: compare
    # left its markdown without the JSON, gate printed "gate: PASS" and then failed
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    name = "b" * 230 + ".md"
    before = files_under(project)
    extra = ["--from-json", str(saved)] if command[0] == "compare" else []
    done = run_winnow(project, *command, name, *extra, timeout=60)
    line = assert_error_line(done, f"{command[-1]} {name}: the name is too long to write safely (at most ",
                             "bytes here, to leave room for the temporary it is written as); give a shorter name")
    assert done.stdout == "" and line.startswith("error: ")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_a_list_option_given_twice_takes_both_lists(tmp_path):
    # before: `--variants baseline --variants pruned` kept pruned alone: a regression of baseline was never gated
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5, "b": 0.7}, "pruned": {"a": 0.5, "b": 0.8}})
    done = run_winnow(project, "compare", "--from-json", str(saved), "--variants", "baseline", "--variants", "pruned",
                      timeout=60)
    assert done.returncode == 0, done.stderr
    assert "| average | baseline | pruned | 0.0500 |" in done.stdout


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("text", "problem"), [("[" * 100000 + "]" * 100000, "maximum recursion depth exceeded"),
                                               ("[" + "1" * 5000 + "]", "Exceeds the limit (4300 digits)")],
                         ids=["deep", "huge-number"])
@pytest.mark.parametrize("command", [["compare", "--variants", "baseline", "pruned"], ["study", "collect"]])
def test_from_json_nested_too_deep_or_with_a_huge_number_is_one_line(tmp_path, text, problem, command):
    # before: RecursionError and ValueError tracebacks
    project = make_project(tmp_path / "project")
    (tmp_path / "odd.json").write_text(text)
    done = run_winnow(project, *command, "--from-json", str(tmp_path / "odd.json"), timeout=60)
    assert_error_line(done, f"--from-json: {tmp_path / 'odd.json'} is not JSON (", problem)


@pytest.mark.hostile("compare")
def test_from_json_on_a_closed_standard_input_is_one_line(tmp_path):
    # before: AttributeError: 'NoneType' object has no attribute 'buffer'
    project = make_project(tmp_path / "project")
    done = subprocess.run([sys.executable, "-m", "winnow.cli", "compare", "--from-json", "-", "--variants", "baseline",
                           "pruned"], cwd=project, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=_env(), timeout=300, preexec_fn=lambda: __import__("os").close(0))
    assert assert_error_line(done) == ("error: --from-json: there is no standard input (it was closed); pipe `dvc exp "
                                       "show --json` into it, or give a saved file")


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("command", "expected"), [
    (["compare", "--variants", "baseline", "pruned", "--num", "3"],
     "compare --num 3: reads the repository's commits, which --from-json replaces; drop one of the two"),
    (["study", "collect", "--rev", "main"],
     "study collect --rev: chooses the repository's commits, which --from-json replaces; drop one of the two"),
    (["study", "collect", "--num", "5"],
     "study collect --num 5: chooses the repository's commits, which --from-json replaces; drop one of the two"),
    # before: an empty --axis was read as none, with the advice to name one
    (["study", "collect", "--axis", ""],
     "study collect --axis: empty; give the dotted params path of the level, e.g. degrade.perturbations.0.fraction"),
], ids=["compare-num", "study-rev", "study-num", "study-empty-axis"])
def test_options_that_choose_commits_beside_from_json_are_refused(tmp_path, command, expected):
    # before: ignored without a word, and every run of the saved file was read
    project = make_project(tmp_path / "project")
    saved = _one_run(tmp_path, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}})
    done = run_winnow(project, *command, "--from-json", str(saved), timeout=60)
    assert assert_error_line(done) == f"error: {expected}"


@pytest.mark.hostile("review")
@pytest.mark.parametrize("action", [["export"], ["import", "queue.csv"]])
def test_review_run_away_from_the_project_root_says_so(tmp_path, action):
    # before, from reviews/: "reviews/queue.csv: not found; run `winnow review export` (again) first", and the
    # export then said data/degrade was not an imageset, though the pipeline had run
    project = make_project(tmp_path / "project")
    (project / "reviews").mkdir(exist_ok=True)
    (project / "reviews/queue.csv").write_text("id,verdict\n")
    done = run_winnow(project / "reviews", "review", *action, timeout=60)
    assert assert_error_line(done) == "error: params.yaml: params file not found (run from the project root)"


def test_python_dash_m_winnow_is_the_winnow_command(tmp_path):
    # before: "No module named winnow.__main__; 'winnow' is a package and cannot be directly executed"
    done = subprocess.run([sys.executable, "-m", "winnow", "--help"], capture_output=True, text=True, env=_env(),
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: winnow ")


@pytest.mark.hostile("interrupted")
def test_sigterm_to_a_command_unwinds_its_work_as_an_interrupt(tmp_path):
    # before: the forked child died of SIGTERM's default action wherever it was; inside DVC's own writes (dvc status
    # under the gate) that left an empty .dvc/tmp/rwlock, which stopped every later dvc command. Raised as an
    # interrupt, the work's clean-up runs, as it did for SIGINT
    import os
    import signal
    import time

    project = make_project(tmp_path / "project")
    command = subprocess.Popen([sys.executable, "-m", "winnow", "compare", "--from-json", "-", "--variants", "baseline",
                                "pruned"], cwd=project, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_env())
    children = Path(f"/proc/{command.pid}/task/{command.pid}/children")
    while command.poll() is None and not children.read_text().split():  # the watched child reads standard input
        time.sleep(0.1)
    os.kill(command.pid, signal.SIGTERM)
    command.wait(timeout=120)  # standard input left open: an end of it would end the command on its own
    stderr = command.stderr.read()
    command.stdin.close()
    assert command.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.splitlines() == ["error: compare: terminated (SIGTERM); outputs not yet complete were left "
                                   "unwritten: rerun it"]


# SIGTERM sent to the watched child before it lets the signal through: pending, it arrives at that moment
_TERM_BEFORE_UNBLOCK = """
import os, signal, sys
import winnow.stage as stage
import winnow.stops as stops
real, parent = stops.terminate_as_interrupt, os.getpid()
def setup():
    real()
    if os.getpid() != parent:  # the watched child's setup (cli.main's parent sets the handler before its imports too)
        os.kill(os.getpid(), signal.SIGTERM)
stage.terminate_as_interrupt = stops.terminate_as_interrupt = setup  # where stage.run and cli.main find it
"""


@pytest.mark.hostile("interrupted")
def test_sigterm_before_a_command_lets_it_through_is_one_line(tmp_path):
    # before: a SIGTERM the parent passed on before the child had unblocked it arrived in watched_by_a_parent, outside
    # the command's try: a traceback ending in winnow.stage.Terminated, exit 1 (the test above met it under load)
    project = make_project(tmp_path / "project")
    script = _TERM_BEFORE_UNBLOCK + ("from winnow import cli\nsys.argv = ['winnow', 'compare', '--from-json', '-', "
                                     "'--variants', 'baseline', 'pruned']\nsys.exit(cli.main())\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=project, input="", capture_output=True, text=True,
                          env=_env(), timeout=300)
    assert done.returncode == 143, done.stderr
    assert done.stderr.splitlines() == ["error: compare: terminated (SIGTERM); outputs not yet complete were left "
                                        "unwritten: rerun it"]


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize("command", ["-c", "-uc"])
def test_sigterm_before_a_stage_lets_it_through_is_one_line(tmp_path, command):
    # before: as above for a stage: the traceback came from stage.run before its try, exit 1. `python -uc` (-c joined
    # to another option): a mend of stop 75 looked for a bare -c in sys.orig_argv, ran the stage in-process, and the
    # SIGTERM sent before the stage let it through never came ("worked", exit 0)
    project = make_project(tmp_path / "project")
    before = files_under(project)
    script = _TERM_BEFORE_UNBLOCK + "sys.argv = ['stages/ingest.py']\nstage.run(lambda: print('worked'))\n"
    done = subprocess.run([sys.executable, command, script], cwd=project, capture_output=True, text=True, env=_env(),
                          timeout=300)
    assert done.returncode == 143, done.stderr
    assert done.stderr.splitlines() == ["error: stages/ingest.py: terminated (SIGTERM); outputs not yet complete were "
                                        "left unwritten: rerun it"]
    assert done.stdout == ""
    assert_nothing_left(project, before)

def _locked(project, variants: list[str], *, train: dict) -> None:
    """A dvc.lock in which each variant's train ran under ``train`` and evaluate wrote the summary now in place."""
    import hashlib

    import yaml

    stages = {}
    for variant in variants:
        model = {"path": f"models/{variant}.pt", "md5": f"{variant}-model"}
        summary = project / summary_path(variant)
        stages[f"train@{variant}"] = {"cmd": "x", "params": {"params.yaml": {"train": train}}, "outs": [model]}
        stages[f"evaluate@{variant}"] = {"cmd": "x", "deps": [model], "outs": [
            {"path": summary_path(variant), "md5": hashlib.md5(summary.read_bytes()).hexdigest()}]}
    (project / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))


@pytest.mark.hostile("compare")
def test_compare_stage_refuses_a_summary_of_another_run(tmp_path):
    # found by probing: `dvc repro -s compare` after variants gained oracle compared a one-epoch baseline with the
    # twenty-epoch oracle of an earlier run, and tested the two against each other, exit 0
    params = default_params() | {"variants": ["oracle", "baseline"]}
    params["contracts"]["enforce_variants"] = ["baseline"]
    project = make_project(tmp_path / "project", params)
    _write_summaries(project, {"oracle": {"a": 0.9, "b": 0.95}, "baseline": {"a": 0.5, "b": 0.6}})
    _locked(project, ["oracle", "baseline"], train=params["train"])
    done = run_stage(project, "compare")
    assert done.returncode == 0, done.stderr  # one run: compared
    assert params["train"]["epochs"] == 20
    _locked(project, ["oracle", "baseline"], train={**params["train"], "epochs": 1})  # an earlier run's lock
    before = files_under(project)
    done = run_stage(project, "compare")
    assert assert_error_line(done) == (
        f"error: {summary_path('oracle')}: train@oracle ran under train.epochs = 1, params.yaml now says 20: not from "
        "this run; run `dvc repro compare`, which brings every variant up to date")
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
@pytest.mark.parametrize(("text", "removed"), [("", True), ('{"read": {"/x": [{"pid"', True),
                                               ('{"read": {}, "write": {}}', False)])
def test_a_dvc_lock_file_left_broken_by_a_stopped_run_is_removed(tmp_path, text, removed):
    # found by a review: a SIGTERM raised between DVC's truncation of .dvc/tmp/rwlock and its write left it empty,
    # and every later dvc command failed on it until a person removed it
    from winnow.stops import drop_broken_dvc_lock

    (tmp_path / ".dvc/tmp").mkdir(parents=True)
    (tmp_path / ".dvc/tmp/rwlock").write_text(text)
    drop_broken_dvc_lock(tmp_path)
    assert (tmp_path / ".dvc/tmp/rwlock").exists() is not removed


@pytest.mark.hostile("compare")
@pytest.mark.parametrize("stage", ["compare", "report"])
def test_compare_and_report_stages_refuse_a_variant_trained_on_data_an_earlier_run_made(tmp_path, stage):
    # found by a review: train@oracle's lock entry read a data/degrade that the degrade stage no longer records
    # (a baseline retrained on new data beside an oracle of the old), and the stage compared them, exit 0. The
    # report, found by probing: `dvc repro -s report` after a one-epoch repro of baseline paired it with the
    # committed twenty-epoch oracle and pruned, and the page said "Ship balanced: +0.402 over baseline"
    import yaml

    params = default_params() | {"variants": ["oracle", "baseline"]}
    params["contracts"]["enforce_variants"] = ["baseline"]
    project = make_project(tmp_path / "project", params)
    _write_summaries(project, {"oracle": {"a": 0.9, "b": 0.95}, "baseline": {"a": 0.5, "b": 0.6}})
    _locked(project, ["oracle", "baseline"], train=params["train"])
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    lock["stages"]["degrade"] = {"cmd": "x", "outs": [{"path": "data/degrade", "md5": "new.dir"}]}
    lock["stages"]["train@baseline"]["deps"] = [{"path": "data/degrade", "md5": "new.dir"}]
    lock["stages"]["train@oracle"]["deps"] = [{"path": "data/degrade", "md5": "old.dir"}]
    (project / "dvc.lock").write_text(yaml.safe_dump(lock))
    before = files_under(project)
    assert assert_error_line(run_stage(project, stage)) == (
        f"error: {summary_path('oracle')}: train@oracle read what the stages before it no longer record (dvc.lock: "
        f"data/degrade not what the stage writing them made): not from this run; run `dvc repro {stage}`, which "
        "brings every variant up to date")
    assert_nothing_left(project, before)


@pytest.mark.hostile("compare")
def test_compare_out_that_is_the_from_json_input_is_refused(tmp_path):
    # found by a review: --out runs.txt with --from-json runs.txt replaced the saved table with the markdown
    project = make_project(tmp_path / "project")
    saved = _one_run(project, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}}).rename(project / "runs.txt")
    before = saved.read_bytes()
    done = run_winnow(project, "compare", "--from-json", "runs.txt", "--variants", "baseline", "pruned",
                      "--out", "runs.txt", timeout=60)
    assert assert_error_line(done) == ("error: --out runs.txt: is the --from-json input, which this would overwrite; "
                                       "give another path, e.g. --out reports/compare-seeds.md")
    assert saved.read_bytes() == before and not (project / "runs.json").exists()


@pytest.mark.hostile("compare")
def test_compare_out_under_a_link_to_a_folder_not_there_is_refused_before_any_work(tmp_path):
    # found by probing: reports/ a symbolic link to a disk not mounted; --out reports/seeds.md passed the check, and
    # the write failed at the end: "error: compare: reports: File exists [EEXIST]; free space, or fix the path or its
    # permissions, then rerun"
    project = make_project(tmp_path / "project")
    _one_run(project, {"baseline": {"a": 0.5}, "pruned": {"a": 0.6}}).rename(project / "runs.txt")
    (project / "reports").symlink_to(tmp_path / "unmounted")
    before = files_under(project)
    done = run_winnow(project, "compare", "--from-json", "runs.txt", "--variants", "baseline", "pruned",
                      "--out", "reports/seeds.md", timeout=60)
    assert assert_error_line(done) == (
        f"error: --out reports/seeds.md: lies under reports, a symbolic link to {tmp_path}/unmounted, which does not "
        "exist; create that folder (or mount its disk), or give another file path, e.g. --out reports/compare-seeds.md")
    assert_nothing_left(project, before)


def test_an_output_name_that_leaves_room_for_its_temporary_is_taken(tmp_path):
    # found by a review: the rule counted the suffix twice and refused names that write fine
    from winnow.output_paths import _name_max, check_output

    name = "a" * (_name_max(str(tmp_path)) - len(f"..winnow-scratch-{2**22}") - 3) + ".md"
    check_output(tmp_path / name, option="--out")  # no error: its temporary fits
    with pytest.raises(WinnowError):
        check_output(tmp_path / ("a" + name), option="--out")  # one byte more does not


def _help(capsys, args: list[str]) -> str:
    """What `winnow ARGS --help` prints, run in process (exit status 0 asserted)."""
    from winnow import cli

    with pytest.raises(SystemExit) as done:
        cli.main([*args, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("args", "said"), [
    (["study", "collect"], "experiments -> plots/study/study.csv and PNGs"),
    (["study", "queue"], "queue the standard sweeps with dvc exp run --queue"),
    (["review", "export"], "write reviews/queue.csv, the Label Studio tasks and the review page"),
    (["review", "import"], "read a person's verdicts (edited queue CSV, the page's download or a Label Studio JSON "
                           "export) into reviews/verdicts.csv"),
])
def test_an_actions_help_says_what_it_does(capsys, args, said):
    # found by probing: `winnow study collect --help` listed the options alone; what the action does was said only by
    # `winnow study --help`, one level up
    _usage, description, *_ = _help(capsys, args).split("\n\n")
    assert " ".join(description.split()) == said


@pytest.mark.hostile("params")
@pytest.mark.parametrize("command", [["study", "collect"], ["compare"], ["gate"]])
def test_every_repo_option_says_its_default(capsys, command):
    # found by review: `compare --help` and `gate --help` hid --repo's default, the current folder, which
    # `study collect --help` gave; a user could not tell what ran without --repo
    shown = " ".join(_help(capsys, command).split())
    assert shown.split("--repo REPO ", 1)[1].split(" --", 1)[0].endswith("(default: here)")
