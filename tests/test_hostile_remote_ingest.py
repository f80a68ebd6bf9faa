"""Ingest from fsspec URLs (winnow.remote_files): a folder at a ``memory://`` URL holding the bytes of a local
folder gives the local folder's imageset byte for byte, its bad files the same rejected rows (at their
URLs); an unknown protocol, a missing cloud backend or a URL with no folder ends in one line, nothing written."""

from __future__ import annotations

import importlib.util
import json
import io
import sys
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import winnow.image_decode
from hostile_harness import assert_error_line, assert_nothing_left, default_params, files_under, make_project, run_stage
from test_streaming_ingest import ingest_in_process
from winnow.errors import WinnowError
from winnow.image_files import NESTED, OUTSIDE
from winnow.sources import load_source
from winnow.trusted_set import load_trusted

OUT = ("images.npy", "manifest.parquet", "classes.json", "oriented.csv")


def sample_files() -> dict[str, bytes]:
    """Relative path -> bytes of a small image folder: plain PNGs, a grey one (the set turns RGB), JPEGs
    (Pillow's own decoder), and the bad entries the imagefolder rules set aside."""
    rng = np.random.default_rng(7)
    files = {}
    for label in ("cat", "dog"):
        for i in range(12):
            image = Image.fromarray(rng.integers(0, 256, (10, 10, 3), dtype=np.uint8))
            if i == 3:
                image = image.convert("L")
            out = io.BytesIO()
            image.save(out, "JPEG" if i % 4 == 1 else "PNG")
            files[f"{label}/{i:02d}.{'jpg' if i % 4 == 1 else 'png'}"] = out.getvalue()
    files["cat/broken.png"] = b"\x89PNG\r\n\x1a\n not really"
    files["dog/notes.txt"] = b"hello"
    files["dog/old/x.png"] = files["dog/00.png"]
    files["stray.png"] = files["cat/00.png"]
    files["cat/.DS_Store"] = b"\0"
    return files


REJECTED = {"cat/broken.png": "cut short or damaged in its header: it starts as a PNG file, but its 19 bytes hold no "
                              "header Pillow can read (an interrupted copy or download?); copy it again from its source",
            "dog/notes.txt": "not an image file (suffix .txt; accepted: .png, .jpg, .jpeg, .bmp, .webp)",
            "dog/old/x.png": NESTED, "stray.png": OUTSIDE}


@pytest.fixture
def memory_folder():
    """(the ``memory://`` URL of :func:`sample_files`, the file system), removed afterwards."""
    fs = fsspec.filesystem("memory")
    root = f"/winnow-{uuid.uuid4().hex}"
    for name, data in sample_files().items():
        fs.pipe(f"{root}/{name}", data)
    yield f"memory://{root}", fs
    fs.rm(root, recursive=True)


def ingest_project(tmp_path: Path, name: str, path: str, monkeypatch, **ingest) -> Path:
    params = default_params()
    params["ingest"].update(source="imagefolder", path=path, max_reject_fraction=0.5, **ingest)
    project = make_project(tmp_path / name, params)
    ingest_in_process(project, monkeypatch)
    return project


@pytest.mark.hostile("imagefolder")
def test_memory_url_folder_ingests_as_the_same_local_folder(tmp_path, memory_folder, monkeypatch):
    url, _ = memory_folder
    local = tmp_path / "images"
    for name, data in sample_files().items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    monkeypatch.setattr(winnow.image_decode, "BATCH_FILES", 5)  # several batches, the last one short
    by_path = ingest_project(tmp_path, "local", str(local), monkeypatch)
    by_url = ingest_project(tmp_path, "url", url, monkeypatch)
    for name in OUT:
        assert (by_url / "data/ingest" / name).read_bytes() == (by_path / "data/ingest" / name).read_bytes(), name
    images = np.load(by_url / "data/ingest/images.npy")
    assert images.shape == (24, 10, 10, 3)  # the good files, all read; the grey one made RGB
    rejected = pd.read_csv(by_url / "data/ingest/rejected.csv")
    assert dict(rejected.itertuples(index=False)) == {f"memory://{url.removeprefix('memory://')}/{name}": reason
                                                      for name, reason in REJECTED.items()}
    local_rows = pd.read_csv(by_path / "data/ingest/rejected.csv")
    assert dict(local_rows.itertuples(index=False)) == {str(local / name): reason for name, reason in REJECTED.items()}


