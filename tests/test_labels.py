"""Names and shape of the taxonomy: unit tests of the labelling parts, and the
properties every name must have on real runs (the bundled sample; a
Papers-with-Code sample, slow)."""

from __future__ import annotations

import gzip
import json
import random
import re

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import DATASETS, sample_config

from taxonomy.hierarchy import build_taxonomy, level_sizes
from taxonomy.naming.extractive import _best_other, _lift, c_tf_idf
from taxonomy.naming.keys import name_keys, norm_form
from taxonomy.naming.phrases import (
    Vocabulary,
    end_shares,
    ends_in_a_noun,
    everyday_word,
    fragment_mask,
    make_analyzer,
    phrase_chunks,
    stop_words,
)
from taxonomy.pipeline import corpus_title

STOPS = stop_words()
# Bare words that say nothing of a topic (the examples among them).
GENERIC = {
    "model",
    "models",
    "data",
    "learning",
    "performance",
    "method",
    "methods",
    "results",
    "tasks",
    "norm",
    "scale",
    "image",
    "images",
    "dimensionality",
    "architecture",
    "example",
    "matrix",
}


# --- units -----------------------------------------------------------------------


def test_phrase_chunks_break_at_stop_words_numbers_and_punctuation():
    text = "We propose dense retrieval with 3 large language models: scaling laws (LoRA)."
    assert phrase_chunks(text, STOPS) == [
        ["dense", "retrieval"],
        ["large", "language", "models"],
        ["scaling", "laws"],
        ["lora"],
    ]


def test_phrase_chunks_drop_latex_and_urls():
    text = "Code at https://github.com/x/y and $O(n^2)$ attention \\cite speed-ups"
    assert phrase_chunks(text, STOPS) == [["code"], ["attention"], ["speed-ups"]]


def test_analyzer_makes_ngrams_inside_chunks_only():
    analyze = make_analyzer(STOPS, (1, 2))
    grams = analyze("dense retrieval and sparse ranking")
    assert grams == ["dense", "retrieval", "dense retrieval", "sparse", "ranking", "sparse ranking"]
    assert "retrieval sparse" not in grams  # never across a stop word


def test_c_tf_idf_is_bertopics():
    counts = sp.csr_matrix(np.array([[2, 0, 1], [0, 3, 1]], dtype=float))
    got = c_tf_idf(counts).toarray()
    tf = np.array([[2 / 3, 0, 1 / 3], [0, 3 / 4, 1 / 4]])
    avg = 3  # BERTopic: int(mean words per class)
    idf = np.log(1 + avg / np.array([2, 3, 2]))
    np.testing.assert_allclose(got, tf * idf)
    # BERTopic's reduce_frequent_words: square root of the term frequency
    np.testing.assert_allclose(
        c_tf_idf(counts, reduce_frequent_words=True).toarray(), np.sqrt(tf) * idf
    )


def test_c_tf_idf_matches_bertopics_transformer_on_real_counts(sample_run):
    """Ours is written out (importing bertopic costs seconds); it must stay BERTopic's."""
    from bertopic.vectorizers import ClassTfidfTransformer

    result = sample_run[0]
    vocab = Vocabulary(result.corpus.texts, STOPS, (1, 3), 4)
    classes = np.clip(result.topic_ids, 0, None)
    member = sp.csr_matrix(
        (np.ones(len(classes)), (classes, np.arange(len(classes)))),
        shape=(int(classes.max()) + 1, len(classes)),
    )
    counts = sp.csr_matrix(member @ vocab.doc_terms)
    for reduce in (False, True):
        # BERTopic normalises the matrix it is given in place: give it a copy.
        theirs = ClassTfidfTransformer(reduce_frequent_words=reduce).fit_transform(counts.copy())
        np.testing.assert_allclose(c_tf_idf(counts, reduce).toarray(), theirs.toarray())


def test_a_name_ends_in_a_head_noun_not_a_modifier():
    texts = ["deep learning for deep networks", "deep models and training", "model training"] * 3
    shares = end_shares(texts, STOPS)
    assert shares["deep"] == 0 and shares["training"] == 1
    assert not ends_in_a_noun("training deep", shares)  # 'deep' never ends a run
    assert ends_in_a_noun("deep learning", shares)
    assert not ends_in_a_noun("efficiently", shares) and not ends_in_a_noun("proposed", shares)
    assert ends_in_a_noun("anomaly", shares) and ends_in_a_noun("speed", shares)


