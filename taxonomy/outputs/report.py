"""The interactive HTML report of a run, and a static image of its map.

The page is a Jinja2 template (autoescaped) with its CSS and JS kept as real
files and inlined at render time. Three payloads travel inside it as
gzip + base64 text: plotly.js, the core data (map, taxonomy, metrics) and the
abstracts (in chunks of ``TEXT_CHUNK`` papers, so a report that extends another,
as an update's does, compresses only the chunks that changed). The browser
inflates them with ``DecompressionStream``. Up to ``report.inline_abstracts_max``
papers the page is one file that opens offline; above it the chunks of abstracts
lie beside it (``report_files/text-000.js``, ...), each a script that hands its
base64 text to the page, loaded only when an abstract is opened or a search needs
them. Base64 has no ``<``, ``&``, quote or backslash, so no corpus text can reach
the HTML parser or end a script's string, and the script puts corpus text into
the page with ``textContent`` only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ..config import SAMPLE_CORPUS, RunConfig
from ..corpus import Corpus
from ..hierarchy import Taxonomy
from ..runs.timeline import Timeline, report_payload
from .html import environment, static_text

# Tableau 10 then its lighter partners: distinct on white and in grey-scale print.
PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
    "#a0cbe8",
    "#ffbe7d",
    "#8cd17d",
    "#b6992d",
    "#86bcb6",
    "#d37295",
    "#d4a6c8",
    "#79706e",
    "#bcbd22",
    "#637939",
]
OUTLIER_COLOR = "#c7cbd1"
# plotly.js's official "gl2d" partial bundle (scatter + scattergl; npm package
# plotly.js-gl2d-dist-min 3.7.0, MIT, licence beside it). The full 4.8 MB bundle that
# the plotly wheel ships takes 3x longer to evaluate, which dominated time to
# interactive at 18,000 papers; the report needs nothing else from it.
PLOTLY_BUNDLE = "plotly-gl2d.min.js"


def packed(data: object, level: int = 6) -> str:
    """``data`` as gzip-compressed JSON (or UTF-8 text) in base64, at zlib ``level``.

    ``mtime=0`` keeps the output byte-identical for the same input, so the same
    run gives the same report. Level 6 (zlib's default) for what is packed once and kept
    (chunks of abstracts, the plotly bundle): level 9 saves 0.3-1.6 % of the bytes for 2.3x
    the time. The core takes ``CORE_LEVEL``.
    """
    text = (
        data
        if isinstance(data, str)
        else json.dumps(_plain(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    )
    return base64.b64encode(
        gzip.compress(text.encode("utf-8"), compresslevel=level, mtime=0)
    ).decode("ascii")


# The core is packed again by every update, at level 3 (the papers' columns, once most of it,
# are chunks of their own now: ``docs_payloads``).
CORE_LEVEL = 3


# Abstracts per payload: an update re-packs only the chunks its new papers are in.
TEXT_CHUNK = 4096
PAYLOAD_ID = r"plotly-gz|core-gz|docs-gz-\d+|text-gz(?:-\d+)?"
# Papers per payload of the per-paper columns (ids, titles, positions, topics, periods): an
# update packs again only the chunks whose papers it changed, not 17 MB of JSON at 147k.
DOCS_CHUNK = 4096
DOC_COLUMNS = ("id", "title", "x", "y", "topic", "period")
# A chunk file beside the page (report_files/text-NNN.js) is one call of this callback with
# the chunk's number and its packed text: base64 has no quote, backslash or ``<``, so the
# string cannot end early and no corpus text is ever code or markup.
CHUNK_CALLBACK = "__reportText"
CHUNK_FILE = re.compile(rf'^window\.{CHUNK_CALLBACK}\((\d+),"([A-Za-z0-9+/=]*)"\);\s*$')


def text_payloads(
    abstracts: Sequence[str],
    previous: dict[str, str] | None = None,
    digests: list[str] | None = None,
    old_digests: list[str] | None = None,
    *,
    keep_unread: bool = False,
    rows: Callable[[int], list[str]] | None = None,
    pack: Callable[[str], str | Future] | None = None,
) -> list[str | Future | None]:
    """The abstracts as packed chunks of ``TEXT_CHUNK``; a chunk a previous report holds
    unchanged (``previous``: its payloads by element id) is taken as it is.

    A chunk is known unchanged by its digest (``digests``, default computed here), when the
    previous report's core lists the same for it (``old_digests``, default read from
    ``previous``), else by its text (a report written before digests). ``keep_unread``: an
    unchanged chunk whose file ``previous`` holds unread (``None``) stays ``None``, that
    file to be kept as it is; otherwise it is packed again. ``rows(k)``: chunk ``k``'s
    abstracts (default: sliced from ``abstracts``); a chunk taken as it is is never read.
    ``pack``: packs a chunk's JSON (default :func:`packed`; it may return a future).
    """
    previous = previous or {}
    if old_digests is None:
        old_digests = previous_digests(previous)
    if rows is None:
        rows = partial(chunk_slice, abstracts)
    count = len(range(0, max(len(abstracts), 1), TEXT_CHUNK))
    out: list[str | None] = []
    for k in range(count):
        digest = digests[k] if digests else chunk_digest(rows(k))
        old = previous.get(text_id(k))
        kept = old is not None or (keep_unread and text_id(k) in previous)
        if k < len(old_digests) and old_digests[k] == digest and kept:
            out.append(old)
            continue
        text = json.dumps(_plain(rows(k)), ensure_ascii=False, separators=(",", ":"))
        same = (
            old is not None
            and not old_digests
            and gzip.decompress(base64.b64decode(old)) == text.encode("utf-8")
        )
        out.append(old if same else (pack or packed)(text))
    return out


def chunk_slice(abstracts: Sequence[str], k: int) -> list[str]:
    """Chunk ``k`` of ``abstracts``, as a list."""
    return list(abstracts[k * TEXT_CHUNK : (k + 1) * TEXT_CHUNK])


def grown_chunk_rows(
    abstracts: Sequence[str], previous: dict, old_digests: list[str], same_rows: int
) -> Callable[[int], list[str]]:
    """``rows(k)`` for :func:`text_payloads` of a report that extends ``previous`` by the
    papers after its first ``same_rows``: the chunk those papers grow (the previous report's
    last, partial one) takes its first rows from the previous report's payload when that
    holds them (its digest checks), so the run's own abstracts are not read for it."""
    k_grown, head_rows = divmod(same_rows, TEXT_CHUNK)
    memo: dict[int, list[str]] = {}  # the grown chunk is read for its digest, then packed

    def rows(k: int) -> list[str]:
        if k not in memo:
            memo[k] = read_rows(k)
        return memo[k]

    def read_rows(k: int) -> list[str]:
        old = previous.get(text_id(k))
        if k == k_grown and head_rows and old and k < len(old_digests):
            head = unpacked(old)
            if (
                isinstance(head, list)
                and len(head) == head_rows
                and all(type(a) is str for a in head)
                and chunk_digest(head) == old_digests[k]
            ):
                end = min((k + 1) * TEXT_CHUNK, len(abstracts))
                return head + list(abstracts[same_rows:end])
        return chunk_slice(abstracts, k)

    return rows