@pytest.mark.hostile("imagefolder")
def test_a_hidden_folder_at_a_url_is_left_out_with_the_warning_a_local_one_gets(tmp_path, memory_folder, monkeypatch,
                                                                                capsys):
    # before: memory://…/.lion (3 images) vanished without a word; on disk the same folder was named in a warning
    url, fs = memory_folder
    for i in range(3):
        fs.pipe(f"{url.removeprefix('memory://')}/.lion/{i}.png", sample_files()["cat/00.png"])
    project = ingest_project(tmp_path, "url", url, monkeypatch)
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ingest.path")]
    assert warnings == [f"warning: ingest.path: left out the hidden folder {url}/.lion (3 image file(s)): a name "
                        "starting with '.' is never read; rename it if it is a class"]
    assert json.loads((project / "data/ingest/classes.json").read_text()) == ["cat", "dog"]


@pytest.mark.hostile("imagefolder")
def test_keys_no_folder_can_hold_are_rejected_rows_naming_them(tmp_path, memory_folder, monkeypatch):
    # an object store allows a key with '//' and a key that is a file beside keys below it. Before, the first stopped
    # ingest with "cannot list memory://…/cat/cat", a folder that is not there; the second was a row naming
    # …/cat/sub/sub, and the file below it was never named
    url, fs = memory_folder
    root = url.removeprefix("memory://")
    png = sample_files()["cat/00.png"]
    fs.pipe(f"{root}/cat//double.png", png)
    fs.pipe(f"{root}/dog/both/inner.png", png)
    fs.store[f"{root}/dog/both"] = fs.store[f"{root}/dog/00.png"]  # the key dog/both is a file too
    project = ingest_project(tmp_path, "url", url, monkeypatch)
    rejected = dict(pd.read_csv(project / "data/ingest/rejected.csv").itertuples(index=False))
    assert rejected[f"{url}/cat/"] == "a key with an empty folder name ('//' in it), which no folder path can name"
    assert rejected[f"{url}/dog/both"] == ("a key that is a file and a folder at once (an object store allows it, a "
                                           "folder cannot)")
    assert np.load(project / "data/ingest/images.npy").shape == (24, 10, 10, 3)  # the good files, all read


# file://localhost/<path>: before, read as the relative path localhost/<path> ("is not a folder")
@pytest.mark.parametrize("spelling", ["file://{}", "file://localhost{}"])
def test_file_url_is_the_local_path(tmp_path, spelling):
    local = tmp_path / "images"
    for name, data in sample_files().items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    by_url = load_source("imagefolder", path=spelling.format(local), size=None, download=False, classes=None)
    by_path = load_source("imagefolder", path=str(local), size=None, download=False, classes=None)
    assert by_url.images.tobytes() == by_path.images.tobytes()
    assert list(by_url.ids) == list(by_path.ids) and by_url.rejected == by_path.rejected


def test_a_file_url_as_path_as_uri_writes_it_is_the_local_path(tmp_path):
    local = tmp_path / "my images"  # as_uri() writes the space as %20
    for name, data in sample_files().items():
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    # before: "/.../my%20images does not exist"
    by_url = load_source("imagefolder", path=local.as_uri(), size=None, download=False, classes=None)
    by_path = load_source("imagefolder", path=str(local), size=None, download=False, classes=None)
    assert by_url.images.tobytes() == by_path.images.tobytes()


