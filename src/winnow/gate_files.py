"""The merge gate's metrics files (:mod:`winnow.gate`): the files params.yaml's ``gate.files`` matches, checked at every
revision gated before anything is compared.

- :func:`check_gated_files`: each pattern matches a file somewhere, a file its stage writes in another format than
  JSON, or writes text into, is refused as the pattern's fault, and every value of every file is a finite number
  (:func:`winnow.evaluated.metric_problems`);
- :func:`check_gated_files_everywhere`: a gated file held at one revision is held at every other, but for a variant's
  the gate does not pair and a stage's metrics new at the target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from winnow import markdown, revisions
from winnow.configs import VARIANTS
from winnow.errors import WinnowError
from winnow.evaluated import metric_problems, non_numbers
from winnow.gate_table import GateSettings
from winnow.metrics import METRICS_FILE, SUMMARY_FILE, TEST_SPLIT_KEY, metrics_path, variant_of


def check_gated_files(repo: str | Path, *, names: dict[str, list[str]], revs: dict[str, list[str]],
                      settings: GateSettings, text_at: Callable[[str, str], str | None]) -> dict[str, set[str]]:
    """Each revision's gated files (``names``, ``revs``: the revisions of each side as given and as resolved;
    ``text_at(rev, path)``: a file's text there, or None), once every ``gate.files`` pattern matches one somewhere
    and each holds finite numbers alone; one line otherwise."""
    problems, held = [], {}  # held: rev -> the gated files there
    for side in revs:
        for name, rev in zip(names[side], revs[side]):
            if rev in held:  # --base and --target one commit: its problems were named once (before: each twice)
                continue
            held[rev] = set(revisions.matching(repo, rev, list(settings.files)))
            problems += [problem for path in sorted(held[rev])
                         for problem in metric_problems(_measured(path, text_at(rev, path) or ""),
                                                        where=f"{path} at {name}")]
    matched = set().union(*held.values())
    unmatched = [p for p in settings.files if not any(revisions.matches(path, p) for path in matched)]
    at = ' or '.join(dict.fromkeys(n for runs in names.values() for n in runs))
    evaluated = next((metrics_path(v) for p in unmatched for v in VARIANTS if revisions.matches(metrics_path(v), p)),
                     None)
    # a variant's metrics where another variant's are held (one left out of params' variants) is the pattern's fault
    if evaluated is not None and not any(revisions.matching(repo, rev, [metrics_path(v) for v in VARIANTS])
                                         for rev in held):
        # no typo: no revision holds what evaluate writes (a pipeline never run or committed). Before: "correct the
        # pattern (..., e.g. metrics/evaluate/*.json)", the very pattern the params held
        raise WinnowError(f"gate.files: {', '.join(unmatched)} matches no file at {at}: no revision gated holds "
                          f"evaluate's metrics ({evaluated}, ...), which it gates; run the pipeline (dvc repro) and "
                          "commit its metrics at the base, then gate")
    if unmatched and revisions.WORKSPACE in held:
        _check_not_ignored(repo, unmatched, at=at, settings=settings)
    if unmatched:  # a typo would check nothing and pass; the base's typo is corrected at the base (settings.source)
        raise settings.refusal(f"{', '.join(unmatched)} matches no file at {at}; correct the pattern (gated files are "
                               "metrics JSON, e.g. metrics/evaluate/*.json)", key="files")
    for path in sorted(matched):  # before: "rerun the stage that writes them", which wrote them again, forever
        texts = [text_at(rev, path) or "" for rev in held if path in held[rev]]
        # a CSV or YAML its stage writes, "not valid JSON" at each revision: no rerun makes it JSON
        if PurePosixPath(path).suffix.lower() != ".json" and not any(map(_json, texts)):
            raise settings.refusal(f"{path} holds no JSON at any revision gated (its stage writes another format), "
                                   "and the gate reads metrics JSON alone; narrow the pattern to JSON files, e.g. "
                                   "metrics/evaluate/*.json", key="files")
        # evaluate writes numbers alone into its metrics and summary (winnow.metrics.summarise): a null or text there
        # is a value gone wrong, never its stage's format. Before: a variant new at the target, or --base and --target
        # one commit, held the file at one revision, "every revision gated", and the pattern was blamed, with
        # "narrow the pattern ..., e.g. metrics/evaluate/*.json", the pattern itself, as the fix
        written = "" if _evaluates(path) else non_numbers(texts)
        if written:
            raise settings.refusal(f"{path} holds {written} at every revision gated: its stage writes text, "
                                   "true/false, null or lists beside its numbers, so it is no metrics file to gate; "
                                   f"narrow the pattern to files of numbers, e.g. {_narrower(path)}", key="files")
    if problems:
        raise WinnowError("gated metrics are not all finite numbers: " + "; ".join(problems)
                          + " (rerun the stage that writes them and commit its outputs)")
    return held


def _check_not_ignored(repo: str | Path, unmatched: list[str], *, at: str, settings: GateSettings) -> None:
    """One line when a gate.files pattern of ``unmatched`` (matching no file either side reads) matches a file of the
    working tree that git ignores: no commit holds it, so the gate reads it at neither side (before: the workspace was
    globbed, and such a file was gated there alone); told "correct the pattern", the user would have typed it again."""
    ignored = revisions.matching_ignored(repo, unmatched)
    if not ignored:
        return
    path, why = ignored[0]
    source = f" (the gate takes its settings from {settings.source})" if settings.source else ""
    pattern = next(p for p in unmatched if revisions.matches(path, p))
    raise WinnowError(f"gate.files: {pattern} matches no file git holds at {at}: the workspace's {path} is ignored by "
                      f"git ({why}), so no commit holds it"
                      + (f" ({len(ignored) - 1} more ignored file(s) match)" if len(ignored) > 1 else "")
                      + f"; commit it (git add -f {path}; a DVC output: `cache: false` in dvc.yaml, as evaluate's "
                      f"metrics), or correct the pattern{source}")


def committable_text(repo: str | Path, rev: str, path: str, *, ignored: Callable[[str], str | None]) -> str | None:
    """:func:`winnow.revisions.read_text`, refused in one line for a workspace file git ignores and does not track: no
    commit of the workspace holds it, so the gate would pass what is not merged (before: a variant's predictions
    git-ignored in the workspace, a cached DVC output, were read from disk and gated; the commit then lacked them).
    ``ignored``: the run's :func:`winnow.revisions.ignored_rules`."""
    rule = ignored(path) if rev == revisions.WORKSPACE else None
    if rule is not None:
        raise WinnowError(f"{path} at workspace: ignored by git ({rule}) and not tracked, so no commit of the "
                          f"workspace holds it and the gate would judge a file it cannot merge; track it (git add -f "
                          f"{path}; a DVC output: `cache: false` in dvc.yaml, as evaluate's), then gate")
    return revisions.read_text(repo, rev, path)


