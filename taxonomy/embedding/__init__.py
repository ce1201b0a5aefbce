"""Stage 2, embeddings: texts -> unit vectors, cached per text and model.

:class:`Embedder` is the public face: it loads the encoder the config names
(:mod:`.encoder` for sentence-transformers, :mod:`.onnx` and :mod:`.openvino` for
the exported graphs), chooses the fastest faithful backend for ``backend: auto``
(:mod:`.auto`), and finds models (:mod:`.models`).
"""

from .encoder import Embedder, EmbedStats, text_key

__all__ = ["EmbedStats", "Embedder", "text_key"]
