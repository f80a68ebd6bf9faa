"""Whether the variants' evaluate summaries the compare and report stages read are this run's
(:func:`check_same_run`): recorded in dvc.lock, written by their stages, of the models train made, and made under
params.yaml's settings by stages that read what the stages before them record now. Read from dvc.lock alone
(:mod:`winnow.lock_entries`), unlike :mod:`winnow.staleness`' checks, which ask DVC or git. And, without dvc.lock
too, whether they were measured on data/ingest's test split now (:func:`check_same_test_split`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from winnow import lock_entries
from winnow.errors import WinnowError
from winnow.flag_cuts import as_read
from winnow.imageset import read_imageset
from winnow.metrics import TEST_SPLIT_KEY, digest_of_test_split, summary_path
from winnow.staleness import FROZEN


def check_same_run(variants: list[str], params: dict, *, repo: Path = Path("."), stage: str = "compare",
                   reads: tuple[Callable[[str], str], ...] = (summary_path,)) -> None:
    """Refuse, in the compare or report ``stage``, a variant's evaluate summary that is not this run's: dvc.lock records no
    evaluate@<v> or train@<v>, the summary is not the one evaluate@<v> wrote, its model is not the one train@<v>
    wrote, or train@<v> or a stage before it read outputs an earlier run made or ran under params other than
    params.yaml's. ``dvc repro -s compare`` after variants gained oracle compared a one-epoch baseline with a
    twenty-epoch oracle from an earlier run, and tested the two against each other. ``reads``: the paths (of a
    variant) of every evaluate@<v> output the stage reads, each to be the file evaluate wrote: before, summary.json's
    alone, so the report paired a hand-edited or earlier predictions.csv beside a summary of this run. A project
    without dvc.lock (the stage run by hand in a folder) is read as it is."""
    if not (repo / "dvc.lock").is_file():
        return
    locked = lock_entries.locked_stages(repo)
    outputs = lock_entries.locked_outputs(locked)
    rerun = f"not from this run; run `dvc repro {stage}`, which brings every variant up to date"
    pipeline = (repo / "dvc.yaml").read_text() if (repo / "dvc.yaml").is_file() else None
    frozen, (defined, _) = lock_entries.frozen_stages(pipeline), lock_entries.dvc_yaml_stages(pipeline)

    def hint(name: str) -> str:  # `dvc repro` skips a frozen stage (a represent frozen to spare its training)
        return FROZEN if name.split("@")[0] in frozen else ""

    for variant in variants:
        summary, model = f"metrics/evaluate/{variant}/summary.json", f"models/{variant}.pt"
        evaluated, trained = locked.get(f"evaluate@{variant}"), locked.get(f"train@{variant}")
        if evaluated is None or trained is None:
            raise WinnowError(f"{summary}: dvc.lock records no {'evaluate' if evaluated is None else 'train'}"
                              f"@{variant}: {rerun}")
        # train@<v> and evaluate@<v> first, then every stage whose outputs they read, at any depth: before, a
        # confident-learn rerun alone (`dvc repro -s`) left the pruned the budget had made of its old decisions, and
        # the page showed its new label issues beside that pruned
        upstream = list(dict.fromkeys([f"train@{variant}", f"evaluate@{variant}",
                                       *lock_entries.upstream(locked, [f"evaluate@{variant}"], defined=defined)]))
        for stage in upstream:
            disagrees = lock_entries.lock_disagrees(locked[stage], outputs=outputs)  # read what an earlier run made
            if disagrees:
                raise WinnowError(f"{summary}: {stage} read what the stages before it no longer record ({disagrees}): "
                                  f"{rerun}{hint(stage)}")
        written = {o.get("path"): o.get("md5") for o in evaluated.get("outs") or [] if isinstance(o, dict)}
        for path in (read(variant) for read in reads):
            digest = hashlib.md5((repo / path).read_bytes()).hexdigest() if (repo / path).is_file() else None
            if written.get(path) != digest:
                raise WinnowError(f"{path}: not the file evaluate@{variant} wrote (dvc.lock): {rerun}")
        scored = {d.get("path"): d.get("md5") for d in evaluated.get("deps") or [] if isinstance(d, dict)}
        made = {o.get("path"): o.get("md5") for o in trained.get("outs") or [] if isinstance(o, dict)}
        if scored.get(model) != made.get(model):
            raise WinnowError(f"{summary}: evaluate@{variant} scored another {model} than train@{variant} made: "
                              f"{rerun}")
        # the same stages: before, train@<v>'s alone, and pruned.cleaners edited then `dvc repro -s report` showed the
        # pruned the variants stage had made of the old cleaners, its page saying the new ones were applied
        # (as the stages read them: threshold.issues' {method: auto} and {} are one setting, as check_cut reads them)
        for stage in upstream:
            differences = lock_entries.params_differences(locked[stage], params, read_as=as_read)
            if differences:
                _, where, now, then = min(differences)  # the first key in order
                raise WinnowError(f"{summary}: {stage} ran under {where} = {then}, params.yaml now says "
                                  f"{now}: {rerun}{hint(stage)}")


def check_same_test_split(summaries: dict[str, dict], *, repo: Path = Path("."), ingest: str = "data/ingest") -> None:
    """Refuse a summary of ``summaries`` (variant -> evaluate's summary) whose recorded test split
    (:data:`~winnow.metrics.TEST_SPLIT_KEY`) is not data/ingest's now, or, without data/ingest, not the first
    recording summary's. It needs no dvc.lock: before, a stage run by hand (no dvc.lock) compared summaries of an
    earlier ingest, or of two, as one test set. A summary recording none (an earlier evaluate's) is not checked."""
    recorded = {v: s[TEST_SPLIT_KEY] for v, s in summaries.items() if TEST_SPLIT_KEY in s}
    bad = next((v for v, d in recorded.items() if not (isinstance(d, str) and len(d) == 32)), None)
    if bad is not None:
        raise WinnowError(f"{summary_path(bad)}: {TEST_SPLIT_KEY} is {str(recorded[bad])[:40]!r}, not the md5 evaluate "
                          f"writes; rerun evaluate@{bad}")
    if not recorded:
        return
    if (repo / ingest).is_dir():
        now, against, on = digest_of_test_split(read_imageset(repo / ingest).manifest), f"{ingest}'s now", "now"
    else:
        first = next(iter(recorded))
        now, against, on = recorded[first], f"{summary_path(first)}'s", "(one for every variant)"
    for variant, digest in recorded.items():
        if digest != now:
            raise WinnowError(f"{summary_path(variant)}: measured on another test split than {against} "
                              f"({TEST_SPLIT_KEY} {digest[:12]}, against {now[:12]}); rerun evaluate@{variant} and the "
                              f"stages before it on {ingest} {on} (`dvc repro compare` runs each)")
