"""The report file and the static map, read back without a browser (see test_report_browser.py)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from taxonomy.outputs import report
from taxonomy.outputs.map_labels import overlapping_pairs
from taxonomy.outputs.report import (
    PALETTE,
    ReportInputs,
    chunk_digest,
    doc_columns,
    label_positions,
    label_radii,
    map_figure,
    packed,
    read_report_payloads,
    render_report,
    report_core,
    report_data,
    report_files,
    shorten_abstract,
    unpacked,
)
from taxonomy.runs.rundir import run_files


def report_of(result, metrics=None) -> str:
    metrics = result.metrics if metrics is None else metrics
    return render_report(inputs_of(result, metrics))


def data_of(result, metrics):
    return report_data(inputs_of(result, metrics))


def inputs_of(result, metrics) -> ReportInputs:
    return ReportInputs(
        result.corpus, result.taxonomy, result.xy, result.topic_ids, metrics, result.cfg
    )


PAYLOAD = re.compile(r'<script type="application/octet-stream" id="([a-z0-9-]+)">([^<]*)</script>')


def payloads(html: str) -> dict[str, str]:
    return dict(PAYLOAD.findall(html))


def links_of(docs: dict) -> list[str | None]:
    """Each paper's link as the page reads it: listed apart, or the common prefix + its id."""
    other, prefix = docs["url_other"], docs["url_prefix"]
    return [
        other[str(i)] if str(i) in other else prefix + d if prefix is not None else None
        for i, d in enumerate(docs["id"])
    ]


@pytest.fixture(scope="module")
def sample(sample_run):
    result, run_dir = sample_run
    return result, run_dir, (run_dir / "report.html").read_text(encoding="utf-8")


class TestPayload:
    def test_three_payloads_decode_to_the_run(self, sample):
        result, _, html = sample
        p = payloads(html)
        assert set(p) == {"plotly-gz", "core-gz", "docs-gz-0", "text-gz"}
        assert unpacked(p["plotly-gz"], as_json=False).startswith(
            "/**\n* plotly.js (gl2d - minified) v"
        )
        core, abstracts = report_core(p), unpacked(p["text-gz"])
        n = len(result.corpus)
        assert len(core["docs"]["id"]) == len(core["docs"]["x"]) == len(abstracts) == n
        assert core["docs"]["title"] == result.corpus.titles
        assert core["docs"]["topic"] == result.topic_ids.tolist()
        assert set(core["nodes"]) == set(result.taxonomy.nodes)
        assert core["metrics"]["n_docs"] == n and set(core["metrics"]["seconds"]) == set(
            result.seconds
        )
        assert core["config"]["seed"] == result.cfg.seed

    def test_positions_and_links_decode_to_the_run(self, sample):
        result, _, html = sample
        d = report_core(payloads(html))["docs"]
        x0, x1, y0, y1 = d["xy_box"]
        step = max(x1 - x0, y1 - y0) / d["xy_steps"]
        x = x0 + np.array(d["x"]) / d["xy_steps"] * (x1 - x0)
        y = y0 + np.array(d["y"]) / d["xy_steps"] * (y1 - y0)
        assert np.abs(np.c_[x, y] - result.xy).max() <= step
        assert links_of(d) == result.corpus.urls

    def test_links_that_are_a_prefix_and_the_id_are_not_repeated(self, sample):
        corpus = replace(
            sample[0].corpus,
            ids=["2401.00001v2", "2401.00002", "a", "b"],
            urls=[
                "https://arxiv.org/abs/2401.00001",
                "https://arxiv.org/abs/2401.00002",
                "https://example.org/x",
                None,
            ],
        )
        d = doc_columns(corpus, np.zeros((4, 2)), np.zeros(4, int))
        assert d["url_prefix"] == "https://arxiv.org/abs/"
        assert d["url_other"] == {
            0: "https://arxiv.org/abs/2401.00001",
            2: "https://example.org/x",
            3: None,
        }
        assert links_of(unpacked(packed(d))) == corpus.urls

    def test_no_local_paths_in_the_report(self, sample, tmp_path):
        # A report is shared; where the corpus, outputs and cache live on this machine is not.
        result, _, _ = sample
        corpus_cfg = result.cfg.corpus.model_copy(update={"path": "/home/me/secret/papers.jsonl"})
        cfg = result.cfg.model_copy(update={"corpus": corpus_cfg})
        core, _ = data_of(replace(result, cfg=cfg), {})
        assert core["config"]["corpus"]["path"] == "papers.jsonl"
        assert "cache" not in core["config"] and "output_dir" not in core["config"]
        html = report_of(replace(result, cfg=cfg))
        assert "/home/me" not in str(unpacked(payloads(html)["core-gz"]))
        assert str(result.cfg.cache.dir) not in str(unpacked(payloads(html)["core-gz"]))

    def test_base64_payloads_cannot_touch_the_html_parser(self, sample):
        for body in payloads(sample[2]).values():
            assert re.fullmatch(r"[A-Za-z0-9+/=]+", body)

    def test_same_run_same_bytes(self, sample):
        result, _, html = sample
        metrics = dict(result.metrics, seconds=result.seconds)
        assert report_of(result, metrics) == html

    def test_nan_and_numpy_values_become_plain_json(self):
        data = {
            "a": float("nan"),
            "b": np.float32(0.5),
            "c": np.int64(3),
            "d": [np.inf, 1.0],
            "e": np.arange(2),
        }
        assert unpacked(packed(data)) == {
            "a": None,
            "b": 0.5,
            "c": 3,
            "d": [None, 1.0],
            "e": [0, 1],
        }

    def test_all_nodes_carry_colour_position_and_coherence(self, sample):
        result, _, _ = sample
        npmi = {nid: 0.1 * k for k, nid in enumerate(result.taxonomy.nodes)}
        core, _ = data_of(result, dict(result.metrics, npmi_per_node=npmi))
        tops = [n.node_id for n in result.taxonomy.level(1)]
        for nid, node in core["nodes"].items():
            assert node["coherence"] == pytest.approx(npmi[nid])
            if node["level"] > 0:
                top = result.taxonomy.path(nid)[0].node_id
                assert node["color"] == PALETTE[tops.index(top) % len(PALETTE)]
                assert node["pos"] is not None
                assert node["r"] >= 0  # one number per node: how wide its papers spread