def test_fragment_mask_flags_phrases_that_live_inside_a_longer_one():
    vocab = np.array(
        [
            "large language",
            "large language models",
            "language models",
            "retrieval",
            "dense retrieval",
        ]
    )
    df = np.array([10, 9, 20, 20, 5])
    frag = dict(zip(vocab, fragment_mask(vocab, df)))
    assert frag["large language"]  # 9 of its 10 papers say "large language models"
    assert not frag["language models"]  # 9 of 20: a phrase of its own
    assert not frag["retrieval"] and not frag["dense retrieval"]


def test_lift_is_zero_for_as_often_and_near_one_for_only_here():
    df_in = np.array([5.0, 10.0, 0.0])
    df_scope = np.array([10.0, 10.0, 10.0])  # node = half of the scope's 20 papers
    lift = _lift(df_in, 10, df_scope, 20)
    assert lift[0] == pytest.approx(0.0, abs=0.05)
    assert 0.85 < lift[1] < 1.0  # one pseudo-paper of prior keeps it below 1
    assert lift[2] == 0.0


def test_name_keys_merge_plurals_and_acronyms():
    assert norm_form("scaling laws") == norm_form("scaling law")
    assert name_keys("large language models") & name_keys("LLMs")
    assert name_keys("information retrieval") & name_keys("IR")
    assert not name_keys("dense retrieval") & name_keys("retrieval")
    # Word forms of one stem are one name (seen as siblings at 18k arXiv before stems).
    assert name_keys("superconductivity") & name_keys("superconducting")
    assert name_keys("generative models") & name_keys("generation models")
    assert not name_keys("superconductivity") & name_keys("magnetism")


def test_an_everyday_word_never_names_a_topic_alone():
    """Single words common in general English (wordfreq) are not names; a field's terms,
    compounds and acronyms are, and so are phrases that contain an everyday word."""
    for word in ("scale", "image", "models", "error", "quantum", "systems"):
        assert everyday_word(word), word
    for word in ("superconductivity", "embeddings", "retrieval", "text-to-image", "llms", "gpt4"):
        assert not everyday_word(word), word
    texts = [
        f"We study the scale of {x} and image segmentation at scale with scale." for x in "abcdef"
    ]
    v = Vocabulary(texts, STOPS, (1, 3), 4)
    nameable = {str(s) for s, ok in zip(v.surface, v.nameable) if ok}
    assert "scale" not in nameable and "image" not in nameable
    assert "image segmentation" in nameable


def test_vocabulary_reads_back_from_the_cache_unchanged(sample_run, tmp_path):
    """The cached vocabulary (arrays, no pickles) is the one counting would give, and a
    change to a phrase setting is a new entry."""
    from taxonomy.config import LabelsConfig
    from taxonomy.naming.extractive import vocabulary
    from taxonomy.util.cache import ArrayStore

    texts = sample_run[0].corpus.texts
    store, params = ArrayStore(tmp_path), LabelsConfig()
    fresh = vocabulary(texts, params)
    first = vocabulary(texts, params, store)
    again = vocabulary(texts, params, store)
    assert len(store.entries("vocabulary")) == 1
    for v in (first, again):
        for name in ("doc_terms", "present"):
            a, b = getattr(fresh, name), getattr(v, name)
            assert a.shape == b.shape and a.dtype == b.dtype and (a != b).nnz == 0
        for name in Vocabulary._ARRAYS:
            assert getattr(fresh, name).tolist() == getattr(v, name).tolist(), name
        assert v.longer == fresh.longer and v.longer
    vocabulary(texts, params.model_copy(update={"max_words": 3}), store)
    vocabulary(texts[1:], params, store)
    assert len(store.entries("vocabulary")) == 3


def test_best_other_is_the_largest_value_outside_each_column():
    rng = np.random.default_rng(0)
    cols = rng.normal(size=(50, 4))
    cols[:5, 1] = cols[:5, 2]  # ties
    rivals = _best_other(cols)
    for g in range(cols.shape[1]):
        assert np.array_equal(rivals(g), np.delete(cols, g, axis=1).max(axis=1))


@pytest.mark.parametrize(
    "n, expected",
    [
        (2, [2, 2]),
        (8, [4, 8]),
        (12, [4, 12]),
        (40, [6, 40]),
        (100, [5, 22, 100]),
        (1000, [6, 32, 178, 1000]),
    ],
)
def test_level_sizes_auto(n, expected):
    sizes = level_sizes(n, "auto", "auto")
    assert sizes == expected
    assert sizes == sorted(sizes)


def test_level_sizes_explicit_top_level():
    assert level_sizes(30, 2, 5) == [5, 30]
    assert level_sizes(100, 3, 4)[0] == 4


