"""Review of the 79th probe's file mends: ``image_formats.open_listed`` opens each listed file without blocking (so a
FIFO put in its place cannot hang ingest). A regular file that another process holds a write lease on (Samba's kernel
oplocks, an NFS server's delegation to a client, ``fcntl(F_SETLEASE)``) then fails to open with EAGAIN where a
blocking open waits the moment the holder takes to let go: ingest was refused, "cannot read <path> (Resource
temporarily unavailable) ...: check the disk or its network mount", for a file that was there and readable all along,
and a misnamed image under a lease was said to be "not an image file". Now the open is tried again until the holder
lets go (the kernel ends an unreleased lease itself after ``/proc/sys/fs/lease-break-time``)."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from test_hostile_ingest import image_folder
from winnow.image_files import load_imagefolder
from winnow.image_formats import MISNAMED_IMAGE, suffix_not_read

# a lease holder that lets go when the kernel asks it to (SIGIO), as Samba and nfsd do
_HOLDER = """
import fcntl, os, signal, sys
F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
fd = os.open(sys.argv[1], os.O_WRONLY)
signal.signal(signal.SIGIO, lambda *_: (fcntl.fcntl(fd, F_SETLEASE, fcntl.F_UNLCK), os._exit(0)))
fcntl.fcntl(fd, F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
signal.pause()
"""


def leased(path):
    """A process holding a write lease on ``path``, once it holds it."""
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n", "could not take a lease on the test's file (fs.leases-enable?)"
    return holder


@pytest.mark.hostile("imagefolder")
def test_an_image_another_process_holds_a_lease_on_is_read_once_it_lets_go(tmp_path):
    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    holder = leased(data / "a" / "1.png")
    try:
        loaded = load_imagefolder(data, size=None)
        assert holder.wait(timeout=10) == 0  # asked to let go by ingest's open
    finally:
        holder.kill()
    assert len(loaded.images) == 6
    assert loaded.images[1].min() == loaded.images[1].max() == 27  # 1.png's own pixels
    assert not loaded.rejected


@pytest.mark.hostile("imagefolder")
def test_a_misnamed_image_under_a_lease_is_still_told_to_be_renamed(tmp_path):
    path = tmp_path / "x.jpg.bak"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(path, format="JPEG")
    holder = leased(path)
    try:
        said = suffix_not_read(path)
    finally:
        holder.kill()
    assert said == (f"{MISNAMED_IMAGE} (JPEG) but not by its suffix (.bak; accepted: .png, .jpg, .jpeg, .bmp, .webp): "
                    "rename it x.jpg to read it")