def _measured(path: str, text: str) -> str:
    """``text``, a gated file's at ``path``, less evaluate's record of the test split it measured where ``path`` is a
    variant's summary and the record is the md5 evaluate writes (:data:`~winnow.metrics.TEST_SPLIT_KEY`): a record of
    which images, not a metric. Before: gate.files matching the summaries (metrics/evaluate/**/*.json) refused every
    revision evaluate had written, "test_split_digest = '3f...' ... rerun the stage that writes them", which wrote it
    again, forever. Any other value under the key (a hand edit) is left for :func:`metric_problems` to name."""
    if variant_of(path, SUMMARY_FILE) not in VARIANTS:
        return text
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return text
    record = data.get(TEST_SPLIT_KEY) if isinstance(data, dict) else None
    if not (isinstance(record, str) and re.fullmatch(r"[0-9a-f]{32}", record)):
        return text
    return json.dumps({key: value for key, value in data.items() if key != TEST_SPLIT_KEY})


def _evaluates(path: str) -> bool:
    """Whether ``path`` is a file evaluate writes numbers alone into: a variant's metrics or summary JSON. A variant's
    name alone (as :func:`check_gated_files_everywhere` reads it): before, any metrics/evaluate/<name>.json was
    evaluate's, and text another tool writes there (metrics/evaluate/calibration.json's method) was told "rerun the
    stage that writes them", which wrote it again, forever."""
    return any(variant_of(path, pattern) in VARIANTS for pattern in (METRICS_FILE, SUMMARY_FILE))


