"""The vocabulary of params.yaml: the dataclasses of the sections the library takes whole (``train``,
``gan.train``, ``balance.policy``) and the names each choice allows.

Nothing here imports torch or the code that acts on these names. :mod:`winnow.params` checks the whole
params file against them before any stage works, so every stage imports this module: kept free of
heavy code, it adds no import time and no dvc dependency that an edit to a training loop or a
threshold algorithm would touch. The modules that act on a name import it from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from winnow.errors import WinnowError, check_known
from winnow.param_values import show

SOURCES = ("mnist5k", "cifar10", "imagefolder", "npz")  # ingest.source (winnow.sources)
EMBEDDING_SOURCES = ("selfsup", "pretrained", "file", "judge")  # represent.source; only judge reads a label
BLUR_METHODS = ("box", "gaussian", "median")  # degrade blur method (winnow.perturb)
# the largest brightness / contrast / saturation factor winnow.perturb.jitter takes: at 255 brightness already
# turns every lit pixel white, so more only pushes pixels further into the clip, while the float32 arithmetic
# overflows past ~1e36 into NaN that casts to black
MAX_JITTER_FACTOR = 255.0
THRESHOLD_METHODS = ("auto", "otsu", "li", "kittler", "kapur", "ght", "valley", "gamma_mixture", "fixed")
# the quality scores whose own definition says where "a problem" starts, which auto takes as their cut (rule reference,
# winnow.quality): the IQR fence, equal channels within rounding. params.yaml's auto options change nothing there
REFERENCE_THRESHOLDS = {"odd_size": 0.5, "odd_aspect_ratio": 0.5, "grayscale": 1.0 / 255}
# the settings of params.yaml's score section that change a score (batch_size changes none), with
# winnow.quality.score_images' defaults: the scores record those they were made at (winnow.quality.read_scores compares
# them with params.yaml's), and threshold's flags those of the scores they were cut from (winnow.flag_cuts)
SCORE_SETTINGS = {"light_percentile": 75.0, "dark_percentile": 99.0, "iqr_factor": 3.0, "min_relative_spread": 0.1}


def scored_at(options: Mapping[str, Any]) -> dict[str, float]:
    """The :data:`SCORE_SETTINGS` of params.yaml's ``score`` section ``options`` (their defaults where it is silent):
    what :func:`winnow.quality.score_table` records in the scores, compared with params.yaml's by their readers."""
    return {key: float(options.get(key, default)) for key, default in SCORE_SETTINGS.items()}


def score_changes(recorded: Any, options: Mapping[str, Any], *, keys: Iterable[str] = SCORE_SETTINGS) -> list[str]:
    """``["dark_percentile 99 then, 90 now", ...]``: the :data:`SCORE_SETTINGS` (those of ``keys``) whose value
    ``recorded`` (what a file records, :func:`scored_at`) is not that of params.yaml's ``score`` section ``options``
    now; a record of another kind, or a value in it that is no number, differs in each."""
    changed = []
    for key, default in ((key, SCORE_SETTINGS[key]) for key in keys):
        then, now = recorded.get(key) if isinstance(recorded, dict) else None, float(options.get(key, default))
        number = isinstance(then, (int, float)) and not isinstance(then, bool)
        if not number or float(then) != now:
            changed.append(f"{key} {setting_text(then) if number else repr(then)} then, {setting_text(now)} now")
    return changed


