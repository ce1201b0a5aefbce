"""The real report of real runs, driven in headless Chromium (Debian's ``chromium``).

Without a browser these tests skip, unless ``TAXONOMY_REQUIRE_BROWSER=1``
(set by ``.ci/run``), when they fail instead. Screenshots go to
``test-artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import CHROMIUM_ARGS, REPO, sample_config

from taxonomy.outputs.report import (
    TEXT_CHUNK,
    ReportInputs,
    render_report,
    report_files,
    shorten_abstract,
)


def report_of(result, metrics) -> str:
    return render_report(
        ReportInputs(
            result.corpus, result.taxonomy, result.xy, result.topic_ids, metrics, result.cfg
        )
    )


pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts"
REQUIRED = os.environ.get("TAXONOMY_REQUIRE_BROWSER") == "1"

# Each would set window.__pwned if any corpus text were ever run as HTML or script.
HOSTILE = [
    '<script>window.__pwned = "script"</script>',
    "<img src=x onerror=\"window.__pwned='img'\">",
    '</script><script>window.__pwned="close"</script>',
    'Quotes " \' ` and back\\slashes \\" \\u003c \\n end',
    "Многоуровневая таксономия 主题模型 نموذج الموضوع",
    "<svg onload=\"window.__pwned='svg'\"></svg> &amp; &lt;b&gt; <b>bold</b>",
    "{{ 7*7 }} ${window.__pwned='tpl'} <!-- comment",
    "<a href=\"javascript:window.__pwned='a'\">click</a>",
]


def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        msg = "Debian chromium is not installed (apt-get install chromium)"
        pytest.fail(msg) if REQUIRED else pytest.skip(msg)
    return path


@pytest.fixture(scope="module")
def browser():
    path = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        msg = "playwright (python) is not installed"
        pytest.fail(msg) if REQUIRED else pytest.skip(msg)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A report opened in a fresh page, with its console errors and network requests recorded."""

    def __init__(
        self,
        browser,
        html: Path,
        *,
        offline: bool = False,
        timeout_ms: int = 60_000,
        color_scheme: str = "light",
        wait_text: bool = True,
    ):
        self.context = browser.new_context(
            viewport={"width": 1400, "height": 950}, offline=offline, color_scheme=color_scheme
        )
        self.requests: list[str] = []
        self.errors: list[str] = []
        if offline:
            # Anything but the file itself would need the network: refuse it and remember it.
            def refuse(route):
                self.requests.append(route.request.url)
                route.abort() if not route.request.url.startswith("file:") else route.continue_()

            self.context.route("**/*", refuse)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        t0 = time.perf_counter()
        self.page.goto(html.as_uri())
        # Inline abstracts are inflated at once; abstracts in files beside the page only on demand.
        ready = "window.__report && window.__report.ready"
        self.page.wait_for_function(
            ready + (" && window.__report.textReady" if wait_text else ""), timeout=timeout_ms
        )
        self.seconds = time.perf_counter() - t0

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def point_xy(self, i: int) -> list[float]:
        """Page pixel of paper ``i`` on the map."""
        return self.js(
            """i => {
            const gd = document.getElementById('map'), fl = gd._fullLayout, r = gd.getBoundingClientRect();
            const t = gd.data.find(d => Array.from(d.customdata).includes(i));
            const k = Array.from(t.customdata).indexOf(i);
            return [r.left + fl.xaxis._offset + fl.xaxis.l2p(t.x[k]),
                    r.top + fl.yaxis._offset + fl.yaxis.l2p(t.y[k])]; }""",
            i,
        )

    def uncovered(self, i: int) -> bool:
        """Whether paper ``i``'s point can be hovered and clicked (no map name lies over it)."""
        x, y = self.point_xy(i)
        return self.js(
            "([x, y]) => !document.elementFromPoint(x, y).closest('#names, #legend')", [x, y]
        )

    def name_boxes(self) -> dict[str, list[float]]:
        """The drawn box (left, top, right, bottom) of every name shown on the map."""
        return self.js(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('#names .name'))
            .filter(d => !d.hidden).map(d => { const r = d.getBoundingClientRect();
            return [d.dataset.node, [r.left, r.top, r.right, r.bottom]]; }))"""
        )

    def zoom(self, factor: float, centre=None):
        """Zoom the map by ``factor`` (< 1 zooms out) around ``centre`` (map units; default the
        middle of the view), then wait until the names are laid out for the new view."""
        done = self.js(
            """([f, c]) => { const gd = document.getElementById('map'), fl = gd._fullLayout;
            const [a, b] = fl.xaxis.range, [p, q] = fl.yaxis.range;
            const [x, y] = c || [(a + b) / 2, (p + q) / 2], w = (b - a) / 2 / f, h = (q - p) / 2 / f;
            return Plotly.relayout(gd, {'xaxis.range': [x - w, x + w], 'yaxis.range': [y - h, y + h]})
              .then(() => window.__report.layouts); }""",
            [factor, centre],
        )
        self.laid_out_after(done)

    def laid_out_after(self, count: int):
        """Wait until the names have been laid out again since ``window.__report.layouts`` was
        ``count`` (they follow a change of view on the next animation frame)."""
        self.page.wait_for_function("n => window.__report.layouts > n", arg=count)

    def panel_docs(self) -> list[int]:
        return self.js(
            "Array.from(document.querySelectorAll('#panel-list li')).map(li => +li.dataset.doc)"
        )

    def shot(self, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self):
        self.context.close()


@pytest.fixture
def sample_page(browser, sample_run):
    page = Page(browser, sample_run[1] / "report.html")
    yield page
    assert page.errors == [], page.errors  # no console errors in any test
    page.close()


def expected_matches(result, query: str) -> list[int]:
    """The documented search rule: every term is a case-insensitive substring of title + abstract."""
    terms = query.lower().split()
    limit = result.cfg.report.max_abstract_chars
    out = []
    for i, (t, a) in enumerate(zip(result.corpus.titles, result.corpus.abstracts)):
        text = (t + "\n" + shorten_abstract(a, limit)).lower()
        if all(w in text for w in terms):
            out.append(i)
    return out


class TestSampleReport:
    def test_loads_without_errors_and_draws_every_paper(self, sample_page, sample_run):
        result, _ = sample_run
        n = len(result.corpus)
        assert sample_page.js("window.__report.nPoints") == n
        assert sample_page.js("window.__report.mapPoints()") == n
        assert sorted(sample_page.js("window.__report.mapIds()")) == list(range(n))
        assert sample_page.js("document.getElementById('status').hidden")
        # Every top-level name is drawn on the map.
        tops = {node.node_id for node in result.taxonomy.level(1)}
        assert tops <= set(sample_page.js("window.__report.names"))
        rows = sample_page.js("document.querySelectorAll('#topics tbody tr').length")
        assert rows == len(result.taxonomy.nodes) - 1
        # The screenshot for docs/: the largest top-level node opened and listed.
        top = result.taxonomy.level(1)[0].node_id
        sample_page.page.click(
            f'#tree button.tlabel[data-node="{top}"] >> xpath=preceding-sibling::button'
        )
        sample_page.page.click(f'#tree button.tlabel[data-node="{top}"]')
        sample_page.shot("report-sample.png")

    def test_search_highlights_exactly_the_matching_papers(self, sample_page, sample_run):
        result, _ = sample_run
        for query in ["training", "Language MODEL", "retrieval benchmark"]:
            want = expected_matches(result, query)
            assert 0 < len(want) < len(result.corpus), query
            sample_page.page.fill("#search", query)
            sample_page.page.wait_for_function(
                "n => document.getElementById('search-count').textContent.startsWith(n + ' ')",
                arg=len(want),
            )
            assert sorted(sample_page.js("window.__report.highlighted()")) == want
            assert sorted(sample_page.panel_docs()) == want
        sample_page.shot("report-sample-search.png")
        sample_page.page.fill("#search", "")
        sample_page.page.wait_for_function("window.__report.highlighted().length === 0")

    def test_clicking_a_taxonomy_node_lists_its_papers(self, sample_page, sample_run):
        tax = sample_run[0].taxonomy
        top = tax.level(1)[0]
        sample_page.page.click(f'#tree button.tlabel[data-node="{top.node_id}"]')
        want = sorted(top.doc_idx.tolist())
        assert sorted(sample_page.panel_docs()) == want
        assert sorted(sample_page.js("window.__report.highlighted()")) == want
        assert sample_page.page.text_content("#list-title") == top.label
        # "Zoom map to these" frames exactly that node's papers, with a margin.
        sample_page.page.click("text=Zoom map to these")
        xr = sample_page.js("document.getElementById('map')._fullLayout.xaxis.range")
        yr = sample_page.js("document.getElementById('map')._fullLayout.yaxis.range")
        pts = sample_run[0].xy[top.doc_idx]
        assert xr[0] <= pts[:, 0].min() and pts[:, 0].max() <= xr[1]
        assert yr[0] <= pts[:, 1].min() and pts[:, 1].max() <= yr[1]
        # A leaf, reached by opening its parent in the tree.
        leaf = tax.nodes[top.children[0]]
        sample_page.page.click(
            f'#tree button.tlabel[data-node="{top.node_id}"] >> xpath=preceding-sibling::button'
        )
        sample_page.page.click(f'#tree button.tlabel[data-node="{leaf.node_id}"]')
        assert sorted(sample_page.panel_docs()) == sorted(leaf.doc_idx.tolist())
        # The first paper of the list opens in the panel with its abstract.
        first = sample_page.panel_docs()[0]
        sample_page.page.click("#panel-list li button")
        assert sample_page.page.text_content("#doc-title") == sample_run[0].corpus.titles[first]
        limit = sample_run[0].cfg.report.max_abstract_chars
        assert sample_page.page.text_content("#doc-abstract") == shorten_abstract(
            sample_run[0].corpus.abstracts[first], limit
        )

    def test_clicking_a_point_opens_the_paper(self, sample_page, sample_run):
        result, _ = sample_run
        i = next(
            i for i in result.taxonomy.level(1)[0].doc_idx.tolist() if sample_page.uncovered(i)
        )
        xy = sample_page.point_xy(i)
        sample_page.page.mouse.move(*xy)
        sample_page.page.mouse.click(*xy)
        sample_page.page.wait_for_selector("#doc-title")
        shown = int(sample_page.js("document.getElementById('doc-title').dataset.doc"))
        # The nearest point wins; with overlaps it may be a neighbour a pixel away.
        px = sample_page.point_xy(shown)
        assert abs(px[0] - xy[0]) < 6 and abs(px[1] - xy[1]) < 6
        assert sample_page.page.text_content("#doc-title") == result.corpus.titles[shown]
        path = " › ".join(
            n.label
            for n in result.taxonomy.path(f"{result.taxonomy.n_levels}.{result.topic_ids[shown]}")
        )
        assert sample_page.page.text_content("#panel .path") == path
        sample_page.shot("report-sample-paper.png")

    def test_run_panel_shows_metrics_timings_versions_config(self, sample_page, sample_run):
        result, _ = sample_run
        text = sample_page.page.text_content("#run")
        for stage in result.seconds:
            assert stage in text
        assert "n_docs" in text and "sentence-transformers" in text
        config = json.loads(sample_page.page.text_content("#run-config"))
        assert config["seed"] == result.cfg.seed and config["name"] == result.cfg.name

    def test_opens_with_the_network_disabled(self, browser, sample_run):
        page = Page(browser, sample_run[1] / "report.html", offline=True)
        try:
            assert page.js("window.__report.mapPoints()") == len(sample_run[0].corpus)
            assert page.errors == []
            assert all(u.startswith(("file:", "data:", "blob:")) for u in page.requests), (
                page.requests
            )
        finally:
            page.close()


def overlaps(boxes: dict[str, list[float]]) -> list[tuple[str, str]]:
    """Pairs of names whose drawn boxes intersect."""
    items = list(boxes.items())
    return [
        (a, b)
        for k, (a, (l1, t1, r1, b1)) in enumerate(items)
        for b, (l2, t2, r2, b2) in items[k + 1 :]
        if l1 < r2 and l2 < r1 and t1 < b2 and t2 < b1
    ]


def level_of(node_id: str) -> int:
    return int(node_id.split(".")[0])


class TestMapNames:
    """Names of every level on the map: placed without overlaps, deeper ones as you zoom in."""

    def test_no_two_names_overlap_at_the_initial_zoom(self, sample_page, sample_run):
        tax = sample_run[0].taxonomy
        boxes = sample_page.name_boxes()
        assert {n.node_id for n in tax.level(1)} <= set(boxes)
        assert overlaps(boxes) == []
        assert set(boxes) == set(sample_page.js("window.__report.names"))
        # Sized by level: the top level largest.
        sizes = sample_page.js(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('#names .name'))
            .map(d => [d.dataset.node, parseFloat(getComputedStyle(d).fontSize)]))"""
        )
        for level in range(2, tax.n_levels + 1):
            assert max(v for k, v in sizes.items() if level_of(k) == level) < min(
                v for k, v in sizes.items() if level_of(k) == level - 1
            )
        # Every name of every level is offered, not only those the view has room for.
        assert set(sizes) == {n.node_id for n in tax.nodes.values() if n.level > 0 and n.size}
        # With every name asked for: more may show, still none overlapping.
        sample_page.page.check("#show-names")  # lays the names out at once
        all_boxes = sample_page.name_boxes()
        assert len(all_boxes) >= len(boxes) and overlaps(all_boxes) == []
        sample_page.page.uncheck("#show-names")

    def test_deeper_names_appear_as_the_map_zooms_in(self, sample_page, sample_run):
        tax = sample_run[0].taxonomy
        deeper = lambda: [k for k in sample_page.js("window.__report.names") if level_of(k) > 1]
        # Zoomed in on the widest level-2 cluster: its name shows, and no two names overlap.
        wide = max(
            (n for n in tax.level(2) if n.size),
            key=lambda n: sample_page.js("id => window.__report.node(id).r", n.node_id),
        )
        sample_page.zoom(3, sample_page.js("id => window.__report.node(id).pos", wide.node_id))
        assert wide.node_id in deeper()
        assert overlaps(sample_page.name_boxes()) == []
        # Far out, only top-level names show: the deeper clusters are too small on screen.
        sample_page.zoom(1 / 36)
        assert sample_page.js("window.__report.names") and deeper() == []
        assert overlaps(sample_page.name_boxes()) == []
        # The wheel over a name zooms the map, as it does over the points.
        span = "(() => { const r = document.getElementById('map')._fullLayout.xaxis.range; return r[1] - r[0]; })()"
        before = sample_page.js(span)
        x0, y0, x1, y1 = next(iter(sample_page.name_boxes().values()))
        sample_page.page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2)
        sample_page.page.mouse.wheel(0, -300)
        sample_page.page.wait_for_function(f"w => {span} < w * 0.95", arg=before)

    def test_clicking_a_name_selects_its_node(self, sample_page, sample_run):
        tax = sample_run[0].taxonomy
        for node_id in [n.node_id for n in tax.level(1)][:1] + sorted(
            k for k in sample_page.js("window.__report.names") if level_of(k) == 2
        )[:1]:
            sample_page.page.click(f'#names .name[data-node="{node_id}"]')
            want = sorted(tax.nodes[node_id].doc_idx.tolist())
            assert sorted(sample_page.panel_docs()) == want
            assert sorted(sample_page.js("window.__report.highlighted()")) == want
            assert sample_page.page.text_content("#list-title") == tax.nodes[node_id].label
            selected = f'#tree button.tlabel.selected[data-node="{node_id}"]'
            assert sample_page.page.is_visible(selected)

    def test_legend_follows_the_taxonomy(self, sample_page, sample_run):
        tax = sample_run[0].taxonomy
        tops = sorted(tax.level(1), key=lambda n: -n.size)
        rows = sample_page.js(
            """() => Array.from(document.querySelectorAll('#legend .tree-root > li > .trow .tlabel'))
            .map(b => [b.dataset.node, getComputedStyle(b.querySelector('.swatch')).backgroundColor])"""
        )
        assert [r[0] for r in rows] == [n.node_id for n in tops]
        colours = {r[1] for r in rows}
        assert len(colours) == min(len(tops), 20)
        # A top-level node opens onto its children; clicking one selects it.
        top = tops[0]
        count = sample_page.js("window.__report.layouts")
        sample_page.page.click(
            f'#legend button.tlabel[data-node="{top.node_id}"] >> xpath=preceding-sibling::button'
        )
        sample_page.laid_out_after(count)  # the legend grew: names keep clear of it
        child = tax.nodes[top.children[0]]
        sample_page.page.click(f'#legend button.tlabel[data-node="{child.node_id}"]')
        assert sorted(sample_page.panel_docs()) == sorted(child.doc_idx.tolist())
        # Names keep clear of the legend, opened as it is now.
        legend = sample_page.js(
            "(() => { const r = document.getElementById('legend').getBoundingClientRect();"
            " return [r.left, r.top, r.right, r.bottom]; })()"
        )
        assert overlaps(dict(sample_page.name_boxes(), legend=legend)) == []

    def test_theme_toggle_changes_the_colours(self, sample_page, browser, sample_run):
        colours = """() => [getComputedStyle(document.body).backgroundColor,
            getComputedStyle(document.getElementById('map-wrap')).backgroundColor,
            getComputedStyle(document.querySelector('#names .name')).color,
            document.documentElement.dataset.theme]"""
        light = sample_page.js(colours)
        assert light[3] == "light"
        sample_page.page.click("#theme")
        dark = sample_page.js(colours)
        assert dark[3] == "dark" and all(a != b for a, b in zip(light, dark))
        assert overlaps(sample_page.name_boxes()) == []
        sample_page.page.click("#theme")
        assert sample_page.js(colours) == light
        # A reader whose system is dark gets the dark theme from the start.
        page = Page(browser, sample_run[1] / "report.html", color_scheme="dark")
        try:
            assert page.js(colours) == dark and page.errors == []
        finally:
            page.close()


