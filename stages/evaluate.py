"""evaluate@<variant>: per-class metrics of models/<variant>.pt on the untouched test split, and its
prediction for every test image (what the merge gate pairs across revisions)."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import sys

import numpy as np
import pandas as pd

from winnow.augment_search import policy_for
from winnow.checkpoints import check_finite, load
from winnow.errors import WinnowError
from winnow.metrics import (
    TEST_SPLIT_KEY, digest_of_test_split, headline, metrics_path, not_learnt, per_class_table, predictions_path,
    predictions_table, recall_total, summarise, summary_path, tested_recalls,
)
from winnow.stage import check_outputs, load_params, run, together, write_json, write_table
from winnow.torch_runtime import pick_device
from winnow.training import TrainConfig, predict_proba, run_as
from winnow.variants import learnt_ids, load_test, val_ids, variant_argument


def main() -> None:
    params = load_params()
    variant = variant_argument(sys.argv[1:], stage="evaluate", variants=params["variants"])
    plots = f"plots/evaluate/{variant}"
    check_outputs(stage=f"evaluate@{variant}", files=[predictions_path(variant), summary_path(variant),
                                                      metrics_path(variant), f"{plots}/per_class.csv",
                                                      f"{plots}/confusion.csv"])
    config = TrainConfig.from_params(params["train"])
    # settings first, then files, as train: before, a device the host lacks was named only as the model loaded, after
    # the test split was read, and a missing model was named in its place
    pick_device(config.device, option=config.option("device"))
    test = load_test()
    if not len(test.labels):  # nothing to measure: every metric would be a made-up 0
        raise WinnowError(f"evaluate@{variant}: the test split of data/ingest holds no images, so nothing can be "
                          "measured; raise ingest.test_fraction or give the source test images, then dvc repro")
    # a model of other classes or in another order would have its indices read as this data's classes, one of other
    # train settings or seed scored as this configuration's, one that saw some of these images would be scored on
    # them, and one of the version's earlier rows scored as this version
    # on train.device (before: always auto, so train.device cpu was a GPU's numbers where one was visible, and a device
    # the machine lacks was not refused as train@<v> refuses it)
    trained, classes = load(f"models/{variant}.pt", device=config.device, classes=test.classes,
                            image_shape=test.images.shape[1:],
                            trained_as=(config, params["seed"], policy_for(params, config.augment)),
                            held_out=test.manifest["id"].to_numpy(), trained_on=lambda: learnt_ids(variant),
                            chose_on=val_ids)
    # in batches of train.eval_batch_size (on train.threads, streamed as train.stream says) as params.yaml gives it now,
    # not as the model was trained with (where and how fast, not what it learnt: load does not refuse it): before, the
    # checkpoint's, so lowering it after evaluate ran out of memory, then rerunning evaluate, ran out again at the old
    # size
    probabilities = predict_proba(run_as(trained, config), test.images)
    # argmax reads a row of NaN as class 0: plausible metrics of a model that predicts nothing
    check_finite(probabilities, test.manifest["id"].to_numpy(), path=f"models/{variant}.pt", what="test images")
    predicted = probabilities.argmax(1)
    summary = summarise(test.labels, predicted, classes=classes)
    table = per_class_table(test.labels, predicted, classes=classes)
    unmeasured = table.loc[table["support"] == 0, "class"].tolist()
    if unmeasured:  # their 0 is a convention (as scikit-learn's zero_division=0), not how the model does on them
        # precision too (before: the line named recall, F1 and accuracy alone), 0 where the model named them for an
        # image, each of another class, and left out of macro precision as the others are (winnow.metrics.summarise)
        named = int((table["support"].to_numpy() == 0)[predicted].sum())
        said = f" but that it named them for {named} test image(s) of other classes" if named else ""
        print(f"warning: evaluate@{variant}: class(es) {', '.join(map(repr, unmeasured))} have no test images: their "
              f"precision, recall, F1 and accuracy are written as 0, which says nothing of the model{said}, and left "
              "out of the macro averages; give the test split images of every class")
    if not_learnt(summary):  # before: a model naming one class for all 1,000 test images printed accuracy 0.1000
        # without a word, and the report shipped another version on its "gain" over it
        named = np.unique(predicted)
        only = f", naming {classes[named[0]]!r} for every one" if len(named) == 1 else ""
        recalls = tested_recalls(summary)
        print(f"warning: evaluate@{variant}: the model is right on {summary['accuracy']:.4f} of the test images{only}, "
              f"and its recalls of the {len(recalls)} test classes add up to {recall_total(recalls):.4f}: no more than "
              "naming one class for every image scores (1), so it has not learnt and the report gives no verdict "
              f"beside it; check train.lr, train.weight_decay and train.epochs, then rerun train@{variant}")
    names = pd.Series(classes)
    with together():  # all outputs or none: a failed write (a full disk) leaves the last run's
        write_table(predictions_path(variant),
                    predictions_table(test.manifest["id"].to_numpy(), test.labels, probabilities, classes=classes,
                                      digests=test.manifest["digest"].to_numpy()))
        # the test images measured, recorded: compare, run by hand without dvc.lock, checks them against data/ingest
        write_json(summary_path(variant), summary | {TEST_SPLIT_KEY: digest_of_test_split(test.manifest)})
        write_json(metrics_path(variant), headline(summary))
        write_table(f"{plots}/per_class.csv", table.round(4))
        write_table(f"{plots}/confusion.csv",
                    pd.DataFrame({"actual": names[test.labels].to_numpy(), "predicted": names[predicted].to_numpy()}))
    measured = table[table["support"] > 0]  # the weakest class is one the test split measured
    worst = measured.loc[measured["f1"].idxmin()]
    print(f"evaluate@{variant}: accuracy {summary['accuracy']:.4f}, macro F1 {summary['macro']['f1']:.4f}, "
          f"weakest class {worst['class']} (F1 {worst['f1']:.3f})")


if __name__ == "__main__":
    run(main, reads_arguments=True)
