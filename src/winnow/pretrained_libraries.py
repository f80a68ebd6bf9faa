"""A feature extractor by name from an optional package: ``timm:NAME``, ``torchvision:NAME`` or
``open_clip:ARCH/TAG`` (:data:`LIBRARIES`), each package imported only here and only when named. Weights come from
the package's local cache or a given ``path`` (its CRCs checked first), and are downloaded only when
``download: true``: until then no connection leaves the process. Every weights file a package loads is checked and
named when it fails (:func:`named_weight_files`)."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from winnow.configs import PretrainedConfig
from winnow.errors import WinnowError, first_line, out_of_memory
from winnow.output_paths import check_input_file
from winnow.pretrained_failures import weights_misfit
from winnow.progress_env import download_bars
from winnow.stage import torch_file_damage
from winnow.stops import import_optional
from winnow.torchscript_files import foreign, saved_not_scripted, scripted

LIBRARIES = {"timm": "timm", "torchvision": "torchvision", "open_clip": "open_clip_torch"}  # name: pip package


def load_by_name(config: PretrainedConfig, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    """``config.model``'s feature extractor (its classifier left out) as a function of a normalised batch, on
    ``device`` in eval mode, or one line naming the option at fault and the fix."""
    library, _, name = str(config.model).partition(":")
    if library not in LIBRARIES or not name:
        raise WinnowError(f"represent.pretrained.model: {config.model!r}; write timm:NAME, torchvision:NAME or "
                          "open_clip:ARCH/TAG")
    with offline(not config.download):  # imported offline: the hub reads its variable at import
        module = import_optional(library, refusal=lambda err: WinnowError(
            f"represent.pretrained.model: {config.model} needs {library}, which is not installed (pip install "
            f"{LIBRARIES[library]}; an optional extra), or give torchscript: a file"))
    path = Path(config.path) if config.path else None
    if path is not None:
        check_input_file(path, option="represent.pretrained.path", fix=f"give the weights file of {config.model}")
        damage = torch_file_damage(path)  # torch.load checks no CRC: flipped bits would embed with other weights
        if damage:
            raise WinnowError(f"represent.pretrained.path: {path}: corrupt: {damage}; download the weights again")
    loader = {"timm": _timm, "torchvision": _torchvision, "open_clip": _open_clip}[library]
    try:
        with offline(not config.download), named_weight_files(str(config.model), given=path), download_bars():
            net = loader(module, name, path=path, download=config.download)
    except WinnowError:
        raise
    except Exception as err:  # each package fails in its own way: unknown name, no cached weights, bad file
        if out_of_memory(err):
            raise
        misfit = weights_misfit(err)
        # before: "torchvision could not load 'resnet18' with weights (Error(s) in loading state_dict for ResNet:);
        # check the name, give path: a weights file, ..." of the user's path: file, of another architecture or a
        # training checkpoint: no word of which weights, and path: to be given where it was
        if misfit is not None and path is not None:
            raise WinnowError(f"represent.pretrained.path: {path} does not hold the weights of {config.model} "
                              f"({misfit[0]}); give the weights file of {config.model}: {misfit[1]}") from err
        # before, whatever was set: "check the name, give path: a weights file, or set download: true", of a download
        # that failed (no connection, a proxy) where download was true, and of a name where path: was given
        fix = (f"check the name, and that {path} holds its weights" if path is not None else
               "check the name and this machine's connection to the weights' host (download is true), or give path: "
               "a weights file" if config.download else
               "check the name, give path: a weights file, or set download: true")
        raise WinnowError(f"represent.pretrained.model: {library} could not load {name!r} with weights "
                          f"({misfit[0] if misfit else first_line(err)}); {fix}") from err
    if isinstance(net, nn.Module):
        net = net.to(device).eval()
    else:  # open_clip: a bound method of the model
        net.__self__.to(device).eval()
    return net


def _timm(timm, name: str, *, path: Path | None, download: bool):
    overlay = {"pretrained_cfg_overlay": {"file": str(path)}} if path else {}
    return timm.create_model(name, pretrained=True, num_classes=0, **overlay)  # num_classes=0: pooled features


def _torchvision(torchvision, name: str, *, path: Path | None, download: bool):
    if path is not None:
        model = torchvision.models.get_model(name, weights=None)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    else:
        weights = torchvision.models.get_model_weights(name).DEFAULT
        cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        if not download and not cached.is_file():
            raise WinnowError(f"represent.pretrained.model: torchvision:{name} weights are not in the local cache "
                              f"({cached}); set download: true or give path: a weights file")
        # torch.hub checks a file's hash only as it downloads it, and loads a cached one as it is: before, cached
        # weights with a flipped bit embedded every image with another model, exit 0, as path: did before its check
        damage = torch_file_damage(cached) if cached.is_file() else None
        if damage:
            raise WinnowError(f"represent.pretrained.model: torchvision:{name} weights in the local cache ({cached}): "
                              f"corrupt: {damage}; delete the file and set download: true, or give path: a weights "
                              "file")
        model = torchvision.models.get_model(name, weights=weights)
    for head in ("fc", "classifier", "head", "heads"):  # the classifier goes: what is left ends in features
        module = getattr(model, head, None)
        if isinstance(module, nn.Module):
            _drop_class_layer(model, head, module)
            break
    return model


def _drop_class_layer(model: nn.Module, head: str, module: nn.Module) -> None:
    """``model.<head>`` (``module``) without the layer that gives class scores: a sequence of layers loses its last
    Linear or Conv2d alone, any other head goes whole. Before, a sequence went whole, with the pooling and flattening
    some keep there: ConvNeXt's (norm, flatten, linear) left (N, 768, 1, 1) and MaxViT's (pool, flatten, ...) its
    unpooled map, both refused as not (N, D); SqueezeNet's (dropout, conv, relu, pool) left 86,528 unpooled values."""
    if isinstance(module, nn.Sequential):
        last = [i for i, layer in enumerate(module) if isinstance(layer, (nn.Linear, nn.Conv2d))]
        if last:
            module[last[-1]] = nn.Identity()
            return
    setattr(model, head, nn.Identity())


