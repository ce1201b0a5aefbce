"""Embedding backends: what each needs, which this machine can run, and ``backend: auto``.

Every offered backend keeps the vectors within the fidelity bar against torch fp32 (mean
cosine >= 0.99 and top-10 neighbour overlap >= 0.95 on 1,000 arXiv abstracts;
``benchmarks/speed.py quality``; ``tests/test_backends.py`` checks the bar on the sample).
Which is fastest depends on the CPU (native bf16 or not, the vendor's kernels), so ``auto``
times the runnable ones on a fixed probe the first time a machine embeds with a model, and
remembers the winner in the cache directory under a key of (machine, model, libraries).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..config import EmbeddingConfig
from ..errors import ConfigError
from ..util.cache import hash_key
from ..util.files import write_text_atomic
from ..util.versions import versions
from .models import BUNDLED_MODELS, model_location

# CPU flags that change which backend is fastest; recorded with every choice and benchmark row.
RELEVANT_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
    "avx512_fp16",
)
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# The fidelity bar every offered backend meets against torch fp32 (see the module docstring).
MIN_MEAN_COSINE = 0.99
MIN_TOP10_OVERLAP = 0.95
# ``auto``'s probe (texts of the bundled sample, ~300 tokens, truncated at 256 like most
# abstracts): the first PROBE_CHECK warm each backend up and are compared with torch fp32,
# then PROBE_ROUNDS rounds of PROBE_ROUND texts are timed in alternating order.
PROBE_CHECK = 16
PROBE_ROUND = 12
PROBE_ROUNDS = 3
CHOICE_VERSION = 1


@dataclass(frozen=True)
class Backend:
    """One way to run the model: the packages it imports and the CPU flags it needs (any of)."""

    name: str
    modules: tuple[str, ...] = ()
    cpu_any: tuple[str, ...] = ()
    extra: str = ""
    # Only backends that meet the fidelity bar on every CPU we measured are timed by ``auto``.
    auto: bool = True


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("torch"),
        Backend("torch-bf16", cpu_any=BF16_FLAGS),
        Backend("onnx", ("onnxruntime", "onnx"), extra="onnx"),
        Backend("onnx-int8", ("onnxruntime", "onnx"), extra="onnx"),
        # OpenVINO reads the ONNX export (torch's exporter needs the onnx package).
        Backend("openvino", ("openvino", "onnx"), extra="openvino"),
        Backend("openvino-bf16", ("openvino", "onnx"), cpu_any=BF16_FLAGS, extra="openvino"),
    )
}


@functools.lru_cache(maxsize=1)
def cpu_info() -> dict:
    """CPU model name, the flags that matter for embedding speed, and the core count."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model in ("", platform.processor(), platform.machine()):
                model = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    except OSError:  # not Linux: the model name from platform is what we have
        pass
    return {
        "model": model,
        "flags": [f for f in RELEVANT_FLAGS if f in flags],
        "cores": os.cpu_count() or 1,
    }


def runnable(name: str) -> str | None:
    """``None`` if this machine can run backend ``name``, else why not (one phrase)."""
    b = BACKENDS[name]
    missing = [m for m in b.modules if importlib.util.find_spec(m) is None]
    if missing:
        return f"needs {', '.join(missing)} (pip install '.[{b.extra}]')"
    if b.cpu_any and not set(b.cpu_any) & set(cpu_info()["flags"]):
        return f"needs a CPU with {' or '.join(b.cpu_any)}"
    return None


def backend_versions() -> dict[str, str]:
    """Versions of the installed libraries the backends run on (part of the choice's key)."""
    return versions(("torch", "onnxruntime", "openvino", "sentence-transformers"))


def model_name(cfg: EmbeddingConfig) -> str:
    """The model's name in cache keys: the bundled one under one name however it is spelled."""
    return "all-MiniLM-L6-v2" if cfg.model in BUNDLED_MODELS else cfg.model


def choice_key(cfg: EmbeddingConfig) -> str:
    """Key of an ``auto`` choice: the machine (CPU, libraries, what is installed) and the model."""
    return hash_key(
        "backend-choice",
        CHOICE_VERSION,
        cpu_info(),
        platform.machine(),
        model_name(cfg),
        # Not batch size, threads or max_seq_length: they move every backend alike, and a
        # setting changed for one run should not cost a new measurement.
        backend_versions(),
        sorted(n for n, b in BACKENDS.items() if b.auto and runnable(n) is None),
    )


def machine_cache_dir() -> Path:
    """This user's cache on this machine (``$XDG_CACHE_HOME/taxonomy``, else ``~/.cache/taxonomy``).

    The ``auto`` choice is a property of the machine, not of one run's cache: it is kept here
    too, so a run with a new ``cache.dir`` does not measure again.
    """
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "taxonomy"


def choice_paths(cfg: EmbeddingConfig, cache_dir: str | Path) -> list[Path]:
    """Where the ``auto`` choice is looked up, in order: the run's cache, then this machine's."""
    name = f"{choice_key(cfg)}.json"
    return [Path(cache_dir) / "backends" / name, machine_cache_dir() / "backends" / name]


def probe_texts() -> list[str]:
    """The fixed texts ``auto`` times and checks the backends on: the bundled sample."""
    from ..config import CorpusConfig
    from ..corpus import load_corpus

    return load_corpus(CorpusConfig()).texts


def load_choice(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
        return data if data.get("backend") in BACKENDS else None
    except (OSError, ValueError, AttributeError):
        return None  # absent or damaged: measure again


def _save_choice(path: Path, data: dict, *, quiet: bool = False) -> None:
    """Write atomically; ``quiet``: a location we may not write to (a read-only home) is skipped."""
    try:
        write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))
    except OSError:
        if not quiet:
            raise


