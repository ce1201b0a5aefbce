"""``taxonomy assign RUN_DIR PAPERS``: place new papers into a written run, on the configured engine.

The papers are read with the run's corpus settings, embedded and placed with the
fit's own rule (:class:`~taxonomy.runs.assign.AssignModel`) by
:func:`~taxonomy.runs.distributed.embed_and_place`, the same path that places the
rest of a sampled fit and an update's papers; ``documents.csv`` and a summary are
written beside the run (``<run_dir>/assigned/<papers stem>``), all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..config import with_corpus
from ..corpus import load_corpus
from ..errors import InputError, OutputError
from ..outputs.tables import DOCUMENT_COLUMNS, document_rows, tree_leaf_paths
from ..util.folders import RUN_MARKER, check_target, write_run_dir
from ..util.formats import csv_text, json_text
from .assign import AssignModel
from .distributed import embed_and_place
from .rundir import DOCUMENTS_FILE, load_run_config, read_tree

Log = Callable[[str], None]


def papers_stem(papers: str | Path) -> str:
    """A papers file's name without compression and format extensions ('a.v1.jsonl.gz' -> 'a.v1')."""
    name = Path(papers).name
    name = name.removesuffix(".gz")
    suffix = Path(name).suffix
    return name[: -len(suffix)] if suffix and len(name) > len(suffix) else name


def assign_papers(
    run_dir: Path,
    papers: str,
    *,
    fmt: str | None = None,
    out: Path | None = None,
    overwrite: bool = False,
    log: Log = print,
) -> tuple[Path, dict]:
    """Embed ``papers``, place them into the run at ``run_dir``, write ``documents.csv`` + ``metrics.json``.

    Returns the output directory (default ``<run_dir>/assigned/<papers stem>``) and the summary.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "run directory not found")
    cfg = load_run_config(run_dir)
    model = AssignModel.load(run_dir)
    target = Path(out) if out else run_dir / "assigned" / papers_stem(papers)
    if target.resolve() == run_dir.resolve():
        raise OutputError(f"{target}: --out must not be the run directory itself")
    check_target(target, overwrite)
    # The fit's field names, gold fields dropped (new papers need none); format from the file.
    cfg = with_corpus(cfg, str(papers), fmt, "--papers/--format", max_docs=None, gold_fields=[])
    corpus = load_corpus(cfg.corpus)
    placed = embed_and_place(cfg, model, corpus.texts, log=log)
    paths = tree_leaf_paths(read_tree(run_dir))
    rows = document_rows(
        corpus.ids,
        corpus.titles,
        placed.topic_ids,
        placed.probabilities,
        placed.how,
        placed.xy,
        paths,
    )
    summary = {
        "run_dir": str(run_dir),
        "papers": str(papers),
        "n_docs": len(corpus),
        "n_in_fit": int(placed.in_fit.sum()),
        "n_outliers": int((placed.topic_ids == -1).sum()),
        "k_neighbours": model.k,
        "engine": cfg.engine.kind,
    }
    write_run_dir(
        target,
        {
            DOCUMENTS_FILE: csv_text(DOCUMENT_COLUMNS, rows),
            # Named like a run's metrics so --overwrite recognises the folder as ours.
            RUN_MARKER: json_text(summary),
        },
        overwrite,
    )
    return target, summary
