"""Place new papers into an existing run's taxonomy: ``taxonomy assign RUN_DIR PAPERS``.

A run saves ``model/assign.npz``: the fitted papers' embeddings, final topic
ids, probabilities, map positions and text keys. A new paper goes to the topic
its ``k`` nearest fitted papers (cosine, in embedding space) vote for, each vote
weighted by similarity; its map position is the weighted mean of the voters'
positions. Why kNN and not the fitted UMAP + ``hdbscan.approximate_predict``:

- the topics were found on UMAP's kNN graph of these same embeddings, so the
  neighbours in embedding space are what defined them; a kNN vote follows
  non-convex topics that a centroid rule cuts through;
- it needs no pickled UMAP/HDBSCAN (hundreds of MB at scale, tied to library
  versions, unsafe to unpickle from elsewhere), and is deterministic and
  independent of batch composition, so batches can run anywhere (Dask);
- a paper that was in the fit (same title + abstract) keeps its fitted topic,
  exactly: it is recognised by its text key, not re-predicted (BERTopic's
  ``transform`` re-predicts and disagrees with its own fit, #1582).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError

ASSIGN_FILE = "model/assign.npz"
K_NEIGHBOURS = 15
# Rows of the similarity matrix computed at once: bounds memory to ~64 MB per chunk.
_CHUNK_CELLS = 16_000_000


def save_assign_model(result, path: Path) -> None:
    """Write what :class:`AssignModel` needs (called by ``outputs.run_files``)."""
    from .embed import text_key

    texts = result.corpus.texts
    with open(path, "wb") as f:
        np.savez(
            f,
            embeddings=np.asarray(result.embeddings, dtype=np.float32),
            topic_ids=np.asarray(result.topic_ids, dtype=np.int64),
            probabilities=np.asarray(result.probabilities, dtype=np.float32),
            xy=np.asarray(result.xy, dtype=np.float32),
            keys=np.array([text_key(t) for t in texts], dtype="S40"),
        )


@dataclass
class Placement:
    """Where new papers go: topic (-1 = outlier), confidence, map position, and whether seen in the fit."""

    topic_ids: np.ndarray
    probabilities: np.ndarray
    xy: np.ndarray
    in_fit: np.ndarray


class AssignModel:
    """Fitted papers of one run, able to place new ones.

    Parameters
    ----------
    embeddings : ndarray (n, d)
        Fitted papers' embeddings.
    topic_ids, probabilities : ndarray (n,)
        Their final topics (-1 = outlier) and confidences.
    xy : ndarray (n, 2)
        Their map positions.
    keys : ndarray (n,)
        Text keys (``embed.text_key``) to recognise a fitted paper.
    k : int
        Neighbours that vote.
    """

    def __init__(self, embeddings, topic_ids, probabilities, xy, keys, k: int = K_NEIGHBOURS):
        self.embeddings = _unit(np.asarray(embeddings, dtype=np.float32))
        self.topic_ids = np.asarray(topic_ids, dtype=np.int64)
        self.probabilities = np.asarray(probabilities, dtype=np.float32)
        self.xy = np.asarray(xy, dtype=np.float32)
        self.index = {k.decode() if isinstance(k, bytes) else str(k): i for i, k in enumerate(keys)}
        self.k = int(min(k, len(self.topic_ids)))

    @classmethod
    def load(cls, run_dir: str | Path, k: int = K_NEIGHBOURS) -> AssignModel:
        path = Path(run_dir) / ASSIGN_FILE
        if not path.exists():
            raise InputError(
                str(run_dir),
                f"no {ASSIGN_FILE}: not a run directory, or written by a "
                "version before 'assign' existed (re-run 'taxonomy run')",
            )
        with np.load(path, allow_pickle=False) as d:
            return cls(d["embeddings"], d["topic_ids"], d["probabilities"], d["xy"], d["keys"], k)

    def place(self, X: np.ndarray, keys: list[str] | None = None) -> Placement:
        """Place the papers with embeddings ``X`` (and text keys, to recognise fitted papers)."""
        X = _unit(np.asarray(X, dtype=np.float32))
        n = X.shape[0]
        topics = np.empty(n, dtype=np.int64)
        probs = np.empty(n, dtype=np.float32)
        xy = np.empty((n, 2), dtype=np.float32)
        seen = np.array(
            [(keys is not None and keys[i] in self.index) for i in range(n)], dtype=bool
        )
        for i in np.flatnonzero(seen):
            j = self.index[keys[i]]
            topics[i], probs[i], xy[i] = self.topic_ids[j], self.probabilities[j], self.xy[j]
        new = np.flatnonzero(~seen)
        step = max(1, _CHUNK_CELLS // max(1, len(self.topic_ids)))
        for s in range(0, len(new), step):
            rows = new[s : s + step]
            t, p, q = self._vote(X[rows])
            topics[rows], probs[rows], xy[rows] = t, p, q
        return Placement(topics, probs, xy, seen)

    def _vote(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        S = X @ self.embeddings.T
        k = self.k
        nn = (
            np.argpartition(-S, k - 1, axis=1)[:, :k]
            if k < S.shape[1]
            else np.tile(np.arange(S.shape[1]), (len(X), 1))
        )
        sims = np.take_along_axis(S, nn, axis=1)
        w = np.clip(sims, 0.0, None) + 1e-6  # a dissimilar neighbour still votes, barely
        votes = self.topic_ids[nn]
        topics = np.empty(len(X), dtype=np.int64)
        probs = np.empty(len(X), dtype=np.float32)
        xy = np.empty((len(X), 2), dtype=np.float32)
        for r in range(len(X)):
            cand = np.unique(votes[r])  # sorted: ties go to the lower id (-1 first), deterministic
            totals = np.array([w[r][votes[r] == c].sum() for c in cand])
            best = cand[int(np.argmax(totals))]
            mine = votes[r] == best
            topics[r] = best
            probs[r] = 0.0 if best == -1 else totals.max() / totals.sum()
            xy[r] = (w[r][mine, None] * self.xy[nn[r][mine]]).sum(0) / w[r][mine].sum()
        return topics, probs, xy


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def leaf_paths(tree: dict) -> dict[int, list[str]]:
    """``topic_id -> [label of level 1, ..., leaf label]`` from a run's ``taxonomy.json``."""
    out: dict[int, list[str]] = {}

    def walk(node: dict, trail: list[str]) -> None:
        here = trail + [node["label"]] if node.get("level", 0) > 0 else trail
        if "topic_id" in node:
            out[int(node["topic_id"])] = here
        for child in node.get("children", []):
            walk(child, here)

    walk(tree["root"], [])
    return out


