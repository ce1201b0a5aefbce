"""numba's compiled code on disk: umap's and pynndescent's functions too, inside a scope.

EVoC declares its numba functions ``cache=True``, so numba keeps their machine code on disk
(the package's ``__pycache__``, or numba's user-wide cache dir where that is read-only, or
``NUMBA_CACHE_DIR``) and a later process loads it instead of compiling. umap-learn declares
almost none of its functions so, and pays ~10-20 s of compilation in every process.
:func:`numba_disk_cache` switches the disk cache on for umap's and pynndescent's module-level
functions that lack one, for as long as the ``with`` block lasts, and puts each back as it
was on leaving: nothing outside the block, and nothing outside these two libraries, changes.
The code compiled is the same either way, so results are identical.

``taxonomy warmup`` (:mod:`taxonomy.util.warmup`) compiles everything a run calls into these
caches once, at set-up.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# The libraries whose functions a run compiles without a disk cache of their own.
PACKAGES = ("umap", "pynndescent")


def library_dispatchers(packages: tuple[str, ...] = PACKAGES) -> list:
    """The numba dispatchers defined at module level in ``packages`` (imported here)."""
    import importlib

    import numba.core.dispatcher

    for package in packages:
        importlib.import_module(package)
    found, seen = [], set()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in packages or module is None:
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, numba.core.dispatcher.Dispatcher) and id(obj) not in seen:
                seen.add(id(obj))
                found.append(obj)
    return found


def disk_cached(dispatcher) -> bool:
    """Whether numba keeps this dispatcher's compiled code on disk."""
    return dispatcher.stats.cache_path is not None


@contextmanager
def numba_disk_cache(packages: tuple[str, ...] = PACKAGES) -> Iterator[int]:
    """Keep umap's and pynndescent's compiled code on disk inside the block; yields how many
    functions were switched.

    A nested or concurrent block finds them switched already and switches none; the
    outermost restores them. Functions numba cannot cache (say, ones compiled eagerly at
    import, before any block) compile as before; the block hides numba's warning about them.
    """
    switched = []
    for dispatcher in library_dispatchers(packages):
        if not disk_cached(dispatcher):
            # numba's public API turns caching on (enable_caching) but has no inverse: keep
            # the dispatcher's null cache to put it back.
            switched.append((dispatcher, dispatcher._cache))
            dispatcher.enable_caching()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Cannot cache compiled function")
            yield len(switched)
    finally:
        for dispatcher, cache in switched:
            dispatcher._cache = cache


def cache_state(packages: tuple[str, ...] = PACKAGES) -> dict[str, bool]:
    """Whether each of the libraries' dispatchers caches to disk (for the structure test)."""
    return {
        f"{d.py_func.__module__}.{d.py_func.__qualname__}": disk_cached(d)
        for d in library_dispatchers(packages)
    }
