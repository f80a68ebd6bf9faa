"""Checked reads of what a trained model left for other stages: the represent stage's embedding
(:func:`read_embedding`) and a model checkpoint (:func:`read_checkpoint`), each refused in one line naming the stage
that writes it (:func:`winnow.stage_reads.rerun_error`). numpy, pandas and torch are imported when called."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError, refuse_unreadable
from winnow.file_ops import file_digests
from winnow.stage_reads import read_json, rerun_error

# the represent stage's files an output judged by the embedding records the sha256 of (dedup's groups, the cleaners'
# decisions, the budget's)
EMBEDDING_FILES = ("data/represent/embeddings.npy", "data/represent/ids.json")


def read_embedding(folder: str | os.PathLike, *, params: Mapping[str, Any] | None = None):
    """(``folder/embeddings.npy`` memory-mapped, ``folder/ids.json`` as a pandas Index): the represent stage's
    embedding, its files read as far as they are whatever params.yaml says: a file missing, unreadable, cut short, of no
    float features (N, D), ids that are no list or repeat, or rows and ids that disagree raise :func:`rerun_error`
    naming the represent stage. What :func:`winnow.represent.read_representation` reads first, and the budget's
    decisions (:func:`winnow.decision_inputs.check_represent_files`) of an embedding whose bytes changed. ``params``
    (params.yaml as the caller read it; None: not checked): an embedding made under other represent settings, as
    ``folder/made_at.json`` records them, is refused too (:func:`winnow.represent_settings.check_made_at`)."""
    import numpy as np
    import pandas as pd

    from winnow.errors import first_line, out_of_memory
    from winnow.npy_rows import data_bytes

    folder = Path(folder)
    names = folder / "embeddings.npy", folder / "ids.json"
    for name in names:
        if not name.is_file():
            raise rerun_error(name, "missing", written_by="represent")
    try:
        features = np.load(names[0], mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:  # truncated, foreign or pickled
        refuse_unreadable(err, names[0])
        if out_of_memory(err):  # the map past `ulimit -v` (ENOMEM): no reason to train represent again
            raise
        raise rerun_error(names[0], f"not a readable .npy file ({first_line(err)})", written_by="represent") from err
    held, needed = data_bytes(names[0], features.shape, features.dtype, features.offset)
    if held != needed:  # before: a header cut to D/2 was read as half-rows (data-valuation: 343 harmful, not 439)
        raise rerun_error(names[0], f"holds {held:,} bytes but its header's shape {features.shape} needs {needed:,}",
                          written_by="represent")
    known = read_json(names[1], written_by="represent")
    if not isinstance(known, list) or not all(isinstance(i, (str, int)) and not isinstance(i, bool) for i in known):
        raise rerun_error(names[1], "not a list of image ids", written_by="represent")
    known = pd.Index(known)
    if not known.is_unique:
        raise rerun_error(names[1], f"{int(known.duplicated().sum())} repeated id(s), first "
                                    f"{known[known.duplicated()][0]!r}", written_by="represent")
    if features.ndim != 2 or features.dtype.kind != "f":
        raise rerun_error(names[0], f"holds {features.dtype} of shape {features.shape}, not float features (N, D)",
                          written_by="represent")
    if features.shape[1] == 0:  # every distance 0, every probe a constant: the judges would decide on nothing
        raise rerun_error(names[0], f"holds {features.dtype} of shape {features.shape}: no feature values (D = 0)",
                          written_by="represent")
    if len(features) != len(known):
        raise rerun_error(folder, f"embeddings.npy has {len(features)} rows for the {len(known)} ids of ids.json; "
                                  "the two do not agree", written_by="represent")
    if params is not None:
        check_made_under(folder, params=params)
    return features, known


def check_made_under(folder: str | os.PathLike, *, params: Mapping[str, Any]) -> None:
    """Refuse the embedding in ``folder`` made under other represent settings than ``params``'s, as its record
    (``folder/made_at.json``: :data:`winnow.represent_settings.MADE_AT`) says; a folder with no record (an earlier
    winnow's, or made by hand) is read as before. Before: a params edit then a reader run alone read the old embedding
    as current, exit 0. Also what the readers of an output judged by the embedding check (the budget's decisions,
    :func:`winnow.decision_inputs.check_represent_files`, dedup's groups, :func:`winnow.flag_cuts.check_grouped_at`):
    its bytes as they were, but made under settings params.yaml no longer gives."""
    from winnow.represent_settings import MADE_AT, check_made_at

    folder = Path(folder)
    record_path = folder / MADE_AT
    if record_path.exists():  # a folder there: read_json names it
        check_made_at(read_json(record_path, written_by="represent"), params=params, path=folder / "embeddings.npy",
                      recorded_in=record_path)


def check_embedding_record(record: Any, *, used: str, read: str, params: Mapping[str, Any],
                           path: str | os.PathLike, written_by: str) -> None:
    """Refuse an output (``path``, written by ``written_by``) whose ``record`` (None: none, as an earlier winnow's) of
    the sha256 of :data:`EMBEDDING_FILES` holds other bytes than the files now: the represent stage wrote them anew
    since. One missing or damaged since is refused naming represent (:func:`read_embedding`), and an embedding of the
    same bytes made under other represent settings than params.yaml's (``params``) is refused first
    (:func:`check_made_under`): represent's rerun comes before the output's. ``used``: how the output used the
    embedding, as its line says it ("decided on", "grouped by the embedding's search on"), and ``read`` how it read
    the files ("it decided on", "it was grouped by")."""
    if record is None:
        return
    if not isinstance(record, dict):
        raise rerun_error(path, f"records the represent files {read} as {json.dumps(record)[:40]}, not their "
                                "digests by path", written_by=written_by)
    folder = os.path.dirname(EMBEDDING_FILES[0])
    check_made_under(folder, params=params)
    now = file_digests(EMBEDDING_FILES, kept=True)  # once per version in a process: every reader checks it
    changed = next((file for file in EMBEDDING_FILES if record.get(file) != now[file]), None)
    if changed is not None:
        read_embedding(folder)  # a file missing or damaged: represent writes it again
        raise rerun_error(path, f"{used} {changed} as it was before the represent stage wrote it anew (its bytes "
                                "differ now)", written_by=written_by)


def read_checkpoint(path: str | os.PathLike, *, written_by: str) -> Any:
    """What ``torch.load`` (``weights_only``) reads of the model file at ``path``, whatever it holds: a file missing,
    damaged (:func:`winnow.stage.torch_file_damage`), truncated, foreign or a pickle that is not plain tensors and
    containers raises :func:`rerun_error` naming stage ``written_by``. What :func:`winnow.checkpoints.load` checks
    first, and the budget's decisions (:func:`winnow.decision_inputs.check_represent_files`) of a represent judge
    whose bytes changed: a file no stage could have written is named as damaged, not as written anew."""
    import pickle
    import warnings

    import torch

    from winnow.errors import out_of_memory
    from winnow.stage import torch_file_damage

    path = Path(path)
    if path.is_dir():  # before: "model file not found; rerun ...", and the rerun refused the folder in its place
        raise WinnowError(f"{path}: is a folder, where {written_by} writes a model file; move it away, then rerun the "
                          f"{written_by} stage (dvc repro {written_by})")
    blocking = next((parent for parent in path.parents if parent.is_file()), None)
    if blocking is not None:  # as the rerun names it: before, "model file not found; rerun ...", which then refused
        raise WinnowError(f"{path}: lies under the file {blocking}; move that away, then rerun the {written_by} stage "
                          f"(dvc repro {written_by})")
    if not path.is_file():
        raise rerun_error(path, "model file not found", written_by=written_by)
    damage = torch_file_damage(path)
    if damage:
        raise rerun_error(path, f"corrupt: {damage}", written_by=written_by)
    try:
        with warnings.catch_warnings():  # torch warns before failing on a file that is no zip archive
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise rerun_error(path, "not a winnow model checkpoint (a pickle torch.load(weights_only=True) refuses)",
                          written_by=written_by) from err
    # IndexError, KeyError: torch's legacy unpickler on a text file ('stub', 'skipped: ...')
    except (EOFError, OSError, RuntimeError, ValueError, IndexError, KeyError) as err:
        refuse_unreadable(err, path)
        if out_of_memory(err):  # torch's allocator under a memory limit: the process's fault, not the file's
            raise
        detail = str(err).strip().split(". ")[0][:160] or "it ends early"
        raise rerun_error(path, f"not a readable model checkpoint ({detail})", written_by=written_by) from err