def chunk_digest(chunk: list[str]) -> str:
    """A chunk of abstracts' identity: BLAKE2b of their lengths in characters, then of their
    text joined (the lengths split it again, so no two lists are alike). One update call per
    chunk, not two per abstract: a third of the time on 147k abstracts."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.array([len(t) for t in chunk], dtype="<i8").tobytes())
    h.update("".join(chunk).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def previous_digests(previous: dict[str, str]) -> list[str]:
    """The digests of the chunks of abstracts of a previous report (:func:`core_digests`)."""
    core = previous.get("core-gz")
    return core_digests(unpacked(core) if core else {}, "text")


def core_digests(core: dict, part: str) -> list[str]:
    """The digests a report's core lists for its chunks of abstracts (``part`` "text") or of
    the papers' columns ("docs"); none in a report written before them, or cut into chunks
    of another size."""
    section = core.get(part) or {}
    size = TEXT_CHUNK if part == "text" else DOCS_CHUNK
    return (section.get("digests") or []) if section.get("chunk") == size else []


def docs_id(k: int) -> str:
    """The element id of chunk ``k`` of the per-paper columns."""
    return f"docs-gz-{k}"


def docs_payloads(docs: dict, previous: dict[str, str], old: list[str]) -> tuple[dict, list[str]]:
    """The per-paper columns of ``docs`` (:func:`doc_columns`) as packed chunks of
    ``DOCS_CHUNK`` papers, a chunk the previous report holds (``previous``) with the same
    digest (``old``, its core's) taken as it is; and ``docs`` without them, listing the
    chunks' digests (``docs.digests``)."""
    shared = {k: v for k, v in docs.items() if k not in DOC_COLUMNS and k != "url_other"}
    head = json.dumps(_plain(shared), sort_keys=True).encode("utf-8")
    other = docs["url_other"]
    other_rows = np.array(sorted(other), dtype=np.int64)
    n = len(docs["id"])
    chunks, digests = [], []
    for k, s in enumerate(range(0, max(n, 1), DOCS_CHUNK)):
        e = min(n, s + DOCS_CHUNK)
        lo, hi = np.searchsorted(other_rows, [s, e])
        chunk = {c: docs[c][s:e] for c in DOC_COLUMNS if c in docs}
        chunk["url_other"] = {int(r): other[int(r)] for r in other_rows[lo:hi]}
        digest = docs_digest(head, chunk)
        kept = previous.get(docs_id(k)) if k < len(old) and old[k] == digest else None
        chunks.append(kept or packed(chunk))
        digests.append(digest)
    return {**shared, "chunk": DOCS_CHUNK, "count": len(digests), "digests": digests}, chunks


def docs_digest(head: bytes, chunk: dict) -> str:
    """A chunk of per-paper columns' identity, with what every chunk shares (``head``)."""
    h = hashlib.blake2b(head, digest_size=16)
    for c in DOC_COLUMNS:
        if c in ("id", "title") and c in chunk:
            h.update(chunk_digest(chunk[c]).encode("ascii"))
        elif c in chunk:
            h.update(c.encode("ascii") + np.asarray(chunk[c], dtype="<i8").tobytes())
    h.update(json.dumps(chunk["url_other"], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


def report_core(payloads: dict[str, str]) -> dict:
    """The core of a written report with its per-paper columns joined back into ``docs``, as
    the page joins them (tests and tools that read a report back)."""
    core = unpacked(payloads["core-gz"])
    docs = core["docs"]
    if "digests" not in docs:  # a report written before the columns had chunks of their own
        return core
    docs["url_other"] = {}
    for k in range(docs["count"]):
        chunk = unpacked(payloads[docs_id(k)])
        for c in DOC_COLUMNS:
            if c in chunk:
                docs.setdefault(c, []).extend(chunk[c])
        docs["url_other"].update(chunk["url_other"])
    return core


def text_id(k: int) -> str:
    """The payload id of chunk ``k`` of the abstracts (its element id when inline)."""
    return "text-gz" if k == 0 else f"text-gz-{k}"


def chunk_name(folder: str, k: int) -> str:
    """Where chunk ``k`` of the abstracts lies, relative to the page, when not inline."""
    return f"{folder}/text-{k:03d}.js"


def chunk_script(k: int, b64: str) -> str:
    """The text of a chunk file: the page's callback called with chunk ``k`` (base64 only)."""
    if not re.fullmatch(r"[A-Za-z0-9+/=]*", b64):
        raise ValueError(f"chunk {k}: expected base64 text")
    return f'window.{CHUNK_CALLBACK}({k},"{b64}");\n'


def report_payloads(html: str) -> dict[str, str]:
    """The packed payloads of a written report, by element id (for :func:`render_report`)."""
    found = re.findall(
        rf'<script type="application/octet-stream" id="({PAYLOAD_ID})">([^<]*)</script>', html
    )
    return dict(found)


def files_folder(page: str) -> str:
    """The folder beside a page that holds its chunks of abstracts (``report_files``)."""
    return Path(page).stem + "_files"


def read_report_payloads(page: Path, *, same_rows: int = 0) -> dict[str, str | None]:
    """The packed payloads of the report written at ``page``, inline or in its chunk files,
    by the ids they have inline (for :func:`report_files`). ``same_rows``: a chunk file of
    only the first ``same_rows`` papers is not read; its payload is ``None`` (the file is
    there, for a caller that keeps it as it is)."""
    page = Path(page)
    found: dict[str, str | None] = dict(report_payloads(page.read_text(encoding="utf-8")))
    for path in sorted((page.parent / files_folder(page.name)).glob("text-*.js")):
        k = int(path.stem.split("-")[1])
        if (k + 1) * TEXT_CHUNK <= same_rows:
            found.setdefault(text_id(k), None)
            continue
        m = CHUNK_FILE.match(path.read_text(encoding="ascii"))
        if m:
            found.setdefault(text_id(int(m[1])), m[2])
    return found


def unpacked(b64: str, *, as_json: bool = True) -> object:
    """Inverse of :func:`packed` (tests and tools that read a report back)."""
    text = gzip.decompress(base64.b64decode(b64)).decode("utf-8")
    return json.loads(text) if as_json else text


def _plain(obj: object) -> object:
    """JSON-able copy: numpy scalars to Python, NaN and infinities to ``None``."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        # Fast path for the per-paper columns (titles, ids, positions): 147k calls saved.
        if all(type(v) is str or type(v) is int for v in obj):
            return list(obj)
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def top_colors(tax) -> dict[str, str]:
    """Colour of each level-1 node (level-1 ids are ordered largest first), shared by both figures."""
    return {n.node_id: PALETTE[k % len(PALETTE)] for k, n in enumerate(tax.level(1))}


def label_positions(tax, xy: np.ndarray) -> dict[str, list[float]]:
    """Where each node's name goes on the map: the member point nearest the members' median.

    A median can fall between two lobes of a non-convex cluster; snapping to a
    member keeps every name on its own points.
    """
    out = {}
    for n in tax.nodes.values():
        if n.level == 0 or n.size == 0:
            continue
        pts = xy[n.doc_idx]
        med = np.median(pts, axis=0)
        out[n.node_id] = pts[int(np.argmin(((pts - med) ** 2).sum(1)))].round(3).tolist()
    return out


def label_radii(tax, xy: np.ndarray, pos: dict[str, list[float]]) -> dict[str, float]:
    """How far each node spreads on the map: the median distance of its papers from its name.

    One number per node (not per paper), so the report stays small. The page shows a
    name below the top level once its cluster is this wide on screen, so deeper names
    appear as the map is zoomed in.
    """
    out = {}
    for node_id, p in pos.items():
        d = np.sqrt(((xy[tax.nodes[node_id].doc_idx] - p) ** 2).sum(1))
        out[node_id] = round(float(np.median(d)), 3)
    return out


def shorten_abstract(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    if limit <= 0:
        return ""
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def public_config(cfg: RunConfig) -> dict:
    """The config as the report shows it: no local paths (a report is often shared).

    The corpus is named by its file name; where outputs and the cache live is left out.
    """
    data = cfg.model_dump(mode="json")
    path = cfg.corpus.path
    data["corpus"]["path"] = path if path == SAMPLE_CORPUS else Path(path).name
    data.pop("output_dir", None)
    data.pop("cache", None)
    return data


def report_title(cfg: RunConfig) -> str:
    return cfg.report.title or f"Taxonomy of {cfg.name}"


@dataclass
class ReportInputs:
    """What a report shows: the run's papers, tree, map and metrics (and time and changes)."""

    corpus: Corpus  # the papers (ids, titles, abstracts, links)
    tax: Taxonomy  # the named taxonomy
    xy: np.ndarray  # (n, 2) map positions
    topic_ids: np.ndarray  # leaf topic of each paper (-1 = outlier)
    metrics: dict  # as written to metrics.json
    cfg: RunConfig  # the resolved config (shown without local paths; report settings apply)
    timeline: Timeline | None = None  # a dated run: sparklines, trends panel, time filter
    changes: dict | None = None  # changes.json of an update or a --previous refit


# Map positions travel as integers 0..XY_STEPS across the map's extent (``docs.xy_box``):
# a 65,536th of the map is far below a point's size at any zoom the page allows.
XY_STEPS = 65535


def doc_columns(corpus: Corpus, xy: np.ndarray, topic_ids: np.ndarray) -> dict:
    """One array per field of the papers (ids, titles, x, y, topic) and their links.

    A link that is a common prefix plus the id (``https://arxiv.org/abs/`` + id) is not
    repeated: ``url_prefix`` holds the prefix and ``url_other`` (row -> link) every other.
    """
    lo, hi = (xy.min(axis=0), xy.max(axis=0)) if len(xy) else (np.zeros(2), np.ones(2))
    span = np.maximum(hi - lo, 1e-9)
    q = np.rint((xy - lo) / span * XY_STEPS).astype(np.int64)
    ends = Counter(
        u[: -len(i)] for i, u in zip(corpus.ids, corpus.urls) if u and i and u.endswith(i)
    )
    prefix = ends.most_common(1)[0][0] if ends else None
    other = {
        k: u
        for k, (i, u) in enumerate(zip(corpus.ids, corpus.urls))
        if u != (prefix + i if prefix is not None else None)
    }
    return {
        "id": list(corpus.ids),
        "title": list(corpus.titles),
        "url_prefix": prefix,
        "url_other": other,
        "xy_box": [round(float(v), 6) for v in (lo[0], lo[0] + span[0], lo[1], lo[1] + span[1])],
        "xy_steps": XY_STEPS,
        "x": q[:, 0].tolist(),
        "y": q[:, 1].tolist(),
        "topic": topic_ids.astype(int).tolist(),
    }


def report_data(r: ReportInputs) -> tuple[dict, list[str]]:
    """The page's data: the core (everything but abstracts) and the abstracts.

    Papers are referred to by their row index everywhere (``topic``,
    ``rep``); a leaf's node id is ``"<n_levels>.<topic>"``, so each paper's
    path is read from its topic and the parents.
    """
    corpus, tax, xy, topic_ids, metrics, cfg = (
        r.corpus, r.tax, r.xy, r.topic_ids, r.metrics, r.cfg
    )  # fmt: skip
    timeline, changes = r.timeline, r.changes
    limit = cfg.report.max_abstract_chars
    colors, pos = top_colors(tax), label_positions(tax, xy)
    radii = label_radii(tax, xy, pos)
    npmi = metrics.get("npmi_per_node") or {}
    nodes = {}
    for n in tax.nodes.values():
        top = tax.path(n.node_id)[0].node_id if n.level > 0 else None
        nodes[n.node_id] = {
            "id": n.node_id,
            "parent": n.parent_id,
            "level": n.level,
            "label": n.label,
            "description": n.description,
            "namer": n.namer,
            "term_id": n.term_id,
            "size": n.size,
            "keywords": list(n.keywords),
            "rep": [int(i) for i in n.representative],
            "children": list(n.children),
            "coherence": npmi.get(n.node_id),
            "color": colors.get(top, OUTLIER_COLOR),
            "pos": pos.get(n.node_id),
            "r": radii.get(n.node_id),
        }
    core = {
        "title": report_title(cfg),
        "n_levels": tax.n_levels,
        "docs": doc_columns(corpus, xy, topic_ids),
        "nodes": nodes,
        "outlier_color": OUTLIER_COLOR,
        "map_points": cfg.report.map_points,
        "metrics": metrics,
        "config": public_config(cfg),
    }
    if timeline is not None:  # sparklines, trends panel, time filter (runs/timeline.py)
        core["time"] = report_payload(timeline)
        core["docs"]["period"] = timeline.doc_period.astype(int).tolist()
    if changes is not None:  # what an update or a --previous refit changed (changes.json)
        core["changes"] = changes
    abstracts = Shortened(corpus.abstracts, limit) if limit > 0 else []
    return core, abstracts


class Shortened(Sequence[str]):
    """``abstracts`` as the report shows them (:func:`shorten_abstract`), each cut when read:
    a report that extends another reads only the abstracts of the chunks it packs again."""

    def __init__(self, abstracts: Sequence[str], limit: int):
        self.abstracts, self.limit = abstracts, limit

    def __len__(self) -> int:
        return len(self.abstracts)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [shorten_abstract(a, self.limit) for a in self.abstracts[i]]
        return shorten_abstract(self.abstracts[i], self.limit)


def render_report(r: ReportInputs, previous: dict[str, str] | None = None) -> str:
    """The report page of a run as one self-contained HTML string, the abstracts inline
    whatever ``report.inline_abstracts_max`` says (a run writes :func:`report_files`).

    ``previous``: the payloads of a report this one extends (:func:`report_payloads`): the
    plotly bundle and every chunk of abstracts it holds unchanged are not packed again.
    """
    return _render(r, previous, "report.html", None)["report.html"]


def report_files(
    r: ReportInputs,
    previous: dict[str, str] | None = None,
    page: str = "report.html",
    same_rows: int = 0,
    *,
    background: bool = False,
) -> dict[str, str | Callable[[Path], None] | None]:
    """The report of a run, by file name: the page, and above ``report.inline_abstracts_max``
    papers its chunks of abstracts in a folder beside it (``report_files/text-000.js``, ...),
    which the page loads when a paper's abstract is opened or a search needs them.

    ``previous``: the payloads of a report this one extends (:func:`read_report_payloads`).
    ``same_rows``: its first papers, whose abstracts are those it was written from (an
    update's run): a chunk of only those keeps the digest ``previous`` lists, and when its
    file was left unread (``None`` in ``previous``) its value is ``None``: keep that file.
    ``background``: chunk files are packed on a second thread, and their values are writers
    that wait for them (the caller writes other files meanwhile: ``map.png`` takes as long).
    """
    inline = len(r.corpus) <= r.cfg.report.inline_abstracts_max
    folder = None if inline else files_folder(page)
    return _render(r, previous, page, folder, same_rows, background=background)


def _render(
    r: ReportInputs,
    previous: dict | None,
    page: str,
    folder: str | None,
    same_rows: int = 0,
    background: bool = False,
) -> dict:
    previous = previous or {}
    bundle = static_text(PLOTLY_BUNDLE)
    plotly = previous.get("plotly-gz")
    if plotly is None or unpacked(plotly, as_json=False) != bundle:
        plotly = packed(bundle)
    core, abstracts = report_data(r)
    old_core = unpacked(previous["core-gz"]) if previous.get("core-gz") else {}
    core["docs"], docs_chunks = docs_payloads(
        core["docs"], previous, core_digests(old_core, "docs")
    )
    old = core_digests(old_core, "text")
    rows = grown_chunk_rows(abstracts, previous, old, same_rows)
    step = range(0, max(len(abstracts), 1), TEXT_CHUNK)
    digests = [
        old[k] if s + TEXT_CHUNK <= same_rows and k < len(old) else chunk_digest(rows(k))
        for k, s in enumerate(step)
    ]
    # Chunk files are written after the page (and map.png): packed meanwhile, on a thread
    # (zlib leaves the interpreter's lock), when the caller writes them (``background``).
    packer = ThreadPoolExecutor(1) if background and folder and abstracts else None
    chunks = text_payloads(
        abstracts, previous, digests, old, keep_unread=bool(folder and abstracts), rows=rows,
        pack=(lambda text: packer.submit(packed, text)) if packer else None,
    )  # fmt: skip
    if packer:
        packer.shutdown(wait=False)  # its thread ends with the last chunk
    names = [chunk_name(folder, k) for k in range(len(chunks))] if folder and abstracts else []
    core["text"] = {"chunk": TEXT_CHUNK, "count": len(chunks), "files": names or None}
    core["text"]["digests"] = digests  # how a report that extends this one knows its chunks
    html = (
        environment()
        .get_template("report.html.j2")
        .render(
            title=core["title"],
            n_docs=len(r.corpus),
            core_b64=packed(core, CORE_LEVEL),
            docs_chunks=docs_chunks,
            text_chunks=[] if names else chunks,
            plotly_b64=plotly,
            report_js=static_text("report.js"),
            report_css=static_text("report.css"),
        )
    )
    return {page: html, **{n: chunk_file(k, b64) for k, (n, b64) in enumerate(zip(names, chunks))}}


def chunk_file(k: int, b64: str | Future | None) -> str | Callable[[Path], None] | None:
    """A chunk file's value for :func:`report_files`: its text, a writer that waits for a
    chunk being packed, or None (the previous report's file, kept)."""
    if isinstance(b64, Future):
        return lambda path: path.write_text(chunk_script(k, b64.result()), encoding="ascii")
    return None if b64 is None else chunk_script(k, b64)


def map_figure(
    tax: Taxonomy,
    xy: np.ndarray,
    topic_ids: np.ndarray,
    title: str,
    *,
    width: float = 10.0,
    height: float = 7.5,
    dpi: float = 150.0,
):
    """A static matplotlib figure of the map: points coloured by top-level node, and the
    names of the top two levels, placed so that none overlaps another (:mod:`.map_labels`).

    Uses the figure API without pyplot, so it keeps no global state and needs no display.
    Names are measured at ``dpi``: save the figure at the same ``dpi``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .map_labels import place_labels, top_labels

    colors, pos = top_colors(tax), label_positions(tax, xy)
    n = len(xy)
    size = 2.0 if n > 5000 else 6.0 if n > 1000 else 18.0
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    outliers = np.flatnonzero(topic_ids < 0)
    if outliers.size:
        ax.scatter(
            xy[outliers, 0],
            xy[outliers, 1],
            s=size,
            c=OUTLIER_COLOR,
            linewidths=0,
            rasterized=True,
            label="unassigned",
        )
    for node in tax.level(1):
        ax.scatter(
            xy[node.doc_idx, 0],
            xy[node.doc_idx, 1],
            s=size,
            c=colors[node.node_id],
            linewidths=0,
            alpha=0.85,
            rasterized=True,
        )
    fig.suptitle(title, x=0.01, ha="left", fontsize=13)
    ax.set_title(
        f"{n:,} papers · {len(tax.level(tax.n_levels))} topics · {tax.n_levels} levels",
        loc="left",
        fontsize=9,
        color="#5b6575",
    )
    ax.set_axis_off()
    ax.set_aspect("equal", adjustable="datalim")
    # Fix the layout and the limits first: names are measured where they will be drawn.
    fig.draw_without_rendering()
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    fig.set_layout_engine("none")
    place_labels(ax, top_labels(tax, pos, levels=2), canvas.get_renderer())
    return fig


def save_map_image(
    tax: Taxonomy, xy: np.ndarray, topic_ids: np.ndarray, title: str, path: Path
) -> None:
    """Write :func:`map_figure` as PNG (150 dpi) to ``path``."""
    with warnings.catch_warnings():
        # Names in scripts the bundled font lacks (CJK, Arabic…) draw as boxes; not an error.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        fig = map_figure(tax, xy, topic_ids, title)
        fig.savefig(path, dpi=150, metadata={"Software": None})