def measure(
    cfg: EmbeddingConfig,
    cache_dir: str | Path,
    candidates: list[str],
    texts: list[str],
    *,
    check: int = PROBE_CHECK,
    rounds: int = PROBE_ROUNDS,
    round_size: int = PROBE_ROUND,
    load: Callable,
) -> tuple[dict[str, dict], dict]:
    """Time ``candidates`` on ``texts`` in alternating rounds and compare them with torch fp32.

    Returns ``(figures per backend, encoders by name)``; each figure has the median
    ``docs_per_s`` of the rounds, ``mean_cosine`` to torch fp32 on the first ``check`` texts
    and ``load_s`` (export and compile on first use included). ``load(cfg, cache_dir)`` makes
    an encoder (:func:`taxonomy.embedding.encoder.load_encoder`).
    """
    encoders, figures, skipped = {}, {}, {}
    for name in list(candidates):
        t0 = time.perf_counter()
        try:
            enc = load(cfg.model_copy(update={"backend": name}), cache_dir)
            vectors = enc.encode(texts[:check])  # also warms the runtime up before it is timed
        except ConfigError as err:
            if name == "torch":
                raise  # the reference itself cannot run: nothing to choose from
            # e.g. a model layout the converted backends do not support: not a candidate
            skipped[name] = str(err)
            candidates = [c for c in candidates if c != name]
            continue
        figures[name] = {"load_s": round(time.perf_counter() - t0, 2), "_vectors": vectors}
        encoders[name] = enc
    ref = figures["torch"]["_vectors"] if "torch" in figures else None
    times: dict[str, list[float]] = {n: [] for n in candidates}
    for r in range(rounds):
        start = (check + r * round_size) % len(texts)
        part = (texts[start:] + texts)[:round_size]
        # Alternating order: a burst of load from other jobs hits every candidate alike.
        for name in candidates if r % 2 == 0 else candidates[::-1]:
            t0 = time.perf_counter()
            encoders[name].encode(part)
            times[name].append(len(part) / max(time.perf_counter() - t0, 1e-9))
    for name in candidates:
        fig = figures[name]
        vectors = fig.pop("_vectors")
        fig["docs_per_s"] = round(statistics.median(times[name]), 2)
        if ref is not None:
            fig["mean_cosine"] = round(float(np.mean(np.sum(vectors * ref, axis=1))), 5)
    for name, why in skipped.items():
        figures[name] = {"skipped": why}
    return figures, encoders


def choose(
    cfg: EmbeddingConfig,
    cache_dir: str | Path,
    log: Callable[[str], None] | None = None,
    *,
    load: Callable | None = None,
    force: bool = False,
) -> tuple[str, dict, object | None]:
    """Resolve ``backend: auto``: ``(backend, how it was chosen, its loaded encoder or None)``.

    Read from the cache when this machine has chosen for this model before; otherwise every
    runnable backend is timed on :func:`probe_texts` (30-70 s on a busy 2-core machine, once),
    those whose vectors drift from torch fp32's (mean cosine < 0.99 on the probe) are dropped,
    and the fastest is remembered. ``load`` makes the encoders to measure
    (:func:`taxonomy.embedding.encoder.load_encoder`); ``force`` measures again and replaces what was
    remembered.
    """
    if cfg.device != "cpu":
        # An accelerator: torch runs there; the other backends are CPU runtimes.
        return "torch", {}, None
    paths = choice_paths(cfg, cache_dir)
    for path in [] if force else paths:
        remembered = load_choice(path)
        if remembered is not None:
            if path != paths[0]:
                _save_choice(paths[0], remembered, quiet=True)
            return remembered["backend"], dict(remembered, remembered=True), None
    local = model_location(cfg.model)[1]
    candidates = [
        n
        for n, b in BACKENDS.items()
        if b.auto and runnable(n) is None and (local or n.startswith("torch"))
    ]
    texts = probe_texts()
    t0 = time.perf_counter()
    figures, encoders = measure(cfg, cache_dir, candidates, texts, load=load)
    ok = {
        n: f
        for n, f in figures.items()
        if "docs_per_s" in f and f.get("mean_cosine", 1.0) >= MIN_MEAN_COSINE
    }
    best = max(ok, key=lambda n: ok[n]["docs_per_s"])
    torch_rate = figures["torch"]["docs_per_s"]
    choice = {
        "backend": best,
        "docs_per_s": figures[best]["docs_per_s"],
        "vs_torch": round(figures[best]["docs_per_s"] / torch_rate, 2),
        "candidates": figures,
        "probe": {
            "texts": "bundled sample",
            "checked": PROBE_CHECK,
            "rounds": PROBE_ROUNDS,
            "round_size": PROBE_ROUND,
        },
        "probe_s": round(time.perf_counter() - t0, 1),
        "cpu": cpu_info(),
        "versions": backend_versions(),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for path in paths:
        _save_choice(path, choice, quiet=path != paths[0])
    if log:
        log(
            f"        embedding.backend auto: measured {', '.join(candidates)} on this CPU "
            f"({cpu_info()['model']}) in {choice['probe_s']:.0f} s; remembered in {paths[0]} "
            f"and {paths[1]}"
        )
    return best, dict(choice, remembered=False), encoders[best]


def describe(choice: dict) -> str:
    """One line for the run log: the backend, its measured rate and how it compares."""
    return (
        f"embedding.backend auto -> {choice['backend']} ({choice['docs_per_s']:.1f} docs/s on "
        f"the probe, {choice['vs_torch']:.2f}x torch fp32"
        f"{'; measured earlier on this machine' if choice.get('remembered') else ''})"
    )
