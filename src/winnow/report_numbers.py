"""The numbers a stage's metrics JSON shows in the report, checked before they are shown: a hand-edited or
damaged file ("-2 groups", "val_accuracy": 7.5, a count written as "14") was shown as if measured, or stopped the
report with a traceback. One line naming the file and the key instead (:func:`winnow.stage_reads.rerun_error`)."""

from __future__ import annotations

import json
import math
from numbers import Integral

import numpy as np

from winnow.contract_verdict import INPUT_SUITES
from winnow.metrics import is_rate
from winnow.param_rules import finite_number
from winnow.params_compared import lookup
from winnow.stage_reads import rerun_error

_ABSENT = object()
# keys that hold a count (or null: not measured) wherever they sit in a cleaner's metrics, and any key ending in
# _images; keys that hold a rate in [0, 1] (or null)
COUNT_KEYS = frozenset({
    "images", "groups", "tp", "fp", "fn", "flagged", "considered", "left_out", "planted_flips", "flips_planted",
    "planted_flips_flagged", "planted_flips_relabelled", "dropped", "relabelled", "leak_drops", "conflicts",
    "largest_group", "correct", "judged", "negative", "reliably_negative", "issues",
    "label_issue", "label_conflict", "inside_class", "isolated", "outlier", "neighbours_agree", "val_relabels",
    "relabels_blocked", "exact_duplicate", "near_duplicate", "flip_crop_duplicate", "turned_duplicate",
    "embedding_duplicate", "leak",
    "none_correct", "winner_correct", "val_left_out"})
FLAG_KEYS = frozenset({"too_few_images"})  # true / false, whatever their names end in (the budget's judge)
# whole numbers of either sign, whatever their names end in: the budget's model check writes none's judge images
# right less the winner's, negative exactly when the winner holds (before: read as a count, so the report refused
# every budget whose check passed, and rerunning the budget wrote the same file again)
SIGNED_KEYS = frozenset({"gap_images"})
RATE_KEYS = frozenset({
    "precision", "recall", "f1", "accuracy", "val_accuracy", "judge_val_accuracy", "accuracy_vs_given",
    "noise_rate", "true_noise_rate", "relabel_accuracy", "relabel_precision", "relabel_precision_planted",
    "relabel_min_precision", "val_largest_class_share"})
CONTRACT_RATES = ("duplicate_rate", "label_issue_rate", "flagged_rate", "class_balance", "completeness",
                  "measured_share")


