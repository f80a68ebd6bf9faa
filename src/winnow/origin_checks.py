"""Checks that the imagesets a variant's rows come from are of one run of ingest and degrade: data/degrade of
data/ingest's classes and splits now (:func:`check_same_classes`, :func:`check_same_splits`), and a variant's rows
those imagesets' train images as they label them (:func:`check_origin_rows`). Each refusal names the stage to rerun:
what a stage run by hand (or by dvc repro -s) meets after the stages before it reran only in part.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from winnow.errors import listed
from winnow.imageset import ImageSet
from winnow.stage_reads import other_pixels_error, rerun_error

INGEST, DEGRADE = "data/ingest", "data/degrade"
ORIGINS = {"ingest": INGEST, "degrade": DEGRADE}
# the column of a variant's rows recording the pixel digest of each image of data/degrade or data/ingest its rows were
# decided on (null where none was): pruned's baseline images (the variants stage), balanced's and augmented's pruned
# images as their stage loaded them; check_origin_rows holds them to their imagesets' now. A column, as the cleaners'
# tables record theirs (winnow.judged_rows.with_digests): kept as JSON in the file's metadata, the record was stored
# three times over (pandas' attrs, its metadata, arrow's schema), a 200,000-image pruned 37.5 MB for 1.1 MB of rows,
# and past about 960,000 train images a file pyarrow refuses to read ("Exceeded size limit"): "rerun the variants
# stage", which wrote it so again
PIXELS = "digest"


def check_same_classes(imageset: ImageSet, ingested: ImageSet, *, where: str | os.PathLike = DEGRADE,
                       written_by: str = "degrade") -> None:
    """Refuse an imageset (``where``: data/degrade, or a variant's extra, written by ``written_by``) whose classes
    are not data/ingest's (another data set's, another order, or an earlier ingest's: a class folder added since):
    oracle's labels are ingest's, the others degrade's, so a report would count one set's classes under the
    other's names, and a model would train one set's class indices under the other's names."""
    if imageset.classes != ingested.classes:
        raise rerun_error(f"{where}/classes.json", f"its classes ({listed(imageset.classes)}) differ from "
                          f"{INGEST}/classes.json's ({listed(ingested.classes)})", written_by=written_by)


def check_same_splits(degraded: ImageSet, ingested: ImageSet, *, log: pd.DataFrame | None = None) -> None:
    """Refuse a data/degrade (``degraded``) that puts an image in another split than data/ingest (``ingested``) does
    now: made before ingest split the images anew (ingest.val_fraction or split_seed changed, and only ingest reran).
    Degrade changes no split; an id data/ingest lacks is no error where degrade added it (``log``, its perturbations
    table, records it under a duplicate kind: ``mode: add``'s copies), refused otherwise. Before: the variants stage
    wrote baseline and pruned of the old train split beside oracle of the new one ("oracle 11, baseline 12 train
    images", exit 0), and every reader of those rows then refused them naming the variants stage, whose rerun alone
    wrote them again; or, an image moved from val into train, baseline and pruned went without it, and nothing said so.
    An image of data/ingest that data/degrade lacks is refused too unless degrade removed it (``log`` records it under a
    removal kind): before, an image ingest read anew (a file added to the source, only ingest rerun) was in oracle
    ("oracle 13, baseline 12 train images", exit 0) and nowhere else, and one deleted from the source was in baseline
    and pruned alone ("oracle 11, baseline 12 train images", exit 0)."""
    from winnow.groundtruth import DUPLICATE_KINDS, REMOVAL_KINDS

    removed, added = (() if log is None else set(log.loc[log["kind"].isin(kinds), "id"])
                      for kinds in (REMOVAL_KINDS, DUPLICATE_KINDS))
    split = degraded.manifest["split"]
    now = degraded.manifest["id"].map(pd.Series(ingested.manifest["split"].to_numpy(),
                                                index=ingested.manifest["id"].to_numpy()))
    moved = (now.notna() & (now != split)).to_numpy()
    if moved.any():
        at = int(np.argmax(moved))
        raise rerun_error(DEGRADE, f"{int(moved.sum())} image(s) are in another split of {INGEST} now (first: id "
                                   f"{degraded.manifest['id'].iloc[at]!r}, {split.iloc[at]} here, {now.iloc[at]} "
                                   "there): made before ingest split the images anew", written_by="degrade")
    lacking = ~ingested.manifest["id"].isin(set(degraded.manifest["id"]) | set(removed)).to_numpy()
    if lacking.any():
        at = int(np.argmax(lacking))
        raise rerun_error(DEGRADE, f"{int(lacking.sum())} image(s) of {INGEST} now are not here, and degrade removed "
                                   f"none of them (first: id {ingested.manifest['id'].iloc[at]!r}, a "
                                   f"{ingested.manifest['split'].iloc[at]} image there): made before ingest read the "
                                   "images anew", written_by="degrade")
    foreign = ~degraded.manifest["id"].isin(set(ingested.manifest["id"]) | set(added)).to_numpy()
    if foreign.any():
        at = int(np.argmax(foreign))
        raise rerun_error(DEGRADE, f"{int(foreign.sum())} image(s) here are not in {INGEST} now, and degrade added "
                                   f"none of them (first: id {degraded.manifest['id'].iloc[at]!r}, a {split.iloc[at]} "
                                   "image here): made before ingest read the images anew", written_by="degrade")


def check_origin_rows(rows: pd.DataFrame, origin: str, imageset: ImageSet, *, splits: pd.Series | None,
                      path: str | os.PathLike, written_by: str) -> None:
    """Refuse, in one line naming ``path``, a variant's ``rows`` whose rows of ``origin`` are not the train images
    of its ``imageset`` as it labels them, rows of another run (of ingest or degrade, their seeds, splits or damage
    changed, and only they reran): an id it lacks; a kept image of its val or test split, or of data/ingest's now
    (``splits``: data/ingest's split by id; None: not checked); a kept image at another label than it gives, a
    relabel to the label it gives (the variants stage writes none); but for ``extra``, a train image without a row
    (rows of no image of ``origin`` are of another: nothing to check). Training
    (:func:`winnow.variants.load_variant`) and the report read them so: before, the report checked none of it and drew
    "relabel b -> b" where the rows' degrade had flipped the label the current one does not."""
    mine = rows[rows["origin"] == origin]
    if mine.empty:
        return
    ids = pd.Index(imageset.manifest["id"])  # unique (read_imageset): a Series.isin of 200,000 str ids took 1-3 s
    located = ids.get_indexer(mine["id"])
    missing = located < 0
    if missing.any():
        raise rerun_error(path, f"image {mine['id'].iloc[int(np.argmax(missing))]!r} is not in the {origin} imageset",
                          written_by=written_by)
    kept = (mine["action"] != "drop").to_numpy()
    held = imageset.manifest.iloc[located]
    held_out = kept & (held["split"] != "train").to_numpy()
    if held_out.any():  # rows naming 1,000 test images trained on them, and evaluate reported 0.985 for 0.944
        first = held.iloc[int(np.argmax(held_out))]
        raise rerun_error(path, f"image {first['id']!r} is in the {first['split']} split of the {origin} "
                          "imageset: a variant trains on train images only (a val or test image trained on "
                          "flatters the score it is chosen or judged by)", written_by=written_by)
    # the same against data/ingest's splits: a degrade imageset of an earlier ingest (ingest.val_fraction or
    # split_seed changed, and only ingest reran) still calls them train, and the model chose its epoch on images
    # it had learnt from, its val accuracy flattered without a word
    now = mine["id"].map(splits if splits is not None else {})
    moved = kept & (now.notna() & now.ne("train")).to_numpy()
    if moved.any():
        at = int(np.argmax(moved))
        raise rerun_error(path, f"image {mine['id'].iloc[at]!r} is in the {now.iloc[at]} split of {INGEST} now "
                          f"({int(moved.sum())} such row(s)): the {origin} imageset was made before ingest split "
                          "the images anew", written_by=written_by)
    # a kept image keeps its imageset's label (variants, verdicts.apply_verdicts), a relabel changes it: rows of an
    # earlier degrade (its seed or damage changed, and only degrade reran) trained the old label flips on the new
    # pixels, without a word
    labels, given = mine["label"].to_numpy(np.int64), held["label"].to_numpy(np.int64)
    for action, wrong, says in (("keep", labels != given, "keeps label"), ("relabel", labels == given,
                                                                          "is relabelled to")):
        wrong &= (mine["action"] == action).to_numpy()
        if wrong.any():
            at = int(np.argmax(wrong))
            raise rerun_error(path, f"image {mine['id'].iloc[at]!r} {says} {imageset.classes[labels[at]]!r}, the "
                              f"{origin} imageset labels it {imageset.classes[given[at]]!r} ({int(wrong.sum())} such "
                              f"row(s)): made from another {origin}", written_by=written_by)
    # rows decided on other pixels than the imageset holds now (PIXELS, where recorded): before, degrade rerun (its
    # damage or seed changed, the same ids and labels) and train@pruned run alone, pruned's drops and relabels of the
    # old pixels were trained on the new ones, and balance's copies of the old pixels beside them, exit 0
    if origin != "extra" and PIXELS in rows.columns:
        then = mine[PIXELS].to_numpy(object)
        recorded = pd.notna(then)
        odd = np.flatnonzero(recorded & ~np.array([isinstance(d, str) for d in then], bool))
        if len(odd):
            raise rerun_error(path, f"records pixels {then[odd[0]]!r} of image {mine['id'].iloc[odd[0]]!r}, not a "
                                    "pixel digest", written_by=written_by)
        now = held["digest"].to_numpy(object)
        moved = np.flatnonzero(recorded & (then != now))
        if len(moved):
            at = moved[0]
            raise other_pixels_error(path, imageset=ORIGINS[origin], images=len(moved), first=mine["id"].iloc[at],
                                     then=then[at], now=now[at], written_by=written_by)
    # a row for every train image of the imageset (a drop where a decision left it out): rows of an earlier degrade
    # (a duplicate perturbation added since, and only degrade reran) trained without the images it added, exit 0
    if origin != "extra":
        named = np.zeros(len(ids), bool)
        named[located] = True
        unnamed = (imageset.manifest["split"] == "train").to_numpy() & ~named
        if unnamed.any():
            raise rerun_error(path, f"image {imageset.manifest['id'].iloc[int(np.argmax(unnamed))]!r} of the "
                              f"{origin} imageset's train split has no row ({int(unnamed.sum())} such image(s)): "
                              f"made from another {origin}", written_by=written_by)
