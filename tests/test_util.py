"""The small shared helpers: unit rows, group means, atomic writes, library versions."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomy.util.arrays import group_means, label_means, label_rows, unit_rows, unit_vector
from taxonomy.util.files import TMP_PREFIX, atomic_path, write_text_atomic
from taxonomy.util.versions import version, versions


def test_unit_rows_and_vector():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    U = unit_rows(X)
    assert U.dtype == np.float32 and np.allclose(U, [[0.6, 0.8], [0.0, 0.0]])
    assert unit_rows(X, dtype=np.float64).dtype == np.float64
    assert np.allclose(unit_vector(X[0]), [0.6, 0.8]) and not unit_vector(X[1]).any()


def test_unit_rows_leaves_its_input_alone():
    X = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    U = unit_rows(X)
    assert U is not X and np.array_equal(X, [[3.0, 4.0], [1.0, 0.0]])
    H = X.astype(np.float16)
    assert np.allclose(unit_rows(H), [[0.6, 0.8], [1.0, 0.0]]) and H[0, 0] == 3.0


def test_label_rows_are_the_rows_each_mask_selects():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 40, size=5000)
    values = [39, 7, -1, 41, 0, 7]  # any order, repeats, a label no row has
    rows = label_rows(labels, values)
    for v, r in zip(values, rows):
        assert np.array_equal(r, np.flatnonzero(labels == v))
    assert label_rows(np.array([], dtype=np.int64), [1])[0].size == 0


def test_group_means_by_mask_or_index_and_empty_groups():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    labels = np.array([0, 0, 2, 2, 2, -1])
    M = label_means(X, labels, 3)
    assert M.shape == (3, 2) and M.dtype == np.float32
    assert np.allclose(M[0], X[:2].mean(0)) and np.allclose(M[2], X[2:5].mean(0))
    assert not M[1].any()  # no paper: zeros, not NaN
    assert np.array_equal(group_means(X, [np.array([0, 1]), labels == 2]), M[[0, 2]])
    assert group_means(X, []).shape == (0, 2)


def test_atomic_path_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    write_text_atomic(target, "first")
    assert target.read_text(encoding="utf-8") == "first"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert target.read_text(encoding="utf-8") == "first"
    assert not list(target.parent.glob(f"{TMP_PREFIX}*"))  # nothing left behind
    with atomic_path(target, ".txt") as tmp:
        assert not tmp.exists() and tmp.parent == target.parent
        tmp.write_text("second", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "second"


def test_versions_of_installed_and_missing_libraries():
    assert version("numpy") == np.__version__
    assert version("no-such-library-here") is None
    assert version("no-such-library-here", missing="-") == "-"
    assert versions(["numpy", "no-such-library-here"]) == {"numpy": np.__version__}
    assert versions(["no-such-library-here"], missing="?") == {"no-such-library-here": "?"}


def test_lazy_rows_read_a_part_only_when_one_of_its_rows_is():
    from taxonomy.util.lazy import LazyRows

    loads = []

    def loader(name, rows):
        return lambda: loads.append(name) or rows

    old = LazyRows([(3, loader("a", ["a0", "a1", "a2"])), (2, loader("b", ["b0", "b1"]))])
    grown = old + ["n0", "n1"]  # nothing read
    assert len(grown) == 7 and loads == [] and not grown.loaded
    assert grown[5:] == ["n0", "n1"] and loads == []  # only the list part
    assert grown[4:6] == ["b1", "n0"] and loads == ["b"]  # only the part it covers
    assert grown[-7] == "a0" and loads == ["b", "a"]
    assert grown == ["a0", "a1", "a2", "b0", "b1", "n0", "n1"] and grown.loaded
    assert grown[::3] == ["a0", "b0", "n1"] and grown[7:] == []
    assert (["x"] + old)[0] == "x" and len(["x"] + old) == 6  # a list before it
    with pytest.raises(IndexError):
        grown[7]
    short = LazyRows([(3, lambda: ["only one"])])
    with pytest.raises(ValueError, match="expected 3 rows"):
        list(short)


def test_stacked_rows_read_like_the_stacked_array():
    from taxonomy.util.arrays import StackedRows

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    X, full = StackedRows([a, b]), np.concatenate([a, b])
    assert len(X) == 9 and X.shape == (9, 3) and X.dtype == np.float32
    for rows in ([8, 0, 5, 4, 4], np.array([], dtype=int), full[:, 0] > 0, slice(3, 7), -1, 6):
        assert np.array_equal(X[rows], full[rows])
    assert np.array_equal(np.asarray(X), full) and np.array_equal(X[5:], b)
    assert StackedRows([a, b[:0]])[[4, 0]].tolist() == a[[4, 0]].tolist()  # an empty part


def test_npz_members_mapped_as_np_load_reads_them(tmp_path):
    from taxonomy.util.arrays import npz_member_memmap

    rng = np.random.default_rng(0)
    arrays = {
        "vectors": rng.normal(size=(300, 7)).astype(np.float32),
        "ids": np.arange(5, dtype=np.int64),
        "keys": np.array([b"a" * 40, b"b" * 40], dtype="S40"),
        "empty": np.zeros((0, 3), np.float32),
        "fortran": np.asfortranarray(rng.normal(size=(4, 3))),
    }
    path = tmp_path / "m.npz"
    np.savez(path, **arrays)
    for name, a in arrays.items():
        mapped = npz_member_memmap(path, name)
        if name == "fortran":
            assert mapped is None  # read by np.load instead
        else:
            assert mapped.dtype == a.dtype and np.array_equal(mapped, a)
            assert not mapped.flags.writeable
    assert npz_member_memmap(path, "missing") is None
    np.savez_compressed(path, **arrays)
    assert npz_member_memmap(path, "vectors") is None  # compressed: np.load it
