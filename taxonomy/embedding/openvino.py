"""OpenVINO backend: the ONNX export of the transformer, compiled by OpenVINO's CPU plugin.

``openvino`` computes in float32; ``openvino-bf16`` asks the CPU plugin for bfloat16 matrix
products, which is offered only on CPUs with native bf16 (AVX512_BF16 or AMX). Tokenisation,
truncation, padding and pooling are the ONNX backend's (sentence-transformers' rules), so
only the runtime differs. OpenVINO reads the ONNX file that the ONNX backends export into
``<cache.dir>/onnx/``, so nothing is converted twice.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .onnx import OnnxEncoder

log = logging.getLogger(__name__)

OPENVINO_INSTALL_HINT = "pip install '.[openvino]'"


def _openvino():
    try:
        return _import_without_telemetry()
    except ImportError:
        raise ConfigError(
            "embedding.backend: the OpenVINO backends need the 'openvino' package, which is not "
            f"installed; {OPENVINO_INSTALL_HINT} installs it (or set embedding.backend: torch)"
        ) from None


def _import_without_telemetry():
    """``import openvino`` without its model-conversion tools, whose import sends usage
    telemetry over the network (``openvino.tools.ovc`` -> openvino_telemetry: an HTTPS
    request to an analytics host, unless the user opted out). We only read ONNX files and
    compile them, which needs none of it. The block is scoped to this one import: afterwards
    ``openvino.tools.ovc`` can be imported as usual (``openvino.convert_model`` is then not
    an attribute of the package in this process)."""
    if sys.modules.get("openvino") is not None:
        return sys.modules["openvino"]
    block = "openvino.tools.ovc" not in sys.modules
    if block:
        sys.modules["openvino.tools.ovc"] = None  # openvino/__init__ skips it on ImportError
    try:
        import openvino

        return openvino
    finally:
        if block and sys.modules.get("openvino.tools.ovc", 0) is None:
            del sys.modules["openvino.tools.ovc"]


class OpenVinoEncoder(OnnxEncoder):
    """The :class:`~taxonomy.embedding.encoder.Encoder` of ``embedding.backend: openvino | openvino-bf16``."""

    def model_file(self, kind: str | None = None) -> Path:
        # OpenVINO reads the ONNX export itself (no conversion step, no IR files to keep).
        return super().model_file(kind or "export")

    @property
    def session(self):
        if self._session is None:
            from .onnx import st_layout

            ov = _openvino()
            self.pooling, self.model_normalizes = st_layout(self.folder)
            config = {
                # Explicit: on bf16-capable CPUs OpenVINO would pick bf16 by itself.
                "INFERENCE_PRECISION_HINT": "bf16"
                if self.cfg.backend == "openvino-bf16"
                else "f32",
                # One stream: batches run one after another, each using every thread.
                "PERFORMANCE_HINT": "LATENCY",
            }
            if self.cfg.threads:
                config["INFERENCE_NUM_THREADS"] = self.cfg.threads
            # OpenVINO keeps the compiled graph beside the export and reads it back next time
            # (0.06 s instead of 0.24 s per load here): most of a warm run that embeds phrases.
            model = self.model_file()
            config["CACHE_DIR"] = str(model.parent / "openvino-blobs")
            try:
                compiled = ov.Core().compile_model(str(model), "CPU", config)
            except RuntimeError:
                # Two processes (Dask workers) writing the same blob race in OpenVINO's cache
                # ("cannot set permissions"); the cache only saves time, so compile without it.
                del config["CACHE_DIR"]
                compiled = ov.Core().compile_model(str(model), "CPU", config)
            self._session = compiled.create_infer_request()
        return self._session

    def _infer(self, sess, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = sess.infer(
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
        )
        return np.asarray(next(iter(out.values())))
