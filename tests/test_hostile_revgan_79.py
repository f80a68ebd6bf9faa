"""Review of stop 79's gan, remote-URL, yaml_text, review-verdict and ingest mends (revgan 79): inputs that were
read before those commits and were refused by them, or mends a neighbouring input still got past."""

from __future__ import annotations

import json

import pytest

from test_contracts import _stage_module
from test_hostile_imagefolder_73r import refused
from test_hostile_ingest import image_folder
from test_hostile_remote_79 import project_of
from winnow.errors import WinnowError
from winnow.review_verdicts import resolve
from winnow.yaml_text import load_yaml


def _resolved(word: str, classes: list[str]) -> tuple[str, int]:
    return resolve(word, where="reviews/queue.csv: line 2 (id 'a')", given=0, action="relabel", suggested=1,
                   classes=classes)


@pytest.mark.hostile("review")
@pytest.mark.parametrize(("word", "classes", "verdict"), [
    ("drop ", ["cat", "drop"], ("drop", -1)),  # a spreadsheet's trailing space
    ("accept  ", ["accept", "dog"], ("accept", 1)),
    ("reject\u00a0", ["reject", "dog"], ("reject", 0)),  # a no-break space a web form adds
    ("ｄｒｏｐ", ["cat", "drop"], ("drop", -1)),  # the page has always written the class drop class:drop
], ids=["trailing-space", "two-spaces", "no-break-space", "full-width-word-ascii-class"])
def test_a_verdict_word_beside_a_class_of_its_ascii_name_is_the_verdict_as_documented(word, classes, verdict):
    # README: "a class named like a verdict word, such as Reject, is written class:Reject ... since the bare word is
    # the verdict". Before this mend (011a350b): "verdict 'drop ' reads as drop and names the class 'drop '; write
    # drop, or class:drop  for the class", a valid import refused, its fix naming a class that does not exist
    assert _resolved(word, classes) == verdict


@pytest.mark.hostile("review")
def test_a_full_width_class_written_bare_with_a_space_is_refused_naming_the_class_as_spelt():
    # the refusal 011a350b added still fires where it should, and its fix now names the class as classes.json spells
    # it (before: "class:ｄｒｏｐ " with the cell's trailing space, which names no class)
    with pytest.raises(WinnowError) as raised:
        _resolved("ｄｒｏｐ ", ["cat", "ｄｒｏｐ"])
    assert str(raised.value) == ("reviews/queue.csv: line 2 (id 'a'): verdict 'ｄｒｏｐ ' reads as drop and names the "
                                 "class 'ｄｒｏｐ'; write drop, or class:ｄｒｏｐ for the class")


@pytest.mark.hostile("ingest")
@pytest.mark.parametrize(("protocol", "meant"), [("s3", "write s3://images"), (
    "file", "is a file: URL without the '//' before its (empty) host, which ingest does not read; write file:///images "
            "(three slashes) or the plain path /images")], ids=["s3", "file"])
def test_a_local_folder_named_like_a_collapsed_url_is_told_its_local_spelling_which_ingest_reads(
        tmp_path, monkeypatch, protocol, meant):
    # a folder literally named 's3:' (or 'file:') in the project: 7f6618aa/46807ec7 refuse 's3:/images' as a
    # collapsed URL, which was this folder until then, and the refusal named only the URL. Now it names the local
    # spelling too, and that spelling is read
    project = project_of(tmp_path)
    image_folder(project / f"{protocol}:" / "images", {"cat": 6, "dog": 6})
    set_params(project, path=f"{protocol}:/images")
    line = refused(project, monkeypatch)
    assert line.startswith(f"ingest.path: {protocol}:/images ")
    assert line.endswith(f"{meant}; a local folder named {protocol}: is written ./{protocol}:/images")
    set_params(project, path=f"./{protocol}:/images")
    _stage_module("ingest").main()
    assert json.loads((project / "data/ingest/classes.json").read_text()) == ["cat", "dog"]


def set_params(project, **ingest) -> None:
    """``ingest`` set over ``project``'s params.yaml ingest section."""
    import yaml

    params = yaml.safe_load((project / "params.yaml").read_text())
    params["ingest"].update(ingest)
    (project / "params.yaml").write_text(yaml.safe_dump(params))


LOCK_WITH_A_SHELL_NOT = ("schema: '2.0'\nstages:\n  ingest:\n    cmd: test ! -e stop && python stages/ingest.py\n"
                         "    deps:\n    - path: stages/ingest.py\n      md5: 0123\n      size: 5\n")


