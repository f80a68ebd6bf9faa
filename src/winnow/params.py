"""params.yaml, validated as a whole before any stage works.

:data:`SCHEMA` declares every section: types (a boolean is not an integer, ``"3"`` is not a number),
ranges, choices, which keys may be null or left out, unknown keys, and the rules across fields
(:mod:`winnow.param_checks`), with the kinds of value in :mod:`winnow.param_rules`.
:func:`load` reads and checks the file; every stage gets its params through it
(:func:`winnow.stage.load_params`), and so do the ``winnow`` commands, so one bad value anywhere stops
any of them before it reads or writes anything, with one line that names the parameter by its dotted
path, what was given and what is allowed::

    params.yaml: train.epochs: 0 is below 1
    params.yaml: ingest.sise: unknown parameter (did you mean size?)

Sections the library takes whole get their keys from its dataclasses (:class:`winnow.configs.TrainConfig`,
:class:`~winnow.configs.GanConfig`, :class:`~winnow.configs.Policy`): a field added there is a parameter
here at once, typed by its annotation; their ranges are set in :mod:`winnow.param_sections`.
``degrade.perturbations`` are checked by :func:`winnow.degrade_options.check`. Adding a key to a section is one
line below.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from winnow.configs import (
    BUDGET_SCORES, CLEANERS, CONTRACT_MODES, CORRECTIONS, EMBEDDING_MODES, EMBEDDING_SOURCES, ENGINES, FILLS, FILTER_BY,
    KEEP_POLICIES, KNN_BACKENDS, LABEL_ACTIONS, LABEL_JUDGES, MIN_SIDE, NEIGHBOUR_EMBEDDINGS, OPS, ORIENTATIONS,
    OUTLIER_METHODS,
    POLICY_KINDS, RANK_BY, RELABEL_JUDGED_ON, SEARCH_METHODS, SOURCES, THRESHOLD_METHODS,
    VALUE_COMBINE, VARIANTS, WEAK_BY,
)
from winnow.degrade_options import check as check_perturbations
from winnow.errors import WinnowError
from winnow.output_paths import not_a_file
from winnow.groundtruth import QUALITY_ISSUES
from winnow.param_checks import (
    contract_bounds_bind, correlation_binds, cpus_of_a_local_cluster, crops_fit, embedding_pairs_confirmed,
    folds_judged, gan_images_fit, gated_files_inside, noise_fraction_read, op_sets_differ, outliers_dropped,
    search_challenges_fixed, search_has_candidates, search_settings_read, searched_policy_made, splits_leave_train,
    tail_shares_tested, valley_windows_fit, variants_can_be_made, views_searched, weak_classes_chosen,
)
from winnow.param_rules import (
    FILE, Bool, Choice, Device, Either, ListOf, MapOf, Num, Percentile, Rule, Section, Text, fail, kind_of, show,
)
from winnow.param_sections import (
    DECAY, EPOCHS, GAN_TRAIN, POLICY, PRETRAINED, SELFSUP, TRAIN_FIELDS, TRAIN_OVERRIDES, momentum_read,
)
from winnow.param_thresholds import ThresholdSetting
from winnow.params_read import declared_present
from winnow.source_checks import embedding_source_ready, source_options
from winnow.yaml_text import load_yaml, not_utf8, unshared

def load(path: str | os.PathLike = FILE, *, repo: str | None = None) -> dict[str, Any]:
    """The params file as a dict, checked against :data:`SCHEMA`; ``repo``: the project folder a command's ``--repo``
    named, where the file is (None: the working folder's).

    Raises:
        WinnowError: one line: the file is missing, not YAML, holds a mapping under two keys, is not a mapping, or
            a value breaks a rule.
    """
    path = Path(path)
    what = not_a_file(path)
    if what == "not found" and repo not in (None, "."):  # before: told to run from the project root, which --repo
        # overrides: `winnow compare --repo /tmp/x` from the project root said so too
        # and what --repo names: a folder mistyped was "no winnow project" too
        held = not_a_file(Path(repo))
        held = {"is a folder, not a file": "is no winnow project", "not found": "does not exist",
                None: "is a file, not a folder"}.get(held, held)
        raise WinnowError(f"{path}: params file not found (--repo {repo} {held}); give --repo the project's folder")
    if what == "not found":
        raise WinnowError(f"{path}: params file not found (run from the project root)")
    if what is not None:  # before: "not found (run from the project root)" to a user standing in it
        # a folder is what a Docker bind mount of a file missing on the host leaves (docker run -v $PWD/params.yaml:…)
        raise WinnowError(f"{path}: the params file {what}; replace it with the project's params file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise WinnowError(f"{FILE}: not UTF-8 text ({not_utf8(err)}); save it as UTF-8") from err
    # a directive asking for YAML 1.1, which DVC honours too: its booleans n, y, on, off… turned balance.policy's key n
    # into false, read "balance.policy.False: unknown parameter; known: ops, n, magnitude, kind, fill"
    # after a byte-order mark too (Notepad's UTF-8), which ruamel skips: before, missed there, and the file read as YAML
    # 1.1 refused under the wrong cause ("balance.policy.False: unknown parameter"). Each part is read as an integer, so
    # 1.01 and 01.1 are 1.1 too (before, missed as the mark was)
    directive = re.search(r"^\ufeff?%YAML[ \t]+(0*1\.0*1)(?![0-9])", text, re.MULTILINE)
    if directive:
        line = text.count("\n", 0, directive.start()) + 1
        raise WinnowError(f"{FILE}: %YAML {directive[1]} (line {line}) reads n, y, no, yes, on and off as booleans, to "
                          "DVC too (balance.policy.n as false); leave the directive out (YAML 1.2)")
    # as DVC reads it, so a run uses the values dvc.lock records, and each mapping under one key (dvc exp run -S)
    params = validate(unshared(load_yaml(text, name=FILE, anchors_once=True), name=FILE))
    declared_present(params, path.parent / "dvc.yaml")
    return params


def validate(params: Any) -> dict[str, Any]:
    """``params`` (params.yaml as read) unchanged when every rule of :data:`SCHEMA` holds.

    Raises:
        WinnowError: the first rule broken, in one line.
    """
    if not isinstance(params, dict):
        shown = "empty" if params is None else f"{kind_of(params)}, {show(params)}"
        raise WinnowError(f"{FILE}: the file is {shown}; it must be a mapping of sections "
                          f"({', '.join(SCHEMA.fields)})")
    SCHEMA.check(params, "")
    return params


# -- the sections ------------------------------------------------------------------------------------

class Perturbations(Rule):
    """``degrade.perturbations``: a list of ``{kind: ..., <its options>}``, checked by
    :func:`winnow.degrade_options.check` as far as it can be without the data."""

    def describe(self) -> str:
        return "a list of {kind: ..., <its options>} mappings"

    def verify(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.wrong_type(value, path)
        try:
            check_perturbations(value)
        except WinnowError as err:
            raise WinnowError(f"{FILE}: {err}") from None


class Bins(Num):
    """``threshold.bins`` and ``embedding_clean.bins``: the histogram bins every cut method reads, 2 to
    :data:`MAX_BINS`, with the reason for the bound in the refusal."""

    def __init__(self):
        super().__init__(2, MAX_BINS, integer=True)

    def verify(self, value: Any, path: str) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_BINS:
            fail(path, f"{show(value)} is above {MAX_BINS}: the auto cut smooths its histogram over a bandwidth of "
                       f"bins, so its time grows with the square of their number (8,068 scores: 0.02 s an issue at "
                       f"4096, 1-5 s at 65536); use 2 to {MAX_BINS} (default 256)")
        super().verify(value, path)


# the most histogram bins (Bins): measured worst case of the auto cut, 8,068 uniform scores or 12 scores, on a quiet
# CPU: 0.015 s at 4096 bins, 0.29 s at 16384, 5 s at 65536 (7-16 s an issue on a loaded machine); every method
# else stays under 0.04 s at 65536 but gamma_mixture (linear: 1.9 s at 4096, 3.2 s at 65536, its 200 EM steps)
MAX_BINS = 4096


# embedding_clean.isolation and outlier_threshold name a method but carry no options: fixed needs a value
CUT_METHODS = tuple(m for m in THRESHOLD_METHODS if m != "fixed")
FRACTION = Num(0, 1)
SHARE = Num(0, 1, low_open=True)  # (0, 1], as the functions that take these shares require
MAX_TOLERANCE = 0.25  # gate.tolerances: the largest drop a gate may allow (see the gate section below)
MAX_OVERDISPERSION = 4.0  # gate.overdispersion and accuracy_overdispersion: the largest phi (the gate section below)
MIN_ALPHA = 1e-4  # gate.alpha: the smallest level a gate may test at (the gate section below)

SCHEMA = Section({
    "seed": Num(0, 2**32 - 1, integer=True),  # numpy and scikit-learn seeds
    "ingest": Section({
        "source": Choice(SOURCES),
        "path": Text(null=True, names_a_path=True),
        "download": Bool(),
        # 8 to 1024: below 8 no model trains (train refused it only after every stage before it had run); at 1 px
        # every pHash is the same; past 1024 the imageset outgrows memory and disk
        "size": Num(MIN_SIDE, 1024, integer=True, null=True),
        "classes": ListOf(Text(), min_len=1, unique=True, null=True),
        "val_fraction": Num(0, 1, high_open=True),
        "test_fraction": Num(0, 1, high_open=True),
        "split_seed": Num(0, 2**32 - 1, integer=True),  # the carve's own: `seed` must not move the test split
        "max_reject_fraction": FRACTION,
        # a folder root/<class>/* or an .npz: the trusted split, budget's judge
        "trusted_path": Text(null=True, names_a_path=True),
    }, required=("source", "val_fraction", "test_fraction", "max_reject_fraction"),
        checks=(splits_leave_train, source_options)),
    "degrade": Section({"enabled": Bool(), "disjoint": Bool(), "perturbations": Perturbations(null=True)}),
    "represent": Section({
        "source": Choice(EMBEDDING_SOURCES),
        "knn_k": Num(1, integer=True),
        "selfsup": SELFSUP,
        "pretrained": PRETRAINED,
        "file": Text(null=True, names_a_path=True),
        "judge": TRAIN_OVERRIDES,
    }, checks=(embedding_source_ready,), null=True),
    "score": Section({
        "light_percentile": Percentile(),
        "dark_percentile": Percentile(),
        # both above 0: with every image of one original size the IQR is 0, and the fences' half-width too
        # from 1e-6: at 1e-200 each their product underflowed to a fence of width 0, and every odd_size and
        # odd_aspect_ratio score was 0/0 = NaN
        "iqr_factor": Num(1e-6),
        "min_relative_spread": Num(1e-6),
        "batch_size": Num(1, integer=True),
    }),
    "threshold": Section({
        "bins": Bins(),  # 1e9 bins asked for 7.5 GiB; 65536 took 7-16 s an issue
        "max_flagged_fraction": SHARE,
        "issues": Section({issue: ThresholdSetting() for issue in QUALITY_ISSUES}, what="issue"),
    }, required=("bins", "max_flagged_fraction", "issues"), checks=(valley_windows_fit, tail_shares_tested)),
    "dedup": Section({
        # Hamming distance between 64-bit pHashes. Unrelated images differ by 32 bits on average, so a radius
        # past 16 pairs images that share nothing, and its search grows past minutes (24: no end in 90 s)
        "radius": Num(0, 16, integer=True, null=True),
        "min_correlation": Num(-1, 1, null=True),
        "flip": Bool(),  # also compare each image's mirror
        "crop": Num(0, 0.5, low_open=True, high_open=True, null=True),  # share cut from each side; null = off
        "orientations": Choice(ORIENTATIONS),  # upright, or any of the eight turns and mirrors (a turned 6 is a 9)
        # cosine distance between represent embeddings; null = off. From 1 on it links images whose embeddings are
        # orthogonal (an all-zero row, which a ReLU encoder gives, lies at 1 from every image): no copies
        "embedding_radius": Num(0, 1, high_open=True, null=True),
        "embedding_confirm": Bool(),  # embedding pairs must pass the thumbnail check too
        "keep": Choice(KEEP_POLICIES),
        "drop_leaks": Bool(),
    }, required=("radius", "min_correlation", "flip", "crop"),  # left out, each would mean another dedup (null: off)
        checks=(correlation_binds, embedding_pairs_confirmed, views_searched)),
    "confident_learn": Section({
        "judge": Choice(LABEL_JUDGES),
        "folds": Num(2, integer=True),
        "repeats": Num(1, 1000, integer=True),  # each repeat is folds trainings: 1e20 ran with no end
        "train": TRAIN_OVERRIDES,
        "filter_by": Choice(FILTER_BY),
        "rank_by": Choice(RANK_BY),
        "frac_noise": SHARE,
        "action": Choice(LABEL_ACTIONS),
        "relabel_threshold": FRACTION,
        "relabel_min_precision": FRACTION,  # the judge's relabel precision measured on val must reach it
        "relabel_judged_on": Choice(RELABEL_JUDGED_ON),
    }, null=True, checks=(noise_fraction_read,)),
    "embedding_clean": Section({
        "embedding": Choice(NEIGHBOUR_EMBEDDINGS),
        "mode": Choice(EMBEDDING_MODES),
        "folds": Num(2, integer=True),
        # each round a judge's training (folds: one a fold), or a pass over the represent embedding: before, 10**20 was
        # accepted and the stage ran round after round with no end (a round that changes nothing is run again), as
        # confident_learn.repeats did before its bound
        "rounds": Num(1, 1000, integer=True),
        "augment_between_rounds": Bool(),
        "train": TRAIN_OVERRIDES,
        "k": Num(1, integer=True),
        "agree": SHARE,
        # two cosine distances' difference: before, 3 (in Euclidean units) was accepted and turned inside_class off
        "margin": Num(0, 2, high_open=True, null=True),
        "isolation": Choice(CUT_METHODS, null=True),
        "max_isolated_fraction": SHARE,
        "outliers": ListOf(Choice(OUTLIER_METHODS), unique=True),
        "outlier_threshold": Choice(CUT_METHODS),
        "max_outlier_fraction": SHARE,
        "drop_outliers": Bool(),
        "bins": Bins(),  # 1e9 bins asked for 7.5 GiB; 65536 took 7-16 s an issue
        "relabel_min_precision": FRACTION,
        "relabel_judged_on": Choice(RELABEL_JUDGED_ON),
    }, null=True, checks=(valley_windows_fit, folds_judged, outliers_dropped)),
    "data_valuation": Section({  # winnow.valuation: kNN-Shapley and TracIn on the represent embedding
        "knn_k": Num(1, integer=True),
        "bound": Num(0),  # standard errors (over the val images) a value must lie below zero to count as harmful
        "combine": Choice(VALUE_COMBINE),
        "batch_size": Num(1, integer=True),  # val images valued at once
        "device": Device(),
        "tracin": Section({
            # the budget: SGD epochs of the probe, one checkpoint each, and each held to the end (float64 (N, K) of
            # the train images, (M, K) of val): 1,000 on the default 6,757 train images of 10 classes hold 0.6 GB;
            # before, 10**20 was accepted and the stage trained on, holding more each epoch, until memory ran out
            "epochs": EPOCHS,
            # from 1e-12: below about 1e-154 the influences' squares underflowed to 0, their standard error with
            # them, and every negative value counted as reliably harmful whatever data_valuation.bound said
            "lr": Num(1e-12, 10**6),
            "batch_size": Num(1, integer=True),
            "weight_decay": DECAY,
        }, null=True),
    }, null=True),
    "contracts": Section({
        "mode": Choice(CONTRACT_MODES),
        "enforce_variants": ListOf(Choice(VARIANTS), unique=True, null=True),
        "bounds": Section({  # the {$PARAMETER: name} placeholders of contracts/*.yaml; null: no bound
            "min_images_per_class": Num(0, integer=True, null=True),
            "min_class_balance": Num(0, 1, null=True),
            "max_duplicate_rate": Num(0, 1, null=True),
            "max_label_issue_rate": Num(0, 1, null=True),
            "max_flagged_rate": Num(0, 1, null=True),
            "min_completeness": Num(0, 1, null=True),
        }, null=True, checks=(contract_bounds_bind,)),
    }, null=True),
    "variants": ListOf(Choice(VARIANTS), min_len=1, unique=True),
    "pruned": Section({"cleaners": ListOf(Choice(CLEANERS), unique=True)}, required=("cleaners",)),
    "budget": Section({  # winnow.budget: how much of the cleaners' decisions pruned applies
        "enabled": Bool(),
        "fractions": ListOf(SHARE, min_len=1, unique=True),  # shares of the train images, each a label cut
        "tie_se": Num(0),  # a gap within this many standard errors (or one judge image) is a tie
        "score": Choice(BUDGET_SCORES),
        "check": Bool(),  # the winner against none by two trainings of train.model as the train section says
        "min_judge_images": Num(1, integer=True),  # fewer judge images: no label cleaning is judged (filters)
    }, null=True),
    # left out, these would be the library's defaults (cnn_small, 15 epochs, no patience), not this project's
    "train": Section(TRAIN_FIELDS, required=("model", "epochs", "patience")),
    "gan": Section({
        "weak_by": Choice(WEAK_BY),
        "weak_k": Num(0, integer=True, null=True),
        "weak_below": Num(null=True),
        "per_class": Num(1, integer=True),
        "threshold": Either(Choice(("real_median",)), Num(0, 1, high_open=True)),
        "train": GAN_TRAIN,
    }, required=("weak_by", "weak_k", "weak_below", "per_class", "threshold"), checks=(weak_classes_chosen,)),
    "balance": Section({
        "target": Either(Choice(("max",)), Num(0, 10**12, integer=True)),  # 1e20 overflowed numpy's int64
        "policy": POLICY,
        "edge_fraction": FRACTION,
        "edge_extra": Num(0),
        "max_images": Num(1, 10**12, integer=True, null=True),  # the train set's budget, copies included; null: none
        "device": Device(),
    }, null=True),
    "augment_search": Section({  # winnow.augment_search: balance's policy (and train.augment: searched) chosen on val
        "enabled": Bool(),
        "method": Choice(SEARCH_METHODS),
        "epochs": EPOCHS,  # each candidate's short training (density: the one model's)
        "max_images": Num(1, integer=True, null=True),  # a stratified sample of pruned's train images; null: all
        "op_sets": ListOf(ListOf(Choice(OPS), min_len=1, unique=True), min_len=1),
        "kinds": ListOf(Choice(POLICY_KINDS), min_len=1, unique=True),
        "ns": ListOf(Num(1, integer=True), min_len=1, unique=True),  # rand: ops per image
        "magnitudes": ListOf(Num(0, 1, low_open=True), min_len=1, unique=True),
        "fill": Choice(FILLS),
        "with_fixed": Bool(),  # balance.policy is a candidate too, scored first: it wins its ties
        # with_fixed: balance.policy stays unless beaten by more than this many standard errors; at most 8: past it
        # the normal tail is below 1e-15 and 9 crashed the bar's arithmetic after every candidate had trained
        "tie_se": Num(0, 8),
    }, null=True, checks=(op_sets_differ, search_has_candidates, search_settings_read)),
    "report": Section({
        "images_per_grid": Num(1, integer=True),
        "duplicate_groups": Num(1, integer=True),
        "samples_per_class": Num(1, integer=True),
    }, required=("images_per_grid", "duplicate_groups", "samples_per_class")),
    "compute": Section({  # where and how the heavy steps run; only knn may change an output (in the last bits)
        "engine": Choice(ENGINES),  # local | ray: score's and dedup's batches, represent's encoders (winnow.engine)
        "ray": Section({
            "address": Text(null=True),  # a running cluster (ray start --head), "auto"; null: a local one
            # CPUs of the local cluster started when address is null; 10**9 hung Ray's start-up without a word
            "num_cpus": Num(1, 1024, integer=True, null=True),
        }, null=True, checks=(cpus_of_a_local_cluster,)),
        "knn": Choice(KNN_BACKENDS),  # the k-nearest searches of represent, embedding_clean and dedup's embedding
    }, null=True),
    "gate": Section({  # winnow gate
        "files": ListOf(Text(names_a_path=True), min_len=1),  # glob patterns inside the project (winnow.param_checks.gated_files_inside)
        # fnmatch pattern over tested keys -> largest allowed drop; at most 0.25: 0.95 was allowed and passed an
        # accuracy that fell from 1.0 to 0.1 as "within tolerance", the collapse rule too (it needs a drop beyond it)
        "tolerances": MapOf(Num(0, MAX_TOLERANCE)),
        # at least 1e-4: a class of 100 test images that loses 20 and gains none tests at 2^-20, 1e-5 after Holm
        # over 10 classes; a smaller alpha (1e-300 was allowed) passes such drops while it reads as a gate
        "alpha": Num(MIN_ALPHA, 1, high_open=True),
        "correction": Choice(CORRECTIONS),
        # phi of winnow.paired: the spread of seed-to-seed changes over the binomial's; measured 1.2-2.64
        # (benchmarks/results/gate.md). At most 4, half again the largest measured: a decimal slip (157) would pass a class
        # that lost every image, and at 10 (the bound until stop 65) a class of 100 test images that lost 45 and gained
        # none passed at p adj 0.44 (at 4: 0.004)
        "overdispersion": Num(1, MAX_OVERDISPERSION),
        "accuracy_overdispersion": Num(1, MAX_OVERDISPERSION),  # the same for overall accuracy, where a seed's shift adds
        # up over classes
    }, required=("files", "tolerances"), checks=(gated_files_inside,)),
}, required=("seed", "ingest", "degrade", "score", "threshold", "dedup", "variants", "pruned", "train", "gan",
             "report"), checks=(variants_can_be_made, searched_policy_made, crops_fit, gan_images_fit,
                                   search_challenges_fixed, momentum_read))
