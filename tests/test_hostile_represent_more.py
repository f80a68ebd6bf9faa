"""More hostile cases for the models that train and embed (represent's sources, the train stage): a training
whose weights break on an epoch's last step, batch norm handed a batch of one image, and a TorchScript model
whose batch norm was traced in training mode. Each ends in one ``error:`` line with nothing left behind, or
runs to the end with every image used.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from hostile_harness import assert_error_line, assert_nothing_left, run_stage
from test_hostile_intermediates import _fails, _with_params, project, template  # noqa: F401 (fixtures)
from test_hostile_represent import N, ids, npy, parquet, run_represent, separable, torchscript
from test_represent import blobs, write_blobs
from winnow.checkpoints import load
from winnow.epoch_batches import epoch_batches
from winnow.errors import WinnowError
from winnow.models import build_model, lone_image_fails

# --- training: weights that break on the last step of an epoch ----------------------------------------


@pytest.mark.hostile("training")
def test_a_training_whose_weights_break_after_the_epochs_loss_saves_no_model(project):
    # before: exit 0 and models/baseline.pt written. One step an epoch (18 images): epoch 2's loss (1e22) is
    # taken before its step, which leaves weights whose val logits are NaN; NaN logits argmax to class 0, so
    # that epoch scored 1/3 on val (tying epoch 1 here, beating it on a val split where class 0 leads) and
    # could be the one saved
    _with_params(project, train={"lr": 1e6, "optimizer": "sgd", "epochs": 2})
    line = _fails(project, "train", "baseline", fragments=())
    assert line == "error: train: the val loss became nan at epoch 2 (sgd, lr 1e+06); lower train.lr"
    assert not (project / "models/baseline.pt").exists()


# --- batch norm and a batch of one image -----------------------------------------------------------------


@pytest.mark.hostile("training")
def test_resnet18_on_8px_images_trains_on_a_last_batch_of_one_image(project):
    # before: a ValueError traceback ("Expected more than 1 value per channel when training"): resnet18's last
    # stage is 1x1 on 8x8 images, and 18 train images in batches of 17 leave one image for the last batch
    _with_params(project, train={"model": "resnet18", "epochs": 1, "patience": None, "batch_size": 17})
    done = run_stage(project, "train", "baseline", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    trained, classes = load(project / "models/baseline.pt", device="cpu")
    assert classes == ["a", "b", "c"] and trained.config.model == "resnet18" and len(trained.history) == 1
    assert np.isfinite(trained.history[0]["train_loss"])
    assert "train@baseline: 18 images" in done.stdout


@pytest.mark.hostile("training")
def test_resnet18_on_8px_images_in_batches_of_one_is_one_line(project):
    # before: the same ValueError traceback, on the first step
    _with_params(project, train={"model": "resnet18", "epochs": 1, "patience": None, "batch_size": 1})
    line = _fails(project, "train", "baseline", fragments=())
    assert line == ("error: train.batch_size: 1 image a batch leaves resnet18's batch norm one value per channel on "
                    "8x8 images, which it cannot normalise; train on at least 2 images a batch (or larger images, "
                    "or lenet5)")
    assert not (project / "models/baseline.pt").exists()


@pytest.mark.parametrize("name, side, fails", [
    ("resnet18", 8, True),  # three stride-2 stages: ceil(8 / 8) = 1, one value per channel
    ("resnet18", 9, False),  # ceil(9 / 8) = 2: 2x2 values per channel
    ("cnn_small", 8, False),  # no batch norm
    ("lenet5", 8, False),
])
def test_a_lone_image_fails_only_a_model_whose_batch_norm_sees_one_value(name, side, fails):
    model = build_model(name, in_channels=1, num_classes=3, image_size=side).train()
    assert lone_image_fails(model, in_channels=1, image_size=side) is fails
    assert model.training  # the mode it was in


def test_a_last_batch_of_one_joins_the_one_before_only_where_it_would_fail():
    assert epoch_batches(18, 17, lone_fails=True, model="resnet18", image_shape=(8, 8)) == [(0, 18)]
    assert epoch_batches(19, 6, lone_fails=True, model="resnet18", image_shape=(8, 8)) == [(0, 6), (6, 12), (12, 19)]
    # where a lone image trains, every batch stays as it was: the same steps, the same weights as before
    assert epoch_batches(19, 6, lone_fails=False, model="lenet5", image_shape=(8, 8)) == [(0, 6), (6, 12), (12, 18),
                                                                                           (18, 19)]
    with pytest.raises(WinnowError, match=r"^train: 1 train image leaves resnet18's batch norm one value"):
        epoch_batches(1, 64, lone_fails=True, model="resnet18", image_shape=(8, 8))


# --- a TorchScript model whose batch norm uses the batch's statistics -------------------------------------


class Normed(nn.Module):
    """A conv, batch norm and global mean: (B, 3, S, S) -> (B, 4)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(self.conv(x))).mean(dim=(2, 3))


