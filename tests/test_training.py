import datetime
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from winnow import training
from winnow.checkpoints import load, save
from winnow.errors import WinnowError
from winnow.torch_runtime import DEFAULT_THREADS, shard
from winnow.training import TrainConfig, augment, embed, fit, predict_proba

ROOT = Path(__file__).resolve().parents[1]


def _toy_data(rng, n=120):
    """uint8 ``(n, 12, 12, 1)`` images of 3 classes lenet5 separates within an epoch, and their int labels."""
    labels = np.arange(n) % 3
    images = rng.integers(0, 40, (n, 12, 12, 1), dtype=np.uint8)
    images[labels == 1, :6] += 150  # class 1: bright top, class 2: bright bottom
    images[labels == 2, 6:] += 150
    return images, labels


def _weight_bytes(model: torch.nn.Module) -> bytes:
    """Every parameter and buffer, in name order, as raw bytes: equal only when bit-identical."""
    return b"".join(t.detach().cpu().contiguous().numpy().tobytes() for _, t in sorted(model.state_dict().items()))


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


def test_unknown_train_parameter():
    with pytest.raises(WinnowError, match="unknown parameter"):
        TrainConfig.from_params({"epochz": 3})


def test_fit_refuses_zero_epochs_before_dvclive_writes_a_log(tmp_path):
    images, labels = np.zeros((4, 8, 8, 1), np.uint8), np.array([0, 1, 0, 1])
    with pytest.raises(WinnowError, match=r"^train.epochs: 0 is below 1$"):
        fit(images, labels, images, labels, config=TrainConfig(model="lenet5", epochs=0, device="cpu"), num_classes=2,
            seed=0, log_dir=tmp_path / "live", progress=False)
    assert not (tmp_path / "live").exists()


def test_fit_refuses_a_patience_below_one():
    images, labels = np.zeros((4, 8, 8, 1), np.uint8), np.array([0, 1, 0, 1])
    with pytest.raises(WinnowError, match=r"^train.patience: 0 is below 1; null runs every epoch$"):
        fit(images, labels, images, labels, config=TrainConfig(model="lenet5", patience=0, device="cpu"),
            num_classes=2, seed=0, progress=False)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_threads_must_be_a_positive_whole_number_or_null(threads):
    with pytest.raises(WinnowError, match="train.threads: must be a whole number >= 1 or null"):
        TrainConfig.from_params({"threads": threads})


def test_fit_learns_is_deterministic_on_cpu_and_round_trips(tmp_path, rng):
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=3, batch_size=16, crop_padding=1, device="cpu", threads=1)
    first = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=False)
    second = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=False)
    assert first.history == second.history
    assert _weight_bytes(first.model) == _weight_bytes(second.model)
    probs = predict_proba(first, images)
    assert probs.dtype == np.float32 and probs.shape == (120, 3)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert (probs.argmax(1) == labels).mean() > 0.9
    assert first.best_epoch == 1 + int(np.argmax([h["val_acc"] for h in first.history]))
    assert first.best_val_acc == max(h["val_acc"] for h in first.history)
    save(first, tmp_path / "m.pt", classes=["a", "b", "c"], image_shape=images.shape[1:], seen=np.arange(120))
    again, classes = load(tmp_path / "m.pt", device="cpu")
    assert classes == ["a", "b", "c"] and again.config.threads == 1
    np.testing.assert_array_equal(predict_proba(again, images), probs)


def test_fit_writes_dvclive_history(tmp_path, rng):
    images, labels = _toy_data(rng, n=30)
    config = TrainConfig(model="lenet5", epochs=2, batch_size=16, device="cpu", threads=1)
    fit(images, labels, images, labels, config=config, num_classes=3, seed=0, log_dir=tmp_path / "live",
        progress=False)
    assert (tmp_path / "live" / "metrics.json").is_file()
    assert len((tmp_path / "live" / "plots" / "metrics" / "val_acc.tsv").read_text().splitlines()) == 3


def _weights_at_each_validation(monkeypatch) -> list[bytes]:
    """The model's weights at every validation inside fit (one per epoch), in order."""
    seen, real = [], training._evaluate

    def evaluate(model, *args):
        seen.append(_weight_bytes(model))
        return real(model, *args)

    monkeypatch.setattr(training, "_evaluate", evaluate)
    return seen


