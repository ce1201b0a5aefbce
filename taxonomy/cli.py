"""Command line: ``taxonomy run [CONFIG] [--input PATH] [--out DIR]`` and friends.

Only wiring lives here. A user error (config, input, output) prints one line
and exits 2; an internal failure shows its traceback and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import TaxonomyError


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    from .config import load_config, with_corpus
    from .pipeline import run

    cfg = load_config(args.config)
    if args.input or args.format:
        # --input replaces the corpus file only: its format, field names and gold fields
        # stay as configured unless --format says otherwise.
        path = args.input or cfg.corpus.path
        cfg = with_corpus(cfg, path, args.format or cfg.corpus.format, "--input/--format")
    result = run(
        cfg,
        out_dir=Path(args.out) if args.out else None,
        overwrite=args.overwrite,
        log=_progress,
        previous=Path(args.previous) if args.previous else None,
    )
    m = result.metrics
    per_level = ", ".join(f"level {k}: {v}" for k, v in m["n_topics_per_level"].items())
    total = sum(result.seconds.values())
    print(
        f"{m['n_docs']} papers -> {per_level} topics; outliers {m['outlier_share']:.1%}; {total:.0f} s"
    )
    # Counted skips and truncations (docs/errors.md): shown, never silent.
    notes = [f"{v} {k.replace('_', ' ')}" for k, v in m.get("skipped", {}).items() if v]
    if notes:
        print(f"skipped {m['n_skipped']} of {m['n_read']} records: {', '.join(notes)}")
    if m.get("n_truncated"):
        print(
            f"{m['n_truncated']} texts longer than {cfg.embedding.max_seq_length} tokens were "
            "truncated for embedding (embedding.max_seq_length)"
        )
    if result.changes is not None:
        print(result.changes["summary"])
    print(f"report: {(result.out_dir / 'report.html').resolve()}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from .runs.place import assign_papers

    target, summary = assign_papers(
        Path(args.run_dir),
        args.papers,
        fmt=args.format,
        out=Path(args.out) if args.out else None,
        overwrite=args.overwrite,
        log=_progress,
    )
    print(
        f"{summary['n_docs']} papers placed ({summary['n_in_fit']} were in the fit, "
        f"{summary['n_outliers']} outliers) -> {target / 'documents.csv'}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .outputs.export import export_bertopic

    if args.to == "outline":
        from .outputs.outline import export_outline

        out = export_outline(
            Path(args.run_dir), Path(args.out), overwrite=args.overwrite, log=_progress
        )
        print(f"outline: {(out / 'outline.md').resolve()} (and outline.tex, papers.bib)")
        return 0
    out = export_bertopic(
        Path(args.run_dir), Path(args.out), overwrite=args.overwrite, log=_progress
    )
    print(f"BERTopic model: {out.resolve()} (BERTopic.load('{out}'))")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="taxonomy", description="Named topic taxonomies of research abstracts."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show library log messages")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="build a taxonomy and report from a corpus")
    r.add_argument("config", nargs="?", help="YAML config (default: config/default.yaml)")
    r.add_argument("--input", help="corpus file to use instead of the config's corpus.path")
    r.add_argument("--format", help="corpus format for --input (default: from the extension)")
    r.add_argument("--out", help="run directory (default: <output_dir>/<name>)")
    r.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    r.add_argument(
        "--previous",
        help="an earlier run directory: keep its topic ids and names where the new tree matches it",
    )
    r.set_defaults(func=cmd_run)
    add_tool_commands(sub)
    add_run_commands(sub)
    return p


def add_tool_commands(sub) -> None:
    """``evaluate``, ``sweep``, ``cache``, ``warmup``: commands about runs and set-up."""
    # Other commands live beside the stage they drive; each module has a ``main_<command>(args)``.
    e = sub.add_parser(
        "evaluate", help="score an existing run (coherence, diversity, gold agreement)"
    )
    e.add_argument("run_dir", help="a run directory written by 'taxonomy run'")
    e.add_argument(
        "--gold", help="gold label field(s) of the corpus, comma-separated, broad to fine"
    )
    e.add_argument("--input", help="corpus file, if not the one recorded in the run's config.yaml")
    e.set_defaults(func=_lazy("evaluate", "main_evaluate"))

    s = sub.add_parser("sweep", help="run every point of a YAML experiment and compare them")
    s.add_argument("experiment", help="experiment YAML (config/experiments/*.yaml)")
    s.add_argument("--out", help="experiment directory (default: <output_dir>/<experiment name>)")
    s.set_defaults(func=_lazy("sweep", "main_sweep"))

    c = sub.add_parser("cache", help="inspect or empty the stage cache")
    c.add_argument("action", choices=["info", "clear"])
    c.add_argument(
        "config", nargs="?", help="config whose cache.dir to use (default: config/default.yaml)"
    )
    c.set_defaults(func=_lazy("util.cachecli", "main_cache"))

    w = sub.add_parser(
        "warmup", help="compile and cache, once at set-up, what a first run would compile"
    )
    w.add_argument(
        "config",
        nargs="?",
        help="config whose embedding and cache.dir to use (default: config/default.yaml)",
    )
    w.set_defaults(func=_lazy("util.warmup", "main_warmup"))


def add_run_commands(sub) -> None:
    """``assign``, ``export``, ``update``: commands that build on a written run."""
    a = sub.add_parser("assign", help="place new papers into an existing run's taxonomy")
    a.add_argument("run_dir", help="a run directory written by 'taxonomy run'")
    a.add_argument("papers", help="corpus file of the papers to place")
    a.add_argument("--format", help="corpus format (default: from the extension)")
    a.add_argument(
        "--out", help="output directory (default: <run_dir>/assigned/<file name without extension>)"
    )
    a.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    a.set_defaults(func=cmd_assign)

    x = sub.add_parser(
        "export", help="write a run in another tool's format (BERTopic) or as a survey outline"
    )
    x.add_argument("run_dir", help="a run directory written by 'taxonomy run'")
    x.add_argument(
        "--to", required=True, choices=["bertopic", "outline"], help="the format to write"
    )
    x.add_argument(
        "out",
        help="the folder to write (bertopic: BERTopic.load(out) opens it; outline: outline.md, "
        "outline.tex, papers.bib)",
    )
    x.add_argument("--overwrite", action="store_true", help="replace an existing export")
    x.set_defaults(func=cmd_export)

    u = sub.add_parser(
        "update",
        help="add new papers to a saved run: place them, propose new topics, write a new run",
    )
    u.add_argument("run_dir", help="a run directory written by 'taxonomy run' or 'taxonomy update'")
    u.add_argument("papers", help="corpus file of the new papers")
    u.add_argument("--format", help="corpus format (default: from the extension)")
    u.add_argument("--out", help="the new run directory (default: <run_dir>-update<N> beside it)")
    u.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    u.set_defaults(func=_lazy("runs.update", "main_update"))


def _lazy(module: str, func: str):
    """Import a command's module only when it runs (keeps ``taxonomy --help`` fast)."""

    def call(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(f"taxonomy.{module}"), func)(args)

    return call


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    try:
        return args.func(args)
    except TaxonomyError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted; no run directory was written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
