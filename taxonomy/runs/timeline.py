"""Topics over time: papers per node and period, and which topics are rising or fading.

Dates come from the corpus (``corpus.date_field``, or the year-month of an
arXiv id with ``corpus.date_from_id``). Papers are binned into weeks, months,
quarters or years (``taxonomy.time_bin``; ``auto`` picks from the span, see
:func:`choose_time_bin`). Every period between the first and the last date is
kept, empty ones included, so a series reads evenly.

Growth of a node (docs/time.md) compares its share of the papers in the
recent periods (the last ``taxonomy.recent_periods``; ``auto`` = a quarter of
the periods, at least one) with its share in the earlier ones, as a log2
ratio, ``+1`` = its share doubled. The ratio comes with a 90 % interval from a
conditional binomial model shrunk towards "no change" (:func:`share_growth`),
and a node is *rising* only when the whole interval is above 0, *fading* when
it is below; lists are ranked by the interval's near end, so a topic of a few
papers, whose interval is wide, cannot top them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

TIME_BINS = ("week", "month", "quarter", "year")
# Pseudo-papers of prior, all at "no change": a node must show more than this many papers'
# worth of evidence before its growth interval leaves 0 (docs/time.md).
PRIOR_PAPERS = 20.0
INTERVAL = 0.9
LIST_LENGTH = 10
# --- periods ----------------------------------------------------------------------------


def choose_time_bin(dates: Sequence[date | None]) -> str:
    """``auto``: weeks up to half a year of dates, months up to 3 years, quarters up to 8, else years.

    That keeps a series between a handful and about 35 points.
    """
    known = [d for d in dates if d is not None]
    if not known:
        return "month"
    span = (max(known) - min(known)).days
    if span <= 183:
        return "week"
    if span <= 3 * 366:
        return "month"
    if span <= 8 * 366:
        return "quarter"
    return "year"


def period_number(d: date, time_bin: str) -> int:
    """A number per period that grows by one from each period to the next."""
    if time_bin == "week":
        return (d.toordinal() - 1) // 7  # date(1, 1, 1) was a Monday: ISO weeks
    if time_bin == "month":
        return d.year * 12 + d.month - 1
    if time_bin == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    if time_bin == "year":
        return d.year
    raise ValueError(f"time_bin: expected one of {', '.join(TIME_BINS)}, got {time_bin!r}")


def period_start(number: int, time_bin: str) -> date:
    if time_bin == "week":
        return date.fromordinal(number * 7 + 1)
    if time_bin == "month":
        return date(number // 12, number % 12 + 1, 1)
    if time_bin == "quarter":
        return date(number // 4, 3 * (number % 4) + 1, 1)
    return date(number, 1, 1)


def period_label(number: int, time_bin: str) -> str:
    """``2025-W12`` (ISO week), ``2025-03``, ``2025-Q1`` or ``2025``."""
    start = period_start(number, time_bin)
    if time_bin == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if time_bin == "month":
        return f"{start.year}-{start.month:02d}"
    if time_bin == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return str(start.year)


def bin_dates(
    dates: Sequence[date | None], time_bin: str
) -> tuple[np.ndarray, list[str], list[date]]:
    """Period index of each paper (-1 = undated), and each period's label and first day.

    Periods run without gaps from the earliest date's to the latest's.
    """
    nums = np.array([period_number(d, time_bin) if d else -1 for d in dates], dtype=np.int64)
    known = np.array([d is not None for d in dates], dtype=bool)
    if not known.any():
        return np.full(len(dates), -1, dtype=np.int64), [], []
    lo, hi = int(nums[known].min()), int(nums[known].max())
    idx = np.where(known, nums - lo, -1)
    numbers = range(lo, hi + 1)
    return (
        idx,
        [period_label(n, time_bin) for n in numbers],
        [period_start(n, time_bin) for n in numbers],
    )


# --- growth -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Growth:
    """A node's recent vs earlier share: papers, log2 ratio of shares, its interval, p-value."""

    recent: int
    earlier: int
    growth: float
    low: float
    high: float
    p_value: float


