"""No surprise network: the bundled model runs with sockets blocked; a hub model says it needs them.

The subprocesses here start with ``sitecustomize`` from :func:`offline_env`,
which makes every internet socket connect and DNS lookup fail and records the
attempt, and without ``HF_HUB_OFFLINE`` in the environment — so it is the code,
not the test set-up, that keeps huggingface_hub off the network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import sample_config

GUARD = """
import os, socket
_LOG = os.environ["TAXONOMY_NET_LOG"]
_LOCAL = {None, "localhost", "127.0.0.1", "::1", ""}

def _record(what):
    with open(_LOG, "a") as f:
        f.write(repr(what) + "\\n")

_connect = socket.socket.connect
def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
        _record(("connect", address))
        raise OSError(101, "network blocked by the test")
    return _connect(self, address)

_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL:
        _record(("getaddrinfo", host))
        raise socket.gaierror(-3, "network blocked by the test")
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
"""


def offline_env(tmp: Path) -> tuple[dict[str, str], Path]:
    """Environment for a subprocess with internet sockets blocked; returns it and the attempt log."""
    guard = tmp / "netguard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp / "network-attempts.log"
    log.write_text("")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(guard), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        TAXONOMY_NET_LOG=str(log),
        HF_HOME=str(tmp / "hf-home"),  # an empty hub cache: nothing to find locally by accident
    )
    return env, log


def taxonomy_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "taxonomy.cli", *args]


def run_proc(cmd: list[str], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def write_config(tmp: Path, **overrides) -> Path:
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(sample_config(tmp, **overrides).model_dump(mode="json")))
    return path


def test_guard_blocks_and_records(tmp_path):
    """The guard itself works (else the tests below would prove nothing)."""
    env, log = offline_env(tmp_path)
    code = "import urllib.request; urllib.request.urlopen('https://huggingface.co', timeout=5)"
    proc = run_proc([sys.executable, "-c", code], env, 60)
    assert proc.returncode != 0 and "huggingface.co" in log.read_text()


def test_bundled_model_embeds_offline(tmp_path):
    """Load the default model and embed, from a fresh process and an empty cache, with no socket."""
    env, log = offline_env(tmp_path)
    code = (
        "import sys; from taxonomy.config import EmbeddingConfig; from taxonomy.util.cache import ArrayStore;"
        "from taxonomy.embedding.encoder import Embedder;"
        "X, s = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(sys.argv[1])).embed("
        "['Graph neural networks for molecules.', 'Retrieval with dual encoders.']);"
        "print(X.shape, s.n_embedded)"
    )
    proc = run_proc([sys.executable, "-c", code, str(tmp_path / "cache")], env, 300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "(2, 384) 2"
    assert log.read_text() == ""


def test_hub_model_says_it_needs_network(tmp_path):
    env, log = offline_env(tmp_path)
    cfg = write_config(tmp_path, embedding__model="taxonomy-tests/no-such-model")
    proc = run_proc(taxonomy_cmd("run", str(cfg)), env, 300)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(errors) == 1 and errors[0].startswith(
        "error: embedding.model: 'taxonomy-tests/no-such-model'"
    )
    assert "needs network access" in errors[0]
    assert log.read_text()  # it did try, and was stopped


@pytest.mark.slow
def test_sample_run_makes_no_network_call(tmp_path):
    """The whole default run, fresh cache, from the command line, with sockets blocked."""
    env, log = offline_env(tmp_path)
    proc = run_proc(taxonomy_cmd("run", str(write_config(tmp_path))), env, 600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        json.loads((tmp_path / "outputs" / "sample" / "metrics.json").read_text())["n_docs"] == 66
    )
    assert log.read_text() == ""
