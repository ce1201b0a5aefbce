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
import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from . import __version__
from .config import (
    RUN_NAME_PATTERN,
    RunConfig,
    build_config,
    read_config_chain,
    set_dotted,
)
from .errors import ConfigError, OutputError
from .outputs.html import environment, static_text
from .util.cache import hash_key
from .util.files import write_text_atomic
from .util.formats import csv_text, json_text

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


class Select(BaseModel):
    """Which metric marks the best point, and whether higher or lower is better."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    mode: Literal["max", "min"] = "max"


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


def _value_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "-".join(_value_text(v) for v in value)
    return str(value)


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
        values = [
            re.sub(r"[^A-Za-z0-9.-]+", "_", _value_text(v)).strip("._-") or "_" for v in combo
        ]
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
            shown = ", ".join(f"{k.rsplit('.', 1)[-1]}={_value_text(v)}" for k, v in params.items())
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
    from .embedding.encoder import Embedder
    from .pipeline import run, store_for

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
            if n_run + n_skipped == 1:
                check_select(exp, point_row(point, target))
            continue
        if target.exists():
            log(f"{head}: settings changed or run incomplete; running it again")
        else:
            log(f"{head}: running")
        t0 = time.perf_counter()
        # One embedder per embedding setting: the model loads once for the whole sweep.
        ekey = hash_key(
            point.cfg.embedding.model_dump(mode="json"), point.cfg.cache.model_dump(mode="json")
        )
        if ekey not in embedders:
            embedders[ekey] = Embedder(point.cfg.embedding, store_for(point.cfg))
        try:
            record = {
                "experiment": exp.name,
                "point": point.name,
                "params": point.params,
                "fingerprint": point.fingerprint,
            }
            result = run(
                point.cfg,
                out_dir=target,
                overwrite=True,
                log=lambda m: log(f"    {m}"),
                embedder=embedders[ekey],
                extra_files={POINT_FILE: json_text(record)},
            )
        except KeyboardInterrupt:
            log(
                f"interrupted at point {i}/{n}; the {n_run + n_skipped} finished point(s) are kept — "
                "run the same command again to resume"
            )
            raise
        n_run += 1
        done_seconds.append(time.perf_counter() - t0)
        m = result.metrics
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


def _score(row: dict[str, Any], metric: str) -> float | None:
    v = row.get(metric)
    return float(v) if isinstance(v, (int, float)) and not math.isnan(v) else None


def check_select(exp: Experiment, row: dict[str, Any]) -> None:
    """Raise ``ConfigError`` when ``select.metric`` is not among a finished point's metrics."""
    if exp.select is None or _score(row, exp.select.metric) is not None:
        return
    known = [k for k in row if k not in ("point", "report") and k not in exp.sweep]
    hint = difflib.get_close_matches(exp.select.metric, known, n=1)
    tip = f"did you mean '{hint[0]}'?" if hint else f"expected one of: {', '.join(known)}"
    raise ConfigError(
        f"{exp.source}: select.metric: no metric '{exp.select.metric}' in the run's "
        f"metrics.json; {tip}"
    )


def best_point(rows: list[dict[str, Any]], select: Select | None) -> int | None:
    """Index of the best row by ``select`` (first on ties), or ``None`` without a rule."""
    if select is None:
        return None
    scored = [(s, i) for i, r in enumerate(rows) if (s := _score(r, select.metric)) is not None]
    if not scored:
        return None
    sign = 1 if select.mode == "max" else -1
    return max(scored, key=lambda si: (sign * si[0], -si[1]))[1]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    cols.pop("report", None)
    return [*cols, "best", "report"]


def comparison_csv(rows: list[dict[str, Any]], best: int | None) -> str:
    """``comparison.csv``: one row per point, its parameters, metrics, ``best`` flag and report."""
    cols = _columns(rows)
    table = []
    for i, r in enumerate(rows):
        r = dict(r, best=i == best)
        table.append([_cell(r.get(c)) for c in cols])
    return csv_text(cols, table)


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return v


def metric_names(rows: list[dict[str, Any]], exp: Experiment) -> list[str]:
    """Metrics worth a plot: numeric, not constant across points; the selection metric first."""
    skip = {
        "point",
        "report",
        "seconds",
        *exp.sweep,
    }  # seconds depend on the cache, not the settings
    names = [c for c in _columns(rows) if c not in skip and c != "best"]
    varying = []
    for name in names:
        values = [_score(r, name) for r in rows]
        if any(v is not None for v in values) and len({v for v in values if v is not None}) > 1:
            varying.append(name)
    if exp.select and exp.select.metric in varying:
        varying.remove(exp.select.metric)
        varying.insert(0, exp.select.metric)
    return varying