def test_a_run_that_keeps_its_first_epoch_says_so(rng, capsys):
    # before: a 9-image val split tied every epoch, so the model of epoch 1 of 15 shipped (probabilities near 1/3 for
    # every image) with only "best val acc 0.8889 at epoch 1" to show for it
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=3, schedule="constant", lr=1e-9, batch_size=16, device="cpu", threads=1)
    stuck = fit(images, labels, images[:9], labels[:9], config=config, num_classes=3, seed=1, progress=True)
    assert stuck.best_epoch == 1 and stuck.best_val_acc < 1
    assert (f"warning: train lenet5: the model kept is epoch 1's: none of the 2 later epochs beat its val accuracy "
            f"{stuck.best_val_acc:.4f} on 9 val images; a val split this small ties every epoch, and a learning rate "
            "too high never improves: add val images or check train.lr") in capsys.readouterr().out.splitlines()
    solved = fit(images, labels, images, labels, config=TrainConfig(model="lenet5", epochs=2, schedule="constant",
                 batch_size=16, device="cpu", threads=1), num_classes=3, seed=1, progress=True)
    assert solved.best_epoch == 1 and solved.best_val_acc == 1.0  # nothing left to beat: no warning
    assert "warning" not in capsys.readouterr().out


def test_patience_stops_once_val_accuracy_stops_rising_and_keeps_the_best_epoch(tmp_path, rng, monkeypatch):
    """Toy data that lenet5 separates after one epoch: val accuracy is 1.0 from epoch 1 on, so it can never
    rise again and a run with patience 2 ends after epoch 3 of its 10, with epoch 1's weights (constant
    learning rate: patience counts from the first epoch)."""
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=10, patience=2, schedule="constant", batch_size=16, device="cpu",
                         threads=1)
    per_epoch = _weights_at_each_validation(monkeypatch)
    early = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, log_dir=tmp_path / "live",
                progress=False)
    assert [h["val_acc"] for h in early.history] == [1.0, 1.0, 1.0]
    assert (early.best_epoch, early.stop_reason) == (1, "patience")
    assert len(per_epoch) == 3
    assert _weight_bytes(early.model) == per_epoch[0] != per_epoch[2]  # epoch 1's weights, not the last epoch's
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    assert (summary["best_epoch"], summary["stopped_epoch"], summary["stop_reason"]) == (1, 3, "patience")
    assert early.stopped() == "stopped at epoch 3/10 (patience 2: best val acc 1.0000 at epoch 1)"

    again = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=False)
    assert again.history == early.history and again.best_epoch == early.best_epoch
    assert _weight_bytes(again.model) == _weight_bytes(early.model)

    # patience null runs the whole budget; the schedule spans the budget either way, so the early run was
    # exactly this run's first three epochs
    every = fit(images, labels, images, labels, config=replace(config, patience=None), num_classes=3, seed=1,
                progress=False)
    assert len(every.history) == 10 and every.stop_reason == "budget"
    assert every.history[:3] == early.history
    assert per_epoch[3:6] == per_epoch[:3]  # the second run: same weights epoch by epoch
    assert per_epoch[6:9] == per_epoch[:3]


@pytest.mark.parametrize(("schedule", "best", "stopped"), [
    ("cosine", 1, 6),  # the rate is half its peak at mid-budget: epochs 6.. count
    ("onecycle", 2, 8),  # 30% climbing, then half way down: 65% of 10 is epoch 7
])
def test_patience_counts_once_the_learning_rate_is_down_to_half_its_peak(rng, schedule, best, stopped):
    """Val accuracy is 1.0 from the best epoch on; with patience 1, only the schedule says when the run ends."""
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=10, patience=1, schedule=schedule, batch_size=16, device="cpu",
                         threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=1, progress=False)
    assert [h["val_acc"] for h in trained.history][best - 1:] == [1.0] * (stopped - best + 1)
    assert (trained.best_epoch, len(trained.history), trained.stop_reason) == (best, stopped, "patience")


