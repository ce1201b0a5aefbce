"""Embedding backends: each meets the fidelity bar against torch fp32; ``auto`` remembers.

No test times anything: the speed figures live in benchmarks/results/speed.md.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from taxonomy.config import CorpusConfig, EmbeddingConfig, build_config
from taxonomy.corpus import load_corpus
from taxonomy.embedding import auto as backends
from taxonomy.embedding.auto import BACKENDS, MIN_MEAN_COSINE, MIN_TOP10_OVERLAP, runnable
from taxonomy.embedding.encoder import Embedder, SentenceTransformerEncoder, load_encoder, model_key
from taxonomy.errors import ConfigError
from taxonomy.util.cache import ArrayStore

OFFERED = [name for name in BACKENDS if name != "torch"]


def needs(name: str):
    why = runnable(name)
    return pytest.mark.skipif(why is not None, reason=f"{name}: {why}")


@pytest.fixture(scope="module")
def sample() -> list[str]:
    return load_corpus(CorpusConfig()).texts  # 66 abstracts, truncated at 256 tokens like most


@pytest.fixture(scope="module")
def torch_vectors(sample) -> np.ndarray:
    return SentenceTransformerEncoder(EmbeddingConfig(backend="torch")).encode(sample)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("export_cache")


def encode(backend: str, texts: list[str], cache_dir, **kw) -> np.ndarray:
    return load_encoder(EmbeddingConfig(backend=backend, **kw), cache_dir).encode(texts)


def top10_overlap(A: np.ndarray, B: np.ndarray, k: int = 10) -> float:
    def knn(X):
        S = X @ X.T
        np.fill_diagonal(S, -np.inf)
        return np.argsort(-S, axis=1, kind="stable")[:, :k]

    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(knn(A), knn(B))]))


@pytest.mark.parametrize("name", [pytest.param(n, marks=needs(n)) for n in OFFERED])
def test_every_backend_meets_the_fidelity_bar(name, sample, torch_vectors, export_dir):
    V = encode(name, sample, export_dir)
    assert V.shape == torch_vectors.shape and V.dtype == np.float32
    assert np.allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-5)
    cosine = np.sum(V * torch_vectors, axis=1)
    assert cosine.mean() >= MIN_MEAN_COSINE
    assert top10_overlap(torch_vectors, V) >= MIN_TOP10_OVERLAP


@needs("onnx")
class TestOnnx:
    def test_fp32_matches_torch(self, sample, torch_vectors, export_dir):
        V = encode("onnx", sample[:24], export_dir)
        assert np.min(np.sum(V * torch_vectors[:24], axis=1)) > 0.9999

    def test_export_is_cached_on_disk(self, sample, export_dir):
        encode("onnx", sample[:2], export_dir)
        files = sorted(export_dir.glob("onnx/*/model*.onnx"))
        assert files and all(f.parent == files[0].parent for f in files)
        stamps = [f.stat().st_mtime_ns for f in files]
        encode("onnx", sample[:2], export_dir)
        assert [f.stat().st_mtime_ns for f in files] == stamps  # reused, not exported again

    def test_fused_graph_has_attention_fused(self, sample, export_dir):
        import onnx

        encode("onnx", sample[:2], export_dir)
        (fused,) = export_dir.glob("onnx/*/model.fused.onnx")
        ops = {n.op_type for n in onnx.load(str(fused)).graph.node}
        assert {"Attention", "SkipLayerNormalization"} <= ops

    def test_int8_quantises_only_the_ffn_inputs(self, sample, export_dir):
        import onnx

        from taxonomy.embedding.onnx import ffn_input_matmuls

        encode("onnx-int8", sample[:2], export_dir)
        (plain,) = export_dir.glob("onnx/*/model.onnx")
        assert len(ffn_input_matmuls(onnx.load(str(plain)))) == 6  # one per layer of MiniLM-L6
        (int8,) = export_dir.glob("onnx/*/model.int8-ffn.onnx")
        quantised = [n for n in onnx.load(str(int8)).graph.node if n.op_type == "MatMulInteger"]
        assert len(quantised) == 6

    def test_order_and_batching_do_not_change_vectors(self, sample, export_dir):
        # Length-sorted batching must hand each vector back to its own text.
        texts = sample[:20]
        a = encode("onnx", texts, export_dir, batch_size=5)
        b = encode("onnx", texts[::-1], export_dir, batch_size=32, threads=1)
        np.testing.assert_allclose(a, b[::-1], atol=1e-5)

    def test_truncates_at_max_seq_length(self, export_dir):
        long = "graph neural networks " * 400
        a = encode("onnx", [long], export_dir, max_seq_length=32)
        ref = SentenceTransformerEncoder(EmbeddingConfig(max_seq_length=32)).encode([long])
        assert float(a[0] @ ref[0]) > 0.9999


@needs("onnx")
def test_onnx_tokens_are_transformers_tokens(sample, tmp_path):
    """The exported backends tokenize with tokenizer.json alone (no transformers import): the
    same ids as transformers' tokenizer, truncation and special tokens included."""
    from transformers import AutoTokenizer

    from taxonomy.embedding.onnx import OnnxEncoder

    texts = sample + ["", "ünïcödé — “quotes” 中文 🚀", "word " * 600]
    enc = OnnxEncoder(EmbeddingConfig(backend="onnx", max_seq_length=128), tmp_path)
    ids, pad = enc.token_ids(texts)
    hf = AutoTokenizer.from_pretrained(str(enc.folder))
    want = hf(texts, truncation=True, max_length=128, add_special_tokens=True)["input_ids"]
    assert ids == want and pad == hf.pad_token_id
    assert max(len(x) for x in ids) == 128