def setting_text(value: float) -> str:
    """A score setting as written (``90``, ``0.1``), every digit that tells it apart kept: with ``:g`` alone a change
    of min_relative_spread from 0.1 to 0.1000001 read "0.1 then, 0.1 now"."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


# a class made from fewer source images than this (balance's copies, the GAN's samples) gets a warning: its new
# images can be little more than copies of those few
HANDFUL = 5
DEFAULT_VALLEY_WINDOW = 5  # bins either side of a cut whose mass the valley method weighs against it
KEEP_POLICIES = ("best_quality", "first")  # dedup.keep (winnow.dedup)
# dedup.orientations: copies searched upright only (and mirrored, dedup.flip), or under every turn of the eight (a
# turned 6 is a 9, so upright is the default)
ORIENTATIONS = ("upright", "any")
# the reasons dedup's groups give an image it keeps, and one it removes (winnow.copies.LINKS, and a train copy of a val,
# test or trusted image): winnow.dedup.REASONS, the only ones every reader takes (winnow.group_rows)
KEPT_REASONS = ("unique", "kept", "eval_copy")
REMOVED_REASONS = ("exact_duplicate", "near_duplicate", "flip_crop_duplicate", "turned_duplicate",
                   "embedding_duplicate", "leak")
FILTER_BY = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
             "low_normalized_margin", "low_self_confidence")  # cleanlab's find_label_issues
FRAC_NOISE_FILTERS = ("prune_by_noise_rate", "prune_by_class", "both")  # the filter_by that read frac_noise
RANK_BY = ("self_confidence", "normalized_margin", "confidence_weighted_entropy")
LABEL_ACTIONS = ("prune", "relabel", "both")  # confident_learn.action (winnow.labels)
EMBEDDING_MODES = ("folds", "single")  # embedding_clean.mode (winnow.embeddings)
LABEL_JUDGES = ("probe", "cnn")  # confident_learn.judge: a linear probe on the represent embedding, or CNN folds
# a cleaner's relabel_judged_on: which val relabels its relabel precision counts (winnow.judges.measure)
RELABEL_JUDGED_ON = ("all_val_relabels", "planted_flips")
NEIGHBOUR_EMBEDDINGS = ("represent", "judge")  # embedding_clean.embedding: the represent stage's, or trained here
OUTLIER_METHODS = ("isolation_forest", "lof", "knn")  # embedding_clean.outliers (winnow.outliers)
CONTRACT_MODES = ("enforce", "warn")  # contracts.mode (winnow.contracts)
VARIANTS = ("oracle", "baseline", "pruned", "augmented", "balanced")
ASSEMBLED_VARIANTS = ("oracle", "baseline", "pruned")  # written by the variants stage, before training
CORRECTIONS = ("holm", "bonferroni", "none")  # gate.correction over a variant's classes (winnow.paired)
CLEANERS = ("threshold", "dedup", "confident_learn", "embedding_clean", "data_valuation")  # pruned.cleaners (winnow.variants)
VALUE_COMBINE = ("both", "either")  # data_valuation.combine: drop when every estimator, or one, values an image harmful
BUDGET_SCORES = ("log_loss", "accuracy")  # budget.score: what a judge image counts (winnow.budget)
# the budget section's values where params.yaml leaves them out (stages/budget.py). min_judge_images: below it one image
# is over 1% of the judge, and a tiny trusted set could ship a cleaning its model check measured one image better
# than doing nothing
BUDGET_DEFAULTS = {"enabled": True, "fractions": [0.01, 0.02, 0.05, 0.1, 0.2], "tie_se": 1.0, "score": "log_loss",
                   "check": True, "min_judge_images": 100}


def budget_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """The budget section of ``params`` (a validated params.yaml) with :data:`BUDGET_DEFAULTS` where it is silent:
    what the budget stage decides by, which its decisions record and the variants stage compares with params now."""
    settings = {**BUDGET_DEFAULTS, **(params.get("budget") or {})}
    return settings | {"fractions": sorted(settings["fractions"])}  # cut in that order whatever order they are listed
MODEL_NAMES = ("lenet5", "cnn_small", "resnet18")  # train.model (winnow.models)
MIN_SIDE = 8  # the smallest image side the models take (winnow.models.build_model), ingest.size's least
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "onecycle", "constant")
WEAK_BY = ("f1", "count")  # gan.weak_by
# balance.policy.ops in their canonical order of application: geometry (one resampling), then the colour
# changes, cutout, invert, and noise on top (winnow.augment)
GEOMETRIC_OPS = ("flip", "crop", "shear", "rotate", "translate")
OPS = (*GEOMETRIC_OPS, "brightness", "contrast", "cutout", "invert", "noise")
# the ops without a strength: each does one thing to an image at every magnitude (winnow.augment), so magnitude and
# kind change no copy made of them alone
NO_STRENGTH = ("flip", "invert")
POLICY_KINDS = ("rand", "trivial")  # strengths in [m/2, m] (RandAugment) | uniform in [0, m] (TrivialAugment)
FILLS = ("border", "edge")  # what geometry uncovers: each image's border mean | its nearest edge pixel
SEARCH_METHODS = ("train", "density")  # augment_search.method: a short training per candidate | one model's view
AUGMENT_CHOICES = ("none", "fixed", "searched")  # train.augment: the policy applied on the fly while training
STREAM_MODES = ("auto", "always", "never")  # train.stream: see winnow.device_rows
KNN_BACKENDS = ("auto", "numpy", "faiss", "faiss_ivf")  # compute.knn (winnow.cosine_index)
ENGINES = ("local", "ray")  # compute.engine: where the per-image stages run (winnow.engine)


# the train options that change what every step of every rank computes, which all ranks of a torchrun must share; not
# device, threads, stream and eval_batch_size, which change where and how fast (ranks on machines of other core counts
# average the same gradients, and only rank 0's val numbers count). A model trained with other ones is another training
# (winnow.checkpoints.load, model_check_training below)
STEP_SETTINGS = ("model", "epochs", "patience", "batch_size", "optimizer", "lr", "weight_decay", "momentum", "schedule",
                 "label_smoothing", "crop_padding", "hflip", "augment")


@dataclass
class TrainConfig:
    """The ``train:`` section of params.yaml."""

    model: str = "cnn_small"
    epochs: int = 15  # the most epochs a run may take (the learning-rate schedule spans them all)
    # stop once this many epochs in a row bring no higher val accuracy; None runs every epoch
    patience: int | None = None
    batch_size: int = 64
    optimizer: str = "adam"  # adam | adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9  # sgd only
    schedule: str = "cosine"  # cosine | onecycle | constant
    label_smoothing: float = 0.0
    crop_padding: int = 2  # random-crop padding in pixels; 0 turns it off
    hflip: bool = False  # off for digits, where a mirrored 2 is not a 2
    device: str = "auto"  # auto | cpu | cuda
    eval_batch_size: int = 1024
    # torch intra- and inter-op threads while training and whenever this model predicts or embeds; a CPU
    # kernel splits its sums by thread, so another count gives other weights. None: torch's default
    threads: int | None = 2
    # the train stage's on-the-fly policy: none | fixed (balance.policy) | searched (the augment-search stage's);
    # the judges (represent, confident_learn, embedding_clean) train without one whatever it says
    augment: str = "none"
    # images to the device all at once (never), a batch at a time from host memory or the memory-mapped
    # imageset (always), or batches only when they would take more than half the device's free memory (auto)
    stream: str = "auto"
    # the params section each option that overrides the train section came from ({"crop_padding":
    # "represent.judge"}), so an error names the option the user wrote; not a field: checkpoints leave it out
    overridden_in: ClassVar[dict[str, str]] = {}

    def __post_init__(self):
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise WinnowError(f"train.threads: must be a whole number >= 1 or null (torch's default), "
                              f"got {self.threads!r}")

    @classmethod
    def from_params(cls, section: dict[str, Any], *, overrides: dict[str, Any] | None = None,
                    overrides_from: str = "train") -> "TrainConfig":
        """The train ``section`` with a judge's ``overrides`` (read from the params section ``overrides_from``)."""
        names = [f.name for f in fields(cls)]
        check_known(section, names, where="train")
        check_known(overrides or {}, names, where=overrides_from)
        config = cls(**{**section, **(overrides or {})})
        config.overridden_in = dict.fromkeys(overrides or {}, overrides_from)
        return config

    def option(self, key: str) -> str:
        """The params path of option ``key``, as an error line names it: ``train.epochs``, or
        ``represent.judge.epochs`` where the judge's section set it."""
        return f"{self.overridden_in.get(key, 'train')}.{key}"


