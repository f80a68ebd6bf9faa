"""Hostile cases of gan-synthesize's memory, probe 79 (ganmem):

- the memory guard counted a sample's latent vector and pixels alone, where generate held every batch's float32
  outputs, their concatenation and its temporaries at once and the stage copies the samples (20,000 32x32x3 samples:
  guarded as 66 MiB, 815 MiB peak RSS); generate now makes each batch uint8 as it comes, and the guard counts three
  arrays of pixels, the latent vectors, the probabilities, each sample's bookkeeping and one batch's activations;
- a generator drawing NaN: cast to uint8, the samples came out black, without a word; now one line.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import yaml

from hostile_harness import refused_line
from test_gan import TINY, gan_project
from winnow.errors import WinnowError
from winnow.gan import build, generate
from winnow.gan_memory import GENERATE_BATCH, SAMPLE_BOOKKEEPING_BYTES, generation_bytes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generator():
    torch.manual_seed(0)
    gen, _ = build(TINY, num_classes=3, channels=1, image_size=8)
    return gen.eval()


def test_samples_made_uint8_a_batch_at_a_time_are_those_of_one_rounding_of_all_outputs():
    gen, labels = _generator(), np.arange(11) % 3
    # what generate computed before, independently of its batches: all float outputs at once, rounded once
    z = torch.randn(len(labels), TINY.latent_dim, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        whole = gen(z, torch.as_tensor(labels)).float()
    expected = ((whole + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for batch_size in (3, 11, GENERATE_BATCH):
        out = generate(gen, labels, seed=4, batch_size=batch_size)
        assert out.dtype == np.uint8 and out.shape == (11, 8, 8, 1)
        np.testing.assert_array_equal(out, expected)


def test_a_generator_drawing_nan_is_refused_in_one_line_not_cast_to_black_samples():
    gen = _generator()
    with torch.no_grad():
        gen.body[-2].bias.fill_(float("nan"))  # every pixel NaN: before, 0 after the uint8 cast, a black image
    with pytest.raises(WinnowError) as refused:
        generate(gen, np.array([2, 0, 1]), seed=0, batch_size=2)
    assert str(refused.value) == (
        "gan: the generator drew non-finite pixels (NaN or inf) for sample 0 of 3 (label 2): its weights are broken; "
        "remove models/gan.pt to train the GAN afresh, with a lower gan.train.lr, gan.train.lr_d or "
        "gan.train.ac_weight")


def test_the_guard_counts_three_arrays_of_pixels_and_a_batch_of_float_activations():
    # 8x8x1 samples (64 bytes), latent 8, width 4, 3 classes: per sample 3 arrays of pixels, a float32 latent vector
    # and 3 float32 probabilities, and its bookkeeping; a batch of 512 holds float32 (8, 2, 2), (4, 4, 4) and (1, 8, 8)
    # activations, a layer's input and output at once
    per_sample = 3 * 64 + 4 * 8 + 4 * 3 + SAMPLE_BOOKKEEPING_BYTES
    batch = 2 * 4 * 512 * (8 * 2 * 2 + 4 * 4 * 4 + 64)
    assert generation_bytes(1000, image_shape=(8, 8, 1), latent_dim=8, width=4, num_classes=3) == (
        1000 * per_sample + batch)


@pytest.mark.hostile("params")
def test_a_per_class_the_old_guard_passed_but_memory_cannot_hold_is_refused_before_training(tmp_path):
    project = gan_project(tmp_path / "project", weak_k=2)  # weak 'a' and 'c'; 'c' has no train image: 'a' alone
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    per_class = total // (3 * 64 + 4 * 8 + 4 * 3 + SAMPLE_BOOKKEEPING_BYTES) + 1
    # before, the guard counted per_class * (4 * 8 + 64) bytes, under a sixth of this machine's memory, and passed it
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["gan"]["per_class"] = per_class
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    line = refused_line(project, "gan-synthesize")  # no models/gan.pt, nothing written
    assert line.startswith(f"error: gan.per_class {per_class:,}: {per_class:,} samples take ")
    assert line.endswith(f" GiB, more than this machine's {total / 2**30:,.1f} GiB of memory; lower it")
