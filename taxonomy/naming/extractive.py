"""Readable names, keywords and representative papers for every node of a taxonomy.

Names are phrases of the node's own papers (:mod:`taxonomy.naming.phrases`), chosen
top-down, one set of siblings at a time, so that the names work as a
researcher's labels work: each paper is closer (cosine of the bundled
embeddings) to its own node's name than to any sibling's name.

For a set of siblings the labeller picks one candidate per node to maximise

    sum over nodes of  fit(node) + prior_weight * prior(name)

* ``fit``: the share of the node's papers whose nearest name among the
  siblings' names is the node's own; for a parent, the mean of that share over
  its children, so a parent's name must reach every child's papers (a field's
  name, not one child's phrase);
* ``prior``: sqrt of the share of the node's papers that use the phrase (an
  established term beats a rare one), minus a penalty for a single word that
  stands in longer phrases of the node ("object" against "object detection").

Candidates are phrases that at least two of the node's papers use and that mark
it within its parent and the corpus (lift, see :meth:`Labeller.name_stats`); a
phrase yields to a longer one that most of its papers use ("scaling" ->
"scaling laws"). No two nodes of the tree share a name (plural, stem and
acronym forms count as the same name), so a child never repeats its parent. An
only child, which has no siblings to be told apart from, takes the candidate
closest to its papers that its parent's siblings do not claim; it has its
parent's papers, so of the two names the one nearer their centroid (the broader)
goes to the parent ("game theory" > "nash equilibrium"). The root is the
corpus (``root_name``), not a topic. A paper *relates* to a name when it uses the
phrase or the name is the nearest of its siblings' names; the share of a node's
papers that relate to its name (``name_fit``) is part of the objective, so a name
few papers relate to loses to one most do, and a node whose best name fewer than
a quarter of its papers relate to is shown as ``other — keyword, keyword``.

Keywords are c-TF-IDF phrases (BERTopic's ``ClassTfidfTransformer``, against the
other nodes of the level) re-ranked by BERTopic's MMR; ``top_words`` (unigrams,
``reduce_frequent_words``) feed the coherence and diversity metrics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from ..config import LabelsConfig
from ..hierarchy import Node, Taxonomy
from ..util.arrays import unit_rows, unit_vector
from ..util.cache import ArrayStore, hash_key
from ..util.mmr import mmr
from ..util.versions import version
from . import phrases as phrase_rules
from .keys import name_keys
from .phrases import Vocabulary, stop_words, surface_case

Embed = Callable[[list[str]], np.ndarray]

# Pseudo-papers of prior in a lift, so a phrase of two papers cannot look perfect.
PRIOR_PAPERS = 1.0
# Rounds of the sibling search (it stops earlier when a round changes nothing).
MAX_PASSES = 4

__all__ = ["Labeller", "stop_words", "vocabulary"]


def vocabulary(
    texts: list[str], params: LabelsConfig, store: ArrayStore | None = None
) -> Vocabulary:
    """The corpus's candidate phrases, from the stage cache when it has them.

    Counting every phrase of every paper is most of the naming time at 18k papers and
    depends only on the texts and the phrase settings, so a re-run or a sweep point that
    changes clustering settings reads it back. The key holds the texts, the settings, the
    phrase rules' source and scikit-learn's version: a change to any recomputes it.
    """
    stops = stop_words(params.extra_stop_words)
    args = (texts, stops, tuple(params.ngram_range), params.max_words)
    if store is None or not store.enabled:
        return Vocabulary(*args)
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()
    rules = hashlib.sha256(Path(phrase_rules.__file__).read_bytes()).hexdigest()
    key = hash_key(
        "vocabulary", digest, len(texts), sorted(stops), params.ngram_range,
        params.max_words, rules, version("scikit-learn"), version("wordfreq"),
    )  # fmt: skip
    return Vocabulary.from_arrays(
        store.get_or_compute("vocabulary", key, lambda: Vocabulary(*args).to_arrays())
    )


def _lift(df_in: np.ndarray, n_in: int, df_scope: np.ndarray, n_scope: int) -> np.ndarray:
    """0 when the node's papers use a phrase as often as the scope's do, 1 when only they do."""
    base = n_in / n_scope
    if base >= 1:
        return np.ones(df_in.shape)
    precision = (df_in + base * PRIOR_PAPERS) / (df_scope + PRIOR_PAPERS)
    return np.clip((precision - base) / (1 - base), 0.0, 1.0)


def c_tf_idf(class_counts: sp.csr_matrix, reduce_frequent_words: bool = False) -> sp.csr_matrix:
    """BERTopic's c-TF-IDF of a (classes x terms) count matrix.

    The formula of BERTopic's ``ClassTfidfTransformer`` (l1-normalised class term
    frequencies, square-rooted with ``reduce_frequent_words``, times
    ``log(1 + mean terms per class / term frequency over classes)``), written here
    because importing ``bertopic`` imports sentence-transformers and torch: seconds of a
    first run whose embedding backend needs neither. ``tests/test_labels.py`` checks it
    against BERTopic's on real counts.
    """
    from sklearn.preprocessing import normalize

    X = sp.csr_matrix(class_counts, dtype=np.float64)
    df = np.asarray(X.sum(axis=0)).ravel()
    mean_terms = int(X.sum(axis=1).mean())
    with np.errstate(divide="ignore"):
        idf = np.log(mean_terms / df + 1)
    X = normalize(X, axis=1, norm="l1")  # as BERTopic does it, to the last bit
    if reduce_frequent_words:
        X.data = np.sqrt(X.data)
    return sp.csr_matrix(X @ sp.diags(idf, format="csr"))


class Candidates:
    """One node's name candidates: phrases, their vocabulary forms and priors."""

    def __init__(self, phrases: list[str], forms: np.ndarray, prior: np.ndarray):
        self.phrases, self.forms, self.prior = phrases, forms, prior
        self.keys = [name_keys(p) for p in phrases]


