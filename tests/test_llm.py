"""LLM names (taxonomy/naming/llm.py) against a standard-library fake OpenAI server.

The guards and the sibling pass on a small hand-made tree; the sample end to end through
the command line (names, cache, the key kept secret); every failure mode with its one
line and no run directory; reply parsing; and no socket at all without an endpoint.
The real-model test is tests/test_llm_real.py.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import sample_config

from taxonomy.cli import main
from taxonomy.config import LabelsConfig, LLMConfig, build_config
from taxonomy.errors import ConfigError
from taxonomy.hierarchy import Node, Taxonomy
from taxonomy.naming.keys import name_key
from taxonomy.naming.llm import (
    apply_llm_names,
    check_name,
    clean_name,
    parse_numbered,
    parse_reply,
    title_keys,
)
from taxonomy.naming.llm_client import ChatClient, resolve_endpoint
from taxonomy.outputs.report import unpacked
from taxonomy.util.cache import ArrayStore

REASONS = {
    "ok", "root", "empty", "too_long", "copies_title", "copies_example", "repeats_child",
    "repeats_parent", "repeats_sibling", "repeats_name", "far_from_papers", "endpoint_error",
    "not_asked",
}  # fmt: skip
KEY = "sk-test-" + "7f3a9c" * 4


# --- a fake OpenAI-compatible server ---------------------------------------------------------


def chat_reply(content: str) -> dict:
    return {"object": "chat.completion", "choices": [{"index": 0, "message": {"content": content}}]}


def keyword_reply(messages: list[dict]) -> str:
    """A plausible answer from the prompt alone: the node's first keyword (or, for the sibling
    pass, each topic's second keyword), so names sit near their papers as a real model's do."""
    user = messages[-1]["content"]
    if messages[0]["content"].startswith("You make the names of sibling topics distinct"):
        lines = re.findall(r"^(\d+)\. Now: .*?Keywords: ([^,.]+), ([^,.]+)", user, re.MULTILINE)
        return "\n".join(f"{i}. {second} {first}" for i, first, second in lines)
    first = re.search(r"^Keywords: ([^,\n]+)", user, re.MULTILINE).group(1)
    return f"Name: {first}\nDescription: Papers on {first}."


class FakeServer:
    """POST /v1/chat/completions: scripted actions first, then ``respond(messages)``."""

    def __init__(self, script=(), respond=keyword_reply):
        self.script, self.respond = list(script), respond
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    action = server.script.pop(0) if server.script else "ok"
                if action == "ok":
                    return self._send(200, json.dumps(chat_reply(server.respond(body["messages"]))))
                kind, *args = action
                if kind == "sleep":
                    threading.Event().wait(args[0])
                    return self._send(200, json.dumps(chat_reply("Name: late")))
                if kind == "raw":
                    return self._send(200, args[0])
                code, body, headers = args
                self._send(code, body, headers)

            def _send(self, code, text, headers=None):
                data = text.encode()
                try:
                    self.send_response(code)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    servers = []

    def start(script=(), respond=keyword_reply) -> FakeServer:
        servers.append(FakeServer(script, respond))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# --- a small hand-made tree: guards and the sibling pass ----------------------------------------

DIM = 8


def small_tree() -> tuple[Taxonomy, list[str], np.ndarray]:
    """Root > 1.0 (2.0, 2.1), 1.1 (2.2, 2.3); leaf i's two papers lie on axis i."""
    X = np.zeros((8, DIM))
    for d in range(8):
        X[d, d // 2] = 1.0
        X[d, 6] = 0.05 * (d % 2)
    titles = [f"Title of paper {d}: a study" for d in range(8)]
    nodes = {"0.0": Node("0.0", 0, 0, None, np.arange(8), ["1.0", "1.1"], label="root name")}
    for p in range(2):
        kids = [f"2.{2 * p}", f"2.{2 * p + 1}"]
        nodes[f"1.{p}"] = Node(
            f"1.{p}", 1, p, "0.0", np.arange(4 * p, 4 * p + 4), kids,
            label=f"parent {p}", keywords=[f"kw1{p}", f"kw1{p}b"],
        )  # fmt: skip
        for k in kids:
            i = int(k[2:])
            nodes[k] = Node(
                k, 2, i, f"1.{p}", np.arange(2 * i, 2 * i + 2),
                label=f"leaf {i}", keywords=[f"kw2{i}", f"kw2{i}b"],
            )  # fmt: skip
    return Taxonomy(nodes, 2), titles, X


def embed_stub(texts: list[str]) -> np.ndarray:
    """Names near every node (cosine ~0.5 or more), except those with 'far' in them (cosine 0)
    and those about proteins (the worked example's subject: cosine 0 to the nodes)."""
    out = np.tile(np.r_[np.ones(4), np.zeros(DIM - 4)] / 2, (len(texts), 1))
    for i, t in enumerate(texts):
        if "far" in t.lower():
            out[i] = np.eye(DIM)[7]
        if "protein" in t.lower():
            out[i] = np.eye(DIM)[5]
    return out


def scripted(answers: dict[str, str], distinct: dict[str, str]):
    """Reply by the node's first keyword; the sibling pass by each listed node's keyword."""

    def respond(messages):
        user = messages[-1]["content"]
        if messages[0]["content"].startswith("You make the names"):
            kws = re.findall(r"^(\d+)\. Now: .*?Keywords: ([^,.]+)", user, re.MULTILINE)
            return "\n".join(f"{i}. {distinct[kw]}" for i, kw in kws if kw in distinct)
        return answers[re.search(r"^Keywords: ([^,\n]+)", user, re.MULTILINE).group(1)]

    return respond


def labels_cfg(url: str, **llm) -> LabelsConfig:
    return LabelsConfig(method="llm", llm=LLMConfig(base_url=url, model="fake", **llm))


def name_small_tree(fake, tmp_path, answers, distinct=None, **llm):
    server = fake(respond=scripted(answers, distinct or {}))
    tax, titles, X = small_tree()
    lines: list[str] = []
    m = apply_llm_names(
        tax, titles, X, labels_cfg(server.url, **llm),
        store=ArrayStore(tmp_path / "cache"), embed=embed_stub, log=lines.append,
    )  # fmt: skip
    return tax, m, server, lines


class TestGuardsOnASmallTree:
    def test_siblings_renamed_children_and_duplicates_refused(self, fake, tmp_path):
        answers = {
            "kw20": "Name: Shared name\nDescription: One.",
            "kw21": "Name: Shared name\nDescription: Two.",
            "kw22": "Name: Title of paper 4\nDescription: Copied.",
            "kw23": "Name: far away name\nDescription: Off.",
            "kw10": "Name: First name\nDescription: Repeats a child.",
            "kw11": "Name: Second name\nDescription: Also a leaf's name elsewhere.",
        }
        distinct = {"kw20": "First name", "kw21": "Second name"}
        tax, m, server, lines = name_small_tree(fake, tmp_path, answers, distinct)
        rec = m["per_node"]
        assert rec["2.0"].pop("similarity") > 0.3
        assert rec["2.0"] == {
            "namer": "llm", "reason": "ok", "proposed": "First name", "renamed_from": "Shared name",
        }  # fmt: skip
        assert tax.nodes["2.0"].label == "First name" and tax.nodes["2.0"].description == "One."
        assert rec["2.2"]["reason"] == "copies_title" and tax.nodes["2.2"].label == "leaf 2"
        assert rec["2.3"]["reason"] == "far_from_papers" and rec["2.3"]["similarity"] == 0.0
        assert rec["1.0"]["reason"] == "repeats_child" and tax.nodes["1.0"].label == "parent 0"
        # 'Second name' went to parent 1.1 too: the smaller node, leaf 2.1, gives it up.
        assert rec["2.1"]["reason"] == "repeats_name" and tax.nodes["2.1"].label == "leaf 1"
        assert tax.nodes["2.1"].description == ""
        assert rec["1.1"]["namer"] == "llm" and tax.nodes["1.1"].label == "Second name"
        assert rec["0.0"] == {"namer": "extractive", "reason": "root"}
        # 4 leaves, 1 sibling pass (only 2.0/2.1 collided), 2 parents.
        assert len(server.requests) == m["requests"] == 7 and m["from_cache"] == 0
        assert (m["n_llm"], m["n_extractive"]) == (2, 4)
        assert m["reasons"] == {
            "copies_title": 1, "far_from_papers": 1, "repeats_child": 1, "repeats_name": 1,
        }  # fmt: skip
        assert (
            lines[0].strip()
            == f"names from fake at {server.url}/chat/completions (labels.method: llm)"
        )
        # Parents are asked with their children's final names, bottom-up.
        prompts = [r["messages"][-1]["content"] for r in server.requests]
        assert "Subtopics: First name; Second name\nKeywords: kw10, kw10b" in "".join(prompts[-2:])
        assert "Subtopics: leaf 2; leaf 3\nKeywords: kw11, kw11b" in "".join(prompts[-2:])

    def test_still_colliding_siblings_keep_the_extractive_name(self, fake, tmp_path):
        answers = {
            "kw20": '<think>They are all about kw.</think>\n**Name:** "Same".',
            "kw21": "Topic: same",
            "kw22": "",
            "kw23": "Name: Predicting protein structure",
            "kw10": "Name: one two three four five",
            "kw11": "Name: Parent one",
        }
        tax, m, server, _ = name_small_tree(
            fake, tmp_path, answers, {"kw20": "Same", "kw21": "Same"}
        )
        rec = m["per_node"]
        assert [rec[n]["namer"] for n in ("2.0", "2.1")] == ["llm", "extractive"]
        assert rec["2.1"]["reason"] == "repeats_sibling" and tax.nodes["2.1"].label == "leaf 1"
        assert tax.nodes["2.0"].label == "Same"
        assert rec["2.2"]["reason"] == "empty" and rec["2.3"]["reason"] == "copies_example"
        assert rec["1.0"]["reason"] == "too_long" and rec["1.1"]["namer"] == "llm"
        assert len(server.requests) == 7  # 4 leaves, one sibling pass, 2 parents

    def test_a_second_run_sends_nothing(self, fake, tmp_path):
        answers = {f"kw{k}": f"Name: name {k}" for k in (20, 21, 22, 23, 10, 11)}
        _, first, server, _ = name_small_tree(fake, tmp_path, answers)
        assert first["requests"] == 6 and first["n_llm"] == 6
        tax, titles, X = small_tree()
        again = apply_llm_names(
            tax, titles, X, labels_cfg(server.url), store=ArrayStore(tmp_path / "cache"),
            embed=embed_stub, log=lambda m: None,
        )  # fmt: skip
        assert len(server.requests) == 6 and again["requests"] == 0 and again["from_cache"] == 6
        assert again["per_node"] == first["per_node"]
        # Another max_tokens is another question.
        tax, titles, X = small_tree()
        apply_llm_names(
            tax, titles, X, labels_cfg(server.url, max_tokens=99), store=ArrayStore(tmp_path / "cache"),
            embed=embed_stub, log=lambda m: None,
        )  # fmt: skip
        assert len(server.requests) == 12


# --- reply parsing and guards ------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply, name, description",
    [
        ("Name: Dense retrieval\nDescription: Retrieval with learned vectors.", "Dense retrieval",
         "Retrieval with learned vectors."),
        ("<think>\nLet me think. Name: wrong\n</think>\nName: Scaling laws", "Scaling laws", ""),
        ('**Name:** "Scaling laws".\n**Description:** How loss falls.', "Scaling laws",
         "How loss falls."),
        ("## Topic: `Sparse retrieval`", "Sparse retrieval", ""),
        ("Topic name: Name: 'Efficient training'", "Efficient training", ""),
        ("Efficient training\nMaking training cheaper.", "Efficient training",
         "Making training cheaper."),
        ("- Graph learning\n", "Graph learning", ""),
        ("<think>never finished", "", ""),
        ("thinking without an opening tag</think>Name: Vector search", "Vector search", ""),
        ("", "", ""),
    ],
)  # fmt: skip
def test_parse_reply(reply, name, description):
    assert parse_reply(reply) == (name, description)