def is_headline(metric: str, exp: Experiment) -> bool:
    """Shown at first in the page; per-level and per-field details appear on request."""
    return (
        "." not in metric
        or metric.startswith("gold.best_level.")
        or bool(exp.select and metric == exp.select.metric)
    )


def metric_figure(
    rows: list[dict[str, Any]], metric: str, param: str, params: list[str], best: int | None
):
    """A metric against one swept parameter: a line per combination of the other parameters.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    others = [p for p in params if p != param]
    numeric = all(
        isinstance(r.get(param), (int, float)) and not isinstance(r.get(param), bool) for r in rows
    )

    def x_of(r: dict[str, Any]) -> Any:
        return r[param] if numeric else _value_text(r[param])

    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(tuple(_value_text(r.get(o)) for o in others), []).append(i)
    fig = go.Figure()
    for key, idx in groups.items():
        idx = sorted(idx, key=lambda i: (x_of(rows[i]) if numeric else 0, i))
        # One other setting: its name is the legend title and the entries are its values.
        label = (
            key[0]
            if len(others) == 1
            else (", ".join(f"{o.rsplit('.', 1)[-1]}={v}" for o, v in zip(others, key)) or metric)
        )
        fig.add_trace(
            go.Scatter(
                x=[x_of(rows[i]) for i in idx],
                y=[rows[i].get(metric) for i in idx],
                mode="lines+markers",
                name=label,
                text=[rows[i]["point"] for i in idx],
                hovertemplate="%{text}<br>" + metric + "=%{y}<extra></extra>",
            )
        )
    if best is not None and _score(rows[best], metric) is not None:
        fig.add_trace(
            go.Scatter(
                x=[x_of(rows[best])],
                y=[rows[best][metric]],
                mode="markers",
                name="best point",
                marker={
                    "symbol": "star",
                    "size": 16,
                    "color": "#e8a400",
                    "line": {"width": 1, "color": "#333"},
                },
                hovertemplate="best: " + rows[best]["point"] + "<extra></extra>",
                showlegend=False,
            )
        )
    fig.update_layout(
        title={
            "text": f"<b>{metric}</b> vs {param.rsplit('.', 1)[-1]}",
            "font": {"size": 13},
            "x": 0.01,
            "xanchor": "left",
            "y": 0.97,
            "yanchor": "top",
        },
        xaxis={"title": {"text": param}, "type": "linear" if numeric else "category"},
        yaxis={"title": {"text": metric}},
        height=300,
        margin={"l": 55, "r": 10, "t": 58, "b": 42},
        showlegend=len(groups) > 1,
        legend={
            "font": {"size": 10},
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "xanchor": "left",
            "yanchor": "bottom",
            "title": {"text": others[0].rsplit(".", 1)[-1] if len(others) == 1 else ""},
        },
    )
    return fig


def comparison_html(exp: Experiment, rows: list[dict[str, Any]], best: int | None) -> str:
    """The self-contained comparison page: sortable table, metric plots, links to each report."""
    import plotly.offline

    params = list(exp.sweep)
    figures = []
    for metric in metric_names(rows, exp):
        for param in params:
            fig = metric_figure(rows, metric, param, params, best).to_plotly_json()
            fig["layout"].pop("template", None)  # one light style for all plots, set in the page
            figures.append(
                {
                    "metric": metric,
                    "param": param,
                    "main": is_headline(metric, exp),
                    "data": fig["data"],
                    "layout": fig["layout"],
                }
            )
    cols = _columns(rows)
    metric_cols = [c for c in cols if c not in ("point", "best", "report", *params)]
    env = environment()
    return env.get_template("comparison.html.j2").render(
        exp=exp,
        rows=rows,
        best=best,
        params=params,
        metric_cols=metric_cols,
        headline={m: is_headline(m, exp) for m in metric_cols},
        fmt=_fmt,
        value_text=_value_text,
        figures_json=script_json(figures),
        plotly_js=plotly.offline.get_plotlyjs(),
        page_js=static_text("comparison.js"),
        page_css=static_text("comparison.css"),
    )


def script_json(data: object) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` left to parse."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy arrays and scalars inside plotly figures
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return _value_text(v)


def write_comparison(
    root: Path, exp: Experiment, rows: list[dict[str, Any]], best: int | None
) -> dict[str, Path]:
    """Write ``comparison.csv`` and ``comparison.html`` into ``root`` (each replaced atomically)."""
    root.mkdir(parents=True, exist_ok=True)
    out = {"csv": root / "comparison.csv", "html": root / "comparison.html"}
    write_text_atomic(out["csv"], comparison_csv(rows, best))
    write_text_atomic(out["html"], comparison_html(exp, rows, best))
    return out


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
