"""train.stream: training and prediction from batches read off host memory or the memory-mapped imageset
give what the all-on-device path gives."""

from dataclasses import replace

import numpy as np
import torch

from winnow.device_rows import StreamedRows, channel_stats, device_images, to_tensor
from winnow.training import TrainConfig, embed, fit, predict_proba

CONFIG = TrainConfig(model="lenet5", epochs=2, batch_size=16, crop_padding=1, hflip=True, device="cpu", threads=1)


def _weights(model: torch.nn.Module) -> list[tuple[str, bytes]]:
    return [(name, t.detach().contiguous().numpy().tobytes()) for name, t in sorted(model.state_dict().items())]


def _binary_set(rng, n=96):
    """Pixels of 0 and 255 only; the class is which half is lit."""
    labels = np.arange(n) % 2
    images = (rng.random((n, 12, 12, 1)) < 0.15).astype(np.uint8) * 255
    images[labels == 1, :6] = 255 - images[labels == 1, :6]
    return images, labels


def test_streamed_training_gives_the_same_weights_and_probabilities_as_all_on_device(tmp_path, rng):
    images, labels = _binary_set(rng)
    np.save(tmp_path / "images.npy", images)
    mapped = np.load(tmp_path / "images.npy", mmap_mode="r")  # as an imageset is read
    on_device = fit(images, labels, images[:32], labels[:32], config=replace(CONFIG, stream="never"),
                    num_classes=2, seed=3, progress=False)
    streamed = fit(mapped, labels, mapped[:32], labels[:32], config=replace(CONFIG, stream="always"),
                   num_classes=2, seed=3, progress=False)
    assert _weights(streamed.model) == _weights(on_device.model)
    assert streamed.history == on_device.history
    np.testing.assert_array_equal(predict_proba(streamed, mapped), predict_proba(on_device, images))
    np.testing.assert_array_equal(embed(streamed, mapped), embed(on_device, images))


def test_streamed_channel_stats_equal_the_device_ones_bit_for_bit(rng):
    """Both are the exact sums rounded once (before, the device's float32 reduction could differ in the last bit,
    and train.stream: auto, which streams by the free memory of the moment, changed the model of a seed)."""
    images = rng.integers(0, 256, (300, 9, 7, 3), dtype=np.uint8)
    cpu = torch.device("cpu")
    device_mean, device_std = channel_stats(to_tensor(images, cpu))
    mean, std = channel_stats(StreamedRows(images, cpu), batch_size=64)
    assert mean.numpy().tobytes() == device_mean.numpy().tobytes()
    assert std.numpy().tobytes() == device_std.numpy().tobytes()


def test_streamed_rows_index_like_the_device_tensor(rng):
    images = rng.integers(0, 256, (50, 5, 4, 3), dtype=np.uint8)
    cpu = torch.device("cpu")
    tensor, rows = to_tensor(images, cpu), StreamedRows(images, cpu)
    order = torch.randperm(50, generator=torch.Generator().manual_seed(0))[:17]
    assert rows.shape == tuple(tensor.shape) and len(rows) == 50
    assert torch.equal(rows[order], tensor[order]) and torch.equal(rows[10:20], tensor[10:20])


def test_auto_streams_only_what_does_not_fit(rng, monkeypatch):
    images = rng.integers(0, 256, (8, 4, 4, 1), dtype=np.uint8)
    cpu = torch.device("cpu")
    assert isinstance(device_images(images, cpu, stream="auto"), torch.Tensor)
    monkeypatch.setattr("winnow.device_rows.fits", lambda nbytes, device: False)
    assert isinstance(device_images(images, cpu, stream="auto"), StreamedRows)
    assert isinstance(device_images(images, cpu, stream="never"), torch.Tensor)