def test_seed_topics_panel_shows_sizes_and_unformed_seeds(browser, sample_run, tmp_path):
    result, _ = sample_run
    seeds = [
        {"name": "retrieval", "papers": 31, "formed": True},
        {"name": "<b>protein</b> folding", "papers": 0, "formed": False, "note": "too few"},
    ]
    metrics = dict(result.metrics, seconds=result.seconds, seed_topics=seeds)
    path = tmp_path / "report.html"
    path.write_text(report_of(result, metrics), encoding="utf-8")
    page = Page(browser, path)
    try:
        rows = page.js(
            "Array.from(document.querySelectorAll('#run-seeds tr')).map(r => r.textContent)"
        )
        assert rows == ["retrieval31 papers", "<b>protein</b> foldingno node: too few"]
        assert page.errors == []
    finally:
        page.close()


def test_without_webgl_the_map_falls_back_to_svg(browser, sample_run):
    other = browser.browser_type.launch(
        executable_path=_chromium(), args=CHROMIUM_ARGS + ["--disable-webgl"]
    )
    try:
        page = Page(other, sample_run[1] / "report.html")
        assert page.js("window.__report.webgl") is False
        assert page.js("document.getElementById('map').data[0].type") == "scatter"
        assert page.js("window.__report.mapPoints()") == len(sample_run[0].corpus)
        page.page.fill("#search", "training")
        page.page.wait_for_function(
            "document.getElementById('search-count').textContent.endsWith('matching')"
        )
        assert sorted(page.js("window.__report.highlighted()")) == expected_matches(
            sample_run[0], "training"
        )
        assert page.errors == []
    finally:
        other.close()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, sample_run):
    """The sample's run with a hostile corpus in its place (loaded from JSONL by the real
    loader: hostile titles and abstracts, arXiv ids, a URL field), rendered as a report;
    then node names, keywords, a metric and the report title made hostile too.

    Reusing the sample's map and taxonomy keeps this fast; test_hostile.py runs a
    hostile corpus through the whole pipeline.
    """
    from taxonomy.corpus import load_corpus

    tmp = tmp_path_factory.mktemp("hostile")
    base = sample_run[0]
    rows = []
    for i, (t, a) in enumerate(zip(base.corpus.titles, base.corpus.abstracts)):
        h = HOSTILE[i % len(HOSTILE)] if i < 2 * len(HOSTILE) else ""
        row = {"id": f"2401.{i:05d}", "title": f"{h} {t}".strip(), "abstract": f"{a} {h}".strip()}
        if i == 1:
            row["url"] = "javascript:window.__pwned='url'"
        if i == 2:
            row["url"] = "https://example.org/paper?a=1&b=<2>"
        rows.append(row)
    path = tmp / "hostile.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    cfg = sample_config(
        tmp, corpus={"path": str(path)}, report={"title": HOSTILE[0] + " " + HOSTILE[4]}
    )
    corpus = load_corpus(cfg.corpus)
    assert len(corpus) == len(base.corpus)
    result = replace(copy.deepcopy(base), cfg=cfg, corpus=corpus)
    metrics = dict(result.metrics, seconds=result.seconds)
    plain = tmp / "report.html"
    plain.write_text(report_of(result, metrics), encoding="utf-8")

    # Per report: its names, and each node's one-line description (a vocabulary term's or none).
    def shown() -> tuple[set[str], dict[str, str]]:
        nodes = result.taxonomy.nodes.values()
        return {n.label for n in nodes}, {n.node_id: n.description for n in nodes}

    labels = {plain: shown()}
    for k, node in enumerate(n for n in result.taxonomy.nodes.values() if n.level > 0):
        node.label = HOSTILE[k % len(HOSTILE)]
        node.keywords = [HOSTILE[(k + 1) % len(HOSTILE)], "plain"]
        node.description = HOSTILE[(k + 2) % len(HOSTILE)]  # labels.method: llm's one line
    names = tmp / "report-hostile-names.html"
    names.write_text(report_of(result, dict(metrics, note=HOSTILE[1])), encoding="utf-8")
    labels[names] = (set(HOSTILE), shown()[1])
    return result, labels


