"""Which collected runs ``winnow study collect`` draws: those whose outputs are what their params make, each setting
and seed once. Each filter returns the runs kept and a note naming the rest ("" for none), as
:func:`winnow.experiments.current_runs` does.
"""

from __future__ import annotations

import json
import math

from winnow.degrade_options import check as check_perturbations, with_defaults
from winnow.degrade_picks import picked
from winnow.errors import WinnowError, listed
from winnow.experiments import same_inputs
from winnow.groundtruth import CONTAMINATION_KINDS, DEGRADE_METRICS
from winnow.param_rules import finite_number
from winnow.params_compared import comparable, lookup

DEGRADED = "data/degrade"  # the degrade stage's imageset


def study_runs(experiments: list[dict], *, axis: str | None = None) -> tuple[list[dict], list[dict]]:
    """The study runs among ``experiments`` (with ``axis``, those with a finite number there; without, those with one
    perturbation in ``degrade.perturbations`` or none), which the filters below choose among, and the rest, which
    draw no point. Params no run writes count as study runs: tidy names what is wrong with them.

    Before: the baseline commit (the default run's seven perturbations) was grouped with them by setting, and on a
    one-to-one tie its group was kept, so a lone study run of other training settings was left out.
    """
    def is_study(params) -> bool:
        if not isinstance(params, dict):
            return True
        if axis is not None:
            return axis_level(params, axis) is not None
        specs = _perturbations(params)  # none for a degrade no run writes: a study run
        return not isinstance(specs, list) or len(specs) <= 1

    chosen = [is_study(exp["params"]) for exp in experiments]
    return ([exp for exp, study in zip(experiments, chosen) if study],
            [exp for exp, study in zip(experiments, chosen) if not study])


def scored_runs(experiments: list[dict], metrics_file: str) -> tuple[list[dict], str]:
    """The ``experiments`` that hold ``metrics_file`` (``--metrics``), and a note naming the rest ("" for none): the
    filters below choose a setting among the runs that can draw its points. Before: runs that ran no such variant
    (``variants: [baseline]`` beside ``[baseline, pruned]``, collected with ``--metrics .../pruned.json``) were the
    larger group, so the runs that hold the file were left out as of "other settings (variants)", and collect then said
    that no experiment holds it; a study run without it otherwise dropped out of its curve without a word."""
    held = [exp for exp in experiments if metrics_file in exp["metrics"]]
    if len(held) == len(experiments):
        return experiments, ""
    lacking = [exp["experiment"] for exp in experiments if metrics_file not in exp["metrics"]]
    return held, (f"left out {len(lacking)} study run(s) that hold no {metrics_file} (their params run no such "
                  f"variant, or their pipeline writes no such file; collect them with --metrics of a file they hold): "
                  f"{listed(lacking)}")


def axis_level(params: dict, axis: str) -> float | None:
    """The finite number at the dotted params path ``axis``, as a float, or None (no number there): before, NaN and
    inf became levels in study.csv, and an integer past float's range (10**400) an OverflowError traceback."""
    level = lookup(params, axis)
    if not isinstance(level, (int, float)) or isinstance(level, bool):
        return None
    try:
        level = float(level)
    except OverflowError:
        return None
    return level if math.isfinite(level) else None


def ran_as_listed(experiments: list[dict]) -> tuple[list[dict], str]:
    """The experiments whose :data:`DEGRADE_METRICS` counts ground-truth rows of the kinds their
    ``degrade.perturbations`` list and no others, and a note naming the rest ("" for none). A record without that
    file (another pipeline's) is kept: nothing tells otherwise.

    `dvc exp save`, or `dvc commit -f` then `git commit`, records new params beside outputs made with the old ones
    and rewrites dvc.lock to agree with both (before: an experiment saved with symmetric_noise 0.6 over the
    7-perturbation run was drawn at 0.6 with that run's accuracy). A share is told apart by its rows too (the images
    degrade picks among the rows drawn from, :func:`winnow.degrade_picks.picked`); a level of another option (a
    blur's kernel) is not.
    """
    kept, unlike = [], []
    for exp in experiments:
        written = exp["metrics"].get(DEGRADE_METRICS)
        written = written if isinstance(written, dict) else {}
        counts, train = written.get("kind"), written.get("train")
        said = (_unlike_counts(exp["params"], counts, train if isinstance(train, dict) else {})
                if isinstance(counts, dict) and isinstance(exp["params"], dict) else "")
        if said:
            unlike.append(f"{exp['experiment']} ({said})")
        else:
            kept.append(exp)
    if not unlike:
        return kept, ""
    return kept, (f"left out {len(unlike)} run(s) whose {DEGRADE_METRICS} is not what their degrade.perturbations "
                  "make (saved with `dvc exp save` or `dvc commit` over another run's outputs; run them with "
                  f"`dvc exp run`): {'; '.join(unlike)}")


