"""Experiments: a base config, what differs from it, and a grid of settings to sweep.

An experiment file (``config/experiments/*.yaml``) names a ``base`` config,
holds only the keys that differ from it, and lists values for dotted config
keys under ``sweep``; every combination is one point. ``select`` names the
metric (and ``max``/``min``) that marks the best point.

``taxonomy sweep`` runs each point into its own run directory, reusing the
stage cache so the embeddings are computed once and each UMAP setting is
reduced once, then writes ``comparison.csv`` and ``comparison.html``. A point
whose run directory is complete (run directories are written atomically) is
skipped, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import __version__
from .config import (
    RUN_NAME_PATTERN,
    RunConfig,
    build_config,
    read_config_chain,
    set_dotted,
)
from .errors import ConfigError, OutputError
from .outputs.comparison import Select, best_point, score, value_text, write_comparison
from .util.cache import hash_key
from .util.formats import json_text

if TYPE_CHECKING:
    from .embedding.encoder import Embedder
    from .pipeline import RunResult

# Settings that cannot change a result: sweeping them would only repeat one run.
NOT_SWEEPABLE = ("name", "output_dir", "cache", "embedding.show_progress_bar", "embedding.device")
POINT_FILE = "sweep_point.json"
# Files a finished point must have (its run directory is written all-or-nothing).
POINT_OUTPUTS = (
    "documents.csv",
    "taxonomy.yaml",
    "metrics.json",
    "config.yaml",
    "report.html",
    POINT_FILE,
)


@dataclass(frozen=True)
class Point:
    """One combination of swept values and the full config it gives."""

    name: str
    params: dict[str, Any]
    cfg: RunConfig

    @property
    def fingerprint(self) -> str:
        """Key of everything that decides this point's outputs (not where they or the cache go)."""
        data = self.cfg.model_dump(mode="json", exclude={"name", "output_dir", "cache"})
        data["embedding"].pop("show_progress_bar", None)
        return hash_key("sweep-point", data, __version__)


@dataclass
class Experiment:
    name: str
    source: Path
    base: RunConfig
    sweep: dict[str, list[Any]]
    select: Select | None
    points: list[Point]
    description: str = ""


@dataclass
class SweepResult:
    root: Path
    rows: list[dict[str, Any]]
    best: int | None
    n_run: int = 0
    n_skipped: int = 0
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)


# --- loading ---------------------------------------------------------------------


def _parse_select(value: Any, source: Path) -> Select | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = {"metric": value}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: select: expected a metric name or {{metric: ..., mode: max|min}} "
            f"(got {value!r})"
        )
    try:
        return Select.model_validate(value)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Input should be ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key; expected 'metric' and 'mode'"
        elif e["type"] == "missing":
            msg = "missing; name the metric that picks the best point"
        else:
            msg = f"expected {msg} (got {e.get('input')!r})"
        raise ConfigError(f"{source}: select.{where}: {msg}") from None


def _parse_sweep(value: Any, source: Path) -> dict[str, list[Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            f"{source}: sweep: expected a mapping of dotted config keys to lists of values "
            f"(got {type(value).__name__})"
        )
    out: dict[str, list[Any]] = {}
    for key, values in value.items():
        key = str(key)
        if any(key == k or key.startswith(k + ".") for k in NOT_SWEEPABLE):
            raise ConfigError(
                f"{source}: sweep.{key}: cannot be swept (it does not change the result)"
            )
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"{source}: sweep.{key}: expected a non-empty list of values (got {values!r})"
            )
        if len({json.dumps(v, sort_keys=True, default=str) for v in values}) != len(values):
            raise ConfigError(f"{source}: sweep.{key}: a value is listed twice (got {values!r})")
        out[key] = values
    return out


