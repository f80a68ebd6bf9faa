"""The report stage on small fabricated inputs (no training): every section renders, the page is
self-contained, and headless Chromium loads every image without a console error."""

import base64
import json
import os
import re
import runpy
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import make_manifest
from hostile_harness import default_params
from winnow.imageset import write_imageset
from winnow.metrics import summarise, summary_path
from winnow.quality import SCORES

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CLASSES = ["cat", "dog", "bird"]
VARIANTS = ["oracle", "baseline", "pruned"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--remote-debugging-port=0"]


def write(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, pd.DataFrame) and path.suffix == ".csv":
        content.to_csv(path, index=False)
    elif isinstance(content, pd.DataFrame):
        content.to_parquet(path, index=False)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))


def fabricate_project(root: Path, *, optional_stages: bool) -> None:
    """A project folder holding every stage output the report reads, from 30 random 8x8 images;
    ``optional_stages`` adds confident-learn, gan, contracts and study outputs."""
    rng = np.random.default_rng(0)
    n = 30
    labels = np.arange(n) % 3
    manifest = make_manifest(n, labels=labels).assign(split=["train"] * 18 + ["val"] * 6 + ["test"] * 6)
    images = rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8)
    write_imageset(root / "data/ingest", images, manifest, CLASSES)
    noisy = manifest.assign(label=np.where(np.arange(n) == 4, 2, labels))
    darkened = np.where(np.arange(n) < 3, 8, 1).astype(np.uint8)[:, None, None, None]
    write_imageset(root / "data/degrade", images // darkened, noisy, CLASSES)
    write(root / "data/ingest/rejected.csv", pd.DataFrame({"path": ["a.txt"], "reason": ["not an image"]}))
    write(root / "metrics/ingest.json", {"images": n, "rejected": 1, "split": {"train": 18, "val": 6, "test": 6},
                                         "classes": 3})
    write(root / "metrics/degrade.json", {"train": {"before": 18, "after": 18}, "perturbed_images": 4,
                                          "kind": {"brightness": 3, "symmetric_noise": 1, "blur": 0}})
    scores = pd.DataFrame({"id": manifest["id"], **{s: rng.uniform(0.3, 1, n) for s in SCORES}})
    scores.loc[:2, "dark"] = [0.01, 0.02, 0.05]
    write(root / "data/score/scores.parquet", scores)
    flags = pd.DataFrame({"id": manifest["id"], **{s: scores[s] < 0.1 for s in SCORES}})
    flags["any"] = flags[list(SCORES)].any(axis=1)
    write(root / "data/threshold/flags.parquet", flags)
    write(root / "metrics/threshold.json", {s: {"method": "otsu", "threshold": 0.1 if s == "dark" else None,
                                                "flagged": int(flags[s].sum()), "precision": 1.0, "recall": 1.0,
                                                "f1": 1.0} for s in SCORES})
    centres = (np.arange(16) + 0.5) / 16
    for s in SCORES:
        write(root / f"plots/threshold/{s}.csv", pd.DataFrame({"score": centres, "count": rng.integers(0, 9, 16),
                                                               "threshold": 0.1, "flagged": centres <= 0.1}))
    groups = manifest[["id", "split", "label"]].assign(group=np.arange(n), group_size=1, kept=True, reason="unique",
                                                       label_conflict=False)
    groups.loc[[5, 6], ["group", "group_size", "reason", "label_conflict"]] = [[5, 2, "kept", True],
                                                                               [5, 2, "near_duplicate", True]]
    groups.loc[6, "kept"] = False
    write(root / "data/dedup/groups.parquet", groups)
    write(root / "metrics/dedup.json", {"groups": 1, "images_removed": 1, "conflicts": 1})
    train_ids = manifest["id"][:18]
    baseline = pd.DataFrame({"id": train_ids, "origin": "degrade", "label": noisy["label"][:18], "action": "keep",
                             "reason": "", "stage": ""})
    pruned = baseline.copy()
    pruned.loc[[0, 6], ["action", "reason", "stage"]] = [["drop", "dark", "threshold"],
                                                         ["drop", "near_duplicate", "dedup"]]
    pruned.loc[4, ["action", "label", "reason", "stage"]] = ["relabel", 1, "2->1: label_issue", "confident_learn"]
    for name, rows in {"oracle": baseline.assign(origin="ingest", label=labels[:18]), "baseline": baseline,
                       "pruned": pruned}.items():
        write(root / f"data/variants/{name}/rows.parquet", rows)
    test_labels = labels[24:]
    for i, variant in enumerate(VARIANTS):
        predicted = np.where(rng.random(6) < 0.3 * i, (test_labels + 1) % 3, test_labels)
        write(root / summary_path(variant), summarise(test_labels, predicted, classes=CLASSES))
        write(root / f"plots/evaluate/{variant}/confusion.csv",
              pd.DataFrame({"actual": np.array(CLASSES)[test_labels], "predicted": np.array(CLASSES)[predicted]}))
    params = default_params()
    write(root / "params.yaml", json.dumps(params | {
        "variants": VARIANTS, "ingest": params["ingest"] | {"source": "npz", "path": "set.npz"},
        "report": {"images_per_grid": 4, "duplicate_groups": 2, "samples_per_class": 3}}))
    if optional_stages:
        write(root / "data/confident-learn/label_issues.parquet", pd.DataFrame({
            "id": train_ids[:3], "given_label": [0, 1, 2], "suggested_label": [1, 1, 1],
            "label_quality": [0.3, 0.9, 0.05], "is_issue": [True, False, True], "decision": ["keep", "keep", "relabel"],
            "reason": ["label_issue", "consistent", "label_issue"]}))
        write(root / "metrics/confident_learn.json", {"considered": 18, "issues": 2, "noise_matrix": {"cat": {}}})
        write(root / "data/embedding-clean/rounds.parquet", pd.DataFrame({
            "id": list(train_ids[:3]) * 2, "round": [1, 1, 1, 2, 2, 2], "given_label": [0, 1, 2, 0, 1, 1],
            "suggested_label": [0, 1, 1, 0, 1, 1], "decision": ["keep", "keep", "relabel", "keep", "drop", "keep"],
            "reason": ["", "", "neighbours_agree:1", "", "isolated", ""], "agreement": [0.9, 0.8, 0.9, 0.9, 0.2, 0.9]}))
        write(root / "metrics/embedding_clean.json", {"considered": 18, "rounds": [{"round": 1}, {"round": 2}]})
        write(root / "metrics/balance.json", {"target": "max", "counts": {c: {"before": 5, "added": 1, "after": 6}
                                                                          for c in CLASSES}})
        grid = root / "plots/balance/examples.png"
        grid.parent.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        Image.fromarray(images[0, :, :, 0]).save(grid)
        write_imageset(root / "data/gan", images[:6], make_manifest(6, labels=np.array([0, 0, 1, 1, 1, 2]))
                       .assign(source="gan", id=[f"gan-{i}" for i in range(6)]), CLASSES)
        write(root / "metrics/gan.json", {"classes": ["cat", "bird"], "accepted": {"cat": 0.5}})
        write(root / "metrics/contracts.json", {"success": False, "results": [{"expectation": "labels in range",
                                                                               "success": True}]})
        write(root / "reports/contracts/index.html", "<html></html>")
        write(root / "plots/study/study.csv", pd.DataFrame({
            "sweep": ["clean", "label_noise", "label_noise"], "damage": ["none", "symmetric", "symmetric"],
            "level": [0.0, 0.2, 0.4], "experiment": ["a", "b", "c"], "rev": ["a", "b", "c"],
            "accuracy": [0.9, 0.8, 0.6], "macro_f1": [0.9, 0.78, 0.55], "f1_cat": [0.9, 0.7, 0.5]}))


def build_report(root: Path, *, optional_stages: bool) -> str:
    fabricate_project(root, optional_stages=optional_stages)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        runpy.run_path(str(ROOT / "stages/report.py"))["main"]()
    finally:
        os.chdir(cwd)
    return (root / "reports/index.html").read_text()


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    build_report(root, optional_stages=True)
    return root / "reports/index.html"


def test_report_is_self_contained_and_names_classes(full_report):
    text = full_report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    sources = re.findall(r"<img [^>]*src=\"([^\"]*)\"", text)
    assert len(sources) >= 10 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "not run" not in text
    # label issues read given → suggested, and only the issues are shown
    assert "cat → dog" in text and "bird → dog" in text and "dog → dog" not in text
    assert "label conflict" in text and 'href="contracts/index.html"' in text
    assert "removed · near_duplicate" in text and "relabelled · label_issue" in text
    assert "round 2: 3 judged; isolated 1" in text and "neighbours_agree:1" in text


def test_missing_optional_stages_read_as_not_run(tmp_path):
    text = build_report(tmp_path, optional_stages=False)
    for what in ("label issues", "neighbour cleansing", "balanced augmentation", "GAN samples", "data-quality study",
                 "data contracts"):
        assert f"{what}: not run" in text
    assert "Versions side by side" in text and "<h3>f1</h3>" in text


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium, which `make setup` installs; the tests never install anything themselves."""
    from conftest import require

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require(found, what="chromium (the browser check of the report)",
            fix="`make setup` installs it (apt-get, as root), or `apt-get install chromium`")
    return found


class DevTools:
    """The DevTools protocol over one page's websocket: commands, and the events seen meanwhile."""

    def __init__(self, url: str):
        import websocket  # websocket-client, a dev dependency `make setup` installs

        self.socket = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.events: list[dict] = []
        self.last_id = 0

    def call(self, method: str, **params) -> dict:
        self.last_id += 1
        self.socket.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.last_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        while not any(event["method"] == method for event in self.events):
            self.events.append(json.loads(self.socket.recv()))


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (profile / "DevToolsActivePort").is_file():
            assert time.monotonic() < deadline and process.poll() is None, "chromium did not start"
            time.sleep(0.1)
        time.sleep(0.2)  # the file appears before its content is flushed
        port = (profile / "DevToolsActivePort").read_text().split()[0]
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = DevTools(next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page"))
        for domain in ("Page", "Runtime", "Log"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
        yield page
    finally:
        process.terminate()
        process.wait(timeout=20)


def open_page(page: DevTools, path: Path) -> tuple[list[dict], list[dict]]:
    """Load ``path``; return its images (alt, natural width) and the console's errors."""
    page.events.clear()
    page.call("Page.navigate", url=path.as_uri())
    page.wait_for("Page.loadEventFired")
    images = page.call("Runtime.evaluate", returnByValue=True, expression=(
        "[...document.images].map(i => ({alt: i.alt, width: i.naturalWidth}))"))["result"]["value"]
    errors = [e for e in page.events if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    return images, errors


def test_chromium_loads_every_image_without_console_errors(browser, full_report):
    images, errors = open_page(browser, full_report)
    assert images and not [i["alt"] for i in images if i["width"] == 0]
    assert not errors
    height = browser.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.png").write_bytes(base64.b64decode(shot["data"]))


def test_the_browser_check_sees_broken_images_and_console_errors(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><img alt="broken" src="data:image/png;base64,AAAA"><img alt="gone" src="gone.png">')
    images, errors = open_page(browser, page)
    assert images == [{"alt": "broken", "width": 0}, {"alt": "gone", "width": 0}]
    assert errors  # the missing file is a console error