def _is_whole(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_count(value) -> bool:
    """A whole number >= 0 (a bool is none), as the metrics files write counts."""
    return _is_whole(value) and value >= 0


def _at(data: dict, key: str | tuple[str, ...]):
    """The value at ``key``, a dotted key or a tuple of keys (one may hold a dot: a class name), or ``_ABSENT``."""
    return lookup(data, key, missing=_ABSENT)


def checked_numbers(data: dict | None, *, path: str, stage: str, counts=(), rates=(), finite=(), texts=(), flags=(),
                    required=()) -> dict | None:
    """``data``, a stage's metrics JSON, when each key (dotted, or a tuple of keys where one is a class name, which
    may hold a dot) of ``counts`` holds a whole number >= 0, of ``rates`` a
    number in [0, 1] or null, of ``finite`` a finite number or null, of ``texts`` a string and of ``flags`` true or
    false (a key not there is not checked, unless ``required`` names it); else one line naming the file and the
    key. A hand-edited "-7 images read" or a cut of 1e308 was shown as if measured, and a key deleted by hand
    stopped the report with a KeyError."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise rerun_error(path, f"holds {json.dumps(data)[:40]}, not an object", written_by=stage)
    for key in required:
        if _at(data, key) is _ABSENT:
            raise rerun_error(path, f"{_dotted(key)} is missing", written_by=stage)
    for keys, fits, what in ((counts, is_count, "a count"),
                             (rates, lambda v: v is None or is_rate(v), "a number in [0, 1]"),
                             # finite_number: math.isfinite raised OverflowError on a cut of 400 digits (a traceback)
                             (finite, lambda v: v is None or finite_number(v), "a finite number"),
                             (texts, lambda v: isinstance(v, str), "a text"),
                             (flags, lambda v: isinstance(v, bool), "true or false")):
        for key in keys:
            found = _at(data, key)
            if found is not _ABSENT and not fits(found):
                raise rerun_error(path, f"{_dotted(key)} is {json.dumps(found)[:40]}, not {what}", written_by=stage)
    return data


def _dotted(key: str | tuple[str, ...]) -> str:
    return key if isinstance(key, str) else ".".join(key)


def checked_truth(scores: dict, *, where: str, path: str, stage: str) -> dict:
    """``scores``, a block of figures against what degrade planted (``tp``, ``fp``, ``fn`` counts, already checked,
    beside ``precision``, ``recall``, ``f1``, as :func:`winnow.groundtruth.precision_recall_f1` writes them), when each
    rate is what the counts give (0 or null where undefined, and only there); else one line naming the key. Before:
    "precision (planted) 0.900" stood in the thresholds table of an issue whose 10 flags in train held 1 planted image,
    and a precision of null there read "–" (nothing flagged) beside its 10 flags."""
    tp, fp, fn = (scores[k] for k in ("tp", "fp", "fn"))
    for key, (num, den) in (("precision", (tp, tp + fp)), ("recall", (tp, tp + fn)),
                            ("f1", (2 * tp, 2 * tp + fp + fn))):
        said = scores.get(key, _ABSENT)
        if said is _ABSENT or not (said is None or is_rate(said)):
            continue  # not written, or no rate: checked_numbers' and checked_metrics' to name
        if not (den == 0 if said is None else math.isclose(said, num / den if den else 0.0, abs_tol=1e-9)):
            raise rerun_error(path, f"{where}{key} is {'null' if said is None else f'{said:g}'}, but its tp {tp:,}, "
                                    f"fp {fp:,} and fn {fn:,} give {num / den if den else 0:g}", written_by=stage)
    return scores


def checked_metrics(data: dict | None, *, path: str, stage: str) -> dict | None:
    """``data``, a cleaner's metrics JSON, when every key of :data:`COUNT_KEYS` (or ending in ``_images``) holds a
    whole number >= 0 or null, every key of :data:`SIGNED_KEYS` a whole number or null and every key of
    :data:`RATE_KEYS` a number in [0, 1] or null, wherever it sits; else one line naming the file and the key."""

    def walk(node, where: str) -> None:
        if isinstance(node, dict) and all(is_count(node.get(k)) for k in ("tp", "fp", "fn")):
            checked_truth(node, where=f"{where}." if where else "", path=path, stage=stage)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            here = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
            if key == "classes" and isinstance(value, dict):
                continue  # keyed by class names: a class called "precision" holds a count of its images
            if isinstance(value, (dict, list)):
                walk(value, here.lstrip("."))
            elif not isinstance(key, str) or value is None or key in FLAG_KEYS:
                continue
            elif key in SIGNED_KEYS:
                if not _is_whole(value):
                    raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a whole number",
                                      written_by=stage)
            elif (key in COUNT_KEYS or key.endswith("_images")) and not is_count(value):
                raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a count",
                                  written_by=stage)
            elif key in RATE_KEYS and not is_rate(value):
                raise rerun_error(path, f"{here.lstrip('.')} is {json.dumps(value)[:40]}, not a number in [0, 1]",
                                  written_by=stage)

    if data is not None:
        walk(data, "")
    return data


def checked_contract(data: dict | None, *, path: str, stage: str, suites: bool = False) -> dict | None:
    """``data``, a data contract's metrics JSON (``metrics/contracts/<variant>.json``; with ``suites``,
    ``metrics/contracts.json``, whose ``suites.<name>`` each hold the counts), when ``passed`` and ``failed`` are
    counts, ``failed`` is the length of the ``failures`` list, each rate of :data:`CONTRACT_RATES` is in [0, 1]
    or null and, with ``suites``, each of the ingest and scores suites is there; else one line naming the file and
    the key. Before: a hand-edited "failed": 0 took "baseline failed 3
    check(s)" out of the verdict while the Failed rules listed three, and "failed": -2 read "failed -2 check(s)"."""
    data = checked_numbers(data, path=path, stage=stage, counts=() if suites else ("kept_images",),
                           rates=() if suites else CONTRACT_RATES)
    if data is None:
        return None
    blocks = data.get("suites") or {} if suites else {"": data}
    if not isinstance(blocks, dict):
        raise rerun_error(path, f"suites is {json.dumps(blocks)[:40]}, not an object of suites", written_by=stage)
    for name, block in blocks.items():
        where = f"suites.{name}." if suites else ""
        if not isinstance(block, dict):
            raise rerun_error(path, f"{where.rstrip('.')} is {json.dumps(block)[:40]}, not an object",
                              written_by=stage)
        for key in ("passed", "failed"):
            if not is_count(block.get(key)):
                shown = json.dumps(block[key])[:40] if key in block else "missing"
                raise rerun_error(path, f"{where}{key} is {shown}, not a count", written_by=stage)
        failures = block.get("failures", [])
        if not (isinstance(failures, list) and all(isinstance(line, str) for line in failures)):
            raise rerun_error(path, f"{where}failures is {json.dumps(failures)[:40]}, not a list of rules",
                              written_by=stage)
        if block["failed"] != len(failures):
            raise rerun_error(path, f"{where}failed is {block['failed']} but {where}failures lists {len(failures)} "
                                    "rule(s)", written_by=stage)
    # before: "suites": {} showed an empty table, and the verdict sentence kept quiet about inputs nobody checked
    missing = [name for name in INPUT_SUITES if name not in blocks] if suites else []
    if missing:
        raise rerun_error(path, f"suites holds no {' or '.join(missing)} counts", written_by=stage)
    return data


