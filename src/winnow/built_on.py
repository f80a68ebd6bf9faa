"""What a variant built on pruned (``augmented``, ``balanced``: :data:`winnow.variants.WRITTEN_BY`) must still share
with pruned when train@<v> reads it: pruned's rows as ``data/variants/pruned`` holds them now, and the pixels of
pruned's images as their imagesets hold them now (the digests its stage recorded,
:data:`winnow.origin_checks.PIXELS`); and balanced, the settings, seed, policy and data/ingest balance made it of
(:func:`balance_made_of`). Each changes when a stage before it reruns without it, or params.yaml is edited, and the
variant's training runs alone (``dvc repro -s``, or a stage run by hand)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from collections.abc import Mapping
from typing import Any

import pandas as pd

from winnow.configs import BALANCE_DEFAULTS, STEP_SETTINGS, GanConfig, Policy, TrainConfig, chooses_edges
from winnow.stage_reads import rerun_error
from winnow.origin_checks import INGEST, PIXELS
from winnow.variants import MADE_OF, VARIANTS_DIR, _rows_file, learnt_ids, read_rows

# the balance settings balance_made_of records otherwise or not: the device changes what a copy is made on, not what
# it is of; balance.policy is recorded as the policy used, which the search's pick replaces under augment_search
UNRECORDED = ("device", "policy")


def check_built_on_pruned(name: str, *, classes: list[str], root: str | os.PathLike = VARIANTS_DIR) -> None:
    """Refuse a variant built on pruned (``augmented``, ``balanced``: :data:`WRITTEN_BY`) whose rows of pruned's images
    are not pruned's rows now: an image missing on one side, or kept, dropped or labelled otherwise (a balanced row
    balance.max_images left out is one pruned keeps). Before: pruned written anew (dvc repro -s variants after a
    cleaner, a verdict or the budget changed) and train@balanced run alone, the copies of the old pruned were trained
    as "pruned plus copies", exit 0."""
    path, written_by = _rows_file(name, root)
    # pruned's labels as training reads them (train@balanced loads balanced's alone): before, a label past the classes
    # or none was an IndexError or ValueError traceback here, and -1 was read as the last class
    mine, now = read_rows(name, root=root), read_rows("pruned", root=root, num_classes=len(classes))
    both = mine[mine["origin"] != "extra"].merge(now, on=["origin", "id"], how="outer", suffixes=("", "_now"))
    # what each side trains on of the image: none, or it at a label (a relabel to a label trains as a keep at it)
    cut = ((both["action"] == "drop") & (both["stage"] == "balance")).to_numpy()  # kept by pruned, then left out
    held = lambda action, label: ("absent" if pd.isna(action) else "dropped" if action == "drop"  # noqa: E731
                                  else f"kept as {classes[int(label)]!r}")
    then = [held("keep" if c else a, l) for a, l, c in zip(both["action"], both["label"], cut)]
    was = [held(a, l) for a, l in zip(both["action_now"], both["label_now"])]
    differs = [a != b for a, b in zip(then, was)]
    if any(differs):
        at = differs.index(True)
        left = " (left out for balance.max_images)" if cut[at] else ""
        raise rerun_error(path, f"built on another pruned: image {both['id'].iloc[at]!r} is {then[at]}{left} there, "
                                f"{was[at]} in data/variants/pruned now ({sum(differs)} such image(s))",
                          written_by=written_by)
    # pruned's own decisions of pixels data/degrade no longer holds, a drop's too (balanced records the images it kept):
    # refused as train@pruned refuses them (before: train@balanced passed where train@pruned was refused)
    learnt_ids("pruned", root=root)
    _check_pixels(mine, path=path, written_by=written_by)


def _check_pixels(mine: pd.DataFrame, *, path, written_by: str) -> None:
    """Refuse a variant's rows (``mine``) that record no pixels of the pruned images they were built on
    (:data:`~winnow.origin_checks.PIXELS`), which :func:`winnow.origin_checks.check_origin_rows` holds to their imagesets' now
    where recorded. Before: degrade rerun (its damage or seed changed, the same ids and labels) and train@balanced run
    alone, balance's copies of the old pixels were trained beside the new ones as "pruned plus copies", exit 0 (and
    augmented's samples of a GAN that learnt the old ones); the balance and gan-synthesize stages record them."""
    if PIXELS not in mine.columns:
        raise rerun_error(path, "records no pixel digests of the pruned images it was built on: made by an earlier "
                                "winnow or by hand", written_by=written_by)


def balance_made_of(params: Mapping[str, Any], *, policy: Policy, ingested: pd.DataFrame) -> dict[str, str]:
    """str -> str: what the balance stage makes balanced of beside pruned's rows and pixels (which
    :func:`check_built_on_pruned` holds to pruned's now): ``seed``, each ``balance.<setting>`` but its device (JSON),
    the ``policy`` the copies followed (``policy``: balance.policy or the search's pick, JSON) and ``data/ingest``, a
    sha256 of the ``ingested`` manifest's id, split, label and digest columns (the held-out images balance refuses a
    copy equal to, and the splits and labels of all). Each as params.yaml and data/ingest give it now."""
    settings = {**BALANCE_DEFAULTS, **(params.get("balance") or {})}
    made_of = {"seed": json.dumps(params["seed"])}
    made_of.update({f"balance.{key}": json.dumps(value, sort_keys=True) for key, value in settings.items()
                    if key not in UNRECORDED})
    made_of["policy"] = json.dumps(policy.to_params(), sort_keys=True)
    if chooses_edges(settings):  # chosen in models/baseline.pt's features, which balance holds to these now
        made_of.update(_baseline_made_as(params))
    made_of[INGEST] = _ingest_digest(ingested)
    return made_of


