"""Features from a model trained elsewhere: a TorchScript file (:mod:`winnow.torchscript_files`), or a timm,
torchvision or open_clip model by name (:mod:`winnow.pretrained_libraries`: optional extras, imported only when
named; weights from the package's local cache or a given ``path``, downloaded only when ``download: true``).

Every model sees the same input: float ``(N, 3, S, S)`` images scaled to [0, 1], single-channel images
repeated to three, resized to ``input_size`` with bilinear interpolation (antialiased when shrinking),
normalised by ``mean`` and ``std`` (ImageNet's by default; set them to your model's own). It must return
``(N, D)`` real features.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from winnow.configs import PretrainedConfig
from winnow.device_rows import to_tensor
from winnow.errors import WinnowError, out_of_memory
from winnow.pretrained_failures import device_failure, failure, outputs, wants_more_inputs
from winnow.pretrained_libraries import load_by_name
from winnow.progress_env import progress_bar
from winnow.torch_runtime import pick_device
from winnow.torchscript_files import load_torchscript


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
                   # before: "check input_size and that it takes 3-channel images" of forward(self, x, y)
                   "its forward takes more than the one batch it is given: save a model whose forward(x) takes the "
                   "images alone" if wants_more_inputs(err) else
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
        return load_torchscript(path, device), str(path)
    return load_by_name(config, device), str(config.model)
