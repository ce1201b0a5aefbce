"""Metrics checked against scikit-learn, gensim (when installed) and hand computation."""

from __future__ import annotations

import csv
import json
import math
import random

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

from taxonomy.cli import main
from taxonomy.evaluate import (
    EPSILON,
    _window_incidence,
    fitting_gold,
    gold_agreement,
    gold_scores,
    npmi_coherence,
    reference_tokens,
    size_spread,
    topic_diversity,
)


def _npmi(p_ab: float, p_a: float, p_b: float) -> float:
    return math.log((p_ab + EPSILON) / (p_a * p_b)) / -math.log(p_ab + EPSILON)


class TestNpmi:
    # Four texts shorter than the window: each is one virtual document.
    docs = (["a", "b"], ["a", "b", "c"], ["c", "d"], ["a"])

    def test_hand_computed(self):
        got = npmi_coherence([["a", "b"], ["c", "d"], ["a", "d"]], self.docs)
        # p(a)=3/4, p(b)=2/4, p(a,b)=2/4 -> log(4/3)/log(2)
        assert got[0] == pytest.approx(math.log(4 / 3) / math.log(2), abs=1e-9)
        # p(c)=2/4, p(d)=1/4, p(c,d)=1/4 -> log 2 / log 4 = 0.5
        assert got[1] == pytest.approx(0.5, abs=1e-9)
        # never together: gensim's epsilon gives a value near the floor
        assert got[2] == pytest.approx(_npmi(0.0, 0.75, 0.25), abs=1e-9)
        assert -1 < got[2] < -0.9

    def test_topic_score_is_mean_over_word_pairs(self):
        three = npmi_coherence([["a", "b", "c"]], self.docs)[0]
        pairs = [_npmi(2 / 4, 3 / 4, 2 / 4), _npmi(1 / 4, 3 / 4, 2 / 4), _npmi(1 / 4, 2 / 4, 2 / 4)]
        assert three == pytest.approx(np.mean(pairs), abs=1e-9)

    def test_absent_word_and_short_topic(self):
        got = npmi_coherence([["a", "zzz"], ["a"]], self.docs)
        assert got[0] == -1.0
        assert math.isnan(got[1])

    def test_sliding_windows_follow_gensim(self):
        # window 3 over "a b a c": windows [a b a], [b a c]; gensim's slide drops the
        # 'a' leaving on the left although another 'a' is still inside.
        M = _window_incidence([np.array([0, 1, 0, 2])], 3, 3).toarray()
        assert M.tolist() == [[1, 1, 0], [0, 1, 1]]
        # a text shorter than the window is one window; an empty one still counts
        M = _window_incidence([np.array([0, -1]), np.array([], dtype=np.int64)], 3, 3).toarray()
        assert M.tolist() == [[1, 0, 0], [0, 0, 0]]

    def test_matches_gensim(self):
        pytest.importorskip("gensim")
        from gensim.corpora import Dictionary
        from gensim.models.coherencemodel import CoherenceModel

        rng = random.Random(0)
        words = [f"w{i}" for i in range(30)]
        texts = [
            [rng.choice(words[: rng.randint(4, 30)]) for _ in range(rng.randint(0, 40))]
            for _ in range(150)
        ]
        d = Dictionary(texts)
        topics = [rng.sample(sorted(d.token2id), 10) for _ in range(5)]
        want = CoherenceModel(
            topics=topics, texts=texts, dictionary=d, coherence="c_npmi", topn=10, processes=1
        ).get_coherence_per_topic()
        assert npmi_coherence(topics, texts) == pytest.approx(want, abs=1e-9)

    def test_reference_tokens_drop_stop_words_and_latex(self):
        toks = reference_tokens(
            ["The $\\alpha$-Model of graph-based Learning, 2024."], frozenset({"the", "of"})
        )
        assert toks == [["model", "graph-based", "learning"]]


def test_topic_diversity_hand_example():
    topics = [["a", "b", "c"], ["a", "d", "e"]]
    # 5 unique words over 3 x 2 slots
    assert topic_diversity(topics, topn=3) == pytest.approx(5 / 6)
    assert topic_diversity([["a", "b"], ["a", "b"]], topn=2) == pytest.approx(0.5)


def test_size_spread():
    assert size_spread([5, 5, 5, 5])["gini"] == pytest.approx(0.0)
    s = size_spread([1, 1, 1, 97])
    assert s["largest_share"] == pytest.approx(0.97)
    assert s["gini"] > 0.7 and (s["min"], s["max"]) == (1, 97)


