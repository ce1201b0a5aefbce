"""Content-addressed on-disk cache for stage results.

Each entry is ``<dir>/<stage>/<key>.npz`` plus ``<key>.sha256`` holding the
file's checksum. Writes go to a temporary file and are renamed into place, so
a killed run never leaves a half-written entry; an entry whose checksum does
not match is deleted and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_path, write_text_atomic

log = logging.getLogger(__name__)


def hash_key(*parts: Any) -> str:
    """Stable hex key of JSON-serialisable parts (dict order does not matter)."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def array_fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:32]


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ArrayStore:
    """Checked store of named numpy arrays under ``root``; ``root=None`` disables it."""

    def __init__(self, root: str | Path | None):
        self.root = Path(root) if root is not None else None

    @classmethod
    def for_config(cls, cache) -> ArrayStore:
        """The store a run's ``cache`` section names (disabled when ``enabled: false``)."""
        return cls(cache.dir if cache.enabled else None)

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def _paths(self, stage: str, key: str) -> tuple[Path, Path]:
        d = self.root / stage
        return d / f"{key}.npz", d / f"{key}.sha256"

    def load(self, stage: str, key: str) -> dict[str, np.ndarray] | None:
        if not self.enabled:
            return None
        data_path, sum_path = self._paths(stage, key)
        if not data_path.exists():
            return None
        return self._load_checked(data_path, sum_path)

    def _load_checked(self, data_path: Path, sum_path: Path) -> dict[str, np.ndarray] | None:
        try:
            expected = sum_path.read_text().strip()
            if _file_sha256(data_path) != expected:
                raise ValueError("checksum mismatch")
            with np.load(data_path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
            log.warning("cache entry %s is damaged (%s); recomputing", data_path, err)
            for p in (data_path, sum_path):
                p.unlink(missing_ok=True)
            return None

    def peek(self, stage: str, key: str, name: str) -> np.ndarray | None:
        """One array of an entry, read without the checksum (None if unreadable): a hint of
        what the entry holds, for deciding whether to :meth:`load` it (which checks it)."""
        if not self.enabled:
            return None
        try:
            with np.load(self._paths(stage, key)[0], allow_pickle=False) as npz:
                return npz[name]
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
            return None

    def save(self, stage: str, key: str, **arrays: np.ndarray) -> None:
        if not self.enabled:
            return
        data_path, sum_path = self._paths(stage, key)
        with atomic_path(data_path, suffix=".npz") as tmp:
            with open(tmp, "xb") as f:
                np.savez(f, **arrays)
            write_text_atomic(sum_path, _file_sha256(tmp))

    def get_or_compute(self, stage: str, key: str, compute) -> dict[str, np.ndarray]:
        """The entry under ``key``, or ``compute()`` (a dict of arrays) stored there first."""
        hit = self.load(stage, key)
        if hit is None:
            hit = compute()
            self.save(stage, key, **hit)
        return hit

    def entries(self, stage: str) -> list[str]:
        """Keys stored for ``stage`` (a stage may be a nested path like ``embeddings/<model>``)."""
        if not self.enabled or not (self.root / stage).is_dir():
            return []
        # Skip ".tmp-*" files: another process may be writing them right now.
        return sorted(
            p.stem for p in (self.root / stage).glob("*.npz") if not p.name.startswith(".")
        )

    def info(self) -> dict[str, dict[str, int]]:
        """Entries and bytes per top-level stage."""
        out: dict[str, dict[str, int]] = {}
        if not self.enabled or not self.root.is_dir():
            return out
        for stage_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            files = [p for p in stage_dir.rglob("*") if p.is_file()]
            out[stage_dir.name] = {
                "entries": sum(1 for p in files if p.suffix == ".npz"),
                "bytes": sum(p.stat().st_size for p in files),
            }
        return out

    def clear(self) -> None:
        if self.enabled and self.root.exists():
            shutil.rmtree(self.root)
