"""A throwaway git project holding what evaluate writes, for the gate's tests (test_gate_compare.py,
test_hostile_gate.py): predictions per test image and the metrics DVC shows, committed or not."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.metrics import headline, metrics_path, predictions_path, summarise

CLASSES = [str(d) for d in range(10)]
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=GIT_ENV).stdout


def init(repo: Path) -> Path:
    """``repo`` (holding its params.yaml already) as a git repository with one commit of everything."""
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "project")
    return repo


def commit(repo: Path, message: str = "evaluate") -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, "--allow-empty")


def labels_of(per_class: int = 100, classes=CLASSES) -> np.ndarray:
    """Class names of a test split with ``per_class`` images of each class, as object ``(N,)``."""
    return np.repeat(np.asarray(classes, dtype=object), per_class)


def wrong_on(labels: np.ndarray, rows, *, classes=CLASSES) -> np.ndarray:
    """Predictions right everywhere but at ``rows`` (positions), where they name the next class."""
    predicted = labels.copy()
    for row in np.atleast_1d(rows):
        predicted[row] = classes[(classes.index(labels[row]) + 1) % len(classes)]
    return predicted


def write_variant(repo: Path, variant: str, labels: np.ndarray, predicted: np.ndarray, *,
                  ids: list[str] | None = None, classes=CLASSES) -> None:
    """What evaluate@variant writes that the gate reads: the predictions CSV and the metrics JSON."""
    ids = [f"test-{i:04d}" for i in range(len(labels))] if ids is None else ids
    path = repo / predictions_path(variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "label": labels, "predicted": predicted, "probability": 0.9}).to_csv(path, index=False)
    index = {c: i for i, c in enumerate(classes)}
    summary = summarise(np.array([index[c] for c in labels]), np.array([index[c] for c in predicted]),
                        classes=list(classes))
    write_metrics(repo, variant, headline(summary))


def write_both_variants(repo: Path, labels: np.ndarray, predicted: np.ndarray, *, classes=CLASSES) -> None:
    """:func:`write_variant` of baseline and pruned alike: both evaluated with the same ``predicted``."""
    for variant in ("baseline", "pruned"):
        write_variant(repo, variant, labels, predicted, classes=classes)


def write_metrics(repo: Path, variant: str, metrics: dict) -> None:
    """A metrics file as given (json allows NaN and Infinity, as Python's json writes them)."""
    path = repo / metrics_path(variant)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics))


def gated(repo: Path, capsys, *args: str) -> tuple[int, str]:
    """``winnow gate --base HEAD --repo repo *args`` run in-process (:func:`winnow.cli.main`) to a report: its exit
    status and its stdout, once nothing came on stderr (a refusal would)."""
    from winnow.cli import main as winnow

    code = winnow(["gate", "--base", "HEAD", "--repo", str(repo), *args])
    out, err = capsys.readouterr()
    assert err == ""
    return code, out


def notes_of(out: str) -> list[str]:
    """The notes of a gate's report ``out``: its lines that begin with ``- ``."""
    return [line for line in out.splitlines() if line.startswith("- ")]
