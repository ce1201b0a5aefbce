"""Quality metrics of a taxonomy: coverage, coherence, diversity, size spread, gold agreement.

Coherence is NPMI of each node's top-10 words with the corpus itself as the
reference, in the setting of the BERTopic paper (OCTIS, i.e. gensim's
``c_npmi``): boolean sliding windows of 10 tokens, all word pairs, the
arithmetic mean. The reference tokens belong to no topic method:
scikit-learn's default word analyzer with only its English stop words dropped
(:func:`neutral_tokens`), so every method's top words are scored alike.
Diversity is OCTIS' topic diversity (unique top-10 words over 10 x topics).
Agreement with gold labels uses scikit-learn's NMI, ARI and V-measure, over
all papers (outliers as one class of their own) and over the covered ones.
:func:`evaluate_run` runs inside every run; ``taxonomy evaluate RUN_DIR``
(:func:`main_evaluate`) scores a written run. :func:`holdout_half` and
:func:`stability` serve the quality benchmark.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .errors import InputError
from .hierarchy import Taxonomy
from .util.formats import json_text

TOPN = 10
WINDOW = 10
# gensim's epsilon, kept so that scores match ``CoherenceModel(coherence="c_npmi")``.
EPSILON = 1e-12

_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*")
_LATEX = re.compile(r"\$[^$]*\$|\\[A-Za-z]+")


# --- coherence and diversity ----------------------------------------------------------


def reference_tokens(texts: Sequence[str], stops: frozenset[str]) -> list[list[str]]:
    """Lower-cased word tokens of each text, ``stops`` and LaTeX dropped (the labeller's view)."""
    out = []
    for text in texts:
        words = _WORD.findall(_LATEX.sub(" ", text).lower())
        out.append([w for w in words if w not in stops and len(w) > 1])
    return out


def neutral_tokens(texts: Sequence[str]) -> list[list[str]]:
    """The NPMI reference of every run and benchmark: tokens no topic method chose.

    scikit-learn's default word analyzer (lower-cased, ``(?u)\\b\\w\\w+\\b``, so
    "pre-trained" is "pre" and "trained") with only its ``ENGLISH_STOP_WORDS``
    dropped: a method's top word scores by how it co-occurs in the texts, not by
    whether our own stop-word list or tokeniser happened to keep it.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    analyze = CountVectorizer(stop_words="english").build_analyzer()
    # Interned: one string per distinct word, not per occurrence (0.9 GB at 147k papers).
    return [list(map(sys.intern, analyze(t))) for t in texts]


def _window_incidence(docs: list[np.ndarray], n_words: int, window: int) -> sp.csc_matrix:
    """Boolean (virtual document x word) matrix of gensim's sliding windows.

    A text of ``L >= window`` tokens gives ``L - window + 1`` windows, a shorter
    one a single window; word ids < 0 (words no topic uses) take up positions only.

    gensim slides its window by unmarking the token that leaves on the left even
    when the same word is still inside, so a word repeated within 10 tokens is
    dropped until it next enters on the right. We reproduce that so our scores
    equal gensim's, OCTIS' and the BERTopic paper's: the occurrence at ``p`` marks
    windows ``max(0, p - window + 1)`` up to the first occurrence of the same word
    at or after that start (``p`` itself when the word does not repeat).
    """
    lengths = np.array([d.size for d in docs], dtype=np.int64)
    n_win = np.maximum(1, lengths - window + 1)
    win_start = np.concatenate([[0], np.cumsum(n_win)[:-1]])
    tok_start = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    ids = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64)
    doc_of = np.repeat(np.arange(len(docs)), lengths)
    pos = np.arange(ids.size) - tok_start[doc_of]
    keep = ids >= 0
    ids, doc_of, pos = ids[keep], doc_of[keep], pos[keep]
    lo = np.maximum(0, pos - window + 1)
    # First occurrence of the same word in the same text at or after ``lo``.
    group = doc_of * max(n_words, 1) + ids
    order = np.lexsort((pos, group))
    span_pos = int(lengths.max()) + 1 if lengths.size else 1
    keys = group[order] * span_pos + pos[order]
    first = pos[order][np.searchsorted(keys, group * span_pos + lo)]
    hi = np.minimum(first, n_win[doc_of] - 1)
    span = hi - lo + 1
    first = np.repeat(win_start[doc_of] + lo, span)
    step = np.arange(int(span.sum())) - np.repeat(np.cumsum(span) - span, span)
    rows, cols = first + step, np.repeat(ids, span)
    M = sp.csc_matrix(
        (np.ones(rows.size, dtype=np.int32), (rows, cols)), shape=(int(n_win.sum()), n_words)
    )
    M.sum_duplicates()
    M.data[:] = 1
    return M


def npmi_coherence(
    topics: Sequence[Sequence[str]],
    reference: Sequence[Sequence[str]],
    *,
    topn: int = TOPN,
    window: int = WINDOW,
) -> np.ndarray:
    """NPMI coherence of each topic's first ``topn`` words (gensim ``c_npmi``).

    Parameters
    ----------
    topics : word lists, best first.
    reference : the tokenised reference corpus (here: the corpus itself).
    topn, window : words per topic and sliding-window length (10 and 10 in the BERTopic paper).

    Returns
    -------
    numpy.ndarray
        One score in [-1, 1] per topic; NaN for a topic with fewer than two words.
    """
    topics = [list(dict.fromkeys(t))[:topn] for t in topics]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(w for t in topics for w in t))}
    docs = [
        np.fromiter((vocab.get(w, -1) for w in d), dtype=np.int64, count=len(d)) for d in reference
    ]
    M = _window_incidence(docs, len(vocab), window)
    n = float(M.shape[0])
    counts = np.asarray(M.sum(axis=0)).ravel().astype(np.float64)
    out = np.full(len(topics), np.nan)
    for k, words in enumerate(topics):
        ids = np.array([vocab[w] for w in words])
        if ids.size < 2:
            continue
        # Co-occurrences of this topic's words only: a vocabulary x vocabulary matrix of
        # every topic word would grow with the square of the number of topics.
        cols = M[:, ids]
        co = (cols.T @ cols).toarray().astype(np.float64)
        i, j = np.triu_indices(ids.size, k=1)
        a, b = ids[i], ids[j]
        p_ab = co[i, j] / n
        with np.errstate(divide="ignore", invalid="ignore"):
            pmi = np.log((p_ab + EPSILON) / ((counts[a] / n) * (counts[b] / n)))
            npmi = pmi / -np.log(p_ab + EPSILON)
        # A word absent from the reference: never co-occurs, the measure's floor.
        npmi[(counts[a] == 0) | (counts[b] == 0)] = -1.0
        out[k] = float(npmi.mean())
    return out


def topic_diversity(topics: Sequence[Sequence[str]], topn: int = TOPN) -> float:
    """Unique words among the topics' top ``topn`` over ``topn x`` topics (OCTIS)."""
    if not topics:
        return float("nan")
    unique = {w for t in topics for w in list(t)[:topn]}
    return len(unique) / (topn * len(topics))


def size_spread(sizes: Sequence[int]) -> dict:
    """How evenly papers spread over nodes: extremes, median, largest share and Gini."""
    s = np.sort(np.asarray(sizes, dtype=np.float64))
    if s.size == 0 or s.sum() == 0:
        return {"min": 0, "median": 0, "max": 0, "largest_share": 0.0, "gini": 0.0}
    cum = np.cumsum(s)
    gini = (s.size + 1 - 2 * (cum / cum[-1]).sum()) / s.size
    return {
        "min": int(s[0]),
        "median": float(np.median(s)),
        "max": int(s[-1]),
        "largest_share": round(float(s[-1] / s.sum()), 4),
        "gini": round(float(gini), 4),
    }


# --- agreement with gold labels ---------------------------------------------------------


def gold_scores(pred: Sequence, gold: Sequence) -> dict:
    """NMI, ARI and V-measure of ``pred`` against ``gold``; papers without a gold label are left out.

    ``pred`` keeps -1 as a label, so outliers count as one class of their own.
    """
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, v_measure_score

    keep = [i for i, g in enumerate(gold) if g is not None]
    p = [pred[i] for i in keep]
    g = [gold[i] for i in keep]
    if not keep:
        return {"nmi": None, "ari": None, "v_measure": None, "n": 0}
    return {
        "nmi": round(float(normalized_mutual_info_score(g, p)), 4),
        "ari": round(float(adjusted_rand_score(g, p)), 4),
        "v_measure": round(float(v_measure_score(g, p)), 4),
        "n": len(keep),
    }


def fitting_gold(n_nodes: int, n_classes: dict[str, int]) -> str:
    """The gold field whose number of classes is nearest (on a log scale) to a level's node count."""
    return min(
        n_classes,
        key=lambda f: (
            abs(math.log(max(n_nodes, 1) / max(n_classes[f], 1))),
            list(n_classes).index(f),
        ),
    )


def gold_agreement(levels: dict[int, np.ndarray], gold: dict[str, list]) -> dict:
    """Scores of every taxonomy level against every gold field, the fitting pairs marked.

    Parameters
    ----------
    levels : level number -> node index per paper (-1 = outlier).
    gold : field -> label per paper, broad to fine (``None`` = unknown).
    """
    n_classes = {f: len({g for g in v if g is not None}) for f, v in gold.items()}
    rows = []
    for level, pred in levels.items():
        pred = np.asarray(pred)
        n_nodes = len(set(pred.tolist()) - {-1})
        fit = fitting_gold(n_nodes, n_classes)
        covered = np.flatnonzero(pred >= 0)
        for f, labels in gold.items():
            all_ = gold_scores(pred.tolist(), labels)
            cov = gold_scores(pred[covered].tolist(), [labels[i] for i in covered])
            rows.append(
                {
                    "level": level,
                    "n_nodes": n_nodes,
                    "gold": f,
                    "n_classes": n_classes[f],
                    "fits": f == fit,
                    "coverage": round(covered.size / max(pred.size, 1), 4),
                    **{f"{k}_all": all_[k] for k in ("nmi", "ari", "v_measure")},
                    **{f"{k}_covered": cov[k] for k in ("nmi", "ari", "v_measure")},
                }
            )
    best = {}
    for f in gold:
        mine = [r for r in rows if r["gold"] == f and r["v_measure_all"] is not None]
        if mine:
            top = max(mine, key=lambda r: r["v_measure_all"])
            best[f] = {
                "level": top["level"],
                "v_measure_all": top["v_measure_all"],
                "nmi_all": top["nmi_all"],
            }
    # Nested mappings read well in the report; the full list is for programs.
    fitting = {
        str(r["level"]): {k: v for k, v in r.items() if k not in ("level", "fits")}
        for r in rows
        if r["fits"]
    }
    return {
        "fields": list(gold),
        "n_classes": n_classes,
        "levels": fitting,
        "best_level": best,
        "scores": rows,
    }


# --- the benchmark's protocol: held-out halves and stability across seeds ---------------


def holdout_half(doc_id: str, seed: int = 0) -> str:
    """``"tune"`` or ``"test"`` for a paper, fixed by its id: one bit of a seeded BLAKE2b hash.

    Defaults are chosen on the tuning half and reported on the test half; the
    split depends on nothing but the id and ``seed``, so it is the same on every
    machine, for every method and after the corpus grows.
    """
    import hashlib

    digest = hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest()
    return "test" if digest[0] & 1 else "tune"


def stability(assignments: Sequence[Sequence[int]]) -> dict:
    """Mean pairwise NMI and ARI between assignments of the same papers (one per seed).

    Outliers (-1) are one class, as in the gold scores: a paper that is an
    outlier in one fit and in a topic in another counts as moved.
    """
    from itertools import combinations

    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    pairs = list(combinations(range(len(assignments)), 2))
    if not pairs:
        return {"nmi": None, "ari": None, "n_pairs": 0}
    nmi = [normalized_mutual_info_score(assignments[a], assignments[b]) for a, b in pairs]
    ari = [adjusted_rand_score(assignments[a], assignments[b]) for a, b in pairs]
    return {
        "nmi": round(float(np.mean(nmi)), 4),
        "ari": round(float(np.mean(ari)), 4),
        "n_pairs": len(pairs),
    }


# --- one entry point for runs and written runs ------------------------------------------


def evaluate_nodes(
    nodes: Sequence[dict],
    levels: dict[int, np.ndarray],
    texts: Sequence[str],
    gold: dict[str, list] | None = None,
    reference: Sequence[Sequence[str]] | None = None,
) -> dict:
    """All metrics from node records and per-paper node indices.

    Parameters
    ----------
    nodes : ``{"node_id", "level", "size", "top_words"}`` per node (the root, level 0, included or not).
    levels : level number (1 = top) -> node index of each paper at that level, -1 for outliers.
    texts : the papers' texts (title and abstract), the reference corpus for NPMI.
    gold : optional gold labels, field -> label per paper, broad to fine.
    reference : tokenised NPMI reference (default: :func:`neutral_tokens` of ``texts``).
    """
    leaves = max(levels) if levels else 0
    if reference is None:
        reference = neutral_tokens(texts)
    scored = [n for n in nodes if n["level"] > 0]
    npmi = npmi_coherence([n["top_words"] for n in scored], reference)
    per_node = {
        n["node_id"]: (None if math.isnan(v) else round(float(v), 4)) for n, v in zip(scored, npmi)
    }
    by_level = {}
    for level in sorted(levels):
        mine = [n for n in scored if n["level"] == level]
        vals = [per_node[n["node_id"]] for n in mine if per_node[n["node_id"]] is not None]
        by_level[str(level)] = {
            "n_nodes": len(mine),
            "npmi": round(float(np.mean(vals)), 4) if vals else None,
            "diversity": round(topic_diversity([n["top_words"] for n in mine]), 4)
            if mine
            else None,
            "size_spread": size_spread([n["size"] for n in mine]),
        }
    leaf_ids = np.asarray(levels[leaves]) if levels else np.zeros(0)
    out = {
        "coverage": round(float(np.mean(leaf_ids >= 0)), 4) if leaf_ids.size else 0.0,
        "npmi": by_level[str(leaves)]["npmi"] if levels else None,
        "diversity": by_level[str(leaves)]["diversity"] if levels else None,
        "size_spread": by_level[str(leaves)]["size_spread"] if levels else None,
        "quality_per_level": by_level,
        "npmi_per_node": per_node,
    }
    if gold:
        agreement = gold_agreement(levels, gold)
        out["gold_scores"] = agreement.pop("scores")
        out["gold"] = agreement
    return out


def evaluate_taxonomy(
    tax: Taxonomy,
    topic_ids: np.ndarray,
    texts: Sequence[str],
    gold: dict[str, list] | None,
) -> dict:
    """Metrics of a fitted taxonomy (called by every run).

    Parameters
    ----------
    tax : the named taxonomy.
    topic_ids : leaf topic of each paper (-1 = outlier).
    texts : the papers' texts, the reference corpus for NPMI.
    gold : optional gold labels, field -> label per paper, broad to fine (empty fields ignored).
    """
    nodes = [
        {"node_id": n.node_id, "level": n.level, "size": n.size, "top_words": n.top_words}
        for n in tax.nodes.values()
    ]
    levels = {lv: tax.labels_at(lv, topic_ids) for lv in range(1, tax.n_levels + 1)}
    gold = {f: v for f, v in (gold or {}).items() if v} or None
    return evaluate_nodes(nodes, levels, texts, gold)


# --- taxonomy evaluate RUN_DIR -----------------------------------------------------------


def load_written_run(run_dir: Path) -> tuple[list[dict], dict[str, int], dict[str, list[str]]]:
    """Nodes (with top words), leaf topic per doc_id, and each leaf's path of node ids."""
    from .runs.rundir import read_topic_ids, read_tree

    tree = read_tree(run_dir)
    nodes, paths = [], {}

    def walk(node: dict, path: list[str]) -> None:
        nodes.append(
            {
                "node_id": node["node_id"],
                "level": node["level"],
                "size": node["size"],
                "top_words": node.get("top_words", []),
            }
        )
        here = path + [node["node_id"]] if node["level"] > 0 else path
        if "topic_id" in node:
            paths[str(node["topic_id"])] = here
        for child in node.get("children", []):
            walk(child, here)

    walk(tree["root"], [])
    return nodes, read_topic_ids(run_dir), paths


def main_evaluate(args) -> int:
    """``taxonomy evaluate RUN_DIR [--gold F1,F2] [--input PATH]``: score a written run."""
    from .config import build_config, read_yaml
    from .corpus import load_corpus
    from .errors import ConfigError

    run_dir = Path(args.run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise InputError(
            run_dir, "no config.yaml here; expected a run directory written by 'taxonomy run'"
        )
    data = read_yaml(run_dir / "config.yaml") or {}
    corpus = data.setdefault("corpus", {})
    if args.input:
        corpus["path"], corpus["format"] = args.input, "auto"
    if args.gold:
        corpus["gold_fields"] = [f.strip() for f in args.gold.split(",") if f.strip()]
    cfg = build_config(data, str(run_dir / "config.yaml"))
    if not cfg.corpus.gold_fields:
        raise ConfigError("--gold: no gold field given and the run's corpus.gold_fields is empty")
    docs = load_corpus(cfg.corpus)
    nodes, topic_of, paths = load_written_run(run_dir)
    index_of = {n["node_id"]: int(n["node_id"].split(".")[1]) for n in nodes}
    n_levels = max(n["level"] for n in nodes)
    keep = [i for i, d in enumerate(docs.ids) if d in topic_of]
    if not keep:
        raise InputError(run_dir / "documents.csv", f"no doc_id matches a paper of {docs.source}")
    levels = {}
    for lv in range(1, n_levels + 1):
        levels[lv] = np.array(
            [
                index_of[paths[str(topic_of[docs.ids[i]])][lv - 1]]
                if topic_of[docs.ids[i]] >= 0
                else -1
                for i in keep
            ]
        )
    gold = {f: [v[i] for i in keep] for f, v in docs.gold.items()}
    texts = docs.texts
    metrics = evaluate_nodes(nodes, levels, [texts[i] for i in keep], gold)
    metrics["n_docs"] = len(keep)
    metrics["n_docs_not_in_corpus"] = len(topic_of) - len(keep)
    out = run_dir / "evaluation.json"
    out.write_text(json_text(metrics), encoding="utf-8")
    print(format_summary(metrics))
    print(f"written: {out}")
    return 0


def format_summary(m: dict) -> str:
    """A few readable lines: coverage, coherence, diversity, and gold agreement per level."""
    lines = [f"coverage {m['coverage']:.1%}  NPMI {_f(m['npmi'])}  diversity {_f(m['diversity'])}"]
    for lv, q in m["quality_per_level"].items():
        lines.append(
            f"level {lv}: {q['n_nodes']} nodes, NPMI {_f(q['npmi'])}, diversity {_f(q['diversity'])}, "
            f"largest {q['size_spread']['largest_share']:.1%}"
        )
    if "gold" in m:
        lines.append("gold agreement (all papers, outliers as a class / covered papers):")
        for r in m["gold_scores"]:
            mark = "*" if r["fits"] else " "
            lines.append(
                f" {mark} level {r['level']} ({r['n_nodes']}) vs {r['gold']} ({r['n_classes']}): "
                f"NMI {_f(r['nmi_all'])}/{_f(r['nmi_covered'])}  ARI {_f(r['ari_all'])}/{_f(r['ari_covered'])}  "
                f"V {_f(r['v_measure_all'])}/{_f(r['v_measure_covered'])}"
            )
        lines.append("  (* = the gold level whose class count is nearest the level's node count)")
    return "\n".join(lines)


def _f(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"