def test_parse_numbered_and_clean_name():
    assert parse_numbered("1. **Sparse retrieval**\n2) Name: Dense retrieval\n3. extra", 2) == {
        1: "Sparse retrieval",
        2: "Dense retrieval",
    }
    assert clean_name(" “Scaling Laws.” ") == "Scaling Laws"


def test_title_keys_catch_a_paper_name_but_not_a_topic_phrase():
    keys = title_keys(["Predictable Scale: Part I -- Optimal Hyperparameter Scaling"])
    assert name_key("Predictable scale") in keys and name_key("Predictable Scale: Part I") in keys
    assert name_key("Optimal hyperparameter scaling") not in keys
    assert name_key("Dense text retrieval") not in title_keys(["Dense Text Retrieval based on X"])


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "empty"), ("  ...  ", "empty"), ("one two three four five", "too_long"),
        ("x" * 61, "too_long"), ("BEIR", "copies_title"), ("protein structure predictions", "copies_example"),
        ("scaling law", "repeats_child"), ("Dense retrieval", "ok"),
    ],
)  # fmt: skip
def test_check_name(name, reason):
    titles = title_keys(["BEIR: a benchmark"])
    taken = {name_key("Scaling laws")}
    assert check_name(name, max_words=4, titles=titles, taken=taken) == reason


