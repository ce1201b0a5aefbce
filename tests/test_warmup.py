"""`taxonomy warmup`: after it, a run compiles no numba code that numba could have cached."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

# umap compiles these eagerly (explicit signatures) when it is imported, before any caller
# can switch its disk cache on; ~0.4 s of CPU in every process.
EAGER_AT_IMPORT = {"umap.utils.tau_rand_int", "umap.utils.tau_rand"}

# Fit a corpus in a fresh process and print every numba function compiled (not loaded).
FIT_AND_LIST_COMPILES = """
import json, sys
from numba.core import event
compiled = set()
class Listener(event.Listener):
    def on_start(self, ev): pass
    def on_end(self, ev):
        f = ev.data["dispatcher"].py_func
        compiled.add(f"{f.__module__}.{f.__qualname__}")
event.register("numba:compile", Listener())
from taxonomy.config import build_config
from taxonomy.pipeline import fit
cfg = build_config({"corpus": {"path": sys.argv[1]}, "cache": {"dir": sys.argv[2]},
                    "embedding": {"show_progress_bar": False}})
fit(cfg, log=lambda m: None)
print(json.dumps(sorted(compiled)))
"""


@pytest.mark.slow
def test_after_warmup_a_run_compiles_only_what_numba_cannot_cache(tmp_path, sample_run):
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(tmp_path / "numba"),  # empty: as on a fresh install
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )

    def python(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    config = tmp_path / "warm.yaml"
    config.write_text(f"cache: {{dir: {tmp_path / 'cache'}}}\n", encoding="utf-8")
    assert "warm-up done" in python("-m", "taxonomy.cli", "warmup", str(config))
    # Another corpus than the warm-up's: the sample's papers, each title changed.
    result, _ = sample_run
    corpus = tmp_path / "other.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": f"p{i}", "title": "On " + t, "abstract": a}) + "\n"
            for i, (t, a) in enumerate(zip(result.corpus.titles, result.corpus.abstracts))
        ),
        encoding="utf-8",
    )
    out = python("-c", FIT_AND_LIST_COMPILES, str(corpus), str(tmp_path / "cache"))
    compiled = set(json.loads(out.strip().splitlines()[-1]))
    assert compiled <= EAGER_AT_IMPORT, compiled - EAGER_AT_IMPORT
