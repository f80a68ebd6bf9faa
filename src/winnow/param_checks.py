"""The rules of params.yaml that tie keys to one another, within a section (``threshold.bins`` and each method's
window; ``ingest.source`` and ``ingest.path``, and the like of where ingest and represent read from, are
:mod:`winnow.source_checks`') or across sections (``train.augment: searched`` and ``augment_search.enabled``,
``variants`` and ``degrade``). Each is a check of :data:`winnow.params.SCHEMA`,
run on a section (or the whole file) once every key of it has passed its own rule; it raises one line
naming the keys through :func:`winnow.param_rules.fail`.

A module of its own: :mod:`winnow.params` declares what each key may hold, this one what keys may hold
together.
"""

from __future__ import annotations

from winnow.configs import (
    DEFAULT_VALLEY_WINDOW, FRAC_NOISE_FILTERS, OUTLIER_METHODS, Policy, check_weak_below, check_weak_k, gan_size_fits,
    gan_sizes_near,
)
from winnow.errors import WinnowError, redacted
from winnow.param_rules import FILE, fail, show

POLICY_DEFAULTS = Policy()


def gated_files_inside(section: dict, path: str) -> None:
    # the gate reads each revision's files with git: a pattern outside the project reads nothing there
    for i, pattern in enumerate(section["files"]):
        if pattern.startswith(("/", "\\")) or ".." in pattern.replace("\\", "/").split("/"):
            fail(f"{path}.files[{i}]", f"{show(pattern)} is not inside the project; give a path relative to "
                                       "params.yaml's folder, e.g. metrics/evaluate/*.json")


def splits_leave_train(section: dict, path: str) -> None:
    val, test = section["val_fraction"], section["test_fraction"]
    if val + test >= 1:
        fail(f"{path}.val_fraction + {path}.test_fraction", f"{val} + {test} is not below 1 (no train images left)")


    return None


def views_searched(section: dict, path: str) -> None:
    # before: radius null with flip true (the default) or a crop passed, dedup searched no mirror or crop (those
    # searches compare pHashes within the radius), found no mirrored copy, and metrics/dedup.json said flip true.
    # With embedding_radius set the views act through the thumbnails (min_correlation: the check of embedding pairs
    # and of a group's chains compares them), and without those they change nothing either
    # the turned views are searched by pHash alone (no thumbnail check of an embedding pair turns an image)
    if section.get("radius") is None and section.get("orientations") == "any":
        fail(f"{path}.radius", "null (exact copies only), but orientations any: the turned copies are searched by "
                               "pHash within the radius, so none would be found; set a radius (6 finds them), or "
                               "orientations: upright")
    views = ["flip is true" if section.get("flip") else "", f"crop {section['crop']}" if section.get("crop") else ""]
    if section.get("radius") is not None or not any(views):
        return
    said = " and ".join(view for view in views if view)
    if section.get("embedding_radius") is None:
        fail(f"{path}.radius", f"null (exact copies only), but {said}: the mirror and crop searches compare pHashes "
                               "within the radius, so they would find nothing; set a radius (6 finds them), or "
                               "flip: false and crop: null")
    if section.get("min_correlation") is None:
        fail(f"{path}.radius", f"null and min_correlation null, but {said}: the mirror and crop views are compared "
                               "by pHash within the radius or by the thumbnails, and with neither they change "
                               "nothing (the embedding's pairs go unconfirmed); set a radius or min_correlation, or "
                               "flip: false and crop: null")


def contract_bounds_bind(section: dict, path: str) -> None:
    # a rate lies in [0, 1], so a largest rate of 1 fails no measured variant: 1 written for 1% (0.01) was accepted,
    # where 5 for 5% was refused as above 1, and the rule passed every variant, under enforce too. null leaves the
    # rule out, and the contract's record says so
    for key in ("max_duplicate_rate", "max_label_issue_rate", "max_flagged_rate"):
        if section.get(key) == 1:
            fail(f"{path}.{key}", f"{show(section[key])} bounds nothing: every rate is at most 1, so the rule passes "
                                  "whatever the variant's rate; for 1% write 0.01, to leave the rule out write null")
    # and a smallest bound of 0, which no count or share falls below: it passed every set, under enforce too
    for key in ("min_images_per_class", "min_class_balance", "min_completeness"):
        if section.get(key) == 0:
            fail(f"{path}.{key}", f"{show(section[key])} bounds nothing: nothing measured is below 0, so the rule "
                                  "passes whatever it measures; to leave the rule out write null")


