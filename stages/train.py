"""train@<variant>: fit the configured model on one data set version; write models/<variant>.pt. With
train.augment, each batch is augmented on the fly by balance.policy (fixed) or by the policy the
augment-search stage chose (searched). Under contracts.mode enforce, a variant whose contract failed
(metrics/contracts/<variant>.json) is not trained."""

from winnow.stops import one_line_from_the_start

one_line_from_the_start()  # before the imports below, which take seconds: a Ctrl-C among them is one line too

import sys

import numpy as np

from winnow.augment_search import is_fixed, policy_for
from winnow.balance_checks import check_policy_changes
from winnow.checkpoints import save
from winnow.schedule import patience_unreachable
from winnow.contract_verdict import refuse_failed
from winnow.metrics import unvalidated_classes
from winnow.stage import check_outputs, load_params, run, together
from winnow.torch_runtime import distributed_setup, is_main_process, pick_device
from winnow.training import TrainConfig, fit
from winnow.built_on import check_built_on_pruned, check_made_of
from winnow.variants import WRITTEN_BY, load_variant, variant_argument


def main() -> None:
    params = load_params()
    variant = variant_argument(sys.argv[1:], stage="train", variants=params["variants"])
    refuse_failed(variant, params=params)  # contracts.mode enforce: a failed contract stops this training
    config = TrainConfig.from_params(params["train"])
    # settings first, then files, as balance: before, cuda:1 on a host of one GPU was named only after the variant's
    # files were read, and a missing one was named in its place
    pick_device(config.device, option=config.option("device"))
    policy = policy_for(params, config.augment)
    model_path, log_dir = f"models/{variant}.pt", f"metrics/train/{variant}"
    check_outputs(stage=f"train@{variant}", files=[model_path], folders=[log_dir])
    train, val = load_variant(variant)
    # balanced, augmented: pruned plus images, of pruned's rows and pixels now (not as when they were made), and of
    # their stage's settings, seed, policy, baseline model and data/ingest now (dvc repro -s train@balanced skips
    # balance, train@augmented gan-synthesize)
    if variant in WRITTEN_BY:
        check_built_on_pruned(variant, classes=train.classes)
        check_made_of(variant, params)
    # a policy too weak to move a pixel, refused as balance refuses its copies: before, "augment fixed", exit 0
    if policy is not None:
        check_policy_changes(train.images, policy, fixed=is_fixed(params, config.augment, policy), seed=params["seed"])
    unseen = unvalidated_classes(train.labels, val.labels, classes=train.classes)
    unstoppable = patience_unreachable(config)  # before: a patience that could never fire ran every epoch unsaid
    # rank 0's alone: fit has not set the process group up yet, where is_main_process() is every rank's (before: the
    # warning came once per torchrun rank)
    warnings = [line for line in (unseen, unstoppable) if line]
    if warnings and distributed_setup()[0] == 0:
        for line in warnings:
            print(f"warning: train@{variant}: {line}", flush=True)
    # the model and its training log (dvclive's, written epoch by epoch) replace the last run's together, or
    # not at all: an interrupted or failed run leaves the last complete pair
    with together() as outputs:
        trained = fit(train.images, train.labels, val.images, val.labels, config=config,
                      num_classes=len(train.classes), seed=params["seed"], log_dir=outputs.folder(log_dir),
                      policy=policy)
        if is_main_process():
            save(trained, model_path, classes=train.classes, image_shape=train.images.shape[1:],
                 seen=np.concatenate([train.manifest["id"].to_numpy(), val.manifest["id"].to_numpy()]),
                 labels=np.concatenate([train.labels, val.labels]),
                 digests=np.concatenate([train.manifest["digest"].to_numpy(str), val.manifest["digest"].to_numpy(str)]),
                 val=val.manifest["id"].to_numpy())
    if is_main_process():
        print(f"train@{variant}: {len(train)} images, augment {config.augment}")  # fit printed where it stopped


if __name__ == "__main__":
    run(main, reads_arguments=True, torchrun=True)
