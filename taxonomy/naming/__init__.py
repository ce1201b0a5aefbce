"""Stage 6, names: a readable, distinct name for every node of the taxonomy.

:func:`name_tree` is the one entry point, for a fitted tree and for the topics an
update proposes alike: extractive names first (:mod:`.extractive`, phrases of the
papers, :mod:`.phrases`), seed topics keep their names, a ``labels.vocabulary`` term
where it fits better (:mod:`.vocabulary`), and ``labels.method: llm`` then asks an
OpenAI-compatible endpoint (:mod:`.llm`, over :mod:`.llm_client`) with the earlier name
as every node's fallback. :func:`.keys.name_keys` is the one rule for when two names
are the same.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import EmbeddingConfig, LabelsConfig
from ..hierarchy import Taxonomy
from ..util.cache import ArrayStore
from . import extractive
from .keys import name_keys
from .vocabulary import Vocabulary, load_vocabulary, name_with_vocabulary, with_llm

__all__ = ["load_vocabulary", "name_keys", "name_tree"]


def name_tree(
    tax: Taxonomy,
    texts: list[str],
    titles: list[str],
    X: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    params: LabelsConfig,
    *,
    embedding: EmbeddingConfig,
    terms: Vocabulary | None = None,
    store: ArrayStore | None = None,
    root_name: str = "All papers",
    seed_texts: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """Name every node of ``tax`` in place; return what named them (``metrics.json["labels"]``).

    Parameters
    ----------
    tax : the tree; nodes standing for a seed topic carry ``node.seed``.
    texts, titles : the papers' texts (title + abstract) and titles, indexed like ``X``.
    X : (n, d) the papers' embeddings.
    embed : texts to embeddings in the space of ``X`` (phrases, seed texts).
    params : the ``labels`` config section.
    embedding : the ``embedding`` section that made ``X`` (keys the vocabulary's vectors).
    terms : ``labels.vocabulary`` loaded (:func:`load_vocabulary`; None: no vocabulary).
    store : the stage cache (the phrase vocabulary, LLM replies).
    root_name : the root's name: the corpus, not a topic.
    seed_texts : a seed's name -> the text its papers were matched with.
    """
    store = store or ArrayStore(None)
    # The phrases of the papers (the ``vocabulary`` submodule holds the field names).
    phrases = extractive.vocabulary(texts, params, store)
    extractive.Labeller(texts, X, embed, params, phrases).label_tree(
        tax, root_name=root_name, seed_texts=seed_texts
    )
    from ..embedding.auto import model_name
    from ..embedding.encoder import model_key

    # Field and topic names of a vocabulary where they fit better (naming/vocabulary.py).
    metrics = {"method": params.method} | name_with_vocabulary(
        tax, X, terms, embed, model=model_name(embedding), model_key=model_key(embedding),
        store=store, log=log,
    )  # fmt: skip
    if params.method != "llm":
        return metrics
    from .llm import apply_llm_names  # the HTTP client loads only when asked for

    llm = apply_llm_names(tax, titles, X, params, store=store, embed=embed, log=log)
    return with_llm(tax, metrics, llm)