def traced(training: bool):
    def write(project):
        model = Normed().train(training)
        if not training:  # running statistics of its own, as a trained model has
            model.norm.running_mean.uniform_(-0.5, 0.5)
        torch.jit.save(torch.jit.trace(model, torch.rand(4, 3, 16, 16)), str(project / "model.pt"))
    return write


@pytest.mark.hostile("represent")
def test_a_torchscript_model_with_batch_norm_traced_in_training_mode_is_one_line(tmp_path):
    # before: accepted, exit 0: the trace keeps batch statistics whatever eval() says, so each image's features
    # depended on the 31 others in its batch (the same batch twice agrees, which the dropout check compares)
    project, before, done = run_represent(tmp_path, write=traced(True), source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu",
                                                      "batch_size": 32})
    assert_error_line(done, "represent.pretrained: model.pt gives an image other features when other images share "
                            "its batch (batch statistics left on: batch norm traced in training mode); call "
                            "model.eval() before torch.jit.trace, then save")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_torchscript_model_with_batch_norm_traced_in_eval_mode_is_embedded(tmp_path):
    project, _, done = run_represent(tmp_path, write=traced(False), source="pretrained",
                                     pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu",
                                                 "batch_size": 32})
    assert done.returncode == 0, done.stderr[-3000:]
    assert np.load(project / "data/represent/embeddings.npy").shape == (N, 4)