def test_build_taxonomy_groups_near_topics_together():
    rng = np.random.default_rng(0)
    # Six topics in two far-apart pairs of three: Ward must put each triple under one parent.
    centers = np.array([[0, 0], [1, 0], [0, 1], [20, 20], [21, 20], [20, 21]], dtype=float)
    topic_ids = np.repeat(np.arange(6), 10)
    points = centers[topic_ids] + rng.normal(scale=0.1, size=(60, 2))
    tax = build_taxonomy(points, topic_ids, [2, 6])
    parents = {tax.leaf(t).parent_id for t in range(6)}
    assert len(parents) == 2
    assert tax.leaf(0).parent_id == tax.leaf(1).parent_id == tax.leaf(2).parent_id
    assert tax.root.size == 60 and sum(n.size for n in tax.level(1)) == 60


# --- properties of the names on real runs ---------------------------------------------


def name_problems(tax, stops=STOPS) -> list[str]:
    """Every way the tree's names break the rules, as readable strings (empty = all good)."""
    problems = []
    labels = {}
    for node in tax.nodes.values():
        labels[node.node_id] = norm_form(node.label.lower())
        if node.level == 0 or node.label.startswith("other — "):
            continue  # the root is the corpus; "other — kw, kw" says a node has no good name
        if node.namer.startswith("vocabulary:"):  # named as its vocabulary has it
            continue
        words = node.label.split()
        low = [w.lower() for w in words]
        if not 1 <= len(words) <= 4:
            problems.append(f"{node.node_id} {node.label!r}: {len(words)} words")
        if low and (low[0] in stops or low[-1] in stops):
            problems.append(f"{node.node_id} {node.label!r}: starts or ends with a stop word")
        if any(re.fullmatch(r"[\d.,%]+", w) for w in words) or re.search(r"\(\d+\)", node.label):
            problems.append(f"{node.node_id} {node.label!r}: a number")
        if not node.keywords:
            problems.append(f"{node.node_id}: no keywords")
        if len(node.representative) != min(3, node.size):
            problems.append(f"{node.node_id}: {len(node.representative)} representative papers")
    for node in tax.nodes.values():
        kids = [labels[c] for c in node.children]
        if len(set(kids)) != len(kids):
            problems.append(f"{node.node_id}: siblings share a name: {kids}")
        if labels[node.node_id] in kids:
            problems.append(f"{node.node_id} {node.label!r}: a child has the same name")
    if len(set(labels.values())) != len(labels):
        problems.append("two nodes of the tree share a name")
    return problems


def test_sample_names_follow_the_rules(sample_run):
    result, _ = sample_run
    assert name_problems(result.taxonomy) == []


def test_sample_names_are_not_fragments_or_generic(sample_run):
    result, _ = sample_run
    tax = result.taxonomy
    labels = [n.label.lower() for n in tax.nodes.values()]
    for bad in ("large language", "pre-trained language", "language model"):
        assert bad not in labels
    # Below the root, no generic single word when the node has a specific phrase.
    generic = [n.label for n in tax.nodes.values() if n.level > 0 and n.label.lower() in GENERIC]
    assert generic == []


def test_sample_top_level_names_the_brief_topics(sample_run):
    """Retrieval names a top-level node; scaling is a top-level name or keyword. The tree
    moves with the embedding backend 'auto' picks on this CPU: from openvino-bf16's vectors
    "scaling laws" is a top-level node, from torch's the scaling-law papers share a parent
    with the efficient-training ones and "scaling" is among that parent's keywords."""
    result, _ = sample_run
    tax = result.taxonomy
    top = [n.label.lower() for n in tax.level(1)]
    assert 3 <= len(top) <= 6
    assert any("retrieval" in t for t in top), top
    words = top + [k.lower() for n in tax.level(1) for k in n.keywords]
    assert any("scaling" in w for w in words), words
    assert float(np.mean(result.topic_ids == -1)) <= 0.15


def test_parents_are_named_from_their_own_papers(sample_run):
    """A parent's name occurs in its own papers, and is not its children's names glued together."""
    result, _ = sample_run
    tax = result.taxonomy
    texts = [t.lower() for t in result.corpus.texts]
    for node in tax.nodes.values():
        if not node.children or node.level == 0 or node.label.startswith("other — "):
            continue
        if node.namer.startswith("vocabulary:"):  # a field's name, which abstracts rarely use
            continue
        form = node.label.lower()
        assert any(form in texts[i] for i in node.doc_idx), node.label
        kids = [tax.nodes[c].label.lower() for c in node.children]
        assert form not in {" ".join(kids), ", ".join(kids), " / ".join(kids)}