@dataclass
class GanConfig:
    """The ``gan.train:`` section of params.yaml."""

    latent_dim: int = 100
    width: int = 32  # channels of the widest generator / discriminator layer are 2 * width
    epochs: int = 25  # ~65 s of one busy CPU core on 2,400 28px images; 15 left classes 7 and 9 mostly off-class
    batch_size: int = 64
    lr: float = 4e-4  # the generator's; 2e-4 (DCGAN's) collapsed without AC; with AC, 25 epochs: 30% vs 45% accepted
    lr_d: float = 4e-4  # the discriminator's; set it above lr for the two time-scale update rule
    beta1: float = 0.5  # Adam's first momentum, DCGAN's choice
    ac_weight: float = 2.0  # auxiliary-classifier cross-entropy weight in both losses (0: no AC); MNIST-5k, 25
    # epochs, share of samples a clean classifier gives > 0.9: 0 → 1% (15 epochs), 0.5 → 36%, 1 → 45%, 2 → 52%
    device: str = "auto"  # auto | cpu | cuda

    @classmethod
    def from_params(cls, section: dict[str, Any]) -> "GanConfig":
        check_known(section, [f.name for f in fields(cls)], where="gan.train")
        return cls(**section)


def gan_size_fits(size: int) -> bool:
    """Whether the GAN (:func:`winnow.gan.build`) makes images of ``size`` pixels a side: its generator upsamples
    twice by 2 from ``size // 4``, so a multiple of 4, at least 8."""
    return size % 4 == 0 and size >= 8