def cpus_of_a_local_cluster(section: dict, path: str) -> None:
    # a cluster joined has its own CPUs: num_cpus beside an address was ignored while the run looked as if it held
    # the stage to them
    address = section.get("address")
    if section.get("num_cpus") is not None and address not in (None, "local"):
        shown = redacted(address) if "://" in address else address  # ray://user:secret@host: never the secret
        fail(f"{path}.num_cpus", f"{section['num_cpus']} sizes the local cluster winnow starts (address null), but "
                                 f"address is {show(shown)}, a cluster with CPUs of its own; set num_cpus to null, or "
                                 "address to null")


def correlation_binds(section: dict, path: str) -> None:
    # before: -1 passed, which every correlation reaches: each pHash candidate, mirror, crop and embedding pair passed
    # the thumbnail check, and embedding_confirm true "confirmed" embedding pairs with a check that confirms all
    if section.get("min_correlation") == -1:
        # told only where it is true (before: also where it was false already)
        confirmed = section.get("embedding_radius") is not None and section.get("embedding_confirm", True)
        unconfirmed = " and embedding_confirm: false" if confirmed else ""
        fail(f"{path}.min_correlation", f"{show(section['min_correlation'])} bounds nothing: every correlation is at "
                                        "least -1, so every candidate pair passes the thumbnail check; to take the "
                                        f"candidates as they are write null{unconfirmed}")


def embedding_pairs_confirmed(section: dict, path: str) -> None:
    # left out it is true, as the dedup stage reads it: before, only a written true was refused, and a left-out one
    # took the embedding's pairs unconfirmed while metrics/dedup.json said embedding_confirm true
    confirm = section.get("embedding_confirm", True)
    if section.get("embedding_radius") is not None and confirm and section.get("min_correlation") is None:
        said = "true" if "embedding_confirm" in section else "left out, so true"
        fail(f"{path}.embedding_confirm", f"{said}, but min_correlation is null: there is no thumbnail check to "
                                          "confirm embedding pairs with; set min_correlation or embedding_confirm: "
                                          "false")


def valley_windows_fit(section: dict, path: str) -> None:
    """The valley method weighs each cut by the histogram's mass outside ``valley_window`` bins of it: a window of
    ``bins - 1`` or more holds every bin from every cut (winnow.histogram_cuts.valley refuses it), so say so here,
    before any stage runs, for threshold's issues and embedding-clean's cuts (the default window of 5)."""
    bins = section.get("bins")
    if bins is None:
        return
    if "issues" in section:
        windows = {f"{path}.issues.{issue}.valley_window": setting.get("valley_window", DEFAULT_VALLEY_WINDOW)
                   for issue, setting in (section.get("issues") or {}).items()
                   if isinstance(setting, dict) and setting.get("method") == "valley"}
    else:
        windows = {f"{path}.{key}": DEFAULT_VALLEY_WINDOW for key in ("isolation", "outlier_threshold")
                   if section.get(key) == "valley"}
    for where, window in windows.items():
        if window >= bins - 1:
            fail(where, f"method valley with a window of {window} bins reaches across the whole histogram of "
                        f"{path}.bins {bins}, so no cut has a valley to weigh; use more bins (at least {window + 2}), "
                        "a smaller window or another method")


# auto's tail_share: its tail rule tests the scores at or below that quantile of them (from MIN_SCORES, 10) and its
# isolated rule needs 20 strictly below it (winnow.auto_rule), so a share s leaves the isolated rule idle on every set
# of up to 19 / s + 1 images. Before, 1e-9 was accepted and flagged nothing either rule exists for (a black image among
# 20,000: flagged at 0.1, none at 1e-9). From a thousandth both can fire on a set of 20,000 images (CIFAR, MNIST)
MIN_TAIL_SHARE = 0.001


def tail_shares_tested(section: dict, path: str) -> None:
    for issue, setting in (section.get("issues") or {}).items():
        share = setting.get("tail_share") if setting.get("method", "auto") == "auto" else None
        if share is not None and share < MIN_TAIL_SHARE:
            fail(f"{path}.issues.{issue}.tail_share",
                 f"{show(share)} is below {MIN_TAIL_SHARE}: auto's isolated rule needs 20 scores under that share of "
                 f"them and its tail rule 10, so the isolated rule would fire on no set of fewer than "
                 f"{19 / share:,.0f} images; give {MIN_TAIL_SHARE} or more (0.1 by default), or null to turn "
                 "both rules off")


def _as_params_line(check, *args) -> None:
    """``check(*args)``, a stage's own validator, its one line prefixed as a params line: the params check and
    the stage refuse a value in the same words, from one place."""
    try:
        check(*args)
    except WinnowError as err:
        raise WinnowError(f"{FILE}: {err}") from None


def weak_classes_chosen(section: dict, path: str) -> None:
    if section["weak_k"] is None and section["weak_below"] is None:
        fail(f"{path}.weak_k", "null, and so is weak_below; set one of them to choose the weak classes")
    # before: weak_k 0, or weak_below 50 with weak_by f1, passed here and gan-synthesize refused them only after
    # train@oracle, baseline and pruned had run
    _as_params_line(check_weak_k, section["weak_k"])
    _as_params_line(check_weak_below, section["weak_by"], section["weak_below"])


