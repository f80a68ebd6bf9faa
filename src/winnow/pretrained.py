"""Features from a model trained elsewhere: a TorchScript file, or a timm, torchvision or open_clip model
by name. Those three packages are optional extras, imported only here and only when named; weights come
from the package's local cache or a given ``path``, and are downloaded only when ``download: true``.

Every model sees the same input: float ``(N, 3, S, S)`` images scaled to [0, 1], single-channel images
repeated to three, resized to ``input_size`` with bilinear interpolation (antialiased when shrinking),
normalised by ``mean`` and ``std`` (ImageNet's by default; set them to your model's own). It must return
``(N, D)`` real features.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from winnow.configs import PretrainedConfig
from winnow.device_rows import to_tensor
from winnow.errors import WinnowError, first_line, out_of_memory
from winnow.output_paths import check_input_file
from winnow.pretrained_failures import device_failure, failure, outputs, weights_misfit
from winnow.progress_env import download_bars, progress_bar
from winnow.stage import torch_file_damage
from winnow.stops import raise_received_stop
from winnow.torch_runtime import pick_device

LIBRARIES = {"timm": "timm", "torchvision": "torchvision", "open_clip": "open_clip_torch"}  # name: pip package


@torch.inference_mode()
def embed(images: np.ndarray, *, config: PretrainedConfig, progress: bool = True) -> tuple[np.ndarray, str]:
    """(``(N, D)`` features of uint8 ``(N, H, W, C)`` images, the model's name for the record): float64 when
    the model returns float64 or integers, else float32, so that :func:`winnow.represent.embed_imageset`
    scales them before any value is rounded to float32."""
    device = pick_device(config.device, option="represent.pretrained.device")
    net, name = _load(config, device)
    size = config.input_size
    mean = torch.tensor(config.mean, dtype=torch.float32, device=device)[:, None, None]
    std = torch.tensor(config.std, dtype=torch.float32, device=device)[:, None, None]
    starts = range(0, len(images), config.batch_size)
    if progress:
        starts = progress_bar(starts, desc=f"represent {name}", unit="batch")
    out, checked_pair = [], None
    for start in starts:
        x = to_tensor(images[start:start + config.batch_size], device).float() / 255.0
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        x = (x - mean) / std
        try:
            # each call its own copy: a model may change its input in place (x -= mean inside forward); before,
            # the calls below saw the batch the first had changed, and an eval-mode model was refused as dropout
            y = net(x.clone())
            # the first batch embedded twice: a model traced in training mode (dropout on) answers otherwise;
            # and its first two images alone: batch norm traced in training mode (eval() cannot undo a trace)
            # normalises by the batch's own statistics, so an image's features followed its batch mates
            again = None if out else net(x.clone())
            # with a batch of two or fewer, the first image alone: two images are the whole batch, whose rows a
            # batch-norm pair (the negatives of each other) or a model that reorders its batch gets wrong
            pair = None if out else net((x[:2] if len(x) > 2 else x[:1]).clone())
        # torch.jit.Error (a TorchScript model's raise or assert) is no RuntimeError; AttributeError: a
        # TorchScript module that exports methods but no forward
        except (RuntimeError, ValueError, TypeError, AssertionError, AttributeError, torch.jit.Error) as err:
            if out_of_memory(err):  # the memory, not the model's input (before: "check input_size")
                raise
            # before: a model that makes or moves a tensor on a device of its own (a CUDA constant kept by the trace)
            # was told to check input_size and its channels, quoting the last of 40 lines of torch's backend table
            fix = (f"the model puts a tensor on another device than its input's ({device}): make its tensors on the "
                   "input's device (x.device; a traced model keeps the device it was traced on) and save it again, or "
                   "where this machine has the device it uses, set represent.pretrained.device to it"
                   if config.torchscript is not None and device_failure(err) else
                   "check input_size and that it takes 3-channel images")
            raise WinnowError(f"represent.pretrained: {name} failed on a float (B, 3, {size}, {size}) batch "
                              f"({failure(err)}); {fix}") from err
        if not isinstance(y, torch.Tensor):
            # before: "returned tuple for 16 images; a feature extractor must return (N, D) with D >= 1 (pool and
            # flatten inside the model)" of features returned beside other outputs, which no pooling gathers
            raise WinnowError(f"represent.pretrained: {name} returned {outputs(y)} for {len(x)} images, not one "
                              "tensor; a feature extractor returns its (N, D) features alone: return only them from "
                              "forward")
        if y.ndim != 2 or len(y) != len(x) or y.shape[1] == 0:
            shape = tuple(y.shape)
            raise WinnowError(f"represent.pretrained: {name} returned {shape} for {len(x)} images; a feature "
                              "extractor must return (N, D) with D >= 1 (pool and flatten inside the model)")
        if y.is_quantized or y.layout != torch.strided or y.device.type == "meta":
            kind = "quantized" if y.is_quantized else "meta-device" if y.device.type == "meta" else str(y.layout)
            raise WinnowError(f"represent.pretrained: {name} returned {kind} features ({y.dtype}); a feature "
                              "extractor returns a dense tensor of numbers (dequantize() or to_dense() at the end of "
                              "the model)")
        if y.is_complex():  # a cast to real would drop the imaginary part without a word
            raise WinnowError(f"represent.pretrained: {name} returned complex features ({y.dtype}); embeddings "
                              "must be real numbers (return .real, .abs() or both as features from the model)")
        if y.dtype == torch.bool:  # before: stored as 0 and 1, where a user's file of booleans is refused as no numbers
            raise WinnowError(f"represent.pretrained: {name} returned bool features (a comparison, as logits > 0, "
                              "or a mask), not numbers; return the values before the comparison, or cast them to "
                              "float in the model (.float())")
        if out and y.shape[1] != out[0].shape[1]:
            raise WinnowError(f"represent.pretrained: {name} returned {y.shape[1]} features for a batch at image "
                              f"{start} and {out[0].shape[1]} for the first; a feature extractor returns one width")
        # float16 / bfloat16 / float32 fit float32 exactly; float64 and integers wait for the scaling. A copy:
        # a model may hand back the same tensor every call (a buffer it fills), which the next batch overwrites
        out.append((y.double() if y.dtype == torch.float64 or not y.is_floating_point() else y.float()).to(
            "cpu", copy=True))
        if again is not None and bool(torch.isfinite(out[0]).all()):  # non-finite values: named with their id later
            if not isinstance(again, torch.Tensor) or again.shape != y.shape or not torch.equal(
                    again.to(out[0].dtype).cpu(), out[0]):
                raise WinnowError(f"represent.pretrained: {name} gives other features for the same images on a "
                                  "second call (dropout or batch statistics left on: a model traced or scripted in "
                                  "training mode); call model.eval() before torch.jit.trace or script, then save")
        if pair is not None:  # a copy, as above: a buffer the next batches fill
            checked_pair = (pair.to("cpu", copy=True) if isinstance(pair, torch.Tensor) else pair), len(x)
    # checked once every batch passed its own checks, so a width that follows the batch is named as such first
    if checked_pair is not None and bool(torch.isfinite(out[0]).all()):
        pair, first_batch = checked_pair
        alone = 2 if first_batch > 2 else 1
        if not isinstance(pair, torch.Tensor) or pair.shape[1:] != out[0].shape[1:] or len(pair) != alone:
            shape = tuple(pair.shape) if isinstance(pair, torch.Tensor) else type(pair).__name__
            images = f"{alone} image{'s' * (alone > 1)}"
            raise WinnowError(f"represent.pretrained: {name} returned {shape} for a batch of {images} and "
                              f"{tuple(out[0].shape)} for the first batch of {first_batch}; a feature extractor "
                              "returns (N, D), one width")
        if not _agree(pair, out[0][:alone]):
            raise WinnowError(f"represent.pretrained: {name} gives an image other features when other images share "
                              "its batch (batch statistics left on: batch norm traced in training mode); call "
                              "model.eval() before torch.jit.trace, then save")
    return torch.cat(out).numpy(), name


def _agree(pair: torch.Tensor, first: torch.Tensor) -> bool:
    """Whether ``pair``, the model's ``(k, D)`` output for the first k images of the first batch alone,
    matches ``first``, their rows within that batch, up to the float rounding another batch size may bring (a
    kernel sums in another order): a thousandth of the features' largest magnitude."""
    pair, first = pair.double().cpu(), first.double()
    return bool(((pair - first).abs() <= 1e-3 * first.abs().max()).all())


def _load(config: PretrainedConfig, device: torch.device) -> tuple[Callable[[torch.Tensor], torch.Tensor], str]:
    """(the model as a function of a normalised batch, its name), on ``device`` in eval mode."""
    if config.torchscript is not None:
        path = Path(config.torchscript)
        check_input_file(path, option="represent.pretrained.torchscript",
                   fix="save one with torch.jit.save(torch.jit.script(model), path)")
        # torch.jit.load checks no CRC either: before, a TorchScript file with a bit flipped in a weight embedded
        # every image with other weights, exit 0 (only the sha256 in the metrics changed)
        damage = torch_file_damage(path)
        if damage:
            raise WinnowError(f"represent.pretrained.torchscript: {path}: corrupt: {damage}; copy or save the model "
                              "again")
        fix = "save one with torch.jit.save(torch.jit.script(model), path)"
        try:
            net = torch.jit.load(str(path), map_location=device)
        except (RuntimeError, ValueError) as err:
            if out_of_memory(err):  # the process's memory, not the file's (before: "is not a TorchScript file")
                raise
            # before: "(PytorchStreamReader failed locating file constants.pkl: file not found. This is an internal
            # miniz error. If you are seeing this error, there is a high likelihood that your checkpoint file is
            # corrupted. ...)" of a state_dict saved with torch.save, which was whole
            if _saved_not_scripted(path):
                raise WinnowError(f"represent.pretrained.torchscript: {path} was written by torch.save (a state_dict "
                                  "or a pickled model), not by torch.jit.save; load the model in Python, then "
                                  f"{fix}") from err
            raise WinnowError(f"represent.pretrained.torchscript: {path} is not a TorchScript file "
                              f"({first_line(err).split('. ')[0]}); {fix}") from err
        return net.eval(), str(path)
    library, _, name = str(config.model).partition(":")
    if library not in LIBRARIES or not name:
        raise WinnowError(f"represent.pretrained.model: {config.model!r}; write timm:NAME, torchvision:NAME or "
                          "open_clip:ARCH/TAG")
    try:
        with _offline(not config.download):  # imported offline: the hub reads its variable at import
            module = __import__(library)
    except ImportError as err:
        raise_received_stop(err)  # a Ctrl-C that cut the import short: not a missing package
        raise WinnowError(f"represent.pretrained.model: {config.model} needs {library}, which is not installed (pip "
                          f"install {LIBRARIES[library]}; an optional extra), or give torchscript: a file") from err
    path = Path(config.path) if config.path else None
    if path is not None:
        check_input_file(path, option="represent.pretrained.path", fix=f"give the weights file of {config.model}")
        damage = torch_file_damage(path)  # torch.load checks no CRC: flipped bits would embed with other weights
        if damage:
            raise WinnowError(f"represent.pretrained.path: {path}: corrupt: {damage}; download the weights again")
    loader = {"timm": _timm, "torchvision": _torchvision, "open_clip": _open_clip}[library]
    try:
        with _offline(not config.download), _named_weight_files(str(config.model), given=path), download_bars():
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
    return net, str(config.model)


def _saved_not_scripted(path: Path) -> bool:
    """Whether ``path`` is an archive of torch.save's (a ``data.pkl`` and its tensors) rather than of torch.jit.save's,
    which adds the model's code and ``constants.pkl``, or torch.save's file of before torch 1.6 (or
    ``_use_new_zipfile_serialization=False``), a pickle opening on torch's magic number: before, "not a TorchScript
    file (PytorchStreamReader failed reading zip archive: failed finding central directory)"."""
    legacy = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)
    try:
        with open(path, "rb") as handle:
            if handle.read(len(legacy)) == legacy:
                return True
        with zipfile.ZipFile(path) as archive:
            names = {name.partition("/")[2] for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError):
        return False
    return "data.pkl" in names and "constants.pkl" not in names


