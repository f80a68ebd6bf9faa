"""The params a stage read, checked again just before its outputs go into place.

DVC reads params.yaml for dvc.lock (and its run-cache) after the stage's command ends. An edit made while the
stage ran was recorded as if the outputs followed it: before, ``epochs: 3`` trained, ``epochs: 20`` was locked,
``dvc status`` said up to date, and the run-cache restored the 3-epoch model for 20 epochs. :func:`remember`
keeps the values :func:`winnow.stage.load_params` parsed; :func:`check_unchanged` reads the file again and
compares the keys dvc.yaml declares for the running stage (an edit to another stage's section leaves this
stage's lock right, so it passes). Raised before the move into place, the error leaves the last outputs, and
DVC writes neither the lock nor the run-cache for a command that failed.

DVC hashes the stage's deps after its command ends too, so the files and folders dvc.yaml declares as the
stage's deps are checked the same way (:func:`_identity` of each, taken when params.yaml was read).

:func:`declared_present`, run by :func:`winnow.params.load`, asks params.yaml for every key a stage of dvc.yaml declares
(:func:`stage_params`), before any stage works.
"""

from __future__ import annotations

import copy
import fcntl
import functools
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError
from winnow.file_ops import file_sha256
from winnow.project_outputs import project_root
from winnow.stops import script_named
from winnow.yaml_text import load_yaml

DVC_YAML = Path("dvc.yaml")

# params file -> its values as the stage parsed them (deep copies: a stage may change the dict it was given)
_read: dict[Path, dict[str, Any]] = {}
# each dep of the running stage (as dvc.yaml names it) -> its _identity when params.yaml was read
_deps: dict[str, Any] = {}


def remember(path: str | Path, params: dict[str, Any]) -> None:
    """Keep ``params``, parsed from ``path``, and the identity of each of the stage's deps, for
    :func:`check_unchanged`."""
    _read[Path(path)] = copy.deepcopy(params)
    _, _, deps = _declared(Path(sys.argv[0]).name, tuple(sys.argv[1:]))
    for dep in deps:
        if dep not in _deps:  # the first reading: the one the stage's work followed
            _deps[dep] = _identity(Path(dep))


def forget() -> None:
    """Drop what :func:`remember` kept (a stage run starts from nothing)."""
    _read.clear()
    _deps.clear()
    _declared.cache_clear()  # another project's dvc.yaml (tests run stages of several in one process)


def check_unchanged() -> None:
    """Refuse, in one line, an edit since the stage read them to the params it depends on: the dvc.yaml
    stage whose command runs ``sys.argv[0]``, with ``sys.argv[1:]`` its matrix item (``train@baseline``);
    without such a stage, every key of the file. Nothing read: nothing to check."""
    script = Path(sys.argv[0]).name
    name, declared, _ = _declared(script, tuple(sys.argv[1:]))
    for path, read in _read.items():
        def differences(path: Path = path, read: dict[str, Any] = read) -> list[str] | str:
            """The dotted keys whose values differ, or, where some do because the file cannot be read now, why."""
            now, unreadable = _read_now(path)  # removed or broken meanwhile: every key it held has changed
            keys = declared if declared is not None else sorted(set(read) | set(now if isinstance(now, dict) else {}))
            changed = [where for key in keys for where in _differences(_at(read, key), _at(now, key), key)]
            return unreadable if changed and unreadable else changed

        # a file being rewritten (`dvc exp run --queue -S` puts its values there and back)
        changed = _settled(differences)
        if isinstance(changed, str):
            # before: named every key the stage declares as changed ("seed, train, balance.policy" for a key written
            # twice in the gan section), keys nobody had touched
            raise WinnowError(f"{path} changed while {name} ran and cannot be read now ({changed}); its outputs follow "
                              "the values it held before; fix it, then run dvc repro again")
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            raise WinnowError(f"{path} changed while {name} ran: {shown}; its outputs follow the old values; "
                              "run dvc repro again")
    # before: src/winnow/models.py edited while train@baseline trained; DVC hashed it after the command ended and
    # locked the edit as what made the model, `dvc status` said up to date, and the run-cache served that model since
    # put back meanwhile: `dvc exp run --queue` stashes each modified tracked file, then writes it
    changed = _settled(lambda: next((dep for dep, before in _deps.items() if _identity(Path(dep)) != before), None))
    if changed is not None:
        raise WinnowError(f"{changed} changed while {name} ran; its outputs follow what it held before; run dvc repro "
                          "again")