class TestHostileText:
    def test_hostile_text_stays_text(self, browser, hostile_run):
        result, labels = hostile_run
        for report, (names, descriptions) in labels.items():
            page = Page(browser, report)
            try:
                self._exercise(page, result, names, descriptions)
                assert page.js("window.__pwned") is None
                assert (
                    page.js("document.querySelectorAll('img, iframe, object, embed').length") == 0
                )
                assert (
                    page.js("document.querySelectorAll('[onerror], [onload], [onclick]').length")
                    == 0
                )
                assert page.errors == []
            finally:
                page.close()

    def _exercise(self, page: Page, result, labels: set[str], descriptions: dict[str, str]):
        titles = result.corpus.titles
        assert page.js("document.title") == result.cfg.report.title
        assert page.page.text_content("h1") == result.cfg.report.title
        # Search for a hostile fragment, open every hit, hover it on the map.
        page.page.fill("#search", "onerror")
        page.page.wait_for_function(
            "document.getElementById('search-count').textContent.endsWith('matching')"
        )
        hits = page.js("window.__report.highlighted()")
        assert hits and all(
            "onerror" in (titles[i] + result.corpus.abstracts[i]).lower() for i in hits
        )
        for i in hits:
            page.js("i => window.__report.showDoc(i, null)", i)
            assert page.page.text_content("#doc-title") == titles[i]
            assert page.page.text_content("#doc-abstract") == shorten_abstract(
                result.corpus.abstracts[i], result.cfg.report.max_abstract_chars
            )
        # Names over the map take the mouse: set them aside to hover the papers under them.
        page.js("document.getElementById('names').style.visibility = 'hidden'")
        for i in range(len(HOSTILE)):
            page.js("i => window.__report.showDoc(i, null)", i)
            assert page.page.text_content("#doc-title") == titles[i]
            page.page.mouse.move(*page.point_xy(i))
            page.page.wait_for_selector("#hover:not([hidden])")
            assert page.page.text_content("#hover .hover-title") == titles[i]
            page.page.mouse.move(5, 5)
        page.js("document.getElementById('names').style.visibility = ''")
        # A javascript: URL field is ignored (the arXiv id gives the link); an https one is kept.
        page.js("window.__report.showDoc(1, null)")
        assert (
            page.js("document.querySelector('#panel a').href") == "https://arxiv.org/abs/2401.00001"
        )
        page.js("window.__report.showDoc(2, null)")
        assert (
            page.js("document.querySelector('#panel a').href")
            == "https://example.org/paper?a=1&b=%3C2%3E"
        )
        page.js("window.__report.showDoc(3, null)")
        assert (
            page.js("document.querySelector('#panel a').href") == "https://arxiv.org/abs/2401.00003"
        )
        # Every node: list it (with its description, as text), and show all names on the map.
        for node_id in result.taxonomy.nodes:
            page.js("id => window.__report.selectNode(id)", node_id)
            shown = page.js("() => document.querySelector('#panel .desc')?.textContent ?? null")
            assert shown == (descriptions[node_id] or None)
        page.page.check("#show-names")
        page.page.wait_for_function(
            "n => document.querySelectorAll('#names .name').length > n",
            arg=len(result.taxonomy.level(1)),
        )
        names = page.js(
            "Array.from(document.querySelectorAll('#names .name')).map(d => d.textContent)"
        )
        assert names and set(names) <= labels
        page.shot("report-hostile.png", full_page=True)


