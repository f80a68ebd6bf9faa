"""Where and how torch runs: the device, bit-for-bit repeatable settings, and the torchrun process group.

:func:`reproducible` is the block every training and every judging prediction runs in (one thread count,
deterministic algorithms where they matter); :func:`distributed_setup`, :func:`shard` and
:func:`sync_buffers` are what :func:`winnow.training.fit` needs under torchrun (DDP).
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from winnow.errors import WinnowError

# cuBLAS picks its workspace size once, when the process first uses it, and only a fixed one is
# deterministic; set before any CUDA work so torch.use_deterministic_algorithms can hold there too
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
# what torch chose for this machine before anyone changed it: ``threads: null`` goes back to these
DEFAULT_THREADS = (torch.get_num_threads(), torch.get_num_interop_threads())


def pick_device(name: str, *, option: str = "train.device") -> torch.device:
    """The torch device ``name`` names; ``auto``: CUDA when one is visible, else the CPU. Asking for a device
    this machine lacks (``cuda``, ``cuda:<index>`` past the devices visible, ``mps``) is a one-line error naming
    ``option``, not a fallback nor torch's assertion."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" or name.startswith("cuda:"):
        visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name[len("cuda:"):] or 0) if ":" in name else 0
        if index >= visible:
            seen = "no CUDA device is visible" if not visible else f"only {visible} CUDA device(s) are visible"
            raise WinnowError(f"{option}: {name} requested but {seen}; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise WinnowError(f"{option}: mps requested but this machine has no MPS device; use auto or cpu")
    return torch.device(name)


def is_main_process() -> bool:
    """True outside torchrun and on rank 0 under it: the one process that writes outputs."""
    return not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0


def deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """``torch.use_deterministic_algorithms`` without its import of ``torch._inductor.config``, which took
    1.8 s in every process that trains (five trainings and the judges of one default repro). That import only
    carries the flag to compiled kernels; winnow never compiles, and where something did import inductor
    the torch call is made as it is."""
    if "torch._inductor.config" in sys.modules:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)


@contextmanager
def determinism_kept():
    """The process's deterministic-algorithms setting (on or off, warn only or not) as it was before the block, whatever
    the block set: GAN and SimCLR training switch it on, warn only, for their CPU runs, and left it so for the rest of
    the process (a stage's later work, and every test after one that trained in-process)."""
    def setting() -> tuple[bool, bool]:
        return torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()

    before = setting()
    try:
        yield
    finally:
        if setting() != before:
            deterministic_algorithms(before[0], warn_only=before[1])


