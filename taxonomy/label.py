"""Readable names for every taxonomy node.

Candidates are contiguous noun-phrase-like n-grams (never crossing a stop
word or punctuation), scored per node with class-based TF-IDF against the
other nodes of the same level (BERTopic's c-TF-IDF formula), re-ranked by
similarity of the phrase's embedding to the node's centroid, with MMR for
varied keywords. Names are chosen top-down so that no two nodes of the tree
share a name and a child never repeats its parent.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from .hierarchy import Taxonomy

# Words that say nothing about a paper's topic: they make names like "proposed method".
ACADEMIC_STOP_WORDS = frozenset("""
paper papers propose proposed proposes proposing present presents presented method methods
approach approaches result results show shows shown showing based using use used uses novel new
work works study studies demonstrate demonstrates demonstrated achieve achieves achieved
significantly significant existing experiments experimental extensive comprehensive substantial
superior outperform outperforms outperforming improve improves improved improving various different
including however recent recently furthermore additionally moreover et al e g ie eg i.e e.g via
introduce introduces introduced able specifically particular particularly respectively typically
provide provides provided enable enables leverage leverages leveraging given finally first second
third previous prior crucial key main yields yield address addresses paradigm challenge
challenges problem problems art state-of-the-art sota effectiveness well widely commonly
""".split())

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_LATEX = re.compile(r"\$[^$]*\$|\\[A-Za-z]+")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”/|=+*<>]")

Embed = Callable[[list[str]], np.ndarray]


def stop_words(extra: list[str] = ()) -> frozenset[str]:
    return frozenset(ENGLISH_STOP_WORDS | ACADEMIC_STOP_WORDS | {w.lower() for w in extra})


def phrase_chunks(text: str, stops: frozenset[str]) -> list[list[str]]:
    """Runs of content words: stop words, numbers and punctuation end a run."""
    chunks: list[list[str]] = []
    for segment in _BREAK.split(_LATEX.sub(" ", text)):
        run: list[str] = []
        for tok in segment.split():
            m = _TOKEN.fullmatch(tok.strip("'’`-"))
            word = m.group(0).lower() if m else None
            if word is None or word in stops or len(word) < 2:
                if run:
                    chunks.append(run)
                run = []
            else:
                run.append(word)
        if run:
            chunks.append(run)
    return chunks


def make_analyzer(stops: frozenset[str], ngram_range: tuple[int, int]) -> Callable[[str], list[str]]:
    lo, hi = ngram_range

    def analyze(text: str) -> list[str]:
        grams = []
        for run in phrase_chunks(text, stops):
            for n in range(lo, hi + 1):
                grams.extend(" ".join(run[i:i + n]) for i in range(len(run) - n + 1))
        return grams

    return analyze


def c_tf_idf(class_counts: sp.csr_matrix) -> sp.csr_matrix:
    """BERTopic's c-TF-IDF: per-class term frequency x log(1 + mean words per class / term frequency)."""
    counts = class_counts.astype(np.float64)
    tf = sp.diags(1.0 / np.maximum(np.asarray(counts.sum(axis=1)).ravel(), 1)) @ counts
    df = np.asarray(counts.sum(axis=0)).ravel()
    avg = counts.sum() / counts.shape[0]
    idf = np.log(1 + avg / np.maximum(df, 1))
    return sp.csr_matrix(tf @ sp.diags(idf))


def mmr(relevance: np.ndarray, vectors: np.ndarray, k: int, diversity: float) -> list[int]:
    """Maximal marginal relevance: indices of ``k`` relevant but mutually different items."""
    chosen: list[int] = []
    rest = list(range(len(relevance)))
    sim = vectors @ vectors.T
    while rest and len(chosen) < k:
        if chosen:
            redundancy = sim[np.ix_(rest, chosen)].max(axis=1)
        else:
            redundancy = np.zeros(len(rest))
        score = (1 - diversity) * relevance[rest] - diversity * redundancy
        pick = rest[int(np.argmax(score))]
        chosen.append(pick)
        rest.remove(pick)
    return chosen


def _norm_form(phrase: str) -> str:
    """Crude singular form, so 'scaling law' and 'scaling laws' count as one name."""
    return " ".join(w[:-1] if w.endswith("s") and len(w) > 3 and not w.endswith("ss") else w
                    for w in phrase.split())