def test_trusted_set_at_a_memory_url(tmp_path, memory_folder, monkeypatch):
    url, fs = memory_folder
    trusted = f"{url}-trusted"
    for name in ("cat/00.png", "dog/02.png"):
        fs.pipe(f"{trusted.removeprefix('memory://')}/{name}", sample_files()[name])
    try:
        project = ingest_project(tmp_path, "p", url, monkeypatch, trusted_path=trusted)
    finally:
        fs.rm(trusted.removeprefix("memory://"), recursive=True)
    manifest = pd.read_parquet(project / "data/ingest/manifest.parquet")
    rows = manifest[manifest["split"] == "trusted"]
    assert list(rows["id"]) == ["trusted/cat/00.png", "trusted/dog/02.png"] and list(rows["label"]) == [0, 1]
    images = np.load(project / "data/ingest/images.npy")
    first = np.asarray(Image.open(io.BytesIO(sample_files()["cat/00.png"])))
    assert np.array_equal(images[rows.index[0]], first)


# --- one line, nothing written ------------------------------------------------------------------------

def refused(tmp_path: Path, **ingest):
    params = default_params()
    params["ingest"].update(ingest)
    project = make_project(tmp_path / "project", params)
    before = files_under(project)
    return project, before, run_stage(project, "ingest", timeout=120)


@pytest.mark.hostile("ingest")
def test_unknown_protocol_is_one_line(tmp_path):
    project, before, done = refused(tmp_path, source="imagefolder", path="ftp://host/images")
    assert_error_line(done, "ingest.path", "ftp://host/images", "protocol 'ftp'", "s3://, gs://, az://")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_missing_cloud_backend_is_one_line_naming_the_package(tmp_path):
    if importlib.util.find_spec("s3fs") is not None:
        pytest.skip("s3fs is installed here; the case needs it absent (the in-process case below covers the line)")
    project, before, done = refused(tmp_path, source="imagefolder", path="s3://bucket/images")
    assert_error_line(done, "ingest.path", "s3://bucket/images", "needs s3fs", "pip install s3fs")
    assert_nothing_left(project, before)


@pytest.mark.parametrize(("url", "package"), [("s3://b/set", "s3fs"), ("gs://b/set", "gcsfs"),
                                              ("az://c/set", "adlfs")])
def test_each_missing_backend_names_its_package(monkeypatch, url, package):
    monkeypatch.setitem(sys.modules, package, None)  # importing it now fails, as when it is not installed
    with pytest.raises(WinnowError, match=rf"^ingest.path: {url} needs {package}, which is not installed: pip "
                                          rf"install {package}"):
        load_source("imagefolder", path=url, size=None, download=False, classes=None)


@pytest.mark.hostile("ingest")
def test_url_with_no_folder_is_one_line(tmp_path):
    # a fresh process: its memory file system is empty
    # before: "is not a folder", as for a file, though nothing is there at all
    project, before, done = refused(tmp_path, source="imagefolder", path="memory://nothing/here")
    assert assert_error_line(done) == ("error: ingest.path: memory:///nothing/here does not exist (expected "
                                       "root/<class>/<image files>)")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_local_path_that_is_no_folder_says_which(tmp_path, kind):
    # before: a mistyped ingest.path was "not a folder" too, which sends a user checking what kind of thing it is
    path = tmp_path / "images"
    if kind == "a file":
        path.write_bytes(b"not a folder")
    project, before, done = refused(tmp_path, source="imagefolder", path=str(path))
    said = "does not exist" if kind == "missing" else "is not a folder"
    assert assert_error_line(done) == f"error: ingest.path: {path} {said} (expected root/<class>/<image files>)"
    assert_nothing_left(project, before)


def test_a_trusted_url_with_nothing_there_names_the_trusted_path():
    # before: "ingest.path: memory:///… is not a folder", naming the other parameter
    with pytest.raises(WinnowError) as raised:
        load_trusted("memory://no/trusted/set", classes=["cat", "dog"], size=None)
    assert str(raised.value) == ("ingest.trusted_path: memory:///no/trusted/set does not exist; at a URL the trusted "
                                 "set is a folder root/<class>/* (an .npz is read from a local path)")


