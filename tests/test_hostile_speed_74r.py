"""Review of probe 74's mends (the #20 speed commits and the cli mends): inputs beside the ones they handled.

- ``compare --out newdir/..`` or ``gate --markdown newdir/..`` (newdir not there): the slash-ended refusal took
  ``newdir/`` and ``newdir/.`` but not ``/..``, which names a folder too; both commands ran the whole work, then
  failed on the rename with "Device or resource busy [EBUSY]; free space, or fix the path or its permissions", and
  compare left ``newdir/...json`` behind;
- ``compare --out labels.md`` beside a labels.json nested deeper than the JSON parser goes: the check that the JSON
  beside --out is compare's own stopped with a RecursionError traceback;
- a ``gate.files`` pattern naming a variant's metrics that no revision holds (``metrics/evaluate/balanced.json``)
  while the revisions gated hold evaluate's metrics of other variants: told that no revision holds evaluate's metrics
  and to run the pipeline, which had run; it is the pattern to correct, as before the mend;
- a Ctrl-C reaching ingest's main thread just after it claimed a stream to inflate for the reader (plain_png.Inflating),
  before the try that gives the claim back: the reader waited on that stream for ever, and the thread pool's shutdown
  on the reader, so ingest hung instead of stopping.
"""

from __future__ import annotations

import io
import json
import threading
from concurrent.futures import Future

import pytest

from gate_repo import init, labels_of, write_variant
from hostile_harness import assert_nothing_left, default_params, files_under, make_project
from test_hostile_compare_more import TWO_CLASSES, record, shifted
from winnow import cli, plain_png


@pytest.mark.hostile("compare")
@pytest.mark.parametrize(("args", "line"), [
    (["compare", "--from-json", "exp.json", "--variants", "baseline", "pruned", "--out", "newdir/.."],
     "error: winnow compare: argument --out: 'newdir/..' names a folder; give the path of a file to write, e.g. "
     "reports/compare-seeds.md (see winnow compare --help)"),
    (["gate", "--base", "HEAD", "--markdown", "newdir/.."],
     "error: winnow gate: argument --markdown: 'newdir/..' names a folder; give the path of a file to write, e.g. "
     "reports/gate.md (see winnow gate --help)"),
], ids=["compare-out", "gate-markdown"])
def test_an_output_file_given_as_a_folder_ending_in_dot_dot_is_refused(tmp_path, monkeypatch, capsys, args, line):
    # before: both ran to the end and failed on the rename, "newdir/....winnow-tmp-<pid> -> newdir/..: Device or
    # resource busy [EBUSY]; free space, or fix the path or its permissions, then rerun", compare leaving
    # newdir/...json behind
    project = make_project(tmp_path / "project")
    labels = labels_of(20)
    for variant in default_params()["variants"]:
        write_variant(project, variant, labels, labels)
    (project / "exp.json").write_text(json.dumps([record("a", "c0ffee", 0, TWO_CLASSES),
                                                  record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.02))]))
    init(project)
    monkeypatch.chdir(project)
    before = files_under(project)
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert (stopped.value.code, capsys.readouterr().err) == (2, line + "\n")
    assert_nothing_left(project, before)
    assert not (project / "newdir").exists()


@pytest.mark.hostile("compare")
def test_compare_out_beside_a_json_nested_past_the_parser_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    # before: reading the JSON beside --out to see whether compare wrote it raised RecursionError, a traceback
    project = make_project(tmp_path / "project")
    saved = tmp_path / "exp.json"
    saved.write_text(json.dumps([record("a", "c0ffee", 0, TWO_CLASSES),
                                 record("b", "exp-1", 1, shifted(TWO_CLASSES, 0.02))]))
    nested = "[" * 100_000 + "]" * 100_000
    (project / "labels.json").write_text(nested)
    monkeypatch.chdir(project)
    before = files_under(project)
    assert cli.main(["compare", "--from-json", str(saved), "--variants", "baseline", "pruned",
                     "--out", "labels.md"]) == 1
    assert capsys.readouterr().err == (
        "error: --out labels.md: labels.json, the JSON written beside it, is a file other than the list of runs "
        "compare writes there, which this would overwrite; give another path, e.g. --out reports/compare-seeds.md\n")
    assert (project / "labels.json").read_text() == nested
    assert_nothing_left(project, before)