class Labeller:
    """Names, keywords and representative papers for every node of a taxonomy.

    Parameters
    ----------
    texts : the papers' texts (title and abstract).
    X : (n, d) their embeddings.
    embed : embeds phrases with the same model (the pipeline passes the cached embedder).
    params : the ``labels`` config section.
    vocab : the texts' :func:`vocabulary` when the caller has it (from the cache).
    """

    def __init__(
        self,
        texts: list[str],
        X: np.ndarray,
        embed: Embed,
        params: LabelsConfig,
        vocab: Vocabulary | None = None,
    ):
        self.texts, self.embed, self.params = texts, embed, params
        self.Xn = unit_rows(X)
        self.vocab = vocab if vocab is not None else vocabulary(texts, params)

    # --- the whole tree ------------------------------------------------------------

    def label_tree(
        self,
        tax: Taxonomy,
        root_name: str = "All papers",
        seed_texts: dict[str, str] | None = None,
    ) -> None:
        """Fill label, keywords, top_words and representative papers of every node in place.

        The root is named ``root_name``: it stands for the corpus, not for a topic.
        A node that stands for a seed topic (``node.seed``) keeps the seed's name;
        ``seed_texts`` maps a seed's name to the text its papers were matched with.
        """
        seed_texts = seed_texts or {}
        centroids = {n.node_id: self._centroid(n.doc_idx) for n in tax.nodes.values()}
        keyword_pools: dict[str, tuple[list[str], np.ndarray]] = {}
        candidates: dict[str, Candidates] = {}
        for level in range(tax.n_levels + 1):
            nodes = tax.level(level)
            counts = self._level_counts([n.doc_idx for n in nodes])
            scores = c_tf_idf(counts)
            # Top words (for coherence and diversity) damp frequent words: measured on BBC
            # this lifts NPMI .158 -> .183 and diversity .833 -> .950 on the same topics.
            word_scores = c_tf_idf(counts, reduce_frequent_words=True)
            for node, row, word_row in zip(nodes, scores, word_scores):
                keyword_pools[node.node_id] = self._keyword_pool(row, node.doc_idx)
                node.top_words = self._top_words(word_row)
                sims = self.Xn[node.doc_idx] @ centroids[node.node_id]
                node.representative = [
                    int(node.doc_idx[i])
                    for i in np.argsort(-sims, kind="stable")[: self.params.n_representative]
                ]
                if node.seed:
                    candidates[node.node_id] = Candidates([node.seed], np.array([-1]), np.zeros(1))
                elif node.parent_id is not None:
                    scope = tax.nodes[node.parent_id].doc_idx
                    parts = [tax.nodes[c].doc_idx for c in node.children]
                    candidates[node.node_id] = self.name_candidates(node.doc_idx, scope, parts)
        # One embedding call for every phrase of the tree (cached per phrase); a seed is
        # represented by the text its papers were matched with.
        text_of = {n.seed: seed_texts.get(n.seed, n.seed) for n in tax.nodes.values() if n.seed}
        unique = sorted(
            {p for ps, _ in keyword_pools.values() for p in ps}
            | {text_of.get(p, p) for c in candidates.values() for p in c.phrases}
        )
        P = unit_rows(self.embed(unique)) if unique else np.zeros((0, self.Xn.shape[1]), np.float32)
        row_of = {p: i for i, p in enumerate(unique)}
        for node_id, (phrases, _) in keyword_pools.items():
            tax.nodes[node_id].keywords = self._keywords(
                phrases, P[[row_of[p] for p in phrases]], centroids[node_id]
            )
        vectors = {
            nid: P[[row_of[text_of.get(p, p)] for p in c.phrases]]
            if c.phrases
            else np.zeros((0, P.shape[1]))
            for nid, c in candidates.items()
        }
        # Seed names are taken from the start: no other node may take one.
        used: set[str] = {k for name in text_of for k in name_keys(name)}
        for level in range(tax.n_levels):
            for parent in tax.level(level):
                group = [tax.nodes[c] for c in parent.children]
                only = len(group) == 1
                contrast = [centroids[o] for o in _ancestor_siblings(tax, group[0])] if only else []
                if only:
                    chosen = self._only_child(group[0], candidates, vectors, contrast, used)
                else:
                    chosen = self._name_siblings(tax, group, candidates, vectors, used)
                for node, (name, fit) in zip(group, chosen):
                    used |= name_keys(name)
                    node.name_fit = round(float(fit), 4)
                    node.best_phrase = name
                    if fit < self.params.min_fit and not node.seed:
                        name = "other — " + ", ".join(node.keywords[:2])
                    node.label = node.seed or self._shown(name, node.doc_idx)
                if only:
                    self._broader_name_above(tax, group[0], centroids[parent.node_id], contrast)
        tax.root.label = root_name

    # --- candidates ----------------------------------------------------------------

    def _centroid(self, doc_idx: np.ndarray) -> np.ndarray:
        c = self.Xn[doc_idx].mean(axis=0) if doc_idx.size else np.zeros(self.Xn.shape[1])
        return unit_vector(c)

    def name_stats(self, doc_idx: np.ndarray, scope: np.ndarray) -> dict[str, np.ndarray]:
        """Per form: papers of the node using it, coverage, and lift.

        Lift is the smaller of the lifts over the parent's papers (``scope``) and
        over the corpus, with one pseudo-paper of prior so that a phrase of two
        papers cannot look perfect.
        """
        v = self.vocab
        df_in = v.doc_freq_in(doc_idx)
        lift = _lift(df_in, doc_idx.size, v.df, v.present.shape[0])
        if scope.size > doc_idx.size:
            lift = np.minimum(lift, _lift(df_in, doc_idx.size, v.doc_freq_in(scope), scope.size))
        return {"df": df_in, "cover": df_in / max(doc_idx.size, 1), "lift": lift}

    def name_candidates(
        self, doc_idx: np.ndarray, scope: np.ndarray, parts: list[np.ndarray]
    ) -> Candidates:
        """Readable phrases that mark the node's papers within its parent, most telling first.

        ``parts`` are the children's papers: a parent's name must be used across
        its children (balance), not mostly by one of them.
        """
        v = self.vocab
        st = self.name_stats(doc_idx, scope)
        df = st["df"]
        balance = self._balance(st["cover"], parts, doc_idx.size) if len(parts) > 1 else None
        ok = v.nameable & (df >= min(2, doc_idx.size)) & (st["lift"] >= self.params.min_lift)
        count_score = st["cover"] * st["lift"]
        if balance is not None:  # a parent: not mostly one child's phrase
            ok &= balance >= self.params.min_balance
            count_score = count_score * balance
        idx = np.flatnonzero(ok)
        idx = idx[np.argsort(-count_score[idx], kind="stable")[: 4 * self.params.n_candidates]]
        # A phrase yields to a longer one that most of its papers use ('scaling' -> 'scaling laws').
        top = [
            i
            for i in idx
            if not any(
                df[j] >= self.params.specific_share * df[i] for j in v.longer.get(int(i), ())
            )
        ][: self.params.n_candidates]
        top = np.array(top, dtype=np.int64)
        prior = np.sqrt(st["cover"][top] * st["lift"][top])
        # A bare word says less than a phrase: topics are named with phrases unless a
        # single word clearly fits better ("superconductivity").
        prior[v.form_words[top] == 1] -= self.params.single_word_penalty
        return Candidates([str(v.surface[i]) for i in top], top, prior)

    def _balance(self, cover: np.ndarray, parts: list[np.ndarray], n: int) -> np.ndarray:
        """Per form, 1 when every child uses it at least as often as the parent does; the
        largest child's share of papers when only that child uses it."""
        out = np.zeros_like(cover)
        for part in parts:
            part_cover = self.vocab.doc_freq_in(part) / max(part.size, 1)
            out += part.size / n * np.minimum(part_cover, cover)
        return np.divide(out, cover, out=np.zeros_like(out), where=cover > 0)

    # --- choosing names ------------------------------------------------------------

    def _name_siblings(
        self,
        tax: Taxonomy,
        group: list[Node],
        candidates: dict[str, Candidates],
        vectors: dict[str, np.ndarray],
        used: set[str],
    ) -> list[tuple[str, float]]:
        """One name per sibling, jointly: each paper nearest its own node's name (see module doc)."""
        scope = np.concatenate([n.doc_idx for n in group])
        pos = {int(d): i for i, d in enumerate(scope)}
        # Units whose papers a name must reach: a parent's children, or the node itself.
        units = [
            [
                np.array([pos[int(d)] for d in part])
                for part in ([tax.nodes[c].doc_idx for c in node.children] or [node.doc_idx])
            ]
            for node in group
        ]
        cands = [candidates[n.node_id] for n in group]
        # Which papers of the scope use each candidate phrase.
        uses = [
            self.vocab.present[scope][:, c.forms].toarray() > 0
            if len(c.forms) and (c.forms >= 0).all()
            else np.zeros((len(scope), len(c.forms)), dtype=bool)
            for c in cands
        ]
        search = SiblingSearch(
            sims=[self.Xn[scope] @ vectors[n.node_id].T for n in group],
            cands=cands,
            uses=uses,
            units=units,
            prior_weight=self.params.prior_weight,
        )
        free = [[k for k, keys in enumerate(c.keys) if not keys & used] for c in cands]
        choice = search.best(free, sizes=[n.size for n in group])
        final = search.fits(choice)
        out = []
        for g, node in enumerate(group):
            if choice[g] is None:
                out.append((self._fallback_name(node, used | _keys_of(out)), 0.0))
            else:
                out.append((cands[g].phrases[choice[g]], final[g]))
        return out

    def _only_child(
        self,
        node: Node,
        candidates: dict[str, Candidates],
        vectors: dict[str, np.ndarray],
        contrast: list[np.ndarray],
        used: set[str],
    ) -> list[tuple[str, float]]:
        """An only child: the free candidate closest to its papers and farthest from its
        parent's siblings (it has the same papers as its parent, so its fit is its parent's)."""
        if node.seed:
            return [(node.seed, 1.0)]
        cand, V = candidates[node.node_id], vectors[node.node_id]
        own = V @ self._centroid(node.doc_idx) if len(V) else np.zeros(0)
        other = np.stack(contrast) @ V.T if contrast and len(V) else None
        score = own + self.params.prior_weight * cand.prior
        if other is not None:
            score = score + (own - other.max(axis=0))
        for k in np.argsort(-score, kind="stable"):
            if not cand.keys[k] & used:
                return [(cand.phrases[k], 1.0)]
        return [(self._fallback_name(node, used), 1.0)]

    def _broader_name_above(
        self, tax: Taxonomy, node: Node, centroid: np.ndarray, contrast: list[np.ndarray]
    ) -> None:
        """An only child has its parent's papers: of the two names, the one nearer their
        centroid (it describes all of them) goes to the parent, the other to the child, so a
        chain reads from broad to narrow ("game theory" > "nash equilibrium", not the reverse).
        Moves up a chain of only children while the name is the broader one.

        The name that moves up was not weighed against the chain's siblings (``contrast``:
        their centroids), so it moves only if it stays nearer its own papers than theirs.
        """

        def movable(n: Node) -> bool:  # a seed's name and an "other — …" label stay put
            return not n.seed and bool(n.best_phrase) and not n.label.startswith("other — ")

        while node.parent_id is not None:
            parent = tax.nodes[node.parent_id]
            if parent.level == 0 or len(parent.children) != 1:
                return
            if not (movable(parent) and movable(node)):
                return
            V = unit_rows(self.embed([parent.best_phrase, node.best_phrase]))
            if V[1] @ centroid <= V[0] @ centroid:
                return
            if contrast and max(float(V[1] @ c) for c in contrast) >= float(V[1] @ centroid):
                return
            parent.label, node.label = node.label, parent.label
            parent.best_phrase, node.best_phrase = node.best_phrase, parent.best_phrase
            node = parent

    def _fallback_name(self, node: Node, used: set[str]) -> str:
        """Any unused phrase of the node's papers, most used first (tiny or repeated nodes)."""
        v = self.vocab
        df = v.doc_freq_in(node.doc_idx)
        idx = np.flatnonzero(v.nameable & (df > 0))
        for i in idx[np.argsort(-df[idx], kind="stable")]:
            if not name_keys(str(v.surface[i])) & used:
                return str(v.surface[i])
        return f"topic {node.node_id}"

    def _shown(self, name: str, doc_idx: np.ndarray) -> str:
        if name.startswith("other — "):
            return name
        return surface_case(name, [self.texts[i] for i in doc_idx[:200]])

    # --- keywords and top words ----------------------------------------------------

    def _level_counts(self, groups: list[np.ndarray]) -> sp.csr_matrix:
        rows = np.concatenate([np.full(g.size, i) for i, g in enumerate(groups)])
        cols = np.concatenate(groups)
        member = sp.csr_matrix(
            (np.ones(rows.size), (rows, cols)), shape=(len(groups), self.vocab.doc_terms.shape[0])
        )
        return sp.csr_matrix(member @ self.vocab.doc_terms)

    def _top_words(self, row: sp.csr_matrix) -> list[str]:
        idx, vals = row.indices, row.data
        # Unigrams the NPMI reference also has as one token (it splits "pre-trained" in two).
        uni = (self.vocab.n_words[idx] == 1) & self.vocab.plain_word[idx]
        order = np.argsort(-vals[uni], kind="stable")
        return [str(self.vocab.vocab[i]) for i in idx[uni][order][:10]]

    def _keyword_pool(
        self, row: sp.csr_matrix, doc_idx: np.ndarray
    ) -> tuple[list[str], np.ndarray]:
        """The node's best keyword phrases by c-TF-IDF, fragments of longer phrases removed."""
        v = self.vocab
        idx, vals = row.indices, row.data
        ok = (v.n_words[idx] <= self.params.max_words) & ~v.fragment[idx]
        idx, vals = idx[ok], vals[ok]
        # Phrases seen in at least two of the node's papers (one paper is a quirk, not a topic).
        in_node = np.asarray((v.doc_terms[doc_idx][:, idx] > 0).sum(axis=0)).ravel()
        keep = in_node >= min(2, doc_idx.size)
        idx, vals = idx[keep], vals[keep]
        top = np.argsort(-vals, kind="stable")[: self.params.n_candidates]
        return [str(v.vocab[i]) for i in idx[top]], vals[top]

    def _keywords(self, phrases: list[str], P: np.ndarray, centroid: np.ndarray) -> list[str]:
        """Keywords: BERTopic's MMR over the c-TF-IDF candidates, relevance to the node's centroid."""
        if not phrases:
            return []

        k = min(self.params.n_keywords, len(phrases))
        return mmr(centroid[None, :], P, phrases, top_n=k, diversity=self.params.diversity)