# --- a Papers-with-Code sample (slow: embeds 200 abstracts) --------------------------------


def pwc_sample(path, n: int, seed: int) -> None:
    """``n`` random papers of the Papers-with-Code set written as JSONL at ``path``."""
    with gzip.open(
        DATASETS / "paperswithcode_area_task" / "docs.jsonl.gz", "rt", encoding="utf-8"
    ) as fh:
        docs = [json.loads(line) for line in fh]
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(doc) + "\n" for doc in random.Random(seed).sample(docs, n))


@pytest.fixture(scope="session")
def pwc_200_run(tmp_path_factory, shared_cache):
    if not (DATASETS / "paperswithcode_area_task" / "docs.jsonl.gz").exists():
        pytest.skip("../shared/datasets/paperswithcode_area_task is not here")
    from taxonomy.pipeline import fit

    tmp = tmp_path_factory.mktemp("pwc200")
    pwc_sample(tmp / "pwc.jsonl", 200, seed=0)
    cfg = sample_config(
        tmp,
        corpus={"path": str(tmp / "pwc.jsonl"), "id_field": "arxiv_id"},
        cache={"dir": str(shared_cache)},
    )
    return fit(cfg, log=lambda msg: None)


@pytest.mark.slow
def test_pwc_sample_names_follow_the_rules(pwc_200_run):
    assert name_problems(pwc_200_run.taxonomy) == []
    generic = [
        n.label
        for n in pwc_200_run.taxonomy.nodes.values()
        if n.level > 0 and n.label.lower() in GENERIC
    ]
    assert generic == []


# --- parents named as fields -------------------------------------------------------------


def test_the_root_is_the_corpus_not_a_topic(sample_run):
    result, _ = sample_run
    tax = result.taxonomy
    assert tax.root.label == corpus_title(result.cfg, result.corpus)
    assert tax.root.label not in {n.label for n in tax.nodes.values() if n.level > 0}


def test_the_root_takes_the_report_title(sample_run):
    result, _ = sample_run
    cfg = result.cfg.model_copy(
        update={"report": result.cfg.report.model_copy(update={"title": "My reading list"})}
    )
    assert corpus_title(cfg, result.corpus) == "My reading list"


def test_no_bare_generic_word_names_a_node(sample_run):
    result, _ = sample_run
    bad = [
        n.label
        for n in result.taxonomy.nodes.values()
        if n.level > 0 and n.label.lower() in GENERIC
    ]
    assert bad == []


def parent_problems(tax, labeller) -> list[str]:
    """A parent's name must not be a child's name and must be used across its children."""
    from taxonomy.naming.keys import norm_form

    problems = []
    forms = {str(f): i for i, f in enumerate(labeller.vocab.forms)}
    for node in tax.nodes.values():
        if node.level == 0 or len(node.children) < 2 or node.label.startswith("other — "):
            continue
        kids = [tax.nodes[c] for c in node.children]
        if any(name_keys(node.label) & name_keys(k.label) for k in kids):
            problems.append(f"{node.label!r} is a child's name")
        if node.namer.startswith("vocabulary:"):  # a field's name, not a phrase of the papers
            continue
        form = forms.get(norm_form(node.label.lower()))
        if form is None:
            problems.append(f"{node.label!r} is not a phrase of its papers")
            continue
        cover = labeller.vocab.doc_freq_in(node.doc_idx) / node.size
        balance = labeller._balance(cover, [k.doc_idx for k in kids], node.size)[form]
        if balance < labeller.params.min_balance:
            problems.append(f"{node.label!r} is mostly one child's phrase ({balance:.2f})")
    return problems


def labeller_of(result):
    from taxonomy.embedding.encoder import Embedder
    from taxonomy.naming.extractive import Labeller
    from taxonomy.util.cache import ArrayStore

    emb = Embedder(result.cfg.embedding, ArrayStore(result.cfg.cache.dir))
    return Labeller(
        result.corpus.texts, result.embeddings, lambda t: emb.embed(t)[0], result.cfg.labels
    )


def test_sample_parents_are_named_as_fields(sample_run):
    result, _ = sample_run
    assert parent_problems(result.taxonomy, labeller_of(result)) == []