def placement_rows(corpus, placed: Placement, paths: dict[int, list[str]]) -> list[list[object]]:
    """Rows in ``documents.csv`` columns (``outputs.DOCUMENT_COLUMNS``)."""
    from .outputs import document_rows

    return document_rows(
        corpus.ids, corpus.titles, placed.topic_ids, placed.probabilities, placed.xy, paths
    )


def run_config(run_dir: Path):
    from .config import load_config

    if not (run_dir / "config.yaml").exists():
        raise InputError(
            str(run_dir), "no config.yaml: not a run directory written by 'taxonomy run'"
        )
    return load_config(run_dir / "config.yaml")


def main_assign(args: argparse.Namespace) -> int:
    """CLI: embed PAPERS, place them, write ``documents.csv`` + ``metrics.json`` to ``--out``."""
    from .config import build_config
    from .corpus import load_corpus
    from .distributed import embed_and_place
    from .outputs import (
        DOCUMENT_COLUMNS,
        RUN_MARKER,
        check_target,
        csv_text,
        json_text,
        write_run_dir,
    )

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "run directory not found")
    cfg = run_config(run_dir)
    model = AssignModel.load(run_dir)
    target = (
        Path(args.out) if args.out else run_dir / "assigned" / Path(args.papers).name.split(".")[0]
    )
    if target.resolve() == run_dir.resolve():
        raise OutputError(f"{target}: --out must not be the run directory itself")
    check_target(target, args.overwrite)
    data = cfg.model_dump(mode="json")
    data["corpus"].update(path=args.papers, format=args.format or "auto", max_docs=None)
    cfg = build_config(data, "--papers/--format")
    corpus = load_corpus(cfg.corpus)
    placed = embed_and_place(cfg, model, corpus.texts)
    paths = leaf_paths(json.loads((run_dir / "taxonomy.json").read_text(encoding="utf-8")))
    summary = {
        "run_dir": str(run_dir),
        "papers": str(args.papers),
        "n_docs": len(corpus),
        "n_in_fit": int(placed.in_fit.sum()),
        "n_outliers": int((placed.topic_ids == -1).sum()),
        "k_neighbours": model.k,
        "engine": cfg.engine.kind,
    }
    write_run_dir(
        target,
        {
            "documents.csv": csv_text(DOCUMENT_COLUMNS, placement_rows(corpus, placed, paths)),
            # Named like a run's metrics so --overwrite recognises the folder as ours.
            RUN_MARKER: json_text(summary),
        },
        args.overwrite,
    )
    print(
        f"{len(corpus)} papers placed ({summary['n_in_fit']} were in the fit, "
        f"{summary['n_outliers']} outliers) -> {target / 'documents.csv'}"
    )
    return 0
