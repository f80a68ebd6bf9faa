"""contracts: check the data contracts in contracts/*.yaml (Great Expectations suites) before anything trains.

The ingest suite on the ingested imageset and the scores suite on the quality scores (metrics/contracts.json,
Data Docs in reports/contracts/inputs/), then the variant suite on each version the variants stage wrote
(oracle, baseline, pruned) that params.yaml variants trains (metrics/contracts/<variant>.json, Data Docs in
reports/contracts/<variant>/; winnow.variant_contract). balance and gan-synthesize check the versions they
make themselves.

With contracts.mode enforce, a failure of the ingest or scores contract stops this stage with one line per
failed expectation, and with it every training; a failed contract of a variant named in
contracts.enforce_variants is printed here and stops that variant's training (train@<variant> refuses).
Every other failure (and every failure in warn mode) is printed as a warning."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

from pathlib import Path

from winnow.contract_tables import ingest_table
from winnow.contract_verdict import CHECKED_BY, DOCS, INPUT_SETTINGS, INPUT_SUITES, INPUTS, bounds_of, settings_of
from winnow.contracts import SUITES, SUITES_DIR, Batch, check_settings, validate
from winnow.errors import WinnowError
from winnow.file_ops import file_digests
from winnow.imageset import read_imageset
from winnow.judged_rows import check_pixels
from winnow.stage import check_journal_folder, load_params, run, together, write_json
from winnow.stage_reads import read_table
from winnow.variant_contract import (DATA_FILES, VariantContract, counts, print_failures, suite, summary_line,
                                     write_not_checked)

SCORES, DEGRADE, INGEST = Path("data/score/scores.parquet"), "data/degrade", Path("data/ingest")
CHECKED_HERE = [name for name, stage in CHECKED_BY.items() if stage == "contracts"]


def main() -> None:
    params = load_params()
    settings = check_settings(params.get("contracts"))
    # what the ingest and scores tables are made of, as read: train@<variant> refuses a pass of files rewritten since
    data_files = file_digests([INGEST / "classes.json", INGEST / "manifest.parquet", SCORES])
    # and what the variants' rates are made of, before the imagesets below are read (VariantContract.read's own reads
    # come after): before, taken after them, a data/degrade manifest rewritten in between was recorded as measured
    variant_files = file_digests(DATA_FILES)
    # its records land together, their moves listed first in the project folder: one that takes no new file failed
    # only after every suite ran (the one stage without check_outputs, its outputs many and found as it goes)
    check_journal_folder("contracts")
    ingested, degraded = read_imageset(INGEST), read_imageset(DEGRADE)
    # every suite and table read (and checked) before anything is written: a damaged one leaves nothing behind
    from_data = {"max_label": len(ingested.classes) - 1, "image_size": (params.get("ingest") or {}).get("size")}
    suites = [suite(name, settings["bounds"] | from_data) for name in INPUT_SUITES]
    warn_unchecked_suites()
    # one row per image of data/degrade (a repeated, missing or foreign row is one line here); the scores' values
    # are what the scores contract checks, so a NaN or one outside [0, 1] is its failure, warned or enforced
    scores = read_table(SCORES, written_by="score", columns=("id",), rows_of=(DEGRADE, degraded.manifest["id"]))
    # and of data/degrade's pixels now, as every other reader of the scores requires: before, after degrade changed
    # them under the same ids (dvc repro -s contracts), the scores suite passed the old pixels' scores
    check_pixels(scores, manifest=degraded.manifest, path=str(SCORES), written_by="score")
    contract = VariantContract.read(params, ingested=ingested, degraded=degraded, read_files=variant_files)
    rates = {name: contract.rates(name) for name in CHECKED_HERE if name in params["variants"]}
    with together():  # every record and its Data Docs land as one: never one verdict beside another run's
        failed = check_inputs(suites, settings=settings, ingested=ingested, scores=scores, data_files=data_files,
                              checked_under=settings_of(params, INPUT_SETTINGS))
        for name in CHECKED_HERE:
            if name in rates:
                contract.check(name, rates[name])
            else:
                write_not_checked(name, f"{name} is not in params.yaml variants")
    if failed and settings["mode"] == "enforce":  # after the records landed: they say why
        raise WinnowError(f"contracts: {len(failed)} contract failure(s) in enforce mode (lines above; "
                          f"Data Docs in {DOCS / 'inputs'}/index.html)")


def warn_unchecked_suites() -> None:
    """A warning naming each suite file in contracts/ that no stage checks: before, a contracts/labels.yaml (or
    an ingest.yml beside ingest.yaml) was never run, and nothing said so; nor was a labels.json, the form Great
    Expectations itself writes a suite in, whose rules passed unchecked, in a folder of its own (GX's
    expectations/) or with its suffix in capitals (labels.JSON)."""
    checked = [f"{SUITES_DIR}/{name}.yaml" for name in SUITES]
    # before: contracts/*.yaml, *.yml and *.json only, so contracts/expectations/labels.json (GX keeps its suites in
    # an expectations/ folder) and contracts/labels.JSON passed unchecked without a word
    suites = (p for p in Path(SUITES_DIR).rglob("*") if p.suffix.lower() in (".yaml", ".yml", ".json") and p.is_file())
    for path in sorted(suites):
        if path.as_posix() not in checked:
            print(f"warning: contracts: {path.as_posix()} is not checked: only {', '.join(checked)} are run; "
                  "move its expectations into one of them")


def check_inputs(suites: list, *, settings: dict, ingested, scores, data_files: dict, checked_under: dict) -> list[str]:
    """The ingest and scores contracts (params.yaml has checked that every enforced variant gets trained);
    ``data_files``: the sha256 of the files they were read from, by path, and ``checked_under``: the params.yaml
    settings their bounds were taken from besides contracts (ingest.size), for the record. Returns the failures, one
    line each."""
    batches = [Batch(suites[0], "ingest", ingest_table(ingested.manifest, image_shape=ingested.images.shape,
                                                       num_classes=len(ingested.classes))),
               Batch(suites[1], "scores", scores)]
    docs = DOCS / "inputs"
    results = validate(batches, docs_dir=docs)
    write_json(INPUTS, {"mode": settings["mode"], "enforce_variants": settings["enforce_variants"],
                         "bounds": bounds_of(settings), "settings": checked_under,
                         "suite_files": file_digests(s.path for s in suites),
                         "data_files": data_files,
                         "suites": {s.name: counts(results, suite=s.name) for s in suites}})
    print(summary_line(results, tables=[batch.table for batch in batches]))
    failed = [r.line() for r in results if not r.success]
    print_failures(failed, enforced=settings["mode"] == "enforce")
    return failed


if __name__ == "__main__":
    run(main)