@pytest.mark.hostile("gate")
@pytest.mark.parametrize("files", [["metrics/evaluate/balanced.json"],
                                   ["metrics/evaluate/*.json", "metrics/evaluate/balanced.json"]],
                         ids=["alone", "beside-the-default"])
def test_a_gate_pattern_of_a_variant_not_evaluated_is_to_correct_not_a_pipeline_to_run(tmp_path, capsys, files):
    # the pipeline ran and its metrics are committed (variants oracle, baseline, pruned); the pattern names
    # balanced's. Before: "gate.files: metrics/evaluate/balanced.json matches no file at HEAD or workspace: no revision
    # gated holds evaluate's metrics (metrics/evaluate/balanced.json, ...), which it gates; run the pipeline (dvc
    # repro) and commit its metrics at the base, then gate", though HEAD holds the other three's
    params = default_params()
    params["variants"], params["gate"]["files"] = ["oracle", "baseline", "pruned"], files
    project = make_project(tmp_path / "project", params)
    labels = labels_of(20)
    for variant in params["variants"]:
        write_variant(project, variant, labels, labels)
    init(project)
    before = files_under(project)
    assert cli.main(["gate", "--base", "HEAD", "--repo", str(project)]) == 1
    assert capsys.readouterr().err == (
        "error: params.yaml at HEAD: gate.files: metrics/evaluate/balanced.json matches no file at HEAD or workspace; "
        "correct the pattern (gated files are metrics JSON, e.g. metrics/evaluate/*.json); the gate takes its "
        "settings from HEAD: correct them there\n")
    assert_nothing_left(project, before)


@pytest.mark.hostile("interrupted")
def test_a_ctrl_c_just_after_ingests_main_thread_claimed_a_stream_lets_the_reader_end(monkeypatch):
    # before: the stream stayed counted busy, the reader's inflate waited on it for ever, and ingest's `with
    # ThreadPoolExecutor` waited on the reader: Ctrl-C hung the stage
    from PIL import Image

    def png(value):
        out = io.BytesIO()
        Image.new("L", (4, 4), value).save(out, format="PNG")
        return plain_png.pixel_stream(out.getvalue())

    streams = [png(10), png(200)]
    shared = plain_png.Inflating()
    reader, main_claimed = [], threading.Event()
    inflated_or_none = plain_png._inflated_or_none

    def first_waits_for_the_main_threads_claim(stream):
        if threading.current_thread() in reader:
            main_claimed.wait()  # the reader holds stream 0 while the main thread claims stream 1 from the back
        return inflated_or_none(stream)

    claim = shared._claim

    def claim_then_ctrl_c(*, front):
        index = claim(front=front)
        if not front and index is not None:
            main_claimed.set()
            raise KeyboardInterrupt  # as if delivered between the claim and the try
        return index

    monkeypatch.setattr(plain_png, "_inflated_or_none", first_waits_for_the_main_threads_claim)
    monkeypatch.setattr(shared, "_claim", claim_then_ctrl_c)
    ahead = Future()
    reader.append(threading.Thread(target=lambda: ahead.set_result(shared.inflate(streams)), daemon=True))
    reader[0].start()
    with pytest.raises(KeyboardInterrupt):
        shared.awaited(ahead)
    reader[0].join(timeout=120)  # a bound on a hang, not a timing: before the mend the reader never returned
    assert not reader[0].is_alive()
    assert ahead.result()[0] == plain_png.inflated(png(10))  # the reader's own stream was inflated