def own_outputs(experiments: list[dict]) -> tuple[list[dict], str]:
    """The experiments less those whose :data:`DEGRADED` (as their dvc.lock hashes it) is another's made with other
    perturbations, and a note naming those ("" for none).

    One output of two damages was made by one of them only: `dvc exp save` of noise 0.6 over a noise 0.3 run keeps
    that run's kinds, which :func:`ran_as_listed` reads alike (before: drawn at 0.6 with the 0.3 run's accuracy).
    Which of the two ran it cannot be told, so both go. Options are compared with degrade's defaults filled in;
    seeds are not compared, and a run whose :data:`DEGRADE_METRICS` counts no perturbed image is the clean run:
    class_removal drops every image of its class at any seed, and a share that rounds to no image leaves the
    input (before: both were left out, as was the clean run beside such a share, every curve's origin)."""
    made_by: dict[str, dict[str, list[dict]]] = {}  # output hash -> damage -> experiments
    for exp in experiments:
        digest = (exp.get("outputs") or {}).get(DEGRADED)
        if digest and isinstance(exp["params"], dict):
            written = exp["metrics"].get(DEGRADE_METRICS)
            untouched = isinstance(written, dict) and written.get("perturbed_images") == 0
            made_by.setdefault(digest, {}).setdefault(_damage({} if untouched else exp["params"]), []).append(exp)
    shared = [exp for damages in made_by.values() if len(damages) > 1 for runs in damages.values() for exp in runs]
    if not shared:
        return experiments, ""
    return ([exp for exp in experiments if all(exp is not other for other in shared)],
            f"left out {len(shared)} run(s) whose {DEGRADED} is another's with other perturbations (one of them was "
            f"saved with `dvc exp save` or `dvc commit` over the other's outputs; run it with `dvc exp run`): "
            + listed([exp["experiment"] for exp in shared]))


def _damage(params: dict) -> str:
    """The perturbations a run's params ask for, as comparable text (classes as :func:`class_names` names them)."""
    specs = _perturbations(params)
    try:
        specs = [with_defaults(spec) for spec in specs]
    except WinnowError:
        pass  # compared as written; tidy names what is wrong with them
    # a class_removal's classes are a set: it drops every image of each at any seed and in any order. Before, [1, 2]
    # and [2, 1] at one seed were two settings, so the rerun was averaged with the run as a second seed ("2 at 2")
    specs = [{**spec, "classes": sorted(spec["classes"], key=lambda c: json.dumps(c, default=str))}
             if isinstance(spec, dict) and spec.get("kind") == "class_removal" and isinstance(spec.get("classes"), list)
             else spec for spec in specs]
    return comparable(specs)


