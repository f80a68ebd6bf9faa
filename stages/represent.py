"""represent: one embedding per image of every split of data/degrade (train, val, test), from the source
chosen in params (selfsup | pretrained | file | judge), and how well it judges labels: a 10-NN cosine vote
of each val image among the train images with their given labels (knn_val_accuracy)."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

from pathlib import Path

import numpy as np

from winnow.cosine_index import backend_of, resolve
from winnow.engine import Engine
from winnow.errors import check_neighbour_count
from winnow.imageset import SOURCE_SPLITS, SPLITS, read_imageset
from winnow.metrics import unvalidated_classes
from winnow.file_rows import unchanged_in_place
from winnow.represent import MADE_FROM, embed_imageset, knn_val_accuracy, made_from, options
from winnow.represent_settings import MADE_AT, made_at
from winnow.schedule import patience_unreachable
from winnow.stage import atomic_path, check_outputs, load_params, run, together, write_json
from winnow.torch_runtime import pick_device

IMAGESET_IN = "data/degrade"
OUT = Path("data/represent")  # embeddings.npy: float32 (N, D), row i = ids.json[i] = manifest row i
MODEL_OUT = "models/represent.pt"  # selfsup / judge weights; for pretrained / file, where the features came from
METRICS_OUT = "metrics/represent.json"


def main() -> None:
    params = load_params()
    check_outputs(stage="represent", files=[OUT / "embeddings.npy", OUT / "ids.json", OUT / MADE_FROM, OUT / MADE_AT,
                                            MODEL_OUT, METRICS_OUT])
    opts = options(params.get("represent"), train=params.get("train"))
    # settings first, then files, as train: before, a device the host lacks (cuda:1 on a host of one GPU) was named
    # only as the model was built, after the images were read, and a missing imageset was named in its place
    device = {"selfsup": (opts.selfsup.device, "represent.selfsup.device"), "judge": (opts.judge.device,
              opts.judge.option("device")), "pretrained": (opts.pretrained.device, "represent.pretrained.device")}
    if opts.source in device:
        pick_device(device[opts.source][0], option=device[opts.source][1])
    data = read_imageset(IMAGESET_IN)
    # checked before the embedding is made: its vote could not use more neighbours than train images
    check_neighbour_count(opts.knn_k, int((data.manifest["split"] == "train").sum()), where="represent.knn_k",
                          among="train images")
    engine = Engine.from_params(params)
    engine.check_ready()  # before the model trains, not after
    resolve(backend_of(params))  # faiss asked for but missing: one line now, not after the training
    unstoppable = patience_unreachable(opts.judge) if opts.source == "judge" else None
    if unstoppable:  # before: a represent.judge.patience that could never fire ran every epoch without a word
        print(f"warning: represent: {unstoppable}", flush=True)
    # the judge keeps its epoch as train does, by val accuracy: before, train alone said val lacked a class
    split = data.manifest["split"].to_numpy()
    unseen = (unvalidated_classes(data.labels[split == "train"], data.labels[split == "val"], classes=data.classes)
              if opts.source == "judge" else None)
    if unseen:
        print(f"warning: represent: {unseen}", flush=True)
    # the weights, the features and their ids land as one: never one run's beside another's. The pixels are read from
    # the first trained batch to the last embedded one (minutes): an images.npy rewritten in place meanwhile (cp over
    # it) is refused before anything lands. Before, only the embedding pass was watched, and it begins after the
    # training: the features of the new images, from a model trained on the old, under the old ids, exit 0
    with together(), unchanged_in_place(data.images, engine=engine.kind):
        rep = embed_imageset(data, options=opts, seed=params["seed"], progress=True, model_out=MODEL_OUT,
                             engine=engine)
        splits = data.manifest["split"].to_numpy()
        # labels are read here, after the features exist: the vote measures the embedding, it never shapes it
        knn = knn_val_accuracy(rep.features, data.labels, splits, k=opts.knn_k, knn=backend_of(params))
        # every split embedded, the trusted one too when ingested (before: left out, so the counts summed
        # to fewer images than the embedding holds)
        counted = {s: int((splits == s).sum()) for s in SPLITS}
        metrics = {**rep.info, "images": {s: n for s, n in counted.items() if n or s in SOURCE_SPLITS},
                   "knn_k": opts.knn_k, "knn_val_accuracy": knn}
        with atomic_path(OUT / "embeddings.npy") as tmp:
            np.save(tmp, rep.features)
        write_json(OUT / "ids.json", rep.ids.tolist())
        # what the features were made from (and, for judge, the labels it learnt): the stages reading them refuse
        # them once data/degrade differs, as they are when run alone (`dvc repro -s`, or by hand) after a relabel
        write_json(OUT / MADE_FROM, made_from(data, source=opts.source))
        # and the settings they were made under (represent_settings.made_at): the readers refuse them once params.yaml
        # gives others, as they are when run alone after a params edit (before: the old source's features read as the
        # new one's, exit 0), and the sha256 of the user's file they were read from: a file rewritten in place since is
        # refused too (before: its old vectors read as the new file's)
        write_json(OUT / MADE_AT, made_at(params, sha256=rep.info.get("sha256")))
        write_json(METRICS_OUT, metrics)
    print(f"represent: {len(rep.ids)} images -> {rep.features.shape[1]}-d features from {opts.source} in "
          f"{rep.info['seconds']:.0f}s" + (_trained(rep.info) if rep.info["epochs"] else "")
          + ("" if knn is None else f"; {opts.knn_k}-NN vote right on {knn:.1%} of val images")
          # a user's features out of float32's comfortable range were stored times a power of two
          + ("" if rep.info.get("scale", 1.0) == 1.0 else f"; values stored times {rep.info['scale']:.3g} "
                                                           "(scale in metrics/represent.json)"))


def _trained(info: dict) -> str:
    """``, N epoch(s), loss X`` of the model that made the features: the judge's kept epoch's loss, named so where
    patience kept an earlier epoch than the last. Before: the last epoch's loss, of a model the judge had dropped."""
    kept = info.get("best_epoch", info["epochs"])
    return (f", {info['epochs']} epoch(s), loss {info['kept_loss']:.3f}"
            + ("" if kept == info["epochs"] else f" at the kept epoch {kept}"))


if __name__ == "__main__":
    run(main)
