"""The comparison of a sweep's points: ``comparison.csv`` and the self-contained ``comparison.html``.

One row per point (its swept values, metrics and report link); the page adds a
sortable table and, for each metric that varies, a plot against each swept
parameter. :mod:`taxonomy.sweep` runs the points and calls :func:`write_comparison`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ..config import RunConfig
from ..util.files import write_text_atomic
from ..util.formats import csv_text
from .html import environment, static_text


class Select(BaseModel):
    """Which metric marks the best point, and whether higher or lower is better."""

    model_config = ConfigDict(extra="forbid")
    metric: str
    mode: Literal["max", "min"] = "max"


class Compared(Protocol):
    """What the comparison shows of an experiment (:class:`taxonomy.sweep.Experiment`)."""

    name: str
    source: Path
    description: str
    base: RunConfig
    sweep: dict[str, list[Any]]
    select: Select | None


def value_text(value: Any) -> str:
    """A swept value as text: in point names, the table and the plots' legends."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list):
        return "-".join(value_text(v) for v in value)
    return str(value)


def score(row: dict[str, Any], metric: str) -> float | None:
    """A row's value of ``metric`` as a number; ``None`` when absent, not a number or NaN."""
    v = row.get(metric)
    return float(v) if isinstance(v, (int, float)) and not math.isnan(v) else None


def best_point(rows: list[dict[str, Any]], select: Select | None) -> int | None:
    """Index of the best row by ``select`` (first on ties), or ``None`` without a rule."""
    if select is None:
        return None
    scored = [(s, i) for i, r in enumerate(rows) if (s := score(r, select.metric)) is not None]
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


def metric_names(rows: list[dict[str, Any]], exp: Compared) -> list[str]:
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
        values = [score(r, name) for r in rows]
        if any(v is not None for v in values) and len({v for v in values if v is not None}) > 1:
            varying.append(name)
    if exp.select and exp.select.metric in varying:
        varying.remove(exp.select.metric)
        varying.insert(0, exp.select.metric)
    return varying


def is_headline(metric: str, exp: Compared) -> bool:
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
        return r[param] if numeric else value_text(r[param])

    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(tuple(value_text(r.get(o)) for o in others), []).append(i)
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
    if best is not None and score(rows[best], metric) is not None:
        fig.add_trace(best_marker(x_of(rows[best]), rows[best][metric], rows[best]["point"]))
    fig.update_layout(**figure_layout(metric, param, others, numeric, len(groups) > 1))
    return fig


def best_marker(x: Any, y: Any, point: str):
    """The star that marks the best point in a metric's plot."""
    import plotly.graph_objects as go

    return go.Scatter(
        x=[x],
        y=[y],
        mode="markers",
        name="best point",
        marker={
            "symbol": "star",
            "size": 16,
            "color": "#e8a400",
            "line": {"width": 1, "color": "#333"},
        },
        hovertemplate="best: " + point + "<extra></extra>",
        showlegend=False,
    )


def figure_layout(
    metric: str, param: str, others: list[str], numeric: bool, legend: bool
) -> dict[str, Any]:
    """Title, axes and legend of a metric's plot against ``param`` (``others``: the other
    swept parameters, one line per combination of their values)."""
    return {
        "title": {
            "text": f"<b>{metric}</b> vs {param.rsplit('.', 1)[-1]}",
            "font": {"size": 13},
            "x": 0.01,
            "xanchor": "left",
            "y": 0.97,
            "yanchor": "top",
        },
        "xaxis": {"title": {"text": param}, "type": "linear" if numeric else "category"},
        "yaxis": {"title": {"text": metric}},
        "height": 300,
        "margin": {"l": 55, "r": 10, "t": 58, "b": 42},
        "showlegend": legend,
        "legend": {
            "font": {"size": 10},
            "orientation": "h",
            "x": 0,
            "y": 1.0,
            "xanchor": "left",
            "yanchor": "bottom",
            "title": {"text": others[0].rsplit(".", 1)[-1] if len(others) == 1 else ""},
        },
    }


def comparison_html(exp: Compared, rows: list[dict[str, Any]], best: int | None) -> str:
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
        value_text=value_text,
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
    return value_text(v)


def write_comparison(
    root: Path, exp: Compared, rows: list[dict[str, Any]], best: int | None
) -> dict[str, Path]:
    """Write ``comparison.csv`` and ``comparison.html`` into ``root`` (each replaced atomically)."""
    root.mkdir(parents=True, exist_ok=True)
    out = {"csv": root / "comparison.csv", "html": root / "comparison.html"}
    write_text_atomic(out["csv"], comparison_csv(rows, best))
    write_text_atomic(out["html"], comparison_html(exp, rows, best))
    return out