class SiblingSearch:
    """The names of one set of siblings, chosen jointly (the objective of the module doc).

    ``sims[g]``: cosines of the scope's papers (rows) to node ``g``'s candidates (columns);
    ``cands[g]``: its candidates; ``uses[g]``: which papers use each candidate phrase;
    ``units[g]``: rows of the papers its name must reach (a parent's children, or itself).
    A choice is one candidate index per node, ``None`` where a node has none left.
    """

    def __init__(
        self,
        sims: list[np.ndarray],
        cands: list[Candidates],
        uses: list[np.ndarray],
        units: list[list[np.ndarray]],
        prior_weight: float,
    ):
        self.sims, self.cands, self.uses, self.units = sims, cands, uses, units
        self.prior_weight = prior_weight
        self.n_rows = sims[0].shape[0] if sims else 0

    def columns(self, choice: list[int | None]) -> np.ndarray:
        """Per paper, its cosine to each node's chosen name (-1 where a node has none)."""
        return np.stack(
            [
                self.sims[g][:, c] if c is not None else np.full(self.n_rows, -1.0)
                for g, c in enumerate(choice)
            ],
            axis=1,
        )

    def fits(self, choice: list[int | None]) -> np.ndarray:
        """Per node, the share of its papers that relate to its name: they use the phrase,
        or it is the nearest of the siblings' names (parents: the mean over children)."""
        nearest = self.columns(choice).argmax(axis=1)
        out = np.zeros(len(choice))
        for g, c in enumerate(choice):
            if c is not None:
                relate = self.uses[g][:, c] | (nearest == g)
                out[g] = np.mean([relate[u].mean() for u in self.units[g]])
        return out

    def objective(self, choice: list[int | None]) -> float:
        cols = self.columns(choice)
        rivals = _best_other(cols)
        total = 0.0
        for g, c in enumerate(choice):
            if c is None:
                continue
            others = rivals(g)
            # Relevance and margin per unit, then the reach over units (see _reach).
            per_unit = [cols[u, g].mean() + (cols[u, g] - others[u]).mean() for u in self.units[g]]
            total += _reach(per_unit) + self.prior_weight * self.cands[g].prior[c]
        return total

    def clashes(self, g: int, k: int, choice: list[int | None]) -> bool:
        """Whether node ``g``'s candidate ``k`` is the same name as another node's choice."""
        keys = self.cands[g].keys[k]
        return any(
            c is not None and h != g and keys & self.cands[h].keys[c] for h, c in enumerate(choice)
        )

    def start(self, free: list[list[int]], sizes: list[int]) -> list[int | None]:
        """Largest node first, its free candidate closest to its own papers."""
        choice: list[int | None] = [None] * len(free)
        for g in sorted(range(len(free)), key=lambda g: -sizes[g]):
            if not free[g]:
                continue
            own = self.sims[g][np.concatenate(self.units[g])].mean(axis=0)
            prior = self.cands[g].prior
            for k in sorted(free[g], key=lambda k: -(own[k] + self.prior_weight * prior[k])):
                if not self.clashes(g, k, choice):
                    choice[g] = k
                    break
        return choice

    def best(self, free: list[list[int]], sizes: list[int]) -> list[int | None]:
        """Coordinate ascent from :meth:`start`: one node's name at a time, while it gains."""
        return ascend(self.start(free, sizes), free, self.objective, self.clashes, MAX_PASSES)


