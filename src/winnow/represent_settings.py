"""The settings the represent stage's embedding was made under, recorded beside it (data/represent/made_at.json:
:func:`made_at`) and held to params.yaml by every reader of the embedding
(:func:`check_made_at`, through :func:`winnow.model_reads.read_embedding`): dedup's embedding search, embedding-clean,
confident-learn's probe, data valuation and the budget.

Before, an edit of ``represent.source`` (selfsup to judge), of selfsup's epochs or width, of the pretrained model or of
the ``file`` path, then a reader run alone (``dvc repro -s confident-learn``, ``python stages/budget.py``), read the old
embedding as current, exit 0. Only what makes other features is recorded: the source and its own settings, ``seed``
for a model trained here (selfsup, judge); not the kNN vote's k, nor a device, threads, batch sizes of a pass that only
embeds, a download switch, or the judge's eval batch size and streaming (as :func:`winnow.configs.model_check_training`
leaves them out). An embedding recording none (an earlier winnow's, or one made by hand) is read as before, as the sizes
record (:data:`winnow.stage_reads.SIZED_AT`) and the cleaners' settings (:mod:`winnow.decided_at`) are.

A user's file the features came from (``represent.file``, a pretrained model's ``torchscript`` or ``path``) is also
recorded by the sha256 of the bytes represent read (``file.sha256``, ``pretrained.sha256``: :data:`DIGESTS`), and held
to the file there now: before, mine.npy rewritten in place (same path, new vectors), then a reader run alone, read the
old vectors as the new file's, exit 0. A file not there now, or not local (a bucket's), cannot be compared and is read
as before, as a record without the digest (stop 74's) is.

No torch here: every reader imports it, and the params check before any stage.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from winnow.configs import STEP_SETTINGS, PretrainedConfig, SelfSupConfig, TrainConfig
from winnow.file_ops import kept_sha256

# the represent section of params.yaml: what a left-out key means (judge: overrides of the train section)
DEFAULTS = {"source": "judge", "knn_k": 10, "selfsup": {}, "pretrained": {}, "file": None, "judge": {}}
MADE_AT = "made_at.json"  # beside embeddings.npy: the settings (made_from.json, the pixels and labels)
# the settings of each source that make no other features: where the model runs, how many images a pass takes
IDLE = {"selfsup": ("threads", "device"), "pretrained": ("download", "batch_size", "device")}
# a judge trains with no augmentation policy whatever train.augment says (winnow.training.fit, given none)
JUDGE_IDLE = ("augment",)
PATHS = ("torchscript", "path")  # pretrained's files, a leading ~ the home folder (winnow.represent.options)
# the record's key of the sha256 of the user's file each source read (the features' file, the pretrained model's)
DIGESTS = {"file": "file.sha256", "pretrained": "pretrained.sha256"}


def made_at(params: Mapping[str, Any], *, sha256: str | None = None) -> dict[str, Any]:
    """``{setting: value}``: what the represent embedding is made under by params.yaml (``params``): ``source``, then
    the chosen source's settings by their name in the represent section (``selfsup.epochs``, ``judge.lr``: the train
    section with represent.judge over it, ``pretrained.model``, ``file``), and ``seed`` where a model is trained here. A
    left-out key is at its default, a path as params.yaml spells it, ./ left out (a ~ kept: not this user's home).
    ``sha256``: the digest of the user's file the features came from as represent read it (None: none read, or not a
    local file), recorded under :data:`DIGESTS`' key of the source."""
    section = {**DEFAULTS, **(params.get("represent") or {})}
    source = section["source"]
    settings: dict[str, Any] = {"source": source}
    if source == "selfsup":
        config = vars(SelfSupConfig(**(section["selfsup"] or {})))
        settings |= {f"selfsup.{key}": value for key, value in config.items() if key not in IDLE["selfsup"]}
    elif source == "judge":
        config = TrainConfig.from_params(dict(params.get("train") or {}), overrides=section["judge"] or {},
                                         overrides_from="represent.judge")
        settings |= {f"judge.{key}": getattr(config, key) for key in STEP_SETTINGS if key not in JUDGE_IDLE}
    elif source == "pretrained":
        config = vars(PretrainedConfig(**(section["pretrained"] or {})))
        settings |= {f"pretrained.{key}": _path(value) if key in PATHS else value
                     for key, value in config.items() if key not in IDLE["pretrained"]}
    else:
        settings["file"] = _path(section["file"])
    if source in ("selfsup", "judge"):
        settings["seed"] = params.get("seed")
    if sha256 is not None and source in DIGESTS:
        settings[DIGESTS[source]] = sha256
    return json.loads(json.dumps(settings))  # as the record holds it


