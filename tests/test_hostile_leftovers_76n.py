"""Progress bars in a CI log (probe 76n): stdout and stderr a pipe or a file, no terminal.

- train's epoch bar, represent selfsup's, gan-synthesize's ``train gan`` and data-valuation's knn-shapley and tracin
  bars drew each state into the log with a carriage return ("\\rtrain lenet5:  50%|...|"), while ingest's and dedup's
  were silent there; now every bar is made in one place (``progress_env.progress_bar``), drawn on a terminal only,
  and the lines each prints as it ends stay;
- the same bars on a terminal still draw;
- a stage or ``winnow`` command that imported DVC (train, through dvclive; compare; gate) ended on a terminal with a
  stray ``ESC[0m`` after its last line, under ``NO_COLOR=1`` and ``TERM=dumb`` too: colorama's reset at the exit,
  registered by ``colorama.init()`` in dvc/__init__.py; now never written.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hostile_harness import _env, make_project
from winnow.configs import GanConfig, SelfSupConfig, TrainConfig
from winnow.gan import train_gan
from winnow.progress_env import progress_bar
from winnow.selfsup import pretrain
from winnow.training import fit
from winnow.valuation import knn_shapley, tracin

from test_hostile_leftovers_76k import _separable

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.hostile("progress")
def test_trains_epoch_bar_draws_nothing_into_a_log_and_its_summary_line_stays(capsys):
    # capsys's stderr is no terminal, as a CI log's. Before: "\rtrain lenet5:   0%| | 0/2 ...\rtrain lenet5:  50%..."
    images, labels = _separable(60)
    config = TrainConfig(model="lenet5", epochs=2, schedule="constant", batch_size=16, device="cpu", threads=1)
    fit(images, labels, images, labels, config=config, num_classes=3, seed=0, progress=True)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[0].startswith("train lenet5: stopped at epoch 2/2 (budget: best val acc ")


@pytest.mark.hostile("progress")
def test_selfsup_and_gan_bars_draw_nothing_into_a_log(tmp_path, capsys):
    # before: "\rrepresent selfsup: ..." and "\rtrain gan: ..." redrawn at each epoch
    images = np.random.default_rng(0).integers(0, 255, (32, 8, 8, 1), dtype=np.uint8)
    pretrain(images, config=SelfSupConfig(epochs=2, batch_size=16, width=4, threads=1, device="cpu"), seed=0,
             progress=True)
    train_gan(images, np.arange(32) % 2, config=GanConfig(epochs=2, latent_dim=8, width=4, batch_size=8, device="cpu"),
              num_classes=2, seed=0, progress=True, checkpoint=tmp_path / "gan.pt")
    assert capsys.readouterr().err == ""


@pytest.mark.hostile("progress")
def test_data_valuations_bars_draw_nothing_into_a_log(capsys):
    # before: "\rdata-valuation knn-shapley: ..." and "\rdata-valuation tracin: ..."
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(40, 4)).astype(np.float32), np.arange(40) % 2
    knn_shapley(features, labels, features[:10], labels[:10], k=3, batch_size=4, progress=True)
    tracin(features, labels, features[:10], labels[:10], num_classes=2, epochs=2, progress=True)
    assert capsys.readouterr().err == ""


@pytest.mark.hostile("progress")
def test_a_bar_on_a_terminal_still_draws(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # stderr a terminal, as tqdm asks it
    with progress_bar(total=2, desc="ingest", unit="img") as bar:
        bar.update(2)
    err = capsys.readouterr().err
    assert err.startswith("\ringest:   0%|")
    assert "\ringest: 100%|" in err


def _on_a_terminal(args: list[str], cwd: Path) -> tuple[int, bytes]:
    """The exit status and all ``python <args>`` wrote to its stdout and stderr, both a terminal (a pty), read to
    the end, under NO_COLOR=1 and TERM=dumb."""
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd,
                             env={**_env(), "NO_COLOR": "1", "TERM": "dumb"})
    os.close(slave)
    said = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every end of the terminal the child held is closed
            break
        if not chunk:
            break
        said += chunk
    os.close(master)
    return child.wait(timeout=120), said


@pytest.mark.hostile("progress")
def test_a_stage_that_imported_dvc_ends_on_a_terminal_with_its_last_line(tmp_path):
    # a stage whose main imports DVC, as train's log does through dvclive. Before: b"done\r\n\x1b[0m"
    main = "from winnow import stage\ndef main():\n    import dvc\n    print('done')\nstage.run(main)\n"
    assert _on_a_terminal(["-c", main], tmp_path) == (0, b"done\r\n")


@pytest.mark.hostile("progress")
def test_a_winnow_command_that_imported_dvc_ends_on_a_terminal_with_its_error_line(tmp_path):
    # winnow compare in a project folder that holds no .dvc reads DVC to say so. Before: the line, then b"\x1b[0m"
    project = make_project(tmp_path / "project")
    mount = project
    while not os.path.ismount(mount):
        mount = mount.parent
    status, said = _on_a_terminal(["-m", "winnow.cli", "compare"], project)
    assert (status, said) == (1, ("error: compare --repo .: you are not inside of a DVC repository (checked up to mount "
                                  f"point '{mount}')\r\n").encode())
