"""Names on the static map (``map.png``): the top levels, placed so that no two overlap.

The interactive report places its names in the browser (``templates/report.js``); this
is the same rule for matplotlib. Names are tried in order of priority (level, then
size); each goes at its node's position or, failing that, a line or so above or below it, and
is dropped when every spot would overlap a name already placed or leave the axes.
Overlap is judged on the text's drawn extent, halo included.
"""

from __future__ import annotations

from dataclasses import dataclass

# Per level: font size (pt), weight, colour. The top level is largest.
LEVEL_STYLE = {1: (11.0, "bold", "#1d2430"), 2: (8.0, "normal", "#2b3340")}
GAP_PX = 2.0  # clear space kept around every name


@dataclass(frozen=True)
class MapLabel:
    node_id: str
    text: str
    level: int
    size: int
    xy: tuple[float, float]


def _boxes_overlap(a, b, gap: float) -> bool:
    return not (
        a.x1 + gap <= b.x0 or b.x1 + gap <= a.x0 or a.y1 + gap <= b.y0 or b.y1 + gap <= a.y0
    )


def place_labels(ax, labels: list[MapLabel], renderer, *, halo: str = "white") -> list:
    """Draw ``labels`` on ``ax`` without overlaps; returns the text artists kept.

    The figure's layout must be final (drawn once) so that the measured extents are
    those of the saved image. Labels are tried level by level, larger nodes first.
    """
    from matplotlib import patheffects

    effects = [patheffects.withStroke(linewidth=3, foreground=halo)]
    frame = ax.get_window_extent(renderer)
    kept, boxes = [], []
    for lab in sorted(labels, key=lambda x: (x.level, -x.size, x.node_id)):
        fontsize, weight, color = LEVEL_STYLE.get(lab.level, LEVEL_STYLE[2])
        text = ax.annotate(
            lab.text,
            xy=lab.xy,
            xytext=(0, 0),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=fontsize,
            weight=weight,
            color=color,
            path_effects=effects,
            annotation_clip=False,
            parse_math=False,  # a name is text: "$" never starts a formula
        )
        text.set_in_layout(False)
        text.set_gid(lab.node_id)
        box = None
        # Centre, then a line above or below, then a line and a half (past a larger name).
        for shift in (0.0, 1.15, -1.15, 1.9, -1.9):
            text.xyann = (0.0, shift * fontsize)
            candidate = text.get_window_extent(renderer)
            inside = (
                candidate.x0 >= frame.x0
                and candidate.x1 <= frame.x1
                and candidate.y0 >= frame.y0
                and candidate.y1 <= frame.y1
            )
            if inside and not any(_boxes_overlap(candidate, b, GAP_PX) for b in boxes):
                box = candidate
                break
        if box is None:
            text.remove()
            continue
        boxes.append(box)
        kept.append(text)
    return kept


def overlapping_pairs(texts: list, renderer) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose extents intersect (for tests: should be none)."""
    boxes = [(t.get_gid(), t.get_window_extent(renderer)) for t in texts]
    return [
        (a, b)
        for k, (a, ba) in enumerate(boxes)
        for b, bb in boxes[k + 1 :]
        if _boxes_overlap(ba, bb, 0.0)
    ]


def top_labels(tax, pos: dict[str, list[float]], levels: int = 2) -> list[MapLabel]:
    """The names of the nodes of the top ``levels`` levels that have a position."""
    return [
        MapLabel(n.node_id, n.label, n.level, n.size, tuple(float(v) for v in pos[n.node_id]))
        for n in tax.nodes.values()
        if 1 <= n.level <= levels and n.node_id in pos and n.label
    ]
