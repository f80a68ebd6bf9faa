"""What ``winnow compare --out FILE`` writes: the markdown at FILE and, beside it, the runs' JSON
(``FILE`` with the suffix .json), checked before any work (:func:`check_arguments`) and written as one pair
(:func:`write_out`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from winnow.compare_runs import other_than_runs_json
from winnow.errors import WinnowError
from winnow.output_paths import check_output, not_a_regular_file
from winnow.project_outputs import project_file


def check_arguments(*, num: int, out: Path | None, from_json: str | None = None) -> None:
    """Refuse, before any work, what would otherwise go wrong late: a ``--num`` below 1 (dvc exp show takes
    it as no limit and reads the experiments of every commit, for minutes), or other than 1 beside
    ``--from-json`` (which it cannot limit), and an ``--out``, or the JSON written beside it, that is a folder
    (the final rename fails after the whole comparison ran), the ``--from-json`` input, or a name too long for
    the temporary it is written as, or an ``--out`` ending in ``.json`` (that JSON would replace the
    markdown)."""
    if num < 1:
        raise WinnowError(f"compare --num {num}: must be at least 1 (commits back from HEAD whose experiments "
                          "count); give e.g. --num 1")
    if from_json is not None and num != 1:  # before: ignored, and every run of the file compared
        raise WinnowError(f"compare --num {num}: reads the repository's commits, which --from-json replaces; drop "
                          "one of the two")
    check_output(out, option="--out", example="reports/compare-seeds.md")
    # the JSON beside it would be written over the markdown, which is lost; seeds.JSON's seeds.json too where names
    # ignore case (before: on macOS and Windows, no markdown anywhere, exit 0)
    if out and out.suffix.lower() == ".json":
        same = "the same file" if out.suffix == ".json" else "one file where names ignore case (macOS, Windows)"
        raise WinnowError(f"--out {out}: the runs' JSON is written beside the markdown as {out.with_suffix('.json')}, "
                          f"{same}; give a markdown path, e.g. --out reports/compare-seeds.md")
    if out and out.with_suffix(".json").is_dir():
        raise WinnowError(f"--out {out}: {out.with_suffix('.json')}, the JSON written beside it, is a folder; give a "
                          "file path, e.g. --out reports/compare-seeds.md")
    # before: --out metrics/budget.md replaced the budget stage's metrics/budget.json with the runs' JSON, exit 0
    beside = out.with_suffix(".json") if out else None
    if out and from_json not in (None, "-") and os.path.realpath(out) == os.path.realpath(from_json):
        raise WinnowError(f"--out {out}: is the --from-json input, which this would overwrite; give another path, "
                          "e.g. --out reports/compare-seeds.md")
    if beside and from_json not in (None, "-") and os.path.realpath(beside) == os.path.realpath(from_json):
        raise WinnowError(f"--out {out}: {beside}, the JSON written beside it, is the --from-json input, which this "
                          "would overwrite; give another path, e.g. --out reports/compare-seeds.md")
    taken = beside and (project_file(str(beside)) or not_a_regular_file(str(beside)) or other_than_runs_json(beside))
    if taken:
        raise WinnowError(f"--out {out}: {beside}, the JSON written beside it, is {taken}, which this would "
                          "overwrite; give another path, e.g. --out reports/compare-seeds.md")
    check_output(beside, option=f"--out {out}: the JSON beside it,")

    if out:  # the pair lands as one, its moves listed in the working folder first (write_out)
        from winnow.stage import check_journal_folder

        check_journal_folder("compare --out", command=True)


def write_out(out: Path, text: str, *, runs: list[str], variants: list[str]) -> None:
    """Write the markdown ``text`` at ``out`` and the ``runs`` and ``variants`` compared beside it (``out`` with the
    suffix .json) as one pair: both are renamed into place together, their moves listed in the working folder first
    (:func:`winnow.outputs.together`), so a run interrupted or killed between them is finished or undone (by the
    command's own tidying, or the next one run there), and a rename that fails gives both files back what they held.
    Before: two renames one after the other, and a Ctrl-C or a failed rename between them left the new runs' JSON
    beside the old markdown, which named other runs."""
    from winnow.stage import together, write_text

    with together():
        write_text(out, text)
        write_text(out.with_suffix(".json"), json.dumps({"runs": runs, "variants": variants}, indent=2) + "\n")