def gan_sizes_near(side: int) -> str:
    """The two ingest.size values nearest ``side`` that the GAN makes (:func:`gan_size_fits`), as a refusal offers
    them ("28 or 32"): the multiples of 4 around it, within ingest.size's 8 to 1024."""
    low = min(max(side // 4 * 4, MIN_SIDE), 1024 - 4)
    return f"{low} or {low + 4}"


# the balance section where params.yaml is silent (its policy: Policy's defaults): the balance stage's settings, and
# what train@balanced holds balanced's record of them to (winnow.built_on.balance_made_of)
BALANCE_DEFAULTS = {"target": "max", "edge_fraction": 0.1, "edge_extra": 2.0, "max_images": None, "device": "auto"}


def chooses_edges(section: Mapping[str, Any]) -> bool:
    """Whether balance chooses edge cases under its ``section`` (:data:`BALANCE_DEFAULTS` filled in): they weigh in
    the copies (``edge_extra``) or are what a class cut to its share keeps first (``max_images``), and are found in
    models/baseline.pt's features."""
    return section["edge_fraction"] > 0 and (section["edge_extra"] > 0 or section["max_images"] is not None)


@dataclass(frozen=True)
class Policy:
    """How augmented copies are made (RandAugment-style): each image gets ``n`` of ``ops``, drawn at
    random per image, each at a strength drawn from ``[magnitude / 2, magnitude]`` (``kind: rand``) or
    uniformly from ``[0, magnitude]`` (``kind: trivial``, TrivialAugment's rule, which draws ``n: 1``), times
    the op's maximum, with a random sign, so several copies of one image differ. ``invert`` and ``flip``
    (horizontal; leave it out for digits, where a mirrored 2 is not a 2) have no strength. ``fill``: what
    the geometry uncovers and cutout paints, each image's mean border colour or its nearest edge pixel
    (cutout: the border colour), so white paper stays white and black digit backgrounds stay black."""

    ops: tuple[str, ...] = ("shear", "translate", "rotate", "noise", "crop")
    n: int = 2
    magnitude: float = 0.3
    kind: str = "rand"
    fill: str = "border"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        unknown = [op for op in self.ops if op not in OPS]
        if unknown or not self.ops or len(set(self.ops)) != len(self.ops):
            what = f"unknown {unknown}" if unknown else "must name each op once, at least one"
            raise WinnowError(f"balance.policy.ops: {what}; known ops: {', '.join(OPS)}")
        # a boolean is an int to Python: n true was one op an image, magnitude true the strongest
        if isinstance(self.n, bool) or not (isinstance(self.n, int) and 1 <= self.n <= len(self.ops)):
            raise WinnowError(f"balance.policy.n: ops per image must be an integer in [1, {len(self.ops)}], "
                              f"got {self.n!r}")
        if isinstance(self.magnitude, bool) or not (isinstance(self.magnitude, (int, float))
                                                    and 0.0 < self.magnitude <= 1.0):
            raise WinnowError(f"balance.policy.magnitude: must be in (0, 1], got {self.magnitude!r}")
        for name, allowed in (("kind", POLICY_KINDS), ("fill", FILLS)):
            if getattr(self, name) not in allowed:
                raise WinnowError(f"balance.policy.{name}: {getattr(self, name)!r} is not one of {', '.join(allowed)}")
        if self.kind == "trivial" and self.n != 1:  # n 2 drew two ops at TrivialAugment's strengths: neither rule
            raise WinnowError(f"balance.policy.n: kind trivial is TrivialAugment, one op an image; set n: 1, or kind: "
                              f"rand for {self.n} ops an image")

    def to_params(self) -> dict[str, Any]:
        """The params mapping :meth:`from_params` reads back (for JSON outputs)."""
        return {"ops": list(self.ops), "n": self.n, "magnitude": self.magnitude, "kind": self.kind, "fill": self.fill}

    @classmethod
    def from_params(cls, section: Mapping[str, Any] | Policy, *, where: str = "balance.policy") -> Policy:
        """A policy from params (``{"ops": [...], "n": 2, "magnitude": 0.3}``), validated; a refusal names ``where``,
        what holds the mapping: a policy read from another file than params.yaml (data/augment-search/policy.json's
        ``policy``) is not balance.policy, which a line naming it sent the user to, valid as it was."""
        if isinstance(section, Policy):
            return section
        check_known(section, [f.name for f in fields(cls)], where=where)
        try:
            return cls(**section)
        except WinnowError as err:  # __post_init__ names balance.policy, what params.yaml holds
            if where == "balance.policy" or not str(err).startswith("balance.policy"):
                raise
            raise WinnowError(where + str(err).removeprefix("balance.policy")) from None


def model_check_training(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the budget's model check trains with (stages/budget.py), by params path: each :data:`STEP_SETTINGS` option
    of the train section (:class:`TrainConfig`'s default where params.yaml is silent), ``seed`` and, under
    ``train.augment: fixed``, ``balance.policy`` (:meth:`Policy.to_params`): what makes a training another, as
    :func:`winnow.checkpoints.load` tells a model's. The budget's decisions record it when the check ran, and the
    variants stage compares it with params now. Not device, threads, stream or eval_batch_size: before, an edit of one
    (train.threads 2 -> 4 on a bigger machine) had the decisions refused by variants and review export alone, though
    evaluate scores a model trained so."""
    config = TrainConfig.from_params(dict(params.get("train") or {}))
    train = {name: getattr(config, name) for name in STEP_SETTINGS}
    policy = ({"balance.policy": Policy.from_params((params.get("balance") or {}).get("policy") or {}).to_params()}
              if train["augment"] == "fixed" else {})
    return {f"train.{key}": value for key, value in train.items()} | {"seed": params.get("seed")} | policy


@dataclass
class SelfSupConfig:
    """The ``represent.selfsup`` section of params.yaml (checked by :mod:`winnow.params`)."""

    epochs: int = 30
    seconds: float | None = None  # wall-clock budget: stop after the epoch that would overrun it
    batch_size: int = 64
    temperature: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 1e-6
    width: int = 32  # encoder channels: width, 2 x width, 4 x width = the feature dimension
    min_scale: float = 0.3  # smallest area (fraction of the image) of the random resized crop
    hflip: bool = False  # off for digits, where a mirrored 2 is not a 2
    threads: int | None = None  # torch CPU threads; features are reproducible for one seed and thread count
    device: str = "auto"


@dataclass
class PretrainedConfig:
    """The ``represent.pretrained`` section of params.yaml (checked by :mod:`winnow.params`)."""

    model: str | None = None  # timm:NAME | torchvision:NAME | open_clip:ARCH/TAG
    torchscript: str | None = None  # or a TorchScript file: float (N, 3, S, S) -> (N, D)
    path: str | None = None  # model: a weights file instead of the package's cache
    download: bool = False
    input_size: int = 224
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])
    batch_size: int = 128
    device: str = "auto"


def check_weak_k(k: int | None) -> None:
    """Refuse a ``gan.weak_k`` that picks no class (the params check runs it too, before any stage)."""
    if k is not None and k < 0:
        raise WinnowError(f"gan.weak_k: must be >= 0, got {k}")
    if k == 0:  # before: "or leave augmented out of variants", which the params check said where it was out already
        raise WinnowError("gan.weak_k: 0 picks no weak class to generate; set at least 1, or null to take every class "
                          "under weak_below")


# gan.weak_by scores that are rates in [0, 1]: a weak_below above 1 would make every class weak
RATE_SCORES = ("f1",)


def check_weak_below(by: str, below: float | None) -> None:
    """Refuse a ``gan.weak_below`` that cannot be meant for the ``gan.weak_by`` scores: above 1 for a rate
    (F1), where it makes every class weak (50 meant as a percentage); one that makes no class weak (0 or less for a
    rate, 1 or less for a count)."""
    if below is not None and by in RATE_SCORES and below > 1:
        raise WinnowError(f"gan.weak_below: {show(below)} is above 1, but weak_by {by} scores a class by its "
                          f"{by.upper()}, which lies in [0, 1], so every class would be weak; give a fraction such as "
                          "0.9 (or weak_by count to bound the pruned train images of a class)")
    # a class is weak when its score is below the bound: before, 0 (meant as off) passed the params check and
    # gan-synthesize refused it only after train@oracle, baseline and pruned had run, advising to set gan.weak_k where
    # it was set already (weak_below bounds the weak_k lowest too)
    if below is not None and by in RATE_SCORES and below <= 0:
        raise WinnowError(f"gan.weak_below: {show(below)} picks no weak class: weak_by {by} takes the classes whose "
                          f"{by.upper()} is below it, and none is below 0; give a fraction such as 0.9 (or null, with "
                          "weak_k set, to take the weak_k lowest)")
    # shown as written (:g spelt 0.9999999 as 1, 1.0000001 as "1 is above 1"); 0 or less: not even a class of none
    if below is not None and by not in RATE_SCORES and below <= 0:
        raise WinnowError(f"gan.weak_below: {show(below)} picks no weak class: weak_by {by} takes the classes of fewer "
                          "pruned train images than it, and none has fewer than 0; give a bound above 1 (or null, with "
                          "weak_k set, to take the weak_k lowest)")
    if below is not None and by not in RATE_SCORES and below <= 1:  # fewer than 1 image: a class the GAN cannot learn
        raise WinnowError(f"gan.weak_below: {show(below)} picks no class the GAN can learn: weak_by {by} takes the "
                          "classes of fewer pruned train images than it, and only a class of none is, which has "
                          "nothing to learn from; give a bound above 1 (or null, with weak_k set, to take the weak_k "
                          "lowest)")
