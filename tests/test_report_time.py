"""The report of a dated run and of an update, in headless Chromium: sparklines, the rising
and fading panel, the time filter on the map, and the "What changed" section."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import dated_records
from test_report_browser import ARTIFACTS, Page, browser  # noqa: F401 - browser: a fixture

from taxonomy.embedding.encoder import text_key
from taxonomy.runs.assign import AssignModel

pytestmark = pytest.mark.browser


@pytest.fixture
def dated_page(browser, dated_run):  # noqa: F811
    page = Page(browser, dated_run[1] / "report.html")
    yield page
    assert page.errors == [], page.errors
    page.close()


class TestDatedReport:
    def test_every_topic_row_has_a_sparkline_and_a_growth(self, dated_page, dated_run):
        result, _ = dated_run
        tl = result.timeline
        n_rows = len(result.taxonomy.nodes) - 1
        assert dated_page.js("document.querySelectorAll('#topics tbody tr svg.spark').length") == (
            n_rows
        )
        # The line has one point per period; its tooltip lists the papers per period.
        node = result.taxonomy.level(1)[0].node_id
        points = dated_page.js(
            f"document.querySelector('#topics tr[data-node=\"{node}\"] polyline')"
            ".getAttribute('points').split(' ').length"
        )
        assert points == len(tl.labels)
        tip = dated_page.js(
            f"document.querySelector('#topics tr[data-node=\"{node}\"] svg.spark title').textContent"
        )
        assert tip.endswith(" ".join(str(int(c)) for c in tl.counts[node]))
        # Sorting by growth puts the surest riser first.
        dated_page.page.click('#topics th[data-sort="growth"]')
        first = dated_page.js("document.querySelector('#topics tbody tr').dataset.node")
        assert first == max(tl.growth, key=lambda k: tl.growth[k].low)
        dated_page.shot("report-dated-topics.png", full_page=True)

    def test_the_rising_panel_lists_metrics_rising_and_opens_a_topic(self, dated_page, dated_run):
        result, run_dir = dated_run
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["rising"], "the dated sample has a rising topic by construction"
        assert dated_page.js("document.getElementById('trends').hidden") is False
        shown = dated_page.js(
            "Array.from(document.querySelectorAll('#rising li[data-node]')).map(l => l.dataset.node)"
        )
        assert shown == [r["node_id"] for r in metrics["rising"]]
        fading = dated_page.js("document.querySelectorAll('#fading li[data-node]').length")
        assert fading == len(metrics["fading"])
        top = metrics["rising"][0]
        dated_page.page.click(f'#rising button[data-node="{top["node_id"]}"]')
        assert dated_page.page.text_content("#list-title") == top["label"]
        want = sorted(result.taxonomy.nodes[top["node_id"]].doc_idx.tolist())
        assert sorted(dated_page.js("window.__report.highlighted()")) == want
        ARTIFACTS.mkdir(exist_ok=True)
        dated_page.page.locator("#trends").screenshot(path=str(ARTIFACTS / "report-trends.png"))

    def test_the_time_filter_shows_only_papers_of_the_chosen_periods(self, dated_page, dated_run):
        result, _ = dated_run
        tl = result.timeline
        n = len(result.corpus)
        assert dated_page.js("document.getElementById('timebar').hidden") is False
        assert dated_page.js("window.__report.mapPoints()") == n
        last = len(tl.labels) - 1
        # Move the sliders as a person would: the "from" handle to the last two periods.
        dated_page.page.fill("#time-from", str(last - 1))
        want = sorted(np.flatnonzero(tl.doc_period >= last - 1).tolist())
        dated_page.page.wait_for_function(
            "n => window.__report.mapPoints() === n", arg=len(want), timeout=10_000
        )
        assert sorted(dated_page.js("window.__report.mapIds()")) == want
        assert dated_page.js("window.__report.timeRange()") == tl.labels[last - 1 :]
        label = dated_page.page.text_content("#time-label")
        assert label.startswith(f"{tl.labels[last - 1]} – {tl.labels[last]}")
        assert f"{len(want)} papers" in label
        # A topic or a search shows only its papers within the range.
        node = result.taxonomy.level(1)[0]
        dated_page.js(f"window.__report.selectNode('{node.node_id}')")
        inside = sorted(set(node.doc_idx.tolist()) & set(want))
        assert sorted(dated_page.js("window.__report.highlighted()")) == inside
        assert sorted(dated_page.panel_docs()) == inside
        dated_page.shot("report-dated-filter.png")
        # The "to" handle cannot pass the "from" one; the full range shows every paper again.
        dated_page.page.fill("#time-to", "0")
        dated_page.page.wait_for_function(
            "window.__report.timeRange()[0] === window.__report.timeRange()[1]"
        )
        dated_page.js(f"window.__report.setTimeRange(0, {last})")
        assert dated_page.js("window.__report.mapPoints()") == n
        assert sorted(dated_page.js("window.__report.highlighted()")) == sorted(
            node.doc_idx.tolist()
        )


def test_an_undated_report_has_no_time_parts(browser, sample_run):  # noqa: F811
    page = Page(browser, sample_run[1] / "report.html")
    try:
        assert page.js("document.getElementById('timebar').hidden") is True
        assert page.js("document.getElementById('trends').hidden") is True
        assert page.js("document.getElementById('changes').hidden") is True
        assert page.js("document.querySelectorAll('svg.spark').length") == 0
        assert page.js("document.querySelectorAll('#topics thead th').length") == 6
        assert page.errors == []
    finally:
        page.close()


@pytest.fixture(scope="module")
def grown(tmp_path_factory, sample_run):
    """An update of an early run of the dated sample in which one topic is new (the fit's rule
    is told those papers fit nowhere, as test_update.py does)."""
    from conftest import sample_config

    from taxonomy.pipeline import run
    from taxonomy.runs.update import update_run

    full = sample_run[0]
    tmp = tmp_path_factory.mktemp("grown")
    recs = dated_records(full)
    early = tmp / "early.jsonl"
    early.write_text("".join(json.dumps(r) + "\n" for r in recs if r["date"] < "2025-07"))
    late = tmp / "late.jsonl"
    late.write_text("".join(json.dumps(r) + "\n" for r in recs if r["date"] >= "2025-07"))
    cfg = sample_config(
        tmp, name="early", corpus={"path": str(early)}, cache={"dir": full.cfg.cache.dir}
    )
    base = run(cfg, log=lambda m: None)
    leaf = max(full.taxonomy.level(full.taxonomy.n_levels), key=lambda n: n.size)
    novel = {text_key(full.corpus.texts[i]) for i in leaf.doc_idx}
    real = AssignModel.place

    def place(self, X, keys=None):
        out = real(self, X, keys)
        out.topic_ids[[k in novel for k in keys]] = -1
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AssignModel, "place", place)
        done = update_run(base.out_dir, str(late), out=tmp / "grown", log=lambda m: None)
    return done


def test_an_update_report_shows_what_changed(browser, grown):  # noqa: F811
    page = Page(browser, grown.result.out_dir / "report.html")
    try:
        c = grown.changes
        assert page.js("document.getElementById('changes').hidden") is False
        assert page.page.text_content("#changes-summary") == c["summary"]
        shown = page.js(
            "Array.from(document.querySelectorAll('#changes-new_topics li')).map(l => l.dataset.node)"
        )
        assert shown == [t["node_id"] for t in c["new_topics"]] and shown
        t = c["new_topics"][0]
        page.page.click(f'#changes-new_topics button[data-node="{t["node_id"]}"]')
        assert page.page.text_content("#list-title") == t["label"]
        assert len(page.panel_docs()) == grown.result.taxonomy.nodes[t["node_id"]].size
        # The new topic is in the tree, under its parent, and on the map with every paper.
        assert page.js(f"!!document.querySelector('#tree button[data-node=\"{t['node_id']}\"]')")
        assert page.js("window.__report.mapPoints()") == len(grown.result.corpus)
        ARTIFACTS.mkdir(exist_ok=True)
        page.page.locator("#changes").screenshot(path=str(ARTIFACTS / "report-changes.png"))
        assert page.errors == []
    finally:
        page.close()


def test_a_refit_report_lists_merges_splits_new_and_vanished(browser, sample_run, tmp_path):  # noqa: F811
    """--previous on another seed: every kind of change it found is listed, with links."""
    from conftest import sample_config

    from taxonomy.pipeline import run

    base, base_dir = sample_run
    cfg = sample_config(tmp_path, seed=1, cache={"dir": base.cfg.cache.dir})
    result = run(cfg, log=lambda m: None, previous=base_dir)
    c = result.changes
    page = Page(browser, result.out_dir / "report.html")
    try:
        assert page.page.text_content("#changes-summary") == c["summary"]
        for key in ("new_topics", "vanished_topics", "merges", "splits", "renamed"):
            shown = page.js(f"document.querySelectorAll('#changes-{key} li').length")
            assert shown == len(c[key]), key
        for m in c["merges"]:
            text = page.page.text_content(f'#changes-merges li[data-node="{m["node_id"]}"]')
            assert all(f["label"] in text for f in m["from"]) and m["label"] in text
        assert page.errors == []
    finally:
        page.close()


def test_abstracts_in_chunks_load_whole_and_an_extension_reuses_them(
    browser,  # noqa: F811
    dated_run,
    tmp_path,
    monkeypatch,
):
    """Abstracts travel in chunks of report.TEXT_CHUNK: the page joins them in order, and a
    report of more papers (an update) takes the previous report's full chunks as they are."""
    from taxonomy.outputs import report
    from taxonomy.outputs.report import (
        ReportInputs,
        render_report,
        report_payloads,
        shorten_abstract,
        text_payloads,
        unpacked,
    )

    result, _ = dated_run
    monkeypatch.setattr(report, "TEXT_CHUNK", 10)
    c = result.corpus
    args = (c, result.taxonomy, result.xy, result.topic_ids, result.metrics, result.cfg)
    html = render_report(ReportInputs(*args, timeline=result.timeline))
    chunks = [k for k in report_payloads(html) if k.startswith("text-gz")]
    assert len(chunks) == -(-len(c) // 10)
    path = tmp_path / "chunked.html"
    path.write_text(html, encoding="utf-8")
    page = Page(browser, path)
    try:
        limit = result.cfg.report.max_abstract_chars
        for i in (0, 10, len(c) - 1):  # first paper of the first, second and last chunk
            page.js(f"window.__report.showDoc({i}, null)")
            assert page.page.text_content("#doc-abstract") == shorten_abstract(
                c.abstracts[i], limit
            )
        assert page.js(
            "window.__report.search('retrieval').then(() => window.__report.highlighted().length)"
        ) == sum(
            "retrieval" in (t + "\n" + shorten_abstract(a, limit)).lower()
            for t, a in zip(c.titles, c.abstracts)
        )
        assert page.errors == []
    finally:
        page.close()
    # Previous payloads of the first 30 papers: their three full chunks are reused byte for byte.
    previous = report_payloads(html)
    abstracts = (
        unpacked(previous["text-gz"])
        + unpacked(previous["text-gz-1"])
        + unpacked(previous["text-gz-2"])
    )
    grown = text_payloads(abstracts + ["a new abstract"], previous)
    assert grown[:3] == [previous["text-gz"], previous["text-gz-1"], previous["text-gz-2"]]
    assert unpacked(grown[3]) == ["a new abstract"]
    changed = text_payloads(["changed"] + abstracts[1:], previous)
    assert changed[0] != previous["text-gz"] and changed[1] == previous["text-gz-1"]