class TestText:
    def test_abstracts_are_capped_and_marked(self, sample):
        result, _, _ = sample
        cfg = result.cfg.model_copy(
            update={"report": result.cfg.report.model_copy(update={"max_abstract_chars": 40})}
        )
        _, abstracts = data_of(replace(result, cfg=cfg), {})
        for shown, full in zip(abstracts, result.corpus.abstracts):
            assert len(shown) <= 41 and (
                shown == full or (shown.endswith("…") and full.startswith(shown[:-1]))
            )

    def test_zero_cap_leaves_abstracts_out(self, sample):
        result, _, _ = sample
        cfg = result.cfg.model_copy(
            update={"report": result.cfg.report.model_copy(update={"max_abstract_chars": 0})}
        )
        assert data_of(replace(result, cfg=cfg), {})[1] == []
        assert shorten_abstract("abc", 0) == "" and shorten_abstract("abc", 3) == "abc"

    def test_hostile_report_title_is_escaped_and_corpus_text_only_in_payloads(self, sample):
        result, _, _ = sample
        evil = '<script>alert("t")</script><img src=x onerror=alert(1)> Тема 主题'
        cfg = result.cfg.model_copy(
            update={"report": result.cfg.report.model_copy(update={"title": evil})}
        )
        corpus = replace(result.corpus, titles=[evil + " " + t for t in result.corpus.titles])
        html = report_of(replace(result, cfg=cfg, corpus=corpus))
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html
        assert report_core(payloads(html))["docs"]["title"][0].startswith(evil)


class TestMapImage:
    def test_label_positions_sit_on_member_points(self, sample):
        result, _, _ = sample
        pos = label_positions(result.taxonomy, result.xy)
        for nid, (x, y) in pos.items():
            members = result.xy[result.taxonomy.nodes[nid].doc_idx]
            assert np.abs(members - [x, y]).max(axis=1).min() < 1e-3

    def test_label_radii_are_the_median_spread(self, sample):
        result, _, _ = sample
        tax = result.taxonomy
        pos = label_positions(tax, result.xy)
        radii = label_radii(tax, result.xy, pos)
        assert set(radii) == set(pos)
        for nid, r in radii.items():
            d = np.linalg.norm(result.xy[tax.nodes[nid].doc_idx] - pos[nid], axis=1)
            assert (d <= r + 1e-3).mean() >= 0.5 and (d >= r - 1e-3).mean() >= 0.5

    def test_map_names_of_the_top_two_levels_do_not_overlap(self, sample):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        result, _, _ = sample
        tax = result.taxonomy
        fig = map_figure(tax, result.xy, result.topic_ids, "sample")
        renderer = FigureCanvasAgg(fig).get_renderer()
        fig.draw(renderer)  # as saved: the names' extents after the final draw
        texts = [t for t in fig.axes[0].texts if t.get_gid()]
        shown = {t.get_gid() for t in texts}
        assert {n.node_id for n in tax.level(1)} <= shown
        assert any(gid.startswith("2.") for gid in shown)
        assert all(tax.nodes[gid].level <= 2 for gid in shown)
        assert overlapping_pairs(texts, renderer) == []
        frame = fig.axes[0].get_window_extent(renderer)
        for t in texts:
            box = t.get_window_extent(renderer)
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1
            assert frame.y0 <= box.y0 and box.y1 <= frame.y1
        # The top level is drawn largest.
        size = {t.get_gid(): t.get_fontsize() for t in texts}
        assert min(v for k, v in size.items() if k.startswith("1.")) > max(
            v for k, v in size.items() if k.startswith("2.")
        )

    def test_map_names_are_plain_text(self, sample):
        # "$...$" would be matplotlib's mathtext, and a broken formula would fail the drawing.
        import copy

        from matplotlib.backends.backend_agg import FigureCanvasAgg

        result, _, _ = sample
        tax = copy.deepcopy(result.taxonomy)
        odd = [r"costs $\frac{1$ and $x$", "<b>x</b> & $y$", r"\mathrm{z} %s {0} $"]
        for k, node in enumerate(tax.level(1)):
            node.label = odd[k % len(odd)]
        fig = map_figure(tax, result.xy, result.topic_ids, "sample")
        fig.draw(FigureCanvasAgg(fig).get_renderer())
        shown = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
        for node in tax.level(1):
            assert shown.get(node.node_id, node.label) == node.label

    def test_map_png_beside_the_report(self, sample):
        from matplotlib.image import imread

        result, run_dir, _ = sample
        png = run_dir / "map.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = imread(png)
        assert img.shape[:2] == (1125, 1500)
        # Each top-level colour is drawn (at alpha 0.85 on white).
        rgb = (img[..., :3] * 255).round().reshape(-1, 3)
        for k in range(len(result.taxonomy.level(1))):
            want = 0.85 * np.array([int(PALETTE[k][i : i + 2], 16) for i in (1, 3, 5)]) + 0.15 * 255
            assert (np.abs(rgb - want).max(axis=1) <= 12).sum() > 20, PALETTE[k]

    def test_report_is_small_for_the_sample(self, sample):
        # plotly.js (gzipped) dominates a small report; it must stay a light file to mail around.
        assert len(sample[2].encode()) < 3_000_000