def checked_gan(data: dict | None, *, path: str, stage: str, samples=None) -> dict | None:
    """``data``, gan-synthesize's metrics JSON, when what the report's generated-images table reads is there and of
    its kind (each weak class's ``acceptance`` counts and rates, its ``class_threshold``, ``weak_scores`` and
    ``frechet`` distances finite or null) and, with ``samples`` (``data/gan``: an ImageSet whose manifest holds
    ``label`` and ``accepted``), each class's generated and kept counts are the samples' own and its rate kept over
    generated; else one line naming the file and the key. Before: a key deleted by hand stopped the report with
    KeyError: 'frechet', a table row "disc | generated 8 | kept 80 | acceptance rate –" stood under the line "8 of 8
    generated images kept", and "generated 4 | kept 3 | acceptance rate 0.1"."""
    if data is None or not isinstance(data, dict) or "skipped" in data:
        return checked_numbers(data, path=path, stage=stage)
    acceptance = data.get("acceptance")
    if not (isinstance(acceptance, dict) and all(isinstance(rate, dict) for rate in acceptance.values())):
        raise rerun_error(path, f"acceptance is {json.dumps(acceptance)[:40]}, not an object of classes",
                          written_by=stage)
    # keys as tuples: a class name may hold a dot
    distances = [("frechet", c, which, key) for c in acceptance for which in ("generated", "accepted")
                 for key in ("generated", "real_reference")]
    checked_numbers(
        data, path=path, stage=stage, texts=["weak_by"],
        required=["weak_by", "threshold", "epochs", *distances,
                  *(("acceptance", c, k) for c in acceptance for k in ("generated", "accepted", "rate")),
                  *(("class_threshold", c) for c in acceptance), *(("weak_scores", c) for c in acceptance)],
        counts=["epochs", *(("acceptance", c, k) for c in acceptance for k in ("generated", "accepted"))],
        rates=[("acceptance", c, k) for c in acceptance for k in ("rate", "real_val_rate")],
        finite=[*distances, *(("class_threshold", c) for c in acceptance), *(("weak_scores", c) for c in acceptance)])
    if samples is not None:
        names = np.asarray(samples.classes, dtype=object)[samples.manifest["label"].to_numpy()]
        kept = samples.manifest["accepted"].astype(bool).to_numpy()
        held = {name: (int((names == name).sum()), int((kept & (names == name)).sum()))
                for name in dict.fromkeys(names)}
        for name in dict.fromkeys([*acceptance, *held]):
            said = tuple(acceptance.get(name, {}).get(k, 0) for k in ("generated", "accepted"))
            if said != held.get(name, (0, 0)):
                generated, accepted = held.get(name, (0, 0))
                raise rerun_error(path, f"acceptance of {name!r} counts {said[1]:,} of {said[0]:,} kept, but data/gan "
                                        f"holds {accepted:,} of {generated:,}: the two are from different runs, "
                                        "or edited", written_by=stage)
        for name, rate in acceptance.items():  # the table shows the rate beside the two counts
            if rate["generated"] and not math.isclose(rate["rate"], rate["accepted"] / rate["generated"], abs_tol=1e-9):
                raise rerun_error(path, f"acceptance of {name!r} gives rate {rate['rate']}, but counts "
                                        f"{rate['accepted']:,} of {rate['generated']:,} kept", written_by=stage)
    return data


