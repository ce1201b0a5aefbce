"""Files replaced whole or not at all: a reader never sees half a file, a crash leaves the old one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Prefix of the temporary files beside their target (``taxonomy cache clear`` removes strays).
TMP_PREFIX = ".tmp-"


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """A fresh, not yet existing path beside ``path`` to write to; moved onto ``path`` when the
    block ends without an error, removed otherwise.

    The writer creates the file, so it gets the usual permissions (the umask's), not
    ``mkstemp``'s owner-only ones.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
