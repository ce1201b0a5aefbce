"""The run directory: which files a run writes, how they are written, and how they are read back.

Every command that writes or reads a run directory (``run``, ``sweep``, ``assign``,
``update``, ``export``, ``evaluate``, ``run --previous``) takes its file names and
readers from here. :func:`run_files` is everything a run writes, by name;
:func:`taxonomy.util.folders.write_run_dir` writes them all-or-nothing.

Three files under ``model/``, beside ``assign.npz``, keep what later commands build on:

- ``papers.jsonl.gz`` and ``abstracts.jsonl.gz``: the papers (id, title, url, date, gold
  fields) and their abstracts, in ``documents.csv`` order (:mod:`.saved_papers`). An update
  appends its papers to each as one more gzip member, so nothing there is recompressed.
- ``papers.npz``: per paper, the embedding (float16: half the size, cosines
  within 1e-3), final topic id, probability, map position, how it got its
  topic (``assign.HOW``), and ``origin`` (0 = the fit, k = added by the k-th update).
  A fit holds the embeddings in it. An update never rewrites embeddings it did not
  make: its ``papers.npz`` lists, as ``embedding_files``, the files under ``model/``
  that hold them in order (:data:`EMBEDDING_FILE`), each hard-linked from the run it
  read: the fit's own ``papers.npz`` (only its ``embeddings`` are read) as
  ``embeddings-0.npz``, then ``embeddings-<k>.npy`` (float16) of update ``k``.

:func:`load_run` reads a run directory back; :func:`tree_taxonomy` rebuilds its
:class:`~taxonomy.hierarchy.Taxonomy` with the papers' current topics.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import RunConfig, dump_config, load_config
from ..corpus import Corpus
from ..errors import InputError
from ..hierarchy import Node, Taxonomy
from ..outputs.report import ReportInputs, report_files, report_title, save_map_image
from ..outputs.tables import (
    DOCUMENT_COLUMNS,
    TOPIC_COLUMNS,
    document_rows,
    leaf_paths,
    topics_rows,
    tree_dict,
)
from ..util.arrays import unit_rows
from ..util.folders import RUN_MARKER
from ..util.formats import csv_text, json_text, unsafe_cell, yaml_text
from .saved_papers import ABSTRACTS_NAME, abstracts_gz, papers_gz, read_papers
from .timeline import timeline_tables

if TYPE_CHECKING:
    from ..pipeline import RunResult

DOCUMENTS_FILE = "documents.csv"
TOPICS_FILE = "topics.csv"
TREE_FILE = "taxonomy.json"
TREE_YAML_FILE = "taxonomy.yaml"
METRICS_FILE = RUN_MARKER  # every run directory has it: how a folder is recognised as a run
CONFIG_FILE = "config.yaml"
REPORT_FILE = "report.html"
MAP_FILE = "map.png"
CHANGES_FILE = "changes.json"
OVER_TIME_FILE = "topics_over_time.csv"  # dated runs only
GROWTH_FILE = "topic_growth.csv"  # dated runs only
ASSIGN_FILE = "model/assign.npz"
PAPERS_FILE = "model/papers.jsonl.gz"
ABSTRACTS_FILE = f"model/{ABSTRACTS_NAME}"
STATE_FILE = "model/papers.npz"
HISTORY_FILE = "model/updates.json"
# Embeddings kept outside papers.npz (an updated run): a name under model/, in this form only.
EMBEDDING_FILE = re.compile(r"embeddings-\d+\.np[yz]")

Writer = Callable[[Path], None]


# --- writing ---------------------------------------------------------------------


def run_files(
    r: RunResult,
    assign_file: Writer,
    previous_report: dict[str, str | None] | None = None,
    same_rows: int = 0,
) -> dict[str, str | bytes | Writer | None]:
    """Every file of a run directory, by name (writers take the path they write).

    ``r``: a fitted or updated run (``pipeline.RunResult``). ``assign_file`` writes
    ``model/assign.npz`` (a fit saves its model; an update links the fit's).
    ``previous_report``: payloads of a report this run extends (``taxonomy update``), so
    what it holds unchanged is not compressed again, and ``same_rows``: how many of its
    first papers that report was written from (``report.report_files``; a chunk file it
    keeps as it is, unread, is ``None``).
    """
    tax, c = r.taxonomy, r.corpus
    metrics = dict(r.metrics, seconds=r.seconds)
    tree = tree_dict(r.cfg.name, tax, c.ids, int((r.topic_ids == -1).sum()))
    return {
        # A writer, so an update that carries the rows over never builds them.
        DOCUMENTS_FILE: lambda path: path.write_text(documents_csv(r), encoding="utf-8"),
        TOPICS_FILE: csv_text(TOPIC_COLUMNS, topics_rows(tax)),
        TREE_YAML_FILE: yaml_text(tree),
        TREE_FILE: json_text(tree),
        METRICS_FILE: json_text(metrics),
        CONFIG_FILE: dump_config(r.cfg),
        # Before the report: its chunk files are packed on a thread while the map is drawn.
        MAP_FILE: lambda path: save_map_image(tax, r.xy, r.topic_ids, report_title(r.cfg), path),
        # report.html, and past report.inline_abstracts_max papers its report_files/ beside it.
        **report_files(
            ReportInputs(c, tax, r.xy, r.topic_ids, metrics, r.cfg, r.timeline, r.changes),
            previous_report,
            REPORT_FILE,
            same_rows,
            background=True,
        ),
        # What 'taxonomy assign' needs to place new papers (runs/assign.py).
        ASSIGN_FILE: assign_file,
        # What 'taxonomy update' and 'run --previous' build on (below).
        **run_state_files(c, r.embeddings, r.topic_ids, r.probabilities, r.xy, r.placement.how),
        **(
            dict(zip((OVER_TIME_FILE, GROWTH_FILE), timeline_tables(r.timeline, tax)))
            if r.timeline is not None
            else {}
        ),
        **({CHANGES_FILE: json_text(r.changes)} if r.changes is not None else {}),
    }


def documents_csv(r: RunResult, start: int = 0) -> str:
    """``documents.csv`` of a run; ``start`` > 0: only its papers from that row on, without
    the header (what an update appends to the rows it carries over)."""
    c, paths = r.corpus, leaf_paths(r.taxonomy)
    rows = document_rows(
        c.ids[start:],
        c.titles[start:],
        r.topic_ids[start:],
        r.probabilities[start:],
        r.placement.how[start:],
        r.xy[start:],
        paths,
    )
    if r.rest is not None and r.rest_placement is not None:
        p = r.rest_placement
        rows += document_rows(
            r.rest.ids, r.rest.titles, p.topic_ids, p.probabilities, p.how, p.xy, paths
        )
    return csv_text(DOCUMENT_COLUMNS if start == 0 else None, rows)


def state_npz(
    embeddings: np.ndarray | None,
    topic_ids: np.ndarray,
    probabilities: np.ndarray,
    xy: np.ndarray,
    how: list[str],
    origin: np.ndarray | None = None,
    embedding_files: list[str] | None = None,
) -> bytes:
    """``model/papers.npz``; ``embeddings`` None: they are in ``embedding_files`` instead."""
    buf = io.BytesIO()
    n = len(topic_ids)
    vectors = (
        {"embeddings": np.asarray(embeddings, dtype=np.float16)}
        if embeddings is not None
        else {"embedding_files": np.array(embedding_files or [], dtype="U40")}
    )
    np.savez(
        buf,
        **vectors,
        topic_ids=np.asarray(topic_ids, dtype=np.int32),
        probabilities=np.asarray(probabilities, dtype=np.float32),
        xy=np.asarray(xy, dtype=np.float32),
        how=np.array(how, dtype="U9"),
        origin=np.zeros(n, np.int16) if origin is None else np.asarray(origin, dtype=np.int16),
    )
    return buf.getvalue()


def run_state_files(
    corpus: Corpus,
    embeddings: np.ndarray,
    topic_ids: np.ndarray,
    probabilities: np.ndarray,
    xy: np.ndarray,
    how: list[str],
) -> dict[str, Callable[[Path], None]]:
    """The three ``model/`` files of a fitted run (called by ``pipeline.run_files``)."""
    return {
        PAPERS_FILE: lambda path: path.write_bytes(papers_gz(corpus)),
        ABSTRACTS_FILE: lambda path: path.write_bytes(abstracts_gz(corpus)),
        STATE_FILE: lambda path: path.write_bytes(
            state_npz(embeddings, topic_ids, probabilities, xy, how)
        ),
    }


@dataclass
class SavedRun:
    """A run directory read back: its config, tree, papers and their state."""

    run_dir: Path
    cfg: object  # RunConfig
    tree: dict
    metrics: dict
    corpus: Corpus
    embeddings: np.ndarray  # float32, unit length
    topic_ids: np.ndarray
    probabilities: np.ndarray
    xy: np.ndarray
    how: list[str]
    origin: np.ndarray
    # Where the embeddings are (names under model/, in order); empty: inside papers.npz.
    embedding_files: list[str] = field(default_factory=list)

    @property
    def n_updates(self) -> int:
        return int(self.origin.max()) if len(self.origin) else 0


def check_run_files(run_dir: Path) -> None:
    """Fail now, with :func:`load_run`'s message, when a file it reads is missing: a caller
    that reads the run while doing other work learns of a wrong directory before it starts."""
    for name in (CONFIG_FILE, TREE_FILE, METRICS_FILE, PAPERS_FILE, STATE_FILE):
        _need(Path(run_dir), name)


def _need(run_dir: Path, name: str) -> Path:
    path = run_dir / name
    if not path.is_file():
        raise InputError(
            str(run_dir),
            f"no {name}: not a run directory, or written by a version of taxonomy before "
            "'update' existed (run 'taxonomy run' again)",
        )
    return path


# --- reading ---------------------------------------------------------------------


def load_run_config(run_dir: Path) -> RunConfig:
    """The resolved config a run was made with (its ``config.yaml``)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise InputError(
            str(run_dir), f"no {CONFIG_FILE}: not a run directory written by 'taxonomy run'"
        )
    return load_config(path)


def read_tree(run_dir: Path) -> dict:
    """The run's taxonomy as written (``taxonomy.json``: nested nodes under ``root``)."""
    path = Path(run_dir) / TREE_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            path, "not found; is this a run directory written by 'taxonomy run'?"
        ) from None
    except json.JSONDecodeError as err:
        raise InputError(path, f"invalid JSON ({err.msg})", line=err.lineno) from None