# ---- a report too large to carry its abstracts: chunks in files beside it, a thinned map ----

COPIES = 64  # the sample's 66 papers 64 times: 4,224 papers, two chunks of abstracts
MAP_POINTS = 1000  # drawn on the zoomed-out map (report.map_points)


def tiled(result, copies: int) -> ReportInputs:
    """The sample run ``copies`` times over: each paper's copy has its own id, a word of its
    own at the end of its abstract (``tileword<row>``) and a place a little apart on the map.
    A few abstracts of the second chunk carry hostile text."""
    c, n = result.corpus, len(result.corpus)
    rows = range(n * copies)
    hostile = {TEXT_CHUNK + k: h for k, h in enumerate(HOSTILE)}
    corpus = replace(
        c,
        ids=[f"2401.{i:05d}" for i in rows],
        titles=[c.titles[i % n] for i in rows],
        abstracts=[f"{hostile.get(i, '')} {c.abstracts[i % n]} tileword{i}".strip() for i in rows],
        urls=[f"https://arxiv.org/abs/2401.{i:05d}" for i in rows],
        dates=[],
    )
    rng = np.random.default_rng(0)
    xy = np.concatenate([result.xy + rng.normal(0, 0.2, result.xy.shape) for _ in range(copies)])
    tax = copy.deepcopy(result.taxonomy)
    for node in tax.nodes.values():
        node.doc_idx = np.concatenate([node.doc_idx + k * n for k in range(copies)])
    report = result.cfg.report.model_copy(
        update={"inline_abstracts_max": 1000, "map_points": MAP_POINTS, "max_abstract_chars": 4000}
    )
    cfg = result.cfg.model_copy(update={"report": report})
    topic_ids = np.tile(result.topic_ids, copies)
    return ReportInputs(corpus, tax, xy, topic_ids, dict(result.metrics), cfg)


