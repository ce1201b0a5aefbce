"""Readable names for every taxonomy node.

Candidates are contiguous noun-phrase-like n-grams (never crossing a stop
word or punctuation), scored per node with class-based TF-IDF against the
other nodes of the same level (BERTopic's c-TF-IDF formula), re-ranked by
similarity of the phrase's embedding to the node's centroid, with MMR for
varied keywords. Names are chosen top-down so that no two nodes of the tree
share a name and a child never repeats its parent.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from .hierarchy import Taxonomy


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that say nothing about a paper's topic: they make names like "proposed method".
ACADEMIC_STOP_WORDS = _word_set("""
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
""")

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*")
_LATEX = re.compile(r"\$[^$]*\$|\\[A-Za-z]+|https?://\S+|www\.\S+|\S+@\S+")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”/|=+*<>]")

Embed = Callable[[list[str]], np.ndarray]

# Pseudo-papers of prior in a lift, so a phrase of two papers cannot look perfect.
PRIOR_PAPERS = 1.0
MIN_LIFT = 0.25
# A name ends in a noun: these endings mark adverbs, participles and adjectives.
_NOT_NOUN_END = re.compile(r"(ly|ed|able|ible|ous|ful|less|ive)$")


def stop_words(extra: list[str] = ()) -> frozenset[str]:
    return frozenset(ENGLISH_STOP_WORDS | ACADEMIC_STOP_WORDS | {w.lower() for w in extra})


def phrase_chunks(text: str, stops: frozenset[str]) -> list[list[str]]:
    """Runs of content words: stop words, numbers and punctuation end a run."""
    chunks: list[list[str]] = []
    for segment in _BREAK.split(_LATEX.sub(" . ", text)):  # LaTeX and URLs end a run
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


def make_analyzer(
    stops: frozenset[str], ngram_range: tuple[int, int]
) -> Callable[[str], list[str]]:
    lo, hi = ngram_range

    def analyze(text: str) -> list[str]:
        grams = []
        for run in phrase_chunks(text, stops):
            for n in range(lo, hi + 1):
                grams.extend(" ".join(run[i : i + n]) for i in range(len(run) - n + 1))
        return grams

    return analyze


def c_tf_idf(class_counts: sp.csr_matrix, reduce_frequent_words: bool = False) -> sp.csr_matrix:
    """BERTopic's c-TF-IDF: per-class term frequency x log(1 + mean words per class / term frequency).

    ``reduce_frequent_words`` takes the square root of the term frequency, as
    BERTopic's option of that name does, so a few very frequent words do not
    crowd out the distinctive ones.
    """
    counts = class_counts.astype(np.float64)
    tf = sp.csr_matrix(
        sp.diags(1.0 / np.maximum(np.asarray(counts.sum(axis=1)).ravel(), 1)) @ counts
    )
    if reduce_frequent_words:
        tf.data = np.sqrt(tf.data)
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
    return " ".join(
        w[:-1] if w.endswith("s") and len(w) > 3 and not w.endswith("ss") else w
        for w in phrase.split()
    )


@functools.lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _name_keys(phrase: str) -> set[str]:
    """Forms under which a name counts as taken: singular form, Snowball stems (so
    'superconducting' is taken by 'superconductivity'), and the acronym of a multi-word
    name ('information retrieval' also takes 'IR')."""
    form = _norm_form(phrase.lower())
    words = form.split()
    keys = {form, "stem:" + " ".join(_stemmer().stemWords(words))}
    if len(words) > 1:
        keys.add("".join(w[0] for w in words))
    return keys


def _lift(df_in: np.ndarray, n_in: int, df_scope: np.ndarray, n_scope: int) -> np.ndarray:
    """0 when the node's papers use a phrase as often as the scope's do, 1 when only they do."""
    base = n_in / n_scope
    if base >= 1:
        return np.ones(df_in.shape)
    precision = (df_in + base * PRIOR_PAPERS) / (df_scope + PRIOR_PAPERS)
    return np.clip((precision - base) / (1 - base), 0.0, 1.0)


def _siblings(tax: Taxonomy, node_id: str) -> list[str]:
    """The node's siblings; for an only child, those of its nearest ancestor that has some."""
    node = tax.nodes[node_id]
    while node.parent_id is not None:
        others = [c for c in tax.nodes[node.parent_id].children if c != node.node_id]
        if others:
            return others
        node = tax.nodes[node.parent_id]
    return []


