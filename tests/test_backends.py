"""Embedding backends: the locally exported ONNX model (fp32, int8) against torch fp32."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from taxonomy.cache import ArrayStore
from taxonomy.config import CorpusConfig, EmbeddingConfig, build_config
from taxonomy.corpus import load_corpus
from taxonomy.embed import Embedder, SentenceTransformerEncoder, load_encoder
from taxonomy.errors import ConfigError

pytest.importorskip("onnxruntime")

from taxonomy.onnx_backend import ffn_input_matmuls


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return load_corpus(CorpusConfig()).texts[:24]


@pytest.fixture(scope="module")
def torch_vectors(texts) -> np.ndarray:
    return SentenceTransformerEncoder(EmbeddingConfig(backend="torch")).encode(texts)


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("onnx_cache")


def encode(backend: str, texts: list[str], cache_dir, **kw) -> np.ndarray:
    return load_encoder(EmbeddingConfig(backend=backend, **kw), cache_dir).encode(texts)


class TestOnnx:
    def test_fp32_matches_torch(self, texts, torch_vectors, onnx_dir):
        V = encode("onnx", texts, onnx_dir)
        assert V.shape == torch_vectors.shape and V.dtype == np.float32
        assert np.allclose(np.linalg.norm(V, axis=1), 1.0, atol=1e-5)
        assert np.min(np.sum(V * torch_vectors, axis=1)) > 0.9999

    def test_export_is_cached_on_disk(self, texts, onnx_dir):
        files = sorted(onnx_dir.glob("onnx/*/model.onnx"))
        assert len(files) == 1
        stamp = files[0].stat().st_mtime_ns
        encode("onnx", texts[:2], onnx_dir)
        assert files[0].stat().st_mtime_ns == stamp  # reused, not exported again

    def test_int8_stays_close(self, texts, torch_vectors, onnx_dir):
        V = encode("onnx-int8", texts, onnx_dir)
        assert np.mean(np.sum(V * torch_vectors, axis=1)) > 0.995
        assert sorted(p.name for p in onnx_dir.glob("onnx/*/*.onnx")) == [
            "model.int8-ffn.onnx",
            "model.onnx",
        ]

    def test_int8_quantises_only_the_ffn_inputs(self, texts, onnx_dir):
        import onnx

        encode("onnx-int8", texts[:2], onnx_dir)
        (fp32,) = onnx_dir.glob("onnx/*/model.onnx")
        names = ffn_input_matmuls(onnx.load(str(fp32)))
        assert len(names) == 6  # one per layer of MiniLM-L6
        (int8,) = onnx_dir.glob("onnx/*/model.int8-ffn.onnx")
        quantised = [n for n in onnx.load(str(int8)).graph.node if n.op_type == "MatMulInteger"]
        assert len(quantised) == 6

    def test_order_and_batching_do_not_change_vectors(self, texts, onnx_dir):
        # Length-sorted batching must hand each vector back to its own text.
        a = encode("onnx", texts, onnx_dir, batch_size=5)
        b = encode("onnx", texts[::-1], onnx_dir, batch_size=32, threads=1)
        np.testing.assert_allclose(a, b[::-1], atol=1e-5)

    def test_truncates_at_max_seq_length(self, onnx_dir):
        long = "graph neural networks " * 400
        a = encode("onnx", [long], onnx_dir, max_seq_length=32)
        ref = SentenceTransformerEncoder(EmbeddingConfig(max_seq_length=32)).encode([long])
        assert float(a[0] @ ref[0]) > 0.9999

    def test_cache_keeps_backends_apart(self, tmp_path, texts, onnx_dir):
        store = ArrayStore(tmp_path)
        Embedder(EmbeddingConfig(backend="onnx", show_progress_bar=False), store).embed(texts[:3])
        _, stats = Embedder(EmbeddingConfig(backend="torch", show_progress_bar=False), store).embed(
            texts[:3]
        )
        assert stats.n_embedded == 3


class TestErrors:
    def test_missing_onnxruntime_names_the_extra(self, monkeypatch, tmp_path):
        monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import now fails
        enc = load_encoder(EmbeddingConfig(backend="onnx"), tmp_path)
        with pytest.raises(ConfigError) as e:
            enc.encode(["x"])
        assert "pip install '.[onnx]'" in str(e.value) and "embedding.backend" in str(e.value)

    def test_hub_model_is_refused(self, tmp_path):
        enc = load_encoder(EmbeddingConfig(backend="onnx", model="someone/not-local"), tmp_path)
        with pytest.raises(ConfigError, match="local model folder"):
            enc.encode(["x"])

    @pytest.mark.parametrize(
        "data, expected",
        [
            ({"backend": "tensorrt"}, "'torch', 'onnx' or 'onnx-int8'"),
            ({"threads": 0}, "greater than or equal to 1"),
        ],
    )
    def test_config_rules(self, data, expected):
        with pytest.raises(ConfigError) as e:
            build_config({"embedding": data}, "exp.yaml")
        assert str(e.value).startswith("exp.yaml: embedding.") and expected in str(e.value)