class InPlace(nn.Module):
    """An eval-mode model that takes an offset from its input in place, as ``x -= mean`` inside forward."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(3, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x.sub_(0.1)
        return self.lin(x.mean((2, 3)))


@pytest.mark.hostile("represent")
def test_a_torchscript_model_that_changes_its_input_in_place_is_embedded_from_the_unchanged_images(tmp_path):
    # before: "model.pt gives other features for the same images on a second call (dropout or batch statistics
    # left on ...)", exit 1: the first call had taken 0.1 from the batch the second call was then handed
    model = InPlace().eval()
    project, _, done = run_represent(tmp_path, write=torchscript(model), source="pretrained",
                                     pretrained={"torchscript": "model.pt", "input_size": 12, "device": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]
    # blobs() are 12x12 grey: repeated to three channels, not resized, normalised by ImageNet's mean and std
    x = torch.from_numpy(blobs().images).permute(0, 3, 1, 2).float().expand(-1, 3, -1, -1) / 255.0
    x = (x - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    with torch.no_grad():
        expected = model.lin((x - 0.1).mean((2, 3))).numpy()
    np.testing.assert_allclose(np.load(project / "data/represent/embeddings.npy"), expected, rtol=1e-5, atol=1e-6)


class Widening(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, : 4 * x.shape[0]]  # the width follows the batch


@pytest.mark.hostile("represent")
def test_a_model_whose_width_follows_the_batch_is_one_line_in_a_single_batch(tmp_path):
    # before: accepted, exit 0: all 48 images in one batch of 64 gave 192 features, which no other batch size
    # would (the check of widths compares batches, and there was one)
    project, before, done = run_represent(tmp_path, write=torchscript(Widening()), source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu",
                                                      "batch_size": 64})
    assert_error_line(done, "represent.pretrained: model.pt returned (2, 8) for a batch of 2 images and (48, 192) "
                            "for the first batch of 48; a feature extractor returns (N, D), one width")
    assert_nothing_left(project, before)


# --- what metrics/represent.json counts ---------------------------------------------------------------------


@pytest.mark.hostile("represent")
def test_the_image_counts_of_the_metrics_include_the_trusted_split(tmp_path):
    # before: {"train": 32, "val": 8, "test": 4}: the 4 trusted images were embedded (48 rows) but not counted
    def trusted(project):
        data = blobs()
        data.manifest.loc[data.manifest.index[-4:], "split"] = "trusted"
        write_blobs(project, data)
        npy(separable())(project)

    project, _, done = run_represent(tmp_path, write=trusted, source="file", file="mine.npy")
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((project / "metrics/represent.json").read_text())
    assert metrics["images"] == {"train": 32, "val": 8, "test": 4, "trusted": 4}
    assert len(np.load(project / "data/represent/embeddings.npy")) == N


# --- a user's parquet whose embedding cell is null --------------------------------------------------------


@pytest.mark.hostile("represent")
def test_a_null_embedding_names_its_own_image(tmp_path):
    # before: "the embedding of id 'img-1' has 2 values where id 'img-0' has 0": the wrong image blamed
    frame = pd.DataFrame({"id": ids(), "embedding": [None] + [[1.0, float(i)] for i in range(1, N)]})
    project, before, done = run_represent(tmp_path, write=parquet(frame), source="file", file="mine.parquet")
    assert_error_line(done, "represent.file: mine.parquet: 1 embedding(s) are missing (null), first id 'img-0'; "
                            "every image of every split needs an embedding")
    assert_nothing_left(project, before)


class Flipped(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :4].flip(0)  # each image gets the features of its batch mate


def traced_in_batches_of_two(project):
    torch.jit.save(torch.jit.trace(Normed().train(), torch.rand(2, 3, 16, 16)), str(project / "model.pt"))


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("write, batch_size", [(traced_in_batches_of_two, 2), (torchscript(Flipped()), 2),
                                               (torchscript(Flipped()), 32)])
def test_features_that_follow_the_batch_are_one_line_at_any_batch_size(tmp_path, write, batch_size):
    # before: at batch_size 2 the first two images alone were the whole first batch, so the check compared a batch
    # with itself: batch norm traced in training mode (each pair of images the negatives of each other; a last
    # image alone ~1e-7) and a model that hands each image its batch mate's features were accepted, exit 0
    project, before, done = run_represent(tmp_path, write=write, source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu",
                                                      "batch_size": batch_size})
    assert assert_error_line(done) == (
        "error: represent.pretrained: model.pt gives an image other features when other images share its batch "
        "(batch statistics left on: batch norm traced in training mode); call model.eval() before torch.jit.trace, "
        "then save")
    assert_nothing_left(project, before)


class Quantized(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.quantize_per_tensor(x.flatten(1)[:, :4], 0.1, 0, torch.quint8)  # no DeQuantStub at the end


class Sparse(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :4].to_sparse()


@pytest.mark.hostile("represent")
@pytest.mark.parametrize("module, kind", [(Quantized(), "quantized features (torch.quint8)"),
                                          (Sparse(), "torch.sparse_coo features (torch.float32)")])
def test_a_model_that_returns_quantized_or_sparse_features_is_one_line(tmp_path, module, kind):
    # before: tracebacks: "Creation of quantized tensor requires quantized dtype" from the float cast, and
    # "Could not run 'aten::equal' ... 'SparseCPU'" from the second-call check
    project, before, done = run_represent(tmp_path, write=torchscript(module), source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu"})
    assert assert_error_line(done) == (
        f"error: represent.pretrained: model.pt returned {kind}; a feature extractor returns a dense tensor of "
        "numbers (dequantize() or to_dense() at the end of the model)")
    assert_nothing_left(project, before)


class NanForFirst(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = x.flatten(1)[:, :4].clone()
        features[0] = float("nan")  # the first image of every batch: say, a blank one standardised by its spread
        return features


@pytest.mark.hostile("represent")
def test_non_finite_features_in_the_first_batch_are_named_as_such(tmp_path):
    # before: "gives other features for the same images on a second call (dropout ...)": NaN is not equal to NaN
    project, before, done = run_represent(tmp_path, write=torchscript(NanForFirst()), source="pretrained",
                                          pretrained={"torchscript": "model.pt", "input_size": 16, "device": "cpu"})
    assert_error_line(done, "non-finite value(s)", "first id 'img-0'")
    assert_nothing_left(project, before)


def _npy_with_ids(values, listed):
    def write(project):
        np.save(project / "mine.npy", values)
        (project / "ids.json").write_text(json.dumps(listed))
    return write


@pytest.mark.hostile("represent")
def test_a_npy_whose_ids_json_lists_another_order_is_one_line(tmp_path):
    # before: a .npy was matched to the images by its row count alone: after a change of degrade's seed kept the
    # count but reordered the manifest, 242 rows of the probe's file described other images, accepted without a word
    features = separable()
    shuffled = list(ids())
    shuffled[3], shuffled[4] = shuffled[4], shuffled[3]
    project, before, done = run_represent(tmp_path, write=_npy_with_ids(features, shuffled), source="file",
                                          file="mine.npy")
    assert assert_error_line(done) == (
        "error: represent.file: mine.npy: row 3 is 'img-4' in ids.json but 'img-3' in data/degrade/manifest.parquet: "
        "the file was made for another manifest (degrade's seed or perturbations changed); write it again for this "
        "one")
    assert_nothing_left(project, before)


@pytest.mark.hostile("represent")
def test_a_npy_with_its_ids_json_is_read_and_one_without_is_warned_about(tmp_path):
    features = separable()
    project, _, done = run_represent(tmp_path, write=_npy_with_ids(features, list(ids())), source="file",
                                     file="mine.npy")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no ids.json" not in done.stdout + done.stderr  # its ids.json was found and checked
    project, _, done = run_represent(tmp_path / "bare", write=npy(features), source="file", file="mine.npy")
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("warning: represent.file: mine.npy: no ids.json beside it, so its rows are taken in "
            "data/degrade/manifest.parquet's order, which a change to degrade (its seed, its perturbations) reorders "
            "without a word; write the ids in row order to ids.json beside it (as data/represent/ids.json), or a "
            ".parquet with an id column") in done.stdout
