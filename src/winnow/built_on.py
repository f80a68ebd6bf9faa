"""What a variant built on pruned (``augmented``, ``balanced``: :data:`winnow.variants.WRITTEN_BY`) must still share
with pruned when train@<v> reads it: pruned's rows as ``data/variants/pruned`` holds them now, and the pixels of
pruned's images as their imagesets hold them now (the digests its stage recorded,
:data:`winnow.origin_checks.PIXELS`). Either changes when a stage before it reruns without it (``dvc repro -s``,
or a stage run by hand)."""

from __future__ import annotations

import os

import pandas as pd

from winnow.stage_reads import rerun_error
from winnow.origin_checks import PIXELS
from winnow.variants import VARIANTS_DIR, _rows_file, learnt_ids, read_rows


def check_built_on_pruned(name: str, *, classes: list[str], root: str | os.PathLike = VARIANTS_DIR) -> None:
    """Refuse a variant built on pruned (``augmented``, ``balanced``: :data:`WRITTEN_BY`) whose rows of pruned's images
    are not pruned's rows now: an image missing on one side, or kept, dropped or labelled otherwise (a balanced row
    balance.max_images left out is one pruned keeps). Before: pruned written anew (dvc repro -s variants after a
    cleaner, a verdict or the budget changed) and train@balanced run alone, the copies of the old pruned were trained
    as "pruned plus copies", exit 0."""
    path, written_by = _rows_file(name, root)
    # pruned's labels as training reads them (train@balanced loads balanced's alone): before, a label past the classes
    # or none was an IndexError or ValueError traceback here, and -1 was read as the last class
    mine, now = read_rows(name, root=root), read_rows("pruned", root=root, num_classes=len(classes))
    both = mine[mine["origin"] != "extra"].merge(now, on=["origin", "id"], how="outer", suffixes=("", "_now"))
    # what each side trains on of the image: none, or it at a label (a relabel to a label trains as a keep at it)
    cut = ((both["action"] == "drop") & (both["stage"] == "balance")).to_numpy()  # kept by pruned, then left out
    held = lambda action, label: ("absent" if pd.isna(action) else "dropped" if action == "drop"  # noqa: E731
                                  else f"kept as {classes[int(label)]!r}")
    then = [held("keep" if c else a, l) for a, l, c in zip(both["action"], both["label"], cut)]
    was = [held(a, l) for a, l in zip(both["action_now"], both["label_now"])]
    differs = [a != b for a, b in zip(then, was)]
    if any(differs):
        at = differs.index(True)
        left = " (left out for balance.max_images)" if cut[at] else ""
        raise rerun_error(path, f"built on another pruned: image {both['id'].iloc[at]!r} is {then[at]}{left} there, "
                                f"{was[at]} in data/variants/pruned now ({sum(differs)} such image(s))",
                          written_by=written_by)
    # pruned's own decisions of pixels data/degrade no longer holds, a drop's too (balanced records the images it kept):
    # refused as train@pruned refuses them (before: train@balanced passed where train@pruned was refused)
    learnt_ids("pruned", root=root)
    _check_pixels(mine, path=path, written_by=written_by)


def _check_pixels(mine: pd.DataFrame, *, path, written_by: str) -> None:
    """Refuse a variant's rows (``mine``) that record no pixels of the pruned images they were built on
    (:data:`~winnow.origin_checks.PIXELS`), which :func:`winnow.origin_checks.check_origin_rows` holds to their imagesets' now
    where recorded. Before: degrade rerun (its damage or seed changed, the same ids and labels) and train@balanced run
    alone, balance's copies of the old pixels were trained beside the new ones as "pruned plus copies", exit 0 (and
    augmented's samples of a GAN that learnt the old ones); the balance and gan-synthesize stages record them."""
    if PIXELS not in mine.columns:
        raise rerun_error(path, "records no pixel digests of the pruned images it was built on: made by an earlier "
                                "winnow or by hand", written_by=written_by)
