"""The Data Docs site of the contracts' validations (:func:`winnow.contracts.validate` builds it): replaced as one
folder, a page Great Expectations could not render one line instead of a page silently missing, and the same bytes
for the same data (the folder is a DVC output)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from winnow.errors import WinnowError
from winnow.outputs import atomic_folder

_BUILD_STAMP = re.compile(r"\?d=\d{8}T\d{6}\.\d+Z")
_RUN_TIME = "19700101T000000.000000Z"  # validate's fixed run time, GX's folder name for the run
_CLOCK_TIME = re.compile(r"(?!" + re.escape(_RUN_TIME) + r")\d{8}T\d{6}\.\d+Z")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def build_docs(context, docs_dir: Path) -> None:
    # replaced as one folder (with the stage's other outputs, inside winnow.outputs.together): a kill between
    # removing the old docs and renaming the new ones had left neither
    with atomic_folder(docs_dir) as staging:
        context.add_data_docs_site("winnow", {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(staging.resolve())},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
        with render_errors() as (pages, parts):
            try:
                context.build_data_docs(site_names=["winnow"])
            except OSError as err:
                if err.filename is None:  # GX's copy of its static files names none: "File too large", but which?
                    raise OSError(err.errno, err.strerror or str(err), str(docs_dir)) from err
                raise
        if pages:
            raise WinnowError(f"contracts: Great Expectations could not render {len(pages)} Data Docs page(s) of "
                              f"{docs_dir} (first: {pages[0]}); none of them is written: fix that, then rerun")
        if parts:  # a cell or block of a page GX drew with a placeholder instead
            print(f"warning: contracts: Great Expectations could not render {len(parts)} part(s) of the Data Docs "
                  f"pages of {docs_dir} (first: {parts[0]}); the pages show a placeholder there")
        for page in staging.rglob("*.html"):
            page.write_text(same_data_same_page(page.read_text()))


def store_verdicts(store, before: set, outcome, successes: list[bool]) -> None:
    """Store ``outcome`` (a GX suite validation result, stored by its run under the one key of ``store`` not among
    the keys it held ``before``) once more with each rule's success as winnow judged it (``successes``, bool, one per
    ``outcome.results`` in order), and the suite's success and statistics to match: the Data Docs pages are rendered
    from the stored result; the store is listed only then. Before, a rule GX passed and winnow fails (a row_condition
    that selects no row, a column without a value) showed a green "Succeeded" page beside a failed verdict, the page a
    failed enforce told the user to open."""
    if [bool(result.success) for result in outcome.results] == successes:
        return
    for result, success in zip(outcome.results, successes):
        result.success = success
    passed = sum(successes)
    outcome.success = passed == len(successes)
    outcome.statistics.update(successful_expectations=passed, unsuccessful_expectations=len(successes) - passed,
                              success_percent=100 * passed / len(successes))
    (key,) = set(store.list_keys()) - before
    store.set(key, outcome)


@contextmanager
def render_errors() -> Iterator[tuple[list[str], list[str]]]:
    """(pages, parts): the errors GX logs while it builds Data Docs, each as ``Type: "message"``, of a whole page (its
    site builders') and of a part of one (a content block, which GX draws with a placeholder). GX catches an
    exception rendering or writing a page (a full disk), logs it with its traceback and goes on: the docs lacked
    pages without a word to the stage, and the log's tracebacks came before the stage's own line."""
    import logging

    pages: list[str] = []
    parts: list[str] = []

    class Kept(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            found = _RENDER_ERROR.search(text)
            page = record.name.endswith((".site_builder", ".site_index_page_renderer"))
            (pages if page else parts).append(found.group(1) if found else (text.strip().splitlines() or ["?"])[0])

    gx_logger = logging.getLogger("great_expectations")
    kept, propagated = Kept(logging.ERROR), gx_logger.propagate
    gx_logger.addHandler(kept)
    gx_logger.propagate = False
    try:
        yield pages, parts
    finally:
        gx_logger.removeHandler(kept)
        gx_logger.propagate = propagated


_RENDER_ERROR = re.compile(r'Detailed information follows:\s*(\w+: ".*?")\.  Traceback', re.DOTALL)


def same_data_same_page(page: str) -> str:
    """A Data Docs page without what changes from run to run on the same data, so the folder (a DVC output)
    has the same bytes: GX stamps the build time on a logo URL and the batch's load time in a table
    (shown as –: when it ran is in DVC's and git's history), and gives each collapsible block a random
    uuid4 (numbered in order of appearance here, each anchor still matching its block)."""
    page = _CLOCK_TIME.sub("–", _BUILD_STAMP.sub("", page))
    numbers: dict[str, str] = {}
    return _UUID.sub(lambda found: numbers.setdefault(found.group(), f"block{len(numbers)}"), page)