def read_growth(run_dir: Path) -> dict[str, tuple[float, float, float]]:
    """``node_id -> (growth, low, high)`` (log2) of a dated run; empty for an undated one."""
    path = Path(run_dir) / GROWTH_FILE
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {
            r["node_id"]: (float(r["growth"]), float(r["low"]), float(r["high"]))
            for r in csv.DictReader(fh)
        }


def read_topic_ids(run_dir: Path) -> dict[str, int]:
    """Each paper's leaf topic as ``documents.csv`` has it (doc_id -> topic_id, -1 = outlier)."""
    path = Path(run_dir) / DOCUMENTS_FILE
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return {unsafe_cell(r["doc_id"]): int(r["topic_id"]) for r in csv.DictReader(fh)}
    except FileNotFoundError:
        raise InputError(
            path, "not found; is this a run directory written by 'taxonomy run'?"
        ) from None


def load_run(run_dir: str | Path, fit_embeddings: np.ndarray | None = None) -> SavedRun:
    """Read a run directory written by ``taxonomy run`` or ``taxonomy update``.

    ``fit_embeddings``: the fit's papers' unit float32 vectors as its placement model keeps
    them (``AssignModel.embeddings``), taken for the run's first rows instead of converting
    and scaling their float16 copies (a second at 147k papers) when they line up with them.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "run directory not found")
    cfg = load_config(_need(run_dir, CONFIG_FILE))
    tree = json.loads(_need(run_dir, TREE_FILE).read_text(encoding="utf-8"))
    metrics = json.loads(_need(run_dir, METRICS_FILE).read_text(encoding="utf-8"))
    corpus = read_papers(_need(run_dir, PAPERS_FILE), cfg.corpus.gold_fields)
    state, files = read_state(run_dir)
    if len(state["topic_ids"]) != len(corpus):
        raise InputError(
            str(run_dir),
            f"{PAPERS_FILE} has {len(corpus)} papers but {STATE_FILE} "
            f"{len(state['topic_ids'])}: the run is damaged",
        )
    X = run_embeddings(run_dir, files, state["origin"], fit_embeddings)
    return SavedRun(
        run_dir,
        cfg,
        tree,
        metrics,
        corpus,
        X,
        state["topic_ids"].astype(np.int64),
        state["probabilities"].astype(np.float32),
        state["xy"].astype(np.float32),
        [str(h) for h in state["how"]],
        state["origin"].astype(np.int16),
        files,
    )


def run_embeddings(
    run_dir: Path, files: list[str], origin: np.ndarray, fit: np.ndarray | None
) -> np.ndarray:
    """The run's embeddings as unit float32 rows. The fit's papers (``origin`` 0, the first
    rows, the first of ``files`` or inside ``papers.npz`` when ``files`` is empty) are taken
    from ``fit`` when it has exactly those rows, and their float16 copy is not read."""
    n_fit = int((origin == 0).sum())
    if (
        fit is None
        or fit.dtype != np.float32
        or len(fit) != n_fit
        or origin[:n_fit].any()
        or (n_fit < len(origin) and not files)
    ):
        return checked_rows(run_dir, unit_rows(read_embeddings(run_dir, files)), len(origin))
    if n_fit == len(origin):
        return fit  # a run no update has grown: the model's own array, not a copy
    rest = checked_rows(run_dir, read_embeddings(run_dir, files[1:]), len(origin) - n_fit)
    if rest.shape[1:] != fit.shape[1:]:
        raise InputError(run_dir / STATE_FILE, "embeddings of two sizes: the run is damaged")
    out = np.empty((len(origin), fit.shape[1]), np.float32)
    out[:n_fit] = fit
    out[n_fit:] = unit_rows(rest)
    return out


def checked_rows(run_dir: Path, X: np.ndarray, n: int) -> np.ndarray:
    if len(X) != n:
        raise InputError(
            str(run_dir),
            f"{STATE_FILE} lists {len(X)} embeddings for {n} papers: the run is damaged",
        )
    return X


def read_state(run_dir: Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """``model/papers.npz`` of a run: the per-paper arrays, and the files under ``model/``
    that hold the embeddings (none: they are inside it)."""
    path = _need(run_dir, STATE_FILE)
    try:
        with np.load(path, allow_pickle=False) as d:
            state = {k: d[k] for k in ("topic_ids", "probabilities", "xy", "how", "origin")}
            files = [] if "embeddings" in d.files else [str(f) for f in d["embedding_files"]]
        return state, files
    except (OSError, ValueError, KeyError, zlib.error) as err:
        raise InputError(path, f"not a readable state file ({err})") from None


def read_embeddings(run_dir: Path, files: list[str]) -> np.ndarray:
    """The float16 embeddings in ``files`` (none: those inside ``papers.npz``), in order."""
    path = run_dir / STATE_FILE
    try:
        if not files:
            with np.load(path, allow_pickle=False) as d:
                return d["embeddings"]
        return np.concatenate([embedding_part(run_dir, f) for f in files])
    except (OSError, ValueError, KeyError, zlib.error) as err:
        raise InputError(path, f"not a readable state file ({err})") from None


def embedding_part(run_dir: Path, name: str) -> np.ndarray:
    """The float16 embeddings of one file an updated run's ``papers.npz`` lists."""
    if not EMBEDDING_FILE.fullmatch(name):
        raise InputError(
            run_dir / STATE_FILE,
            f"embedding_files: expected names like 'embeddings-1.npy', got {name!r}",
        )
    path = _need(run_dir, f"model/{name}")
    if name.endswith(".npy"):
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as d:  # a fit's papers.npz, linked as it was
        return d["embeddings"]