def gan_made_of(params: Mapping[str, Any], *, ingested: pd.DataFrame) -> dict[str, str]:
    """str -> str: what the gan-synthesize stage makes augmented of beside pruned's rows and pixels, as
    :func:`balance_made_of`: ``seed``, each ``gan.<setting>`` and ``gan.train.<setting>`` but its device (JSON),
    models/baseline.pt's training (which ranks the weak classes and keeps the samples: :func:`_baseline_made_as`) and
    ``data/ingest`` (the held-out images a sample equal to one is refused of)."""
    section = dict(params["gan"])
    config = GanConfig.from_params(section.pop("train", None) or {})
    made_of = {"seed": json.dumps(params["seed"])}
    made_of.update({f"gan.{key}": json.dumps(value, sort_keys=True) for key, value in section.items()})
    made_of.update({f"gan.train.{key}": json.dumps(value, sort_keys=True, default=str)
                    for key, value in asdict(config).items() if key != "device"})
    made_of.update(_baseline_made_as(params))
    made_of[INGEST] = _ingest_digest(ingested)
    return made_of


def _ingest_digest(ingested: pd.DataFrame) -> str:
    """A sha256 of the ``ingested`` manifest's id, split, label and digest columns."""
    # joined as lists, not row by row: 200,000 rows by itertuples took 4 s on a loaded machine, this 1.2 s
    columns = [ingested[column].astype(str).tolist() for column in ("id", "split", "label", "digest")]
    lines = "\n".join("\t".join(row) for row in zip(*columns))
    return hashlib.sha256(lines.encode("utf-8", "backslashreplace")).hexdigest()


def _baseline_made_as(params: Mapping[str, Any]) -> dict[str, str]:
    """str -> str: what balance holds models/baseline.pt to where its features choose the edge cases
    (:func:`winnow.checkpoints.load`'s ``trained_as``, but the seed, recorded apart): each train step setting
    (:data:`winnow.configs.STEP_SETTINGS`, not device, threads or eval_batch_size, which change no weight) and
    train.augment's policy, JSON, keyed by the option's params path (``train.epochs``)."""
    from winnow.augment_search import policy_for

    config = TrainConfig.from_params(params["train"])
    made = {config.option(name): json.dumps(getattr(config, name), sort_keys=True, default=str)
            for name in STEP_SETTINGS}
    trained = policy_for(params, config.augment)
    made[f"{config.option('augment')}'s policy"] = json.dumps(None if trained is None else trained.to_params(),
                                                              sort_keys=True)
    return made


# what models/baseline.pt chose in each variant built on pruned, as a refusal names it
BASELINE_USES = {"balanced": "its edge cases were chosen", "augmented": "its weak classes were ranked and samples kept"}


def check_made_of(name: str, params: Mapping[str, Any], *, root: str | os.PathLike = VARIANTS_DIR) -> None:
    """Refuse the rows of variant ``name`` (``balanced``, ``augmented``) made of other settings, another seed or
    policy, another models/baseline.pt's training or data/ingest than :func:`balance_made_of` or :func:`gan_made_of`
    give now, or that record none. Before: balance.target edited (or the seed, the policy, data/ingest's val images)
    and train@balanced run alone (dvc repro -s train@balanced, which skips balance), the balanced variant of the old
    ones was trained as if of the new, exit 0; so was augmented after gan.train.epochs and train.epochs were edited."""
    from winnow.augment_search import policy_for
    from winnow.imageset import read_imageset

    path, written_by = _rows_file(name, root)
    then = read_rows(name, root=root).attrs.get(MADE_OF)
    if not isinstance(then, dict):
        raise rerun_error(path, "records no settings or data/ingest it was made of: made by an earlier winnow or by "
                                "hand", written_by=written_by)
    ingested = read_imageset(INGEST).manifest
    if name == "balanced":
        searched = (params.get("augment_search") or {}).get("enabled", False)
        now = balance_made_of(params, policy=policy_for(params, "searched" if searched else "fixed"),
                              ingested=ingested)
    else:
        now = gan_made_of(params, ingested=ingested)
    changed = [key for key in now if then.get(key) != now[key]]
    if not changed:
        return
    key = changed[0]
    # before: only balance's own settings were held, so after train.epochs was edited and train@balanced run alone
    # (its train params changed; balance and train@baseline skipped) the old baseline's edge cases were trained, exit 0
    problem = ("made of another data/ingest: its images, splits or labels changed since" if key == INGEST else
               f"{BASELINE_USES[name]} by models/baseline.pt trained with {key} "
               f"{then.get(key, 'unrecorded')}, which is {now[key]} now" if key.startswith("train.") else
               f"made with {key} {then.get(key, 'unrecorded')}, which is {now[key]} now")
    more = f" ({len(changed) - 1} more changed: {', '.join(changed[1:])})" if len(changed) > 1 else ""
    raise rerun_error(path, problem + more, written_by=written_by)
