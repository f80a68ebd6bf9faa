"""Hostile remote sources (stop 79): a URL holding credentials or a token must reach neither the terminal nor
data/source.json by any path, including the refusals that come before the URL's own check: a control character in
the value (a YAML block scalar's line break, a tab), and a URL whose ``//`` a path tool collapsed (``s3:/bucket``),
which was read as a local path and quoted whole.

Each case runs the stage's main in this process and asserts the one line, whole, that the secret is in it nowhere,
and that nothing was left behind (or, for the source stage, what data/source.json records).
"""

from __future__ import annotations

import json

import pytest

from hostile_harness import default_params, files_under, make_project
from test_contracts import _stage_module
from test_hostile_imagefolder_73r import refused
from test_hostile_ingest import image_folder
from winnow.errors import WinnowError

SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
CREDENTIALS = ("a s3:// URL holds credentials before its bucket (user:secret@); remove them from params.yaml (and its "
               "history) and give them as the backend reads them (environment variables or its configuration file)")


def project_of(tmp_path, section: str = "ingest", **values):
    """A project reading a local image folder, ``values`` set in params.yaml's ``section`` over the defaults."""
    params = default_params()
    params["ingest"].update(source="imagefolder", size=None,
                            path=str(image_folder(tmp_path / "images", {"cat": 6, "dog": 6})))
    params[section] = {**(params.get(section) or {}), **values}
    return make_project(tmp_path / "project", params)


@pytest.mark.hostile("params")
@pytest.mark.parametrize(("key", "value", "shown", "char", "why"), [
    # a block scalar (`path: |`) under a URL with a key and a secret
    ("path", f"s3://AKIAIOSFODNN7EXAMPLE:{SECRET}@my-bucket/images\n", "s3://my-bucket/images…", "\\n",
     "which no path typed on one line holds (a YAML block scalar keeps its line break); write the path on one line, "
     "as a plain or quoted string"),
    # a tab after a presigned link's signature
    ("trusted_path", f"s3://bucket/trusted?X-Amz-Signature={SECRET}\t", "s3://bucket/trusted…", "\\t",
     "which a path typed by hand does not hold (a double-quoted YAML string reads \\t or \\x.. as one); write the "
     "path as its folders and file are named"),
])
def test_a_url_with_a_secret_and_a_control_character_is_refused_without_the_secret(tmp_path, monkeypatch, key, value,
                                                                                   shown, char, why):
    # before: 'params.yaml: ingest.path: "s3://AKIAIOSFODNN7EXAMPLE:wJalr…KEY@my-bucket/images\n" holds the control
    # character', the secret printed to the terminal and every log of the run, by every stage (the params check)
    project = project_of(tmp_path, **{key: value})
    line = refused(project, monkeypatch)
    assert line == f"params.yaml: ingest.{key}: \"{shown}\" holds the control character '{char}', {why}"
    assert SECRET not in line


@pytest.mark.hostile("params")
def test_a_represent_url_with_a_secret_and_a_line_break_is_refused_without_the_secret(tmp_path, monkeypatch):
    # the same check of represent.file's value (one_line) repeated it too
    project = project_of(tmp_path, "represent", source="file", file=f"gs://u:{SECRET}@bucket/emb.parquet\n")
    line = refused(project, monkeypatch)
    assert line == ("params.yaml: represent.file: \"gs://bucket/emb.parquet…\" holds the control character '\\n', "
                    "which no path typed on one line holds (a YAML block scalar keeps its line break); write the path "
                    "on one line, as a plain or quoted string")


def _source_stage(project, monkeypatch, capsys) -> str:
    """stdout and stderr of the source stage run in ``project``, which must succeed."""
    monkeypatch.chdir(project)
    _stage_module("source").main()
    out = capsys.readouterr()
    return out.out + out.err


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("key", ["path", "trusted_path"])
def test_a_url_with_one_slash_and_credentials_is_refused_and_written_nowhere(tmp_path, monkeypatch, capsys, key):
    # `str(Path("s3://KEY:SECRET@bucket/images"))` is "s3:/KEY:SECRET@bucket/images": before, read as a local path,
    # "ingest.path: s3:/AKIA…:wJalr…KEY@my-bucket/images does not exist" went to stderr and the source stage wrote
    # "[Errno 2] No such file or directory: 's3:/AKIA…:wJalr…KEY@my-bucket/images'" into data/source.json (which DVC
    # caches and pushes)
    project = project_of(tmp_path, **{key: f"s3:/AKIAIOSFODNN7EXAMPLE:{SECRET}@my-bucket/images"})
    assert refused(project, monkeypatch) == f"ingest.{key}: {CREDENTIALS}"
    said = _source_stage(project, monkeypatch, capsys)
    assert json.loads((project / "data/source.json").read_text())[f"ingest.{key}"] == {
        "unreadable": f"ingest.{key}: {CREDENTIALS}"}
    held = [name for name in files_under(project) - {"params.yaml"} if SECRET.encode() in (project / name).read_bytes()]
    assert held == [] and SECRET not in said


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("value", "meant"), [("s3:/my-bucket/images", "s3://my-bucket/images"),
                                              ("memory:/bucket/images", "memory://bucket/images")])
