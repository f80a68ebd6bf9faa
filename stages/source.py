"""source: a fingerprint of what ingest reads (winnow.source_listing), written to data/source.json. DVC cannot
see a folder outside the project, or a bucket, change, so this stage always runs; ingest depends on its
output, so DVC reruns ingest when a file there was added, edited or deleted, and only then."""

from winnow.source_listing import fingerprint
from winnow.stage import check_outputs, load_params, run, write_json

OUT = "data/source.json"


def main() -> None:
    params = load_params()
    check_outputs(stage="source", files=[OUT])
    p = params["ingest"]
    listed = {"ingest.path": fingerprint(p["source"], p.get("path")),
              "ingest.trusted_path": fingerprint("imagefolder", p.get("trusted_path"), param="ingest.trusted_path")}
    write_json(OUT, listed)
    said = ", ".join(f"{key} {value['files']} file(s)" for key, value in listed.items() if "files" in value)
    print(f"source: {said or 'the embedded data set'} -> {OUT}")


if __name__ == "__main__":
    run(main)