@contextmanager
def reproducible(*, threads: int | None, device: torch.device, training: bool):
    """Within the block, torch work repeats bit for bit on this machine: ``threads`` intra-op threads (None:
    torch's default for the machine) and, for training and anything on CUDA, deterministic algorithms (on
    CUDA with the fixed cuBLAS workspace set at import, and no cuDNN benchmarking). Training, prediction and
    embedding (:mod:`winnow.training`) run in it, so training, evaluation and every stage that judges data
    with a model use one thread count. The previous settings come back afterwards."""
    intra, interop = DEFAULT_THREADS if threads is None else (threads, threads)
    if torch.get_num_interop_threads() != interop:
        try:
            torch.set_num_interop_threads(interop)
        except RuntimeError:
            # torch fixes the inter-op pool at its first use or setting; it only runs forked TorchScript
            # tasks, which winnow never starts, so a pool of another size changes no number
            pass
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled(), torch.backends.cudnn.benchmark)
    # a CPU forward pass has no nondeterministic kernel, and the flag imports torch._inductor (seconds in
    # every stage that only predicts), so CPU inference is left to the thread count
    deterministic = training or device.type == "cuda"
    torch.set_num_threads(intra)
    if deterministic and before[1:3] != (True, False):
        deterministic_algorithms(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # benchmarking picks kernels by timing, run to run
    try:
        yield
    finally:
        torch.set_num_threads(before[0])
        if deterministic and before[1:3] != (True, False):
            deterministic_algorithms(before[1], warn_only=before[2])
        torch.backends.cudnn.benchmark = before[3]


@contextmanager
def float32_math(device: torch.device):
    """IEEE float32 in cuDNN convolutions and cuBLAS matmuls (cuDNN defaults to TF32 on Ampere and later,
    10 mantissa bits). Only the ``fp32_precision`` API: reading the legacy ``allow_tf32`` flags after it was
    used raises in torch >= 2.9."""
    if device.type != "cuda":
        yield
        return
    conv, matmul = torch.backends.cudnn.conv, torch.backends.cuda.matmul
    before = conv.fp32_precision, matmul.fp32_precision
    conv.fp32_precision = matmul.fp32_precision = "ieee"
    try:
        yield
    finally:
        conv.fp32_precision, matmul.fp32_precision = before


def shard(order: torch.Tensor, *, rank: int, world: int) -> torch.Tensor:
    """This rank's part of one epoch's permutation ``order`` (int64 ``(N,)``, the same on every rank).

    The permutation is padded to a multiple of ``world`` by repeating its first entries, then rank r takes
    entries r, r + world, ... — what ``DistributedSampler(drop_last=False)`` does. Every rank gets
    ``ceil(N / world)`` indices, so all run the same number of steps: a rank with one step more would wait
    forever in DDP's gradient allreduce. Padding rather than dropping: every image is seen each epoch, and
    the at most ``world - 1`` repeats weigh a few images twice.
    """
    per_rank = math.ceil(len(order) / world)
    padded = order.repeat(math.ceil(per_rank * world / len(order)))[:per_rank * world]
    return padded[rank::world]


def rank_seed(seed: int, rank: int) -> int:
    """A well-mixed seed for rank ``rank``'s augmentation stream, apart from the shuffling stream ``seed``."""
    return int(np.random.SeedSequence([seed % 2**64, rank]).generate_state(1, np.uint64)[0])


def sync_buffers(model: nn.Module) -> None:
    """Rank 0's buffers (batch norm running statistics) to every rank. DDP broadcasts them before each
    forward, but the last batch of an epoch updates each rank's own copy: without this, ranks would
    validate different models, could keep different epochs and end with different weights."""
    for buffer in model.buffers():
        torch.distributed.broadcast(buffer, src=0)


WINNOW_CODE = Path(__file__).resolve().parent  # the winnow package this process runs (check_same_data)


def code_digest(folder: Path) -> bytes:
    """A hash of every ``.py`` file under ``folder`` (its path below ``folder`` and its bytes)."""
    digest = hashlib.blake2b(digest_size=8)
    for file in sorted(folder.rglob("*.py")):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.digest()


def check_same_data(*arrays: np.ndarray, settings: dict[str, object], device: torch.device) -> None:
    """Under torchrun: a one-line :class:`WinnowError` on every rank unless every rank holds the same ``arrays``
    (a training's train and val images and labels) as rank 0, byte for byte, and the same ``settings`` (what each
    step computes, by the option that sets it: ``{"train.lr": 0.001, ...}``). Each machine of a multi-node run reads
    its own copy of the data (``dvc pull`` on each) and of params.yaml: before, a machine left at another version
    (another variant's rows, other labels of the same count) trained its shard of it beside rank 0's without a
    word, and rank 0 wrote a model of two data sets; one at another learning rate stepped the averaged gradients
    its own way, so the ranks' weights drifted apart. A rank with another number of steps than rank 0's (another row
    count, batch size or epochs) waited in the gradients' allreduce until the process group's timeout. All ranks
    learn the answer together (a rank left to train alone would wait for ever).

    So must the code each step runs: winnow's own (:data:`WINNOW_CODE`) and torch's release (its build's local part,
    ``+cpu``, ``+cu126``, aside). Before, a machine whose checkout was left behind (git pull on rank 0's machine only,
    params.yaml unchanged) trained its shard with its own augmentation and model code without a word."""
    environment = {"other winnow code (src/winnow)": code_digest(WINNOW_CODE),
                   "another torch release": torch.__version__.split("+")[0]}
    digest = hashlib.blake2b(digest_size=8)
    for array in arrays:
        array = np.asarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        rows = max(1, (8 << 20) // max(1, array[:1].nbytes))  # 8 MiB at a time: a memory map is never read whole
        for start in range(0, len(array), rows):
            digest.update(np.ascontiguousarray(array[start:start + rows]).tobytes())
    parts = [digest.digest(), *(hashlib.blake2b(repr(value).encode(), digest_size=8).digest()
                                for value in [*environment.values(), *settings.values()])]
    # nccl moves device tensors only
    mine = torch.tensor([int.from_bytes(part, "little", signed=True) for part in parts], device=device)
    first = mine.clone()
    torch.distributed.broadcast(first, src=0)
    differs = [torch.zeros_like(mine) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(differs, (mine != first).to(torch.int64))
    for column, name in enumerate([None, *environment, *settings]):
        other = [rank for rank, flags in enumerate(differs) if flags[column].item()]
        if other and name is None:
            raise WinnowError(f"train: under torchrun rank {other[0]} holds other train or val images or labels than "
                              f"rank 0 ({len(other)} rank(s) in all); every machine must hold the same data: run dvc "
                              "pull (or dvc checkout) on each, then rerun")
        if other and name in environment:
            raise WinnowError(f"train: under torchrun rank {other[0]} runs {name} than rank 0 ({len(other)} rank(s) in "
                              "all); every machine must run the same checkout and packages: git pull and make setup "
                              "on each, then rerun")
        if other:
            raise WinnowError(f"train: under torchrun rank {other[0]} runs another {name} than rank 0 "
                              f"({len(other)} rank(s) in all); every machine must run the same params.yaml: git pull "
                              "(or copy it) on each, then rerun")


def distributed_setup() -> tuple[int, int]:
    """(rank, world size) of a process group already set up, or one initialised here when launched by
    torchrun (``WORLD_SIZE`` > 1); (0, 1) otherwise. A ``WORLD_SIZE`` that is no whole number >= 1, or above 1
    without the rest of what torchrun sets (``RANK``, ``MASTER_ADDR``, ``MASTER_PORT``, the last no port), or whose
    rendezvous fails, is a one-line error: before, int()'s ValueError or torch's rendezvous error, each a traceback."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    world = _launch_number("WORLD_SIZE", default="1")
    if world > 1:
        missing = [name for name in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
        if missing:
            raise WinnowError(f"WORLD_SIZE={world} is set without {', '.join(missing)}: launch with torchrun "
                              f"(torchrun --nproc_per_node={world} ...), or unset WORLD_SIZE to train in one process")
        rank = _launch_number("RANK", default="0", least=0)
        if rank >= world:
            raise WinnowError(f"RANK={rank} with WORLD_SIZE={world}: a rank must be below the world size; launch "
                              "with torchrun, which sets both")
        # before: int()'s ValueError traceback inside torch's rendezvous (MASTER_PORT=295OO), or torch's own of a port
        # past 65535
        _launch_number("MASTER_PORT", default="", most=65535)
        try:
            _join_process_group(rank, world)
        except torch.distributed.DistError as err:  # DistNetworkError, DistStoreError: the rendezvous, not the data
            raise _rendezvous_error(world, rank, err) from err
        return torch.distributed.get_rank(), world
    return 0, 1


# the variables torchrun sets that make a process one rank of several (unset, it trains alone)
LAUNCH_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
# how long a process torchrun did not start waits at the rendezvous for its peers: torchrun starts every rank of a
# machine at once (and its agents meet first), so only a hand launch needs any wait, and none of minutes
ALONE_RENDEZVOUS_S = 30


def _join_process_group(rank: int, world: int) -> None:
    """The default process group of ``world`` ranks, this one ``rank``, met at MASTER_ADDR:MASTER_PORT. Under torchrun
    (``TORCHELASTIC_RUN_ID`` set) torch's own env:// rendezvous; in a process it did not start, a store that waits
    :data:`ALONE_RENDEZVOUS_S` for the other ranks, not torch's 30 minutes, the collectives' timeout left torch's."""
    from datetime import timedelta

    from torch.distributed.constants import default_pg_timeout

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if os.environ.get("TORCHELASTIC_RUN_ID"):
        torch.distributed.init_process_group(backend)
        return
    address, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    try:
        store = torch.distributed.TCPStore(address, port, world, rank == 0,
                                           timeout=timedelta(seconds=ALONE_RENDEZVOUS_S), multi_tenant=True)
    except torch.distributed.DistError as err:
        if not isinstance(err, torch.distributed.DistStoreError) and "timed out" not in str(err):
            raise  # the port held by another process, an address that is no host: the rendezvous's own line
        # before: a process torchrun did not start, the variables left set in a shell (exported for an earlier run),
        # waited 30 minutes in the rendezvous for ranks that never came, then torch's traceback
        peers = f"the other {world - 1} rank(s)" if rank == 0 else "rank 0"
        left = " ".join(name for name in LAUNCH_VARIABLES if name in os.environ)
        raise WinnowError(f"WORLD_SIZE={world}: rank {rank} waited {ALONE_RENDEZVOUS_S} s at MASTER_ADDR:MASTER_PORT "
                          f"{address}:{port} for {peers}, which never came, and torchrun did not start this process "
                          f"(no TORCHELASTIC_RUN_ID): the variables are left from another launch; unset {left} to "
                          f"train in one process, or launch with torchrun (torchrun --nproc_per_node={world} ...)"
                          ) from None
    torch.distributed.init_process_group(backend, store=store, rank=rank, world_size=world)
    store.set_timeout(default_pg_timeout)


def _rendezvous_error(world: int, rank: int, err: BaseException) -> WinnowError:
    """The line of a rendezvous at MASTER_ADDR:MASTER_PORT that failed with torch's ``err``."""
    # before: torch's traceback, as when WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT were left set in a shell
    # (exported for an earlier run) and another process held the port
    return WinnowError(f"WORLD_SIZE={world}: rank {rank} could not set up the process group at MASTER_ADDR:"
                       f"MASTER_PORT {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} "
                       f"({_rendezvous_failure(err)}); launch with torchrun (torchrun --nproc_per_node={world} "
                       "...), which sets them for every rank, or unset WORLD_SIZE to train in one process")


def _rendezvous_failure(err: BaseException) -> str:
    """What torch's error ``err`` of a failed rendezvous says went wrong, in a few words: the reason a socket call
    gave (``address already in use``), else the first line of its message."""
    from winnow.errors import first_line

    return first_line(err).rpartition("message: ")[2].strip()


def _launch_number(name: str, *, default: str, least: int = 1, most: int | None = None) -> int:
    """The whole number >= ``least`` (and <= ``most``, where given) in environment variable ``name`` (``default`` when
    unset), as torchrun writes it; else one line naming the variable."""
    value = os.environ.get(name, default)
    if not (value.isascii() and value.isdecimal()) or not least <= int(value) <= (most or int(value)):
        allowed = f">= {least}" if most is None else f"from {least} to {most}"
        raise WinnowError(f"{name}={value!r}: not a whole number {allowed}; torchrun sets it, so launch with "
                          f"torchrun or unset {name}")
    return int(value)


def ddp_device(rank: int, *, requested: str = "auto", option: str = "train.device") -> torch.device:
    """This rank's device under torchrun: its local GPU (``LOCAL_RANK``, refused past the GPUs visible) when CUDA is
    present, else the CPU.
    ``requested`` (``option``'s value) is checked as :func:`pick_device` checks it, and must be of that kind:
    before, train.device: cuda on a host where torch saw no GPU (a driver it could not load) trained every rank on
    the CPU without a word, where one process refuses it."""
    asked = pick_device(requested, option=option)
    kind = "cuda" if torch.cuda.is_available() else "cpu"
    if requested != "auto" and asked.type != kind:  # cpu or mps on a CUDA host, whose process group is nccl's
        raise WinnowError(f"{option}: {requested} under torchrun, whose ranks each take the local "
                          f"{'GPU' if kind == 'cuda' else 'CPU'} here; set auto, or train in one process")
    # before: each rank took its own GPU, cuda:1 honoured by none; cuda:0 with one rank a machine (LOCAL_WORLD_SIZE=1,
    # as torchrun sets it on every rank alike) is the GPU each takes, and was refused too
    alone = asked.index == 0 and os.environ.get("LOCAL_WORLD_SIZE") == "1"
    if kind == "cuda" and asked.index is not None and not alone:
        raise WinnowError(f"{option}: {requested} under torchrun, whose ranks each take a GPU of their own (the one of "
                          "their LOCAL_RANK), not the one it names; set cuda or auto, and choose the GPUs with "
                          "CUDA_VISIBLE_DEVICES, or train in one process")
    if kind == "cuda":
        # a rank past the GPUs (--nproc_per_node above their count) lacks its device as cuda:<index> past them does in
        # one process: before, torch's 'invalid device ordinal' traceback (or int()'s, of a LOCAL_RANK no number)
        local, visible = _launch_number("LOCAL_RANK", default=str(rank), least=0), torch.cuda.device_count()
        if local >= visible:
            raise WinnowError(f"LOCAL_RANK={local} under torchrun, whose ranks each take a GPU of their own, but only "
                              f"{visible} CUDA device(s) are visible; launch at most {visible} process(es) a machine "
                              f"(torchrun --nproc_per_node={visible} ...)")
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")