def ops_enough(section: dict, path: str) -> None:
    ops = section.get("ops", POLICY_DEFAULTS.ops)
    n = section.get("n", POLICY_DEFAULTS.n)
    if n > len(ops):
        fail(f"{path}.n", f"{n} is above {len(ops)}, the number of ops to draw from")


def policy_made(section: dict, path: str) -> None:
    # before: kind trivial with n 2 passed here, and the balance stage refused it after three trainings
    _as_params_line(Policy.from_params, section)


def judge_without_policy(section: dict, path: str) -> None:
    # the judges' models (confident_learn.train, embedding_clean.train, represent.judge) train on the images as they
    # are: before, augment: fixed (or searched, with no search) was accepted and trained exactly as none. none says
    # what they do, and a copy of the train section carries it: refused too, that once stopped every stage
    if section.get("augment", "none") != "none":
        fail(f"{path}.augment", "the judges train without a policy (train.augment is for the variants' models); "
                                "remove it")


def folds_judged(section: dict, path: str) -> None:
    # before: mode folds with embedding represent ran the single mode without a word (nothing is trained to fold)
    if section.get("mode", "single") == "folds" and section.get("embedding", "represent") != "judge":
        fail(f"{path}.mode", "folds needs embedding: judge (the represent embedding is fixed: no model is trained, "
                             "so there are no folds); set mode: single, or embedding: judge")


def outliers_dropped(section: dict, path: str) -> None:
    # before: drop_outliers true with outliers [] ran, scored no outlier and dropped none without a word
    if section.get("drop_outliers") is True and section.get("outliers") == []:
        fail(f"{path}.drop_outliers", f"true, but {path}.outliers is [], so no method flags an outlier to drop; name "
                                      f"methods in outliers ({', '.join(OUTLIER_METHODS)}), or set drop_outliers: "
                                      "false")


def noise_fraction_read(section: dict, path: str) -> None:
    # before: frac_noise 0.5 with filter_by confident_learning was accepted; cleanlab ignored it, flagged as many
    # labels as at 1.0 and printed its own UserWarning twice (train and val), file paths and all
    filter_by, frac_noise = section.get("filter_by", "both"), section.get("frac_noise", 1.0)
    if frac_noise != 1 and filter_by not in FRAC_NOISE_FILTERS:
        fail(f"{path}.frac_noise", f"{show(frac_noise)}, but filter_by {filter_by} does not read it (only "
                                   f"{', '.join(FRAC_NOISE_FILTERS)} do); set frac_noise: 1.0, or one of those")


def op_sets_differ(section: dict, path: str) -> None:
    # the same set twice (in any order) is the same candidates scored twice: twice the trainings, and one more
    # challenger in the with_fixed bar's count
    seen: dict[frozenset, int] = {}
    for i, ops in enumerate(section.get("op_sets") or []):
        if frozenset(ops) in seen:
            fail(f"{path}.op_sets[{i}]", f"{show(ops)} holds the same ops as op_sets[{seen[frozenset(ops)]}]")
        seen[frozenset(ops)] = i


def search_has_candidates(section: dict, path: str) -> None:
    # before: kinds [rand] with every n of ns above the size of each op set passed here, and augment-search refused
    # "no candidate policy" only after ingest, degrade, every cleaner and variants had run. trivial draws one op, so
    # it always makes candidates; ns or op_sets left out take the stage's defaults, which the stage itself checks
    if not section.get("enabled", False) or "trivial" in section.get("kinds", ["trivial"]):
        return
    if "ns" not in section or "op_sets" not in section:
        return
    largest = max(len(ops) for ops in section["op_sets"])
    if min(section["ns"]) > largest:
        fail(f"{path}.ns", f"{show(section['ns'])} has no n of at most {largest}, the most ops of any op set, and kinds "
                           f"{show(section['kinds'])} has no trivial: there is no candidate policy; give an n of at most "
                           f"{largest}, a larger op set, or add trivial to kinds")


def search_challenges_fixed(params: dict, path: str) -> None:
    # before: op_sets [[shear, translate, rotate, noise, crop]] at balance.policy's n and magnitude, every candidate
    # balance.policy itself, passed here, and augment-search refused it (or before that, wrote balance.policy "chosen"
    # against no challenger) only after ingest, degrade, every cleaner and variants had run. The stage's own defaults
    # fill what the section leaves out, and winnow.search_space decides it for both
    from winnow.search_space import candidates, challengers, search_settings

    section = search_settings(params)
    if not section["enabled"] or not section["with_fixed"]:
        return
    try:
        policies = candidates(op_sets=section["op_sets"], kinds=section["kinds"], ns=section["ns"],
                              magnitudes=section["magnitudes"], fill=section["fill"])
    except WinnowError:  # no candidate at all: search_has_candidates says so, or the stage
        return
    _as_params_line(challengers, policies, Policy.from_params((params.get("balance") or {}).get("policy") or {}))


