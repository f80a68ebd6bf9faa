import numpy as np
import pytest
import torch

from winnow.errors import WinnowError
from winnow.models import MODELS, build_model
from winnow.training import TrainConfig, augment, fit, load, predict_proba, save


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("channels, size", [(1, 28), (3, 32)])
def test_output_and_feature_shapes(name, channels, size):
    model = build_model(name, in_channels=channels, num_classes=7, image_size=size).eval()
    x = torch.randn(3, channels, size, size)
    assert model(x).shape == (3, 7)
    assert model.features(x).shape[0] == 3 and model.features(x).ndim == 2


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_few_steps_lower_the_loss(name):
    torch.manual_seed(0)
    model = build_model(name, in_channels=1, num_classes=3, image_size=16)
    x, y = torch.randn(24, 1, 16, 16), torch.arange(24) % 3
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    losses = []
    for _ in range(8):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_unknown_model_is_a_clear_error():
    with pytest.raises(WinnowError, match="unknown model 'vit'"):
        build_model("vit", in_channels=1, num_classes=2, image_size=28)


def test_augment_crops_within_padding_and_flips():
    batch = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4) + 1
    gen = torch.Generator().manual_seed(0)
    out = augment(batch, padding=1, hflip=False, generator=gen)
    assert out.shape == batch.shape
    for i in range(2):  # every output is a 4x4 window of the zero-padded input
        padded = torch.nn.functional.pad(batch[i, 0], (1, 1, 1, 1))
        windows = [padded[r:r + 4, c:c + 4] for r in range(3) for c in range(3)]
        assert any(torch.equal(out[i, 0], w) for w in windows)
    flipped = augment(batch.repeat(50, 1, 1, 1), padding=0, hflip=True, generator=gen)
    is_flip = [torch.equal(f, batch[i % 2].flip(2)) for i, f in enumerate(flipped)]
    is_kept = [torch.equal(f, batch[i % 2]) for i, f in enumerate(flipped)]
    assert all(f != k for f, k in zip(is_flip, is_kept))  # each image is either mirrored or left as it was
    assert 30 <= sum(is_flip) <= 70  # a fair coin per image: Binomial(100, 0.5), 50 +- 4 standard deviations


def _toy_data(rng, n=120):
    labels = np.arange(n) % 3
    images = rng.integers(0, 40, (n, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, :6] += 150  # class 1: bright top, class 2: bright bottom
    images[labels == 2, 6:] += 150
    return images, labels


def test_fit_learns_is_deterministic_on_cpu_and_round_trips(tmp_path, rng):
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=3, batch_size=16, crop_padding=1, device="cpu")
    first = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=False)
    second = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=False)
    assert [h["train_loss"] for h in first.history] == [h["train_loss"] for h in second.history]
    probs = predict_proba(first, images)
    assert probs.shape == (120, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == labels).mean() > 0.9
    assert first.best_epoch == 1 + int(np.argmax([h["val_acc"] for h in first.history]))
    assert first.best_val_acc == max(h["val_acc"] for h in first.history)
    save(first, tmp_path / "m.pt", classes=["a", "b", "c"], image_shape=images.shape[1:])
    again, classes = load(tmp_path / "m.pt", device="cpu")
    assert classes == ["a", "b", "c"]
    np.testing.assert_allclose(predict_proba(again, images), probs, atol=1e-6)


def test_fit_writes_dvclive_history(tmp_path, rng):
    images, labels = _toy_data(rng, n=30)
    config = TrainConfig(model="lenet5", epochs=2, batch_size=16, device="cpu")
    fit(images, labels, images, labels, config=config, num_classes=3, seed=0, log_dir=tmp_path / "live",
        progress=False)
    assert (tmp_path / "live" / "metrics.json").is_file()
    assert len((tmp_path / "live" / "plots" / "metrics" / "val_acc.tsv").read_text().splitlines()) == 3


def test_unknown_train_parameter():
    with pytest.raises(WinnowError, match="unknown parameter"):
        TrainConfig.from_params({"epochz": 3})


def test_fit_refuses_zero_epochs_before_dvclive_writes_a_log(tmp_path):
    images, labels = np.zeros((4, 8, 8, 1), np.uint8), np.array([0, 1, 0, 1])
    with pytest.raises(WinnowError, match=r"^train.epochs: 0 is below 1$"):
        fit(images, labels, images, labels, config=TrainConfig(model="lenet5", epochs=0, device="cpu"), num_classes=2,
            seed=0, log_dir=tmp_path / "live", progress=False)
    assert not (tmp_path / "live").exists()
