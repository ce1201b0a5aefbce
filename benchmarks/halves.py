"""Tuning and test halves of the shared corpora: defaults are chosen on ``tune``, reported on ``test``.

Papers-with-Code keeps its own split (``valid`` -> tune, ``test`` -> test); every
other corpus is split by a seeded hash of the paper's id, so the halves are the
same on every machine and do not depend on the file's order.
"""

from __future__ import annotations

import hashlib

SPLIT_SEED = "taxonomy-halves-v1"


def half_of(record: dict, id_field: str = "id") -> str:
    """``"tune"`` or ``"test"`` for one corpus record."""
    split = record.get("split")
    if split in ("valid", "test"):  # Papers-with-Code's own halves
        return "tune" if split == "valid" else "test"
    digest = hashlib.sha256(f"{SPLIT_SEED}:{record[id_field]}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "test"