def _narrower(path: str) -> str:
    """A narrower gate.files pattern than one matching ``path``, a file of text beside its numbers: evaluate's
    metrics/evaluate/*.json, or where that matches ``path`` too (before: offered as the fix, it matched the file again),
    a variant's own file."""
    if not revisions.matches(path, METRICS_FILE.format(variant="*")):
        return METRICS_FILE.format(variant="*")
    return (f"{METRICS_FILE.format(variant=VARIANTS[1])}, one pattern per variant (or move {path} out of "
            f"{PurePosixPath(METRICS_FILE).parent}/, where evaluate writes its variants' metrics)")


def _json(text: str) -> bool:
    """Whether ``text`` parses as JSON."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def check_gated_files_everywhere(held: dict[str, set[str]], *, names: dict[str, list[str]],
                                 revs: dict[str, list[str]], gated: list[str], variants: set[str],
                                 settings: GateSettings) -> list[str]:
    """One line when a file ``gate.files`` matches at one revision gated is missing at another (``held``: each
    revision's gated files; ``names``, ``revs``: the revisions of each side as given and as resolved). before: each
    revision was checked against the files it held, and a gated file deleted at one passed. A file of a variant not
    ``gated`` (one new at the target, or left out by --variants; ``variants``: every one evaluated somewhere) may be
    at one side alone: a file is a variant's when its name less .json, or a folder above it, is the variant's. So
    may a file only a wildcard of ``settings.files`` matches that every target run holds and no base run: a stage's new
    metrics; returned as notes (before: refused, with advice to commit it at the base). The refusal names the revision
    whose params.yaml the patterns are (``settings.source``): before, "or take it out of gate.files" sent the user to
    the target's params.yaml, which the gate does not read, and the same line came back."""
    every = set().union(*held.values())
    # a variant's name, never any name evaluate's layout holds: before, a stray metrics/evaluate/metrics.json made
    # "metrics" a variant not gated, every file under metrics/ its own, and a gated file deleted at the target passed;
    # so did one at a base whose params.yaml lists no variants (``variants`` is then every name found there)
    named = {v for path in every for pattern in (METRICS_FILE, SUMMARY_FILE) if (v := variant_of(path, pattern))}
    ungated = ((variants | named) & set(VARIANTS)) - set(gated)
    required = sorted(path for path in every if not ungated & set(PurePosixPath(path).with_suffix("").parts))
    new = [path for path in required if path not in settings.files
           and not any(path in held[rev] for rev in revs["base"]) and all(path in held[rev] for rev in revs["target"])]
    at = [(name, rev) for side in revs for name, rev in zip(names[side], revs[side])]
    gone = [(path, name) for name, rev in at for path in required if path not in held[rev] and path not in new]
    if gone:
        path, name = gone[0]
        holder = next(other for other, rev in at if path in held[rev])
        source = (f" at {settings.source} (the gate takes its settings from {settings.source})" if settings.source
                  else "")
        raise WinnowError(f"{path} missing at {name} ({holder} holds it"
                          + (f"; {len(gone) - 1} more gated file(s) missing" if len(gone) > 1 else "")
                          + "): params.yaml gate.files gates it at every revision; rerun the stage that writes it and "
                          f"commit it at {name}, or take it out of gate.files{source}")
    label = {side: " + ".join(runs) for side, runs in names.items()}
    # the path as typed, never a line or markup of the comment (the change names it)
    return [f"{markdown.inline(path)}: new at {label['target']}, nothing at {label['base']} (checked at "
            f"{label['target']} only)" for path in new]
