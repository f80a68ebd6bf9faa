"""What a model from elsewhere (:mod:`winnow.pretrained`) said when it failed, for one-line errors: its outputs other
than a tensor, its exception's gist (a TorchScript model's own message and statement), whether that failure is of
its devices, and what torch said of weights that do not fit the model they were loaded into."""

from __future__ import annotations

import re

import torch

from winnow.errors import first_line


def outputs(value) -> str:
    """What a model returned other than a tensor, for a message: ``a tuple of 2 ((16, 512), (16, 49, 512))``, ``a
    dict (keys 'pooled', 'tokens')``, ``None``."""
    if isinstance(value, (tuple, list)):
        items = [str(tuple(v.shape)) if isinstance(v, torch.Tensor) else type(v).__name__ for v in value[:4]]
        return f"a {type(value).__name__} of {len(value)} ({', '.join(items)}{', ...' if len(value) > 4 else ''})"
    if isinstance(value, dict):
        return f"a dict (keys {', '.join(map(repr, list(value)[:5]))}{', ...' if len(value) > 5 else ''})"
    return "None" if value is None else type(value).__name__


def failure(err: BaseException) -> str:
    """What a model's exception says, for a one-line error: its first line, or for TorchScript, whose first
    line only says that the interpreter failed, the model's own message (its last line) and the statement
    that raised it (the line above the last ``<--- HERE``)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines or not lines[0].startswith("The following operation failed in the TorchScript interpreter"):
        return _sentence(first_line(err))
    here = [i for i, line in enumerate(lines) if line.endswith("<--- HERE")]
    return _sentence(_said(err)) + (f" at `{lines[here[-1] - 1]}`" if here and here[-1] > 0 else "")


def _said(err: BaseException) -> str:
    """What a TorchScript model's exception ``err`` says: the first line at the left margin after the last line
    marked ``<--- HERE`` (the lines of code around that mark are indented). Before, the message's last line, which
    for torch's own errors was the last row of its table of backends or of a Python stack after ``At:``."""
    raw = str(err).splitlines()
    here = [i for i, line in enumerate(raw) if line.rstrip().endswith("<--- HERE")]
    after = raw[here[-1] + 1:] if here else raw
    said = [line.strip() for line in after if line.strip() and not line[:1].isspace()]
    return said[0] if said else [line.strip() for line in raw if line.strip()][-1]


def _sentence(line: str, *, longest: int = 200) -> str:
    """``line``, or its first sentence where it goes on past ``longest`` characters (torch's advice on linkers and
    custom builds, in a one-line error)."""
    return line.split(". ")[0] if len(line) > longest else line


# what torch says of a tensor on another device than the rest, or of a device this machine or this build lacks
DEVICE_WORDS = re.compile(r"CUDA|cuda|NVIDIA|\bMPS\b|\bmps\b|\bdevices?\b")


def device_failure(err: BaseException) -> bool:
    """Whether a model's failure ``err`` is of the devices its tensors are on, by what its message says (not the
    code quoted around it in a TorchScript traceback, which may name a device without failing for it)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    scripted = bool(lines) and lines[0].startswith("The following operation failed in the TorchScript interpreter")
    return bool(DEVICE_WORDS.search(_said(err) if scripted else first_line(err)))


# what TorchScript says of a call short of the arguments a forward declares
MISSING_INPUT = re.compile(r"forward\(\) is missing value for argument")


def wants_more_inputs(err: BaseException) -> bool:
    """Whether a model's failure ``err`` is its forward asking for more arguments than the one batch it was given."""
    return bool(MISSING_INPUT.search(str(err)))


# torch's load_state_dict, refusing weights that do not fit the model: a first line naming the model alone, then a
# line each of missing keys, unexpected keys and tensors of another shape
MISFIT = "Error(s) in loading state_dict for "
OTHER_SHAPE = re.compile(r"size mismatch for (\S+): copying a param with shape torch\.Size\(\[([^\]]*)\]\) from "
                         r"checkpoint, the shape in current model is torch\.Size\(\[([^\]]*)\]\)")
NOT_A_DICT = re.compile(r"Expected state_dict to be dict-like, got <class '([\w.]+)'>")
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net")  # where a training checkpoint keeps the weights


def weights_misfit(err: BaseException) -> tuple[str, str] | None:
    """(what is wrong, what to do) when ``err`` is torch's refusal of weights that do not fit the model they were
    loaded into (another architecture, a training checkpoint around them, a wrapper's key prefix), for a one-line
    error: how many keys are missing, unexpected or of another shape, the first of each; None for another error. Its
    first line alone says "Error(s) in loading state_dict for ResNet:", and nothing of which weights."""
    text = str(err)
    other = NOT_A_DICT.match(text)
    if other:
        return f"it holds a {other[1].rpartition('.')[2]}, not a state_dict", "save model.state_dict()"
    if not isinstance(err, RuntimeError) or not text.startswith(MISFIT):
        return None
    keys = {kind: re.findall(r'"([^"]*)"', found[1]) if found else []
            for kind in ("Missing", "Unexpected")
            for found in [re.search(rf"^\s*{kind} key\(s\) in state_dict: (.*?)\.\s*$", text, re.M)]}
    said = [f"{len(keys[kind])} {kind.lower()} key(s), first {keys[kind][0]!r}" for kind in keys if keys[kind]]
    shapes = OTHER_SHAPE.findall(text)
    if shapes:
        name, given, wanted = shapes[0]
        said.append(f"{len(shapes)} of another shape, first {name!r}: [{given}] in the file, [{wanted}] in the model")
    wrapped = [key for key in CHECKPOINT_KEYS if key in keys["Unexpected"]]
    if wrapped:  # a training checkpoint: {"state_dict": ..., "epoch": ...}
        fix = f"it is a training checkpoint: save its weights alone, torch.save(checkpoint[{wrapped[0]!r}], path)"
    # before: any 'module.' key alone (one extra beside every key the model has) was told to save model.module's
    elif keys["Missing"] and {f"module.{key}" for key in keys["Missing"]} <= set(keys["Unexpected"]):
        fix = "its keys carry the 'module.' prefix of a DataParallel model: save model.module.state_dict()"
    else:
        fix = "save the state_dict of that architecture"
    # before: a tensor of another kind ('While copying the parameter named ...') was said by torch's first line alone
    told = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    return ", ".join(said) or (told[0] if told else first_line(err)), fix
