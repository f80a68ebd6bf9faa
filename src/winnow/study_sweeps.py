"""The standard degrade-study sweeps (003; 004 Appendix B) as ``dvc exp run --queue -S ...`` commands.

Every experiment replaces the whole ``degrade.perturbations`` list with one perturbation (or none, the
clean run), so :func:`winnow.study_damage.describe` can read its damage and level back from the params.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import shlex
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np

from winnow.errors import StoppedBySignal, WinnowError, first_repeated
from winnow.imageset import alike
from winnow.experiments import planned_params, shown_experiments
from winnow.progress_env import check_progress_variables
from winnow.params_compared import comparable
from winnow.revisions import check_committed
from winnow.stage import load_params
from winnow.study_done import counted_as_done, queued_under_other_params
from winnow.study_ingested import INGESTED_CLASSES, deletable_classes, taken_by_the_images, train_grey
from winnow.staleness import check_workspace_current

# 003: label noise 0-60%, data set size 10-100%; 004 Table B-I..B-IV: each contamination on the whole
# train split at several strengths; B-V..B-VII: the share of contaminated images 4%-100%
NOISE_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SIZE_KEEPS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
PROPORTIONS = (0.04, 0.08, 0.12, 0.16, 0.2, 0.24, 0.25, 0.5, 0.75, 1.0)
STRENGTHS = {  # contamination -> its options at each strength, on 100% of the train split
    "brightness": [{"factor": f} for f in (0.05, 0.25, 0.5, 0.75, 1.25, 1.5, 2.0, 2.5, 3.0, 3.5)],
    "blur": [{"method": m, "kernel": k} for m in ("box", "gaussian", "median") for k in (3, 5, 7, 9, 11)],
    "downscale": [{"size": s} for s in (27, 22, 17, 12, 7, 6, 5, 4)],  # below 28: valid for MNIST and CIFAR
    "low_information": [{"size": s} for s in (20, 16, 12, 8)],
    "gaussian_noise": [{"sigma": s} for s in (2.0, 8.0, 16.0)],
    "salt_pepper": [{"rate": r} for r in (0.05, 0.1, 0.2, 0.3, 0.4)],
    "gamma": [{"gamma": g} for g in (0.25, 0.5, 2.0, 4.0)],
    # an overwriting copy takes its source too, so fraction 0.5 is 004's "half kept, half copies"
    "exact_duplicate": [{"mode": "overwrite"}],
    "near_duplicate": [{"mode": "overwrite", "low": lo, "high": hi} for lo, hi in ((0.8, 1.2), (0.5, 1.5))],
}
FULL_FRACTION = {"exact_duplicate": 0.5, "near_duplicate": 0.5}  # the largest share a kind can take
PROPORTION_SETTINGS = [  # 004 Tables B-V..B-VII (odd size there = our downscale)
    {"kind": "brightness", "factor": f} for f in (3.0, 2.0, 0.25, 0.05)
] + [{"kind": "blur", "method": "gaussian", "kernel": k} for k in (5, 7)] + [
    {"kind": "downscale", "size": s} for s in (12, 7)
] + [{"kind": "low_information", "size": 12}]

SWEEPS = ("clean", "label_noise", "size", "strength", "proportion", "class_deletion")


def sweep_perturbations(sweep: str, *, classes: list, colour: bool) -> list[list[dict]]:
    """The ``degrade.perturbations`` value of every experiment of one sweep.

    Args:
        sweep: one of :data:`SWEEPS`.
        classes: the classes to delete one at a time (``class_deletion``), as indices or names.
        colour: whether the data set has 3 channels (grayscale conversion is only queued then).
    """
    if sweep == "clean":
        return [[]]
    if sweep == "label_noise":
        return [[{"kind": "symmetric_noise", "fraction": f}] for f in NOISE_FRACTIONS]
    if sweep == "size":
        return [[{"kind": "subsample", "keep": k}] for k in SIZE_KEEPS]
    if sweep == "class_deletion":
        return [[{"kind": "class_removal", "classes": [c]}] for c in classes]
    if sweep == "proportion":
        return [[{**setting, "fraction": f}] for setting in PROPORTION_SETTINGS for f in PROPORTIONS]
    strengths = dict(STRENGTHS, **({"grayscale": [{}]} if colour else {}))
    return [[{"kind": kind, "fraction": FULL_FRACTION.get(kind, 1.0), **options}]
            for kind, settings in strengths.items() for options in settings]


def hydra_value(value) -> str:
    """A params value in the override grammar ``dvc exp run -S`` accepts (Hydra's, not JSON: keys unquoted).

    >>> hydra_value([{"kind": "class_removal", "classes": ["7"]}])
    '[{kind: class_removal, classes: ["7"]}]'
    """
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {hydra_value(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(hydra_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        # a bare word reads as a string; anything Hydra would read as a number, bool or null is quoted, and so
        # is a word beyond ASCII, which Hydra's lexer refuses bare ("café")
        bare = value.isascii() and value.isidentifier() and value.lower() not in ("true", "false", "null", "nan",
                                                                                   "inf")
        return value if bare else _quoted(value)
    return repr(value)


def _quoted(text: str) -> str:
    """``text`` as Hydra's quoted string: a backslash is itself except where backslashes run into a quote, an
    interpolation's ``${`` or the end, which Hydra reads as escapes, so those runs are doubled and a quote or ``${``
    escaped (JSON's escapes, ``\\u00e9`` and a doubled backslash everywhere, Hydra would keep as they are). Before, a
    class named ``${oc.env:HOME}`` was queued as the class ``/root``, and ``${x}`` stopped ``dvc exp run`` ("Interpolation
    key 'x' not found")."""
    return '"' + re.sub(r'(\\*)("|\$\{|$)', lambda m: m.group(1) * 2 + ("\\" + m.group(2) if m.group(2) else ""),
                        text) + '"'



def study_settings(sweeps: list[str], *, classes: list, colour: bool) -> list[list[dict]]:
    """The ``degrade.perturbations`` of every experiment of ``sweeps``, in order, each setting once.

    A point two sweeps share (strength and proportion at fraction 1) is one experiment: collect reads it onto both
    curves. Compared as values: before, the sweeps wrote {factor, fraction} and {fraction, factor}, two texts of one
    setting, and 9 experiments ran twice."""
    settings = {}
    for sweep in sweeps:
        for perturbations in sweep_perturbations(sweep, classes=classes, colour=colour):
            settings.setdefault(json.dumps(perturbations, sort_keys=True), perturbations)
    return list(settings.values())


def queue_commands(sweeps: list[str], *, classes: list, colour: bool) -> list[list[str]]:
    """``dvc exp run --queue -S degrade.perturbations=...`` argument lists, one per experiment of
    :func:`study_settings`, in order."""
    return [_queue_command(perturbations) for perturbations in study_settings(sweeps, classes=classes, colour=colour)]


def _queue_command(perturbations: list[dict]) -> list[str]:
    """The ``dvc exp run --queue`` argument list of one experiment of :func:`study_settings`."""
    return ["dvc", "exp", "run", "--queue", "-S", "degrade.enabled=true", "-S",
            f"degrade.perturbations={hydra_value(perturbations)}"]


def queue(args: argparse.Namespace) -> int:
    """``winnow study queue``: the chosen sweeps (:func:`queue_commands`) queued with ``dvc exp run --queue``, or
    printed with ``--dry-run``; when one fails, or SIGINT or SIGTERM asks to stop, those queued are removed again."""
    params = load_params()  # every experiment runs this params.yaml, perturbations replaced: a bad value fails them all
    _check_settable(params)
    # each dvc command it runs, and its own reads of DVC, import tqdm: before, under TQDM_POSITION=x the refusal was
    # read as "not a DVC project here" and the first `dvc exp run --queue` ended in tqdm's traceback
    check_progress_variables()
    args.sweeps = args.sweeps or list(SWEEPS)
    # dvc status once, where a check first needs it: before, each of the three checks that read data/ingest asked
    # again (three DVC index reads and status walks for --sweeps strength class_deletion --grayscale)
    current = functools.cache(_ingest_current)
    _check_queue_arguments(args, current=current)
    classes = deletable_classes(args.classes, current=current) if "class_deletion" in args.sweeps else []
    settings, refused = taken_by_the_images(study_settings(args.sweeps, classes=classes, colour=args.grayscale),
                                             current=current)
    if refused and not settings:  # before: exit 0, "queued 0 experiments; run them with `dvc exp run --run-all`"
        raise WinnowError(f"study queue: {refused}; nothing is left to queue: choose other --sweeps")
    if refused:
        _say(refused)
    commands = [_queue_command(perturbations) for perturbations in settings]  # queue_commands, settings kept
    # before: a second `study queue` (a rerun after an interruption, or a wider --sweeps) queued every experiment
    # again, each a full dvc repro, and collect then averaged the twins as two runs of one point. --dry-run leaves them
    # out too (before: it printed every experiment, those done included, not what the queue would run)
    try:
        shown = shown_experiments(repo=".", revs=None, num=1, where="study queue")
    except WinnowError:  # not a DVC project here: the first `dvc exp run` below fails and says why
        shown = []
    if not shown:  # nor is there a commit to queue on: before, `dvc exp run --queue` failed on "Empty git repo"
        check_committed(".", where="study queue", needs="dvc exp run has no commit to queue the experiments on")
    # the whole params, seed and training included: before, an experiment queued at seed 0 counted as queued for a
    # study at seed 5, and one that had run to the end did not count at all
    # and a run that ended counts only where it ran under the workspace's code and inputs (study_done)
    runs = planned_params(shown)
    wanted = [_with_perturbations(params, perturbations) for perturbations in settings]
    done, other_code = counted_as_done(runs, wanted)
    if other_code:  # why fewer count as done than ran
        _say(other_code)
    stale = queued_under_other_params(runs, wanted)
    planned = len(commands)
    commands = [command for command, run in zip(commands, wanted) if _setting(run) not in done]
    if not commands:  # before: "...; the commands of the rest" above none (--dry-run), or "queued 0 experiments"
        _say(f"the {planned} experiment(s) are all queued, running or done already (`dvc exp show`); nothing is left "
             "to queue: run those queued with `dvc exp run --run-all`, then `winnow study collect`")
        if stale:
            _say(stale)
        return 0
    if len(commands) < planned:
        _say(f"{planned - len(commands)} of the {planned} experiments are queued, running or done already (`dvc exp "
             f"show`); {'the commands of' if args.dry_run else 'queueing'} the rest")
    if stale:
        _say(stale)
    if args.dry_run:
        for command in commands:
            _say(shlex.join(command))
        return 0
    queued = []  # the names DVC gave the experiments queued so far, removed again if the study stops part way
    # a stop is taken between two experiments: one dvc command cut short left an experiment queued under a name
    # never read and DVC's lock file behind. Before, an interrupt left part of the study queued, exit 1
    stop = []
    handlers = {number: signal.signal(number, lambda number, _frame: stop.append(number))
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        for done, command in enumerate(commands, start=1):
            _say(shlex.join(command))
            try:  # its own session: a Ctrl-C reaches this process alone, which stops after the command
                result = subprocess.run(command, stdout=subprocess.PIPE, text=True, start_new_session=True)
            except FileNotFoundError as err:  # before: "dvc: No such file or directory; free space, or fix the path"
                raise WinnowError("study queue: the dvc command is not on PATH; install DVC (pip install dvc) or "
                                  "activate the environment that has it, then rerun") from err
            _say(result.stdout, end="")
            queued += re.findall(r"Queued experiment '([^']+)'", result.stdout)
            if result.returncode:
                raise WinnowError(f"study queue: `{shlex.join(command)}` failed with status {result.returncode}"
                                  f"{_unqueue(queued, before=True)}")
            if stop:  # after each command, the last one too: before, a stop asked for during it was lost, exit 0
                # status 130 or 143, as any interrupted command's (before: 1, a failure's)
                raise StoppedBySignal(f"study queue: interrupted ({signal.Signals(stop[0]).name}) after {done} of "
                                      f"{len(commands)} experiments{_unqueue(queued)}", number=stop[0])
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    _say(f"queued {len(commands)} experiments; run them with `dvc exp run --run-all`, then `winnow study collect`")
    return 0


# the keys each queued experiment sets (:func:`_queue_command`), and the value the degrade stage reads without them
SET_KEYS = {"enabled": "true", "perturbations": "[]"}


def _check_settable(params: dict) -> None:
    """Refuse a params.yaml whose ``degrade`` section lacks a key every queued experiment sets: ``dvc exp run -S`` sets
    only keys the file holds. Before: each ``dvc exp run --queue`` failed, DVC's "Invalid `--set-param` value: Could
    not override 'degrade.enabled'. To append to your config use +degrade.enabled=true" (an override study queue
    does not take), and ``--dry-run`` printed those commands, exit 0."""
    missing = [key for key in SET_KEYS if key not in params["degrade"]]
    if missing:
        keys = " and ".join(f"degrade.{key}" for key in missing)
        written = ", ".join(f"{key}: {SET_KEYS[key]}" for key in missing)
        raise WinnowError(f"study queue: params.yaml holds no {keys}, which each experiment sets with dvc exp run -S, "
                          f"and -S sets only keys the file holds; write {written} under degrade (the degrade stage's "
                          f"default{'s' if len(missing) > 1 else ''}: dvc repro runs as before)")


def _with_perturbations(params: dict, perturbations: list[dict]) -> dict:
    """``params`` as one queued experiment runs them: degrade enabled, its perturbations replaced."""
    degrade = {**(params.get("degrade") or {}), "enabled": True, "perturbations": perturbations}
    return {**params, "degrade": degrade}


def _setting(params: dict) -> str:
    """params as a comparable text: values as values (``0`` is ``0.0``), keys in any order."""
    return comparable(params)


def _unqueue(queued: list[str], *, before: bool = False) -> str:
    """Remove the experiments ``queued`` (by name, never ``--queued``: that would remove every queued experiment,
    the user's own ones too); what became of them, as the end of an error line."""
    if not queued:
        return ""
    removed = subprocess.run(["dvc", "queue", "remove", *queued], capture_output=True).returncode == 0
    which = f"the {len(queued)} queued{' before it' if before else ''}"
    return (f"; {which} were removed" if removed else
            f"; {which} are still queued: `{shlex.join(['dvc', 'queue', 'remove', *queued])}`")


def _say(text: str, *, end: str = "\n") -> None:
    print(text, end=end, flush=True)


def _check_queue_arguments(args: argparse.Namespace, *, current: Callable[[], bool]) -> None:
    """One line for arguments that would queue an experiment twice, one that degrade refuses, or nothing they
    say: each queued experiment is a full `dvc repro`. ``current``: whether data/ingest is what the workspace's
    params make (:func:`_ingest_current`)."""
    for option, given in (("--sweeps", args.sweeps), ("--classes", args.classes or [])):
        repeated = first_repeated(list(given))
        if repeated is not None:
            raise WinnowError(f"study queue {option}: {repeated} given twice; each queues its experiments once")
    read = [alike(name) for name in args.classes or []]  # as degrade reads them (before: two experiments, each a full
    if (twin := first_repeated(read)) is not None:  # dvc repro, deleting one class, where classes.json spelt neither)
        first, second = [name for name, each in zip(args.classes, read) if each == twin][:2]
        raise WinnowError(f"study queue --classes: {ascii(first)} and {ascii(second)} name one class (they differ only "
                          "in Unicode form or surrounding spaces); give it once")
    if args.classes and "class_deletion" not in args.sweeps:
        raise WinnowError("study queue --classes: only class_deletion reads it, and --sweeps leaves it out; add "
                          "class_deletion to --sweeps or drop --classes")
    if args.grayscale and "strength" not in args.sweeps:  # before: exit 0, and no grayscale conversion queued
        raise WinnowError("study queue --grayscale: only strength reads it, and --sweeps leaves it out; add strength to "
                          "--sweeps or drop --grayscale")
    images = Path(INGESTED_CLASSES).parent / "images.npy"
    # the images the queued runs take: before, those of an earlier ingest, and after ingest.source: cifar10 in
    # params.yaml --grayscale was refused on the MNIST images data/ingest still held, which no queued run reads
    if args.grayscale and images.is_file() and current():
        try:
            channels = np.load(images, mmap_mode="r").shape[-1]
        except (OSError, ValueError, IndexError):
            return  # a damaged imageset: the queued runs' ingest says so
        if channels == 1:
            raise WinnowError(f"study queue --grayscale: {images} holds 1-channel images, which are grayscale "
                              "already (degrade refuses the conversion); drop --grayscale")
        if train_grey(images):  # before: queued, and its degrade refused the conversion of images grey already
            raise WinnowError(f"study queue --grayscale: the train images of {images} are all grey already (channels "
                              "at most a grey level apart; degrade refuses the conversion); drop --grayscale")


def _ingest_current() -> bool:
    """Whether data/ingest is what the workspace's code, params and data make, as DVC tells
    (:func:`winnow.staleness.check_workspace_current`; a folder without dvc.yaml is read as it is)."""
    try:
        check_workspace_current(".", ["ingest"])
    except WinnowError:
        return False
    return True