def _open_clip(open_clip, name: str, *, path: Path | None, download: bool):
    arch, _, tag = name.partition("/")
    if path is None and not tag:
        raise WinnowError(f"represent.pretrained.model: open_clip:{name} names no weights; write open_clip:ARCH/TAG "
                          "(e.g. open_clip:ViT-B-32/laion2b_s34b_b79k) or give path:")
    return open_clip.create_model(arch, pretrained=str(path) if path else tag).encode_image


@contextmanager
def named_weight_files(model: str, *, given: Path | None = None):
    """Inside the block, ``torch.load`` and ``safetensors.torch.load_file`` (as a library calls them on a file of its
    cache, or of ``path:``) check the file's CRCs first and name the file when it is damaged or cannot be loaded:
    torch.hub checks a cached file's hash only as it downloads it, and the Hugging Face Hub keeps no hash of a file at
    all. Before, timm's cached weights cut short were "timm could not load 'resnet18' with weights (PytorchStreamReader
    failed reading zip archive: failed finding central directory)", naming no file to delete, and a bit flipped in
    them embedded every image with other weights, exit 0 (as torchvision's cache before its own check). ``given``: the
    ``path:`` file, CRC-checked already, is not read through again, and one that cannot be loaded is said under
    ``represent.pretrained.path`` (before: "delete the file and set download: true" of the user's own file)."""
    owners = [(torch, "load")]
    safetensors_torch = import_optional("safetensors.torch")  # timm's and open_clip's own format, where installed
    if safetensors_torch is not None:
        owners.append((safetensors_torch, "load_file"))
    originals = [(owner, attribute, getattr(owner, attribute)) for owner, attribute in owners]

    def checked(load: Callable, torch_file: bool) -> Callable:
        def load_named(file, *args, **kwargs):
            if not isinstance(file, str | os.PathLike):  # a buffer the library made itself
                return load(file, *args, **kwargs)
            own = given is not None and os.path.realpath(file) == os.path.realpath(given)
            damage = None if own else torch_file_damage(file)  # path: was checked before the package was called
            fix = "delete the file and set download: true, or give path: a weights file"
            if damage:
                raise WinnowError(f"represent.pretrained.model: {model} weights in {file}: corrupt: {damage}; {fix}")
            # before: "cannot be loaded (Cannot use ``weights_only=True`` with TorchScript archives passed to
            # ``torch.load``)", after torch's warning that it received one
            if own and scripted(given):
                raise WinnowError(f"represent.pretrained.path: {given} is a TorchScript model (torch.jit.save), not a "
                                  "weights file; give it as represent.pretrained.torchscript, with model and path null, "
                                  f"or give the weights file of {model}")
            try:
                return load(file, *args, **kwargs)
            except Exception as err:  # torch's and safetensors' own errors for a file cut short or of another kind
                if out_of_memory(err):  # the process's memory, not the file's (before: a whole cached file to delete)
                    raise
                detail = first_line(err).split(". ")[0][:160]  # torch goes on for sentences about corruption
                # before: "cannot be loaded (Weights only load failed)" of a model pickled whole
                if own and isinstance(err, pickle.UnpicklingError) and saved_not_scripted(given):
                    raise WinnowError(f"represent.pretrained.path: {given} holds pickled Python objects besides "
                                      "tensors (a model saved whole, or a checkpoint with settings of its own), and a "
                                      f"pickle is never loaded; give the weights file of {model}: "
                                      "torch.save(model.state_dict(), path)") from err
                # before: torch's words for a file it never wrote, "(101)" of a text file, "(Weights only load
                # failed)" of a .npy, as of a pickle, "([enforce fail at inline_container.cc:180] )" of another zip
                if own and torch_file and not str(given).endswith(".safetensors") and foreign(given):
                    raise WinnowError(f"represent.pretrained.path: {given} is not a file of torch.save (neither its zip "
                                      f"archive nor its older pickle); give the weights file of {model}: "
                                      "torch.save(model.state_dict(), path)") from err
                if own:
                    raise WinnowError(f"represent.pretrained.path: {given} cannot be loaded ({detail}); give the "
                                      f"weights file of {model}") from err
                raise WinnowError(f"represent.pretrained.model: {model} weights in {file} cannot be loaded "
                                  f"({detail}); if it was cut short or damaged, {fix}") from err
        return load_named

    for owner, attribute, load in originals:
        setattr(owner, attribute, checked(load, owner is torch))
    try:
        yield
    finally:
        for owner, attribute, load in originals:
            setattr(owner, attribute, load)


@contextmanager
def offline(offline: bool):
    """No connection leaves the process inside the block when ``offline``: Hugging Face Hub told so (its
    variable is read when it is imported, which may have happened before) and every socket's connect refused,
    since timm's and open_clip's URL-hosted weights (torch.hub) heed no variable."""
    import socket

    before, connect = os.environ.get("HF_HUB_OFFLINE"), socket.socket.connect

    def refused(self, *args, **kwargs):
        raise OSError("represent.pretrained.download is false: no connection is made")

    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        socket.socket.connect = refused
    try:
        yield
    finally:
        socket.socket.connect = connect
        if before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before