@needs("openvino")
def test_openvino_reads_the_same_export(sample, export_dir):
    encode("openvino", sample[:2], export_dir)
    assert len(list(export_dir.glob("onnx/*/model.onnx"))) == 1
    assert not list(export_dir.glob("openvino"))  # no second conversion


@needs("openvino")
def test_openvino_keeps_its_compiled_graph_and_gives_the_same_vectors(sample, tmp_path):
    """The second load reads the compiled graph OpenVINO kept beside the export."""
    first = encode("openvino", sample[:4], tmp_path)
    blobs = list(tmp_path.glob("onnx/*/openvino-blobs/*"))
    assert blobs
    again = encode("openvino", sample[:4], tmp_path)
    assert np.array_equal(first, again)
    assert sorted(tmp_path.glob("onnx/*/openvino-blobs/*")) == sorted(blobs)


def test_torch_threads_are_restored(sample):
    import torch

    before = torch.get_num_threads()
    encode("torch", sample[:2], None, threads=1)
    assert torch.get_num_threads() == before


def test_cache_keeps_backends_apart(tmp_path, sample):
    store = ArrayStore(tmp_path)
    Embedder(EmbeddingConfig(backend="torch-bf16", show_progress_bar=False), store).embed(
        sample[:3]
    )
    _, stats = Embedder(EmbeddingConfig(backend="torch", show_progress_bar=False), store).embed(
        sample[:3]
    )
    assert stats.n_embedded == 3
    keys = {model_key(EmbeddingConfig(backend=b)) for b in BACKENDS}
    assert len(keys) == len(BACKENDS)


# --- auto -------------------------------------------------------------------------------


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """This machine's cache in a temporary folder; ``measure`` replaced by fixed figures."""
    monkeypatch.setattr(backends, "machine_cache_dir", lambda: tmp_path / "machine")
    calls = []
    figures = {
        "torch": {"docs_per_s": 10.0, "mean_cosine": 1.0, "load_s": 0.1},
        "torch-bf16": {"docs_per_s": 20.0, "mean_cosine": 0.9999, "load_s": 0.1},
        # the fastest, but its vectors drift: never chosen
        "onnx-int8": {"docs_per_s": 50.0, "mean_cosine": 0.95, "load_s": 0.1},
    }

    def fake_measure(cfg, cache_dir, candidates, texts, **kw):
        calls.append(list(candidates))
        return {n: dict(figures[n]) for n in figures}, {n: None for n in figures}

    monkeypatch.setattr(backends, "measure", fake_measure)
    return calls