def search_settings_read(section: dict, path: str) -> None:
    # before: with_fixed false with tie_se 3 (or kinds [trivial] with ns [3]) passed, the search ignored it and
    # metrics/augment_search.json recorded tie_se 3 as if the bar had been raised. The defaults (1.0, [2]) are what a
    # copy of the default params.yaml holds, so they pass
    if not section.get("enabled", False):
        return
    if not section.get("with_fixed", True) and section.get("tie_se", 1.0) != 1.0:
        fail(f"{path}.tie_se", f"{show(section['tie_se'])}, but with_fixed false scores no balance.policy to keep on a "
                               "tie, and nothing else reads it; set tie_se: 1.0, or with_fixed: true")
    if "rand" not in section.get("kinds", ["trivial", "rand"]) and section.get("ns", [2]) != [2]:
        fail(f"{path}.ns", f"{show(section['ns'])}, but kinds {show(section['kinds'])} has no rand, the only kind that "
                           "reads it (trivial draws one op an image); set ns: [2], or add rand to kinds")


def crops_fit(params: dict, path: str) -> None:
    # before: train.crop_padding 16 with ingest.size 32 passed here, and the first training refused it: with
    # represent.source selfsup, the budget's check, after every cleaner had run. Without ingest.size the images keep
    # the source's size, which only ingest knows
    size = params["ingest"].get("size")
    if size is None:
        return
    trainings = {"train": params["train"], "represent.judge": (params.get("represent") or {}).get("judge"),
                 "confident_learn.train": (params.get("confident_learn") or {}).get("train"),
                 "embedding_clean.train": (params.get("embedding_clean") or {}).get("train")}
    for where, section in trainings.items():
        padding = (section or {}).get("crop_padding")
        if padding is not None and 2 * padding >= size:  # as winnow.training refuses it: past half the image
            fail(f"{where}.crop_padding", f"{padding} pixels on {size}x{size} images (ingest.size) shifts a crop past "
                                          f"half the image; set it below {(size + 1) // 2}, or 0 for no crop")


def gan_images_fit(params: dict, path: str) -> None:
    # before: ingest.size 30 with augmented among the variants passed here, and gan-synthesize refused it ("images of
    # 30px do not fit the generator") only after ingest, degrade, every cleaner and train@baseline had run. Without
    # ingest.size the images keep the source's size, which only ingest knows
    size = params["ingest"].get("size")
    if size is None or "augmented" not in params["variants"] or gan_size_fits(size):
        return
    fail("ingest.size", f"{size}, but the GAN of the augmented variant (gan-synthesize) makes images of a multiple of "
                        f"4 pixels a side; set ingest.size to {gan_sizes_near(size)}, or leave augmented out of "
                        "variants")


def searched_policy_made(params: dict, path: str) -> None:
    augment = (params.get("train") or {}).get("augment", "none")
    if augment == "searched" and not (params.get("augment_search") or {}).get("enabled", False):
        fail("train.augment", "searched needs augment_search.enabled: true (the stage that searches the policy); "
                              "or choose fixed (balance.policy) or none")
    # the other way round: balance (under balanced) and train.augment: searched are the searched policy's only readers.
    # Before: enabled without either, the search trained every candidate (minutes) and wrote a policy no stage read,
    # exit 0, while every model trained as before
    if ((params.get("augment_search") or {}).get("enabled", False) and augment != "searched"
            and "balanced" not in params["variants"]):
        fail("augment_search.enabled", f"true, but no stage reads the searched policy: balanced is not in variants "
                                       f"(balance's copies) and train.augment is {augment}, not searched; add balanced "
                                       "to variants or set train.augment: searched, or set augment_search.enabled: "
                                       "false")


def variants_can_be_made(params: dict, path: str) -> None:
    variants = params["variants"]
    if "baseline" not in variants:
        fail("variants", f"{show(variants)} lacks baseline; gan-synthesize and balance start from its model "
                         "(models/baseline.pt)")
    if "oracle" in variants and not params["degrade"].get("enabled", True):
        fail("variants", "oracle needs degrade.enabled: true (without degrade it is the baseline); "
                         "remove oracle or enable degrade")
    enforced = (params.get("contracts") or {}).get("enforce_variants") or []
    for i, name in enumerate(enforced):
        where = f"contracts.enforce_variants[{i}]"
        if name not in variants:
            fail(where, f"{name} is not in variants {show(variants)}, so it has no contract to enforce; add it to "
                        "variants, or leave it out of contracts.enforce_variants")