@pytest.mark.parametrize("threads", [3, None])
def test_threads_and_determinism_hold_wherever_the_model_computes_then_are_restored(rng, monkeypatch, threads):
    """fit trains under the model's thread count with deterministic algorithms, predict_proba and embed run
    under the same thread count; the process's own settings come back afterwards."""
    seen = []  # (training mode, threads, deterministic) at every pass through the model's body
    real_build = training.build_model

    def observed(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.body.register_forward_pre_hook(lambda module, _: seen.append(
            (module.training, torch.get_num_threads(), torch.are_deterministic_algorithms_enabled())))
        return model

    monkeypatch.setattr(training, "build_model", observed)
    images, labels = _toy_data(rng, n=30)
    before = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(False)
    try:
        trained = fit(images, labels, images, labels, config=TrainConfig(model="lenet5", epochs=1, batch_size=16,
                                                                          device="cpu", threads=threads),
                      num_classes=3, seed=0, progress=False)
        after_fit = len(seen)
        predict_proba(trained, images)
        embed(trained, images)
        outside = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(before[0])
        torch.use_deterministic_algorithms(before[1])
    expected = threads if threads is not None else DEFAULT_THREADS[0]
    assert {(training_mode, n, det) for training_mode, n, det in seen[:after_fit]} == {
        (True, expected, True), (False, expected, True)}  # two training steps and one validation pass
    # predict_proba, then embed (on CPU under the thread count alone: forward passes have no nondeterministic
    # kernel to switch off)
    assert [(training_mode, n) for training_mode, n, _ in seen[after_fit:]] == [(False, expected)] * 2
    assert outside == (1, False)


def test_shard_pads_like_distributed_sampler():
    order = torch.tensor([7, 3, 9, 0, 5, 1, 8, 2, 6, 4])
    parts = [shard(order, rank=r, world=4).tolist() for r in range(4)]
    assert parts == [[7, 5, 6], [3, 1, 4], [9, 8, 7], [0, 2, 3]]  # 12 = 10 + the first two repeated
    assert [shard(order[:1], rank=r, world=3).tolist() for r in range(3)] == [[7], [7], [7]]


class _BatchNormNet(torch.nn.Module):
    """A few hundred weights with batch norm and dropout: the layers whose state or randomness could let DDP
    ranks drift apart. resnet18, winnow's batch norm model, takes half a minute a rank on two CPU cores."""

    def __init__(self, *, in_channels: int, num_classes: int, image_size: int):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(in_channels, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                        torch.nn.ReLU(), torch.nn.Dropout(0.2))
        self.classifier = torch.nn.Linear(8, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _rank_worker(rank: int, world: int, init_file: str, out_dir: str, runs: list[dict]) -> None:
    """One torchrun-like process: join the gloo group, then for each of ``runs`` fit, and record this rank's shards,
    its training steps, its history and its final weights. A run: ``data`` (an npz file), ``epochs``, ``patience``,
    ``schedule`` and ``val_accs`` (None, or per rank the val accuracy each epoch's validation reports on that rank
    instead of measuring it). Several runs share one group: each spawned rank imports torch afresh, which took most
    of a run's time."""
    # a rank left waiting in an allreduce (one step more on the other) fails after a minute instead of hanging
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                                         timeout=datetime.timedelta(seconds=60))
    shards, steps = [], [0]
    real_shard, real_evaluate = training.shard, training._evaluate

    def recording_shard(order, *, rank, world):
        mine = real_shard(order, rank=rank, world=world)
        shards.append(mine.tolist())
        return mine

    def counting_build(name, *, option, **kwargs):  # option: the params path an error names, unused here
        model = _BatchNormNet(**kwargs)
        model.register_forward_pre_hook(lambda module, _: steps.__setitem__(0, steps[0] + module.training))
        return model

    training.shard, training.build_model = recording_shard, counting_build
    for index, options in enumerate(runs):
        shards.clear()
        steps[0] = 0
        training._evaluate = real_evaluate
        if options["val_accs"] is not None:
            scripted = iter(options["val_accs"][rank])
            training._evaluate = lambda *_: (0.0, next(scripted))
        data = np.load(options["data"])
        config = TrainConfig(epochs=options["epochs"], patience=options["patience"], schedule=options["schedule"],
                             batch_size=8, crop_padding=1, device="cpu", threads=1)
        trained = fit(data["images"], data["labels"], data["images"][:12], data["labels"][:12], config=config,
                      num_classes=3, seed=0, progress=False)
        Path(out_dir, f"run{index}.rank{rank}.json").write_text(json.dumps({
            "shards": shards, "steps": steps[0], "history": trained.history, "best_epoch": trained.best_epoch,
            "weights": hashlib.sha256(_weight_bytes(trained.model)).hexdigest()}))
    torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def gloo_runs(tmp_path_factory) -> dict[str, list[dict]]:
    """What each rank recorded, by case, of two processes on CPU as torchrun would start them, which fit the cases
    one after the other: "partition", 51 images for 2 epochs, and "stop", 40 images with patience 2 and the val
    accuracies scripted per rank. Each case's images are :func:`_toy_data` of ``default_rng(0)``, as the ``rng``
    fixture gives a test."""
    world, tmp = 2, tmp_path_factory.mktemp("gloo")
    cases = {
        "partition": (51, dict(epochs=2, patience=None, schedule="cosine", val_accs=None)),
        "stop": (40, dict(epochs=8, patience=2, schedule="constant",
                          val_accs=[[0.5, 0.75, 0.75, 0.5, 0.75, 0.75, 0.75, 0.75], [0.1 * e for e in range(1, 9)]])),
    }
    runs = []
    for name, (n, options) in cases.items():
        images, labels = _toy_data(np.random.default_rng(0), n=n)
        np.savez(tmp / f"{name}.npz", images=images, labels=labels)
        runs.append({**options, "data": str(tmp / f"{name}.npz")})
    torch.multiprocessing.start_processes(_rank_worker, args=(world, str(tmp / "init"), str(tmp), runs), nprocs=world,
                                          start_method="spawn")
    return {name: [json.loads((tmp / f"run{index}.rank{r}.json").read_text()) for r in range(world)]
            for index, name in enumerate(cases)}


def test_two_gloo_ranks_partition_each_epoch_and_end_with_identical_weights(gloo_runs):
    n, world, batch_size, epochs = 51, 2, 8, 2
    ranks = gloo_runs["partition"]

    per_rank = -(-n // world)  # 26: one image repeated to even out 51
    for epoch in range(epochs):
        first, second = (r["shards"][epoch] for r in ranks)
        assert len(first) == len(second) == per_rank
        interleaved = [i for pair in zip(first, second) for i in pair]  # the shared permutation, padded
        assert sorted(interleaved[:n]) == list(range(n))
        assert interleaved[n:] == interleaved[:world * per_rank - n]  # the padding repeats its first entry
        assert set(first) & set(second) == {interleaved[0]}
    assert ranks[0]["shards"][0] != ranks[0]["shards"][1]  # a new permutation each epoch
    assert ranks[0]["steps"] == ranks[1]["steps"] == epochs * -(-per_rank // batch_size)
    # each rank validates the same model (train_loss is each rank's own): the same epoch is kept everywhere
    assert [(h["val_loss"], h["val_acc"]) for h in ranks[0]["history"]] == [
        (h["val_loss"], h["val_acc"]) for h in ranks[1]["history"]]
    assert ranks[0]["weights"] == ranks[1]["weights"]


def test_two_gloo_ranks_stop_at_the_same_epoch_on_rank_0s_val(gloo_runs):
    """Rank 0's val accuracy peaks at epoch 2 and stalls; rank 1's (scripted to differ, as two GPUs summing
    in another order might) rises every epoch. Both ranks keep epoch 2 and, with patience 2 counted from
    the constant schedule's first epoch, stop after epoch 4 of 8 with the same weights: a rank that trained
    on alone would wait forever in the allreduce."""
    ranks = gloo_runs["stop"]
    for rank in ranks:
        assert [h["val_acc"] for h in rank["history"]] == [0.5, 0.75, 0.75, 0.5]  # rank 0's, on both ranks
        assert rank["best_epoch"] == 2
        assert rank["steps"] == 4 * -(-20 // 8)  # 4 epochs of 20 images a rank in batches of 8
    assert ranks[0]["weights"] == ranks[1]["weights"]


_TRAIN = """
import hashlib, sys
import numpy as np
from winnow.checkpoints import save
from winnow.training import TrainConfig, fit, predict_proba
data = np.load(sys.argv[1])
config = TrainConfig(model="cnn_small", epochs=2, batch_size=16, crop_padding=2, hflip=True, device="cpu", threads=2)
for seed in sys.argv[2:]:
    trained = fit(data["images"], data["labels"], data["images"], data["labels"], config=config, num_classes=3,
                  seed=int(seed), progress=False)
    weights = b"".join(t.contiguous().numpy().tobytes() for _, t in sorted(trained.model.state_dict().items()))
    probs = predict_proba(trained, data["images"])
    saved = sys.argv[1] + ".pt"
    save(trained, saved, classes=["a", "b", "c"], image_shape=data["images"].shape[1:],
         seen=np.arange(len(data["labels"])))
    with open(saved, "rb") as file:
        print(hashlib.sha256(weights).hexdigest(), hashlib.sha256(probs.tobytes()).hexdigest(),
              hashlib.sha256(file.read()).hexdigest())
"""


def test_same_seed_and_threads_give_identical_weights_across_processes(tmp_path, rng):
    """cnn_small, two threads: He-normal initialisation, dropout, random crops, flips and shuffling all drawn
    from the seed; each run in a fresh process. The saved model file is the same bytes too, so DVC sees a
    retrained model as unchanged and reruns nothing downstream."""
    images, labels = _toy_data(rng, n=64)
    np.savez(tmp_path / "data.npz", images=images, labels=labels)

    def train_in_fresh_process(*seeds: int) -> list[list[str]]:
        done = subprocess.run([sys.executable, "-c", _TRAIN, str(tmp_path / "data.npz"), *map(str, seeds)],
                              env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""}, capture_output=True, text=True,
                              check=True)
        return [line.split() for line in done.stdout.splitlines()]

    [first], [second, other_seed] = train_in_fresh_process(0), train_in_fresh_process(0, 1)
    assert first == second  # weights, predicted probabilities and the model file, byte for byte
    assert other_seed[0] != first[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible")
def test_cuda_trains_in_bf16_and_predicts_in_float32_like_the_cpu(rng, monkeypatch):
    dtypes = []  # (training mode, logits dtype) of every forward
    real_build = training.build_model

    def observed(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_hook(lambda module, _, out: dtypes.append((module.training, out.dtype)))
        return model

    monkeypatch.setattr(training, "build_model", observed)
    images, labels = _toy_data(rng, n=240)
    config = TrainConfig(model="cnn_small", epochs=4, batch_size=32, device="cuda")
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    assert next(trained.model.parameters()).is_cuda
    assert set(dtypes) == {(True, torch.bfloat16), (False, torch.float32)}  # bf16 autocast trains, fp32 judges
    probs = predict_proba(trained, images)
    assert probs.dtype == np.float32 and probs.shape == (240, 3)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    features = embed(trained, images)
    assert features.dtype == np.float32 and features.shape == (240, 32) and np.isfinite(features).all()

    trained.model.cpu()
    cpu_probs = predict_proba(trained, images)
    # the same float32 weights, IEEE float32 arithmetic on both (no TF32): only the order of sums differs,
    # so probabilities agree to 1e-4 and at most 1 of 240 top-1 calls (a near tie) may differ
    np.testing.assert_allclose(probs, cpu_probs, atol=1e-4)
    assert (probs.argmax(1) != cpu_probs.argmax(1)).sum() <= 1
    np.testing.assert_allclose(features, embed(trained, images), rtol=1e-3, atol=1e-4)


def test_predictions_come_in_the_batches_train_eval_batch_size_sets(rng):
    # found by probing: evaluate predicted 1,024 test images a batch whatever train.eval_batch_size said, and ran
    # out of memory (resnet18 under a 2.4 GB limit) where training, at 8 a batch, had not
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=16, eval_batch_size=8, device="cpu", threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    seen = []  # the batches the model is given (predict_proba no longer goes through _logits: it streams on the CPU)
    trained.model.register_forward_pre_hook(lambda _, args: seen.append(len(args[0])))
    predict_proba(trained, images)
    assert seen == [8] * (len(images) // 8) + ([len(images) % 8] if len(images) % 8 else [])


@pytest.mark.hostile("training")
@pytest.mark.parametrize("text", ["stub\n", "hello\n", "skipped: no requested variant\n", "(empty)\n"])
def test_a_text_file_in_place_of_a_model_is_one_line(tmp_path, text):
    # found by probing: torch's legacy unpickler read a text file starting with one of a dozen letters and
    # raised IndexError or KeyError, a traceback (the project's own stand-ins start "skipped: ...")
    path = tmp_path / "baseline.pt"
    path.write_text(text)
    with pytest.raises(WinnowError) as raised:
        load(path)
    assert str(raised.value).startswith(f"{path}: not a readable model checkpoint (")
    assert str(raised.value).endswith("rerun the train@baseline stage (dvc repro train@baseline)")


@pytest.mark.hostile("training")
def test_a_loss_that_a_weight_decay_blew_up_names_the_weight_decay(rng):
    # found by probing: weight_decay 1e6 at the default lr made the loss NaN, and the line said "lower train.lr"
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=2, batch_size=16, optimizer="adamw", lr=1e-3, weight_decay=1e6,
                         device="cpu", threads=1)
    with pytest.raises(WinnowError) as raised:
        fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    assert str(raised.value).endswith("(adamw, lr 0.001); lower train.weight_decay (1e+06: each step scales the "
                                      "weights by 1 - lr * weight_decay = -999)")


@pytest.mark.hostile("training")
def test_a_model_no_better_than_the_largest_class_is_named(rng, capsys):
    # found by probing: lr 10 (or weight_decay 1000) for one epoch kept a model that named class 0 for every image;
    # evaluate reported accuracy 0.1000 and nothing said the model had not learnt
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=16, lr=1e-9, schedule="constant", device="cpu",
                         threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0)
    warning = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: train lenet5: ")]
    named = predict_proba(trained, images).argmax(1)
    recalls = [np.mean(named[labels == c] == c) for c in range(3)]
    assert sum(recalls) <= 1  # the untrained net names no class well
    assert warning == [f"warning: train lenet5: the model kept is right on {trained.best_val_acc:.4f} of the val "
                       f"images and its recalls of the 3 val classes add up to {sum(recalls):.4f}, no more than "
                       "naming one class for every image scores (1): it has not learnt; check train.lr, "
                       "train.weight_decay and train.epochs"]



@pytest.mark.hostile("training")
def test_a_model_that_names_one_class_is_named_where_float32_rounds_its_accuracy_up(rng, capsys):
    # found by probing: 20 of 200 val images right is 0.1000000015 as a float32 mean, above 0.1 + 1e-9, so a model
    # that named one of 10 balanced classes for every image shipped with no warning
    images = rng.integers(0, 256, (200, 12, 12, 1), dtype=np.uint8)
    labels = np.arange(200) % 10
    config = TrainConfig(model="lenet5", epochs=1, lr=1e5, crop_padding=0, device="cpu", threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=10, seed=0)
    assert round(trained.best_val_acc * 200) == 20  # one class of ten: the largest's share
    warning = [line for line in capsys.readouterr().out.splitlines()
               if "recalls of the 10 val classes add up to 1.0000, no more than naming one class" in line]
    assert len(warning) == 1


@pytest.mark.hostile("training")
def test_a_model_that_learnt_a_skewed_val_split_is_not_called_unlearnt(rng, capsys):
    # before: the train stage weighed val accuracy against the largest class's share, so a model right on 90 of 100
    # val images, 90 of them one class, was told it had not learnt, though it names both classes (recalls 80/90 and
    # 10/10): evaluate and the gate weigh recalls, and the stage now does too
    train = rng.integers(0, 40, (120, 12, 12, 1), dtype=np.uint8)
    train_labels = np.arange(120) % 2
    train[train_labels == 1] += 150  # class 1 bright, class 0 dark
    val = rng.integers(0, 40, (100, 12, 12, 1), dtype=np.uint8)
    val_labels = np.r_[np.zeros(90), np.ones(10)].astype(np.int64)
    val[80:] += 150  # ten of the class-0 val images look like class 1: a learnt model is right on 90 of 100
    config = TrainConfig(model="lenet5", epochs=1, batch_size=16, lr=3e-3, device="cpu", threads=1)
    trained = fit(train, train_labels, val, val_labels, config=config, num_classes=2, seed=0)
    assert round(trained.best_val_acc * 100) == 90  # the largest class's share: the old rule's warning
    assert not [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]


def test_dvclives_summary_gives_the_kept_epochs_figures(rng, tmp_path):
    # found by probing: metrics/train/<v>/metrics.json held the last epoch's val_acc (0.958) beside best_val_acc
    # (0.962), and dvc metrics show listed a discarded epoch's accuracy as the model's
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=4, batch_size=16, device="cpu", threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0, log_dir=tmp_path / "live",
                  progress=False)
    summary = json.loads((tmp_path / "live" / "metrics.json").read_text())
    kept = trained.history[trained.best_epoch - 1]
    assert (summary["val_acc"], summary["val_loss"], summary["train_loss"]) == (
        kept["val_acc"], kept["val_loss"], kept["train_loss"])
    assert summary["best_val_acc"] == summary["val_acc"]



def _edited_checkpoint(rng, path: Path, edit) -> np.ndarray:
    """Train lenet5 one epoch on the toy data, save it at ``path``, apply ``edit`` to the saved dict and write it
    back; returns the toy images (uint8 ``(N, H, W, C)``)."""
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=1, batch_size=16, device="cpu", threads=1)
    trained = fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    save(trained, path, classes=["a", "b", "c"], image_shape=images.shape[1:], seen=np.arange(120))
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)
    return images

@pytest.mark.hostile("training")
@pytest.mark.parametrize(("edit", "problem"), [
    (lambda ck: ck["config"].update(eval_batch_size=0), "eval_batch_size 0 is not a whole number of 1 or more"),
    (lambda ck: ck.update(mean=[0.5]), "mean is not a float tensor of the 1 channel(s) of its images"),
    (lambda ck: ck.update(std=torch.ones(3)), "std is not a float tensor of the 1 channel(s) of its images"),
], ids=["eval-batch-0", "mean-a-list", "std-of-three-channels"])
def test_a_checkpoint_field_predict_would_trip_on_is_refused_when_loaded(rng, tmp_path, edit, problem):
    # found by probing: each hand edit loaded, then predict_proba raised (range() step 0, a list's .to, a conv of the
    # wrong channel count): a traceback from evaluate
    images = _edited_checkpoint(rng, tmp_path / "m.pt", edit)
    with pytest.raises(WinnowError) as refused:
        load(tmp_path / "m.pt", classes=["a", "b", "c"], image_shape=images.shape[1:])
    assert f"checkpoint does not fit its own model ({problem})" in str(refused.value)


@pytest.mark.hostile("training")
@pytest.mark.parametrize(("train", "judge", "expected"), [
    ({"model": "lenet5"}, None, "train.model: images of 4x4px are too small for lenet5 (at least 8)"),
    ({"model": "lenet5"}, {"model": "cnn_small"},
     "represent.judge.model: images of 4x4px are too small for cnn_small (at least 8)"),
    ({"model": "cnn_small"}, {"epochs": 1}, "train.model: images of 4x4px are too small for cnn_small (at least 8)"),
    ({"model": "lenet5"}, {"model": "vit"},
     "represent.judge.model: unknown model 'vit'; choose one of lenet5, cnn_small, resnet18"),
], ids=["train", "judge-sets-model", "judge-inherits-model", "judge-unknown-model"])
def test_a_model_the_images_cannot_take_names_the_section_that_chose_it(train, judge, expected):
    # before: "train.model: images of 4x4px are too small ..." also of represent.judge.model, which set the model
    images, labels = np.zeros((6, 4, 4, 1), np.uint8), np.arange(6) % 3
    config = TrainConfig.from_params({**train, "epochs": 1, "crop_padding": 0, "device": "cpu", "threads": 1},
                                     overrides=judge, overrides_from="represent.judge")
    with pytest.raises(WinnowError, match=rf"^{re.escape(expected)}$"):
        fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)


