"""ONNX backends: the sentence-transformers model exported once, run with onnxruntime.

The transformer is exported locally with torch's TorchScript exporter (no hub, no
``optimum``) into ``<cache.dir>/onnx/``. ``onnx`` runs that graph after onnxruntime's
transformer optimizer (Attention, SkipLayerNorm and BiasGelu fused); ``onnx-int8`` runs
it with onnxruntime's dynamic int8 quantisation of each layer's FFN input weights; the
OpenVINO backends read the plain export. Tokenisation, ``max_seq_length`` truncation,
mean pooling and normalisation follow sentence-transformers exactly, so the vectors match
the torch backend (measured in ``benchmarks/results/speed.md``).
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np

from ..config import EmbeddingConfig
from ..errors import ConfigError
from ..util.arrays import unit_rows
from ..util.cache import hash_key
from ..util.files import atomic_path
from ..util.versions import version
from .auto import machine_cache_dir
from .models import model_location

log = logging.getLogger(__name__)

ONNX_INSTALL_HINT = "pip install '.[onnx]'"
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Files in an export folder, per backend: the plain export also feeds OpenVINO.
FILES = {"onnx": "model.fused.onnx", "onnx-int8": "model.int8-ffn.onnx", "export": "model.onnx"}
DEFAULT_ONNX_DIR = ".cache/taxonomy"


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"embedding.backend: the ONNX backends need the '{module}' package, which is not "
            f"installed; {ONNX_INSTALL_HINT} installs it (or set embedding.backend: torch)"
        ) from None


def st_layout(folder: Path) -> tuple[str, bool]:
    """``(pooling, normalize)`` of a sentence-transformers folder; only plain pooling models qualify."""
    modules = (
        json.loads((folder / "modules.json").read_text())
        if (folder / "modules.json").exists()
        else []
    )
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pool_cfg = {}
    for m in modules:
        if m["type"].endswith("Pooling"):
            pool_cfg = json.loads((folder / m["path"] / "config.json").read_text())
    modes = [k for k, v in pool_cfg.items() if k.startswith("pooling_mode") and v]
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or set(kinds[2:]) - {"Normalize"}
        or modes not in (["pooling_mode_mean_tokens"], ["pooling_mode_cls_token"])
    ):
        raise ConfigError(
            f"embedding.backend: the ONNX backends support Transformer + mean/CLS pooling "
            f"(+ Normalize) models; {folder} has modules {kinds} and pooling {modes} "
            "(use embedding.backend: torch)"
        )
    return ("mean" if modes == ["pooling_mode_mean_tokens"] else "cls"), "Normalize" in kinds


def onnx_dir(folder: Path, cache_dir: str | Path) -> Path:
    """Where the ONNX files of a model folder live (keyed by weights, exporter, versions)."""
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    stamp = [(p.name, p.stat().st_size) for p in weights]
    key = hash_key(
        "onnx",
        "torchscript",
        folder.name,
        stamp,
        (folder / "config.json").read_text(),
        # The installed version, read without importing torch (seconds of a run that only
        # reads an export made earlier).
        version("torch", missing="-"),
        OPSET,
        version("onnxruntime", missing="-"),
    )
    return Path(cache_dir) / "onnx" / key


def token_state_module(folder: Path):
    """The model's transformer as a module ``(ids, mask, token types) -> token states``, eval
    mode, eager attention (what the exporters trace), and an example batch for tracing."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # The example batch must contain padding: with an all-ones mask transformers skips
    # building the attention mask and the traced graph would ignore it.
    ids = torch.full((2, 16), 1000, dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    return Hidden(model), (ids, mask, torch.zeros_like(ids))


def export_onnx(folder: Path, path: Path) -> Path:
    """Export the transformer (token states out; pooling stays in numpy) to ``path``, atomically.

    torch's TorchScript exporter (``dynamo=False``), not the dynamo one: its graph is what
    onnxruntime's transformer optimizer recognises (Attention, SkipLayerNorm, BiasGelu
    fusion; the dynamo graph gets no Attention fusion), it runs faster unfused too, and it
    exports in ~3 s instead of ~10 s (benchmarks/results/speed.md).
    """
    _require("onnx")
    import torch

    module, (ids, mask, types) = token_state_module(folder)
    dims = {0: "batch", 1: "seq"}
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    try:
        # The exporter narrates (deprecation, tracer warnings); none of it is actionable here.
        quiet.setLevel(logging.ERROR)
        with atomic_path(path, ".onnx") as tmp, torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (ids, mask, types),
                str(tmp),
                input_names=list(INPUTS),
                output_names=["token_embeddings"],
                opset_version=OPSET,
                dynamo=False,
                dynamic_axes={name: dims for name in (*INPUTS, "token_embeddings")},
            )
    except Exception as err:  # noqa: BLE001 - exporter failures come in many types
        raise ConfigError(
            f"embedding.backend: exporting {folder} to ONNX failed ({type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}); use embedding.backend: torch"
        ) from None
    finally:
        quiet.setLevel(level)
    return path


