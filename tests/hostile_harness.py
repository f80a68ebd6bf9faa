"""The hostile-input corpus: run a stage or a ``winnow`` command as DVC or a user would, in a
throwaway project, and assert the outcome a user must see.

A case is a test marked ``@pytest.mark.hostile("<area>")`` (one of :data:`AREAS`). It builds the bad
input, runs the real stage script in a new process (forked from a warm interpreter, :mod:`forked_run`),
and asserts exactly one of:

- the one-line error (:func:`assert_error_line`): exit status 1, a single ``error: …`` line on stderr
  naming the file, row or parameter, no traceback — and nothing partial left behind
  (:func:`assert_nothing_left`);
- the quarantine row: the stage succeeds, the bad item is a row with its reason (for example in
  ``data/ingest/rejected.csv``), and the rest is processed.

``benchmarks/hostile.py`` runs every case and counts, per area, how many end as required
(``benchmarks/results/hostile.json``).
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

import forked_run

ROOT = Path(__file__).resolve().parents[1]
AREAS = ("ingest", "npz", "imagefolder", "cifar10", "params", "intermediates", "gate", "compare", "report",
         "training", "interrupted", "represent", "review")
TEMPORARY_MARK = ".winnow-tmp-"  # winnow.stage.atomic_path and the imageset writer name their temporaries so


def planted_log(folder) -> dict:
    """``tables`` for :func:`winnow.imageset.write_imageset` of ``folder`` (data/degrade) written anew as a degrade
    rerun writes it: its log of what degrade planted (perturbations.parquet) as it holds it, or none planted where it
    has none yet. The log's readers refuse a data/degrade without one (degrade always writes it)."""
    import pandas as pd

    from winnow.degrade import perturbation_table

    log = Path(folder) / "perturbations.parquet"
    return {"perturbations.parquet": pd.read_parquet(log) if log.is_file() else perturbation_table([])}


def log_nothing_planted(root: Path) -> None:
    """data/degrade's log of what degrade planted as degrade off writes it (none): for a data/degrade copied from
    data/ingest, which its readers refuse without one."""
    from winnow.degrade import perturbation_table
    from winnow.stage import write_table

    write_table(Path(root) / "data/degrade/perturbations.parquet", perturbation_table([]))


def record_represent(root: Path, *, source: str = "file") -> None:
    """data/represent/made_from.json for a hand-made embedding beside data/degrade, as the represent stage writes
    it (:func:`winnow.represent.made_from`): the stages reading the embedding check it against data/degrade."""
    from winnow.imageset import read_imageset
    from winnow.represent import MADE_FROM, made_from
    from winnow.stage import write_json

    write_json(root / "data/represent" / MADE_FROM, made_from(read_imageset(root / "data/degrade"), source=source))


def default_params() -> dict:
    """The project's params.yaml as a fresh dict, but train.threads 1: the tests' nets are tiny, two pytest workers
    share CI's two cores, and two torch threads a stage spun more than they worked (budget's model check: 18 CPU s
    on two threads, 2 on one, the same decisions). A case about threads sets its own."""
    params = copy.deepcopy(_DEFAULTS)
    params["train"]["threads"] = 1
    return params


_DEFAULTS = yaml.safe_load((ROOT / "params.yaml").read_text())


def imagefolder_project(root: Path) -> tuple[Path, dict]:
    """(``root/project``, its params): a project whose ingest reads ``root/images``, 3 class folders of 12
    distinct grey 8x8 PNGs."""
    import numpy as np
    from PIL import Image

    source = root / "images"
    for c in range(3):
        (source / f"c{c}").mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((8, 8), 20 * c + i, np.uint8)).save(source / f"c{c}" / f"{i}.png")
    params = default_params()
    params["ingest"].update(source="imagefolder", path=str(source), size=None)
    return make_project(root / "project", params), params


def undamaged_params(*variants: str) -> dict:
    """The project's params with degrade off (the data as it came) and ``variants`` (default baseline and
    pruned; oracle needs degrade on)."""
    params = default_params()
    params["degrade"]["enabled"] = False
    params["variants"] = list(variants or ("baseline", "pruned"))
    return params