class TestChunkFiles:
    """Above ``report.inline_abstracts_max`` papers the abstracts lie beside the page."""

    CALL = re.compile(r'window\.__reportText\((\d+),"([A-Za-z0-9+/=]*)"\);\n')

    @staticmethod
    def chunked(result, monkeypatch) -> ReportInputs:
        monkeypatch.setattr(report, "TEXT_CHUNK", 20)  # the sample's 66 papers: 4 chunks
        cfg = result.cfg.model_copy(
            update={"report": result.cfg.report.model_copy(update={"inline_abstracts_max": 10})}
        )
        return inputs_of(replace(result, cfg=cfg), dict(result.metrics, seconds=result.seconds))

    def test_the_page_names_its_chunk_files_and_each_is_one_call_with_base64(
        self, sample, monkeypatch
    ):
        result = sample[0]
        files = report_files(self.chunked(result, monkeypatch))
        names = [f"report_files/text-{k:03d}.js" for k in range(4)]
        assert list(files) == ["report.html", *names]
        p = payloads(files["report.html"])
        assert set(p) == {"plotly-gz", "core-gz", "docs-gz-0"}  # no abstracts inside the page
        text = unpacked(p["core-gz"])["text"]
        limit = result.cfg.report.max_abstract_chars
        shown = [shorten_abstract(a, limit) for a in result.corpus.abstracts]
        assert text == {
            "chunk": 20,
            "count": 4,
            "files": names,
            "digests": [chunk_digest(shown[s : s + 20]) for s in range(0, 66, 20)],
        }
        for k, name in enumerate(names):
            m = self.CALL.fullmatch(files[name])
            assert m and int(m[1]) == k
            assert unpacked(m[2]) == shown[20 * k : 20 * k + 20]

    def test_up_to_the_threshold_the_page_is_one_file(self, sample):
        result = sample[0]
        files = report_files(inputs_of(result, dict(result.metrics, seconds=result.seconds)))
        assert list(files) == ["report.html"] and files["report.html"] == sample[2]

    def test_a_run_directory_holds_the_chunk_files(self, sample, monkeypatch):
        inputs = self.chunked(sample[0], monkeypatch)
        files = run_files(replace(sample[0], cfg=inputs.cfg), lambda path: None)
        assert {"report.html", "report_files/text-000.js", "report_files/text-003.js"} <= set(files)

    def test_a_report_that_extends_it_packs_no_chunk_again(self, sample, monkeypatch, tmp_path):
        inputs = self.chunked(sample[0], monkeypatch)
        files = report_files(inputs)
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(text, encoding="utf-8")
        previous = read_report_payloads(tmp_path / "report.html")
        assert set(previous) == {"plotly-gz", "core-gz", "docs-gz-0", "text-gz"} | {
            f"text-gz-{k}" for k in (1, 2, 3)
        }
        calls, read = [], []
        monkeypatch.setattr(
            report, "packed", lambda data, *a: calls.append(data) or packed(data, *a)
        )
        inflate = report.gzip.decompress
        monkeypatch.setattr(report.gzip, "decompress", lambda b: read.append(b) or inflate(b))
        assert report_files(inputs, previous) == files
        assert len(calls) == 1  # the core only: plotly and every chunk are taken as they were
        assert len(read) == 2  # plotly and the previous core: chunks are known by their digests

    def test_digests_tell_every_change(self):
        assert chunk_digest(["ab", "c"]) != chunk_digest(["a", "bc"])
        assert chunk_digest(["a"]) != chunk_digest(["a", ""]) != chunk_digest([])
        assert chunk_digest(["é"]) == chunk_digest(["é"]) != chunk_digest(["e"])