def _read_now(path: Path) -> tuple[Any, str | None]:
    """``(params, None)``: the params file at ``path`` as it is now, a mapping; else ``(None, why)``."""
    try:
        now = load_yaml(path.read_text(encoding="utf-8"), name=str(path))
    except FileNotFoundError:
        return None, "it is gone"
    except OSError as err:
        return None, err.strerror or type(err).__name__
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    except WinnowError as err:
        return None, str(err).removeprefix(f"{path}: ")
    return (now, None) if isinstance(now, dict) else (None, "it holds no mapping of sections")


def _settled(differences: Callable[[], Any]) -> Any:
    """What ``differences()`` finds, asked again every tenth of :data:`SETTLE_S` while it finds something (a file
    rewritten meanwhile may be put back), until it finds nothing or the time is up; past it for as long as another dvc
    holds the project's lock (:func:`_dvc_holds_the_project`), up to :data:`DVC_HELD_S` more."""
    step, last = SETTLE_S / 10, round((SETTLE_S + DVC_HELD_S) * 10 / SETTLE_S)
    for asked in range(last + 1):
        found = differences()
        if not found or asked == last or asked >= 10 and not _dvc_holds_the_project():
            return found
        time.sleep(step)


def _dvc_holds_the_project() -> bool:
    """Whether a dvc process holds the lock of the DVC project the stage runs in (``.dvc/tmp/lock``, which DVC takes as
    a ``flock``; the dvc that runs the stage lets it go while the command runs). `dvc exp run --queue -S` in another
    shell holds it from before it writes its values into params.yaml (and stashes each modified tracked file) until
    after it has put the old text back: 3.5 s on a busy machine, and DVC takes its lock back to write dvc.lock only
    then. Before, a difference lasting past :data:`SETTLE_S` was an edit, and the stage was refused, "params.yaml
    changed while threshold ran: seed", of a file nobody had edited. False where it cannot tell (no DVC project, a lock
    DVC takes as a hard link under ``core.hardlink_lock``, which no flock meets)."""
    root = project_root(os.getcwd())
    if root is None:
        return False
    try:
        handle = os.open(os.path.join(root, ".dvc", "tmp", "lock"), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # let go at once: shared, so two stages asking never meet
    except OSError:
        return True
    finally:
        os.close(handle)
    return False


def _identity(path: Path) -> Any:
    """What tells the file at ``path``, or each file below the folder at ``path`` (by name), from one written since
    (:func:`_file_identity`); None where nothing is."""
    try:
        if not path.is_dir():
            return _file_identity(path)
    except OSError:
        return None
    found = []
    for root, _, files in os.walk(path):
        for name in files:
            try:
                found.append([os.path.relpath(os.path.join(root, name), path), *_file_identity(Path(root, name))])
            except OSError:  # removed while walked: the next reading differs
                continue
    return sorted(found)


# before: a dep written anew with the bytes it held was refused as changed ("src/winnow/models.py changed while
# train@baseline ran"), though DVC locks the same hash: `dvc exp run --queue` in another shell stashes each modified
# tracked file and writes it back, and so do git stash/pop and a git checkout of a touched file
BYTES_COMPARED = 1 << 20


def _file_identity(path: Path) -> list[Any]:
    """The sha256 of the file at ``path`` of at most :data:`BYTES_COMPARED` bytes (code, contracts, metrics); inode,
    modification time and size of a larger one (data, models: DVC's outputs, which git leaves alone), unread."""
    stat = path.stat()
    if stat.st_size > BYTES_COMPARED:
        return [stat.st_ino, stat.st_mtime_ns, stat.st_size]
    return [file_sha256(path)]


_MISSING = object()
# how long a difference must last to be an edit: `dvc exp run --queue -S` writes its values into the workspace's
# params.yaml and the old text back within some 30 ms on a quiet machine (empty, then part-written, between), and
# 3.5 s on a busy one, while it holds DVC's lock (waited for apart, :data:`DVC_HELD_S`); an editor saving rewrites it
# so too
SETTLE_S = 1.0
DVC_HELD_S = 60.0  # the longest a difference is waited for past SETTLE_S while another dvc holds the project's lock


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
def _declared(script: str, args: tuple[str, ...]) -> tuple[str, list[str] | None, list[str]]:
    """``(stage name, its params.yaml keys, its deps)`` from dvc.yaml for the stage whose command runs
    ``stages/<script>`` (keys None: the whole file; a dep still templated after this run's arguments are filled in
    is left out); ``(stages/<script>, None, [])`` where dvc.yaml is missing, unreadable or names no such stage."""
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
        words = {}  # what this run's arguments stand for: `${item.variant}` in `stages/train.py ${item.variant}`
        for c in command if isinstance(command, list) else [command]:
            if isinstance(c, str) and runs.search(c):
                words = dict(zip(c[runs.search(c).end():].split(), args))
        keys = stage_params(body)
        if keys is not None:
            keys = [_resolved(key, words) for key in keys]
            keys = None if "" in keys else keys
        deps = [_filled(dep, words) for dep in body.get("deps") or [] if isinstance(dep, str)]
        return (f"{name}@{'-'.join(args)}" if args else name), keys, [dep for dep in deps if "${" not in dep]
    return script_named(script), None, []


def stage_params(body: Any) -> list[str] | None:
    """The params.yaml keys a dvc.yaml stage's ``body`` declares, or None where it declares the whole file: an entry
    ``params.yaml:`` null or empty, beside which DVC drops the keys listed (dvc.dependency._merge_params)."""
    keys: list[str] = []
    entries = body.get("params") if isinstance(body, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, str):
            keys.append(entry)
        elif isinstance(entry, dict) and "params.yaml" in entry:  # {params.yaml: [keys]}, or null or []: all of it
            listed = entry["params.yaml"]
            if not listed:
                return None
            keys += [key for key in listed if isinstance(key, str)] if isinstance(listed, list) else []
    return keys


def declared_present(params: dict[str, Any], dvc_yaml: Path) -> None:
    """Refuse a key the pipeline ``dvc_yaml`` declares as a stage's param (templated ones aside) that ``params``, the
    params.yaml beside it, lacks: a section left out or null, which a stage run by hand reads as its defaults. Before:
    accepted, and dvc repro ran the stages before the one declaring it, then refused it ("Parameters 'balance.policy'
    are missing from 'params.yaml'"), minutes into the run. A dvc.yaml that is missing or that DVC cannot read asks
    nothing here (DVC says why), nor a stage that DVC asks no key of this file: one that declares the whole file (its
    keys are dropped), whose wdir holds a params.yaml of its own, or that is frozen (dvc freeze)."""
    try:
        stages = load_yaml(dvc_yaml.read_text(encoding="utf-8"), name=str(dvc_yaml))["stages"]
    except (OSError, UnicodeDecodeError, WinnowError, TypeError, KeyError):
        return
    for name, stage in stages.items() if isinstance(stages, dict) else ():
        body = stage.get("do", stage) if isinstance(stage, dict) else None  # foreach's stage body is under do
        wdir = body.get("wdir", ".") if isinstance(body, dict) else "."
        if not isinstance(wdir, str) or os.path.normpath(wdir) != ".":  # DVC reads the wdir's params.yaml
            continue
        if isinstance(body, dict) and body.get("frozen") is True:  # dvc freeze: dvc repro skips it, its params unread
            continue
        for key in [key for key in stage_params(body) or [] if "${" not in key]:
            held: Any = params
            for depth, part in enumerate(key.split(".")):  # a list's item by its index: degrade.perturbations.1.kind
                if isinstance(held, list) and part.isdecimal() and part.isascii() and int(part) < len(held):
                    held = held[int(part)]
                    continue
                if not isinstance(held, dict) or part not in held:
                    # before: "missing" alone where the user had written the section as null (balance: null)
                    above = ".".join(key.split(".")[:depth])
                    why = f" ({above} is null)" if depth and held is None else ""
                    raise WinnowError(f"params.yaml: {key}: missing{why}, and dvc.yaml's {name} stage declares it, so "
                                      "dvc repro would run the stages before it, then refuse it; write it (winnow's "
                                      "own params.yaml holds each key with its default)")
                held = held[part]


def _filled(text: str, words: dict[str, str]) -> str:
    """``text`` with each of DVC's ``${...}`` that is a key of ``words`` (the run's arguments) replaced by its value."""
    for word, value in words.items():
        if re.fullmatch(r"\$\{[^}]*\}", word):
            text = text.replace(word, value)
    return text


def _resolved(key: str, words: dict[str, str]) -> str:
    """A dvc.yaml params key with DVC's ``${...}`` filled from ``words`` (the run's arguments); one still
    templated is cut back to the dotted key above its first ``${`` (``models.${item.x}``: ``models``), or "" (the
    whole file): DVC locks the resolved key, and the literal one, in no params.yaml, was never compared."""
    key = _filled(key, words)
    if "${" not in key:
        return key
    return key[:key.index("${")].rpartition(".")[0]
