"""Inject known problems into the train split of an imageset and record exactly what was done.

A run takes a list of perturbation specs (the ``degrade.perturbations`` params), each a dict with a
``kind`` from :data:`winnow.groundtruth.KINDS` and its options (see :data:`winnow.degrade_options.OPTIONS`), and returns
the degraded imageset plus the ground truth, one row per (image, perturbation), in the columns of
:data:`winnow.groundtruth.PERTURBATION_COLUMNS`. Only train rows change; val and test pass through.

How a run unfolds, so that its ground truth stays exact:

1. Removals (``class_removal``, ``class_subsample``, ``subsample``) drop train rows, in list order. A
   ``class_subsample`` that would leave a class it names without a train image is refused (cutting a
   class to nothing is ``class_removal``'s job). A removed class stays removed: label noise only ever
   gives a class that keeps train images (:func:`winnow.degrade_removals.after_removals`).
2. Every other perturbation picks its images among the surviving train rows, in list order:
   ``fraction`` is a share of the surviving train rows (in images: :func:`winnow.degrade_picks.picked`);
   ``rates`` (label kinds) maps class → share of that class. With ``disjoint`` (the default) no image is
   picked twice; without it label and contamination perturbations may share images. Duplicate copies and
   their sources are always picked apart from everything else, since a copy replaces the pixels and label
   it lands on.
3. Duplicates are written, then labels changed, then contamination applied in list order.
   A contamination that leaves a picked image as the detectors saw it (pixel for pixel as it was; grey already, for
   grayscale; a file of that pixel count or aspect ratio already, for odd size or aspect ratio) does not record it
   (and says so).

Each perturbation draws from its own ``np.random.default_rng([seed, index])``, ``index`` being its
position in the list, so appending a perturbation never reshuffles the ones before it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from winnow import perturb
from winnow.degrade_options import Perturbation, parse
from winnow.degrade_kept import grey_already, kept_at_any, left_as_it_was, odd_already
from winnow.degrade_kept import black as is_black
from winnow.degrade_picks import check_overlaps, open_to, pick_all, share_advice
from winnow.degrade_removals import (
    after_removals, check_class_subsample, kept, long_tail_left, long_tail_shares, untouched_classes,
)
from winnow.errors import WinnowError
from winnow.groundtruth import (
    CONTAMINATION_KINDS, DUPLICATE_KINDS, KINDS, LABEL_KINDS, PERTURBATION_COLUMNS, REMOVAL_KINDS,
)
from winnow.imageset import IMAGES, ImageSet, equal_images, pixel_digest, whole_file
from winnow.npy_rows import NpyRows
from winnow.file_rows import unchanged_in_place


def degrade(
    imageset: ImageSet, *, perturbations: list[dict], disjoint: bool = True, seed: int = 0,
    workdir: str | os.PathLike | None = None,
) -> tuple[ImageSet, pd.DataFrame]:
    """Apply ``perturbations`` to the train rows of ``imageset``.

    Args:
        imageset: images uint8 ``(N, H, W, C)`` and their manifest.
        perturbations: specs as in params.yaml; validated all together before any work is done.
        disjoint: no image gets two perturbations (duplicates are always kept apart).
        seed: same imageset, specs and seed give the same output.
        workdir: a folder for the degraded images file, or None to hold them in memory. With a folder
            and ``imageset.images`` a read-only memory map of its whole file, only the damaged rows are
            ever held in memory (a copy-on-write map of the input, the rows kept written out a batch at a
            time): a set larger than memory degrades.

    Returns:
        The degraded imageset (removed rows gone, added copies at the end; ``digest`` recomputed
        where pixels changed; its images a read-only memory map of ``workdir/images.npy`` when
        ``workdir`` is given) and the ground truth as a DataFrame with
        :data:`winnow.groundtruth.PERTURBATION_COLUMNS`.

    Raises:
        WinnowError: one line naming the parameter and its allowed range.
    """
    specs = parse(perturbations, classes=imageset.classes, images=imageset.images, manifest=imageset.manifest)
    if not disjoint:
        check_overlaps(specs)
    # the input's pixels are read from the first damage to the last kept row written out (a copy-on-write map of its
    # file when streamed): before, an images.npy rewritten in place meanwhile (cp over it) gave the damage of the old
    # images beside the new ones kept under the old digests, exit 0
    with unchanged_in_place(imageset.images):
        state = _State.start(imageset, streamed=workdir is not None)
        log: list[dict] = []
        took: dict[int, int] = {}  # ground-truth rows each perturbation wrote, by its index
        counts: dict[int, np.ndarray] = {}  # the train images of each class just before each removal
        for p in specs:
            if p.kind in REMOVAL_KINDS:
                counts[p.index] = np.bincount(state.labels[state.train_alive()], minlength=len(state.classes))
                log += (rows := _remove(state, p, p.rng(seed)))
                took[p.index] = len(rows)
        state.classes_left = np.unique(state.labels[state.train_alive()])
        left = np.bincount(state.labels[state.train_alive()], minlength=len(state.classes))
        specs = after_removals(specs, left=state.classes_left, classes=state.classes)
        n_train = len(state.train_alive())
        picks = pick_all([p for p in specs if p.kind not in REMOVAL_KINDS], state, disjoint=disjoint, seed=seed)
        state.open_to = open_to(picks, len(state.manifest), disjoint=disjoint)
        for kind_group in (DUPLICATE_KINDS, LABEL_KINDS, CONTAMINATION_KINDS):
            for p, (targets, sources) in picks:
                if p.kind in kind_group:
                    log += (rows := _APPLY[kind_group](state, p, targets, sources, p.rng(seed)))
                    took[p.index] = len(rows)
        # also where none took an image: before, the degrade stage's one line then blamed "a fraction that rounds to
        # no image" for a subsample keep 1, a long tail of ratio 1.01 or a rate, none of them a fraction
        for p in (p for p in specs if not took[p.index]):
            print(f"warning: {p.where} took no image: {_why_none(p, n_train, left=state.classes_left)}; change it, "
                  "or leave it out")
        # and a class one took none of beside others it took: before, [symmetric_noise rates cat 0.1, dog 0.5] on 4
        # images a class flipped 2 dogs and no cat without a word, the rate of cat recorded as planted
        for p in (p for p in specs if took[p.index]):
            for line in untouched_classes(p, counts.get(p.index, left), classes=state.classes):
                print(f"warning: {line}")
        degraded = state.finish(workdir)
    return degraded, perturbation_table(log)


def _why_none(p: Perturbation, n_train: int, *, left: np.ndarray) -> str:
    """Why ``p`` wrote no ground-truth row beside others that did (``n_train``: the train rows after the removals,
    ``left``: the classes they keep). Before: said of none of them, so a share that rounds to no image ([blur 0.1,
    symmetric_noise 0.01] on 30 train images) ran as if planted, and only a 0 in metrics/degrade.json told."""
    if "fraction" in p.params:
        count = round(p.params["fraction"] * n_train)
        # picked() takes an image back from the shares rounded up the most where all would not fit: before, said to
        # round to none ([blur 0.49, gaussian_noise 0.49, salt_pepper 0.02] on 30: the 0.6 rounds to 1, given back)
        given_back = f"{count}, given back so that the others' rounded-up shares fit" if count else "none"
        return f"fraction {p.params['fraction']:g} of the {n_train} train images rounds to {given_back}"
    if "rates" in p.params:
        return "each rate rounds to none of its class's train images"
    if "classes" in p.params and not np.isin(p.params["classes"], left).any():
        return "its classes keep no train image after the removals"
    return "its share rounds to keeping every image it thins"


def perturbation_table(rows: list[dict]) -> pd.DataFrame:
    """The ground-truth rows as a DataFrame in the documented columns and dtypes."""
    table = pd.DataFrame(rows, columns=list(PERTURBATION_COLUMNS))
    table["original_label"] = table["original_label"].astype(np.int64)
    table["source_id"] = table["source_id"].astype(object).where(table["source_id"].notna(), None)
    return table


def counts_by_kind(table: pd.DataFrame) -> dict[str, int]:
    """Rows of the ground truth per kind, every kind listed (0 when absent), so metrics diff cleanly."""
    counts = table["kind"].value_counts()
    return {kind: int(counts.get(kind, 0)) for kind in KINDS}


@dataclass
class _State:
    """The imageset being degraded: a writable copy plus which rows are alive and which changed."""

    images: np.ndarray
    manifest: pd.DataFrame
    classes: list[str]
    alive: np.ndarray  # bool (N,)
    changed: np.ndarray  # bool (N,): pixels differ from the input, digest to recompute
    added: list[tuple[np.ndarray, pd.DataFrame]] = field(default_factory=list)
    classes_left: np.ndarray | None = None  # int (K',) sorted: the classes with train images after the removals
    open_to: dict[int, np.ndarray] = field(default_factory=dict)  # bool (N,) by index: the rows its picks were among

    @classmethod
    def start(cls, imageset: ImageSet, *, streamed: bool = False) -> "_State":
        """``streamed``: a memory map of a whole file is mapped copy-on-write (the damage writes private
        pages of the rows it changes, never the input file) instead of read into memory."""
        n, source = len(imageset), whole_file(imageset.images) if streamed else None
        images = np.array(imageset.images) if source is None else np.load(source, mmap_mode="c")
        return cls(images, imageset.manifest.reset_index(drop=True), list(imageset.classes),
                   np.ones(n, bool), np.zeros(n, bool))

    @property
    def labels(self) -> np.ndarray:
        return self.manifest["label"].to_numpy(dtype=np.int64)

    def train_alive(self) -> np.ndarray:
        """int ``(M,)`` positions of the surviving train rows."""
        return np.flatnonzero(self.alive & (self.manifest["split"].to_numpy() == "train"))

    def finish(self, workdir: str | os.PathLike | None = None) -> ImageSet:
        """The surviving rows, then the added ones: in memory, or written to ``workdir`` a batch at a time
        and memory-mapped from there."""
        manifest = self.manifest.copy()
        manifest.loc[self.changed, "digest"] = pixel_digest(self.images[self.changed])
        manifest = pd.concat([manifest[self.alive]] + [a[1] for a in self.added])
        kept, added = np.flatnonzero(self.alive), [a[0] for a in self.added]
        if workdir is None:
            images = np.concatenate([self.images[kept], *added]) if added else self.images[kept]
        else:
            images = _write_rows(Path(workdir) / IMAGES, self.images, kept, added)
        return ImageSet(images=images, manifest=manifest.reset_index(drop=True), classes=self.classes)


def _write_rows(file: Path, images: np.ndarray, kept: np.ndarray, added: list[np.ndarray]) -> np.memmap:
    """``images[kept]`` followed by each of ``added``, written to the ``.npy`` ``file`` a batch at a time;
    returns its read-only memory map."""
    rows = NpyRows.create(file, (len(kept) + sum(len(a) for a in added), *images.shape[1:]))
    rows.write_rows(0, images, kept)
    start = len(kept)
    for more in added:
        rows.write_rows(start, more)
        start += len(more)
    return np.load(file, mmap_mode="r")


def _row(p: Perturbation, image_id, *, extra: dict | None = None, source_id=None, original_label=-1) -> dict:
    params = {**p.params, **(extra or {})}
    return {"id": image_id, "kind": p.kind, "params": json.dumps(params, sort_keys=True),
            "source_id": source_id, "original_label": int(original_label)}


def _remove(state: _State, p: Perturbation, rng: np.random.Generator) -> list[dict]:
    """Drop train rows: whole classes, a share of chosen classes, or a share of everything."""
    train = state.train_alive()
    labels = state.labels[train]
    p = long_tail_left(p, left=np.unique(labels))
    if p.kind == "subsample":
        keep_share = {None: p.params["keep"]}
    elif p.kind == "class_removal":
        keep_share = {c: 0.0 for c in p.params["classes"]}
    elif "imbalance_ratio" in p.params:
        keep_share = long_tail_shares(p.params["classes"], p.params["imbalance_ratio"])
    else:
        keep_share = {c: p.params["keep"] for c in p.params["classes"]}
    members = {cls: train if cls is None else train[labels == cls] for cls in keep_share}
    if p.kind == "class_subsample":
        check_class_subsample(p, {c: len(m) for c, m in members.items()}, classes=state.classes)
    dropped = []
    for cls, share in keep_share.items():
        n_drop = len(members[cls]) - kept(share, len(members[cls]))
        dropped.append(rng.choice(members[cls], n_drop, replace=False))
    dropped = np.sort(np.concatenate([np.array([], np.int64), *dropped])).astype(np.int64)  # a tail of no class left
    state.alive[dropped] = False
    return [_row(p, i) for i in state.manifest["id"].to_numpy()[dropped]]


def _duplicate(state: _State, p: Perturbation, targets, sources, rng) -> list[dict]:
    """Copies of ``sources``, exact or colour-jittered, written over ``targets`` or added as new rows."""
    pixels = state.images[sources]
    factors = {}
    if p.kind == "near_duplicate":
        factors = perturb.jitter_factors(len(sources), low=p.params["low"], high=p.params["high"],
                                         hue=p.params["hue"], rng=rng)
        pixels = perturb.in_chunks(perturb.jitter, pixels, **factors)  # float work of a chunk at a time
        # jitter near its identity (low and high about 1, hue alone on one-channel images) rounds back to the
        # source: exact copies recorded as near duplicates, which a detector would be scored on as such
        same = equal_images(pixels, state.images[sources])
        # copies of black images, which no low, high or hue changes: before, told to widen low/high, which kept them
        black = int(is_black(state.images[sources]).sum())
        if len(sources) and black / len(sources) > 0.5:
            raise WinnowError(f"{p.where}: {black} of its {len(sources)} copies are of black images, equal to their "
                              "source at any low, high or hue, yet they would be recorded as near duplicates; use "
                              "exact_duplicate (a copy of a black image is an exact one), or remove this entry")
        if len(sources) and same.mean() > 0.5:
            raise WinnowError(f"degrade.perturbations[{p.index}] (near_duplicate): {int(same.sum())} of {len(sources)} "
                              f"copies equal their source pixel for pixel (low {p.params['low']}, high "
                              f"{p.params['high']}, hue {p.params['hue']}: too close to no change; hue changes no "
                              "one-channel image); widen low/high, or use exact_duplicate")
        # beside a low/high that changes them: before, each copy of a one-channel set was recorded with the hue turn it
        # drew (factors.hue), none of them turned, a setting written and never applied
        if p.params["hue"] and pixels.shape[3] == 1:
            raise WinnowError(f"{p.where}: hue {p.params['hue']:g} turns no colour of the images, which have 1 "
                              "channel, yet each copy would be recorded with its turn; set hue to 0, or leave it out")
    ids = state.manifest["id"].to_numpy()
    copied = ["label", "orig_h", "orig_w", "orig_mode", "source"]
    if p.params["mode"] == "overwrite":
        original_labels = state.labels[targets]
        state.images[targets] = pixels
        for column in copied:
            state.manifest.loc[targets, column] = state.manifest[column].to_numpy()[sources]
        state.changed[targets] = True
        copy_ids = ids[targets]
    else:
        original_labels = np.full(len(sources), -1)
        rows = state.manifest.iloc[sources].copy()
        # one id a copy: sources come from one draw without replacement of distinct train rows (degrade_picks._draw;
        # a duplicate takes no per-class rates), and each perturbation's index is its own, so no two copies share
        # an id. A copy's id an image already holds would (a source's own ids are the user's): refused, not written
        # as two rows of one id
        copy_ids = np.array([f"{s}~dup{p.index}" for s in ids[sources]], dtype=object)
        taken = np.isin(copy_ids, ids)
        if taken.any():
            raise WinnowError(f"{p.where}: the copy of image {ids[sources][taken][0]!r} would be named "
                              f"{copy_ids[taken][0]!r}, an id an image of the data set holds already "
                              f"({int(taken.sum())} such copies); rename that image in the source, or use mode "
                              "overwrite")
        rows["id"] = copy_ids
        rows["digest"] = pixel_digest(pixels)
        state.added.append((pixels, rows))
    return [
        _row(p, copy_id, extra={"factors": {k: float(v[i]) for k, v in factors.items()}} if factors else None,
             source_id=ids[s],
             original_label=original_labels[i])
        for i, (copy_id, s) in enumerate(zip(copy_ids, sources))
    ]


def _relabel(state: _State, p: Perturbation, targets, sources, rng) -> list[dict]:
    """Symmetric noise: a uniformly chosen other class among those with train images after the removals (a
    removed class stays removed: a label of it would be wrong on every image that carries it). Pair flip: the
    class its mapping names (:func:`winnow.degrade_removals.after_removals` made it so)."""
    old = state.labels[targets]
    left = state.classes_left
    if p.kind == "symmetric_noise":
        # 1 to K'-1 steps round the classes left, never 0: never the same; with every class left this is the
        # draw it always was, so unremoved data degrades as before
        steps = rng.integers(1, len(left), size=len(old))
        new = left[(np.searchsorted(left, old) + steps) % len(left)]
    else:
        new = np.array([p.params["mapping"][c] for c in old], dtype=np.int64)
    state.manifest.loc[targets, "label"] = new
    ids = state.manifest["id"].to_numpy()[targets]
    return [_row(p, i, original_label=o) for i, o in zip(ids, old)]


def _contaminate(state: _State, p: Perturbation, targets, sources, rng) -> list[dict]:
    """Pixel damage from :mod:`winnow.perturb`; odd size/aspect and grayscale also fix the manifest."""
    x, params = state.images[targets], p.params
    shape = params.get("shape")
    # the pixels go through the file's size no larger than the stored one: going up and back is all but the
    # identity, and a 3000x4000 file's size cost 18 MB an image (only the manifest records the file's size)
    stored = None if shape is None else (min(shape[0], x.shape[1]), min(shape[1], x.shape[2]))
    damage = {
        "gaussian_noise": lambda images: perturb.gaussian_noise(images, params["sigma"], rng=rng),
        "salt_pepper": lambda images: perturb.salt_and_pepper(images, params["rate"], rng=rng),
        "brightness": lambda images: perturb.brightness(images, params["factor"]),
        "gamma": lambda images: perturb.gamma(images, params["gamma"]),
        "blur": lambda images: perturb.blur(images, method=params["method"], kernel=params["kernel"]),
        "downscale": lambda images: perturb.resample(images, (params["size"], params["size"])),
        "odd_size": lambda images: perturb.resample(images, stored),
        "odd_aspect_ratio": lambda images: perturb.resample(images, stored),
        "grayscale": lambda images: perturb.grayscale(images),
        "low_information": lambda images: perturb.low_information(images, params["size"]),
    }[p.kind]
    # a chunk at a time: at once, the float64 work of blurring 4% of 200,000 32x32 images took 400 MiB for 24 MiB of
    # pixels, growing with the set where only the damaged rows were to take memory. gaussian_noise too: its chunks, in
    # order, draw the one call's normals one after another, the same images of a seed (its float64 noise, sum and
    # rounding at once took 17 times the pixels). salt_pepper draws all its hits, then all its colours: in chunks the
    # draws would change, so it draws for all at once (a float64 a pixel position: 3.3 times the pixels of colour
    # images, its output included)
    damaged = damage(x) if p.kind == "salt_pepper" else perturb.in_chunks(damage, x)
    # a setting near its identity (brightness 1.002, sigma 0.1) rounds back to the same pixels: recorded as damage,
    # it would count as missed by every detector. Per image too: a light factor on a black-and-white scan, a blur of a
    # flat image, a few salt-and-pepper pixels that missed, a grayscale conversion of a grey photo, an odd size of a
    # file that had it leave some images as they were. Such an image is left unrecorded, its pixels and manifest as they
    # were (and stays taken: the others' picks do not move)
    # the files' sizes as parse reads them: the stored size where the manifest keeps none (a library caller's)
    sizes = (state.manifest[["orig_h", "orig_w"]].to_numpy()[targets] if {"orig_h", "orig_w"} <= set(state.manifest)
             else np.broadcast_to(x.shape[1:3], (len(targets), 2)))
    same = left_as_it_was(p.kind, x, damaged, sizes=sizes, shape=shape)
    if len(targets) and same.all():
        if p.kind == "grayscale":  # no setting to strengthen; a larger share may pick the colour ones
            raise WinnowError(f"degrade.perturbations[{p.index}] (grayscale): the {len(targets)} images it picked are "
                              "grey already (channels at most a grey level apart), yet they would be recorded as "
                              f"damaged; {share_advice(state, p, lambda x: ~grey_already(x), 'in colour')}")
        # images no stronger setting changes (black stays black, a blur of one colour is that colour): before, "(factor
        # 0.5: too close to no change); give a stronger setting", which changed nothing
        # (held, not kept: kept is what a removal keeps, degrade_removals.kept)
        held, described, other = kept_at_any(p.kind, params)
        if held is not None and held(x).all():
            raise WinnowError(f"degrade.perturbations[{p.index}] ({p.kind}): the {len(targets)} images it picked are "
                              f"{described}, which it leaves as they were at a stronger setting too, yet they would be "
                              f"recorded as damaged; {share_advice(state, p, lambda x: ~held(x), other)}")
        if shape is not None:
            raise WinnowError(f"degrade.perturbations[{p.index}] ({p.kind}): the {len(targets)} images it picked are "
                              f"{odd_already(p.kind, shape)} already, yet they would be recorded as damaged; give "
                              f"another {'size' if p.kind == 'odd_size' else 'ratio'}")
        raise WinnowError(f"degrade.perturbations[{p.index}] ({p.kind}): changed no pixel of the {len(targets)} "
                          f"images it picked ({', '.join(f'{k} {v}' for k, v in params.items() if k != 'fraction')}: "
                          "too close to no change); give a stronger setting")
    if same.any():
        found = (f"found {int(same.sum())} of the {len(targets)} images it picked grey already" if p.kind == "grayscale"
                 else f"found {int(same.sum())} of the {len(targets)} images it picked {odd_already(p.kind, shape)} "
                 "already" if shape is not None
                 else f"left {int(same.sum())} of the {len(targets)} images it picked pixel for pixel as they were")
        print(f"degrade: perturbations[{p.index}] ({p.kind}) {found}; they are not recorded as damaged")
        targets, damaged = targets[~same], damaged[~same]
    state.images[targets] = damaged
    state.changed[targets] = True
    if shape is not None:
        state.manifest.loc[targets, "orig_h"], state.manifest.loc[targets, "orig_w"] = shape
    if p.kind == "grayscale":
        state.manifest.loc[targets, "orig_mode"] = "L"
    return [_row(p, i) for i in state.manifest["id"].to_numpy()[targets]]


_APPLY = {DUPLICATE_KINDS: _duplicate, LABEL_KINDS: _relabel, CONTAMINATION_KINDS: _contaminate}