def class_names(experiments: list[dict], metrics_files: list[str]) -> list[dict]:
    """The ``experiments`` with each class a perturbation's ``classes`` gives by its index named as degrade reads it:
    the class of that index in the run's classes, which the first of ``metrics_files`` it holds lists in order
    (evaluate writes ``per_class`` in the order of classes.json). One class is then one damage, one curve and one
    setting however it was written. Before: `classes: [1]` queued by hand beside the sweep's `["b"]` (classes a, b,
    c) at another seed, one data/degrade as class_removal takes every image of its class at any seed, was read as two
    damages of one output, and both runs were left out as saved over another's outputs (and `[2]` beside `["2"]`
    too). An index degrade refuses (one a class named by another number reads as) is left as written."""
    def named(exp: dict) -> dict:
        params = exp["params"]
        specs = _perturbations(params) if isinstance(params, dict) else []
        shown = next((exp["metrics"][f] for f in metrics_files if isinstance(exp["metrics"].get(f), dict)), {})
        per_class = shown.get("per_class")
        classes = [str(name) for name in per_class] if isinstance(per_class, dict) else []
        if not classes or not isinstance(specs, list) or not any(
                isinstance(spec, dict) and set(spec) & {"classes", "mapping"} for spec in specs):
            return exp
        specs = [_named_spec(spec, classes) if isinstance(spec, dict) else spec for spec in specs]
        return {**exp, "params": {**params, "degrade": {**params["degrade"], "perturbations": specs}}}

    return [named(exp) for exp in experiments]


def _named_spec(spec: dict, classes: list[str]) -> dict:
    """A perturbation ``spec`` with each class it names by index named (:func:`_class_name`): its ``classes`` list and
    a pair flip's ``mapping`` (keys and values). Before: ``mapping: {0: 1}`` beside ``{a: b}`` at another seed
    (classes a, b, c) was read as two damages, two points never averaged. A key comes as text ("0": `dvc exp show
    --json` writes YAML's key 0 so); one naming no class reads as that index. A mapping whose keys would merge (two of
    one class, which degrade refuses) is left as written, and so are ``rates``, whose keys a study's --axis names
    (degrade.perturbations.0.rates.1), which a renamed key would no longer find."""
    out = {**spec}
    if isinstance(spec.get("classes"), list):
        out["classes"] = [_class_name(c, classes) for c in spec["classes"]]
    given = spec.get("mapping")
    if isinstance(given, dict):
        named = {_class_key(k, classes): _class_name(v, classes) for k, v in given.items()}
        out["mapping"] = named if len(named) == len(given) else given
    return out


def _class_key(key, classes: list[str]):
    """The class name a map's ``key`` reads as among ``classes``: its name, or (digits naming no class, as JSON writes
    the key 0) the class of that index, else ``key`` as written."""
    if isinstance(key, str) and key not in classes and key.isascii() and key.isdigit():
        name = _class_name(int(key), classes)
        return name if isinstance(name, str) else key
    return _class_name(key, classes)