class TestGold:
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 5, 300).astype(str).tolist()
    pred = np.where(rng.random(300) < 0.7, np.array(gold, dtype=int), rng.integers(-1, 8, 300))

    def test_scores_equal_sklearn_with_outliers_as_a_class(self):
        got = gold_scores(self.pred.tolist(), self.gold)
        assert got["nmi"] == pytest.approx(
            normalized_mutual_info_score(self.gold, self.pred), abs=1e-4
        )
        assert got["ari"] == pytest.approx(adjusted_rand_score(self.gold, self.pred), abs=1e-4)
        assert got["v_measure"] == pytest.approx(v_measure_score(self.gold, self.pred), abs=1e-4)

    def test_papers_without_gold_are_left_out(self):
        gold = [None if i % 4 == 0 else g for i, g in enumerate(self.gold)]
        keep = [i for i in range(300) if i % 4]
        got = gold_scores(self.pred.tolist(), gold)
        want = normalized_mutual_info_score([self.gold[i] for i in keep], self.pred[keep])
        assert got["n"] == len(keep) and got["nmi"] == pytest.approx(want, abs=1e-4)

    def test_agreement_all_and_covered(self):
        out = gold_agreement({1: self.pred}, {"g": self.gold})
        row = out["scores"][0]
        cov = self.pred >= 0
        want = normalized_mutual_info_score(np.array(self.gold)[cov], self.pred[cov])
        assert row["nmi_covered"] == pytest.approx(want, abs=1e-4)
        assert row["coverage"] == pytest.approx(cov.mean(), abs=1e-4)
        assert out["best_level"]["g"]["level"] == 1

    def test_fitting_gold_is_nearest_class_count_on_log_scale(self):
        n = {"group": 3, "archive": 5, "primary_category": 24}
        assert fitting_gold(5, n) == "archive"
        assert fitting_gold(2, n) == "group"
        assert fitting_gold(22, n) == "primary_category"
        assert fitting_gold(140, n) == "primary_category"


def test_every_run_writes_the_metrics(sample_run):
    result, run_dir = sample_run
    m = json.loads((run_dir / "metrics.json").read_text())
    tax = result.taxonomy
    assert m["coverage"] == pytest.approx(1 - m["outlier_share"], abs=1e-3)
    assert set(m["npmi_per_node"]) == {nid for nid, n in tax.nodes.items() if n.level > 0}
    assert all(v is None or -1 <= v <= 1 for v in m["npmi_per_node"].values())
    assert m["npmi"] is not None and 0 < m["diversity"] <= 1
    leaves = m["quality_per_level"][str(tax.n_levels)]
    assert leaves["n_nodes"] == len(tax.level(tax.n_levels))
    assert leaves["size_spread"]["max"] == max(n.size for n in tax.level(tax.n_levels))


def _snapshot(run_dir):
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file()
    }


def test_evaluate_command_joins_on_doc_id(sample_run, tmp_path, capsys):
    """Gold = the run's own top level: the join and level rebuild must give NMI 1 there."""
    result, run_dir = sample_run
    with open(run_dir / "documents.csv", newline="", encoding="utf-8") as fh:
        docs = {r["doc_id"]: r for r in csv.DictReader(fh)}
    c = result.corpus
    rows = []
    for i in range(len(c)):
        top = (
            docs[c.ids[i]]["path"].split(" > ")[0] if int(docs[c.ids[i]]["topic_id"]) >= 0 else None
        )
        rows.append({"id": c.ids[i], "title": c.titles[i], "abstract": c.abstracts[i], "top": top})
    random.Random(1).shuffle(rows)  # order must not matter, only doc_id
    corpus = tmp_path / "with_gold.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    before = _snapshot(run_dir)

    assert main(["evaluate", str(run_dir), "--gold", "top", "--input", str(corpus)]) == 0
    out = json.loads((run_dir / "evaluation.json").read_text())
    (run_dir / "evaluation.json").unlink()
    assert _snapshot(run_dir) == before  # run files untouched
    row = next(r for r in out["gold_scores"] if r["level"] == 1)
    assert out["gold"]["levels"]["1"]["nmi_covered"] == pytest.approx(1.0)
    assert row["nmi_covered"] == pytest.approx(1.0) and row["ari_covered"] == pytest.approx(1.0)
    assert out["n_docs"] == len(c)
    assert (
        out["npmi_per_node"] == json.loads((run_dir / "metrics.json").read_text())["npmi_per_node"]
    )
    assert "level 1" in capsys.readouterr().out


def test_evaluate_command_needs_a_gold_field(sample_run, capsys):
    _, run_dir = sample_run
    assert main(["evaluate", str(run_dir)]) == 2
    assert "--gold" in capsys.readouterr().err
