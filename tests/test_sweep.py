"""Experiments and sweeps on the real sample: loading, the stage cache, resume, reproducibility."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS

from taxonomy import pipeline
from taxonomy.cli import main as cli_main
from taxonomy.errors import ConfigError
from taxonomy.sweep import POINT_FILE, load_experiment, point_names, run_sweep
from taxonomy.util.cachecli import cache_info, clear_cache

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SWEEP = REPO / "config" / "experiments" / "sample_sweep.yaml"
HOSTILE = '<img src=x onerror="window.__pwned=1"> & co'


def write_experiment(tmp: Path, body: str, name: str = "exp.yaml") -> Path:
    path = tmp / name
    path.write_text(body, encoding="utf-8")
    return path


def sample_experiment(tmp: Path, cache: Path) -> Path:
    """The shipped sample sweep, with its cache and outputs in ``tmp``."""
    return write_experiment(
        tmp,
        f"""
base: {SAMPLE_SWEEP}
name: sample_sweep
description: '{HOSTILE}'
output_dir: {tmp / "outputs"}
cache:
  dir: {cache}
""",
    )


class Spy:
    """Counts calls of a real stage function and passes them through."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def spied_sweep(exp, out: Path, log: list[str] | None = None):
    """Run a sweep counting UMAP and HDBSCAN calls; returns (result, reduce spy, cluster spy)."""
    with pytest.MonkeyPatch.context() as mp:
        reduce, cluster = Spy(pipeline.reduce_with_graph), Spy(pipeline.cluster_points)
        mp.setattr(pipeline, "reduce_with_graph", reduce)
        mp.setattr(pipeline, "cluster_points", cluster)
        result = run_sweep(
            exp, out_dir=out, log=(log.append if log is not None else lambda m: None)
        )
    return result, reduce, cluster


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The sample sweep run once from an empty cache: (experiment, result, reduce spy, cluster spy)."""
    tmp = tmp_path_factory.mktemp("sweep")
    exp = load_experiment(sample_experiment(tmp, tmp / "cache"))
    result, reduce, cluster = spied_sweep(exp, tmp / "outputs" / "sample_sweep")
    return exp, result, reduce, cluster


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class TestLoad:
    def test_shipped_sample_sweep(self):
        exp = load_experiment(SAMPLE_SWEEP)
        assert exp.name == "sample_sweep" and exp.base.corpus.path == "builtin:sample"
        assert list(exp.sweep) == ["umap.n_neighbors", "hdbscan.min_cluster_size"]
        assert len(exp.points) == 4 and len({p.name for p in exp.points}) == 4
        first = exp.points[0]
        assert first.params == {"umap.n_neighbors": 6, "hdbscan.min_cluster_size": 3}
        assert (first.cfg.umap.n_neighbors, first.cfg.hdbscan.min_cluster_size) == (6, 3)
        # Only what differs is in the file: the rest comes from config/default.yaml.
        assert first.cfg.labels.n_keywords == 10 and first.cfg.seed == 42
        assert exp.select.metric == "npmi" and exp.select.mode == "max"

    def test_inherits_sweep_and_overrides_keys(self, tmp_path):
        exp = load_experiment(
            write_experiment(
                tmp_path,
                f"""
base: {SAMPLE_SWEEP}
umap: {{min_dist: 0.05}}
sweep:
  hdbscan.min_cluster_size: [4]