def fragment_mask(vocab: np.ndarray, doc_freq: np.ndarray, share: float = 0.7) -> np.ndarray:
    """True for an n-gram that mostly occurs inside one longer n-gram ('large language' in
    'large language models'): as a name it would read as a fragment."""
    index = {str(v): i for i, v in enumerate(vocab)}
    best_ext = np.zeros(len(vocab))
    for j, q in enumerate(vocab):
        words = str(q).split()
        if len(words) < 2:
            continue
        for part in (" ".join(words[:-1]), " ".join(words[1:])):
            i = index.get(part)
            if i is not None:
                best_ext[i] = max(best_ext[i], doc_freq[j])
    return best_ext >= share * np.maximum(doc_freq, 1)


class Labeller:
    """Names, keywords and representative papers for every node of a taxonomy.

    Names come from the node's own papers. Each candidate phrase (a run of
    content words, singular and plural merged) is scored as
    ``sqrt(coverage) * lift + sim_weight * similarity + contrast_weight * contrast``:
    coverage is the share of the node's papers using it; lift how much more
    often they use it than the parent's papers and the whole corpus do (0 = as
    often, 1 = only they do); similarity the cosine of the phrase's embedding
    to the node's centroid; contrast how much closer it is to this node than
    to the nearest sibling. A phrase yields to a longer phrase containing it
    that covers at least ``specific_share`` of its papers ('scaling' to
    'scaling laws'); corpus-wide fragments ('large language') and phrases
    ending in an adjective, adverb or participle are never names. Names are
    picked top-down, so no two nodes of the tree share one.
    """

    def __init__(
        self,
        texts: list[str],
        X: np.ndarray,
        embed: Embed,
        *,
        n_keywords: int = 10,
        ngram_range: tuple[int, int] = (1, 3),
        max_words: int = 4,
        n_candidates: int = 30,
        diversity: float = 0.3,
        n_representative: int = 3,
        extra_stop_words: list[str] = (),
    ):
        self.texts, self.X, self.embed = texts, X, embed
        self.n_keywords, self.max_words, self.n_candidates = n_keywords, max_words, n_candidates
        self.diversity, self.n_representative = diversity, n_representative
        self.specific_share, self.sim_weight, self.contrast_weight = 0.5, 0.5, 0.5
        self.stops = stop_words(extra_stop_words)
        self.vectorizer = CountVectorizer(
            analyzer=make_analyzer(self.stops, ngram_range), min_df=2 if len(texts) >= 20 else 1
        )
        self.doc_terms = self.vectorizer.fit_transform(texts).tocsr()
        self.vocab = self.vectorizer.get_feature_names_out()
        self.n_words = np.array([len(v.split()) for v in self.vocab])
        self.plain_word = np.array([v.isalnum() for v in self.vocab])
        doc_freq = np.asarray((self.doc_terms > 0).sum(axis=0)).ravel()
        self.fragment = fragment_mask(self.vocab, doc_freq)
        self._build_name_vocab(doc_freq)

    def _build_name_vocab(self, doc_freq: np.ndarray) -> None:
        """Name candidates: the vocabulary with singular and plural forms merged."""
        forms = [_norm_form(str(v)) for v in self.vocab]
        group_of = {f: g for g, f in enumerate(dict.fromkeys(forms))}
        cols = np.array([group_of[f] for f in forms])
        merge = sp.csr_matrix(
            (np.ones(len(forms)), (np.arange(len(forms)), cols)), shape=(len(forms), len(group_of))
        )
        self.present = ((self.doc_terms @ merge) > 0).astype(np.float32).tocsr()
        self.forms = np.array(list(group_of), dtype=object)
        self.df = np.asarray(self.present.sum(axis=0)).ravel()
        # Shown as the variant most papers write.
        surface = [""] * len(group_of)
        best = np.full(len(group_of), -1.0)
        for i, g in enumerate(cols):
            if doc_freq[i] > best[g]:
                best[g], surface[g] = doc_freq[i], str(self.vocab[i])
        self.surface = np.array(surface, dtype=object)
        self.form_words = np.array([len(f.split()) for f in self.forms])
        self.form_fragment = fragment_mask(self.forms, self.df)
        self.nameable = (
            (self.form_words <= self.max_words)
            & ~self.form_fragment
            & np.array([not _NOT_NOUN_END.search(w.split()[-1]) for w in surface])
        )
        # Longer forms containing each form, for the "yield to a more specific phrase" rule.
        self.longer: dict[int, list[int]] = {}
        for j, f in enumerate(self.forms):
            words = f.split()
            for n in range(1, len(words)):
                for k in range(len(words) - n + 1):
                    i = group_of.get(" ".join(words[k : k + n]))
                    if i is not None and self.nameable[j]:
                        self.longer.setdefault(i, []).append(j)

    def label_tree(self, tax: Taxonomy) -> None:
        """Fill label, keywords, top_words and representative papers of every node in place."""
        Xn = self.X / np.maximum(np.linalg.norm(self.X, axis=1, keepdims=True), 1e-12)
        pools: dict[str, tuple[list[str], np.ndarray]] = {}
        names: dict[str, tuple[list[str], np.ndarray]] = {}
        centroids: dict[str, np.ndarray] = {}
        for level in range(tax.n_levels + 1):
            nodes = tax.level(level)
            counts = self._level_counts([n.doc_idx for n in nodes])
            scores = c_tf_idf(counts)
            # Top words (for coherence and diversity) damp frequent words: measured on BBC
            # this lifts NPMI .158 -> .183 and diversity .833 -> .950 on the same topics.
            word_scores = c_tf_idf(counts, reduce_frequent_words=True)
            for node, row, word_row in zip(nodes, scores, word_scores):
                centroid = Xn[node.doc_idx].mean(axis=0)
                centroids[node.node_id] = centroid / max(np.linalg.norm(centroid), 1e-12)
                pools[node.node_id] = self._candidates(row, node.doc_idx)
                scope = tax.nodes[node.parent_id].doc_idx if node.parent_id else None
                names[node.node_id] = self._name_candidates(node.doc_idx, scope)
                node.top_words = self._top_words(word_row)
                sims = Xn[node.doc_idx] @ centroids[node.node_id]
                node.representative = [
                    int(node.doc_idx[i]) for i in np.argsort(-sims)[: self.n_representative]
                ]
        # One embedding call for every phrase of the tree (cached per phrase).
        unique = sorted({p for phrases, _ in [*pools.values(), *names.values()] for p in phrases})
        P = self.embed(unique) if unique else np.zeros((0, self.X.shape[1]), dtype=np.float32)
        P = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)
        row_of = {p: i for i, p in enumerate(unique)}
        for node_id, (phrases, vals) in pools.items():
            tax.nodes[node_id].keywords = self._keywords(
                phrases, vals, P[[row_of[p] for p in phrases]], centroids[node_id]
            )
        ranked: dict[str, list[str]] = {}
        for node_id, (phrases, vals) in names.items():
            if not phrases:
                ranked[node_id] = []
                continue
            Pn = P[[row_of[p] for p in phrases]]
            sims = Pn @ centroids[node_id]
            others = [centroids[o] for o in _siblings(tax, node_id)]
            # Closer to this node than to any sibling: says what sets it apart.
            contrast = (
                sims - (Pn @ np.stack(others).T).max(axis=1) if others else np.zeros_like(sims)
            )
            if tax.nodes[node_id].parent_id is None:
                # The root has nothing to stand out from: the most used phrase close to its centre.
                score = np.sqrt(vals) * sims
            else:
                score = vals + self.sim_weight * sims + self.contrast_weight * contrast
            ranked[node_id] = [phrases[i] for i in np.argsort(-score, kind="stable")]
        self._choose_names(tax, ranked)

    def _level_counts(self, groups: list[np.ndarray]) -> sp.csr_matrix:
        rows = np.concatenate([np.full(g.size, i) for i, g in enumerate(groups)])
        cols = np.concatenate(groups)
        member = sp.csr_matrix(
            (np.ones(rows.size), (rows, cols)), shape=(len(groups), self.doc_terms.shape[0])
        )
        return sp.csr_matrix(member @ self.doc_terms)

    def _top_words(self, row: sp.csr_matrix) -> list[str]:
        idx, vals = row.indices, row.data
        # Unigrams the NPMI reference also has as one token (it splits "pre-trained" in two).
        uni = (self.n_words[idx] == 1) & self.plain_word[idx]
        order = np.argsort(-vals[uni], kind="stable")
        return [str(self.vocab[i]) for i in idx[uni][order][:10]]

    def name_stats(self, doc_idx: np.ndarray, scope: np.ndarray | None) -> dict[str, np.ndarray]:
        """Per name form: papers of the node using it, coverage, lift and count score.

        Lift is the smaller of the lifts over the parent's papers (``scope``)
        and over the corpus, with one pseudo-paper of prior so that a phrase of
        two papers cannot look perfect.
        """
        df_in = np.asarray(self.present[doc_idx].sum(axis=0)).ravel()
        cover = df_in / max(doc_idx.size, 1)
        lift = _lift(df_in, doc_idx.size, self.df, self.present.shape[0])
        if scope is not None and scope.size > doc_idx.size:
            df_scope = np.asarray(self.present[scope].sum(axis=0)).ravel()
            lift = np.minimum(lift, _lift(df_in, doc_idx.size, df_scope, scope.size))
        return {"df": df_in, "cover": cover, "lift": lift, "score": cover * lift}

    def _name_candidates(
        self, doc_idx: np.ndarray, scope: np.ndarray | None
    ) -> tuple[list[str], np.ndarray]:
        """Readable phrases that mark the node's papers within its parent, best count score first."""
        st = self.name_stats(doc_idx, scope)
        df = st["df"]
        if scope is None:  # the root: what the corpus is most about, by coverage alone
            st["score"] = st["cover"]
        # A name must mark the node: its papers use it clearly more often than the rest do.
        ok = (
            self.nameable
            & (df >= min(2, doc_idx.size))
            & ((st["lift"] >= MIN_LIFT) | (scope is None))
        )
        if scope is None and (ok & (self.form_words > 1)).any():
            ok &= (
                self.form_words > 1
            )  # one word most papers use ("models") says nothing of a corpus
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(-st["score"][idx], kind="stable")[: 4 * self.n_candidates]]
        # A phrase yields to a longer one that most of its papers use ('scaling' -> 'scaling laws').
        top = [
            i
            for i in idx
            if not any(df[j] >= self.specific_share * df[i] for j in self.longer.get(int(i), ()))
        ]
        top = np.array(top[: self.n_candidates], dtype=np.int64)
        return [str(self.surface[i]) for i in top], st["score"][top]

    def _candidates(self, row: sp.csr_matrix, doc_idx: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The node's best keyword phrases by c-TF-IDF, fragments of longer phrases removed."""
        idx, vals = row.indices, row.data
        ok = (self.n_words[idx] <= self.max_words) & ~self.fragment[idx]
        idx, vals = idx[ok], vals[ok]
        # Phrases seen in at least two of the node's papers (one paper is a quirk, not a topic).
        in_node = np.asarray((self.doc_terms[doc_idx][:, idx] > 0).sum(axis=0)).ravel()
        keep = in_node >= min(2, doc_idx.size)
        idx, vals = idx[keep], vals[keep]
        top = np.argsort(-vals, kind="stable")[: self.n_candidates]
        return [str(self.vocab[i]) for i in idx[top]], vals[top]

    def _keywords(
        self, phrases: list[str], vals: np.ndarray, P: np.ndarray, centroid: np.ndarray
    ) -> list[str]:
        """Keywords: candidates by relevance (centroid similarity + scaled c-TF-IDF), varied by MMR."""
        if not phrases:
            return []
        relevance = P @ centroid + 0.5 * vals / vals.max()
        return [phrases[i] for i in mmr(relevance, P, self.n_keywords, self.diversity)]

    def _choose_names(self, tax: Taxonomy, ranked: dict[str, list[str]]) -> None:
        used: set[str] = set()
        # Top-down, and within a level largest first: broad nodes get first pick of broad names.
        # The root, never shown in a path, picks last.
        order = [
            n
            for level in range(1, tax.n_levels + 1)
            for n in sorted(tax.level(level), key=lambda n: (-n.size, n.index))
        ] + [tax.root]
        for node in order:
            name = next((p for p in ranked[node.node_id] if not _name_keys(p) & used), None)
            if name is None:
                name = self._fallback_name(node, used)
            used |= _name_keys(name)
            node.label = self._surface(name, node.doc_idx)

    def _fallback_name(self, node, used: set[str]) -> str:
        """Any unused phrase of the node's papers, most used first (tiny or repeated nodes)."""
        df = np.asarray(self.present[node.doc_idx].sum(axis=0)).ravel()
        idx = np.flatnonzero(self.nameable & (df > 0))
        for i in idx[np.argsort(-df[idx], kind="stable")]:
            if not _name_keys(str(self.surface[i])) & used:
                return str(self.surface[i])
        return f"other {node.node_id}"

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