def _class_name(value, classes: list[str]):
    """The class name the index ``value`` reads as among ``classes`` (in order), or ``value`` as written: a name, an
    index past the classes, or one degrade refuses (a class named by the same number at another index)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(classes):
        return value
    numbered = [name for name in classes if name.isascii() and name.isdigit() and int(name) == value]
    return classes[value] if all(name == classes[value] for name in numbered) else value


def one_run_each(experiments: list[dict]) -> tuple[list[dict], str]:
    """The experiments less those whose params, seed included, repeat an earlier one's, and a note naming those.

    A setting run twice at one seed is one point: the pipeline is deterministic, so the twin adds no evidence,
    only weight (before: brightness 3.0 queued in two key orders was drawn twice on both its curves and counted
    as two experiments). Runs of one setting at different seeds stay: they are averaged as replicates. A run at a
    share of 0 whose :data:`DEGRADE_METRICS` counts no perturbed image (noise at fraction 0) is the clean run at its
    seed, and the clean run is the one kept (before: noise 0 beside the clean run of its seed read "2 at 0", one run
    repeated)."""
    kept, twins, idle, seen = [], [], [], {}
    clean = _damage({})
    damage = {id(exp): _damage(exp["params"]) if isinstance(exp["params"], dict) else "" for exp in experiments}  # once
    # the clean run first, so that it is the one kept: it is every curve's origin, a noise run at 0 only noise's
    for exp in sorted(experiments, key=lambda exp: damage[id(exp)] != clean):
        params = exp["params"]  # the perturbations as degrade runs them: blur without method is blur method=box
        degrade = params.get("degrade") if isinstance(params, dict) else None
        # params no run writes are compared as they are; tidy names what is wrong with them (before: a TypeError)
        rest = {**params, "degrade": {**degrade, "perturbations": None}} if isinstance(degrade, dict) else params
        written = exp.get("metrics", {}).get(DEGRADE_METRICS)
        # at a share of 0 too, so drawn at level 0 beside it: a share of 0.01 that rounds to no image is a level
        untouched = isinstance(written, dict) and written.get("perturbed_images") == 0 and isinstance(params, dict) \
            and all(isinstance(spec, dict) and type(spec.get("fraction")) in (int, float) and spec["fraction"] == 0
            for spec in _perturbations(params))
        setting = comparable([rest, clean if untouched else damage[id(exp)]])
        if setting in seen:
            (idle if untouched and damage[id(exp)] != clean else twins).append(
                f"{exp['experiment']} (as {seen[setting]})")
        else:
            seen[setting] = exp["experiment"]
            kept.append(exp)
    kept_ids = {id(exp) for exp in kept}
    kept = [exp for exp in experiments if id(exp) in kept_ids]  # in the order read
    notes = [f"left out {len(twins)} run(s) that repeat an earlier run's params and seed (one point each; runs at "
             f"other seeds are averaged): {listed(twins)}" if twins else "",
             f"left out {len(idle)} run(s) that perturb no image, each the clean run of its seed repeated (one point "
             f"each): {listed(idle)}" if idle else ""]
    return kept, "; ".join(note for note in notes if note)


def points(experiments: list[dict]) -> int:
    """How many points ``experiments`` draw: the runs :func:`one_run_each` keeps."""
    return len(one_run_each(experiments)[0])


def points_of_one_code(experiments: list[dict]) -> int:
    """The most :func:`points` of the ``experiments`` that read one code and inputs: what the study draws of a setting
    (:func:`winnow.experiments.same_inputs`). Before: a setting was sized by its runs, and `dvc exp run -S
    train.lr=0.01` repeated 4 times at one seed (one point) outweighed the commit's sweep of 3 levels, which was left
    out as other settings."""
    return points(same_inputs(experiments, size=points)[0])


def _unlike_counts(params: dict, counts: dict, train: dict) -> str:
    """How a run's ground-truth rows per kind (``counts``) contradict its params, or "": rows of a kind not listed,
    none of a listed kind whose share takes some of the ``train`` rows (``{"before": n, "after": n}``), or rows of a
    share other than it takes."""
    specs = _perturbations(params)
    try:
        check_perturbations(specs)
    except WinnowError:  # before: a degrade or kind no run writes was an AttributeError or TypeError traceback
        return ""  # tidy names what is wrong with them
    kinds = {p["kind"] for p in specs}
    extra = [kind for kind, rows in counts.items() if rows and kind not in kinds]
    if extra:
        return f"{counts[extra[0]]} rows of {extra[0]}, which its params do not list"
    shares = [spec for spec in specs if finite_number(spec.get("fraction"))]
    degrade = params.get("degrade")  # degrade reads degrade.disjoint as true or false, default true
    disjoint = bool(degrade.get("disjoint", True)) if isinstance(degrade, dict) else True
    # a share is of the train rows after the removals, before any copy is added: ``after`` less the added copies
    # (before: ``after`` itself, and a subsample's of ``before``, said a share that rightly took no row took some).
    # A subsample drew from these or more, and more rows never drop fewer
    drawn = _rows_drawn_from(train.get("after"), shares, disjoint=disjoint)
    # a share takes the images degrade picks (winnow.degrade_picks.picked), a contamination fewer where it left an
    # image as it was (before: a run saved at noise 0.6 over a noise 0.3 run's outputs, that run removed, was drawn
    # at 0.6 with its accuracy)
    picks = list(zip(shares, picked(shares, drawn, disjoint=disjoint))) if finite_number(drawn) else []
    for spec in specs:
        kind, keep = spec.get("kind"), spec.get("keep")
        takes = (kind == "class_removal"
                 or any(rows > 0 for share, rows in picks if share is spec)
                 or kind == "subsample" and finite_number(keep) and finite_number(drawn)
                 and drawn - round(keep * drawn) > 0)
        if takes and counts.get(kind) == 0:
            return f"no rows of {kind}, which its params list"
    taken: dict[str, int] = {}
    for spec, rows in picks:
        taken[spec["kind"]] = taken.get(spec["kind"], 0) + rows
    rated = {spec["kind"] for spec in specs if "rates" in spec}  # a class's share: its rows are not told from here
    for kind, rows in taken.items():
        found = counts.get(kind)
        # finite_number: math.isfinite raised OverflowError on a count of 400 digits (a traceback from study collect)
        if kind not in rated and finite_number(found) and (found > rows
                                                           or found < rows and kind not in CONTAMINATION_KINDS):
            return f"{found} rows of {kind}, where its params take {rows}"
    return ""


def _rows_drawn_from(after, shares: list[dict], *, disjoint: bool) -> int | None:
    """The train rows the ``shares`` (the ``fraction`` perturbations) were drawn from: ``after`` (the train rows
    degrade wrote) less the copies the ``add`` duplicates made, as :func:`winnow.degrade_picks.picked` allots them
    beside the others; None where no count fits. Before: less every row of an added kind, so an overwriting copy of
    that kind beside an adding one counted as added too; then ``round(share * rows)`` a duplicate, where degrade
    gave one back to fit."""
    if not finite_number(after):
        return None
    added = [spec.get("mode") == "add" for spec in shares]

    def copies(rows: int) -> int:
        return sum(n for n, add in zip(picked(shares, rows, disjoint=disjoint), added) if add)

    # rows plus their copies grow with the rows (by 1 or more a row but where a copy is given back): the first fits
    guess = round(after / (1 + sum(spec["fraction"] for spec, add in zip(shares, added) if add)))
    return next((rows for rows in range(max(guess - sum(added) - 1, 0), guess + sum(added) + 2)
                 if rows + copies(rows) == after), None)


def _perturbations(params: dict) -> list:
    """A run's ``degrade.perturbations`` as degrade runs them: none where degrade is disabled (or not a mapping)."""
    degrade = params.get("degrade") or {}
    return (degrade.get("perturbations") or []) if isinstance(degrade, dict) and degrade.get("enabled", True) else []




