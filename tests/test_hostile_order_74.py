"""Process-global state that winnow's code set in-process and left set, so that a test's outcome depended on which test
files its worker had run before (CI: ``pytest -n 2 --dist loadfile``, files spread over two workers by timing), found
in review of stop 74 after stop 73's CI failure (the Ray BLAS check naming faiss's OpenBLAS, loaded by an earlier
test): torch's deterministic-algorithms mode left on by GAN and SimCLR training; Ray's SIGTERM handler left by
``Engine.session`` after ray.shutdown."""

import importlib.util
import signal

import numpy as np
import pytest
import torch

from conftest import require
from winnow.configs import GanConfig, SelfSupConfig
from winnow.engine import Engine
from winnow.gan import train_gan
from winnow.selfsup import pretrain

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _determinism() -> tuple[bool, bool]:
    return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()


@pytest.fixture
def determinism_off():
    """Deterministic algorithms off, as a fresh process has them, and the process's own setting back afterwards."""
    before = _determinism()
    torch.use_deterministic_algorithms(False)
    yield
    torch.use_deterministic_algorithms(before[0], warn_only=before[1])


def _images(n: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 8, 8, 1), np.uint8)


@pytest.mark.hostile("training")
def test_training_a_gan_on_the_cpu_leaves_the_process_deterministic_setting_as_it_found_it(determinism_off):
    # before: train_gan switched deterministic algorithms on (warn only) for its CPU run and never back, so every test
    # its worker ran after tests/test_gan.py (or any file that trains a GAN in-process) ran under torch's deterministic
    # mode, uninitialised tensors filled with NaN included, and a warning where a kernel has no deterministic form
    config = GanConfig(latent_dim=8, width=4, epochs=1, batch_size=8, device="cpu")
    train_gan(_images(), np.arange(16) % 2, config=config, num_classes=2, seed=0, progress=False)
    assert _determinism() == (False, False)


@pytest.mark.hostile("represent")
def test_self_supervised_pretraining_on_the_cpu_leaves_the_process_deterministic_setting_as_it_found_it(
        determinism_off):
    # before: represent's SimCLR pretraining did the same as train_gan (its thread count it put back, not this)
    config = SelfSupConfig(epochs=1, batch_size=8, width=4, threads=1, device="cpu")
    pretrain(_images(), config=config, seed=0, progress=False)
    assert _determinism() == (False, False)


@pytest.mark.hostile("training")
def test_a_deterministic_setting_made_before_a_gan_trains_is_kept(determinism_off):
    # the block puts back what it found, not "off": a caller's deterministic mode (strict) survives the GAN's warn only
    torch.use_deterministic_algorithms(True)
    config = GanConfig(latent_dim=8, width=4, epochs=1, batch_size=8, device="cpu")
    train_gan(_images(), np.arange(16) % 2, config=config, num_classes=2, seed=0, progress=False)
    assert _determinism() == (True, False)


@pytest.mark.hostile("interrupted")
def test_a_ray_session_gives_the_callers_sigterm_handler_back():
    # found by the full suite: ray.shutdown left Ray's SIGTERM handler (sys.exit(15)) in a caller whose SIGTERM was at
    # its default, and a stage run in that process afterwards took it for a launcher's and left it: its SIGTERM ended
    # it with status 15 and no line, where 143 and one line are due
    require(importlib.util.find_spec("ray") is not None, what="Ray",
            fix="make setup installs the ray[data] pin of requirements.lock")
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a caller whose SIGTERM is at its default
    try:
        with Engine("ray", None, 1).session():
            pass
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, before)