""",
            )
        )
        assert exp.name == "exp" and len(exp.points) == 2
        assert {p.cfg.hdbscan.min_cluster_size for p in exp.points} == {4}
        assert {p.cfg.umap.min_dist for p in exp.points} == {0.05}

    def test_base_is_relative_to_the_working_directory_like_every_config_path(
        self, tmp_path, monkeypatch
    ):
        (tmp_path / "sub").mkdir()
        write_experiment(tmp_path, "seed: 7\n", "base.yaml")
        exp_file = write_experiment(tmp_path / "sub", "base: base.yaml\n")
        monkeypatch.chdir(tmp_path)
        exp = load_experiment(exp_file)
        assert exp.base.seed == 7 and len(exp.points) == 1
        # Not beside the experiment: one rule for base, corpus.path, output_dir and cache.dir.
        monkeypatch.chdir(tmp_path / "sub")
        with pytest.raises(ConfigError, match="relative to the working directory"):
            load_experiment(exp_file.name)

    @pytest.mark.parametrize(
        "body, message",
        [
            (
                "sweep:\n  umap.n_neighbours: [5, 10]\n",
                "exp.yaml: sweep: umap.n_neighbours: unknown key; did you mean 'n_neighbors'?",
            ),
            (
                "sweep:\n  umpa.n_neighbors: [5]\n",
                "exp.yaml: sweep: umpa: unknown key; did you mean 'umap'?",
            ),
            (
                "sweep:\n  hdbscan.min_cluster_size: [5, 1]\n",
                "exp.yaml: sweep: hdbscan.min_cluster_size: expected an integer >= 2 or 'auto' (got 1)",
            ),
            (
                "sweep:\n  umap.n_neighbors: 5\n",
                "exp.yaml: sweep.umap.n_neighbors: expected a non-empty list",
            ),
            (
                "sweep:\n  umap.n_neighbors: []\n",
                "exp.yaml: sweep.umap.n_neighbors: expected a non-empty list",
            ),
            (
                "sweep:\n  umap.n_neighbors: [5, 5]\n",
                "exp.yaml: sweep.umap.n_neighbors: a value is listed twice",
            ),
            ("sweep:\n  cache.dir: [a, b]\n", "exp.yaml: sweep.cache.dir: cannot be swept"),
            (
                "sweep:\n  umap.n_neighbors.x: [5]\n",
                "exp.yaml: sweep: umap.n_neighbors: expected a valid integer",
            ),
            (
                "umap:\n  n_neighbour: 5\n",
                "exp.yaml: umap.n_neighbour: unknown key; did you mean 'n_neighbors'?",
            ),
            (
                "sweeps:\n  umap.n_neighbors: [5]\n",
                "exp.yaml: sweeps: unknown key; did you mean 'sweep'?",
            ),
            (
                "select: {metric: npmi, mode: best}\n",
                "exp.yaml: select.mode: expected 'max' or 'min' (got 'best')",
            ),
            ("select: {mode: max}\n", "exp.yaml: select.metric: missing"),
            ("select: {metric: npmi, order: max}\n", "exp.yaml: select.order: unknown key"),
            ("base: nowhere.yaml\n", "exp.yaml: base: config file not found: 'nowhere.yaml'"),
        ],
    )
    def test_errors_name_the_key(self, tmp_path, body, message):
        with pytest.raises(ConfigError) as err:
            load_experiment(write_experiment(tmp_path, body))
        text = str(err.value)
        assert "\n" not in text
        assert text.split("exp.yaml", 1)[1].startswith(message.split("exp.yaml", 1)[1]), text

    def test_base_cycle(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        write_experiment(tmp_path, "base: b.yaml\n", "a.yaml")
        write_experiment(tmp_path, "base: a.yaml\n", "b.yaml")
        with pytest.raises(ConfigError, match="includes itself"):
            load_experiment(tmp_path / "a.yaml")

    def test_point_names_are_safe_and_unique(self):
        sweep = {
            "embedding.model": ["all-MiniLM-L6-v2", "/models/x y"],
            "umap.metric": ["cosine"],
            "hdbscan.metric": ["euclidean"],
            "labels.diversity": [0.3],
        }
        combos = [
            ("all-MiniLM-L6-v2", "cosine", "euclidean", 0.3),
            ("/models/x y", "cosine", "euclidean", 0.3),
        ]
        names = point_names(sweep, combos)
        assert (
            names[0]
            == "model-all-MiniLM-L6-v2__umap-metric-cosine__hdbscan-metric-euclidean__diversity-0.3"
        )
        assert names[1].startswith("model-models_x_y__") and len(set(names)) == 2


class TestSweep:
    def test_every_point_has_a_complete_run(self, swept):
        exp, result, _, _ = swept
        assert result.n_run == 4 and result.n_skipped == 0
        for p in exp.points:
            run = result.root / p.name
            for f in ("documents.csv", "taxonomy.yaml", "metrics.json", "report.html", POINT_FILE):
                assert (run / f).is_file(), f"{p.name}/{f}"
            assert json.loads((run / POINT_FILE).read_text())["params"] == p.params

    def test_embeds_once_and_reduces_once_per_umap_setting(self, swept):
        exp, result, reduce, cluster = swept
        assert reduce.calls == 2  # two n_neighbors values
        assert cluster.calls == 4  # every point clusters differently
        caches = [
            json.loads((result.root / p.name / "metrics.json").read_text())["embedding_cache"]
            for p in exp.points
        ]
        assert caches[0] == {"cached": 0, "embedded": 66}
        assert all(c == {"cached": 66, "embedded": 0} for c in caches[1:])

    def test_comparison_csv(self, swept):
        exp, result, _, _ = swept
        rows = read_rows(result.files["csv"])
        assert [r["point"] for r in rows] == [p.name for p in exp.points]
        for r, p in zip(rows, exp.points):
            assert r["umap.n_neighbors"] == str(p.params["umap.n_neighbors"])
            assert r["hdbscan.min_cluster_size"] == str(p.params["hdbscan.min_cluster_size"])
            assert float(r["n_topics"]) >= 2 and 0 <= float(r["outlier_share"]) <= 1
            assert (result.root / r["report"]).is_file()
        assert [r["best"] for r in rows].count("true") == 1
        best = max(range(len(rows)), key=lambda i: (float(rows[i]["npmi"]), -i))
        assert rows[best]["best"] == "true" and result.best == best

    def test_comparison_html(self, swept):
        exp, result, _, _ = swept
        html = result.files["html"].read_text(encoding="utf-8")
        for p in exp.points:
            assert f'href="{p.name}/report.html"' in html
        assert html.count('<tr class="best">') == 1
        assert html.count("<tr") == 5  # header + one row per point
        # The description is untrusted text: escaped, never markup.
        assert (
            HOSTILE not in html
            and "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt; &amp; co" in html
        )
        # plotly.js inlined exactly once, no network needed.
        assert html.count("plotly.js v") == 1 and "cdn.plot.ly" not in html.split("<script>")[0]
        figures = json.loads(html.split('id="figures">', 1)[1].split("</script>", 1)[0])
        main = {(f["metric"], f["param"]) for f in figures if f["main"]}
        assert ("npmi", "umap.n_neighbors") in main and ("npmi", "hdbscan.min_cluster_size") in main
        assert any(t.get("name") == "best point" for f in figures for t in f["data"])

    @pytest.mark.browser
    def test_comparison_page_in_chromium(self, swept):
        """Offline in headless Chromium: plots drawn, columns sort, details toggle, nothing runs."""
        chromium = Path("/usr/bin/chromium")
        playwright = pytest.importorskip("playwright.sync_api")
        if not chromium.exists():
            pytest.skip("Debian chromium is not installed")
        result = swept[1]
        errors: list[str] = []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            page = browser.new_context(offline=True).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(result.files["html"].as_uri())
            page.wait_for_selector(".plot .main-svg")
            n_main = page.locator(".plot").count()
            assert n_main >= 2 * 2  # npmi and n_topics at least, against both settings
            header = page.locator('#points th:text-is("npmi")')
            header.click()
            header.click()  # descending: the best point (npmi, max) comes first
            first = page.locator("#points tbody tr").first
            assert first.get_attribute("class") == "best"
            page.check("#all-metrics")
            assert page.locator(".plot").count() > n_main
            assert page.locator("th.detail").first.is_visible()
            assert page.evaluate("window.__pwned") is None
            browser.close()
        assert errors == []

    def test_rerun_skips_finished_points(self, swept, capsys):
        exp, result, _, _ = swept
        docs = [result.root / p.name / "documents.csv" for p in exp.points]
        stamps = [d.stat().st_mtime_ns for d in docs]
        with pytest.MonkeyPatch.context() as mp:
            reduce = Spy(pipeline.reduce_with_graph)
            mp.setattr(pipeline, "reduce_with_graph", reduce)
            fit = Spy(pipeline.fit)
            mp.setattr(pipeline, "fit", fit)
            code = cli_main(["sweep", str(exp.source), "--out", str(result.root)])
        assert code == 0 and reduce.calls == 0 and fit.calls == 0
        assert [d.stat().st_mtime_ns for d in docs] == stamps
        out = capsys.readouterr()
        assert out.err.count("finished before, skipped") == 4
        assert "best by npmi (max): " in out.out and "comparison.html" in out.out

    def test_interrupted_sweep_resumes(self, swept, tmp_path):
        exp, result, _, _ = swept
        out = tmp_path / "resumed"
        real_write, written = pipeline.write_run_dir, []

        def write_then_stop(target, files, overwrite):
            if len(written) == 2:
                raise KeyboardInterrupt  # Ctrl-C while the third point is being written
            written.append(target)
            return real_write(target, files, overwrite)

        log: list[str] = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(pipeline, "write_run_dir", write_then_stop)
            with pytest.raises(KeyboardInterrupt):
                run_sweep(exp, out_dir=out, log=log.append)
        assert "interrupted at point 3/4" in log[-1]
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
            p.name for p in exp.points[:2]
        )
        # Changed settings are not "finished": a point whose fingerprint differs runs again.
        info = json.loads((out / exp.points[1].name / POINT_FILE).read_text())
        (out / exp.points[1].name / POINT_FILE).write_text(
            json.dumps(dict(info, fingerprint="old"))
        )
        again, _, _ = spied_sweep(exp, out)
        assert (again.n_skipped, again.n_run) == (1, 3)
        for p in exp.points:
            assert (out / p.name / "documents.csv").read_bytes() == (
                result.root / p.name / "documents.csv"
            ).read_bytes()

    def test_same_experiment_twice_is_byte_identical(self, swept, tmp_path):
        """A second run from an empty cache recomputes everything and gives the same files."""
        exp, result, _, _ = swept
        exp2 = load_experiment(sample_experiment(tmp_path, tmp_path / "fresh-cache"))
        again, reduce, cluster = spied_sweep(exp2, tmp_path / "again")
        assert (again.n_run, reduce.calls, cluster.calls) == (4, 2, 4)
        for p in exp.points:
            for f in ("documents.csv", "taxonomy.yaml", "topics.csv"):
                assert (again.root / p.name / f).read_bytes() == (
                    result.root / p.name / f
                ).read_bytes(), f"{p.name}/{f}"


class TestCache:
    def test_damaged_entry_is_recomputed(self, swept, tmp_path, caplog):
        exp, result, _, _ = swept
        point = exp.points[0]
        cache = Path(point.cfg.cache.dir)
        entries = sorted((cache / "reduce").glob("*.npz"))
        assert len(entries) == 2
        for e in entries:  # flip bytes in the middle of every reduction
            data = bytearray(e.read_bytes())
            data[len(data) // 2] ^= 0xFF
            e.write_bytes(bytes(data))
        with caplog.at_level(logging.WARNING, logger="taxonomy.util.cache"):
            again, reduce, cluster = spied_sweep(
                load_experiment(sample_experiment(tmp_path, cache)), tmp_path / "after-damage"
            )
        assert reduce.calls == 2 and cluster.calls == 0
        assert sum("damaged" in r.getMessage() for r in caplog.records) == 2
        for p in exp.points:
            assert (again.root / p.name / "documents.csv").read_bytes() == (
                result.root / p.name / "documents.csv"
            ).read_bytes()

    def test_info_and_clear(self, tmp_path, capsys):
        import numpy as np

        from taxonomy.util.cache import ArrayStore

        root = tmp_path / "cache"
        store = ArrayStore(root)
        store.save("reduce", "k1", Z=np.zeros((3, 2)))
        store.save("embeddings/m1", "s1", vectors=np.ones((4, 8), dtype=np.float32))
        store.save("embeddings/m2", "s1", vectors=np.ones((4, 8), dtype=np.float32))
        (root / "README").write_text("not ours")
        info = {s.stage: s for s in cache_info(root)}
        assert (info["reduce"].entries, info["embeddings"].entries, info["embeddings"].groups) == (
            1,
            2,
            2,
        )
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"cache:\n  dir: {root}\n")
        assert cli_main(["cache", "info", str(cfg)]) == 0
        out = capsys.readouterr().out
        assert "embeddings" in out and "2 entries" in out and "(2 models)" in out and "total" in out
        assert cli_main(["cache", "clear", str(cfg)]) == 0
        assert "removed 3 entries" in capsys.readouterr().out
        assert cache_info(root) == [] and (root / "README").read_text() == "not ours"
        assert clear_cache(tmp_path / "missing") == (0, 0)
        assert cli_main(["cache", "info", str(cfg)]) == 0 and "empty" in capsys.readouterr().out

    def test_info_of_an_experiment_uses_its_cache_dir(self, tmp_path, capsys):
        exp = sample_experiment(tmp_path, tmp_path / "exp-cache")
        assert cli_main(["cache", "info", str(exp)]) == 0
        assert f"cache {tmp_path / 'exp-cache'}: empty" in capsys.readouterr().out