def checked_balance(data: dict | None, *, path: str, stage: str, classes: list[str], rows=None) -> dict | None:
    """``data``, the balance stage's metrics JSON, when each class's counts (``counts.<class>.before, left_out,
    added, after``) are counts, ``counts`` holds ``classes`` (data/ingest's), each ``after`` is ``before - left_out +
    added`` and, with ``rows`` (data/variants/balanced/rows.parquet: ``label``, ``action``, ``reason``, ``stage``), the
    balanced images of that class, its ``added`` and ``left_out`` the rows the stage added and left out; the totals
    ``added`` and ``left_out`` the classes' sums and ``edge.copies`` the rows' copies of edge cases; else one line
    naming the file and the key. Before: "abc" stopped the report with a ValueError, a balance.json of another data
    set's classes ("airplane 5 → 8") was shown as this run's, "square: after 45" stood beside the 40 square images the
    balanced version holds, and "added 4,350" or "edge.copies 1,090" above classes adding 435."""
    if not isinstance(data, dict) or "skipped" in data:
        return checked_numbers(data, path=path, stage=stage)
    counts = data.get("counts")
    if not (isinstance(counts, dict) and all(isinstance(c, dict) for c in counts.values())):
        raise rerun_error(path, f"counts is {json.dumps(counts)[:40]}, not an object of classes", written_by=stage)
    if list(counts) != list(classes):
        raise rerun_error(path, f"counts holds the classes {', '.join(map(repr, counts))[:80]}, not data/ingest's "
                                f"{', '.join(map(repr, classes))[:80]}", written_by=stage)
    # keys as tuples: a class named "st.bernard" read as counts → st → bernard, missing, and the report refused each
    # balance.json of it, "counts.st.bernard.before is missing; rerun the balance stage", which wrote the same file
    checked_numbers(data, path=path, stage=stage,
                    counts=["added", "left_out", "edge.images", "edge.copies",
                            *(("counts", c, k) for c in counts for k in ("before", "left_out", "added", "after"))],
                    required=[("counts", c, k) for c in counts for k in ("before", "added", "after")])
    held = None if rows is None else np.bincount(rows.loc[rows["action"] != "drop", "label"], minlength=len(classes))
    for label, (name, count) in enumerate(counts.items()):
        made = count["before"] - count.get("left_out", 0) + count["added"]
        if count["after"] != made or held is not None and held[label] != made:
            where = (f"before - left_out + added is {made:,}" if count["after"] != made else
                     f"data/variants/balanced/rows.parquet holds {held[label]:,} images of it")
            raise rerun_error(path, f"counts.{name}.after is {count['after']:,}, but {where}", written_by=stage)
    # the totals and edge.copies the settings table shows above the classes, and each class's added and left out:
    # what the stage wrote (rows: action add, and drop at stage balance; a copy of an edge case: reason balance(edge))
    totals = {key: (sum(c.get(key, 0) for c in counts.values()), f"counts.<class>.{key} add up to")
              for key in ("added", "left_out")}
    if rows is not None:
        added, rows_file = rows["action"] == "add", "data/variants/balanced/rows.parquet"
        totals["edge.copies"] = (int((added & rows["reason"].str.startswith("balance(edge)")).sum()),
                                 f"{rows_file} adds copies of edge cases:")
        for key, mask in (("added", added), ("left_out", (rows["action"] == "drop") & (rows["stage"] == "balance"))):
            held = np.bincount(rows.loc[mask, "label"], minlength=len(classes))
            wrong = [(name, label) for label, name in enumerate(counts) if counts[name].get(key, 0) != held[label]]
            if wrong:
                name, label = wrong[0]
                raise rerun_error(path, f"counts.{name}.{key} is {counts[name].get(key, 0):,}, but {rows_file} "
                                        f"{'adds' if key == 'added' else 'leaves out'} {held[label]:,} of it",
                                  written_by=stage)
    for key, (held, what) in totals.items():
        if _at(data, key) not in (_ABSENT, held):
            raise rerun_error(path, f"{key} is {_at(data, key):,}, but {what} {held:,}", written_by=stage)
    return data