def walk_tree(node: dict, parent: str | None = None) -> Iterator[tuple[dict, str | None]]:
    """Every node of a saved ``taxonomy.json`` tree under ``node``, with its parent's id,
    parents before their children."""
    yield node, parent
    for child in node.get("children", []):
        yield from walk_tree(child, node["node_id"])


def tree_taxonomy(tree: dict, topic_ids: np.ndarray, doc_ids: list[str]) -> Taxonomy:
    """The :class:`Taxonomy` of a saved ``taxonomy.json``, members taken from ``topic_ids``.

    Labels, keywords and top words are the saved ones; a node's papers are those
    whose leaf topic lies under it (so papers added since are counted).
    """
    n_levels = int(tree["n_levels"])
    position = {d: i for i, d in enumerate(doc_ids)}
    nodes: dict[str, Node] = {}
    leaf_members: dict[int, np.ndarray] = {}
    order = np.argsort(topic_ids, kind="stable")
    bounds = np.searchsorted(topic_ids[order], np.unique(topic_ids))
    for t, start, stop in zip(np.unique(topic_ids), bounds, list(bounds[1:]) + [len(topic_ids)]):
        leaf_members[int(t)] = np.sort(order[start:stop])

    def walk(d: dict, parent: str | None) -> np.ndarray:
        node_id = d["node_id"]
        level = int(d["level"])
        index = int(node_id.split(".", 1)[1])
        node = Node(
            node_id,
            level,
            index,
            parent,
            np.zeros(0, np.int64),
            label=d.get("label", ""),
            description=d.get("description", ""),
            keywords=list(d.get("keywords", [])),
            top_words=list(d.get("top_words", [])),
            representative=[position[r] for r in d.get("representative", []) if r in position],
            namer=d.get("namer", "extractive"),
            term_id=d.get("term_id"),
        )
        nodes[node_id] = node
        parts = []
        for child in d.get("children", []):
            node.children.append(child["node_id"])
            parts.append(walk(child, node_id))
        if level == n_levels:
            parts.append(leaf_members.get(index, np.zeros(0, np.int64)))
        node.doc_idx = np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        return node.doc_idx

    walk(tree["root"], None)
    return Taxonomy(nodes, n_levels)
