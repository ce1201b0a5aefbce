"""OpenVINO backend: the ONNX export of the transformer, compiled by OpenVINO's CPU plugin.

``openvino`` computes in float32; ``openvino-bf16`` asks the CPU plugin for bfloat16 matrix
products, which is offered only on CPUs with native bf16 (AVX512_BF16 or AMX). Tokenisation,
truncation, padding and pooling are the ONNX backend's (sentence-transformers' rules), so
only the runtime differs. OpenVINO reads the ONNX file that the ONNX backends export into
``<cache.dir>/onnx/``, so nothing is converted twice.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import ConfigError
from .onnx_backend import OnnxEncoder

log = logging.getLogger(__name__)

OPENVINO_INSTALL_HINT = "pip install '.[openvino]'"


def _openvino():
    try:
        import openvino
    except ImportError:
        raise ConfigError(
            "embedding.backend: the OpenVINO backends need the 'openvino' package, which is not "
            f"installed; {OPENVINO_INSTALL_HINT} installs it (or set embedding.backend: torch)"
        ) from None
    return openvino


class OpenVinoEncoder(OnnxEncoder):
    """The :class:`~taxonomy.embed.Encoder` of ``embedding.backend: openvino | openvino-bf16``."""

    def model_file(self, kind: str | None = None) -> Path:
        # OpenVINO reads the ONNX export itself (no conversion step, no IR files to keep).
        return super().model_file(kind or "export")

    @property
    def session(self):
        if self._session is None:
            from .onnx_backend import _st_layout

            ov = _openvino()
            self.pooling, self.model_normalizes = _st_layout(self.folder)
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
            core = ov.Core()
            compiled = core.compile_model(core.read_model(str(self.model_file())), "CPU", config)
            self._session = compiled.create_infer_request()
        return self._session

    def _infer(self, sess, input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        out = sess.infer(
            {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
        )
        return np.asarray(next(iter(out.values())))
