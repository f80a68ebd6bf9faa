"""The params a stage read, checked again just before its outputs go into place.

DVC reads params.yaml for dvc.lock (and its run-cache) after the stage's command ends. An edit made while the
stage ran was recorded as if the outputs followed it: before, ``epochs: 3`` trained, ``epochs: 20`` was locked,
``dvc status`` said up to date, and the run-cache restored the 3-epoch model for 20 epochs. :func:`remember`
keeps the values :func:`winnow.stage.load_params` parsed; :func:`check_unchanged` reads the file again and
compares the keys dvc.yaml declares for the running stage (an edit to another stage's section leaves this
stage's lock right, so it passes). Raised before the move into place, the error leaves the last outputs, and
DVC writes neither the lock nor the run-cache for a command that failed.
"""

from __future__ import annotations

import copy
import functools
import re
import sys
import time
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError
from winnow.yaml_text import load_yaml

DVC_YAML = Path("dvc.yaml")

# params file -> its values as the stage parsed them (deep copies: a stage may change the dict it was given)
_read: dict[Path, dict[str, Any]] = {}


def remember(path: str | Path, params: dict[str, Any]) -> None:
    """Keep ``params``, parsed from ``path``, for :func:`check_unchanged`."""
    _read[Path(path)] = copy.deepcopy(params)


def forget() -> None:
    """Drop what :func:`remember` kept (a stage run starts from nothing)."""
    _read.clear()
    _declared.cache_clear()  # another project's dvc.yaml (tests run stages of several in one process)


def check_unchanged() -> None:
    """Refuse, in one line, an edit since the stage read them to the params it depends on: the dvc.yaml
    stage whose command runs ``sys.argv[0]``, with ``sys.argv[1:]`` its matrix item (``train@baseline``);
    without such a stage, every key of the file. Nothing read: nothing to check."""
    script = Path(sys.argv[0]).name
    name, declared = _declared(script, tuple(sys.argv[1:]))
    for path, read in _read.items():
        for wait in (*[SETTLE_S / 10] * 10, None):
            try:
                now = load_yaml(path.read_text(encoding="utf-8"), name=str(path))
            except (OSError, UnicodeDecodeError, WinnowError):
                now = None  # removed or broken meanwhile: every key it held has changed
            keys = declared if declared is not None else sorted(set(read) | set(now if isinstance(now, dict) else {}))
            changed = [where for key in keys for where in _differences(_at(read, key), _at(now, key), key)]
            if not changed or wait is None:
                break
            time.sleep(wait)  # a file being rewritten (`dvc exp run --queue -S` puts its values there and back)
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            raise WinnowError(f"{path} changed while {name} ran: {shown}; its outputs follow the old values; "
                              "run dvc repro again")


_MISSING = object()
# how long a difference must last to be an edit: `dvc exp run --queue -S` writes its values into the workspace's
# params.yaml and the old text back within some 30 ms (empty, then part-written, between); an editor saving
# rewrites it so too
SETTLE_S = 1.0


def _at(params: Any, key: str) -> Any:
    """The value at the dotted ``key`` (``balance.policy``), or a marker where there is none."""
    for part in key.split("."):
        if not isinstance(params, dict) or part not in params:
            return _MISSING
        params = params[part]
    return params


def _differences(old: Any, new: Any, where: str) -> list[str]:
    """The dotted keys below ``where`` whose values differ, type included (``epochs: 20`` is not ``20.0``)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [found for key in dict.fromkeys([*old, *new])
                for found in _differences(old.get(key, _MISSING), new.get(key, _MISSING), f"{where}.{key}")]
    same = old is new if _MISSING in (old, new) else (type(old) is type(new) and old == new)
    return [] if same else [where]


@functools.cache  # a stage that writes its outputs one by one checks before each: dvc.yaml is read once
def _declared(script: str, args: tuple[str, ...]) -> tuple[str, list[str] | None]:
    """``(stage name, its params.yaml keys)`` from dvc.yaml for the stage whose command runs ``stages/<script>``
    (keys None: the whole file); ``(stages/<script>, None)`` where dvc.yaml is missing, unreadable or names no
    such stage."""
    try:
        stages = load_yaml(DVC_YAML.read_text(encoding="utf-8"), name=str(DVC_YAML))["stages"]
    except (OSError, UnicodeDecodeError, WinnowError, TypeError, KeyError):
        stages = None
    runs = re.compile(rf"(^|[\s/]){re.escape('stages/' + script)}(\s|$)")
    for name, stage in stages.items() if isinstance(stages, dict) else ():
        body = stage.get("do", stage) if isinstance(stage, dict) else None
        command = body.get("cmd") if isinstance(body, dict) else None
        if not any(isinstance(c, str) and runs.search(c) for c in (command if isinstance(command, list) else [command])):
            continue
        keys: list[str] | None = []
        for entry in body.get("params") or []:
            if isinstance(entry, str):
                keys = None if keys is None else [*keys, entry]  # after `params.yaml:` (null) the whole file is
            elif isinstance(entry, dict) and "params.yaml" in entry:  # {params.yaml: [keys]}, or null: all of it
                listed = entry["params.yaml"]
                keys = None if listed is None or keys is None else keys + list(listed)
        if keys is not None:
            words = {}  # what this run's arguments stand for: `${item.variant}` in `stages/train.py ${item.variant}`
            for c in command if isinstance(command, list) else [command]:
                if isinstance(c, str) and runs.search(c):
                    words = dict(zip(c[runs.search(c).end():].split(), args))
            keys = [_resolved(key, words) for key in keys]
            keys = None if "" in keys else keys
        return (f"{name}@{'-'.join(args)}" if args else name), keys
    return f"stages/{script}", None


def _resolved(key: str, words: dict[str, str]) -> str:
    """A dvc.yaml params key with DVC's ``${...}`` filled from ``words`` (the run's arguments); one still
    templated is cut back to the dotted key above its first ``${`` (``models.${item.x}``: ``models``), or "" (the
    whole file): DVC locks the resolved key, and the literal one, in no params.yaml, was never compared."""
    for word, value in words.items():
        if re.fullmatch(r"\$\{[^}]*\}", word):
            key = key.replace(word, value)
    if "${" not in key:
        return key
    return key[:key.index("${")].rpartition(".")[0]
