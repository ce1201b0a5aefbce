"""Stage 6, names: a readable, distinct name for every node of the taxonomy.

:func:`name_tree` is the one entry point, for a fitted tree and for the topics an
update proposes alike: extractive names first (:mod:`.extractive`, phrases of the
papers, :mod:`.phrases`), seed topics keep their names, and ``labels.method: llm``
then asks an OpenAI-compatible endpoint (:mod:`.llm`, over :mod:`.llm_client`) with
the extractive name as every node's fallback. :func:`.keys.name_keys` is the one
rule for when two names are the same.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..config import LabelsConfig
from ..hierarchy import Taxonomy
from ..util.cache import ArrayStore
from .extractive import Labeller, vocabulary
from .keys import name_keys

__all__ = ["name_keys", "name_tree"]


def name_tree(
    tax: Taxonomy,
    texts: list[str],
    titles: list[str],
    X: np.ndarray,
    embed: Callable[[list[str]], np.ndarray],
    params: LabelsConfig,
    *,
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
    store : the stage cache (the phrase vocabulary, LLM replies).
    root_name : the root's name: the corpus, not a topic.
    seed_texts : a seed's name -> the text its papers were matched with.
    """
    store = store or ArrayStore(None)
    vocab = vocabulary(texts, params, store)
    Labeller(texts, X, embed, params, vocab).label_tree(
        tax, root_name=root_name, seed_texts=seed_texts
    )
    if params.method != "llm":
        return {"method": params.method}
    from .llm import apply_llm_names  # the HTTP client loads only when asked for

    return apply_llm_names(tax, titles, X, params, store=store, embed=embed, log=log)