def params_with(path: str, value) -> dict:
    """The project's params with the value at the dotted ``path`` set (created if absent)."""
    params = default_params()
    *parents, last = path.split(".")
    section = params
    for key in parents:
        section = section[key]
    section[last] = value
    return params


def params_without(path: str) -> dict:
    """The project's params with the dotted ``path`` removed."""
    params = default_params()
    *parents, last = path.split(".")
    section = params
    for key in parents:
        section = section[key]
    del section[last]
    return params


def make_project(root: Path, params: dict | None = None, *, text: str | None = None) -> Path:
    """A project folder at ``root`` whose params.yaml is ``params`` (default: the project's own), or the
    raw ``text`` when a case needs a malformed file."""
    root.mkdir(parents=True, exist_ok=True)
    body = text if text is not None else yaml.safe_dump(default_params() if params is None else params,
                                                        sort_keys=False)
    (root / "params.yaml").write_text(body)
    return root


def contract_inputs(root: Path | str = ".") -> None:
    """What a variant's contract reads beside the variant, for a project made of an ingest imageset and
    variants alone: the suite files, and data/degrade as a copy of data/ingest (degrade off)."""
    import shutil

    root = Path(root)
    shutil.copytree(ROOT / "contracts", root / "contracts", dirs_exist_ok=True)
    if not (root / "data/degrade").exists():
        shutil.copytree(root / "data/ingest", root / "data/degrade")


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "DVC_NO_ANALYTICS": "1"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def libgomp_warns(name: str, values: list[str]) -> dict[str, bool]:
    """For each of ``values``: whether torch's own GNU OpenMP, loaded alone (no torch import) in a fresh process with
    ``name=value`` and no other OpenMP or MKL setting, warns at its load that it cannot read it. The library itself as
    the judge of what winnow.openmp_settings.openmp_refusal refuses (one helper for every variable's test)."""
    import importlib.util

    library = next(Path(importlib.util.find_spec("torch").origin).parent.glob("lib/libgomp*.so*"))
    plain = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_", "MKL_"))}
    warned = {}
    for value in values:
        done = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(library)!r})"],
                              env={**plain, name: value}, capture_output=True, text=True, timeout=60)
        # "Invalid value for", "Unknown value for", "Invalid value for chunk size in" (OMP_SCHEDULE's) the variable
        # ("enviroment": GOMP_CPU_AFFINITY's line, as libgomp spells it)
        warned[value] = re.search(rf"^libgomp: .* environ?ment variable {name}$", done.stderr, re.M) is not None
    return warned