def _foreign(path: Path) -> bool:
    """Whether ``path`` is no file torch.save wrote: neither a zip archive (one cut short keeps its opening) nor a
    pickle opening on torch's magic number, or a whole zip archive without ``data.pkl``."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                return not _saved_not_scripted(path)
        with zipfile.ZipFile(path) as archive:
            return not any(name.partition("/")[2] == "data.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):  # a zip archive cut short: torch's own words say what is wrong
        return False


def _scripted(path: Path) -> bool:
    """Whether ``path`` is an archive of torch.jit.save's (its model's code and ``constants.pkl``)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.partition("/")[2] == "constants.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


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
def _named_weight_files(model: str, *, given: Path | None = None):
    """Inside the block, ``torch.load`` and ``safetensors.torch.load_file`` (as a library calls them on a file of its
    cache, or of ``path:``) check the file's CRCs first and name the file when it is damaged or cannot be loaded:
    torch.hub checks a cached file's hash only as it downloads it, and the Hugging Face Hub keeps no hash of a file at
    all. Before, timm's cached weights cut short were "timm could not load 'resnet18' with weights (PytorchStreamReader
    failed reading zip archive: failed finding central directory)", naming no file to delete, and a bit flipped in
    them embedded every image with other weights, exit 0 (as torchvision's cache before its own check). ``given``: the
    ``path:`` file, CRC-checked already, is not read through again, and one that cannot be loaded is said under
    ``represent.pretrained.path`` (before: "delete the file and set download: true" of the user's own file)."""
    owners = [(torch, "load")]
    try:
        import safetensors.torch  # timm's and open_clip's own format, where the package is installed
        owners.append((safetensors.torch, "load_file"))
    except ImportError as err:
        raise_received_stop(err)  # a Ctrl-C that cut the import short stops, not falls back
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
            if own and _scripted(given):
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
                if own and isinstance(err, pickle.UnpicklingError) and _saved_not_scripted(given):
                    raise WinnowError(f"represent.pretrained.path: {given} holds pickled Python objects besides "
                                      "tensors (a model saved whole, or a checkpoint with settings of its own), and a "
                                      f"pickle is never loaded; give the weights file of {model}: "
                                      "torch.save(model.state_dict(), path)") from err
                # before: torch's words for a file it never wrote, "(101)" of a text file, "(Weights only load
                # failed)" of a .npy, as of a pickle, "([enforce fail at inline_container.cc:180] )" of another zip
                if own and torch_file and not str(given).endswith(".safetensors") and _foreign(given):
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
def _offline(offline: bool):
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