@pytest.fixture(scope="module")
def chunked_report(sample_run, tmp_path_factory):
    inputs = tiled(sample_run[0], COPIES)
    folder = tmp_path_factory.mktemp("chunked")
    for name, text in report_files(inputs).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return inputs, folder / "report.html"


@pytest.fixture
def chunked_page(browser, chunked_report):
    page = Page(browser, chunked_report[1], offline=True, wait_text=False)
    yield page
    assert page.errors == [], page.errors
    assert page.js("window.__pwned") is None
    page.close()


class TestChunkedReport:
    def test_loads_without_its_abstracts_and_draws_a_sample(self, chunked_page, chunked_report):
        inputs, html = chunked_report
        n = len(inputs.corpus)
        assert sorted(p.name for p in (html.parent / "report_files").iterdir()) == [
            "text-000.js",
            "text-001.js",
        ]
        assert chunked_page.js("window.__report.nPoints") == n
        assert chunked_page.js("window.__report.chunksLoaded()") == 0
        assert not any("report_files" in u for u in chunked_page.requests)
        # Zoomed out, a seeded sample of about MAP_POINTS papers is drawn, each at most once.
        drawn = chunked_page.js("window.__report.mapIds()")
        assert 0.7 * MAP_POINTS < len(drawn) < 1.3 * MAP_POINTS and len(set(drawn)) == len(drawn)
        # Zoomed in to a few hundred papers, every paper in view is drawn.
        x, y = inputs.xy[:, 0], inputs.xy[:, 1]
        d = np.maximum(np.abs(x - x[0]), np.abs(y - y[0]))
        r = float(np.sort(d)[MAP_POINTS // 3])
        chunked_page.js(
            """([x, y, r]) => Plotly.relayout('map', {'xaxis.range': [x - r, x + r],
            'yaxis.range': [y - r, y + r]})""",
            [float(x[0]), float(y[0]), r],
        )
        chunked_page.page.wait_for_function(
            "n => window.__report.mapPoints() > n", arg=len(drawn), timeout=10_000
        )
        x0, x1 = chunked_page.js("document.getElementById('map')._fullLayout.xaxis.range")
        y0, y1 = chunked_page.js("document.getElementById('map')._fullLayout.yaxis.range")
        in_view = np.flatnonzero((x > x0) & (x < x1) & (y > y0) & (y < y1))
        assert 0 < len(in_view) < MAP_POINTS
        assert set(in_view.tolist()) <= set(chunked_page.js("window.__report.mapIds()"))

    def test_search_finds_a_paper_by_a_word_of_its_abstract(self, chunked_page, chunked_report):
        i = TEXT_CHUNK + 100  # in the second chunk
        # Titles are searched at once; the abstracts once their chunks are loaded.
        early, final = chunked_page.js(
            """w => { const c = document.getElementById('search-count');
            document.getElementById('search').value = w;
            const done = window.__report.search(w), early = c.textContent;
            return done.then(() => [early, c.textContent]); }""",
            f"tileword{i}",
        )
        assert early.startswith("0 in titles") and "abstracts" in early
        assert final == "1 matching"
        assert chunked_page.js("window.__report.listed()") == [i]
        assert chunked_page.js("window.__report.highlighted()") == [i]  # few: drawn, not thinned
        assert chunked_page.js("window.__report.chunksLoaded()") == 2
        assert chunked_page.js("window.__report.textReady")

    def test_clicking_a_node_lists_exactly_its_papers(self, chunked_page, chunked_report):
        inputs, _ = chunked_report
        top = inputs.tax.level(1)[0]
        chunked_page.page.click(f'#tree button.tlabel[data-node="{top.node_id}"]')
        assert chunked_page.js("window.__report.listed()") == top.doc_idx.tolist()
        assert chunked_page.page.text_content("#list-title") == top.label
        drawn = set(chunked_page.js("window.__report.highlighted()"))
        assert drawn and drawn <= set(top.doc_idx.tolist())

    def test_opening_a_paper_loads_only_its_chunk(self, chunked_page, chunked_report):
        inputs, _ = chunked_report
        c, limit = inputs.corpus, inputs.cfg.report.max_abstract_chars
        for k, h in enumerate(HOSTILE):
            i = TEXT_CHUNK + k
            chunked_page.js(f"window.__report.showDoc({i}, null)")
            chunked_page.page.wait_for_function(
                "!document.getElementById('doc-abstract').textContent.startsWith('Loading')"
            )
            assert chunked_page.page.text_content("#doc-abstract") == shorten_abstract(
                c.abstracts[i], limit
            )
            assert h in chunked_page.page.text_content("#doc-abstract")
            assert chunked_page.js("document.querySelector('#panel a').href") == c.urls[i]
        assert chunked_page.js("window.__report.chunksLoaded()") == 1
        loaded = {u.rsplit("/", 2)[-2] + "/" + u.rsplit("/", 1)[-1] for u in chunked_page.requests}
        assert {u for u in loaded if u.startswith("report_files/")} == {"report_files/text-001.js"}
        # A real click on a listed paper: title, path and abstract.
        leaf = inputs.tax.level(inputs.tax.n_levels)[0]
        chunked_page.js(f"window.__report.selectNode('{leaf.node_id}')")
        chunked_page.page.click("#panel-list li button")
        first = int(leaf.doc_idx[0])
        chunked_page.page.wait_for_function(
            "!document.getElementById('doc-abstract').textContent.startsWith('Loading')"
        )
        assert chunked_page.page.text_content("#doc-title") == c.titles[first]
        assert chunked_page.page.text_content("#doc-abstract") == shorten_abstract(
            c.abstracts[first], limit
        )
        path = " › ".join(node.label for node in inputs.tax.path(leaf.node_id))
        assert chunked_page.page.text_content("#panel .path") == path
        # Nothing hostile became markup.
        assert (
            chunked_page.js(
                "document.querySelectorAll('img, iframe, object, embed, svg image').length"
            )
            == 0
        )
        assert (
            chunked_page.js("document.querySelectorAll('[onerror], [onload], [onclick]').length")
            == 0
        )


def test_without_its_folder_a_large_report_says_what_is_missing(browser, chunked_report, tmp_path):
    inputs, html = chunked_report
    alone = tmp_path / "report.html"
    shutil.copy(html, alone)
    page = Page(browser, alone, offline=True, wait_text=False)
    try:
        page.js("window.__report.showDoc(0, null)")
        page.page.wait_for_function(
            "!document.getElementById('doc-abstract').textContent.startsWith('Loading')"
        )
        assert page.page.text_content("#doc-abstract") == (
            "The abstract could not be loaded: report_files/text-000.js is missing: "
            "keep the folder beside the report"
        )
        assert page.page.text_content("#doc-title") == inputs.corpus.titles[0]
        assert page.js("window.__report.mapPoints()") > 0
        assert all("ERR_FILE_NOT_FOUND" in e for e in page.errors), page.errors
    finally:
        page.close()


@pytest.mark.slow
def test_report_at_scale(browser):
    """Size and time to interactive of a large real report (default: the 18k arXiv run).

    Skips when that run has not been made: ``taxonomy run config/arxiv.yaml`` first,
    or point TAXONOMY_SCALE_REPORT at another report.html (its abstracts inline or in
    files beside it). Loads it three times (offline) and judges the median; ``-s`` prints
    every figure. benchmarks/report_scale.py measures a run directory the same way.
    """
    html = Path(os.environ.get("TAXONOMY_SCALE_REPORT", REPO / "outputs" / "arxiv" / "report.html"))
    if not html.exists():
        pytest.skip(f"{html} not found")
    mb = html.stat().st_size / 1e6
    ready = []
    print(f"\n{html}: {mb:.2f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for k in range(3):
        page = Page(browser, html, offline=True, wait_text=False)
        try:
            n = page.js("window.__report.nPoints")
            assert 0 < page.js("window.__report.mapPoints()") <= n  # a sample, zoomed out
            t0 = time.perf_counter()
            page.page.fill("#search", "quantum")
            page.page.wait_for_function(
                "document.getElementById('search-count').textContent.endsWith('matching')"
            )
            search_s = time.perf_counter() - t0
            timing = page.js("window.__report.timing")  # the abstracts' mark too, by now
            if k == 0:
                page.shot("report-scale.png")
            assert page.errors == []
        finally:
            page.close()
        ready.append(timing["ready"] / 1000)
        print(
            f"load {k}: {n} papers; interactive {timing['ready'] / 1000:.2f} s and abstracts "
            f"{timing['text'] / 1000:.2f} s after navigation start; search {search_s:.2f} s; "
            f"marks {timing}"
        )
    assert mb < 15
    assert sorted(ready)[1] < 5