def fuse(src: Path, dst: Path, folder: Path) -> Path:
    """onnxruntime's BERT optimizer on ``src``: Attention, SkipLayerNorm, BiasGelu fused; atomic."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((folder / "config.json").read_text())
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    try:
        quiet.setLevel(logging.ERROR)  # it logs every fusion it applies
        model = optimize_model(
            str(src),
            model_type="bert",
            num_heads=int(config.get("num_attention_heads", 0)),
            hidden_size=int(config.get("hidden_size", 0)),
            opt_level=1,
            use_gpu=False,
        )
        with atomic_path(dst, ".onnx") as tmp:
            model.save_model_to_file(str(tmp))
    finally:
        quiet.setLevel(level)
    return dst


def ffn_input_matmuls(model) -> list[str]:
    """Names of the MatMuls that feed a GELU (``Erf``) within three steps: each layer's FFN input.

    Quantising only these keeps the vectors faithful (1,000 arXiv abstracts: mean cosine
    0.9988, top-10 neighbour overlap 0.958 to torch fp32) where quantising every MatMul
    falls below the 0.95 overlap bar (0.920); speeds in benchmarks/results/speed.md.
    """
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {init.name for init in model.graph.initializer}

    def reaches_erf(output: str, steps: int) -> bool:
        nxt = consumers.get(output, [])
        if any(n.op_type == "Erf" for n in nxt):
            return True
        return steps > 1 and any(reaches_erf(o, steps - 1) for n in nxt for o in n.output)

    return [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and n.input[1] in weights and reaches_erf(n.output[0], 3)
    ]


def quantize_int8(src: Path, dst: Path) -> Path:
    """Dynamic int8 quantisation of the FFN input MatMul weights (activations stay float), atomically."""
    onnx = _require("onnx")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = ffn_input_matmuls(onnx.load(str(src)))
    root = logging.getLogger()
    # quantize_dynamic advises pre-processing through the root logger: not actionable here.
    hush = _DropMessage("pre-processing before quantization")
    root.addFilter(hush)
    try:
        # Per-channel signed weights keep the most accuracy; attention and FFN output
        # projections stay fp32 (quantising them too drops the neighbour overlap to 0.92).
        with atomic_path(dst, ".onnx") as tmp:
            quantize_dynamic(
                str(src),
                str(tmp),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_quantize=nodes or None,
            )
    finally:
        root.removeFilter(hush)
    return dst


class _DropMessage(logging.Filter):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


class OnnxEncoder:
    """The :class:`~taxonomy.embedding.encoder.Encoder` of ``embedding.backend: onnx | onnx-int8``.

    Parameters
    ----------
    cfg : EmbeddingConfig
        Model, backend, batch size, ``max_seq_length``, threads.
    cache_dir : str or Path, optional
        Where the exported model is kept (the run's ``cache.dir``).
    """

    def __init__(self, cfg: EmbeddingConfig, cache_dir: str | Path | None = None):
        self.cfg = cfg
        self.cache_dir = Path(cache_dir or DEFAULT_ONNX_DIR)
        self._session = None
        self._tokenizer = None

    @property
    def folder(self) -> Path:
        where, local = model_location(self.cfg.model)
        if not local:
            raise ConfigError(
                f"embedding.backend: '{self.cfg.backend}' needs a bundled or local model folder; "
                f"'{self.cfg.model}' is neither (use embedding.backend: torch)"
            )
        return Path(where)

    @property
    def tokenizer(self):
        """The model's fast tokenizer, truncating to ``max_seq_length`` as sentence-transformers
        does. Read from ``tokenizer.json`` with the tokenizers library alone when the folder has
        one (importing transformers costs seconds of a short run), else by transformers."""
        if self._tokenizer is None:
            path = self.folder / "tokenizer.json"
            if path.is_file():
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(path))
                tok.no_padding()
                tok.enable_truncation(max_length=self.cfg.max_seq_length)
                self._tokenizer = tok
            else:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder))
        return self._tokenizer

    def token_ids(self, texts: list[str]) -> tuple[list[list[int]], int]:
        """Each text's token ids (special tokens added, truncated) and the padding id."""
        tok = self.tokenizer
        if hasattr(tok, "encode_batch"):  # tokenizers.Tokenizer
            pad_token = self.pad_token()
            pad = tok.token_to_id(pad_token) if pad_token else None
            return [e.ids for e in tok.encode_batch(list(texts))], pad or 0
        enc = tok(
            list(texts),
            truncation=True,
            max_length=self.cfg.max_seq_length,
            add_special_tokens=True,
        )
        return enc["input_ids"], tok.pad_token_id or 0

    def pad_token(self) -> str | None:
        """The padding token the model's tokenizer config names (masked out either way)."""
        path = self.folder / "special_tokens_map.json"
        if not path.is_file():
            return None
        pad = json.loads(path.read_text(encoding="utf-8")).get("pad_token")
        return pad.get("content") if isinstance(pad, dict) else pad

    def model_file(self, kind: str | None = None) -> Path:
        """The ONNX file of ``kind`` (default: this backend), made on first use."""
        d = onnx_dir(self.folder, self.cache_dir)
        want = d / FILES[kind or self.cfg.backend]
        if want.exists():
            return want
        # Made already in this machine's cache (same key): copying beats exporting again.
        done = onnx_dir(self.folder, machine_cache_dir()) / want.name
        if done != want and done.exists():
            with atomic_path(want, ".onnx") as tmp:
                shutil.copyfile(done, tmp)
            return want
        plain = d / FILES["export"]
        if not plain.exists():
            log.info("exporting %s to ONNX at %s", self.cfg.model, plain)
            export_onnx(self.folder, plain)
        if want.name == FILES["onnx"]:
            fuse(plain, want, self.folder)
        elif want.name == FILES["onnx-int8"]:
            quantize_int8(plain, want)
        return want

    @property
    def session(self):
        if self._session is None:
            ort = _require("onnxruntime")
            self.pooling, self.model_normalizes = st_layout(self.folder)
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Idle threads sleep instead of spinning: batches are large, and spinning burns
            # cores that UMAP, Dask workers or other jobs on the machine could use.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            if self.cfg.threads:
                opts.intra_op_num_threads = self.cfg.threads
                opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                str(self.model_file()), opts, providers=["CPUExecutionProvider"]
            )
        return self._session

    def encode(self, texts: list[str], *, show_progress_bar: bool = False) -> np.ndarray:
        """Unit-length (if configured) mean-pooled vectors, one row per text, in input order."""
        sess = self.session
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        ids, pad = self.token_ids(texts)
        # Longest first, as sentence-transformers does: batches of similar length pad little.
        order = np.argsort([-len(x) for x in ids], kind="stable")
        out: np.ndarray | None = None
        bs = self.cfg.batch_size
        steps = range(0, len(order), bs)
        if show_progress_bar:
            from tqdm.auto import tqdm

            steps = tqdm(steps, desc="Batches")
        for start in steps:
            idx = order[start : start + bs]
            width = max(len(ids[i]) for i in idx)
            input_ids = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            hidden = self._infer(sess, input_ids, mask)
            vec = self._pool(hidden, mask)
            if out is None:
                out = np.empty((len(texts), vec.shape[1]), dtype=np.float32)
            out[idx] = vec
        return out

    def _infer(self, sess, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Token states ``(batch, seq, dim)`` of one padded batch."""
        feed = {
            "input_ids": input_ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        (hidden,) = sess.run(None, feed)
        return hidden

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling == "cls":
            vec = hidden[:, 0]
        else:
            m = mask[..., None].astype(hidden.dtype)
            vec = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        if self.cfg.normalize_embeddings or self.model_normalizes:
            return unit_rows(vec)
        return vec.astype(np.float32)
