"""A list whose parts are read on first use.

An update of a 147,000-paper run needs every paper's id, title and date, but the abstracts
of only the few papers it names or re-packs: reading all of them was a fifth of its
time beyond embedding. :class:`LazyRows` holds such a column as parts, each a list or a
loader, and loads a part only when one of its rows is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, overload

T = TypeVar("T")


class LazyRows(Sequence[T]):
    """A read-only sequence made of parts: lists, or ``(length, loader)`` pairs whose loader
    returns that part's list when one of its rows is first read (it must return ``length``
    items; a loader that does not raises ``ValueError``).

    ``a + b`` with a list or another ``LazyRows`` loads nothing; slicing loads only the parts
    the slice covers; iterating, ``==`` and ``list()`` load everything.
    """

    def __init__(self, parts: Sequence[Sequence[T] | tuple[int, Callable[[], Sequence[T]]]]):
        self._lengths: list[int] = []
        self._parts: list[Sequence[T] | None] = []
        self._loaders: list[Callable[[], Sequence[T]] | None] = []
        for part in parts:
            if isinstance(part, tuple):
                n, load = part
                self._add(int(n), None, load)
            elif isinstance(part, LazyRows):
                for n, rows, load in zip(part._lengths, part._parts, part._loaders):
                    self._add(n, rows, load)
            else:
                self._add(len(part), part, None)
        self._starts = [0]
        for n in self._lengths:
            self._starts.append(self._starts[-1] + n)

    def _add(self, n: int, rows: Sequence[T] | None, load: Callable | None) -> None:
        if n:
            self._lengths.append(n)
            self._parts.append(rows)
            self._loaders.append(load)

    def _part(self, k: int) -> Sequence[T]:
        rows = self._parts[k]
        if rows is None:
            rows = self._loaders[k]()  # type: ignore[misc]
            if len(rows) != self._lengths[k]:
                raise ValueError(f"expected {self._lengths[k]} rows, the loader gave {len(rows)}")
            self._parts[k] = rows
        return rows

    @property
    def loaded(self) -> bool:
        """Whether every part has been read."""
        return all(rows is not None for rows in self._parts)

    def __len__(self) -> int:
        return self._starts[-1]

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...
    def __getitem__(self, i: Any) -> Any:
        n = len(self)
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return [self[j] for j in range(start, stop, step)]
            out: list[T] = []
            for k, (s, e) in enumerate(zip(self._starts, self._starts[1:])):
                if e > start and s < stop:
                    out.extend(self._part(k)[max(start, s) - s : min(stop, e) - s])
            return out
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError("LazyRows index out of range")
        for k, (s, e) in enumerate(zip(self._starts, self._starts[1:])):
            if j < e:
                return self._part(k)[j - s]
        raise IndexError("LazyRows index out of range")  # unreachable: j < n

    def __iter__(self) -> Iterator[T]:
        for k in range(len(self._parts)):
            yield from self._part(k)

    def __add__(self, other: Sequence[T]) -> LazyRows[T]:
        return LazyRows([self, other])

    def __radd__(self, other: Sequence[T]) -> LazyRows[T]:
        return LazyRows([other, self])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable parts: like a list

    def __repr__(self) -> str:
        done = sum(rows is not None for rows in self._parts)
        return f"LazyRows({len(self)} rows, {done}/{len(self._parts)} parts read)"
