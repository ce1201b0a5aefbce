"""Export a run to other tools: ``taxonomy export RUN_DIR --to bertopic DIR``.

The BERTopic export is a model ``BERTopic.load(DIR)`` opens (its safetensors
format), so users keep BERTopic's tables, visualisations and tools on our
topics. It is made by BERTopic itself, with its manual topic modelling (the
run's leaf topic of each paper given as ``y``, the run's embeddings, no UMAP or
HDBSCAN of its own): BERTopic computes its c-TF-IDF representations and topic
embeddings from exactly our topics. On top of that the export sets

* our leaf names as BERTopic's custom labels (``set_topic_labels``);
* aspect ``"Taxonomy"``: each topic's path of names from the top level down;
* aspect ``"Keywords"``: our keywords of each topic.

BERTopic keeps no tree in a saved model (its ``hierarchical_topics`` is
recomputed on demand), so the hierarchy travels as the ``Taxonomy`` aspect.
The embedding model is not saved with it (pass it to ``BERTopic.load``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError, OutputError
from ..util.folders import check_target, write_run_dir
from ..util.formats import json_text
from .tables import tree_leaf_paths

BERTOPIC_MARKER = "topics.json"  # every BERTopic safetensors folder has it


def _leaf_keywords(tree: dict) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}

    def walk(node: dict) -> None:
        if "topic_id" in node:
            out[int(node["topic_id"])] = list(node.get("keywords", []))
        for child in node.get("children", []):
            walk(child)

    walk(tree["root"])
    return out


def bertopic_model(texts: list[str], X: np.ndarray, topics: np.ndarray, tree: dict):
    """A fitted BERTopic model holding the run's topics, names, keywords and paths."""
    from bertopic import BERTopic
    from bertopic.cluster import BaseCluster
    from bertopic.dimensionality import BaseDimensionalityReduction
    from sklearn.feature_extraction.text import CountVectorizer

    model = BERTopic(
        embedding_model=None,  # the embeddings are given; pass the model to BERTopic.load
        umap_model=BaseDimensionalityReduction(),
        hdbscan_model=BaseCluster(),
        vectorizer_model=CountVectorizer(stop_words="english"),
    )
    fitted, _ = model.fit_transform(texts, embeddings=X, y=topics)
    fitted = np.asarray(fitted)
    # BERTopic renumbers topics by size: map each of its topics back to ours.
    ours_of = {
        int(t): int(np.bincount(topics[fitted == t] + 1).argmax()) - 1 for t in set(fitted.tolist())
    }
    paths, keywords = tree_leaf_paths(tree), _leaf_keywords(tree)
    labels = {t: (paths[o][-1] if o in paths else "outliers") for t, o in ours_of.items()}
    model.set_topic_labels(labels)
    model.topic_aspects_["Taxonomy"] = {
        t: [(name, 1.0) for name in paths.get(o, [])] for t, o in ours_of.items()
    }
    model.topic_aspects_["Keywords"] = {
        t: [(k, 1.0) for k in keywords.get(o, [])] for t, o in ours_of.items()
    }
    return model


def export_bertopic(
    run_dir: Path, out: Path, *, overwrite: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Write the run at ``run_dir`` as a BERTopic model folder ``out`` (all or nothing)."""
    from ..corpus import load_corpus
    from ..embedding.encoder import Embedder
    from ..runs.rundir import load_run_config, read_topic_ids, read_tree
    from ..util.cache import ArrayStore

    run_dir, out = Path(run_dir), Path(out)
    cfg = load_run_config(run_dir)
    check_target(out, overwrite, marker=BERTOPIC_MARKER)
    tree = read_tree(run_dir)
    topic_of = read_topic_ids(run_dir)
    corpus = load_corpus(cfg.corpus)
    keep = [i for i, d in enumerate(corpus.ids) if d in topic_of]
    if not keep:
        raise InputError(cfg.corpus.path, f"no paper matches a doc_id of {run_dir}/documents.csv")
    texts = [corpus.texts[i] for i in keep]
    topics = np.array([topic_of[corpus.ids[i]] for i in keep], dtype=np.int64)
    emb = Embedder(
        cfg.embedding.model_copy(update={"show_progress_bar": False}),
        ArrayStore.for_config(cfg.cache),
    )
    log(f"[export] {len(texts)} papers, {len(set(topics.tolist()) - {-1})} topics -> BERTopic")
    X = emb.embed_texts(texts)
    model = bertopic_model(texts, X, topics, tree)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp, serialization="safetensors", save_ctfidf=True, save_embedding_model=False)
        files: dict[str, str | bytes] = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
    files["taxonomy-export.json"] = json_text(
        {"from": str(run_dir), "papers": len(texts), "format": "bertopic-safetensors"}
    )
    try:
        write_run_dir(out, files, overwrite, marker=BERTOPIC_MARKER)
    except OSError as err:
        raise OutputError(f"{out}: {err}") from None
    return out
