"""Hostile cases of predict_proba's memory beside gan-synthesize's guard, probe 80 (mem):

- predict_proba held, beside the images, a full-size contiguous copy and a full-size permuted copy of them (the GAN's
  samples are a transposed view, so both), and its float32 logits three times over (per batch, concatenated, softmaxed)
  before the float32 result: none of it counted by gan_memory.generation_bytes. 20,000 32x32x3 samples of 100 classes
  took 276 MiB to generate and judge, guarded as 218 MiB. On the CPU it now reads a batch at a time and writes each
  batch's probabilities into the result, the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import winnow
from winnow.device_rows import to_tensor
from winnow.gan import Generator, generate
from winnow.gan_memory import generation_bytes
from winnow.models import build_model
from winnow.training import Trained, TrainConfig, normalise, predict_proba

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _classifier(channels: int, *, classes: int = 10, eval_batch_size: int = 96, stream: str = "never") -> Trained:
    torch.manual_seed(0)
    model = build_model("lenet5", in_channels=channels, num_classes=classes, image_size=32)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=8, threads=1, device="cpu", stream=stream,
                         eval_batch_size=eval_batch_size)
    return Trained(model, torch.full((channels,), 0.5), torch.full((channels,), 0.25), [], 0, config)


def _samples(channels: int, n: int) -> np.ndarray:
    torch.manual_seed(1)
    gen = Generator(latent_dim=16, num_classes=10, channels=channels, image_size=32, width=8)
    return generate(gen, np.arange(n) % 10, seed=0)  # a transposed view of (N, C, S, S), as the stage judges


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("stream", ["never", "always"])
def test_probabilities_are_the_bytes_of_one_tensor_of_all_the_images(channels, stream):
    trained, images = _classifier(channels, stream=stream), _samples(channels, 250)  # 96 a batch: the last of 58
    # what predict_proba computed before: one (N, C, H, W) tensor of all of them, its batches' logits concatenated,
    # one softmax
    with torch.inference_mode():
        x = to_tensor(images, torch.device("cpu"))
        logits = torch.cat([trained.model.eval()(normalise(x[i:i + 96], trained.mean, trained.std))
                            for i in range(0, len(x), 96)])
        expected = torch.softmax(logits, dim=1).numpy()
    for given in (images, np.ascontiguousarray(images)):
        probs = predict_proba(trained, given)
        assert probs.dtype == np.float32 and probs.shape == (250, 10)
        assert probs.tobytes() == expected.tobytes()


def test_no_image_gives_no_row_of_each_class_not_a_traceback():
    # before: a traceback, "ValueError: torch.cat(): expected a non-empty list of Tensors"
    probs = predict_proba(_classifier(3), np.zeros((0, 32, 32, 3), np.uint8))
    assert probs.dtype == np.float32 and probs.shape == (0, 10)


# peak RSS above the state before each step, in one fresh process: VmHWM reset through clear_refs after the memory the
# step before freed is handed back (malloc_trim), and a small warm-up run first (the kernels' one-off allocations and
# the classifier's batch are in the base)
_MEASURE = """
import ctypes, gc, json, sys, numpy as np, torch
from winnow.gan import Generator, generate
from winnow.models import build_model
from winnow.training import Trained, TrainConfig, predict_proba
classes, side, sizes = int(sys.argv[1]), int(sys.argv[2]), [int(n) for n in sys.argv[3:]]
torch.manual_seed(0)
torch.set_num_threads(1)
gen = Generator(latent_dim=16, num_classes=classes, channels=3, image_size=side, width=8)
model = build_model("lenet5", in_channels=3, num_classes=classes, image_size=side)
config = TrainConfig(model="lenet5", epochs=1, batch_size=8, threads=1, device="cpu", stream="never",
                     eval_batch_size=64)
trained = Trained(model, torch.full((3,), 0.5), torch.full((3,), 0.25), [], 0, config)
labels = np.arange(max(sizes)) % classes
given = np.ascontiguousarray(generate(gen, labels, seed=2))
steps = {"judge": lambda n: predict_proba(trained, given[:n]),
         "generate": lambda n: predict_proba(trained, generate(gen, labels[:n], seed=0))}
def status(key):
    return next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith(key))
peaks = {}
for step, run in steps.items():
    run(256)
    for n in sizes:
        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        open("/proc/self/clear_refs", "w").write("5")
        base = status("VmRSS")
        run(n)
        peaks.setdefault(step, []).append(status("VmHWM") - base)
print(json.dumps(peaks))
"""
CLASSES, SIDE = 1000, 16  # 768 bytes of pixels a sample, 4,000 of float32 probabilities


@pytest.fixture(scope="module")
def held() -> dict[str, float]:
    """Bytes a sample of peak RSS of predict_proba alone ("judge") and of generating and judging the samples
    ("generate"), between 1,000 and 9,000 samples: what a step's fixed part (batches, kernels, allocator) leaves out."""
    # glibc's malloc as it comes: a MALLOC_* or GLIBC_TUNABLES setting of the shell moves what RSS shows (measured
    # MALLOC_MMAP_THRESHOLD_=65536: "generate" 4,579 bytes a sample, under the 4,587 the bound below holds)
    env = {key: value for key, value in os.environ.items() if not key.startswith("MALLOC_") and key != "GLIBC_TUNABLES"}
    env.update(PYTHONPATH=str(Path(winnow.__file__).parents[1]), OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(CLASSES), str(SIDE), "1000", "9000"], env=env,
                          capture_output=True, text=True, check=True)
    return {step: (big - small) / 8000 for step, (small, big) in json.loads(done.stdout).items()}


def test_predict_proba_holds_its_probabilities_not_copies_of_the_images(held):
    # 4,000 bytes a sample of probabilities: measured 3,800 to 4,000 now; before, 13,600 to 18,000 (a permuted copy of
    # the pixels, the logits concatenated and softmaxed and the float32 copy beside the result). Under the
    # probabilities and one more copy of the pixels
    assert held["judge"] < 4000 + 768


def test_the_guard_counts_what_generating_and_judging_the_samples_hold(held):
    # per sample the guard counts 3 * 768 pixels, 4 * 16 latent, 4,000 of probabilities and 512 of bookkeeping: 6,880
    # bytes. Generating and judging them holds one array of pixels, the latent vectors and the probabilities: 4,832,
    # measured 5,100 to 5,900 (ratio 1.17 to 1.35); the guard's two more arrays of pixels are the Fréchet features'
    # copies of a class, made later. Before: measured 16,000 to 18,500, over the guard's count 2.3 to 2.7 times
    counted = generation_bytes(1, image_shape=(SIDE, SIDE, 3), latent_dim=16, width=8, num_classes=CLASSES) - \
        generation_bytes(0, image_shape=(SIDE, SIDE, 3), latent_dim=16, width=8, num_classes=CLASSES)
    assert counted == 6880
    # the guard counts at least what is held. Not bounded above by the measurement: peak RSS a sample read 4,548 in a
    # full suite run (stop 81) and 5,100 to 5,900 alone, as transparent huge pages were or were not to be had, so
    # 1.5 times it failed under load on code that had not changed; the count is 1.42 times the 4,832 held by design
    assert held["generate"] <= counted
