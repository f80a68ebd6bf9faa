"""source: a fingerprint of what ingest reads (winnow.source_listing), written to data/source.json. DVC cannot
see a folder outside the project, or a bucket, change, so this stage always runs; ingest depends on its
output, so DVC reruns ingest when a file there was added, edited or deleted, and only then. Where a path
cannot be read (a clone without the raw data, a backend not installed here) the last listing is kept
(the output persists), so a change after ingest (train.lr in an experiment) does not rerun and fail ingest."""

import json
from pathlib import Path

from winnow.source_listing import listing
from winnow.stage import check_outputs, load_params, run, write_json

OUT = "data/source.json"


def main() -> None:
    params = load_params()
    check_outputs(stage="source", files=[OUT])
    p = params["ingest"]
    try:
        last = json.loads(Path(OUT).read_text())
    except (OSError, ValueError):
        last = {}
    listed, said = listing(p), []
    for key, now in listed.items():
        kept = last.get(key) if isinstance(last, dict) else None
        if "unreadable" in now and isinstance(kept, dict) and "files" in kept:
            print(f"warning: source: {key} cannot be read here ({now['unreadable']}); kept its last listing, so "
                  "ingest does not rerun for it and its outputs stay those of the files it last read")
            now = listed[key] = kept
        said.append(f"{key} {now['files']} file(s)" if "files" in now else f"{key} unreadable" if "unreadable" in now
                    else f"{key} the embedded data set" if now else "")
    write_json(OUT, listed)
    print(f"source: {', '.join(filter(None, said))} -> {OUT}")


if __name__ == "__main__":
    run(main)