def point_names(sweep: dict[str, list[Any]], combos: list[tuple]) -> list[str]:
    """Directory names of the points, e.g. ``min_cluster_size-10__n_neighbors-15``.

    The name comes from the values, not the position in the grid, so a point
    keeps its directory (and stays resumable) when values are added.
    """
    keys = list(sweep)
    last = [k.rsplit(".", 1)[-1] for k in keys]
    labels = [k.replace(".", "-") if last.count(s) > 1 else s for k, s in zip(keys, last)]
    names = []
    for combo in combos:
        values = [re.sub(r"[^A-Za-z0-9.-]+", "_", value_text(v)).strip("._-") or "_" for v in combo]
        name = "__".join(f"{lab}-{v}" for lab, v in zip(labels, values))
        if len(name) > 100 or not re.match(RUN_NAME_PATTERN, name):
            name = f"{name[:80].strip('._-')}-{hash_key(list(combo))[:8]}"
        names.append(name)
    for i, name in enumerate(names):  # values that only differ in punctuation
        if names.count(name) > 1:
            names[i] = f"{name[:90]}-{i + 1}"
    return names


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file, every point included, or raise ``ConfigError``.

    Parameters
    ----------
    path
        The experiment YAML. ``base`` is looked up beside it, then in the
        working directory, then in the repository.

    Returns
    -------
    Experiment
        The validated base config, the sweep, the selection rule and one
        :class:`Point` per combination of swept values (grid order).
    """
    source = Path(path)
    merged, extra = read_config_chain(source)
    name = str(merged.get("name") or source.stem)
    merged["name"] = name
    base = build_config(merged, str(source))
    sweep = _parse_sweep(extra.get("sweep"), source)
    select = _parse_select(extra.get("select"), source)

    combos = list(itertools.product(*sweep.values())) if sweep else [()]
    names = point_names(sweep, combos) if sweep else [name]
    points = []
    for combo, pname in zip(combos, names):
        params = dict(zip(sweep, combo))
        point_data = copy.deepcopy(merged)
        point_data["name"] = pname
        for key, value in params.items():
            try:
                set_dotted(point_data, key, value)
            except ConfigError as err:
                raise ConfigError(f"{source}: sweep.{err}") from None
        if not (point_data.get("report") or {}).get("title") and params:
            shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={value_text(v)}" for k, v in params.items())
            point_data.setdefault("report", {})["title"] = f"{name}: {shown}"
        points.append(Point(pname, params, build_config(point_data, f"{source}: sweep")))
    return Experiment(
        name, source, base, sweep, select, points, str(extra.get("description") or "")
    )


# --- running ---------------------------------------------------------------------


def point_finished(target: Path, point: Point) -> bool:
    """Whether ``target`` holds a complete run of exactly this point's settings."""
    try:
        info = json.loads((target / POINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("fingerprint") == point.fingerprint and all(
        (target / f).is_file() for f in POINT_OUTPUTS
    )


def _eta(seconds: list[float], left: int) -> str:
    if not seconds or not left:
        return ""
    # The first point pays for loading the model and compiling UMAP: leave it out once others ran.
    recent = seconds[1:] or seconds
    s = sum(recent) / len(recent) * left
    return f"; about {s / 60:.1f} min left" if s >= 60 else f"; about {s:.0f} s left"


def run_sweep(
    exp: Experiment, *, out_dir: str | Path | None = None, log: Callable[[str], None] = print
) -> SweepResult:
    """Run every point not finished yet, then write the comparison files.

    Parameters
    ----------
    exp
        A loaded experiment (:func:`load_experiment`).
    out_dir
        Experiment directory; default ``<output_dir>/<experiment name>``.
    log
        Receives one progress line per step.

    Returns
    -------
    SweepResult
        One row per point (parameters, metrics, report link), the best point's
        index and how many points ran or were skipped.
    """
    root = Path(out_dir) if out_dir else Path(exp.base.output_dir) / exp.name
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root}: exists and is not a directory")
    t_start = time.perf_counter()
    n = len(exp.points)
    log(f"sweep {exp.name}: {n} point{'s' * (n != 1)} into {root}")
    done_seconds: list[float] = []
    embedders: dict[str, Embedder] = {}
    n_run = n_skipped = 0
    for i, point in enumerate(exp.points, 1):
        target = root / point.name
        head = f"[{i}/{n}] {point.name}"
        if point_finished(target, point):
            n_skipped += 1
            log(f"{head}: finished before, skipped")
        else:
            log(
                f"{head}: {'settings changed or run incomplete; running it again' if target.exists() else 'running'}"
            )
            t0 = time.perf_counter()
            try:
                m = run_point(exp, point, target, embedder_for(point, embedders), log).metrics
            except KeyboardInterrupt:
                log(
                    f"interrupted at point {i}/{n}; the {n_run + n_skipped} finished point(s) are kept — "
                    "run the same command again to resume"
                )
                raise
            n_run += 1
            done_seconds.append(time.perf_counter() - t0)
            log(
                f"{head}: {m['n_topics']} topics, outliers {m['outlier_share']:.1%} "
                f"({done_seconds[-1]:.0f} s{_eta(done_seconds, n - i)})"
            )
        if n_run + n_skipped == 1:  # fail on a misspelt metric now, not after the last point
            check_select(exp, point_row(point, target))

    rows = [point_row(p, root / p.name) for p in exp.points]
    best = best_point(rows, exp.select)
    files = write_comparison(root, exp, rows, best)
    total = time.perf_counter() - t_start
    log(f"sweep {exp.name}: {n_run} run, {n_skipped} skipped, {total:.0f} s; {files['html']}")
    return SweepResult(root, rows, best, n_run, n_skipped, round(total, 3), files)


def embedder_for(point: Point, embedders: dict[str, Embedder]) -> Embedder:
    """One embedder per embedding setting (kept in ``embedders``): the model loads once per sweep."""
    from .embedding.encoder import Embedder
    from .pipeline import store_for

    key = hash_key(
        point.cfg.embedding.model_dump(mode="json"), point.cfg.cache.model_dump(mode="json")
    )
    if key not in embedders:
        embedders[key] = Embedder(point.cfg.embedding, store_for(point.cfg))
    return embedders[key]


def run_point(
    exp: Experiment, point: Point, target: Path, embedder: Embedder, log: Callable[[str], None]
) -> RunResult:
    """Run one point into ``target`` (replacing what is there), its record in ``POINT_FILE``."""
    from .pipeline import run

    record = {
        "experiment": exp.name,
        "point": point.name,
        "params": point.params,
        "fingerprint": point.fingerprint,
    }
    return run(
        point.cfg,
        out_dir=target,
        overwrite=True,
        log=lambda m: log(f"    {m}"),
        embedder=embedder,
        extra_files={POINT_FILE: json_text(record)},
    )


# --- comparing -----------------------------------------------------------------

# Run facts that are not a measure of the taxonomy (or are not numbers).
_NOT_METRICS = {
    "seconds",
    "versions",
    "skipped",
    "seed",
    "embedding_cache",
    "n_read",
    "n_skipped",
    "n_truncated",
    "n_classes",
    "n_nodes",
    "fields",
    "scores",
}


def flatten_metrics(metrics: dict, prefix: str = "", depth: int = 0) -> dict[str, float]:
    """Numeric leaves of ``metrics.json`` as dotted names (per-node tables left out)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key in _NOT_METRICS or "per_node" in str(key):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[name] = value
        elif isinstance(value, dict) and depth < 3 and len(value) <= 24:
            out.update(flatten_metrics(value, f"{name}.", depth + 1))
    return out


def point_row(point: Point, run_dir: Path) -> dict[str, Any]:
    """One comparison row: the point's name, swept values, metrics and report link."""
    row: dict[str, Any] = {"point": point.name}
    row.update(point.params)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    row.update(flatten_metrics(metrics))
    row["seconds"] = round(sum(metrics.get("seconds", {}).values()), 1)
    row["report"] = f"{point.name}/report.html"
    return row


def check_select(exp: Experiment, row: dict[str, Any]) -> None:
    """Raise ``ConfigError`` when ``select.metric`` is not among a finished point's metrics."""
    if exp.select is None or score(row, exp.select.metric) is not None:
        return
    known = [k for k in row if k not in ("point", "report") and k not in exp.sweep]
    hint = difflib.get_close_matches(exp.select.metric, known, n=1)
    tip = f"did you mean '{hint[0]}'?" if hint else f"expected one of: {', '.join(known)}"
    raise ConfigError(
        f"{exp.source}: select.metric: no metric '{exp.select.metric}' in the run's "
        f"metrics.json; {tip}"
    )


def main_sweep(args) -> int:
    """``taxonomy sweep EXPERIMENT [--out DIR]``."""
    exp = load_experiment(args.experiment)
    result = run_sweep(exp, out_dir=args.out, log=lambda m: print(m, file=sys.stderr, flush=True))
    if result.best is not None:
        row = result.rows[result.best]
        print(
            f"best by {exp.select.metric} ({exp.select.mode}): {row['point']} = {row[exp.select.metric]}"
        )
    print(f"comparison: {result.files['html'].resolve()}")
    return 0