class Labeller:
    """Names, keywords and representative papers for every node of a taxonomy."""

    def __init__(self, texts: list[str], X: np.ndarray, embed: Embed, *, n_keywords: int = 10,
                 ngram_range: tuple[int, int] = (1, 3), max_words: int = 4, n_candidates: int = 30,
                 diversity: float = 0.3, n_representative: int = 3, extra_stop_words: list[str] = ()):
        self.texts, self.X, self.embed = texts, X, embed
        self.n_keywords, self.max_words, self.n_candidates = n_keywords, max_words, n_candidates
        self.diversity, self.n_representative = diversity, n_representative
        self.stops = stop_words(extra_stop_words)
        self.vectorizer = CountVectorizer(
            analyzer=make_analyzer(self.stops, ngram_range), min_df=2 if len(texts) >= 20 else 1
        )
        self.doc_terms = self.vectorizer.fit_transform(texts).tocsr()
        self.vocab = self.vectorizer.get_feature_names_out()
        self.n_words = np.array([len(v.split()) for v in self.vocab])
        self.doc_freq = np.asarray((self.doc_terms > 0).sum(axis=0)).ravel()

    def label_tree(self, tax: Taxonomy) -> None:
        """Fill label, keywords, top_words and representative papers of every node in place."""
        Xn = self.X / np.maximum(np.linalg.norm(self.X, axis=1, keepdims=True), 1e-12)
        pools: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}
        for level in range(0, tax.n_levels + 1):
            nodes = tax.level(level)
            scores = self._level_scores([n.doc_idx for n in nodes])
            for node, row in zip(nodes, scores):
                centroid = Xn[node.doc_idx].mean(axis=0)
                centroid /= max(np.linalg.norm(centroid), 1e-12)
                phrases, vals = self._candidates(row, node.doc_idx)
                pools[node.node_id] = (phrases, vals, centroid)
                node.top_words = self._top_words(row)
                sims = Xn[node.doc_idx] @ centroid
                node.representative = [int(node.doc_idx[i]) for i in np.argsort(-sims)[: self.n_representative]]
        # One embedding call for every candidate phrase of the tree (cached per phrase).
        unique = sorted({p for phrases, _, _ in pools.values() for p in phrases})
        P = self.embed(unique) if unique else np.zeros((0, self.X.shape[1]), dtype=np.float32)
        P = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
        row_of = {p: i for i, p in enumerate(unique)}
        ranked: dict[str, list[tuple[str, float]]] = {}
        for node_id, (phrases, vals, centroid) in pools.items():
            ranked[node_id], tax.nodes[node_id].keywords = self._rank(
                phrases, vals, P[[row_of[p] for p in phrases]], centroid
            )
        self._choose_names(tax, ranked)

    def _level_scores(self, groups: list[np.ndarray]) -> sp.csr_matrix:
        rows = np.concatenate([np.full(g.size, i) for i, g in enumerate(groups)])
        cols = np.concatenate(groups)
        member = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(len(groups), self.doc_terms.shape[0]))
        return c_tf_idf(member @ self.doc_terms)

    def _top_words(self, row: sp.csr_matrix) -> list[str]:
        idx, vals = row.indices, row.data
        uni = self.n_words[idx] == 1
        order = np.argsort(-vals[uni], kind="stable")
        return [str(self.vocab[i]) for i in idx[uni][order][:10]]

    def _candidates(self, row: sp.csr_matrix, doc_idx: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The node's best phrases by c-TF-IDF, fragments of longer phrases removed."""
        idx, vals = row.indices, row.data
        ok = self.n_words[idx] <= self.max_words
        idx, vals = idx[ok], vals[ok]
        # Phrases seen in at least two of the node's papers (one paper is a quirk, not a topic).
        in_node = np.asarray((self.doc_terms[doc_idx][:, idx] > 0).sum(axis=0)).ravel()
        keep = in_node >= min(2, doc_idx.size)
        idx, vals = idx[keep], vals[keep]
        top = np.argsort(-vals, kind="stable")[: self.n_candidates * 2]
        idx, vals = idx[top], vals[top]
        phrases, vals = _drop_fragments([str(self.vocab[i]) for i in idx], vals, self.doc_freq[idx])
        return phrases[: self.n_candidates], vals[: self.n_candidates]

    def _rank(self, phrases: list[str], vals: np.ndarray, P: np.ndarray, centroid: np.ndarray):
        """Candidates by relevance (centroid similarity + scaled c-TF-IDF) and MMR keywords."""
        if not phrases:
            return [], []
        relevance = P @ centroid + 0.5 * vals / vals.max()
        order = np.argsort(-relevance, kind="stable")
        ranked = [(phrases[i], float(relevance[i])) for i in order]
        picks = mmr(relevance, P, self.n_keywords, self.diversity)
        return ranked, [phrases[i] for i in picks]

    def _choose_names(self, tax: Taxonomy, candidates: dict[str, list[tuple[str, float]]]) -> None:
        used: set[str] = set()
        # Top-down, and within a level largest first: broad nodes get first pick of broad names.
        for level in range(0, tax.n_levels + 1):
            for node in sorted(tax.level(level), key=lambda n: (-n.size, n.index)):
                parent_form = _norm_form(tax.nodes[node.parent_id].label.lower()) if node.parent_id else None
                name = None
                for phrase, _ in candidates[node.node_id]:
                    form = _norm_form(phrase)
                    if form in used or form == parent_form:
                        continue
                    name = phrase
                    break
                if name is None:
                    name = self._fallback_name(node, used)
                used.add(_norm_form(name))
                node.label = self._surface(name, node.doc_idx)

    def _fallback_name(self, node, used: set[str]) -> str:
        base = node.keywords[0] if node.keywords else "miscellaneous"
        n = 2
        while _norm_form(f"{base} {n}") in used:
            n += 1
        return f"{base} ({n})" if node.keywords else f"topic {node.node_id}"

    def _surface(self, phrase: str, doc_idx: np.ndarray) -> str:
        """Keep acronyms and mixed case as written in the papers ('LLMs', 'BEIR'); else lower case."""
        words = phrase.split()
        counts: dict[str, Counter] = {w: Counter() for w in words}
        for i in doc_idx[:200]:
            for tok in re.findall(r"[A-Za-z][A-Za-z0-9\-']*", self.texts[i]):
                low = tok.lower()
                if low in counts:
                    counts[low][tok] += 1
        out = []
        for w in words:
            form = counts[w].most_common(1)[0][0] if counts[w] else w
            keep = any(c.isupper() for c in form[1:])
            out.append(form if keep else w)
        return " ".join(out)


def _drop_fragments(phrases: list[str], vals: np.ndarray, df: np.ndarray):
    """Drop an n-gram that nearly always occurs inside a longer candidate ('large language')."""
    keep = []
    for i, p in enumerate(phrases):
        frag = any(
            j != i and len(q) > len(p) and f" {p} " in f" {q} " and df[j] >= 0.7 * df[i]
            for j, q in enumerate(phrases)
        )
        keep.append(not frag)
    keep = np.array(keep, dtype=bool)
    return [p for p, k in zip(phrases, keep) if k], vals[keep]
