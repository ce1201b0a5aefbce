"""Placing papers into a fitted taxonomy, by the same rule as the fit.

A fit's topics come from HDBSCAN (density in the UMAP space, built from each
paper's nearest neighbours in embedding space); its outliers join the topic
whose centroid they are close to (cosine >= ``hdbscan.outlier_threshold``).
A new paper is placed the same way:

1. its ``k`` nearest fitted papers (cosine, embedding space) vote with their
   HDBSCAN labels, each vote weighted by similarity; outliers vote too.
   ``k`` is the fit's ``min_cluster_size`` capped to [3, 10] (:func:`vote_size`):
   no more voters than the smallest topic HDBSCAN may form has papers;
2. if the outliers win, the paper is an outlier of the fit's density and
   follows the fit's outlier rule: it joins the nearest topic centroid when
   the cosine reaches the threshold, else it stays an outlier.

``probability`` means one thing everywhere (fit, ``assign``, ``engine.fit_sample``):
the similarity-weighted share of the paper's ``k`` nearest fitted papers that
are in its topic (for a fitted paper, its neighbours other than itself); 0 for
an outlier. ``how`` says how the paper got its topic: ``clustered`` (HDBSCAN
member), ``joined`` (an outlier joined by the centroid rule), ``assigned``
(placed after the fit) or ``outlier``.

Why no pickled UMAP/HDBSCAN (``transform`` + ``approximate_predict``): measured
on the 5,250 Papers-with-Code abstracts, placing held-out papers through UMAP's
``transform`` and a vote in the UMAP space agreed with a full fit no better
than this rule (benchmarks/results/assign.md), while a pickle is hundreds of MB at scale,
tied to library versions and unsafe to load from elsewhere. This rule is
deterministic and independent of batch composition, so batches run anywhere (Dask).
A paper that was in the fit (same title + abstract) keeps its fitted topic,
recognised by its text key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cluster import join_by_centroid, topic_centroids, unit_rows
from ..config import HdbscanConfig
from ..errors import InputError
from ..util.arrays import npz_member_memmap
from .rundir import ASSIGN_FILE

MIN_VOTERS, MAX_VOTERS = 3, 10
# Rows of the similarity matrix computed at once: bounds memory to ~64 MB per chunk.
_CHUNK_CELLS = 16_000_000
# Column blocks whose maxima bound each row's k-th largest similarity (top_k): the more, the
# tighter the bound and the fewer entries read again (1,024 of 144 columns at 147k papers).
_TOP_K_BLOCKS = 1024
HOW = ("clustered", "joined", "assigned", "outlier")


@dataclass
class Placement:
    """Where papers go: topic (-1 = outlier), probability, map position, how, and whether seen in the fit."""

    topic_ids: np.ndarray
    probabilities: np.ndarray
    xy: np.ndarray
    how: list[str]
    in_fit: np.ndarray
    # The papers' embeddings, when the caller asked for them back (an update keeps them).
    embeddings: np.ndarray | None = None

    @classmethod
    def empty(cls) -> Placement:
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros((0, 2), np.float32),
            [],
            np.zeros(0, bool),
        )

    @classmethod
    def concat(cls, parts: list[Placement]) -> Placement:
        if not parts:
            return cls.empty()
        return cls(
            np.concatenate([p.topic_ids for p in parts]),
            np.concatenate([p.probabilities for p in parts]),
            np.concatenate([p.xy for p in parts]),
            [h for p in parts for h in p.how],
            np.concatenate([p.in_fit for p in parts]),
            None
            if any(p.embeddings is None for p in parts)
            else np.concatenate([p.embeddings for p in parts]),
        )


def nearest(Xn: np.ndarray, Fn: np.ndarray, k: int, exclude_self: bool = False):
    """Indices and cosines of the ``k`` nearest rows of ``Fn`` for each row of ``Xn``, best first
    (ties by lower index).

    ``exclude_self``: ``Xn`` is ``Fn`` and a row is not its own neighbour.
    """
    k = int(min(k, Fn.shape[0] - (1 if exclude_self else 0)))
    idx = np.empty((Xn.shape[0], k), dtype=np.int64)
    sims = np.empty((Xn.shape[0], k), dtype=np.float32)
    step = max(1, _CHUNK_CELLS // max(1, Fn.shape[0]))
    for s in range(0, Xn.shape[0], step):
        S = Xn[s : s + step] @ Fn.T
        if exclude_self:
            S[np.arange(S.shape[0]), np.arange(s, s + S.shape[0])] = -np.inf
        idx[s : s + step], sims[s : s + step] = top_k(S, k)
    return idx, sims


def top_k(S: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns and values of the ``k`` largest entries of each row of ``S``, largest first,
    ties by lower column.

    A full partition of every row is most of placing a paper into a large fit (1,000
    papers against 147,000: 7 s of 9). Instead, each row's ``k``-th largest block maximum
    bounds its ``k``-th largest entry from below (``k`` blocks each hold an entry at least
    that large), so only the few entries at or above it are sorted, read from the blocks whose
    maximum reaches it.
    """
    rows, n = S.shape
    if k <= 0:
        return np.zeros((rows, 0), np.int64), np.zeros((rows, 0), np.float32)
    blocks = min(_TOP_K_BLOCKS, n // k)
    if blocks < 2 * k:  # too few columns for the bound to pay: sort every entry
        r, c = (a.ravel() for a in np.indices(S.shape))
    else:
        r, c = bound_candidates(S, k, blocks)
    vals = S[r, c]
    order = np.lexsort((c, -vals, r))  # by row, then value (largest first), then column
    r, c, vals = r[order], c[order], vals[order]
    take = (np.searchsorted(r, np.arange(rows))[:, None] + np.arange(k)).ravel()
    return c[take].reshape(rows, k), vals[take].reshape(rows, k).astype(np.float32)


def bound_candidates(S: np.ndarray, k: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of every entry of ``S`` at or above its row's ``k``-th largest block
    maximum (``blocks`` blocks of columns, the last one's maximum also over the columns left)."""
    rows, n = S.shape
    width = n // blocks
    body = S[:, : blocks * width].reshape(rows, blocks, width)
    tail = S[:, blocks * width :]
    bm = body.max(axis=2)
    bm[:, -1] = np.maximum(bm[:, -1], tail.max(axis=1, initial=-np.inf))
    bound = np.partition(bm, blocks - k, axis=1)[:, blocks - k]
    rb, bb = np.nonzero(bm >= bound[:, None])  # the blocks that can hold one: a few per row
    pr, pc = np.nonzero(body[rb, bb] >= bound[rb, None])
    tr, tc = np.nonzero(tail >= bound[:, None])
    return np.concatenate([rb[pr], tr]), np.concatenate([bb[pr] * width + pc, tc + blocks * width])


def neighbour_weights(sims: np.ndarray) -> np.ndarray:
    """Each neighbour's vote from its cosine similarity."""
    return np.clip(sims, 0.0, None) + 1e-6  # a dissimilar neighbour still votes, barely


def weighted_vote(labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the label with the largest summed weight (ties to the lower label) and its share."""
    win = np.empty(labels.shape[0], dtype=np.int64)
    share = np.empty(labels.shape[0], dtype=np.float32)
    for r in range(labels.shape[0]):
        cand = np.unique(labels[r])  # sorted: ties go to the lower id (-1 first), deterministic
        totals = np.array([weights[r][labels[r] == c].sum() for c in cand])
        best = int(np.argmax(totals))
        win[r], share[r] = cand[best], totals[best] / totals.sum()
    return win, share


def agreement(labels: np.ndarray, topic_ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Similarity-weighted share of each row's neighbours (``labels``) in its own topic."""
    same = (labels == topic_ids[:, None]) & (topic_ids[:, None] >= 0)
    return ((weights * same).sum(axis=1) / weights.sum(axis=1)).astype(np.float32)


def vote_size(min_cluster_size: int) -> int:
    """How many nearest fitted papers vote on a paper's topic."""
    return int(min(MAX_VOTERS, max(MIN_VOTERS, min_cluster_size)))


def graph_neighbours(Xn: np.ndarray, graph: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest other rows from an approximate kNN ``graph`` of ``Xn`` (rows of
    neighbour indices, the row itself among them), with exact cosines, best first.

    Rows whose graph holds fewer than ``k`` others (missing entries are < 0) are searched
    exactly.
    """
    rows = np.arange(len(Xn))[:, None]
    valid = (graph != rows) & (graph >= 0)
    cand = np.where(valid, graph, 0).astype(np.int64)
    sims = np.empty(cand.shape, dtype=np.float32)
    step = max(1, _CHUNK_CELLS // max(1, cand.shape[1] * Xn.shape[1]))
    for s in range(0, len(Xn), step):
        sims[s : s + step] = np.einsum("ij,ikj->ik", Xn[s : s + step], Xn[cand[s : s + step]])
    sims[~valid] = -np.inf
    # Best first; ties keep the graph's order (top_k breaks them by lower column).
    best, sims = top_k(sims, k)
    idx = np.take_along_axis(cand, best, axis=1)
    short = np.flatnonzero(valid.sum(axis=1) < k)
    if short.size:
        ex_idx, ex_sims = nearest(Xn[short], Xn, k + 1)
        keep = np.argsort(ex_idx == short[:, None], axis=1, kind="stable")[:, :k]
        idx[short] = np.take_along_axis(ex_idx, keep, axis=1)
        sims[short] = np.take_along_axis(ex_sims, keep, axis=1)
    return idx, sims


def fit_placement(
    X: np.ndarray,
    raw_ids: np.ndarray,
    topic_ids: np.ndarray,
    xy: np.ndarray,
    k: int,
    graph: np.ndarray | None = None,
) -> Placement:
    """The fit's own papers as a :class:`Placement` (probability and ``how`` as documented above).

    ``graph``: UMAP's approximate kNN graph of ``X`` (``reduce.reduce_with_graph``). With it,
    each paper's voters are its ``k`` nearest in the graph; without it (small corpora, where
    umap searches exactly) they are searched exactly here, which costs n² and so is kept to
    corpora without a graph.
    """
    Xn = unit_rows(X)
    if len(topic_ids) > 1 and graph is not None and graph.shape[1] > k:
        idx, sims = graph_neighbours(Xn, graph, k)
        probs = agreement(topic_ids[idx], topic_ids, neighbour_weights(sims))
    elif len(topic_ids) > 1:
        idx, sims = nearest(Xn, Xn, k, exclude_self=True)
        probs = agreement(topic_ids[idx], topic_ids, neighbour_weights(sims))
    else:
        probs = np.zeros(len(topic_ids), dtype=np.float32)
    how = [
        "outlier" if t < 0 else "clustered" if r >= 0 else "joined"
        for r, t in zip(raw_ids.tolist(), topic_ids.tolist())
    ]
    return Placement(
        np.asarray(topic_ids, np.int64),
        probs,
        np.asarray(xy, np.float32),
        how,
        np.ones(len(topic_ids), dtype=bool),
    )


class AssignModel:
    """Fitted papers of one run, able to place new ones by the fit's rule.

    Parameters
    ----------
    embeddings : ndarray (n, d)
        Fitted papers' embeddings.
    raw_ids : ndarray (n,)
        Their HDBSCAN labels before outliers were joined (-1 = outlier).
    placement : Placement
        Their final topics, probabilities and map positions (:func:`fit_placement`).
    keys : list of str
        Text keys (``embed.text_key``) to recognise a fitted paper (kept as 40-byte strings).
    outlier_threshold : float
        The fit's ``hdbscan.outlier_threshold``.
    k : int
        Neighbours that vote.
    unit : bool
        The embeddings are unit length already (a saved model): not scaled again.
    """

    def __init__(
        self,
        embeddings: np.ndarray,
        raw_ids: np.ndarray,
        placement: Placement,
        keys: list[str],
        outlier_threshold: float,
        k: int,
        *,
        unit: bool = False,
    ):
        self.embeddings = np.asarray(embeddings, np.float32) if unit else unit_rows(embeddings)
        self.raw_ids = np.asarray(raw_ids, dtype=np.int64)
        self.fitted = placement
        self.keys = np.asarray(keys, dtype="S40")
        # Sorted once, looked up in bulk (fit_rows): no dict of 147,000 decoded keys per load.
        self.key_order = np.argsort(self.keys, kind="stable")
        self.outlier_threshold = float(outlier_threshold)
        self.k = int(min(k, len(self.raw_ids)))
        self.centroids = topic_centroids(self.embeddings, self.fitted.topic_ids)

    @classmethod
    def from_fit(
        cls,
        embeddings: np.ndarray,
        raw_ids: np.ndarray,
        placement: Placement,
        keys: list[str],
        hdbscan: HdbscanConfig,
    ) -> AssignModel:
        k = vote_size(int(hdbscan.min_cluster_size))
        return cls(embeddings, raw_ids, placement, keys, hdbscan.outlier_threshold, k)

    # --- persistence ---------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model as one ``.npz`` (no pickles)."""
        f = self.fitted
        with open(path, "wb") as fh:
            np.savez(
                fh,
                embeddings=self.embeddings,
                raw_ids=self.raw_ids,
                topic_ids=f.topic_ids,
                probabilities=f.probabilities,
                xy=f.xy,
                how=np.array(f.how, dtype="U9"),
                keys=np.array(self.keys, dtype="S40"),
                outlier_threshold=np.float64(self.outlier_threshold),
                k=np.int64(self.k),
            )

    @classmethod
    def load(cls, run_dir: str | Path) -> AssignModel:
        path = Path(run_dir) / ASSIGN_FILE
        if not path.exists():
            raise InputError(
                str(run_dir),
                f"no {ASSIGN_FILE}: not a run directory, or written by a "
                "version before 'assign' existed (re-run 'taxonomy run')",
            )
        try:
            with np.load(path, allow_pickle=False) as d:
                fitted = Placement(
                    d["topic_ids"],
                    d["probabilities"],
                    d["xy"],
                    d["how"].tolist(),
                    np.ones(len(d["topic_ids"]), dtype=bool),
                )
                # Mapped, not read: the fit's vectors are most of the file (241 MB at 147k).
                embeddings = npz_member_memmap(path, "embeddings")
                return cls(
                    d["embeddings"] if embeddings is None else embeddings,
                    d["raw_ids"],
                    fitted,
                    d["keys"],
                    float(d["outlier_threshold"]),
                    int(d["k"]),
                    unit=True,  # saved as scaled by the constructor
                )
        except KeyError as err:
            raise InputError(
                str(path), f"written by an older version ({err} missing); re-run 'taxonomy run'"
            ) from None

    # --- placing -------------------------------------------------------------------

    def place(self, X: np.ndarray, keys: list[str] | None = None) -> Placement:
        """Place the papers with embeddings ``X`` (and text keys, to recognise fitted papers)."""
        X = unit_rows(X)
        n = X.shape[0]
        topics = np.empty(n, dtype=np.int64)
        probs = np.empty(n, dtype=np.float32)
        xy = np.empty((n, 2), dtype=np.float32)
        how = ["assigned"] * n
        rows = self.fit_rows(keys) if keys is not None else np.full(n, -1, np.int64)
        seen = rows >= 0
        f = self.fitted
        for i in np.flatnonzero(seen):
            j = rows[i]
            topics[i], probs[i], xy[i], how[i] = (
                f.topic_ids[j],
                f.probabilities[j],
                f.xy[j],
                f.how[j],
            )
        new = np.flatnonzero(~seen)
        if new.size:
            t, p, q = self._place_new(X[new])
            topics[new], probs[new], xy[new] = t, p, q
            for i in new[t < 0]:
                how[i] = "outlier"
        return Placement(topics, probs, xy, how, seen)

    def fit_rows(self, keys: list[str]) -> np.ndarray:
        """The fit's row of each text key, -1 for a paper not in the fit."""
        q = np.asarray(keys, dtype="S40")
        if not len(self.keys) or not len(q):
            return np.full(len(q), -1, np.int64)
        ordered = self.keys[self.key_order]
        pos = np.minimum(np.searchsorted(ordered, q), len(ordered) - 1)
        return np.where(ordered[pos] == q, self.key_order[pos], -1).astype(np.int64)

    def _place_new(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx, sims = nearest(X, self.embeddings, self.k)
        w = neighbour_weights(sims)
        winner, _ = weighted_vote(self.raw_ids[idx], w)
        topics = winner.copy()
        # Raw HDBSCAN topics and final topics share ids; outliers follow the fit's outlier rule.
        out = np.flatnonzero(winner < 0)
        topics[out] = join_by_centroid(X[out], self.centroids, self.outlier_threshold)
        final = self.fitted.topic_ids[idx]
        probs = agreement(final, topics, w)
        # Map position: the weighted mean of the neighbours in the winning topic (or of all).
        xy = np.empty((len(X), 2), dtype=np.float32)
        for r in range(len(X)):
            mine = final[r] == topics[r]
            if not mine.any():
                mine = np.ones_like(mine)
            xy[r] = (w[r][mine, None] * self.fitted.xy[idx[r][mine]]).sum(0) / w[r][mine].sum()
        return topics, probs, xy
