"""The sections of params.yaml that the library takes whole and its dataclasses define: ``train`` (and the
``train:`` overrides of confident_learn, embedding_clean and the judges), ``gan.train``, the augmentation
policies, ``represent.selfsup`` and ``represent.pretrained``. Their keys come from the dataclasses
(:class:`winnow.configs.TrainConfig`, :class:`~winnow.configs.GanConfig`, :class:`~winnow.configs.Policy`,
:class:`~winnow.configs.SelfSupConfig`, :class:`~winnow.configs.PretrainedConfig`): a field added there is a
parameter at once, typed by its annotation; their ranges are set here. :mod:`winnow.params` puts them in its
schema.
"""

from __future__ import annotations

from winnow.configs import (
    AUGMENT_CHOICES, FILLS, MODEL_NAMES, OPS, OPTIMIZERS, POLICY_KINDS, SCHEDULES, STREAM_MODES,
    GanConfig, Policy, PretrainedConfig, SelfSupConfig, TrainConfig,
)
from winnow.param_checks import judge_without_policy, ops_enough, policy_made
from winnow.param_rules import Choice, Device, ListOf, Num, Section, Text, fail, from_dataclass, show

# torch's thread pools: 100,000 threads segfaulted and 2**31 overflowed its C int; no CPU has 1,024 cores to use
MAX_THREADS = 1024

# a learning rate or decay above 1e6 is no setting anyone means, and past float32's range (1e39) the optimiser's
# step raised an overflow traceback where 1e30 already diverged to NaN and is refused in a line
# below 1e-12 a step moves no float32 weight (its spacing near 1 is 1.2e-7): lr 1e-300 trained nothing, without a word
LEARNING_RATE = Num(1e-12, 10**6)
DECAY = Num(0, 10**6)
# every training's epochs (train and its judges' overrides, gan.train, augment_search, data_valuation.tracin,
# represent.selfsup): before, 10**20 was accepted and a stage trained on until stopped; 1,000 is 50 times the default
# 20 (patience ends a run)
EPOCHS = Num(1, 1000, integer=True)
TRAIN_RANGES = {
    "model": Choice(MODEL_NAMES),
    "epochs": EPOCHS,
    "patience": Num(1, integer=True, null=True),
    "batch_size": Num(1, integer=True),
    "optimizer": Choice(OPTIMIZERS),
    "lr": LEARNING_RATE,
    "weight_decay": DECAY,
    "momentum": Num(0, 1, high_open=True),
    "schedule": Choice(SCHEDULES),
    "label_smoothing": Num(0, 1, high_open=True),
    "crop_padding": Num(0, integer=True),
    "device": Device(),
    "eval_batch_size": Num(1, integer=True),
    "threads": Num(1, MAX_THREADS, integer=True, null=True),
    "augment": Choice(AUGMENT_CHOICES),
    "stream": Choice(STREAM_MODES),
}
TRAIN_FIELDS = from_dataclass(TrainConfig, TRAIN_RANGES)
# confident_learn.train and embedding_clean.train: any of train's keys, overriding it for their models
TRAIN_OVERRIDES = Section(TRAIN_FIELDS, null=True, checks=(judge_without_policy,))
# the sections whose train keys override the train section's for their judge's model (each inherits the rest)
JUDGE_TRAININGS = (("represent", "judge"), ("confident_learn", "train"), ("embedding_clean", "train"))


def momentum_read(params: dict, path: str) -> None:
    """Refuse a ``momentum`` other than its default set where no training reads it: only sgd takes it (under every
    schedule: :func:`winnow.schedule.optimizer_and_schedule`). A judge's section that leaves momentum out takes the
    train section's. Before: train.momentum 0.5 (or 0) under adam trained exactly as 0.9 did, without a word."""
    train = params.get("train") or {}
    judges = [(".".join(keys), section) for keys in JUDGE_TRAININGS
              if isinstance(section := (params.get(keys[0]) or {}).get(keys[1]), dict)]

    def unread_by(section: dict) -> str | None:  # why a training of ``section`` (over train's keys) reads no momentum
        optimizer = section.get("optimizer", train.get("optimizer", TrainConfig.optimizer))
        if optimizer != "sgd":
            return (f"optimizer {optimizer} does not read it (only sgd does; adam and adamw keep their own first "
                    "moment); set momentum: 0.9, or optimizer: sgd")
        return None

    for where, section in [("train", train), *judges]:
        momentum = section.get("momentum", TrainConfig.momentum)
        if momentum == TrainConfig.momentum:
            continue
        why = unread_by(section)
        # the train section's momentum is read too by a judge that takes it and trains with sgd
        takers = [judge for _, judge in judges if "momentum" not in judge] if where == "train" else []
        if why is not None and all(unread_by(judge) is not None for judge in takers):
            fail(f"{where}.momentum", f"{show(momentum)}, but {why}")


GAN_TRAIN = Section(from_dataclass(GanConfig, {
    # both capped as represent.selfsup.width is: 10**18 overflowed torch's allocator into a traceback
    "latent_dim": Num(1, 4096, integer=True),
    "width": Num(1, 4096, integer=True),
    "epochs": EPOCHS,
    "batch_size": Num(2, integer=True),  # batch norm needs two images to normalise a batch
    "lr": LEARNING_RATE,
    "lr_d": LEARNING_RATE,
    "beta1": Num(0, 1, high_open=True),
    "ac_weight": Num(0, 1000),  # 1e300 made the losses NaN; 25 epochs on MNIST-5k are measured at 0-2
    "device": Device(),
}))
POLICY = Section(from_dataclass(Policy, {
    "ops": ListOf(Choice(OPS), min_len=1, unique=True),
    "n": Num(1, integer=True),
    "magnitude": Num(0, 1, low_open=True),
    "kind": Choice(POLICY_KINDS),
    "fill": Choice(FILLS),
}), checks=(ops_enough, policy_made), null=True)
SELFSUP = Section(from_dataclass(SelfSupConfig, {
    # before: unbounded (stop 68 bounded the others), and 10**20 trained SimCLR with no end, its cosine decay spread
    # over them; seconds is the wall-clock budget, not a reason for endless epochs
    "epochs": EPOCHS,
    "seconds": Num(0, low_open=True, null=True),
    "batch_size": Num(2, integer=True),  # NT-Xent needs another image in the batch to contrast with
    "temperature": Num(1e-3, 100),  # NT-Xent's logits are divided by it: 1e-300 made every embedding non-finite
    "lr": LEARNING_RATE,
    "weight_decay": DECAY,
    "width": Num(1, 4096, integer=True),  # 100,000 asked the CPU allocator for 720 GB
    "min_scale": Num(0, 1, low_open=True),
    "threads": Num(1, MAX_THREADS, integer=True, null=True),
    "device": Device(),
}), null=True)
PRETRAINED = Section(from_dataclass(PretrainedConfig, {
    "model": Text(null=True),
    "torchscript": Text(null=True, names_a_path=True),
    "path": Text(null=True, names_a_path=True),
    "input_size": Num(8, 2048, integer=True),  # 100,000 asked for 120 GB a batch
    # on pixels scaled to [0, 1] (ImageNet's 0.485 …): 123.675 on the 0-255 scale fed the model -2 everywhere
    "mean": ListOf(Num(0, 1), min_len=3, max_len=3),  # R, G, B
    "std": ListOf(Num(1e-3, 1), min_len=3, max_len=3),
    "batch_size": Num(1, integer=True),
    "device": Device(),
}), null=True)