@pytest.mark.hostile("ingest")
def test_npz_at_a_url_is_one_line(tmp_path):
    project, before, done = refused(tmp_path, source="npz", path="memory://data/set.npz")
    assert_error_line(done, "ingest.path", "source npz reads a local file", "imagefolder")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_cifar10_at_an_s3_url_says_it_reads_a_local_folder_not_to_install_s3fs(tmp_path):
    # found by probing: "needs s3fs, which is not installed: pip install s3fs", advice that would not help
    project, before, done = refused(tmp_path, source="cifar10", path="s3://bucket/cifar")
    assert assert_error_line(done) == ("error: ingest.path: s3://bucket/cifar: source cifar10 reads a local folder; "
                                       "copy it here (dvc import-url or the cloud's own tool), or use source "
                                       "imagefolder for a folder at a URL")
    assert_nothing_left(project, before)
    # found by a review: the early refusal echoed a URL's credentials, which the backend check never does
    project, before, done = refused(tmp_path / "secret", source="npz", path="s3://AKIA:s3cr3t@bucket/x.npz")
    assert "s3cr3t" not in done.stderr
    assert_error_line(done, "ingest.path: a s3:// URL holds credentials before its bucket (user:secret@)")


def good_images(root: Path) -> Path:
    """The readable files of :func:`sample_files` under ``root``."""
    for name, data in sample_files().items():
        if "/" in name and not name.startswith(("dog/old", "cat/broken", "dog/notes")):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
    return root


@pytest.mark.hostile("ingest")
def test_trusted_path_with_unknown_protocol_is_one_line(tmp_path):
    images = good_images(tmp_path / "images")
    project, before, done = refused(tmp_path, source="imagefolder", path=str(images), trusted_path="http://h/t")
    assert_error_line(done, "ingest.trusted_path", "http://h/t", "protocol 'http'")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("spelling", ["file://{}", "file://localhost{}", "{}/"])
def test_trusted_path_spelt_otherwise_as_ingest_path_is_refused(tmp_path, spelling):
    # before: file:///<the same folder> passed the trusted_path == path check; ingest ended with exit 0 and only a
    # warning that all 24 trusted images were pixel-identical to images of ingest.path
    images = good_images(tmp_path / "images")
    trusted = spelling.format(images)
    project, before, done = refused(tmp_path, source="imagefolder", path=str(images), trusted_path=trusted)
    line = assert_error_line(done)
    assert line == (f"error: ingest.trusted_path: {trusted} is ingest.path itself; the trusted split must be images "
                    "held out from the data it judges")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("url", ["file://", "file://localhost"])
def test_file_url_without_a_path_is_one_line(tmp_path, url):
    # before: file:// read the current folder (the project) and stopped with "class folder data has no files
    # directly inside it"
    project, before, done = refused(tmp_path, source="imagefolder", path=url)
    line = assert_error_line(done)
    assert line == (f"error: ingest.path: {url} names no folder; write file:///<absolute path> (three slashes) or a "
                    "plain local path")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_file_url_naming_another_host_is_one_line(tmp_path):
    # before: file://fileserver/images was read as the relative path fileserver/images
    project, before, done = refused(tmp_path, source="imagefolder", path="file://fileserver/images")
    line = assert_error_line(done)
    assert line == ("error: ingest.path: file://fileserver/images names the host 'fileserver'; file:// reads this "
                    "machine only: write file:///<absolute path> (three slashes) or a plain local path")
    assert_nothing_left(project, before)


@pytest.mark.hostile("ingest")
def test_a_url_holding_credentials_is_refused_without_repeating_them(tmp_path):
    # before: "s3://AKIA…:secret@bucket/imgs needs s3fs" went to stderr, and into data/source.json, which DVC
    # caches and pushes
    url = "s3://AKIAEXAMPLE:SuperSecret123@bucket/imgs"
    project, before, done = refused(tmp_path, source="imagefolder", path=url)
    line = assert_error_line(done, "ingest.path: a s3:// URL holds credentials before its bucket (user:secret@)")
    assert "SuperSecret123" not in done.stdout + done.stderr, line
    assert_nothing_left(project, before)
    listed = run_stage(project, "source")
    assert "SuperSecret123" not in listed.stdout + listed.stderr + (project / "data/source.json").read_text()


