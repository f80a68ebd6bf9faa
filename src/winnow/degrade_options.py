"""Validation of the ``degrade.perturbations`` params, all in one place, before any pixel is touched.

Each spec is a dict ``{kind: ..., <option>: ...}``; :data:`OPTIONS` lists what each kind accepts.
Classes may be given as an index (int) or a name (str, as in classes.json). Every error is one
line naming the perturbation, the option and the allowed range. :func:`check` runs the checks that
need no data (kinds, options, types, fixed ranges; :mod:`winnow.params` runs it before every stage);
:func:`parse` runs them all against the images and classes; :func:`check_classes_learnt`, the degrade stage's
check of what its damage left, `study queue` runs too. The two checks that depend on what the removals left live
in :mod:`winnow.degrade_removals`; the accessors that read one option, in :mod:`winnow.degrade_option_reader`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from winnow.configs import BLUR_METHODS, MAX_JITTER_FACTOR
from winnow.degrade_option_reader import DataFacts, OptionReader
from winnow.errors import WinnowError
from winnow.groundtruth import KINDS, LABEL_KINDS
from winnow.param_values import bounded_repr

MIN_COPY_FACTOR = 0.25  # near_duplicate's least brightness/contrast factor: a copy, not a dark image
KEPT_RATIO = 0.1  # odd_size's file rounds at most this far from the files' ratio, well within the odd-aspect fences

# kind -> the options it accepts besides ``kind``
OPTIONS = {
    "symmetric_noise": ("fraction", "rates"),
    "pair_flip": ("fraction", "rates", "mapping"),
    "class_removal": ("classes",),
    "class_subsample": ("classes", "keep", "imbalance_ratio"),
    "subsample": ("keep",),
    "gaussian_noise": ("fraction", "sigma"),
    "salt_pepper": ("fraction", "rate"),
    "brightness": ("fraction", "factor"),
    "gamma": ("fraction", "gamma"),
    "blur": ("fraction", "method", "kernel"),
    "downscale": ("fraction", "size"),
    "odd_size": ("fraction", "size"),
    "odd_aspect_ratio": ("fraction", "ratio"),
    "grayscale": ("fraction",),
    "low_information": ("fraction", "size"),
    "exact_duplicate": ("fraction", "mode"),
    "near_duplicate": ("fraction", "mode", "low", "high", "hue"),
}
assert set(OPTIONS) == set(KINDS)
DUPLICATE_MODES = ("overwrite", "add")


@dataclass(frozen=True)
class Perturbation:
    """One validated perturbation.

    Attributes:
        index: position in the params list; seeds its random generator.
        kind: one of :data:`winnow.groundtruth.KINDS`.
        params: validated options with defaults filled in and classes as indices; JSON-able
            (it is what perturbations.parquet records).
        given: the options the spec set itself; the others in ``params`` are defaults, which
            :func:`winnow.degrade_removals.after_removals` may remake from the classes the removals left.
    """

    index: int
    kind: str
    params: dict = field(default_factory=dict)
    given: frozenset = frozenset()

    @property
    def where(self) -> str:
        return f"degrade.perturbations[{self.index}] ({self.kind})"

    def rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng([seed, self.index])


def parse(specs, *, classes: list[str], images: np.ndarray, manifest: pd.DataFrame) -> list[Perturbation]:
    """Validate every spec against the data; return them with defaults filled in.

    Args:
        specs: list of dicts, as read from params.yaml.
        classes: class names (index = label).
        images: uint8 ``(N, H, W, C)``; only its shape is read.
        manifest: the imageset's manifest; train label counts decide which classes are in the data.

    Raises:
        WinnowError: the first problem found, in one line.
    """
    train_labels = manifest.loc[manifest["split"] == "train", "label"].to_numpy(dtype=np.int64)
    # the files' own sizes, which ingest.size resized away: an odd size is odd against them (the score reads
    # orig_h and orig_w), and stored 32x32 MNIST digits of 28x28 files took size 28 as odd and refused 32
    if {"orig_h", "orig_w"} <= set(manifest.columns) and len(manifest):
        sizes = manifest.groupby(["orig_h", "orig_w"]).size()
        originals = tuple(int(v) for v in sizes.idxmax())
    else:
        originals = tuple(images.shape[1:3])
    data = DataFacts(classes, images.shape, np.bincount(train_labels, minlength=len(classes)), originals)
    return [_Reader(spec, index, data).parse() for index, spec in enumerate(_listed(specs))]


def check(specs) -> None:
    """Validate every spec as far as it can be without the data: kinds, option names and types, and the
    ranges that hold for any images and classes (a class index >= 0, a kernel >= 3, a fraction in
    [0, 1]). :func:`parse` repeats this and adds the checks against the data.

    Raises:
        WinnowError: the first problem found, in one line.
    """
    for index, spec in enumerate(_listed(specs)):
        _Reader(spec, index, None).parse()


def with_defaults(spec: dict) -> dict:
    """A checked ``spec`` with the options it leaves out that degrade fills in alike for any data (blur's method, a
    copy's mode, low, high and hue), so that two spellings of one damage read alike; the options the data decides
    (a pair flip's mapping, a long tail's classes) stay out, and what the spec gives is kept as written."""
    p = _Reader(spec, 0, None).parse()
    return {**{k: v for k, v in p.params.items() if k in OPTIONS[p.kind] and v not in ({}, [])}, **spec}


def check_classes_learnt(learnt, *, classes: list[str], fewer: str = "remove or subsample fewer") -> None:
    """Refuse a damage that leaves fewer than 2 classes with train images (``learnt``: their indices, ascending):
    as ingest refuses such data, nothing after degrade could train a classifier on it. The degrade stage checks
    its output with it, and `study queue` a class_removal before queueing it. ``fewer``: what to do less of, the
    damage that took the other classes' images (the degrade stage names relabelling and copies too)."""
    if len(learnt) < 2:
        which = f"only class {classes[learnt[0]]!r} keeps" if len(learnt) else "no class keeps"
        raise WinnowError(f"degrade.perturbations: {which} train images after the damage; a classifier needs at "
                          f"least 2 classes, so {fewer}")


def next_class(classes: list[int]) -> dict[int, int]:
    """The classic pair flip among ``classes`` (sorted): each to the next one, the last to the first."""
    return {c: classes[(i + 1) % len(classes)] for i, c in enumerate(classes)}


def _listed(specs) -> list:
    if specs is None:
        return []
    if not isinstance(specs, list):
        raise WinnowError(f"degrade.perturbations must be a list of {{kind: ..., ...}} entries, got {type(specs).__name__}")
    return specs


class _Reader(OptionReader):
    """Reads one spec: its kind and option names here, each kind's options in its method by the accessors of
    :class:`winnow.degrade_option_reader.OptionReader`. Without ``data`` (None) the checks against the images and
    classes are left out."""

    def __init__(self, spec, index: int, data: DataFacts | None):
        self.where = f"degrade.perturbations[{index}]"
        if not isinstance(spec, dict):
            # bounded: before, a list that YAML aliases nest deep was spelt whole, a line of 722 MB
            raise WinnowError(f"{self.where}: must be a mapping like {{kind: blur, fraction: 0.04}}, got "
                              f"{bounded_repr(spec)}")
        kind = spec.get("kind")
        if "kind" not in spec:  # before: "unknown kind None", a value never written ({Kind: blur, ...}, {})
            raise WinnowError(f"{self.where}: kind is missing (keys given: {bounded_repr(list(spec))}); add kind, one "
                              f"of: {', '.join(KINDS)}")
        if kind not in KINDS:
            raise WinnowError(f"{self.where}: unknown kind {bounded_repr(kind)}; allowed: {', '.join(KINDS)}")
        self.where = f"{self.where} ({kind})"
        # by their text: YAML keys may be numbers too, and sorting 7 beside "rate" raised a TypeError traceback
        unknown = sorted(set(spec) - {"kind"} - set(OPTIONS[kind]), key=str)
        if unknown:
            raise WinnowError(f"{self.where}: unknown option {unknown[0]!r}; allowed: {', '.join(OPTIONS[kind])}")
        self.spec, self.index, self.kind, self.data = spec, index, kind, data

    def parse(self) -> Perturbation:
        params = getattr(self, f"_{self.kind}")()
        return Perturbation(self.index, self.kind, params, frozenset(self.spec) - {"kind"})

    def _selection(self) -> dict:
        """How many images: ``fraction`` for every non-removal kind, or ``rates`` for label kinds."""
        if self.kind in LABEL_KINDS and "rates" in self.spec:
            if "fraction" in self.spec:
                raise WinnowError(f"{self.where}: give fraction or rates, not both")
            return {"rates": self.class_map("rates", lambda k, v: self.fraction(f"rates[{k}]", value=v))}
        return {"fraction": self.fraction()}

    # -- labels -------------------------------------------------------------------------------------
    def _symmetric_noise(self) -> dict:
        if self.data is not None and len(self.data.classes) < 2:
            raise WinnowError(f"{self.where}: needs at least 2 classes, classes.json has {len(self.data.classes)}")
        return self._selection()

    def _pair_flip(self) -> dict:
        if "mapping" in self.spec:
            mapping = self.class_map("mapping", lambda k, v: self.class_index(f"mapping[{k}]", v))
            # named as the spec wrote it: before, {cat: cat} was told "mapping[0] ... got 0", an index it never gave
            same = next(((k, v) for k, v in self.spec["mapping"].items()
                         if mapping[self.class_index("mapping", k)] == self.class_index("mapping", k)), None)
            if same is not None:
                self.fail(f"mapping[{same[0]}]", "a class other than itself", same[1])
        elif self.data is None:  # the classic pair flip is made from the data's classes
            mapping = {}
        else:  # the classic pair flip: each class to the next one
            # remade by after_removals from the classes the removals leave
            mapping = next_class([c for c in range(len(self.data.classes)) if self.data.train_counts[c]])
        selection = self._selection()
        if "mapping" in self.spec and "rates" in selection and self.data is not None:
            for key, rate in self.spec["rates"].items():
                if self.class_index("rates", key) not in mapping:  # its images were never candidates: the user
                    # heard of a shortage of free images that degrade.disjoint: false would cure
                    moved = ", ".join(repr(self.data.classes[c]) for c in mapping)
                    self.fail(f"rates[{key}]", f"given for a class the mapping moves ({moved})", rate)
        return {**selection, "mapping": mapping}

    # -- removals -----------------------------------------------------------------------------------
    def _class_removal(self) -> dict:
        return {"classes": self.classes()}

    def _class_subsample(self) -> dict:
        if ("keep" in self.spec) == ("imbalance_ratio" in self.spec):
            raise WinnowError(f"{self.where}: give keep (with classes) or imbalance_ratio (long tail), exactly one")
        if "keep" in self.spec:
            return {"classes": self.classes(), "keep": self.fraction("keep")}
        if "classes" in self.spec:
            classes = self.classes()
        elif self.data is None:  # every class with train images: the data decides which
            classes = []
        else:
            classes = self.classes(default=[c for c in range(len(self.data.classes)) if self.data.train_counts[c]])
        # a ratio of 1, or one class, keeps every image: it ran as a no-op "that rounds to no image"
        ratio = float(self.number("imbalance_ratio", low=1.0, low_open=True))
        if len(classes) == 1:
            self.fail("classes", "two or more classes for a long tail (one class keeps all its images)",
                      self.spec.get("classes", classes))
        return {"classes": classes, "imbalance_ratio": ratio}

    def _subsample(self) -> dict:
        return {"keep": self.fraction("keep")}

    # -- contamination ------------------------------------------------------------------------------
    def _gaussian_noise(self) -> dict:
        return {**self._selection(), "sigma": float(self.changing("sigma", self.number("sigma"), identity=0))}

    def _salt_pepper(self) -> dict:
        return {**self._selection(), "rate": self.changing("rate", self.fraction("rate"), identity=0)}

    def _brightness(self) -> dict:
        return {**self._selection(), "factor": float(self.changing("factor", self.number("factor"), identity=1))}

    def _gamma(self) -> dict:
        return {**self._selection(),
                "gamma": float(self.changing("gamma", self.number("gamma", low_open=True), identity=1))}

    def _blur(self) -> dict:
        # beyond twice the image's side a kernel blurs no further, only slower (301 took 3 s an image)
        widest = math.inf if self.data is None else 2 * max(self.data.shape[1:3]) + 1
        kernel = self.number("kernel", low=3, high=widest, integer=True)
        if kernel % 2 == 0:
            self.fail("kernel", "an odd integer >= 3", kernel)
        return {**self._selection(), "method": self.choice("method", BLUR_METHODS, "box"), "kernel": kernel}

    def _downscale(self) -> dict:
        # at least 2: one pixel scaled back up is a flat image, no information rather than blur (140 recorded as
        # blurred were flagged dark, and the blurry detector scored them as misses)
        return {**self._selection(), "size": self.size(high=lambda h, w: min(h, w) - 1, low=2)}

    def _odd_size(self) -> dict:
        size = self.number("size", low=1, high=math.inf if self.data is None else 4 * max(self.data.originals),
                           integer=True)
        if self.data is None:
            return {**self._selection(), "size": size, "shape": [size, size]}
        # the files' aspect ratio kept, size the side of a square of as many pixels (the score reads log sqrt(h w)):
        # before, size x size, so odd_size on 24x48 files planted an unrecorded odd aspect ratio too
        height, width = self.data.originals
        shape = [max(1, round(size * math.sqrt(height / width))), max(1, round(size * math.sqrt(width / height)))]
        if tuple(shape) == (height, width):
            self.fail("size", f"a size other than the files' {height}x{width}"
                              + ("" if height == width else f" (as many pixels as {size}x{size})"), size)
        if abs(math.log(shape[1] / shape[0] * height / width)) > math.log(1 + KEPT_RATIO):  # 2 on 24x48 files: 1x3
            self.fail("size", f"large enough to keep the files' {height}x{width} aspect ratio within "
                              f"{KEPT_RATIO:.0%} ({shape[0]}x{shape[1]} here)", size)
        return {**self._selection(), "size": size, "shape": shape}

    def _odd_aspect_ratio(self) -> dict:
        ratio = float(self.number("ratio", low_open=True))
        if self.data is None:
            return {**self._selection(), "ratio": ratio}
        height, width = self.data.originals
        # the odd file is smaller than the files' size in one direction, width / height = ratio: a side of 1 pixel has
        # none smaller (before: told "far enough from 1", which no ratio on that side of 1 is on 1x1 or 1-pixel files)
        narrow = width == 1 if ratio < 1 else height == 1
        if narrow and height == width:
            raise WinnowError(f"{self.where}: no ratio changes the shape of the files, which are 1x1 (the odd file is "
                              "smaller than theirs in one direction); remove this entry")
        if narrow:
            self.fail("ratio", f"{'above' if ratio < 1 else 'below'} 1 for files of {height}x{width} (the odd file is "
                               f"smaller than theirs in one direction, and their {'width' if ratio < 1 else 'height'} "
                               "is 1 pixel)", ratio)
        shape = [height, max(1, round(width * ratio))] if ratio < 1 else [max(1, round(height / ratio)), width]
        if tuple(shape) == (height, width):
            self.fail("ratio", f"far enough from 1 to change a {height}x{width} file's shape", ratio)
        return {**self._selection(), "ratio": ratio, "shape": shape}

    def _grayscale(self) -> dict:
        if self.data is not None and self.data.shape[3] != 3:
            raise WinnowError(f"{self.where}: the images have 1 channel, they are grayscale already; remove this entry")
        return self._selection()

    def _low_information(self) -> dict:
        return {**self._selection(), "size": self.size(high=lambda h, w: min(h, w) - 1)}

    # -- duplicates ---------------------------------------------------------------------------------
    def _exact_duplicate(self) -> dict:
        return {**self._selection(), "mode": self.choice("mode", DUPLICATE_MODES, "overwrite")}

    def _near_duplicate(self) -> dict:
        # bounded: past float32's range (~3e38) a factor overflowed to inf, the pixels to NaN, and every copy was
        # recorded as a near duplicate while it was black; well before that it only pushes pixels into the clip
        # at least a quarter: low 0 made every copy black, a dark image recorded as a near duplicate of its source
        low = float(self.number("low", low=MIN_COPY_FACTOR, high=MAX_JITTER_FACTOR, default=0.8))
        high = float(self.number("high", low=low, high=MAX_JITTER_FACTOR, default=1.2))
        hue = float(self.number("hue", high=0.5, default=0.0))
        if low == high == 1 and hue == 0:
            self.fail("low and high", "a range other than 1 to 1 without hue (that copies exactly: use "
                                      "exact_duplicate)", [low, high])
        return {**self._exact_duplicate(), "low": low, "high": high, "hue": hue}