def run_stage(project: Path, stage: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``stages/<stage>.py`` (underscored name) in ``project`` as dvc.yaml's command would."""
    script = ROOT / "stages" / f"{stage.replace('-', '_')}.py"
    return forked_run.run("script", str(script), list(args), cwd=project, env=_env(), timeout=timeout)


def run_winnow(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the ``winnow`` command in ``project``."""
    return forked_run.run("module", "winnow.cli", list(args), cwd=project, env=_env(), timeout=timeout)


def files_under(project: Path) -> set[str]:
    """Every file below ``project`` (relative paths), params.yaml included."""
    return {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() or p.is_symlink()}


def assert_error_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit status 1 and exactly one ``error: …`` line on stderr containing every fragment; no traceback.

    Returns the line, for a case that checks more of it.
    """
    output = done.stdout + done.stderr
    assert "Traceback" not in output, f"traceback instead of one line:\n{output[-3000:]}"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert done.returncode == 1, f"exit status {done.returncode}, expected 1:\n{output[-3000:]}"
    assert len(errors) == 1, f"expected one 'error:' line, got {errors!r} in:\n{done.stderr[-3000:]}"
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


def refused_line(project: Path, stage: str, *args: str) -> str:
    """Run a stage on ``project``; it must end in one ``error:`` line (returned) and leave nothing behind."""
    before = files_under(project)
    line = assert_error_line(run_stage(project, stage, *args))
    assert_nothing_left(project, before)
    return line


def assert_nothing_left(project: Path, before: set[str], *, allowed: set[str] = frozenset()) -> None:
    """No file appeared since ``before`` (a :func:`files_under` snapshot) except ``allowed``, and no
    temporary file of an atomic write remains anywhere in the project."""
    after = files_under(project)
    assert not {p for p in after if TEMPORARY_MARK in p}, f"temporary files left: {sorted(after)}"
    new = after - before - set(allowed)
    assert not new, f"partial output left behind: {sorted(new)}"


TINY_CLASSES = ["a", "b", "c"]
TINY_PER_CLASS = {"train": 6, "val": 2, "test": 2}


def write_judged(root: Path, path: str, table):
    """Write ``table`` (a table of images by ``id``: the score stage's scores, threshold's flags, dedup's groups, a
    label cleaner's decisions) to ``root / path`` with each row's pixel digest in ``root``'s data/degrade as its stage
    writes it (:func:`winnow.judged_rows.with_digests`): every reader refuses such a table without them. Call it after
    data/degrade is written; an id data/degrade lacks gets a null digest. Returns the table as written."""
    import pandas as pd

    from winnow.judged_rows import with_digests
    from winnow.stage import write_table

    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet", columns=["id", "digest"])
    written = with_digests(table, manifest=manifest)
    write_table(root / path, written)
    return written


def write_scores(root: Path, table, *, score: dict | None = None):
    """Write a hand-made scores ``table`` (``id`` and the quality scores) to ``root``'s data/score/scores.parquet as the
    score stage writes its own: with each image's pixel digest (:func:`write_judged`) and the ``score`` options
    (params.yaml's score section, default the project's) it was scored at (:func:`winnow.quality.scored_at`), which
    threshold refuses a table without. Returns the table as written."""
    from winnow.quality import SCORED_AT, scored_at

    table = table.copy()
    table.attrs = {SCORED_AT: scored_at(default_params()["score"] if score is None else score)}
    return write_judged(root, "data/score/scores.parquet", table)


def tiny_degraded(root: Path, *, score: dict, clean_tables: bool = False):
    """data/ingest and data/degrade of 3 classes of random 8x8 images (``TINY_PER_CLASS`` of each per split;
    ids ``<split>-<class>-<i>``), degrade's empty perturbation table and the scores ``score`` (params.yaml's
    score section) gives them: the start of the template projects the hostile cases copy; with
    ``clean_tables`` also threshold's flags (nothing flagged), dedup's groups and a random 4-d represent
    embedding. Returns the manifest as written (digests included), the images and the scores."""
    import json

    import numpy as np
    import pandas as pd

    from winnow.dedup import dedup_images
    from winnow.degrade import perturbation_table
    from winnow.imageset import write_imageset
    from winnow.quality import SCORES, score_table
    from winnow.stage import write_table

    rows = [(f"{split}-{c}-{i}", split, c) for split, n in TINY_PER_CLASS.items()
            for c in range(len(TINY_CLASSES)) for i in range(n)]
    manifest = pd.DataFrame(rows, columns=["id", "split", "label"]).assign(source="t", orig_h=8, orig_w=8,
                                                                           orig_mode="L")
    images = np.random.default_rng(0).integers(0, 256, (len(manifest), 8, 8, 1), dtype=np.uint8)
    for name in ("ingest", "degrade"):
        write_imageset(root / "data" / name, images, manifest, TINY_CLASSES)
    write_table(root / "data/degrade/perturbations.parquet", perturbation_table([]))
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    scores = score_table(images, manifest, **score)
    write_table(root / "data/score/scores.parquet", scores)
    if clean_tables:
        write_judged(root, "data/threshold/flags.parquet",
                     pd.DataFrame({"id": manifest["id"], **{issue: False for issue in SCORES}, "any": False}))
        write_judged(root, "data/dedup/groups.parquet", dedup_images(manifest, images, scores, radius=6,
                                                                     min_correlation=0.98))
        (root / "data/represent").mkdir()
        np.save(root / "data/represent/embeddings.npy", np.random.default_rng(1).normal(size=(len(manifest), 4))
                .astype(np.float32))
        (root / "data/represent/ids.json").write_text(json.dumps(manifest["id"].tolist()))
        record_represent(root)
    return manifest, images, scores


def flip_a_bit(path: Path, *, member: str | None = None) -> str:
    """Flip one bit in the middle of the bytes of ``member`` (default: the largest) of the zip archive torch.save
    wrote at ``path``, as a bad disk or copy would; returns the member's name."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    found = max(members, key=lambda m: m.file_size) if member is None else next(
        m for m in members if m.filename.endswith(member))
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[found.header_offset + 26:found.header_offset + 30])
    data[found.header_offset + 30 + name_length + extra_length + found.file_size // 2] ^= 0x40
    path.write_bytes(bytes(data))
    return found.filename


def edit_table(path: Path, change) -> None:
    """Rewrite the parquet table at ``path`` as ``change`` (a function of the frame) returns it."""
    import pandas as pd

    pd.read_parquet(path).pipe(change).to_parquet(path, index=False)


def regroup(root: Path) -> None:
    """Rewrite the ``split`` and ``label`` of each row of ``root``'s data/dedup/groups.parquet as data/degrade's
    manifest files its id now (an id it lacks is left as it was), the rest (groups, digests, attrs) as they were: what
    a dedup rerun gives after a fixture edited data/degrade's labels or splits, as `dvc repro` always reruns it."""
    import pandas as pd

    path = root / "data/dedup/groups.parquet"
    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet", columns=["id", "split", "label"]).set_index("id")

    def change(groups):
        attrs = dict(groups.attrs)
        for column in ("split", "label"):
            if column in groups.columns:
                now = groups["id"].map(manifest[column])
                known = now.notna()
                groups.loc[known, column] = now[known].astype(groups[column].dtype)
        groups.attrs = attrs
        return groups

    edit_table(path, change)


def budget_stamped(root: Path, decisions):
    """Budget ``decisions`` (``id, action, …``) with the ``given_label`` and pixel ``digest`` the project's
    data/degrade files under each id (none for an id it lacks), and its train ids in ``attrs["train_ids"]``, as the
    budget stage stamps what it decided on; with the records every budget's file holds: the bytes of each cleaner file
    (of every cleaner, whatever pruned.cleaners lists), the judge and train splits, and no represent file read (as a budget that
    judged nothing)."""
    import pandas as pd

    import contextlib

    from winnow.configs import CLEANERS
    from winnow.decision_inputs import (
        JUDGED_ON, READ_FROM, REPRESENTED, TRAINED_ON, cleaner_files, judge_splits, train_split,
    )

    manifest = pd.read_parquet(root / "data/degrade/manifest.parquet")
    out = decisions.assign(given_label=decisions["id"].map(manifest.set_index("id")["label"]),
                           digest=decisions["id"].map(manifest.set_index("id")["digest"]))
    with contextlib.chdir(root):  # the files as the variants stage, run there, hashes them
        read_from = cleaner_files(CLEANERS)
    out.attrs = {"train_ids": sorted(manifest.loc[manifest["split"] == "train", "id"]), READ_FROM: read_from,
                 JUDGED_ON: judge_splits(manifest), TRAINED_ON: train_split(manifest), REPRESENTED: {}}
    return out


def with_group_sizes(groups):
    """dedup's ``groups`` table with each row's ``group_size`` the number of rows of its group, as dedup writes it:
    for a fixture that merges groups by editing ``group`` (the readers refuse a size that is not its group's count)."""
    sizes = groups.groupby("group")["group"].transform("size")
    return groups.assign(group_size=sizes.astype(groups["group_size"].dtype))


def repeat_first(n: int):
    """A ``change`` for :func:`edit_table`: the table with its first ``n`` rows once more at the end."""
    import pandas as pd

    return lambda table: pd.concat([table, table.iloc[:n]], ignore_index=True)