def test_a_url_with_one_slash_is_told_so_not_that_the_folder_is_missing(tmp_path, monkeypatch, value, meant):
    # before: "ingest.path: s3:/my-bucket/images does not exist (expected root/<class>/<image files>)", a local folder
    # "s3:" looked for, the user sent to check a bucket that is there
    project = project_of(tmp_path, path=value)
    protocol = value.partition(":")[0]
    assert refused(project, monkeypatch) == (
        f"ingest.path: {value} has one slash after {protocol}: where a URL has two (a path tool such as pathlib or "
        f"os.path.normpath collapses '//'); write {meant}")


def test_a_url_with_one_slash_and_a_token_is_refused_without_it(tmp_path):
    from winnow.remote_files import locate

    with pytest.raises(WinnowError) as raised:
        locate(f"gs:/bucket/images?token={SECRET}", param="ingest.path")
    assert str(raised.value).startswith(
        "ingest.path: gs://bucket/images?… has a query string, which may hold a token")
    assert SECRET not in str(raised.value)


@pytest.mark.hostile("ingest")
def test_a_file_url_with_one_slash_is_told_its_spelling_not_that_the_folder_is_missing(tmp_path, monkeypatch):
    # RFC 8089's file:/path: before, "ingest.path: file:/…/my images does not exist" of a folder that was there
    folder = image_folder(tmp_path / "my images", {"cat": 6, "dog": 6})
    value = "file:" + folder.as_uri().removeprefix("file://")
    project = project_of(tmp_path, path=value)
    assert refused(project, monkeypatch) == (
        f"ingest.path: {value} is a file: URL without the '//' before its (empty) host, which ingest does not read; "
        f"write {folder.as_uri()} (three slashes) or the plain path {folder}")


@pytest.mark.hostile("params")
def test_a_collapsed_url_with_a_secret_and_a_line_break_is_refused_without_the_secret(tmp_path, monkeypatch):
    project = project_of(tmp_path, path=f"s3:/AKIAIOSFODNN7EXAMPLE:{SECRET}@my-bucket/images\n")
    assert refused(project, monkeypatch) == (
        "params.yaml: ingest.path: \"s3://my-bucket/images…\" holds the control character '\\n', which no path typed "
        "on one line holds (a YAML block scalar keeps its line break); write the path on one line, as a plain or "
        "quoted string")


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/images", "https://images.example.org:8443/cats-and-dogs"])
def test_a_web_server_with_a_port_is_told_its_protocol_is_not_read_not_that_it_holds_credentials(tmp_path, monkeypatch,
                                                                                                  url):
    # before: "ingest.path: a http:// URL holds credentials before its bucket (user:secret@); remove them from
    # params.yaml (and its history) …" of a local web server's address, which holds none: its ':' read as a password's
    project = project_of(tmp_path, path=url)
    assert refused(project, monkeypatch) == (
        f"ingest.path: {url} has protocol '{url.partition(':')[0]}', which ingest does not read; use s3://, gs://, "
        "az://, memory:// or file:// (or a local path)")


@pytest.mark.hostile("ingest")
def test_a_web_address_with_a_password_holding_a_slash_is_still_refused_without_it(tmp_path, monkeypatch):
    # a ':' followed by an '@' stays a password's, where its '/' ends the host as a URL parser reads it
    project = project_of(tmp_path, path=f"http://alice:{SECRET[:10]}/{SECRET[10:]}@127.0.0.1:8000/images")
    line = refused(project, monkeypatch)
    assert line == ("ingest.path: a http:// URL holds credentials before its host (user:secret@); remove them from "
                    "params.yaml (and its history) and give them as the backend reads them (environment variables or "
                    "its configuration file)")
