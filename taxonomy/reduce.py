"""Dimension reduction with UMAP: a low-dimensional space to cluster in, and a 2-D map."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .config import UmapConfig
from .util.jit import numba_disk_cache

log = logging.getLogger(__name__)


def _fit(X: np.ndarray, params: dict) -> np.ndarray:
    """One seeded UMAP fit (run here or in the map worker process)."""
    import umap

    with warnings.catch_warnings():
        # A fixed random_state disables umap's parallel SGD: that is the point (determinism).
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        # A precomputed kNN graph without its search index: we never call transform.
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        return umap.UMAP(**params).fit_transform(X).astype(np.float32)


MAP_EPOCHS = 200
# Part of the reduce cache key: bump when the computation changes for the same settings.
REDUCE_VERSION = 4
# Below this many points the map runs after the clustering space in this process: starting
# a worker (a fresh interpreter importing umap, ~3 s of CPU) would cost more than it saves.
CONCURRENT_MIN_POINTS = 2000
# umap computes exact distances below this many points (and keeps no kNN graph to share).
EXACT_BELOW = 4096


def map_init(X: np.ndarray) -> np.ndarray:
    """Start the 2-D map from the embeddings' two principal axes rather than a second spectral
    embedding: the eigen-solve is not paid twice, and the map does not wait for the
    clustering space, so the two fits run at the same time."""
    Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
    # Deterministic: full SVD, each axis's sign fixed by its largest loading.
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    axes = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(axis=1)])[:, None]
    return Xc @ axes.T


def shared_knn(X: np.ndarray, n_neighbors: int, metric: str, random_state: int) -> tuple:
    """The kNN graph both fits use (umap's own search, seeded); empty below ``EXACT_BELOW``."""
    if X.shape[0] < EXACT_BELOW:
        return (None, None, None)
    from sklearn.utils import check_random_state
    from umap.umap_ import nearest_neighbors

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*overridden.*")
        idx, dists, _ = nearest_neighbors(
            X,
            n_neighbors,
            metric,
            {},
            False,
            check_random_state(random_state),
            low_memory=True,
            n_jobs=1,  # seeded: single-threaded, as umap itself does with a random_state
        )
    return (idx, dists)


def reduce_embeddings(
    X: np.ndarray,
    params: UmapConfig,
    *,
    random_state: int,
    concurrent: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(Z, xy)``: ``params.n_components``-D coordinates to cluster in and a 2-D map
    (:func:`reduce_with_graph`, without the graph)."""
    Z, xy, _ = reduce_with_graph(X, params, random_state=random_state, concurrent=concurrent)
    return Z, xy


def reduce_with_graph(
    X: np.ndarray,
    params: UmapConfig,
    *,
    random_state: int,
    concurrent: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return ``(Z, xy, graph)``: ``params.n_components``-D coordinates to cluster in, a 2-D
    map, and the approximate nearest-neighbour graph both fits used (each row's neighbours'
    indices, itself included; ``None`` below ``EXACT_BELOW`` points, where umap searches
    exactly). Later stages that need neighbours read the graph instead of searching again:
    an exact search of every paper against every other grows with the square of the corpus.

    ``params`` must have ``n_neighbors`` resolved (``config.resolve_auto``). Both fits share
    one nearest-neighbour graph (found once; below 4,096 points umap computes exact
    neighbours, cheap there, in each fit). With ``concurrent`` (default: on machines with 2+
    cores for ``CONCURRENT_MIN_POINTS``+ points) the map is fitted in a worker process while
    this one fits the clustering space: umap's seeded SGD is single-threaded and holds the
    GIL, so a second process is what uses the second core. Each fit is seeded and gets the
    same inputs either way, so the result is byte-identical with or without the worker.
    """
    n = X.shape[0]
    n_neighbors = min(int(params.n_neighbors), n - 1)
    n_components, metric = params.n_components, params.metric
    if concurrent is None:
        concurrent = n >= CONCURRENT_MIN_POINTS and _usable_cores() >= 2
    common = {
        "n_neighbors": n_neighbors,
        "metric": metric,
        "random_state": random_state,
        "low_memory": True,
    }
    # Spectral init needs more points than dimensions; tiny corpora start from random.
    space = {
        **common,
        "n_components": n_components,
        "min_dist": params.min_dist,
        "init": "spectral" if n > n_components + 2 else "random",
    }
    mapping = {
        **common,
        "n_components": 2,
        "min_dist": params.map_min_dist,
        "init": map_init(X) if n > 4 else "random",
        # From that start 200 epochs settle the map (umap's default above 10k points; below
        # it uses 500, which made the map cost as much as the clustering space at 5k).
        "n_epochs": MAP_EPOCHS,
    }
    worker = MapWorker.start() if concurrent else None
    try:
        with numba_disk_cache():  # compiled code from (or into) numba's disk cache
            knn = shared_knn(X, n_neighbors, metric, random_state)
            space["precomputed_knn"] = mapping["precomputed_knn"] = knn
            sent = worker is not None and worker.submit(X, mapping)
            Z = _fit(X, space)
            xy = worker.result() if sent else None
            if xy is None:  # no worker, or it could not start or died: fit the map here
                xy = _fit(X, mapping)
    finally:
        if worker is not None:
            worker.close()
    return Z, xy, knn[0]


def _usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under taskset or a container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class MapWorker:
    """The map's fit in a separate Python process (``python -m taxonomy.reduce``).

    A plain subprocess rather than ``multiprocessing``: spawn re-runs the caller's
    ``__main__`` script in the child (an unguarded script would run twice), and fork copies
    this process's model threads in an unusable state. The worker imports umap while this
    process searches the kNN graph; inputs and the result go through a temporary directory.
    """

    def __init__(self, proc: subprocess.Popen, tmp: tempfile.TemporaryDirectory):
        self.proc, self.tmp = proc, tmp
        self.dir = Path(tmp.name)

    @classmethod
    def start(cls) -> MapWorker | None:
        tmp = tempfile.TemporaryDirectory(prefix="taxonomy-map-")
        env = dict(os.environ)  # the child's environment only; ours is untouched
        root = str(Path(__file__).resolve().parents[1])  # so the child imports this taxonomy
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        try:
            with open(Path(tmp.name) / "stderr.txt", "wb") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "taxonomy.reduce", tmp.name],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    env=env,
                )
        except OSError:
            tmp.cleanup()
            return None
        return cls(proc, tmp)

    def submit(self, X: np.ndarray, params: dict) -> bool:
        try:
            with open(self.dir / ".job.pkl", "wb") as f:
                pickle.dump((X, params), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(self.dir / ".job.pkl", self.dir / "job.pkl")
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.close()
            return True
        except (OSError, ValueError):
            return False

    def result(self) -> np.ndarray | None:
        if self.proc.wait() != 0:
            log.warning(
                "the map worker failed; fitting the map here: %s",
                (self.dir / "stderr.txt").read_text(errors="replace")[-500:],
            )
            return None
        return np.load(self.dir / "xy.npy")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


def _worker_main(folder: str) -> int:
    """The worker: import umap (with its disk cache) while the parent finds the kNN, then fit
    the job it is sent."""
    with numba_disk_cache():
        if sys.stdin.readline().strip() != "go":
            return 1
        with open(Path(folder) / "job.pkl", "rb") as f:
            X, params = pickle.load(f)
        xy = _fit(X, params)
    np.save(Path(folder) / ".xy.npy", xy)
    os.replace(Path(folder) / ".xy.npy", Path(folder) / "xy.npy")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1]))