CREDENTIALS = ("a {} URL holds credentials before its {} (user:secret@); remove them from params.yaml (and its "
               "history) and give them as the backend reads them (environment variables or its configuration file)")
QUERY = ("{} has a query string, which may hold a token or a signature (presigned and SAS links do) and is not "
         "repeated here; remove it from params.yaml (and its history) and give the credentials as the backend reads "
         "them (environment variables or its configuration file)")


def _nowhere_in(project: Path, secret: str, *runs) -> None:
    """``secret`` in no file below ``project`` but the params.yaml that holds it (data/source.json, which DVC caches
    and pushes, among them) and in no output of ``runs``."""
    held = [name for name in files_under(project) - {"params.yaml"} if secret.encode() in (project / name).read_bytes()]
    assert held == [] and not any(secret in done.stdout + done.stderr for done in runs)


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("param", "url", "secret", "said"), [
    # a password holding '/' ends the bucket as a URL parser reads it: before, it passed the check, and
    # "s3://AKIA…:wJal…KEY@my-bucket/images needs s3fs" went to stderr and data/source.json
    ("path", "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@my-bucket/images",
     "bPxRfiCYEXAMPLEKEY", CREDENTIALS.format("s3://", "bucket")),
    # before: "names the host 'user:SECRET@localhost'"
    ("path", "file://user:SECRET@localhost/tmp/images", "SECRET", CREDENTIALS.format("file://", "host")),
    # tokens and signatures in a query: before, repeated by "needs s3fs" / "needs adlfs" / "has protocol 'https'"
    ("path", "s3://bucket/imgs?token=TOKEN123", "TOKEN123", QUERY.format("s3://bucket/imgs?…")),
    ("path", "az://c/t?sv=2022-11-02&sig=SIGSECRET", "SIGSECRET", QUERY.format("az://c/t?…")),
    ("path", "https://b.s3.amazonaws.com/imgs?X-Amz-Signature=AMZSECRET", "AMZSECRET",
     QUERY.format("https://b.s3.amazonaws.com/imgs?…")),
    ("trusted_path", "s3://bucket/trusted?token=TOKEN456", "TOKEN456", QUERY.format("s3://bucket/trusted?…")),
    # a fragment (found by a review): before, "s3://bucket/x#sig=… needs s3fs" went to data/source.json
    ("path", "s3://bucket/x#sig=FRAGSECRET", "FRAGSECRET",
     QUERY.format("s3://bucket/x#…").replace("a query string", "a fragment")),
    ("path", "https://host/x#access_token=TOKENFRAG", "TOKENFRAG",
     QUERY.format("https://host/x#…").replace("a query string", "a fragment")),
])
def test_credentials_in_a_url_are_refused_and_written_nowhere(tmp_path, param, url, secret, said):
    images = good_images(tmp_path / "images")
    ingest = {"path": str(images), param: url}
    project, before, done = refused(tmp_path, source="imagefolder", **ingest)
    assert assert_error_line(done) == f"error: ingest.{param}: {said}"
    assert_nothing_left(project, before)
    listed = run_stage(project, "source")
    assert listed.returncode == 0, listed.stderr
    assert json.loads((project / "data/source.json").read_text())[f"ingest.{param}"] == {
        "unreadable": f"ingest.{param}: {said}"}
    _nowhere_in(project, secret, done, listed)


@pytest.mark.hostile("ingest")
def test_a_url_with_a_token_after_a_readable_listing_is_warned_of_without_it(tmp_path):
    # before: "warning: source: ingest.path cannot be read here (s3://bucket/imgs?token=… needs s3fs …)"
    images = good_images(tmp_path / "images")
    project, _, _ = refused(tmp_path, source="imagefolder", path=str(images))
    assert run_stage(project, "source").returncode == 0
    listed = json.loads((project / "data/source.json").read_text())["ingest.path"]
    params = default_params()
    params["ingest"].update(source="imagefolder", path="s3://bucket/imgs?token=TOKEN789")
    make_project(project, params)
    done = run_stage(project, "source")
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("warning:")] == [
        f"warning: source: ingest.path cannot be read here (ingest.path: {QUERY.format('s3://bucket/imgs?…')}); kept "
        "its last listing, so ingest does not rerun for it and its outputs stay those of the files it last read"]
    assert json.loads((project / "data/source.json").read_text())["ingest.path"] == listed
    _nowhere_in(project, "TOKEN789", done)


