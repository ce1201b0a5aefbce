"""The benchmark's protocol: the neutral NPMI reference, the held-out halves, stability."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomy.evaluate import holdout_half, neutral_tokens, npmi_coherence, stability


class TestNeutralReference:
    def test_lower_cased_words_english_stop_words_only(self):
        toks = neutral_tokens(["The Pre-trained Model, proposed in 2023, results in $\\alpha$."])
        # sklearn's analyzer: "pre-trained" is two words, numbers stay, no academic stop words.
        assert toks == [["pre", "trained", "model", "proposed", "2023", "results", "alpha"]]

    def test_same_tokens_as_scikit_learn_english_analyzer(self):
        from sklearn.feature_extraction.text import CountVectorizer

        texts = ["Graph neural networks for molecules.", "We study the x-ray spectra of stars."]
        analyze = CountVectorizer(stop_words="english").build_analyzer()
        assert neutral_tokens(texts) == [analyze(t) for t in texts]

    def test_any_methods_words_are_scored_alike(self):
        texts = ["proposed results trained model"] * 3 + ["graph node edge"] * 3
        ref = neutral_tokens(texts)
        # Words our labeller treats as stop words are in the reference: not the floor (-1).
        assert npmi_coherence([["proposed", "results"]], ref)[0] > 0.9


class TestHoldoutHalf:
    IDS = tuple(f"paper-{i}" for i in range(4000))

    def test_deterministic(self):
        assert [holdout_half(i) for i in self.IDS] == [holdout_half(i) for i in self.IDS]

    def test_disjoint_and_about_half(self):
        halves = [holdout_half(i) for i in self.IDS]
        assert set(halves) == {"tune", "test"}
        share = halves.count("test") / len(halves)
        assert 0.45 < share < 0.55

    def test_depends_on_the_id_not_the_order(self):
        ids = self.IDS[:200]
        forward = dict(zip(ids, (holdout_half(i) for i in ids)))
        backward = dict(zip(ids[::-1], (holdout_half(i) for i in ids[::-1])))
        assert forward == backward

    def test_seed_gives_another_split(self):
        a = [holdout_half(i, 0) for i in self.IDS[:500]]
        b = [holdout_half(i, 1) for i in self.IDS[:500]]
        assert a != b


class TestStability:
    def test_identical_assignments_agree_fully(self):
        x = [0, 0, 1, 1, 2, 2, -1]
        s = stability([x, x, x])
        assert s["nmi"] == pytest.approx(1.0) and s["ari"] == pytest.approx(1.0)
        assert s["n_pairs"] == 3

    def test_relabelling_is_not_instability(self):
        a = [0, 0, 1, 1, 2, 2]
        b = [5, 5, 3, 3, 4, 4]
        assert stability([a, b])["ari"] == pytest.approx(1.0)

    def test_moved_papers_lower_agreement(self):
        rng = np.random.default_rng(0)
        base = np.repeat(np.arange(5), 40)
        moved = base.copy()
        idx = rng.choice(base.size, 60, replace=False)
        moved[idx] = rng.integers(0, 5, idx.size)
        s = stability([base, moved, base])
        assert 0 < s["ari"] < 1 and 0 < s["nmi"] < 1

    def test_one_assignment_has_no_pairs(self):
        assert stability([[0, 1]])["nmi"] is None