def untested_classes(experiments: list[dict], *, metrics_file: str, repo: str,
                     unread: list[str]) -> dict[tuple[str, str], set[str]]:
    """``(experiment, rev)`` -> the classes that run's test split held no image of (``support`` 0 in the
    ``summary.json`` beside ``metrics_file``, an evaluate metrics file, read from git at the run's commit:
    :func:`winnow.compare_runs.run_metrics`), for the experiments that hold ``metrics_file``; a run whose summary is
    not there (a saved exp show of commits the repository lacks) has none, one broken is named in ``unread``. DVC shows
    F1 alone, 0 for such a class by convention: before, the per-class figures drew it as the model failing the class.

    Raises:
        WinnowError: a support that is no count of test images (:func:`winnow.metrics.check_support`), or a summary
            whose F1 is not the metrics file's."""
    from winnow.compare_runs import run_metrics
    from winnow.metrics import METRICS_FILE, check_support, variant_of

    variant = variant_of(metrics_file, METRICS_FILE)
    untested: dict[tuple[str, str], set[str]] = {}
    for exp in experiments:
        shown = exp["metrics"].get(metrics_file)
        per_class = shown.get("per_class") if isinstance(shown, dict) else None
        if variant is None or not (isinstance(per_class, dict) and all(isinstance(v, dict) for v in per_class.values())):
            continue  # not evaluate's metrics, or a record tidy refuses in its own words
        run = {"experiment": exp["experiment"], "rev": exp["rev"], "variants": {variant: shown}}
        try:
            measured = run_metrics(run, metric="f1", repo=repo, unread=unread)[variant]  # names the experiment
        except WinnowError as err:
            raise WinnowError(f"study: {err}") from err
        try:
            check_support({variant: measured})
        except WinnowError as err:
            raise WinnowError(f"study: experiment {exp['experiment']}: {err}") from err
        untested[(exp["experiment"], exp["rev"])] = {name for name, values in measured["per_class"].items()
                                                     if values.get("support") == 0}
    return untested
