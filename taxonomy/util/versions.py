"""Installed library versions: parts of cache keys and of each run's record."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata


def version(lib: str, missing: str | None = None) -> str | None:
    """The installed version of the distribution ``lib``, or ``missing`` when it is not installed."""
    try:
        return metadata.version(lib)
    except metadata.PackageNotFoundError:
        return missing


def versions(libs: Iterable[str], missing: str | None = None) -> dict[str, str]:
    """``{lib: version}``; a library not installed maps to ``missing``, or is left out when
    ``missing`` is None."""
    found = {lib: version(lib, missing) for lib in libs}
    return {lib: v for lib, v in found.items() if v is not None}