class TestAuto:
    cfg = EmbeddingConfig(show_progress_bar=False)

    def test_is_the_default(self):
        assert EmbeddingConfig().backend == "auto"

    def test_chooses_the_fastest_faithful_backend_and_remembers_it(self, tmp_path, machine):
        backend, choice, _ = backends.choose(self.cfg, tmp_path / "cache")
        assert backend == "torch-bf16" and choice["remembered"] is False
        assert choice["vs_torch"] == 2.0 and choice["cpu"] == backends.cpu_info()
        assert len(machine) == 1
        again, choice2, _ = backends.choose(self.cfg, tmp_path / "cache")
        assert again == "torch-bf16" and choice2["remembered"] is True
        assert len(machine) == 1  # read back, not measured again

    def test_a_new_cache_dir_on_the_same_machine_does_not_measure(self, tmp_path, machine):
        backends.choose(self.cfg, tmp_path / "a")
        backend, choice, _ = backends.choose(self.cfg, tmp_path / "b")
        assert backend == "torch-bf16" and choice["remembered"] and len(machine) == 1
        assert backends.choice_paths(self.cfg, tmp_path / "b")[0].exists()  # copied in

    def test_another_cpu_measures_again(self, tmp_path, machine, monkeypatch):
        backends.choose(self.cfg, tmp_path / "cache")
        other = dict(backends.cpu_info(), model="Another CPU", flags=["avx2"])
        monkeypatch.setattr(backends, "cpu_info", lambda: other)
        backends.choose(self.cfg, tmp_path / "cache")
        assert len(machine) == 2

    def test_a_damaged_choice_is_measured_again(self, tmp_path, machine):
        backends.choose(self.cfg, tmp_path / "cache")
        for path in backends.choice_paths(self.cfg, tmp_path / "cache"):
            path.write_text("{not json")
        backend, choice, _ = backends.choose(self.cfg, tmp_path / "cache")
        assert backend == "torch-bf16" and not choice["remembered"] and len(machine) == 2

    def test_embedder_keys_the_cache_by_the_chosen_backend(self, tmp_path, machine, sample):
        store = ArrayStore(tmp_path / "cache")
        emb = Embedder(self.cfg, store)
        assert emb.cfg.backend == "torch-bf16"
        _, stats = emb.embed(sample[:3])
        assert stats.backend == "torch-bf16" and stats.backend_choice["backend"] == "torch-bf16"
        pinned = EmbeddingConfig(backend="torch-bf16", show_progress_bar=False)
        _, again = Embedder(pinned, store).embed(sample[:3])
        assert again.n_cached == 3  # the same vectors as naming the backend outright
        _, other = Embedder(self.cfg.model_copy(update={"backend": "torch"}), store).embed(
            sample[:3]
        )
        assert other.n_embedded == 3  # never mixed with another backend's

    def test_measure_reports_rates_and_cosines(self, tmp_path, sample):
        # The real measurement, on a handful of texts: figures present, nothing timed here.
        figures, encoders = backends.measure(
            self.cfg,
            tmp_path,
            ["torch"],
            sample[:6],
            check=4,
            rounds=1,
            round_size=2,
            load=load_encoder,
        )
        assert set(figures) == set(encoders) == {"torch"}
        assert figures["torch"]["docs_per_s"] > 0 and figures["torch"]["mean_cosine"] > 0.9999


def test_run_records_the_backend(sample_run):
    import json

    result, out = sample_run
    m = result.metrics["embedding_backend"]
    assert m["backend"] in BACKENDS and result.cfg.embedding.backend == m["backend"]
    assert json.loads((out / "metrics.json").read_text())["embedding_backend"] == m
    assert f"backend: {m['backend']}" in (out / "config.yaml").read_text()
    if m["chosen_by"] == "auto":
        assert m["docs_per_s"] > 0 and m["cpu"]["model"]


class TestErrors:
    def test_missing_onnxruntime_names_the_extra(self, monkeypatch, tmp_path):
        monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now fails
        enc = load_encoder(EmbeddingConfig(backend="onnx"), tmp_path)
        with pytest.raises(ConfigError) as e:
            enc.encode(["x"])
        assert "pip install '.[onnx]'" in str(e.value) and "embedding.backend" in str(e.value)

    def test_missing_openvino_names_the_extra(self, monkeypatch, tmp_path):
        monkeypatch.setitem(sys.modules, "openvino", None)
        enc = load_encoder(EmbeddingConfig(backend="openvino"), tmp_path)
        with pytest.raises(ConfigError, match=r"pip install '\.\[openvino\]'"):
            enc.encode(["x"])

    def test_hub_model_is_refused(self, tmp_path):
        pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
        enc = load_encoder(EmbeddingConfig(backend="onnx", model="someone/not-local"), tmp_path)
        with pytest.raises(ConfigError, match="local model folder"):
            enc.encode(["x"])

    @pytest.mark.parametrize(
        "data, expected",
        [
            ({"backend": "tensorrt"}, "'auto', 'torch', 'torch-bf16', 'onnx'"),
            ({"threads": 0}, "greater than or equal to 1"),
        ],
    )
    def test_config_rules(self, data, expected):
        with pytest.raises(ConfigError) as e:
            build_config({"embedding": data}, "exp.yaml")
        assert str(e.value).startswith("exp.yaml: embedding.") and expected in str(e.value)