def checked_verdicts(data: dict, *, blocks: tuple[str, ...], path: str, stage: str) -> dict:
    """``data``, the budget's metrics JSON (counts and flags already checked), when each model check of ``blocks``
    says what its counts say (:class:`winnow.budget_check.ModelCheck`): ``holds`` exactly when the winner's model got
    more judge images right than none's, ``ships`` when no fewer, ``gap_images`` none's right less the winner's, each
    of at most ``judged``; else one line naming the key. Before: a "holds": true beside 470 right for none and 460 for
    the winner read "all stands", and "(gap -50)" or "520 of 500 judge images right" stood in that sentence."""
    for block in (b for b in blocks if isinstance(data.get(b), dict)):
        check = data[block]
        none, winner = check.get("none_correct"), check.get("winner_correct")
        if none is None or winner is None:
            continue
        for key, says in (("holds", winner > none), ("ships", winner >= none), ("gap_images", none - winner)):
            if check.get(key) is not None and check[key] != says:
                raise rerun_error(path, f"{block}.{key} is {json.dumps(check[key])}, but its winner_correct {winner:,} "
                                        f"and none_correct {none:,} say {json.dumps(says)}", written_by=stage)
        for key in (k for k in ("none_correct", "winner_correct") if check.get("judged") is not None):
            if check[key] > check["judged"]:
                raise rerun_error(path, f"{block}.{key} is {check[key]:,}, more than its judged {check['judged']:,}",
                                  written_by=stage)
    return data


