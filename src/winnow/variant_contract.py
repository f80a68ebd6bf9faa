"""The variant contract (contracts/variant.yaml) on one training variant, checked where the variant is made.

The variants stage's versions (oracle, baseline, pruned) are checked by the ``contracts`` stage beside the
ingest and scores suites, balanced by ``balance`` and augmented by ``gan-synthesize``, each right after it is
written: one Great Expectations import per process instead of one stage and one import per variant. Each
check writes ``metrics/contracts/<variant>.json`` and Data Docs in ``reports/contracts/<variant>/``; a failed
expectation never stops its stage (a bad suite file or input does, before anything is written), and
``train@<variant>`` reads the verdict (:func:`winnow.contract_verdict.refuse_failed`), so
under ``contracts.mode: enforce`` a failed contract stops exactly the training of a variant named in
``contracts.enforce_variants``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from winnow.contract_tables import measurements, variant_table, with_digests
from winnow.contract_verdict import DOCS, METRICS, VARIANT_SETTINGS, bounds_of, rows_fingerprint, settings_of
from winnow.contracts import SUITES_DIR, Batch, Suite, check_settings, load_suite, validate
from winnow.errors import WinnowError
from winnow.decided_at import ISSUES_KEPT, check_decided_at
from winnow.file_ops import file_digests
from winnow.flag_cuts import check_cut, check_grouped_at
from winnow.gx_import import import_gx
from winnow.imageset import ImageSet, read_imageset
from winnow.judged_rows import check_given_labels, check_grouped, check_pixels
from winnow.stage import write_json
from winnow.stage_reads import read_table
from winnow.stand_ins import write_skipped
from winnow.origin_checks import DEGRADE
from winnow.variants import read_rows

VARIANTS = Path("data/variants")
# what the rates need of each cleaner's output: (file, the stage writing it, the columns measurements reads)
CLEANER_OUTPUTS = {"flags": (Path("data/threshold/flags.parquet"), "threshold", ("id", "any")),
                   "groups": (Path("data/dedup/groups.parquet"), "dedup", ("id", "group", "split")),
                   "label_issues": (Path("data/confident-learn/label_issues.parquet"), "confident-learn",
                                    ("id", "given_label", "is_issue"))}
# what each must hold in every row: before, a null flag or group was read as an image not measured, so 6 flagged train
# images with their flag emptied left the flagged-image rate at 0 and the contract passed; text "False" was flagged
CHECKED = {"flags": {"flags": True}, "groups": {"complete": ("group",)}, "label_issues": {"booleans": ("is_issue",)}}
# the files the rates are computed from besides the variant's own: a verdict records their sha256, and train@<variant>
# refuses a pass of files rewritten since (the manifests hold each image's pixel digest)
DATA_FILES = (Path("data/ingest/classes.json"), Path("data/ingest/manifest.parquet"),
              Path(DEGRADE) / "manifest.parquet", *(path for path, _, _ in CLEANER_OUTPUTS.values()))
# the cleaner outputs of one row per image of data/degrade (label_issues: one per train image confident-learn judged)
PER_IMAGE = ("flags", "groups")
# the rules a variant suite may hold: on its one row, a null (a rate not measured) fails them, where
# expect_column_values_to_be_between or expect_column_sum_to_be_between passed it
VARIANT_TYPES = ("expect_column_max_to_be_between", "expect_column_min_to_be_between")


def suite(name: str, parameters: dict):
    """contracts/<name>.yaml with its bounds filled in; each expectation left out (null bound) is printed."""
    loaded = load_suite(f"{SUITES_DIR}/{name}.yaml", parameters=parameters)
    for line in loaded.left_out:
        print(f"contracts: {line}")
    return loaded


def counts(results, *, suite: str) -> dict:
    """passed / failed counts of one suite, and its failure lines (what a reader needs without Data Docs)."""
    mine = [r for r in results if r.suite == suite]
    return {"passed": sum(r.success for r in mine), "failed": sum(not r.success for r in mine),
            "failures": [r.line() for r in mine if not r.success]}


def summary_line(results, *, tables: list[str]) -> str:
    """``contracts: <table> passed/checked, ...`` over ``tables``; one that no expectation was checked on (each
    left out, its bound null) says so: before, the line was a bare ``contracts: ``."""
    parts = []
    for table in tables:
        mine = [r for r in results if r.table == table]
        parts.append(f"{table} {sum(r.success for r in mine)}/{len(mine)} passed" if mine
                     else f"{table}: no expectation checked")
    return "contracts: " + ", ".join(parts)


def print_failures(lines: list[str], *, enforced: bool) -> None:
    """Each failed expectation's line: a ``contract failed:`` line on stderr where the contract is enforced,
    else a warning."""
    for line in lines:
        if enforced:
            print(f"contract failed: {line}", file=sys.stderr)
        else:
            print(f"warning: {line}")


@dataclass(frozen=True)
class VariantContract:
    """The variant suite with everything a variant's rates are measured against, read (and checked) before a
    stage writes anything: a damaged suite file or cleaner output stops it with nothing left behind.

    Attributes:
        settings: params.yaml ``contracts``, checked; suite: contracts/variant.yaml, its bounds filled in.
        num_classes: the ingested classes; imagesets: data/ingest and data/degrade (origin -> imageset), whose
            manifests give the pixel digests and against which a variant's rows read from disk are checked;
        measured: what the cleaners measured (:func:`winnow.contract_tables.measurements`; a cleaner that did
            not run counts as not measured, and so do threshold's flags when ``threshold.issues`` lists no issue).
        data_files: the sha256 of each of :data:`DATA_FILES` as read (None: missing), which each verdict records.
        checked_under: the params.yaml settings besides contracts that the rates depend on (threshold.issues), which
            each verdict records too.
    """

    settings: dict
    suite: Suite
    num_classes: int
    imagesets: dict[str, ImageSet]
    measured: pd.DataFrame
    data_files: dict
    checked_under: dict

    @classmethod
    def read(cls, params: dict, *, ingested: ImageSet | None = None, degraded: ImageSet | None = None,
             read_files: dict | None = None) -> VariantContract:
        """``ingested``, ``degraded``: data/ingest and data/degrade as the caller read them, and then ``read_files``:
        the sha256 of :data:`DATA_FILES` it took before (:func:`winnow.file_ops.file_digests`), which the verdicts
        record. Before, they were taken here, after the caller's reads: a manifest rewritten in between (degrade
        rerun meanwhile) was recorded as the one the rates were measured on, and train@<variant> passed on it.

        Raises WinnowError: a bad suite file, a missing imageset, a damaged cleaner output or a Great Expectations
        that cannot be imported (one line): flags and groups must hold one row per image of data/degrade,
        label_issues one per image it judged (a repeated row would make an image's measurement one of two)."""
        if (ingested is not None or degraded is not None) and read_files is None:
            raise TypeError("VariantContract.read: imagesets read by the caller need read_files, taken before")
        settings = check_settings(params.get("contracts"))
        loaded = suite("variant", settings["bounds"])
        if settings["mode"] == "enforce" and settings["enforce_variants"] and not loaded.expectations:
            # it passed with 0 of 0 checks, and the enforced variant trained
            raise WinnowError(f"contracts: {', '.join(settings['enforce_variants'])} enforced, but every expectation "
                              f"of {loaded.path} was left out (contracts.bounds null or missing), so the contract "
                              "checks nothing; set contracts.bounds, or empty contracts.enforce_variants")
        other = next((e for e in loaded.expectations if e["type"] not in VARIANT_TYPES), None)
        if other is not None:  # a rate not measured is null: a per-row or sum rule skips it and passed unmeasured
            raise WinnowError(f"{loaded.path}: {other['description']} ({other['type']}): a variant is one row whose "
                              "rate not measured is null, which only a column max or min rule fails; use "
                              f"{' or '.join(VARIANT_TYPES)}")
        # before the files are read: one rewritten meanwhile is no pass
        data_files = file_digests(DATA_FILES) if read_files is None else read_files
        ingested = read_imageset("data/ingest") if ingested is None else ingested
        degraded = read_imageset(DEGRADE) if degraded is None else degraded
        ids = degraded.manifest["id"]
        # label_issues, of some images: one row an id of data/degrade's (before, one it lacks was measured, then
        # called "other pixels ... nan now" by check_pixels)
        found = {key: read_table(path, written_by=stage, columns=columns, missing_ok=True,
                                 **({"rows_of": (DEGRADE, ids)} if key in PER_IMAGE
                                    else {"unique": "id", "ids_of": (DEGRADE, ids)}), **CHECKED[key])
                 for key, (path, stage, columns) in CLEANER_OUTPUTS.items()}
        for key, table in found.items():
            if table is None:
                print(f"contracts: {CLEANER_OUTPUTS[key][0]} not found; what it measures counts as not measured")
            elif key == "groups":  # of other splits: the leak rates would be of another data version too (the
                # labels they are not measured by: a redraw of degrade's label noise leaves every rate as it was)
                check_grouped(table, manifest=degraded.manifest, path=str(CLEANER_OUTPUTS[key][0]), by=("split",))
                check_grouped_at(table, params=params, path=str(CLEANER_OUTPUTS[key][0]))
            else:  # measured on other pixels than data/degrade's now: the rates would be of another data version
                if key == "label_issues":  # or judged under other labels (degrade's label noise drawn anew)
                    check_given_labels(table, manifest=degraded.manifest, path=str(CLEANER_OUTPUTS[key][0]),
                                       written_by=CLEANER_OUTPUTS[key][1])
                    # or settings: before, issues found under filter_by both measured the rate prune_by_class gives
                    check_decided_at(table, cleaner="confident_learn", params=params, ignoring=ISSUES_KEPT,
                                     path=str(CLEANER_OUTPUTS[key][0]), written_by=CLEANER_OUTPUTS[key][1])
                check_pixels(table, manifest=degraded.manifest, path=str(CLEANER_OUTPUTS[key][0]),
                             written_by=CLEANER_OUTPUTS[key][1])
        issues = (params.get("threshold") or {}).get("issues")
        if found["flags"] is not None and issues:  # cut by the issues read below (and the other settings that move the
            # cuts): flags of other issues measure other damage. None listed: the flags are not read at all (below), and before, flags cut by the issues listed
            # then were refused, though threshold rerun would change no rate
            check_cut(found["flags"], params=params, path=str(CLEANER_OUTPUTS["flags"][0]))
        if found["flags"] is not None and not issues:
            # every issue left out: the flags are all False because nothing was examined, and the flagged-image
            # rate passed at 0.0, where a rate nobody measured fails
            found["flags"] = None
            # and what turns the failure off, where one follows: under enforce it stopped the training of a set
            # whose issues were left out on purpose, and neither rerunning threshold nor the line said what would do
            if settings["bounds"]["max_flagged_rate"] is not None:
                print("contracts: threshold.issues lists no issue, so no image was examined for quality; the "
                      "flagged-image rate counts as not measured and fails its rule (set "
                      "contracts.bounds.max_flagged_rate null to leave that rule out)")
        # the seconds-long import too: before, a broken install was a traceback at the check, in balance after all
        # its augmentation work
        import_gx()
        return cls(settings, loaded, len(ingested.classes), {"ingest": ingested, "degrade": degraded},
                   measurements(degraded.manifest, **found),
                   data_files, settings_of(params, VARIANT_SETTINGS))

    def rates(self, name: str, *, rows: pd.DataFrame | None = None, extra: ImageSet | None = None) -> pd.DataFrame:
        """The one-row table the suite checks for ``data/variants/<name>`` (its rates over the kept train
        images). ``rows`` and ``extra`` (its manifest with digests): the variant as its stage writes it,
        inside :func:`~winnow.outputs.together` (its files land with the contract's record, so they are not in
        place yet); otherwise they are read. Raises WinnowError: the variant's rows are missing or damaged."""
        manifests = {origin: imageset.manifest for origin, imageset in self.imagesets.items()}
        if rows is None:
            # checked against the data as training reads them (variants.read_rows): before, rows of another degrade
            # over the same ids (its seed changed, only degrade reran) were measured and their verdict written
            rows = read_rows(name, num_classes=self.num_classes, imagesets=self.imagesets)
            if (VARIANTS / name / "extra").is_dir():
                manifests["extra"] = read_imageset(VARIANTS / name / "extra").manifest
        elif extra is not None:
            manifests["extra"] = extra.manifest
        # the rows it was checked on travel with the verdict: train@<name> refuses a pass of other rows
        return variant_table(name, with_digests(rows, manifests=manifests), measured=self.measured,
                             num_classes=self.num_classes).assign(rows=rows_fingerprint(rows))

    def check(self, name: str, rates: pd.DataFrame) -> dict:
        """Check the suite on ``rates`` (:meth:`rates`) of variant ``name``.

        Writes ``metrics/contracts/<name>.json`` and the Data Docs; prints the summary, and each failure as a
        warning (not enforced) or as a ``contract failed:`` line on stderr (enforced: train@<name> will
        refuse). Returns the metrics written.
        """
        folder, verdict = outputs(name)
        results = validate([Batch(self.suite, name, rates)], docs_dir=folder)
        enforced = self.settings["mode"] == "enforce" and name in self.settings["enforce_variants"]
        written = {"variant": name, "mode": self.settings["mode"], "enforced": enforced,
                   "bounds": bounds_of(self.settings), "settings": self.checked_under,
                   "suite_files": file_digests([self.suite.path]),
                   "data_files": self.data_files,
                   **counts(results, suite="variant"),
                   **{key: None if pd.isna(value) else value for key, value in rates.iloc[0].drop("variant").items()}}
        write_json(verdict, written)
        print(summary_line(results, tables=[name]))
        print_failures(written["failures"], enforced=enforced)
        if enforced and written["failures"]:
            print(f"contracts: {name}'s contract failed under enforce: train@{name} will refuse to train it",
                  file=sys.stderr)
        return written


def outputs(name: str) -> tuple[Path, Path]:
    """(Data Docs folder, verdict file) that variant ``name``'s check writes: what balance and gan-synthesize
    check for their own variant before their work."""
    return DOCS / name, METRICS / f"{name}.json"


def write_not_checked(name: str, reason: str) -> None:
    """Stand-ins for a variant nobody trains: its metrics say ``{"skipped": reason}``, its Data Docs folder
    holds only skipped.txt."""
    folder, verdict = outputs(name)
    write_skipped(reason, folders=[folder])
    write_json(verdict, {"skipped": reason})