def ascend(choice: list, options: list, objective, clashes, passes: int) -> list:
    """Coordinate ascent over one option per sibling: each pass tries every free option of
    every sibling and keeps a change that raises ``objective``; stops when a pass changes
    nothing (vocabulary terms are chosen the same way, naming/vocabulary.py)."""
    best = objective(choice)
    for _ in range(passes):
        changed = False
        for g, opts in enumerate(options):
            for k in opts:
                if k == choice[g] or clashes(g, k, choice):
                    continue
                trial = choice.copy()
                trial[g] = k
                score = objective(trial)
                if score > best + 1e-9:
                    best, choice, changed = score, trial, True
        if not changed:
            break
    return choice


def _reach(values: list[float]) -> float:
    """Mean of the mean and of the lower half: a parent's name must reach its weaker children too."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    return float((v.mean() + v[: max(1, (len(v) + 1) // 2)].mean()) / 2)


def _best_other(cols: np.ndarray) -> Callable[[int], np.ndarray]:
    """``rivals(g)``: per row, the largest value of ``cols`` outside column ``g`` (from the
    two largest per row, so each column costs O(rows), not a copy of the matrix)."""
    if cols.shape[1] < 2:
        return lambda g: np.full(cols.shape[0], -np.inf)
    top2 = np.partition(cols, cols.shape[1] - 2, axis=1)[:, -2:]
    first, second = top2[:, 1], top2[:, 0]
    arg = cols.argmax(axis=1)
    return lambda g: np.where(arg == g, second, first)


def _keys_of(chosen: list[tuple[str, float]]) -> set[str]:
    return {k for name, _ in chosen for k in name_keys(name)}


def _ancestor_siblings(tax: Taxonomy, node: Node) -> list[str]:
    """Siblings of the nearest ancestor that has some (an only child has none of its own)."""
    while node.parent_id is not None:
        others = [c for c in tax.nodes[node.parent_id].children if c != node.node_id]
        if others:
            return others
        node = tax.nodes[node.parent_id]
    return []
