"""Model checkpoints: :func:`save` writes a :class:`winnow.training.Trained` with everything :func:`load` needs
to use it again (its class names, image shape, the hashed ids of the images it saw, :func:`id_hashes`, and its
seed), and :func:`load` reads one back or names the stage to rerun."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from winnow.configs import Policy, TrainConfig
from winnow.errors import named_in_brackets, out_of_memory
from winnow.models import build_model
from winnow.stage import write_torch
from winnow.torch_runtime import pick_device
from winnow.training import STEP_SETTINGS, Trained


def save(trained: Trained, path: str | os.PathLike, *, classes: list[str], image_shape: tuple[int, ...],
         seen: np.ndarray, labels: np.ndarray | None = None, digests: np.ndarray | None = None,
         val: np.ndarray | None = None) -> None:
    """Write weights plus everything :func:`load` needs, atomically. ``seen``: the ids ``(N,)`` of the images the
    model learnt from or chose its epoch on (train and val), kept as :func:`id_hashes`, so that a test split holding
    one of them is refused where the model is scored (:func:`load`'s ``held_out``); ``labels``: their labels ``(N,)``,
    kept with the ids as ``learnt`` (:func:`labelled_hashes`), so that a row relabelled since is refused too
    (:func:`load`'s ``trained_on``); ``digests``: their pixel digests ``(N,)`` (:func:`winnow.imageset.pixel_digest`),
    kept with the ids as ``pixels``, so that an image whose pixels changed since (an imageset written anew under the
    same ids and labels) is refused too; ``val``: the ids ``(V,)`` among ``seen`` it chose its epoch on and did not
    learn from, kept as ``chose_on`` (:func:`id_hashes`), so that images moved between train and val since are
    refused too (:func:`load`'s ``chose_on``)."""
    learnt = {} if labels is None else {"learnt": torch.from_numpy(np.unique(labelled_hashes(seen, labels)))}
    if digests is not None:
        learnt["pixels"] = torch.from_numpy(np.unique(labelled_hashes(seen, digests)))
    if val is not None:
        learnt["chose_on"] = torch.from_numpy(np.unique(id_hashes(val)))
    write_torch(path, {**learnt,
        "state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
        "config": asdict(trained.config), "mean": trained.mean, "std": trained.std, "classes": classes,
        "image_shape": list(image_shape), "history": trained.history, "best_epoch": trained.best_epoch,
        "seen": torch.from_numpy(np.unique(id_hashes(seen))), "seed": trained.seed,
        "policy": None if trained.policy is None else asdict(trained.policy),
    })


def id_hashes(ids: np.ndarray) -> np.ndarray:
    """int64 ``(N,)``: a 64-bit hash of each image id of ``ids`` ``(N,)`` (written as a string), in order; two ids of
    one data set share one with odds of about N^2 / 2^64."""
    import pandas as pd

    return pd.util.hash_pandas_object(pd.Series(np.asarray(ids).astype(str)), index=False).to_numpy().view(np.int64)


def labelled_hashes(ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """int64 ``(N,)``: :func:`id_hashes` of each image id of ``ids`` ``(N,)`` with its label (or pixel digest) of
    ``labels`` ``(N,)``."""
    return id_hashes(np.char.add(np.char.add(np.asarray(ids).astype(str), "\t"), np.asarray(labels).astype(str)))


def load(path: str | os.PathLike, *, device: str = "auto", written_by: str | None = None,
         classes: list[str] | None = None, image_shape: tuple[int, ...] | None = None,
         trained_as: tuple[TrainConfig, int, Policy | None] | None = None, held_out: np.ndarray | None = None,
         trained_on: Callable[[], tuple[np.ndarray, ...]] | None = None,
         chose_on: Callable[[], np.ndarray] | None = None,
         uses: str = "its score") -> tuple[Trained, list[str]]:
    """A model saved by :func:`save`, on the chosen device, and its class names.

    ``models/<v>.pt`` is written by the ``train@<v>`` stage (``written_by`` names another: ``represent``
    for its judge); a missing, truncated or foreign file (torch loads with ``weights_only``, so a pickle that
    is not plain tensors and containers is refused, never run) raises :func:`winnow.stage_reads.rerun_error`
    naming that stage, and so does a model of other ``classes`` (names, in order) or another ``image_shape``
    ``(H, W, C)`` than the data it is used on: its class indices would be read as this data's classes; and so
    does one trained with other :data:`winnow.training.STEP_SETTINGS`, another seed or another augmentation policy
    than ``trained_as`` (the train section, seed and ``train.augment``'s policy, None: none, it gives now), or whose
    seed is unknown: a training of another configuration (the line says ``uses``, what the caller takes from the model,
    would be another training's); and so
    does one that learnt from or chose its epoch on any of the ``held_out`` image ids ``(N,)`` (the test split it
    is scored on): data split anew since it was trained; and so does one that did not learn from or choose its epoch
    on exactly the image ids ``(M,)`` that ``trained_on()`` gives with their labels ``(M,)`` (the train and val images
    its data set version holds now; called last, so that a file that is no model of this data is named as such first;
    the labels it kept, ``learnt``): the version's rows changed since it was trained; a model that kept no labels (an
    earlier winnow's) is refused there too, as a relabel since would pass unseen. Where ``trained_on()`` gives their
    pixel digests ``(M,)`` too, so is one that learnt any of them from other pixels (``pixels``), or kept none. And,
    after those, one that did not choose its epoch on exactly the image ids ``(V,)`` that ``chose_on()`` gives (the val
    split its data set version holds now): the train and val splits were carved anew since it was trained; a model
    that kept no record of them (``chose_on``: an earlier winnow's, or :func:`save` without ``val``) is refused too.
    """
    from winnow.model_reads import read_checkpoint
    from winnow.stage_reads import rerun_error

    path = Path(path)
    written_by = written_by or f"train@{path.stem}"
    ckpt = read_checkpoint(path, written_by=written_by)
    needed = {"state_dict", "config", "mean", "std", "classes", "image_shape", "history", "best_epoch", "seen"}
    missing = sorted(needed - set(ckpt)) if isinstance(ckpt, dict) else sorted(needed)
    if missing == ["seen"]:  # before: "not a winnow model checkpoint (lacks seen)" of a model winnow had trained
        raise rerun_error(path, "trained by an earlier winnow, which kept no record of the images it learnt from "
                                "(seen)", written_by=written_by)
    made_by = ckpt.get("source") if isinstance(ckpt, dict) else None
    if missing and isinstance(made_by, str):  # represent's selfsup weights or its record of a pretrained model or file
        # before: "not a winnow model checkpoint (lacks best_epoch, classes, ...)" of the file winnow's represent wrote
        # under another source (the budget run alone after represent.source was set to judge)
        raise rerun_error(path, f"made by represent with source {made_by}, not a judge's checkpoint "
                                f"(represent.source was {made_by} when the stage ran)", written_by=written_by)
    if missing:
        raise rerun_error(path, f"not a winnow model checkpoint (lacks {', '.join(missing)})", written_by=written_by)
    try:
        config = TrainConfig(**ckpt["config"])
        # None: no policy, or none kept (an earlier winnow's), which trained_as refuses under train.augment
        # named as the checkpoint's field: before, magnitude 5 there read "(balance.policy.magnitude: ...)", sending the
        # user to a balance.policy in params.yaml that is valid
        kept = ckpt.get("policy")
        if kept is not None and not isinstance(kept, dict):
            raise ValueError(f"policy is {type(kept).__name__}, not a mapping")
        policy = None if kept is None else Policy.from_params(kept, where="policy")
        h, w, c = ckpt["image_shape"]
        model = build_model(config.model, in_channels=c, num_classes=len(ckpt["classes"]), image_size=(h, w))
        model.load_state_dict(ckpt["state_dict"])
        # fields predict_proba uses as they are: a hand-edited one was a traceback there (range() of step 0, a list
        # where a tensor goes, three channels' statistics for a one-channel model)
        for name in ("mean", "std"):
            value = ckpt[name]
            if not (isinstance(value, torch.Tensor) and value.is_floating_point() and tuple(value.shape) == (c,)):
                raise ValueError(f"{name} is not a float tensor of the {c} channel(s) of its images")
        # before: classes "ab" (a string) matched the data's ['a', 'b'] name for name, and evaluate's predictions table
        # was an IndexError traceback
        if not (isinstance(ckpt["classes"], (list, tuple)) and all(isinstance(name, str) for name in ckpt["classes"])):
            raise ValueError(f"classes {repr(ckpt['classes'])[:60]} is not a list of class names")
        if not (isinstance(config.eval_batch_size, int) and config.eval_batch_size >= 1):
            raise ValueError(f"eval_batch_size {config.eval_batch_size!r} is not a whole number of 1 or more")
        seen, learnt = ckpt["seen"], ckpt.get("learnt")  # learnt: None where written before labels were kept
        for name in [key for key in ("seen", "learnt", "pixels", "chose_on") if ckpt.get(key) is not None]:
            if not (isinstance(ckpt[name], torch.Tensor) and ckpt[name].dtype == torch.int64 and ckpt[name].dim() == 1):
                raise ValueError(f"{name} is not an int64 tensor of image id hashes")
    except (TypeError, ValueError, KeyError, RuntimeError) as err:  # a field or a weight of the wrong shape
        if out_of_memory(err):  # the model built under a memory limit: the process's fault, not the file's
            raise
        detail = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise rerun_error(path, f"checkpoint does not fit its own model ({detail})", written_by=written_by) from err
    if classes is not None and list(ckpt["classes"]) != list(classes):
        raise rerun_error(path, f"trained on classes {named_in_brackets(ckpt['classes'], most=6)}, the data has "
                                f"{named_in_brackets(classes, most=6)}", written_by=written_by)
    if image_shape is not None and tuple(ckpt["image_shape"]) != tuple(image_shape):
        raise rerun_error(path, f"trained on {_shape(ckpt['image_shape'])} images, the data's are "
                                f"{_shape(image_shape)}", written_by=written_by)
    if trained_as is not None:
        _check_trained_as(config, ckpt.get("seed"), policy, *trained_as, path=path, written_by=written_by, uses=uses)
    if held_out is not None:
        # before: after `ingest.split_seed` changed, evaluate@<v> by hand (or dvc repro -s) scored the old model on a
        # test split of 1,000 images, 767 of which it had learnt from or chosen its epoch on, and wrote its flattered
        # accuracy, exit 0
        known = np.isin(id_hashes(held_out), seen.numpy())
        if known.any():
            raise rerun_error(path, f"learnt from or chose its epoch on {int(known.sum())} of the {len(known)} test "
                                    f"images, first {str(np.asarray(held_out)[int(np.argmax(known))])!r}: the data was "
                                    "split anew since it was trained, and its score would count images it has seen",
                              written_by=written_by)
    if trained_on is not None:
        # before: after pruned's rows changed (a cleaner's setting edited, the variants stage rerun), evaluate@pruned by
        # hand (or dvc repro -s) scored the model of the old rows and wrote its numbers as the new version's, exit 0
        ids, labels, *digests = (np.asarray(values) for values in trained_on())
        hashes = id_hashes(ids)
        unseen, gone = ~np.isin(hashes, seen.numpy()), ~np.isin(seen.numpy(), hashes)
        if unseen.any() or gone.any():
            first = f", first {str(ids[int(np.argmax(unseen))])!r}" if unseen.any() else ""
            raise rerun_error(path, f"learnt from or chose its epoch on {int(gone.sum())} image(s) its data set version "
                                    f"no longer holds, and not on {int(unseen.sum())} it holds now{first}: its rows "
                                    "changed since it was trained, and its score would be the old version's",
                              written_by=written_by)
        # before: a cleaner that relabels (not drops) edited and the variants stage rerun left the same ids, and
        # evaluate by hand scored the model of the old labels as the new version's, exit 0
        # before: a model an earlier winnow saved without its labels passed here, so a relabel since was scored as the
        # new version's, exit 0: only a retrain caught it
        _check_learnt(ids, labels, learnt, path=path, written_by=written_by, record="the labels it learnt (learnt)",
                      unseen="a relabel since it was trained", held="under another label",
                      why="its rows changed since it was trained, and its score would be the old version's")
        if digests:
            # before: data/ingest or data/degrade written anew under the same ids and labels (a source image replaced,
            # a degrade.perturbations strength edited, and only that stage rerun), then evaluate by hand (or dvc repro
            # -s): it scored the model of the old pixels as the new data's, exit 0
            _check_learnt(ids, digests[0], ckpt.get("pixels"), path=path, written_by=written_by,
                          record="the pixels it learnt from (pixels)", unseen="images changed since it was trained",
                          held="from other pixels", why="the imagesets they are read from were written anew since it "
                          "was trained, and its score would be of other data")
    if chose_on is not None:
        # before: a model saved without this record (an earlier winnow's) passed unchecked, as a relabel did before
        # learnt was required: after a re-split it was scored as the new version's, exit 0
        if ckpt.get("chose_on") is None:
            raise rerun_error(path, "trained by an earlier winnow, which kept no record of the val images it chose its "
                                    "epoch on (chose_on), so images moved between train and val since cannot be told",
                              written_by=written_by)
        # before: ingest.val_fraction raised (test carved first, so the same test split) or a source's image moved from
        # val/ to train/, the variants rerun, then evaluate by hand (or dvc repro -s): the same images, labels and
        # pixels, so the model that chose its epoch on the old val split was scored as the new version's, exit 0
        val = np.asarray(chose_on())
        now, then = id_hashes(val), ckpt["chose_on"].numpy()
        learnt_now, chosen_then = ~np.isin(now, then), ~np.isin(then, now)
        if learnt_now.any() or chosen_then.any():
            first = f", first {str(val[int(np.argmax(learnt_now))])!r}" if learnt_now.any() else ""
            raise rerun_error(path, f"chose its epoch on {int(chosen_then.sum())} image(s) its data set version now "
                                    f"trains on, and learnt from {int(learnt_now.sum())} it now chooses the epoch "
                                    f"on{first}: the train and val splits were carved anew since it was trained, and "
                                    f"{uses} would be another training's", written_by=written_by)
    model = model.to(pick_device(device)).eval()
    # seed: None (unknown) in an earlier winnow's checkpoint; policy: None there too
    return (Trained(model, ckpt["mean"], ckpt["std"], ckpt["history"], ckpt["best_epoch"], config, ckpt.get("seed"),
                    policy),
            list(ckpt["classes"]))


def check_finite(probabilities: np.ndarray, ids: np.ndarray, *, path: str | os.PathLike, what: str,
                 written_by: str | None = None, of: str = "probabilities") -> None:
    """Refuse, in one line naming the stage to rerun, a model at ``path`` whose float ``probabilities`` ``(N, classes)``
    (or features ``(N, D)``, ``of="features"``) of the images ``ids`` ``(N,)`` (``what``: "test images") hold NaN or
    infinity: argmax reads a row of NaN as class 0, a bound compared with NaN is never met, and the numbers built on
    them mean nothing."""
    from winnow.stage_reads import rerun_error

    broken = ~np.isfinite(probabilities).all(axis=1)
    if broken.any():
        raise rerun_error(path, f"gives non-finite {of} (NaN or infinity) for {int(broken.sum())} of {len(broken)} "
                                f"{what}, first {str(np.asarray(ids)[int(np.argmax(broken))])!r}, so its "
                                f"{'predictions' if of == 'probabilities' else of} mean nothing",
                          written_by=written_by or f"train@{Path(path).stem}")


def _check_learnt(ids: np.ndarray, values: np.ndarray, kept: torch.Tensor | None, *, path: Path, written_by: str,
                  record: str, unseen: str, held: str, why: str) -> None:
    """Raise :func:`winnow.stage_reads.rerun_error` unless a checkpoint that ``kept`` its :func:`labelled_hashes` of
    each image's id and one value (its label, its pixel digest; None: an earlier winnow's, which kept no ``record``)
    learnt each image of ``ids`` ``(M,)`` with its ``values`` ``(M,)``; the line names the first that it did not."""
    from winnow.stage_reads import rerun_error

    if kept is None:
        raise rerun_error(path, f"trained by an earlier winnow, which kept no record of {record}, so {unseen} cannot "
                                "be told", written_by=written_by)
    changed = ~np.isin(labelled_hashes(ids, values), kept.numpy())
    if changed.any():
        raise rerun_error(path, f"learnt {int(changed.sum())} of the images its data set version holds {held}, first "
                                f"{str(ids[int(np.argmax(changed))])!r}: {why}", written_by=written_by)


def _check_trained_as(trained: TrainConfig, trained_seed: int | None, trained_policy: Policy | None,
                      config: TrainConfig, seed: int, policy: Policy | None, *, path: Path, written_by: str,
                      uses: str = "its score") -> None:
    """Raise :func:`winnow.stage_reads.rerun_error` unless a checkpoint ``trained`` with its config, ``trained_seed`` (None:
    unknown) and ``trained_policy`` was trained with ``config``'s :data:`winnow.training.STEP_SETTINGS` (what every
    step computes; not device, threads or stream), ``seed`` and ``policy`` (``train.augment``'s; None: none)."""
    from winnow.stage_reads import rerun_error

    # before: after a train section or seed edit (train.epochs 20 -> 30, seed 0 -> 1), evaluate@<v> by hand (or dvc
    # repro -s) scored the model of the old settings and wrote its numbers as the new configuration's, exit 0; so it
    # did under train.augment: fixed after a balance.policy edit (magnitude 0.3 -> 0.6): the old policy's model
    # the policies' fields only where train.augment is the same: another one is the difference (before: trained fixed,
    # now none, the line listed "train.augment's policy.ops (...) (now None)" and 5 more beside it, as though a policy
    # of train.augment had been edited)
    same = trained.augment == config.augment
    then = {**{config.option(name): getattr(trained, name) for name in STEP_SETTINGS}, "seed": trained_seed,
            **(_policy_fields(trained_policy, config) if same else {})}
    now = {**{config.option(name): getattr(config, name) for name in STEP_SETTINGS}, "seed": seed,
           **(_policy_fields(policy, config) if same else {})}
    changed = [f"{name} {then.get(name)!r} (now {now.get(name)!r})" for name in dict.fromkeys([*now, *then])
               if then.get(name) != now.get(name)]
    if changed:
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise rerun_error(path, f"trained with {', '.join(changed[:3])}{more}: {uses} would be another training's",
                          written_by=written_by)


def _policy_fields(policy: Policy | None, config: TrainConfig) -> dict:
    """``{"<where>.<field>": value}`` of ``policy``, or ``{"<where>": None}``: where ``config.augment`` takes it from."""
    where = {"fixed": "balance.policy", "searched": "data/augment-search's policy"}.get(
        config.augment, f"{config.option('augment')}'s policy")
    return {where: None} if policy is None else {f"{where}.{key}": value for key, value in asdict(policy).items()}




def _shape(shape) -> str:
    h, w, c = shape
    return f"{h}x{w}x{c}"
