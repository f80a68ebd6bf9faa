"""What gan-synthesize holds in memory at once, for its guard before the GAN trains (:func:`generation_bytes`): kept
apart from :mod:`winnow.gan`, which it would push past 400 lines, and free of torch."""

from __future__ import annotations

# samples a batch of :func:`winnow.gan.generate`: its float32 outputs and activations are held for one batch at a time
GENERATE_BATCH = 512
# what a sample costs the stage beside its pixels, latent vector and probabilities: its id, digest, intended label and
# manifest row (Python strings and pandas columns): 102,000 8x8 samples raised the stage's peak RSS 62 MiB past
# predict_proba's, about 640 bytes a sample, 3 * 64 of them pixels and 44 latent and probabilities
SAMPLE_BOOKKEEPING_BYTES = 512


def generation_bytes(samples: int, *, image_shape: tuple[int, int, int], latent_dim: int, width: int,
                     num_classes: int, batch_size: int = GENERATE_BATCH) -> int:
    """Bytes gan-synthesize holds at once, at most, for ``samples`` uint8 ``(S, S, C)`` samples: a sample's 3 * pixels +
    4 * latent_dim + 4 * num_classes + SAMPLE_BOOKKEEPING_BYTES, and a batch's float32 activations, a layer's input and
    output at once: 2 * 4 * batch * (2 * width * (S/4)^2 + width * (S/2)^2 + C * S^2). Three arrays of pixels: the
    samples and at most two copies at once (a class's masked and permuted copies for the Fréchet features; augmented's
    extra images); :func:`winnow.training.predict_proba` copies a batch of them only, on the CPU, and holds the
    probabilities once (before, two full copies and its logits three times more, uncounted: 20,000 32x32x3 samples of
    100 classes took 276 MiB to generate and judge, guarded as 218 MiB). Before, one array and the latent vectors: 20,000 32x32x3 samples
    were guarded as 66 MiB and took 815 MiB (every batch's float32 outputs, their concatenation and temporaries)."""
    size, _, channels = image_shape
    pixels = size * size * channels
    activations = 2 * 4 * batch_size * (2 * width * (size // 4) ** 2 + width * (size // 2) ** 2 + pixels)
    return samples * (3 * pixels + 4 * latent_dim + 4 * num_classes + SAMPLE_BOOKKEEPING_BYTES) + activations