# --- the client: retries and Retry-After ------------------------------------------------------


def client(url: str, tmp_path: Path, waits: list[float], **llm) -> ChatClient:
    cfg = LLMConfig(base_url=url, model="fake", **llm)
    return ChatClient(resolve_endpoint(cfg), cfg, ArrayStore(tmp_path), sleep=waits.append)


PROMPT = {"a": [{"role": "user", "content": "hello"}]}


def test_retry_after_is_honoured_then_backoff(fake, tmp_path):
    server = fake(
        [
            ("status", 429, "{}", {"Retry-After": "7"}),
            ("status", 503, "{}", {}),
            ("status", 429, "{}", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        ],
        respond=lambda messages: "Name: hello",
    )
    waits: list[float] = []
    c = client(server.url, tmp_path, waits, max_retries=3)
    assert c.complete_many(PROMPT) == {"a": "Name: hello"}
    assert waits == [7.0, 2.0, 0.0]  # the header; backoff 1 s doubled; a date in the past
    assert c.requests == len(server.requests) == 4


def test_endpoint_url_is_shown_without_credentials(monkeypatch):
    monkeypatch.setenv("TAXONOMY_TEST_URL", "https://user:pw@llm.example.org:8443/v1/?key=abc")
    ep = resolve_endpoint(LLMConfig(base_url_env="TAXONOMY_TEST_URL", model="m"))
    assert ep.shown == "https://llm.example.org:8443/v1/chat/completions"
    assert "pw" not in repr(ep) and "abc" not in ep.shown


# --- the sample through the command line ---------------------------------------------------------


def write_config(tmp: Path, cache: Path, **llm) -> Path:
    data = sample_config(tmp).model_dump(mode="json")
    data["cache"]["dir"] = str(cache)
    data["labels"]["method"] = "llm"
    # A model name of its own per test: replies cached by another test are not found.
    data["labels"]["llm"].update({"model": f"fake-{uuid.uuid4().hex[:8]}", **llm})
    path = tmp / f"run-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err
    return code, cap.out, cap.err


def no_run_left(tmp: Path) -> bool:
    out = tmp / "outputs"
    return not out.exists() or not any(out.iterdir())


def test_sample_named_through_the_endpoint_then_from_the_cache(
    fake, tmp_path, shared_cache, capsys, monkeypatch
):
    monkeypatch.setenv("TAXONOMY_TEST_KEY", KEY)
    server = fake()
    cfg = write_config(tmp_path, shared_cache, base_url=server.url, api_key_env="TAXONOMY_TEST_KEY")
    code, out, err = run_cli(["run", str(cfg)], capsys)
    assert code == 0, err
    run = tmp_path / "outputs" / "sample"
    m = json.loads((run / "metrics.json").read_text())["labels"]
    tree = json.loads((run / "taxonomy.json").read_text())
    nodes = {}
    stack = [tree["root"]]
    while stack:
        n = stack.pop()
        nodes[n["node_id"]] = n
        stack.extend(n.get("children", []))
    assert set(m["per_node"]) == set(nodes) and m["n_llm"] >= 1
    assert m["n_llm"] + m["n_extractive"] == len(nodes) - 1 and m["error"] is None
    for nid, rec in m["per_node"].items():
        # A name the model did not give is the extractive or the vocabulary's (with its line).
        vocabulary = rec["namer"] == "vocabulary:openalex"
        assert rec["namer"] in ("llm", "extractive") or vocabulary
        assert rec["reason"] in REASONS
        if rec["namer"] == "llm":
            assert nodes[nid]["label"] == rec["proposed"] and nodes[nid]["description"]
            assert rec["similarity"] >= 0.15
        else:
            assert bool(nodes[nid]["description"]) == vocabulary
    keys = [name_key(n["label"]) for n in nodes.values()]
    assert len(set(keys)) == len(keys)  # no name twice in the tree
    # Names and descriptions in taxonomy.yaml and in the report's data too.
    assert yaml.safe_load((run / "taxonomy.yaml").read_text()) == tree
    core = unpacked(re.search(r'id="core-gz">([^<]*)<', (run / "report.html").read_text())[1])
    assert {k: (v["label"], v["description"]) for k, v in core["nodes"].items()} == {
        k: (v["label"], v["description"]) for k, v in nodes.items()
    }
    assert "labels.per_node" not in json.dumps(core["metrics"]) and core["metrics"]["labels"]
    assert m["requests"] == len(server.requests) > 0
    assert all(h["Authorization"] == f"Bearer {KEY}" for h in server.headers)
    # The endpoint is printed before anything is sent; never the key.
    assert f"at {server.url}/chat/completions" in err
    on_disk = b"".join(
        p.read_bytes() for p in [*run.rglob("*"), *shared_cache.rglob("*")] if p.is_file()
    )
    assert KEY.encode() not in on_disk and KEY not in out + err
    # What is sent: keywords and titles, never an abstract.
    sent = json.dumps(server.requests)
    assert "Keywords: " in sent and "Papers:\\n- " in sent and "Abstract" not in sent

    n_sent = len(server.requests)
    code, _, err = run_cli(["run", str(cfg), "--overwrite"], capsys)
    assert code == 0, err
    again = json.loads((run / "metrics.json").read_text())["labels"]
    assert len(server.requests) == n_sent and again["requests"] == 0 and again["from_cache"] > 0
    assert again["per_node"] == m["per_node"]
    assert json.loads((run / "taxonomy.json").read_text()) == tree


URL = r"http://127\.0\.0\.1:\d+/v1/chat/completions"
KEY_401 = json.dumps({"error": {"message": f"Incorrect API key: {KEY}"}})
# case: (the server's answers, labels.llm settings, the error line after "error: labels.llm: ")
FAILURES = {
    "refused": ([], {"base_url": "CLOSED", "max_retries": 0},
                rf"cannot connect to {URL}: connection refused \(is the server running\?\) after 1 try"),
    "timeout": ([("sleep", 3.0)], {"timeout": 0.5, "max_retries": 0},
                rf"{URL} did not answer within 0\.5 s \(labels\.llm\.timeout\) after 1 try"),
    "http_500": ([("status", 500, '{"error": {"message": "CUDA out of memory"}}', {})] * 2,
                 {"max_retries": 1},
                 rf"{URL} answered HTTP 500 Internal Server Error: 'CUDA out of memory' after 2 tries"),
    "http_429": ([("status", 429, "slow down", {"Retry-After": "0"})] * 2, {"max_retries": 1},
                 rf"{URL} answered HTTP 429 Too Many Requests: 'slow down' after 2 tries"),
    "http_401": ([("status", 401, KEY_401, {})], {"api_key_env": "TAXONOMY_TEST_KEY"},
                 (rf"{URL} answered HTTP 401 Unauthorized: 'Incorrect API key: \*\*\*' \(check the "
                  r"key in \$TAXONOMY_TEST_KEY, named by labels\.llm\.api_key_env\)")),
    "not_json": ([("raw", "<html>502 Bad Gateway</html>")], {},
                 rf"{URL} answered with a body that is not JSON: '<html>502 Bad Gateway</html>'"),
    "not_openai": ([("raw", '{"response": "Name: x"}')], {},
                   (rf"{URL} answered JSON that is not an OpenAI chat completion \(no "
                    r"choices\[0\]\.message\.content\): '\{\"response\": \"Name: x\"\}'")),
}  # fmt: skip


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_is_one_line_and_no_run_directory(
    case, fake, tmp_path, shared_cache, capsys, monkeypatch
):
    script, llm, expected = FAILURES[case]
    monkeypatch.setenv("TAXONOMY_TEST_KEY", KEY)
    server = fake(script * 20)  # every request fails the same way, concurrency included
    llm = {"base_url": server.url, **llm, "on_error": "fail"}
    if llm["base_url"] == "CLOSED":
        llm["base_url"] = closed_port_url()
    code, out, err = run_cli(["run", str(write_config(tmp_path, shared_cache, **llm))], capsys)
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(errors) == 1, err
    assert re.fullmatch("error: labels.llm: " + expected, errors[0]), errors[0]
    assert no_run_left(tmp_path) and KEY not in out + err
    assert err.index("names from ") < err.index("error:")


def test_fallback_keeps_the_extractive_names_with_a_warning(fake, tmp_path, shared_cache, capsys):
    plain = tmp_path / "plain.yaml"
    data = sample_config(tmp_path, cache={"dir": str(shared_cache)}, name="plain")
    plain.write_text(yaml.safe_dump(data.model_dump(mode="json")))
    assert run_cli(["run", str(plain)], capsys)[0] == 0
    server = fake([("status", 500, "{}", {})] * 50)
    cfg = write_config(tmp_path, shared_cache, base_url=server.url, max_retries=0)
    code, _, err = run_cli(["run", str(cfg)], capsys)
    assert code == 0, err
    warning = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert len(warning) == 1 and "answered HTTP 500" in warning[0]
    assert warning[0].endswith("keeping the extractive names (labels.llm.on_error: fallback)")
    m = json.loads((tmp_path / "outputs" / "sample" / "metrics.json").read_text())["labels"]
    assert m["error"].startswith("labels.llm: ") and m["n_llm"] == 0
    assert {r["reason"] for r in m["per_node"].values()} == {"endpoint_error", "root"}
    read = lambda name: (tmp_path / "outputs" / name / "topics.csv").read_text()
    assert read("sample") == read("plain")


def test_429_then_success(fake, tmp_path, shared_cache, capsys):
    server = fake([("status", 429, "{}", {"Retry-After": "0"})])
    cfg = write_config(tmp_path, shared_cache, base_url=server.url, max_retries=1, concurrency=1)
    code, _, err = run_cli(["run", str(cfg)], capsys)
    assert code == 0, err
    m = json.loads((tmp_path / "outputs" / "sample" / "metrics.json").read_text())["labels"]
    assert m["error"] is None and m["n_llm"] >= 1
    assert m["requests"] == len(server.requests) and server.requests[0] == server.requests[1]


class TestConfig:
    def test_llm_needs_an_endpoint(self):
        with pytest.raises(ConfigError) as e:
            build_config({"labels": {"method": "llm", "llm": {"model": "m"}}}, "x.yaml")
        assert str(e.value).startswith("x.yaml: labels.llm.base_url: required when labels.method")
        assert "\n" not in str(e.value)

    def test_llm_needs_a_model(self):
        with pytest.raises(ConfigError, match=r"^x\.yaml: labels\.llm\.model: required"):
            build_config(
                {"labels": {"method": "llm", "llm": {"base_url": "http://h/v1"}}}, "x.yaml"
            )

    @pytest.mark.parametrize(
        "llm, field",
        [({"base_url": "localhost:11434"}, "base_url"), ({"base_url_env": "not a name"}, "base_url_env"),
         ({"temperature": -1}, "temperature"), ({"on_error": "ignore"}, "on_error"),
         ({"concurrency": 0}, "concurrency")],
    )  # fmt: skip
    def test_bad_values_name_the_field(self, llm, field):
        with pytest.raises(ConfigError, match=rf"^x\.yaml: labels\.llm\.{field}: expected"):
            build_config({"labels": {"llm": llm}}, "x.yaml")

    def test_unset_url_variable_fails_before_any_output(
        self, tmp_path, shared_cache, capsys, monkeypatch
    ):
        monkeypatch.delenv("TAXONOMY_NO_SUCH_URL", raising=False)
        cfg = write_config(tmp_path, shared_cache, base_url_env="TAXONOMY_NO_SUCH_URL")
        code, _, err = run_cli(["run", str(cfg)], capsys)
        assert code == 2 and no_run_left(tmp_path)
        assert err.strip().endswith(
            "error: labels.llm.base_url_env: environment variable TAXONOMY_NO_SUCH_URL is not set "
            "(it should hold the endpoint URL, e.g. http://localhost:11434/v1)"
        )

    def test_a_key_pasted_as_the_variable_name_is_not_echoed(self):
        with pytest.raises(ConfigError) as e:
            resolve_endpoint(LLMConfig(base_url="http://h/v1", model="m", api_key_env=KEY))
        assert KEY not in str(e.value) and "NAME of an environment variable" in str(e.value)


# --- offline by default -------------------------------------------------------------------------


@pytest.mark.parametrize("llm_section", [False, True], ids=["no_llm_section", "llm_section_unused"])
def test_no_socket_without_an_llm_endpoint(llm_section, tmp_path, shared_cache, monkeypatch):
    """A whole run (written to disk) with every socket connection and DNS lookup refused."""
    from taxonomy.pipeline import run

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args[1:] or args)
        raise OSError("network blocked by the test")

    for target, name in [
        (socket.socket, "connect"), (socket.socket, "connect_ex"),
        (socket, "create_connection"), (socket, "getaddrinfo"),
    ]:  # fmt: skip
        monkeypatch.setattr(target, name, refuse)
    extra = (
        {"labels": {"llm": {"base_url": "http://127.0.0.1:9/v1", "model": "m"}}}
        if llm_section
        else {}
    )
    cfg = sample_config(tmp_path, cache={"dir": str(shared_cache)}, **extra)
    result = run(cfg, log=lambda m: None)
    assert (result.out_dir / "metrics.json").is_file()
    assert (
        result.metrics["labels"]["method"] == "extractive"
        and "requests" not in result.metrics["labels"]
    )
    assert attempts == []