def share_growth(
    recent: int,
    earlier: int,
    n_recent: int,
    n_earlier: int,
    *,
    prior: float = PRIOR_PAPERS,
    level: float = INTERVAL,
) -> Growth:
    """Log2 ratio of a node's share of recent papers to its share of earlier papers.

    Given the node's ``recent + earlier`` papers, the number that are recent is
    binomial with success probability ``t``; with no change in share
    ``t = t0 = n_recent / (n_recent + n_earlier)``, and the share ratio is
    ``odds(t) / odds(t0)``. ``t`` gets a Beta prior worth ``prior`` papers centred on
    ``t0`` (no change), so the posterior is ``Beta(recent + prior·t0, earlier +
    prior·(1 - t0))``. ``growth`` is the ratio at the posterior median, ``low`` and
    ``high`` at the ``(1 ± level) / 2`` quantiles, all in log2. With a quarter of
    all papers recent, a node of three papers, all recent, gets ``growth`` 0.65 and
    ``low`` -0.46 (not rising); one of 50, all recent, ``low`` 2.8; one of 1,000 whose
    share went from 0.6x to the average ``low`` 0.83. ``p_value`` is the two-sided
    exact binomial test of ``t = t0``.
    """
    from ..util.binomial import beta_quantiles, binomtest_p

    if n_recent <= 0 or n_earlier <= 0:
        raise ValueError("both windows need papers")
    t0 = n_recent / (n_recent + n_earlier)
    a, b = recent + prior * t0, earlier + prior * (1 - t0)
    q = beta_quantiles([(1 - level) / 2, 0.5, (1 + level) / 2], a, b)
    q = np.clip(q, 1e-12, 1 - 1e-12)
    log2 = (np.log(q / (1 - q)) - math.log(t0 / (1 - t0))) / math.log(2)
    n = recent + earlier
    p = binomtest_p(recent, n, t0) if n else 1.0
    return Growth(
        int(recent), int(earlier), float(log2[1]), float(log2[0]), float(log2[2]), min(p, 1.0)
    )


def auto_recent_periods(n_periods: int) -> int:
    """A quarter of the periods (at least one), leaving at least one earlier period."""
    return int(min(max(1, round(n_periods / 4)), max(1, n_periods - 1)))


# --- the timeline of a run ---------------------------------------------------------------------


@dataclass
class Timeline:
    """Papers per node and period, and each node's growth (empty with fewer than two periods)."""

    time_bin: str
    labels: list[str]
    starts: list[date]
    doc_period: np.ndarray  # period index of each paper, -1 = undated
    totals: np.ndarray  # dated papers per period, outliers included
    counts: dict[str, np.ndarray]  # node id -> papers per period
    recent_periods: int = 0
    growth: dict[str, Growth] = field(default_factory=dict)

    @property
    def n_dated(self) -> int:
        return int((self.doc_period >= 0).sum())

    @property
    def n_undated(self) -> int:
        return int((self.doc_period < 0).sum())


def build_timeline(
    dates: Sequence[date | None],
    members: dict[str, np.ndarray],
    *,
    time_bin: str = "auto",
    recent_periods: int | str = "auto",
) -> Timeline | None:
    """Counts per node and period, and growth per node; ``None`` when no paper has a date.

    Parameters
    ----------
    dates : sequence of date or None
        Each paper's date, in corpus order.
    members : dict
        Node id -> indices of its papers (every level; the root is not needed).
    time_bin : {"auto", "week", "month", "quarter", "year"}
    recent_periods : int or "auto"
        Periods at the end that are "recent" for growth.
    """
    if not any(d is not None for d in dates):
        return None
    if time_bin == "auto":
        time_bin = choose_time_bin(dates)
    doc_period, labels, starts = bin_dates(dates, time_bin)
    n_periods = len(labels)
    dated = doc_period >= 0
    totals = np.bincount(doc_period[dated], minlength=n_periods)
    counts = {}
    for node_id, idx in members.items():
        p = doc_period[np.asarray(idx, dtype=np.int64)]
        counts[node_id] = np.bincount(p[p >= 0], minlength=n_periods)
    tl = Timeline(time_bin, labels, starts, doc_period, totals, counts)
    if n_periods < 2:
        return tl
    k = auto_recent_periods(n_periods) if recent_periods == "auto" else int(recent_periods)
    k = min(k, n_periods - 1)
    n_recent, n_earlier = int(totals[-k:].sum()), int(totals[:-k].sum())
    tl.recent_periods = k
    if n_recent and n_earlier:
        tl.growth = {
            node_id: share_growth(int(c[-k:].sum()), int(c[:-k].sum()), n_recent, n_earlier)
            for node_id, c in counts.items()
        }
    return tl


def rising_and_fading(
    tl: Timeline, nodes: Sequence[str], labels: dict[str, str], k: int = LIST_LENGTH
) -> tuple[list[dict], list[dict]]:
    """The ``k`` nodes (of ``nodes``) rising most surely and fading most surely.

    Rising: the interval's low end above 0, highest low end first; fading: the
    high end below 0, lowest first (ties by node id).
    """

    def entry(node_id: str) -> dict:
        g = tl.growth[node_id]
        return {
            "node_id": node_id,
            "label": labels.get(node_id, ""),
            "recent": g.recent,
            "earlier": g.earlier,
            "growth": round(g.growth, 3),
            "low": round(g.low, 3),
            "high": round(g.high, 3),
        }

    have = [n for n in nodes if n in tl.growth]
    up = sorted((n for n in have if tl.growth[n].low > 0), key=lambda n: (-tl.growth[n].low, n))
    down = sorted((n for n in have if tl.growth[n].high < 0), key=lambda n: (tl.growth[n].high, n))
    return [entry(n) for n in up[:k]], [entry(n) for n in down[:k]]