@pytest.mark.hostile("training")
def test_a_nan_under_sgd_names_both_the_learning_rate_and_the_decay(rng):
    # found by review: sgd at lr 1000 goes NaN with weight_decay 0 too; with 0.01 the line blamed the decay alone
    images, labels = _toy_data(rng)
    config = TrainConfig(model="lenet5", epochs=2, batch_size=16, optimizer="sgd", lr=1000.0, weight_decay=0.01,
                         device="cpu", threads=1)
    with pytest.raises(WinnowError) as raised:
        fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=False)
    assert str(raised.value).endswith("(sgd, lr 1000); lower train.lr or train.weight_decay")


@pytest.mark.hostile("training")
@pytest.mark.parametrize("written_by, rerun", [(None, "train@baseline"), ("represent", "represent")])
def test_a_model_an_earlier_winnow_trained_is_named_so(rng, tmp_path, written_by, rerun):
    # before: a models/baseline.pt (or the represent judge) from before checkpoints kept their seen ids was "not a
    # winnow model checkpoint (lacks seen)", which winnow itself had written
    images = _edited_checkpoint(rng, tmp_path / "baseline.pt", lambda ck: ck.pop("seen"))  # as earlier winnows saved
    expected = (f"{tmp_path / 'baseline.pt'}: trained by an earlier winnow, which kept no record of the images it "
                f"learnt from (seen); rerun the {rerun} stage (dvc repro {rerun})")
    with pytest.raises(WinnowError, match=rf"^{re.escape(expected)}$"):
        load(tmp_path / "baseline.pt", written_by=written_by, classes=["a", "b", "c"], image_shape=images.shape[1:])