def _path(value: str | None) -> str | None:
    """A file setting as params.yaml names it: ./mine.npy the same file as mine.npy. A leading ~ is kept, not expanded:
    the record travels with the embedding (`dvc pull`, a clone), and ~/models/m.pt expanded to the writer's home was
    refused on a teammate's machine (/home/alice/... then, /home/bob/... now) whose params.yaml was the same text."""
    return os.path.normpath(value) if value else value


def check_made_at(record: Any, *, params: Mapping[str, Any], path: str | os.PathLike,
                  recorded_in: str | os.PathLike) -> None:
    """Refuse (one line naming the embedding ``path``, the first setting then and now, and the represent stage to
    rerun) an embedding whose ``record`` (what :data:`MADE_AT`, ``recorded_in``, holds; None: none recorded, read as
    before) holds other settings than params.yaml's (``params``) now (:func:`made_at`)."""
    from winnow.stage_reads import rerun_error

    if record is None:
        return
    if not isinstance(record, dict):
        raise rerun_error(recorded_in, f"records the settings the embedding was made under as "
                                       f"{json.dumps(record)[:40]}, not a section of settings", written_by="represent")
    now = made_at(params)
    read = {key: record[key] for key in DIGESTS.values() if key in record}
    settings = {key: value for key, value in record.items() if key not in read}
    # the source first: under another one every other setting differs too, and it is the one the user edited
    for key in ["source", *sorted((settings.keys() | now.keys()) - {"source"})]:
        if key not in settings or key not in now or _as_read(settings[key]) != _as_read(now[key]):
            then, given = _shown(settings, key, "unrecorded"), _shown(now, key, "idle")
            raise rerun_error(Path(path), f"made under other represent settings than params.yaml's ({key} {then} then, "
                                          f"{given} now)", written_by="represent")
    key = DIGESTS.get(now["source"])
    if key not in read:
        return
    named = _read_file(params)
    if named is None:
        return
    option, file = named
    then = read[key]
    if not isinstance(then, str):
        raise rerun_error(recorded_in, f"records the sha256 of {option} as {json.dumps(then)[:40]}, not a digest",
                          written_by="represent")
    digest = kept_sha256(os.path.expanduser(file))  # once per version in a process: every reader checks it
    if digest != then:
        raise rerun_error(Path(path), f"made from another version of {option} {file} than the one there now (sha256 "
                                      f"{then[:12]} then, {digest[:12]} now: rewritten since represent read it)",
                          written_by="represent")


def _read_file(params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(the option, the path as params.yaml gives it) of the user's file the source of params.yaml reads, where it is a
    local file now; None otherwise (none named, a bucket's, or not there: nothing to compare with)."""
    section = {**DEFAULTS, **(params.get("represent") or {})}
    if section["source"] == "file":
        named = "represent.file", section["file"]
    else:
        pretrained = section["pretrained"] or {}
        option = "torchscript" if pretrained.get("torchscript") else "path"
        named = f"represent.pretrained.{option}", pretrained.get(option)
    file = named[1]
    if not file or "://" in str(file) or not os.path.isfile(os.path.expanduser(str(file))):
        return None
    return named[0], str(file)


def _shown(settings: Mapping[str, Any], key: str, absent: str) -> str:
    """A setting's value as the line names it: a word bare, anything else as params.yaml's JSON would; ``absent``
    where ``settings`` hold none of it."""
    if key not in settings:
        return absent
    value = settings[key]
    return value if isinstance(value, str) else json.dumps(value)


def _as_read(value: Any) -> Any:
    """A setting as represent reads it: a number by value (10 is 10.0), never a boolean; lists item by item."""
    if isinstance(value, list):
        return [_as_read(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ("number", float(value))
    return value
