"""The small shared helpers: unit rows, group means, atomic writes, library versions."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomy.util.arrays import group_means, label_means, unit_rows, unit_vector
from taxonomy.util.files import TMP_PREFIX, atomic_path, write_text_atomic
from taxonomy.util.versions import version, versions


def test_unit_rows_and_vector():
    X = np.array([[3.0, 4.0], [0.0, 0.0]])
    U = unit_rows(X)
    assert U.dtype == np.float32 and np.allclose(U, [[0.6, 0.8], [0.0, 0.0]])
    assert unit_rows(X, dtype=np.float64).dtype == np.float64
    assert np.allclose(unit_vector(X[0]), [0.6, 0.8]) and not unit_vector(X[1]).any()


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