def test_a_parent_is_named_for_all_its_children_not_the_largest(tmp_path, shared_cache):
    """Two children that share one phrase and each have their own: the parent takes the shared
    phrase, never the larger child's."""
    from taxonomy.hierarchy import Node, Taxonomy
    from taxonomy.naming.extractive import Labeller

    def paper(i, own):
        return f"Paper {i} on protein design. We study {own} for protein design."

    texts = [paper(i, "antibody binding") for i in range(12)] + [
        paper(i, "enzyme catalysis") for i in range(12, 20)
    ]
    texts += [
        f"Paper {i}: galaxy surveys and dark energy from telescope data." for i in range(20, 30)
    ]
    from taxonomy.config import EmbeddingConfig, LabelsConfig
    from taxonomy.embedding.encoder import Embedder
    from taxonomy.util.cache import ArrayStore

    emb = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(shared_cache))

    def embed(t):
        return emb.embed(t, progress=False)[0]

    X = embed(texts)
    idx = np.arange(30)
    nodes = {
        "0.0": Node("0.0", 0, 0, None, idx, ["1.0", "1.1"]),
        "1.0": Node("1.0", 1, 0, "0.0", idx[:20], ["2.0", "2.1"]),
        "1.1": Node("1.1", 1, 1, "0.0", idx[20:], ["2.2"]),
        "2.0": Node("2.0", 2, 0, "1.0", idx[:12]),
        "2.1": Node("2.1", 2, 1, "1.0", idx[12:20]),
        "2.2": Node("2.2", 2, 2, "1.1", idx[20:]),
    }
    tax = Taxonomy(nodes, 2)
    lab = Labeller(texts, X, embed, LabelsConfig())
    lab.label_tree(tax, root_name="test corpus")
    assert tax.nodes["1.0"].label == "protein design"
    assert "antibody" in tax.nodes["2.0"].label and "enzyme" in tax.nodes["2.1"].label
    assert parent_problems(tax, lab) == []
    assert tax.root.label == "test corpus"


def test_an_only_child_chain_reads_from_broad_to_narrow(shared_cache):
    """Parent and only child have the same papers: the name nearer their centroid goes up,
    up a whole chain; a seed's name, an 'other — …' label, and a name nearer the chain's
    siblings than its own papers never move."""
    from taxonomy.config import EmbeddingConfig, LabelsConfig
    from taxonomy.embedding.encoder import Embedder
    from taxonomy.hierarchy import Node, Taxonomy
    from taxonomy.naming.extractive import Labeller
    from taxonomy.util.cache import ArrayStore

    games = ["auctions", "bargaining", "voting", "poker", "congestion games", "matching markets"]
    texts = [
        f"Paper {i} in game theory: we find the nash equilibrium of {g} with strategic agents."
        for i, g in enumerate(games * 2)
    ]
    emb = Embedder(EmbeddingConfig(show_progress_bar=False), ArrayStore(shared_cache))

    def embed(t):
        return emb.embed(t, progress=False)[0]

    X = embed(texts)
    idx = np.arange(len(texts))
    names = ["poker", "strategic agents", "game theory"]  # narrowest on top

    def chain() -> Taxonomy:
        nodes = {"0.0": Node("0.0", 0, 0, None, idx, ["1.0"])}
        for lv in (1, 2, 3):
            kids = [f"{lv + 1}.0"] if lv < 3 else []
            nodes[f"{lv}.0"] = Node(f"{lv}.0", lv, 0, f"{lv - 1}.0", idx, kids)
            nodes[f"{lv}.0"].label = nodes[f"{lv}.0"].best_phrase = names[lv - 1]
        return Taxonomy(nodes, 3)

    def labels(tax) -> list[str]:
        return [tax.nodes[f"{lv}.0"].label for lv in (1, 2, 3)]

    lab = Labeller(texts, X, embed, LabelsConfig())
    centroid = lab._centroid(idx)
    near = {n: float(unit(embed([n])[0]) @ centroid) for n in names}
    assert near["poker"] < near["strategic agents"] < near["game theory"]  # the premise

    tax = chain()
    for lv in (2, 3):  # as label_tree does, top-down, after naming each only child
        lab._broader_name_above(tax, tax.nodes[f"{lv}.0"], centroid, [])
    assert labels(tax) == ["game theory", "strategic agents", "poker"]

    tax = chain()
    tax.nodes["1.0"].seed = "poker"  # a seed topic keeps its name
    tax.nodes["3.0"].label = "other — poker, voting"
    for lv in (2, 3):
        lab._broader_name_above(tax, tax.nodes[f"{lv}.0"], centroid, [])
    assert labels(tax) == ["poker", "strategic agents", "other — poker, voting"]

    # A sibling branch whose papers the broader name describes better: no swap.
    tax = chain()
    lab._broader_name_above(tax, tax.nodes["2.0"], centroid, [unit(embed(["strategic agents"])[0])])
    assert labels(tax) == names


def unit(v):
    return v / np.linalg.norm(v)