def timeline_metrics(tl: Timeline, leaves: Sequence[str], labels: dict[str, str]) -> dict:
    """``time`` (bin, periods, dated papers) and the ``rising``/``fading`` leaf topics, for metrics.json."""
    rising, fading = rising_and_fading(tl, leaves, labels)
    return {
        "time": {
            "bin": tl.time_bin,
            "first_period": tl.labels[0],
            "last_period": tl.labels[-1],
            "n_periods": len(tl.labels),
            "recent_periods": tl.recent_periods,
            "n_dated": tl.n_dated,
            "n_undated": tl.n_undated,
        },
        "rising": rising,
        "fading": fading,
    }


OVER_TIME_COLUMNS = ["node_id", "period", "papers", "share"]
GROWTH_COLUMNS = [
    "node_id",
    "label",
    "recent_papers",
    "earlier_papers",
    "growth",
    "low",
    "high",
    "p_value",
]


def over_time_rows(tl: Timeline, order: Sequence[str]) -> list[list[object]]:
    """Rows of ``topics_over_time.csv``: a node's papers in a period and its share of that period."""
    rows = []
    for node_id in order:
        c = tl.counts[node_id]
        for p, label in enumerate(tl.labels):
            share = c[p] / tl.totals[p] if tl.totals[p] else 0.0
            rows.append([node_id, label, int(c[p]), round(float(share), 5)])
    return rows


def growth_rows(tl: Timeline, order: Sequence[str], labels: dict[str, str]) -> list[list[object]]:
    rows = []
    for node_id in order:
        g = tl.growth.get(node_id)
        if g is not None:
            rows.append(
                [
                    node_id,
                    labels.get(node_id, ""),
                    g.recent,
                    g.earlier,
                    round(g.growth, 4),
                    round(g.low, 4),
                    round(g.high, 4),
                    float(f"{g.p_value:.4g}"),
                ]
            )
    return rows


def report_payload(tl: Timeline) -> dict:
    """What the report's sparklines, trend panel and time filter need."""
    return {
        "bin": tl.time_bin,
        "periods": list(tl.labels),
        "starts": [d.isoformat() for d in tl.starts],
        "totals": tl.totals.astype(int).tolist(),
        "recent_periods": tl.recent_periods,
        "counts": {k: v.astype(int).tolist() for k, v in tl.counts.items()},
        "growth": {
            k: [round(g.growth, 3), round(g.low, 3), round(g.high, 3), g.recent, g.earlier]
            for k, g in tl.growth.items()
        },
    }


# --- adapters for a taxonomy ----------------------------------------------------------------


def tree_order(tax) -> list[str]:
    """Node ids below the root, level by level (the order of ``topics.csv``)."""
    return [
        n.node_id for n in sorted(tax.nodes.values(), key=lambda n: (n.level, n.index)) if n.level
    ]


def tree_timeline(
    dates: Sequence[date | None], tax, *, time_bin: str, recent_periods: int | str
) -> Timeline | None:
    """:func:`build_timeline` for every node of a :class:`~taxonomy.hierarchy.Taxonomy`."""
    members = {n.node_id: n.doc_idx for n in tax.nodes.values() if n.level > 0}
    return build_timeline(dates, members, time_bin=time_bin, recent_periods=recent_periods)


def timeline_for(dates: Sequence[date | None], tax, params) -> Timeline | None:
    """The timeline stage of a run, an update and a refit alike: the tree's nodes over time
    with ``taxonomy.time_bin`` and ``recent_periods`` (``params``: the taxonomy section)."""
    return tree_timeline(dates, tax, time_bin=params.time_bin, recent_periods=params.recent_periods)


def tree_metrics(tl: Timeline, tax) -> dict:
    labels = {n.node_id: n.label for n in tax.nodes.values()}
    return timeline_metrics(tl, [n.node_id for n in tax.level(tax.n_levels)], labels)


def timeline_tables(tl: Timeline, tax) -> tuple[str, str]:
    """The CSV texts of a dated run's topics over time and topic growth (``runs.rundir``
    names the files)."""
    from ..util.formats import csv_text

    order = tree_order(tax)
    labels = {n.node_id: n.label for n in tax.nodes.values()}
    return (
        csv_text(OVER_TIME_COLUMNS, over_time_rows(tl, order)),
        csv_text(GROWTH_COLUMNS, growth_rows(tl, order, labels)),
    )


def resolve_time(cfg, tl: Timeline | None, date_field: str | None):
    """A copy of the run config with the time settings it used, ``auto`` resolved.

    ``corpus.date_field``: the field the dates came from (null when none had
    one); ``taxonomy.time_bin`` and ``recent_periods``: the timeline's (for a
    corpus without dates, what ``auto`` gives: month, one period). Updates read
    them back, so they keep the fit's bin and window.
    """
    cfg = cfg.model_copy(deep=True)
    if cfg.corpus.date_field == "auto":
        cfg.corpus.date_field = date_field
    t = cfg.taxonomy
    if tl is not None:
        t.time_bin = tl.time_bin
        t.recent_periods = max(1, tl.recent_periods)
    else:
        t.time_bin = "month" if t.time_bin == "auto" else t.time_bin
        t.recent_periods = 1 if t.recent_periods == "auto" else t.recent_periods
    return cfg
