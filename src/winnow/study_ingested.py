"""What the images ingest wrote allow ``winnow study queue`` (:mod:`winnow.study_sweeps`) to queue: whether the train
images are grey already (:func:`train_grey`), the experiments degrade would refuse on them (:func:`taken_by_the_images`)
and the class names class_deletion removes one at a time (:func:`deletable_classes`). Whether data/ingest is current is
the caller's to say (``current``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.degrade_kept import grey_already
from winnow.degrade_options import check_classes_learnt, parse
from winnow.errors import WinnowError, first_line, first_repeated, listed, refuse_unreadable
from winnow.imageset import as_class

INGESTED_CLASSES = "data/ingest/classes.json"
# the most classes class_deletion deletes one at a time by default (CIFAR-100's 100): each is a full dvc repro
DEFAULT_DELETIONS = 100


def train_grey(images: Path, *, chunk: int = 1024) -> bool:
    """Whether every train image of the imageset file ``images`` (its manifest beside it) is grey to the grayscale
    score (:func:`winnow.degrade_kept.grey_already`), read ``chunk`` images at a time up to the first in colour; False
    where the files cannot be read or hold no train image: the queued runs' ingest or degrade says why."""
    try:
        pixels = np.load(images, mmap_mode="r")
        split = pd.read_parquet(images.parent / "manifest.parquet", columns=["split"])["split"].to_numpy()
    except (OSError, ValueError, KeyError):
        return False
    train = np.flatnonzero(split == "train")
    if len(split) != len(pixels) or not len(train):
        return False
    return all(grey_already(pixels[train[start:start + chunk]]).all() for start in range(0, len(train), chunk))


def taken_by_the_images(settings: list[list[dict]], *, current: Callable[[], bool]) -> tuple[list[list[dict]], str]:
    """The ``settings`` degrade takes on the images ingest wrote, and a note naming the ones it refuses ("" for none):
    the sweeps' sizes are MNIST's and CIFAR's, and on 16x16 images a downscale to 27 px or a thumbnail of 20 px is
    refused by degrade (before: queued all the same, each a `dvc exp run` that failed: 26 of every sweep's 153
    experiments on 8x8 images of 4 classes). All are kept where ingest has not run or its files cannot be read: the
    queued runs' ingest says why; and where DVC says data/ingest is not what the workspace's params make, which every
    queued run ingests again (before: after ``ingest.size: 32``, the sizes refused on the 8x8 images an earlier ingest
    wrote were left out)."""
    folder = Path(INGESTED_CLASSES).parent
    try:
        images = np.load(folder / "images.npy", mmap_mode="r")
        manifest = pd.read_parquet(folder / "manifest.parquet")
        classes = json.loads(Path(INGESTED_CLASSES).read_text())
        reasons = [_refusal(perturbations, classes=classes, images=images, manifest=manifest)
                   for perturbations in settings]
    except (OSError, ValueError, KeyError, TypeError, IndexError):  # a damaged imageset (pyarrow's errors are
        return settings, ""  # ValueErrors): the queued runs' ingest says so
    refused = [perturbations for perturbations, why in zip(settings, reasons) if why]
    if not refused or not current():
        return settings, ""
    first = next(why for why in reasons if why)
    names = [" ".join([p[0]["kind"], *(f"{key}={value}" for key, value in p[0].items()
                                       if key not in ("kind", "fraction"))]) for p in refused]
    return ([perturbations for perturbations, why in zip(settings, reasons) if not why],
            f"left out {len(refused)} of the {len(settings)} experiments, which degrade refuses on the "
            f"{images.shape[1]}x{images.shape[2]} images of {folder} ({listed(list(dict.fromkeys(names)))}; first: "
            f"{first})")


def _refusal(perturbations: list[dict], *, manifest: pd.DataFrame, **data) -> str:
    """Why degrade refuses ``perturbations`` on the data (:func:`winnow.degrade_options.parse`'s arguments), or "";
    also a class_removal that leaves fewer than 2 classes, which the degrade stage refuses
    (:func:`winnow.degrade_options.check_classes_learnt`; before: class_deletion on a two-class set queued two runs
    that failed)."""
    try:
        specs = parse(perturbations, manifest=manifest, **data)
        removed = {c for p in specs if p.kind == "class_removal" for c in p.params["classes"]}
        check_classes_learnt(sorted(set(manifest.loc[manifest["split"] == "train", "label"].tolist()) - removed),
                             classes=data["classes"])
    except WinnowError as err:
        return str(err)
    return ""


def deletable_classes(asked: list[str] | None, *, current: Callable[[], bool]) -> list[str]:
    """The classes class_deletion removes one at a time: ``asked`` (--classes), each checked against the
    ingested class names where ingest has run and DVC says data/ingest is what the workspace's params make, else all
    of those; a name the data lacks would only fail its experiment later, at degrade."""
    path = Path(INGESTED_CLASSES)
    # an earlier ingest's names are not the queued runs' (before: after ingest.source: cifar10 in params.yaml, the
    # sweep deleted MNIST's classes "0".."9" from CIFAR runs, and --classes airplane was refused as not among them)
    if not (path.is_file() and current()):
        if asked is None:
            # the workspace, not params.yaml alone: an edit of the ingest code or its source data is stale alike
            why = ("is not what the workspace's code, params and data make (or DVC cannot tell: `dvc status ingest`)"
                   if path.is_file() else
                   "does not exist")
            raise WinnowError(f"study queue: class_deletion needs the class names and {path} {why}; run "
                              "`dvc repro ingest`, give --classes, or leave class_deletion out of --sweeps")
        return asked
    try:
        known = json.loads(path.read_text())
    except (ValueError, OSError) as err:  # UnicodeDecodeError is a ValueError
        refuse_unreadable(err, path)
        raise WinnowError(f"{path}: not a JSON list of class names ({first_line(err)}); run `dvc repro ingest`") from err
    # before: {"a": 1} queued class a, [1, null] queued None, [] queued nothing without a word
    if not (isinstance(known, list) and known and all(isinstance(name, str) and name for name in known)
            and first_repeated(known) is None):
        raise WinnowError(f"{path}: not a JSON list of distinct class names (it holds {first_line(json.dumps(known))[:80]}); "
                          "run `dvc repro ingest`")
    # a name as a person reads it (winnow.imageset.alike), queued as classes.json spells it: before, "café" typed
    # (NFC) was refused as not among classes listing "café" decomposed (NFD, a folder named on macOS)
    asked = None if asked is None else [as_class(name, classes=known) for name in asked]
    unknown = [name for name in asked or [] if name not in known]
    if unknown:
        raise WinnowError(f"study queue --classes: {', '.join(map(repr, unknown))} not among the {len(known)} classes "
                          f"of {path} ({listed(known)})")
    if asked is None and len(known) > DEFAULT_DELETIONS:
        # before: a data set of 1,000 classes (ten images each) had 1,000 experiments queued without a question, each
        # a full dvc repro for `dvc exp run --run-all` to run one after another
        raise WinnowError(f"study queue: class_deletion deletes each class of {path} in an experiment of its own by "
                          f"default, and it lists {len(known):,} classes (more than {DEFAULT_DELETIONS}): "
                          f"{len(known):,} full dvc repro runs; name the classes to delete with --classes, or leave "
                          "class_deletion out of --sweeps")
    return known if asked is None else asked
