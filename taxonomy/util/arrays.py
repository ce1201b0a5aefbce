"""Row arithmetic every stage shares: unit-length rows and the mean row of each group."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np


def unit_rows(X: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """``X`` as ``dtype`` with each row scaled to length 1 (an all-zero row stays zero)."""
    out = np.asarray(X, dtype=dtype)
    # einsum, not linalg.norm(axis=1): no n x d temporary (50x faster on 147k x 384).
    norms = np.maximum(np.sqrt(np.einsum("ij,ij->i", out, out)), 1e-12)[:, None]
    if out is X or out.base is not None:  # the caller's array, or a view of it
        return out / norms
    out /= norms  # a converted copy already: scaled where it is
    return out


def unit_vector(v: np.ndarray) -> np.ndarray:
    """One vector scaled to length 1 (zero stays zero); its dtype kept."""
    return v / max(float(np.linalg.norm(v)), 1e-12)


def group_means(X: np.ndarray, groups: Iterable[np.ndarray]) -> np.ndarray:
    """Row ``i``: the mean of the rows of ``X`` that ``groups[i]`` selects (indices or a
    boolean mask); zeros for a group that selects none."""
    X = np.asarray(X)
    means = [
        rows.mean(axis=0) if len(rows) else np.zeros(X.shape[1], X.dtype)
        for rows in (X[g] for g in groups)
    ]
    return np.stack(means) if means else np.zeros((0, X.shape[1]), X.dtype)


def label_means(X: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Row ``g``: the mean of the rows labelled ``g``, for ``g`` in ``0..n-1`` (zeros if none)."""
    return group_means(X, label_rows(labels, range(n)))


def label_rows(labels: np.ndarray, values: Iterable[int]) -> list[np.ndarray]:
    """For each of ``values``: the row indices (ascending) whose label it is. One stable
    sort, not a mask over every row per label (1,000 topics x 147k papers)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    values = np.asarray(list(values), dtype=labels.dtype if labels.size else np.int64)
    lo = np.searchsorted(ordered, values, side="left")
    hi = np.searchsorted(ordered, values, side="right")
    return [order[a:b] for a, b in zip(lo, hi)]


def unit_mean(X: np.ndarray) -> np.ndarray:
    """The mean row of ``X`` scaled to length 1: the centroid direction of a group of papers."""
    return unit_vector(np.asarray(X).mean(axis=0))


class StackedRows:
    """The rows of ``parts`` (2-D arrays of one width and dtype) one after another, without
    copying them into one array: an update's papers are the run's 147k rows and its new ones,
    and stacking them cost a 226 MB copy (half a second) for reads of a few rows at a time.

    Indexing by rows (an index array, a mask, a slice or an integer) gathers those rows into
    a new array; ``np.asarray`` stacks everything (what any other use gets).
    """

    def __init__(self, parts: list[np.ndarray]):
        self.parts = [p for p in parts if len(p)] or parts[:1]
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])
        self.shape = (int(self.starts[-1]), *self.parts[0].shape[1:])
        self.dtype = self.parts[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, (int, np.integer)):
            return self[np.array([rows])][0]
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(len(self)))
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        rows = np.where(rows < 0, rows + len(self), rows).astype(np.int64)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        part = np.searchsorted(self.starts, rows, side="right") - 1
        for k, block in enumerate(self.parts):
            mine = part == k
            out[mine] = block[rows[mine] - self.starts[k]]
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.concatenate(self.parts)
        return out if dtype is None else out.astype(dtype)


def npz_member_memmap(path: Path, name: str) -> np.ndarray | None:
    """Member ``name`` of the ``.npz`` at ``path`` as a read-only memory map, or None when it
    cannot be one (compressed, Fortran order, object dtype): read it with ``np.load`` then.

    ``np.load`` copies a member into fresh memory: 241 MB of a 147k-paper placement model,
    read again by every update and every Dask worker. A stored (uncompressed) member, as
    ``np.savez`` writes it, is one ``.npy`` file at a fixed offset: mapped, its pages are the
    file's, shared between processes and read only where used.
    """
    import struct
    import zipfile

    with zipfile.ZipFile(path) as zf:
        try:
            info = zf.getinfo(name + ".npy")
        except KeyError:
            return None
        if info.compress_type != zipfile.ZIP_STORED:
            return None
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        local = fh.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            return None
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    if (
        fortran
        or dtype.hasobject
        or offset + dtype.itemsize * int(np.prod(shape)) > path.stat().st_size
    ):
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
