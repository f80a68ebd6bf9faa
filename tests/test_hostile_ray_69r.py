"""The Ray engine's embedding actors out of the GPU's memory, found in review of stop 69: the stage's one line, as the
local engine's, not a Ray traceback."""

from __future__ import annotations

import pickle
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from winnow import training
from winnow.configs import TrainConfig
from winnow.errors import fault_line
from winnow.models import build_model
from winnow.ray_tasks import EmbedActor, _BatchFailed


def actor(monkeypatch, embed) -> EmbedActor:
    monkeypatch.setattr("winnow.ray_tasks.import_ray", lambda: SimpleNamespace(get=lambda reference: reference))
    torch.manual_seed(0)
    config = TrainConfig(model="lenet5", threads=1, device="cpu")
    judge = training.Trained(build_model("lenet5", in_channels=1, num_classes=3, image_size=8).eval(),
                             torch.tensor([0.5]), torch.tensor([0.25]), [], 1, config)
    encoder = training.encoder(judge, num_classes=3, image_shape=(8, 8, 1))
    return EmbedActor(encoder=replace(encoder, model=None, embed=embed), weights=[encoder.model.state_dict()],
                      source=np.zeros((6, 8, 8, 1), np.uint8), batch_size=4, n=6,
                      packages=(("numpy", np.__version__), ("torch", torch.__version__.split("+")[0])))


@pytest.mark.hostile("training")
def test_an_embedding_actor_out_of_the_gpus_memory_is_the_stages_one_line(monkeypatch):
    # found in review of 16c1b960: the local engine's "out of the GPU's memory" line took torch.OutOfMemoryError, but
    # a Ray actor carried only WinnowError, OSError and MemoryError to the driver: torch's (a RuntimeError) reached it
    # as Ray's RayTaskError(OutOfMemoryError), whose name no check knew, and the stage ended in a traceback
    def embed(model, images, *, batch_size):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of "
                                     "79.10 GiB of which 1.19 GiB is free.")

    with pytest.raises(_BatchFailed) as raised:
        actor(monkeypatch, embed)({"id": np.array([0])})
    carried = pickle.loads(pickle.dumps(raised.value)).error  # as Ray sends it to the driver
    assert fault_line(carried) == (
        "out of the GPU's memory (CUDA out of memory. Tried to allocate 2.00 GiB); free it (another process using the "
        "GPU: nvidia-smi) or lower the batch or model size, then rerun", 1)


def test_an_embedding_actors_own_bug_is_not_carried_as_a_stages_line(monkeypatch):
    def embed(model, images, *, batch_size):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x10 and 12x3)")

    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        actor(monkeypatch, embed)({"id": np.array([0])})
