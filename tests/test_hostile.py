"""Nothing executed: corpus text is data in every output, and odd text still makes a run.

One real run (bundled model, real UMAP/HDBSCAN) on the sample with hostile
titles and ids, LaTeX, non-English abstracts, a 150 KB abstract and a few
empty and duplicate records; then each output is read back and checked.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re

import pytest
import yaml
from conftest import sample_config
from hypothesis import given, settings
from hypothesis import strategies as st

from taxonomy.cli import main
from taxonomy.config import CorpusConfig
from taxonomy.corpus import load_corpus
from taxonomy.util.formats import csv_text, json_text, safe_cell, yaml_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = [
    '<script>alert("xss-title")</script> Sparse attention',
    '</script><script>alert("break-out")</script>',
    '<img src=x onerror=alert("img")> graph networks',
    '=HYPERLINK("http://evil.example","click me")',
    "+SUM(1,2) protein folding",
    "-2+3 reinforcement learning",
    "@cmd diffusion models",
    "{{ 7*7 }} {% raw %} ${7*7} #{7*7}",
    "null",
    "yes",
    "- item: &anchor *alias !!python/object/apply:os.system ['echo pwned']",
    "\"double\" and 'single' quotes; back\\slash",
    "right-to-left \u202etxet and zero\u200bwidth and emoji 🙂",
]
HOSTILE_IDS = ["=cmd|' /C calc'!A0", "null", "- 1", "<b>id</b>", "1e3", "yes: no"]
LATEX = [
    (
        r"We prove that $\sum_{k=1}^{n} k^{-s} \to \zeta(s)$ for $\Re(s) > 1$ and bound "
        r"\begin{equation} \|f\|_{L^2} \leq C \int_\Omega |\nabla f|^2 \,dx \end{equation} % comment"
        r" with \textbf{sharp} constants, \cite{riemann1859} and \\ line breaks & tabs."
    ),
    (
        r"Let $\mathcal{G}=(V,E)$ be a graph with Laplacian $L = D - A$; we show $\lambda_2(L) \geq "
        r"\frac{4}{n\,\mathrm{diam}(\mathcal{G})}$ and give an $O(n \log n)$ algorithm \footnote{code}."
    ),
]
NON_ENGLISH = [
    (
        "Graphneuronale Netze für Moleküle",
        (
            "Wir untersuchen graphneuronale Netze zur Vorhersage von Moleküleigenschaften und zeigen, dass "
            "Nachrichtenaustausch über Bindungen die Genauigkeit gegenüber klassischen Deskriptoren deutlich "
            "verbessert, insbesondere für große Moleküle mit vielen Ringen."
        ),
    ),
    (
        "基于扩散模型的图像生成",
        (
            "我们提出一种新的扩散模型训练方法，通过改进噪声调度和采样步骤，在多个图像生成基准上取得了更好的样本质量，"
            "同时显著减少了采样所需的时间和计算资源。"
        ),
    ),
    (
        "Обучение с подкреплением для роботов",
        (
            "Мы рассматриваем обучение с подкреплением для управления роботами-манипуляторами и показываем, что "
            "предобучение на симуляции с последующей донастройкой на реальных данных повышает надёжность захвата."
        ),
    ),
]


def hostile_corpus() -> list[dict]:
    c = load_corpus(CorpusConfig())
    recs = [{"id": i, "title": t, "abstract": a} for i, t, a in zip(c.ids, c.titles, c.abstracts)]
    for i, title in enumerate(HOSTILE):
        recs[i * 5]["title"] = title
    for i, doc_id in enumerate(HOSTILE_IDS):
        recs[i * 5 + 1]["id"] = doc_id
    recs[2]["abstract"] = recs[2]["abstract"] + " " + LATEX[0]
    recs[3]["abstract"] = LATEX[1]
    recs += [{"id": f"intl{i}", "title": t, "abstract": a} for i, (t, a) in enumerate(NON_ENGLISH)]
    recs.append(
        {
            "id": "long",
            "title": "A very long abstract",
            "abstract": " ".join([recs[7]["abstract"]] * 120),
        }
    )
    recs.append({"id": "empty", "title": "Abstract missing", "abstract": ""})
    recs.append(dict(recs[10]))  # same id again
    recs.append(dict(recs[11], id="copy-of-11"))  # same text, new id
    return recs


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, shared_cache):
    tmp = tmp_path_factory.mktemp("hostile")
    recs = hostile_corpus()
    src = tmp / "hostile.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "title", "abstract"])
        w.writeheader()
        w.writerows(recs)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    cfg = sample_config(
        tmp,
        name="hostile",
        cache={"dir": str(shared_cache)},
        report={"title": '<script>alert("report-title")</script>'},
    )
    cfg_path = tmp / "hostile.yaml"
    cfg_path.write_text(yaml_text(cfg.model_dump(mode="json")))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()) as err:
        code = main(["run", str(cfg_path), "--input", str(src)])
    assert code == 0, err.getvalue()[-3000:]
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # the input is never modified
    corpus = load_corpus(CorpusConfig(path=str(src)))
    return tmp / "outputs" / "hostile", corpus, out.getvalue(), recs


def test_skips_and_truncation_are_counted_and_shown(hostile_run):
    run_dir, corpus, summary, recs = hostile_run
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["n_read"] == len(recs) and m["n_docs"] == len(recs) - 3
    assert m["skipped"] == {"empty": 1, "duplicate_id": 1, "duplicate_text": 1}
    assert f"skipped 3 of {len(recs)} records: 1 empty, 1 duplicate id, 1 duplicate text" in summary
    # The same count as the model's own tokenizer gives, over every paper (cached or not).
    from transformers import AutoTokenizer

    from taxonomy.embedding.models import bundled_model_path

    tok = AutoTokenizer.from_pretrained(str(bundled_model_path()))
    lengths = [len(ids) for ids in tok(corpus.texts, truncation=False)["input_ids"]]
    n_long = sum(n > 256 for n in lengths)
    assert m["n_truncated"] == n_long >= 1
    assert f"{n_long} texts longer than 256 tokens were truncated" in summary


def test_documents_csv_has_no_formulas_and_keeps_the_text(hostile_run):
    run_dir, corpus, _, _ = hostile_run
    rows = list(
        csv.DictReader(io.StringIO((run_dir / "documents.csv").read_text(encoding="utf-8")))
    )
    assert len(rows) == len(corpus)
    for row, doc_id, title in zip(rows, corpus.ids, corpus.titles):
        for col in ("doc_id", "title", "topic_label", "path"):
            assert not row[col].startswith(FORMULA_START), row[col]
        assert row["doc_id"] == safe_cell(doc_id) and row["title"] == safe_cell(title)
        # The text is all there: only the leading apostrophe was added.
        assert row["title"].removeprefix("'") == title or not title.startswith(FORMULA_START)
    assert {'\'=HYPERLINK("http://evil.example","click me")', "'-2+3 reinforcement learning"} <= {
        r["title"] for r in rows
    }
    topics = list(csv.DictReader(io.StringIO((run_dir / "topics.csv").read_text(encoding="utf-8"))))
    assert all(not r["label"].startswith(FORMULA_START) for r in topics)


def test_yaml_and_json_trees_round_trip_exactly(hostile_run):
    run_dir, corpus, _, _ = hostile_run
    tree_json = json.loads((run_dir / "taxonomy.json").read_text(encoding="utf-8"))
    tree_yaml = yaml.safe_load((run_dir / "taxonomy.yaml").read_text(encoding="utf-8"))
    assert tree_yaml == tree_json

    def reps(node):
        yield from node["representative"]
        for child in node.get("children", []):
            yield from reps(child)

    assert set(reps(tree_json["root"])) <= set(
        corpus.ids
    )  # hostile ids come back as the same strings
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    assert cfg["report"]["title"] == '<script>alert("report-title")</script>'


def test_report_html_runs_no_corpus_text(hostile_run, sample_run):
    from taxonomy.outputs.report import unpacked

    run_dir, corpus, _, _ = hostile_run
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    plain = (sample_run[1] / "report.html").read_text(encoding="utf-8")
    # The page has exactly the script elements of an ordinary report: none came from the corpus.
    assert html.count("<script") == plain.count("<script")
    for bad in ("<script>alert", "onerror=", "<img", "{{ 7*7 }}", "</script><script>"):
        assert bad not in html, bad
    assert (
        "&lt;script&gt;alert(&#34;report-title&#34;)&lt;/script&gt;" in html
    )  # escaped page title
    # The corpus text is inside the packed payloads, as data, unchanged.
    payloads = re.findall(
        r'<script type="application/octet-stream" id="(?:core|docs|text)-gz(?:-\d+)?">([^<]*)</script>',
        html,
    )
    strings: set[str] = set()

    def collect(x):
        if isinstance(x, str):
            strings.add(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                collect(k)
                collect(v)
        elif isinstance(x, list):
            for v in x:
                collect(v)

    for b64 in payloads:
        collect(unpacked(b64))
    assert set(corpus.titles) <= strings and set(corpus.ids) <= strings


# --- the writers on their own, with any text --------------------------------------------

ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"])) | st.text(
    alphabet="\x85\u2028\u2029\r\n \t'\":#-?{}[]!&*|>%@`=+\ufeff\x00\x1b\x7f"
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_yaml_and_json_round_trip_any_string(strings):
    data = {"label": strings[0], "keywords": strings, "children": [{s: s} for s in strings]}
    assert yaml.safe_load(yaml_text(data)) == data
    assert json.loads(json_text(data)) == data


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(st.lists(ANY_TEXT, min_size=1, max_size=4))
def test_csv_cells_never_start_a_formula(cells):
    text = csv_text(
        [f"c{i}" for i in range(len(cells))], [cells, [1, -2.5, None, True][: len(cells)]]
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 3
    for cell, original in zip(rows[1], cells):
        assert not cell.startswith(FORMULA_START)
        assert cell == original or cell == "'" + original
    assert rows[2] == ["1", "-2.5", "", "True"][: len(cells)]  # numbers stay numbers