@pytest.mark.parametrize("protocol", ["az", "abfs"])
def test_azure_container_at_account_is_a_url_not_credentials(monkeypatch, protocol):
    # Microsoft's documented <container>@<account>.dfs.core.windows.net: before, "holds credentials"
    monkeypatch.setitem(sys.modules, "adlfs", None)
    url = f"{protocol}://images@myaccount.dfs.core.windows.net/train"
    with pytest.raises(WinnowError, match=rf"^ingest.path: {url} needs adlfs, which is not installed: pip install "
                                          r"adlfs \(an optional extra\)$"):
        load_source("imagefolder", path=url, size=None, download=False, classes=None)
    # a user with a password there is a secret still
    with pytest.raises(WinnowError, match=rf"^ingest.path: a {protocol}:// URL holds credentials before its bucket"):
        load_source("imagefolder", path=f"{protocol}://images:key@myaccount.dfs.core.windows.net/train", size=None,
                    download=False, classes=None)


@pytest.mark.hostile("ingest")
def test_a_path_name_too_long_is_one_line_naming_the_parameter(tmp_path):
    # before: "error: stages/ingest.py: /tmp/xxx…: File name too long [ENAMETOOLONG]; free space, or fix the path
    # or its permissions, then rerun", which named no parameter and suggested free space
    path = f"{tmp_path}/{'x' * 300}"
    project, before, done = refused(tmp_path, source="imagefolder", path=path)
    assert assert_error_line(done) == (f"error: ingest.path: {path} cannot be read (File name too long); fix the path "
                                       "or its permissions")
    assert_nothing_left(project, before)
    images = good_images(tmp_path / "images")
    project, before, done = refused(tmp_path / "trusted", source="imagefolder", path=str(images), trusted_path=path)
    assert assert_error_line(done) == (f"error: ingest.trusted_path: {path} cannot be read (File name too long); fix "
                                       "the path or its permissions")
    assert_nothing_left(project, before)


def test_a_path_in_the_home_folder_is_read_there(tmp_path, monkeypatch):
    # before: "ingest.path: ~/images does not exist" though the folder did
    good_images(tmp_path / "images")
    monkeypatch.setenv("HOME", str(tmp_path))
    by_home = load_source("imagefolder", path="~/images", size=None, download=False, classes=None)
    by_path = load_source("imagefolder", path=str(tmp_path / "images"), size=None, download=False, classes=None)
    assert by_home.images.tobytes() == by_path.images.tobytes() and list(by_home.ids) == list(by_path.ids)
    np.savez(tmp_path / "set.npz", images=np.arange(12, dtype=np.uint8).reshape(3, 2, 2), labels=[0, 1, 0])
    npz = load_source("npz", path="~/set.npz", size=None, download=False, classes=None)  # before: read as ./~/set.npz
    assert npz.images.ravel().tolist() == list(range(12)) and npz.labels.tolist() == [0, 1, 0]


def test_an_s3_access_point_arn_is_a_bucket_not_credentials():
    # found by a review: s3fs reads access point and Outposts ARNs, whose ':' the credentials check took for a
    # password's; it now passes the check (and needs s3fs, as any s3:// URL does)
    from winnow.remote_files import check_url

    check_url("s3://arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap/images", param="ingest.path")
    with pytest.raises(WinnowError, match=r"holds credentials before its bucket"):
        check_url("s3://key:secret@arn:aws:s3:us-west-2:123456789012:accesspoint/my-ap/images", param="ingest.path")
