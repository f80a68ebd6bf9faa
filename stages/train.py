"""train@<variant>: fit the configured model on one data set version; write models/<variant>.pt."""

import sys

from winnow.stage import load_params, run
from winnow.training import TrainConfig, fit, is_main_process, save
from winnow.variants import load_variant


def main() -> None:
    variant = sys.argv[1]
    params = load_params()
    config = TrainConfig.from_params(params["train"])
    train, val = load_variant(variant)
    trained = fit(train.images, train.labels, val.images, val.labels, config=config,
                  num_classes=len(train.classes), seed=params["seed"], log_dir=f"metrics/train/{variant}")
    if is_main_process():
        save(trained, f"models/{variant}.pt", classes=train.classes, image_shape=train.images.shape[1:])
        print(f"train@{variant}: {len(train)} images, {trained.stopped()}")


if __name__ == "__main__":
    run(main)