@pytest.mark.hostile("params")
def test_a_shell_not_in_a_locks_cmd_is_read_by_libyaml_with_ruamels_value():
    # 6c2cacab's bare-tag pattern took the ' ! ' of a cmd for a tag and sent the whole dvc.lock to ruamel's pure-Python
    # reader (before: 1.8 s, not 0.22 s, for this project's 230 KB lock; minutes for a large one, each compare, report
    # and gate). A '!' inside a plain scalar is text to both readers, so libyaml reads it
    from ruamel.yaml import YAML

    from winnow.yaml_text import _UNREAD, _parsed_by_libyaml

    value = YAML(typ="safe", pure=True).load(LOCK_WITH_A_SHELL_NOT)
    assert value["stages"]["ingest"]["cmd"] == "test ! -e stop && python stages/ingest.py"
    assert _parsed_by_libyaml(LOCK_WITH_A_SHELL_NOT) is not _UNREAD
    assert load_yaml(LOCK_WITH_A_SHELL_NOT, name="dvc.lock") == value


@pytest.mark.hostile("params")
@pytest.mark.parametrize("text", ["a: &x !\nb: 1\n", "- !\n- - !\n", "[a, ! ]\n", "{k: ! }\n", "? !\n: 1\n"],
                         ids=["after-anchor", "after-dash", "in-flow-seq", "in-flow-map", "after-key"])
def test_a_bare_tag_where_a_node_starts_still_reads_as_ruamel_reads_it(text):
    # where libyaml reads a bare '!' as '' and ruamel as null: still handed to ruamel after the pattern was narrowed
    from ruamel.yaml import YAML

    assert load_yaml(text, name="dvc.yaml") == YAML(typ="safe", pure=True).load(text)


# a lease holder slow to let go: asked (SIGIO), it finishes its work for 1.5 s first, as a client flushing its cache
_SLOW_HOLDER = """
import fcntl, os, signal, sys, time
F_SETLEASE = getattr(fcntl, "F_SETLEASE", 1024)
fd = os.open(sys.argv[1], os.O_WRONLY)
def let_go(*_):
    time.sleep(1.5)
    fcntl.fcntl(fd, F_SETLEASE, fcntl.F_UNLCK)
    os._exit(0)
signal.signal(signal.SIGIO, let_go)
fcntl.fcntl(fd, F_SETLEASE, fcntl.F_WRLCK)
print("held", flush=True)
signal.pause()
"""


@pytest.mark.hostile("imagefolder")
def test_a_file_whose_lease_holder_is_slow_to_let_go_is_waited_for_in_words(tmp_path, capsys):
    # 7286377c waits up to 60 s a file for a lease's holder, without a word: ingest looked hung. Now one line on
    # stderr once the wait passes a second, then the file is read
    import subprocess
    import sys

    from winnow.image_files import load_imagefolder

    data = image_folder(tmp_path / "data", {"a": 3, "b": 3})
    holder = subprocess.Popen([sys.executable, "-c", _SLOW_HOLDER, str(data / "a" / "1.png")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "held\n", "could not take a lease on the test's file (fs.leases-enable?)"
        loaded = load_imagefolder(data, size=None)
        assert holder.wait(timeout=10) == 0
    finally:
        holder.kill()
    assert len(loaded.images) == 6 and not loaded.rejected
    assert capsys.readouterr().err.splitlines().count(
        f"ingest: waiting for {data / 'a' / '1.png'}: another process holds a lease on it (a Samba or NFS share, or a "
        "program's F_SETLEASE) and is asked to let go; read when it does, refused after 60 s") == 1


@pytest.mark.hostile("params")
@pytest.mark.parametrize("path", ["C:/Users/me/images", "D:/photos/2024 #1/cats", "data:/images?"])
def test_a_local_path_with_a_drive_letter_and_a_line_break_is_shown_as_written(tmp_path, monkeypatch, path):
    # e63b664b rebuilt any letters before ':/' as a URL: "params.yaml: ingest.path: \"c://Users/me/images…\" holds
    # the control character", a path the user never wrote, and '2024 #1' cut as a URL's fragment
    project = project_of(tmp_path, path=f"{path}\n")
    assert refused(project, monkeypatch) == (
        f"params.yaml: ingest.path: \"{path}\\n\" holds the control character '\\n', which no path typed on one line "
        "holds (a YAML block scalar keeps its line break); write the path on one line, as a plain or quoted string")


def test_the_collapsed_urls_shown_redacted_are_those_locate_refuses():
    from winnow.remote_files import BACKENDS
    from winnow.source_checks import COLLAPSIBLE

    assert COLLAPSIBLE == {*BACKENDS, "file", "http", "https"}
