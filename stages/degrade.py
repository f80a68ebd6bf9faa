"""degrade: inject the configured problems into the train split of data/ingest, write data/degrade
and its ground truth perturbations.parquet. With degrade.enabled false (a user's own data) the
output equals the input."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import numpy as np

from winnow.degrade import counts_by_kind, degrade, perturbation_table
from winnow.degrade_options import check_classes_learnt
from winnow.errors import WinnowError
from winnow.groundtruth import DEGRADE_METRICS, DUPLICATE_KINDS, LABEL_KINDS, LOG_NAME, REMOVAL_KINDS
from winnow.imageset import read_imageset, write_imageset
from winnow.stage import check_outputs, load_params, run, scratch_folder, together, write_json
from winnow.stage_reads import check_original_sizes, check_taught_classes

IN, OUT, METRICS = "data/ingest", "data/degrade", DEGRADE_METRICS


def main() -> None:
    params = load_params()
    check_outputs(stage="degrade", folders=[OUT], files=[METRICS])
    p = params["degrade"]
    source = read_imageset(IN)
    # the sizes it copies, checked as the score stage checks them: there, a bad one named degrade, whose rerun copied it
    check_original_sizes(source.manifest, path=f"{IN}/manifest.parquet", written_by="ingest")
    check_taught_classes(source.manifest, source.classes, path=f"{IN}/manifest.parquet", written_by="ingest")
    specs = p.get("perturbations") or []
    # the degraded images are written here a batch at a time and hard-linked into data/degrade: only the
    # damaged rows are ever in memory
    with scratch_folder(OUT) as work:
        degrade_and_write(params, source, specs, workdir=work)


def degrade_and_write(params: dict, source, specs: list[dict], *, workdir) -> None:
    """Damage ``source`` as ``specs`` say (its images file made in ``workdir``), refuse what no later stage
    could use, and write data/degrade and its metrics together."""
    p = params["degrade"]
    if p.get("enabled", True) and specs:
        degraded, log = degrade(source, perturbations=specs, disjoint=p.get("disjoint", True), seed=params["seed"],
                                workdir=workdir)
    else:
        degraded, log = source, perturbation_table([])
        print("degrade: nothing enabled (degrade.enabled is false or no perturbations), output equals input")
    learnt = np.unique(degraded.labels[degraded.manifest["split"].to_numpy() == "train"])
    had = set(np.unique(source.labels[source.manifest["split"].to_numpy() == "train"]).tolist())
    taken = _taken_by(source, log, had - set(learnt.tolist()))
    check_classes_learnt(learnt, classes=degraded.classes,
                         fewer=", or ".join(FEWER[group] for group in GROUPS if group in taken))
    _refuse_emptied_classes(source, set(learnt.tolist()), log, classes=degraded.classes)
    before = int((source.manifest["split"] == "train").sum())
    after = int((degraded.manifest["split"] == "train").sum())
    counts = counts_by_kind(log)
    with together():  # never damaged images beside another run's perturbation log or counts
        write_imageset(OUT, degraded.images, degraded.manifest, degraded.classes,
                       tables={LOG_NAME: log})
        # perturbed_images: every image the damage touched, removed ones (class_subsample, class_removal) too;
        # carrying: those still in data/degrade's train split, the images a detector could find
        train_ids = degraded.manifest.loc[degraded.manifest["split"] == "train", "id"]
        carrying = int(log["id"].drop_duplicates().isin(train_ids).sum())
        write_json(METRICS, {"train": {"before": before, "after": after},
                             "perturbed_images": int(log["id"].nunique()), "carrying_images": carrying,
                             "kind": counts})
    if len(log):
        print(f"degrade: train {before} -> {after} images; " + ", ".join(f"{k} {n}" for k, n in counts.items() if n))
    elif p.get("enabled", True) and specs:
        # each one's cause is the warning degrade printed for it: a keep, a ratio or a rate is no fraction
        why = ("a fraction that rounds to no image takes none" if all("fraction" in spec for spec in specs)
               else "each warning above says why")
        print(f"degrade: the {len(specs)} perturbation(s) took none of the {before} train images ({why}); output "
              "equals input")


GROUPS = ("removal", "label", "copy")
# what to do less of, by the group of kinds that took a class's last train images: before, a class whose images label
# noise had all relabelled, or overwriting copies had all replaced (a class of one image), was told "remove or subsample
# fewer", or "keep more", though nothing was removed
FEWER = {"removal": "remove or subsample fewer", "label": "relabel fewer",
         "copy": "overwrite fewer with copies (mode: add keeps the images copied over)"}
MORE = {"removal": "keep more", "label": "relabel fewer of its images",
        "copy": "overwrite fewer of its images with copies (mode: add keeps them)"}


def _taken_by(source, log, lost: set[int]) -> set[str]:
    """Which of :data:`GROUPS` of the perturbation table ``log`` took train images of the classes ``lost``: removed
    them, relabelled them, or wrote copies over them (an added copy takes none); the default "removal" where none."""
    labels = dict(zip(source.manifest["id"], source.labels.tolist()))
    took = set()
    for image, kind, original in zip(log["id"], log["kind"], log["original_label"]):
        group = ("removal" if kind in REMOVAL_KINDS else "label" if kind in LABEL_KINDS
                 else "copy" if kind in DUPLICATE_KINDS else None)
        if group is not None and (labels.get(image) if group == "removal" else original) in lost:
            took.add(group)
    return took or {"removal"}


def _refuse_emptied_classes(source, kept: set[int], log, *, classes: list[str]) -> None:
    """A class that had train images and keeps none (``kept``: the labels with train images after the
    damage), unless class_removal took them (``log``, the perturbation table): its zero would enter every
    macro average as if it were a result. class_subsample is no excuse: degrade refuses one that empties a
    class, and one that only thinned it must not cover for a later subsample that took the rest."""
    taken = log.loc[log["kind"] == "class_removal", "id"]
    named = set(source.labels[source.manifest["id"].isin(taken).to_numpy()].tolist())
    had = set(np.unique(source.labels[source.manifest["split"].to_numpy() == "train"]).tolist())
    emptied = [classes[i] for i in sorted(had - kept - named)]
    if emptied:
        more = ", ".join(MORE[group] for group in GROUPS if group in _taken_by(source, log, {classes.index(emptied[0])}))
        raise WinnowError(f"degrade.perturbations: class {emptied[0]!r} keeps no train image after the damage "
                          f"({len(emptied)} class(es) in all); {more}, or remove it on purpose with class_removal")


if __name__ == "__main__":
    run(main)
