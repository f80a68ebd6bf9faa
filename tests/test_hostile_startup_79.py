"""Startup of the stage processes: each stage of `dvc repro` is a fresh Python, so what its script imports
before its work is paid once per stage (26 in the default run). torch costs about 1.4 s of CPU to import and
Great Expectations about 3.6 s: a stage that runs no model never imports torch, and Great Expectations is
imported only by the stage that checks a suite, when it checks it (winnow.gx_import.import_gx), never by a
stage script's imports."""

from __future__ import annotations

import json
import subprocess
import sys

from hostile_harness import ROOT, _env

# the stage scripts that run no model: their imports must leave torch out (gan_synthesize imports it where it
# trains, after deciding whether it runs at all; a skipped gan-synthesize never pays for it)
NO_MODEL = ("augment_search", "compare", "contracts", "dedup", "degrade", "gan_synthesize", "ingest", "report",
            "score", "source", "threshold", "variants")

_PROBE = """
import json, runpy, sys
from pathlib import Path
no_model = {no_model!r}
loaded = {{}}
for script in no_model:  # the scripts' imports only: run_name is not __main__, so no stage's work starts
    runpy.run_path(f"stages/{{script}}.py", run_name="imported")
loaded["torch after the no-model stages"] = "torch" in sys.modules
every = sorted(path.stem for path in Path("stages").glob("*.py"))
for script in every:
    runpy.run_path(f"stages/{{script}}.py", run_name="imported")
loaded["great_expectations after every stage"] = "great_expectations" in sys.modules
loaded["stages"] = every
print(json.dumps(loaded))
"""


def test_stage_scripts_import_torch_only_where_a_model_runs_and_great_expectations_never():
    done = subprocess.run([sys.executable, "-c", _PROBE.format(no_model=NO_MODEL)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    # every script listed as model-free exists (a renamed stage would otherwise drop out of the check unseen)
    assert set(NO_MODEL) <= set(loaded["stages"])
    assert loaded["torch after the no-model stages"] is False
    assert loaded["great_expectations after every stage"] is False
