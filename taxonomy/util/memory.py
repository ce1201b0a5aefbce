"""Will a fit fit in memory? Checked before any work, from the measured cost per paper.

The fit's stages hold every fitted paper at once (UMAP's kNN graph and layouts, HDBSCAN,
the naming vocabulary); past one machine's memory the way on is ``engine.fit_sample``:
fit on a sample and place the rest in batches. Peak memory of a cold run (this process and
its map worker, ``benchmarks/scale.py``, docs/scaling.md) grows linearly over 50k-147k
papers; :func:`fit_bytes` is that line with a margin.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

# Measured peaks of whole runs at 50k, 100k and 147k papers (benchmarks/results/scale.md:
# 3.5, 5.1 and 6.5 GB, process + map worker, model loaded): a line of 1.9 GB plus 31 kB per
# paper. MARGIN covers corpora with longer texts than those abstracts.
FIT_BASE = 1.9e9
FIT_PER_PAPER = 31e3
MARGIN = 1.25


def fit_bytes(n_papers: int) -> float:
    """Expected peak memory, in bytes, of fitting ``n_papers``."""
    return MARGIN * (FIT_BASE + FIT_PER_PAPER * n_papers)


def available_bytes() -> int | None:
    """Memory the system can give this process now (Linux ``MemAvailable``; else physical
    memory; ``None`` where neither can be read)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_fit_memory(n_papers: int, available: int | None = None) -> None:
    """Raise a one-line :class:`ConfigError` naming ``engine.fit_sample`` when fitting
    ``n_papers`` would need more memory than is ``available`` (default: what the system has
    now)."""
    available = available_bytes() if available is None else available
    need = fit_bytes(n_papers)
    if available is None or need <= available:
        return
    fits = max(0, int((available / MARGIN - FIT_BASE) / FIT_PER_PAPER) // 1000 * 1000)
    raise ConfigError(
        f"engine.fit_sample: fitting {n_papers:,} papers needs about {need / 1e9:.0f} GB and "
        f"{available / 1e9:.0f} GB are available; set engine.fit_sample to at most {fits:,} "
        f"(fit on a sample, place the rest in batches), or engine.check_memory: false"
    )