def checked_candidates(data: dict, *, path: str, stage: str) -> dict:
    """``data``, the budget's metrics JSON (counts and rates already checked), when each candidate's figures are what
    one probe on the judge split counts: ``correct`` at most ``judge.images``, ``accuracy`` its share of them and a
    finite ``log_loss`` >= 0 (all three null where the candidate was not judged), and ``train_images`` the train images
    less those it ``dropped``; else one line naming the key. Before: "judge images right 900" of 500, an accuracy of
    0.500 beside 477 of 500 right, and a log-loss of NaN (shown "–", as if not judged) stood in the table."""
    judged, total = lookup(data, "judge.images"), data.get("train_images")
    for name, candidate in data["candidates"].items():
        where = f"candidates.{name}"
        correct, accuracy, loss = (candidate.get(k) for k in ("correct", "accuracy", "log_loss"))
        if correct is None or accuracy is None or loss is None:
            unjudged = [k for k, v in (("correct", correct), ("accuracy", accuracy), ("log_loss", loss)) if v is None]
            if len(unjudged) < 3:  # a key left out is missing, not null (before: "correct is null" of a deleted one)
                raise rerun_error(path, f"{where}.{unjudged[0]} is "
                                        f"{'null' if unjudged[0] in candidate else 'missing'}, but its "
                                        f"{next(k for k in ('correct', 'accuracy', 'log_loss') if k not in unjudged)} "
                                        "is not (a candidate not judged has none of them)", written_by=stage)
        elif correct > judged:
            raise rerun_error(path, f"{where}.correct is {correct:,}, more than judge.images ({judged:,})",
                              written_by=stage)
        elif not math.isclose(accuracy, share := correct / max(judged, 1), abs_tol=1e-9):
            raise rerun_error(path, f"{where}.accuracy is {accuracy:g}, but its correct {correct:,} of judge.images "
                                    f"{judged:,} is {share:g}", written_by=stage)
        elif not (isinstance(loss, (int, float)) and not isinstance(loss, bool) and math.isfinite(loss) and loss >= 0):
            raise rerun_error(path, f"{where}.log_loss is {json.dumps(loss)[:40]}, not a finite number >= 0",
                              written_by=stage)
        dropped, kept = candidate.get("dropped"), candidate.get("train_images")
        if None not in (total, dropped, kept) and kept != total - dropped:
            raise rerun_error(path, f"{where}.train_images is {kept:,}, but train_images {total:,} less its dropped "
                                    f"{dropped:,} is {total - dropped:,}", written_by=stage)
    # the budget chooses among the candidates judged (winnow.budget_choice.choose), and what ships after the model check was
    # judged too: before, a winner whose three figures were null or deleted read "pruned applies top5%, ... judged by
    # its log-loss" beside "–" in each of them, exit 0
    if data["candidates"][data["winner"]].get("correct") is None:
        raise rerun_error(path, f"winner is {json.dumps(data['winner'])}, but candidates.{data['winner']} was not "
                                "judged (no correct, accuracy or log_loss): the budget chooses among those judged",
                          written_by=stage)
    return data


def checked_search(data: dict | None, *, path: str, stage: str) -> dict | None:
    """``data``, the augment-search stage's metrics JSON, when its ``left_out`` (absent from an earlier winnow's file:
    nothing left out to show, as before) is a list of the candidates the search left out, each a ``policy`` of the
    fields the stage writes (:func:`winnow.search_space.check_searched`) and its ``reason``, a text; else one line
    naming the file and the key. The balance section lists them beside the policy the copies followed."""
    from winnow.search_space import check_searched
    from winnow.errors import WinnowError

    if not isinstance(data, dict) or "skipped" in data:
        return checked_numbers(data, path=path, stage=stage)
    left_out = data.get("left_out", [])
    if not isinstance(left_out, list):
        raise rerun_error(path, f"left_out is {json.dumps(left_out)[:40]}, not a list of candidates", written_by=stage)
    for k, candidate in enumerate(left_out):
        if not isinstance(candidate, dict) or not isinstance(candidate.get("reason"), str):
            raise rerun_error(path, f"left_out[{k}] is {json.dumps(candidate)[:40]}, not a policy and its reason (a "
                                    "text)", written_by=stage)
        try:
            check_searched(candidate.get("policy"), key=f"left_out[{k}].policy")
        except WinnowError as err:
            raise rerun_error(path, str(err), written_by=stage) from err
    return data
