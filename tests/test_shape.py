"""Taxonomy shape options (taxonomy.parents) on the bundled sample: properties, not figures."""

from __future__ import annotations

import numpy as np
import pytest

from taxonomy.config import build_config
from taxonomy.errors import ConfigError
from taxonomy.shape import MAX_TOP_LEVEL, shape_taxonomy


def _shape(result, parents: str, **kw):
    h = result.cfg.hdbscan
    args = {
        "points": result.reduced,
        "embeddings": result.embeddings,
        "topic_ids": result.topic_ids,
        "levels": "auto",
        "top_level": "auto",
        "min_cluster_size": h.min_cluster_size,
        "min_samples": h.min_samples,
        "random_state": result.cfg.seed,
    }
    return shape_taxonomy(parents, **(args | kw))


PARENTS = ["evoc", "ward", "density"]


@pytest.mark.parametrize("parents", PARENTS)
def test_levels_nested_every_leaf_under_one_parent(sample_run, parents):
    result, _ = sample_run
    tax = _shape(result, parents)
    n_topics = int(result.topic_ids.max()) + 1
    leaves = tax.level(tax.n_levels)
    assert sorted(n.index for n in leaves) == list(range(n_topics))
    for level in range(1, tax.n_levels + 1):
        nodes = tax.level(level)
        # Each level partitions the covered papers; each node's papers are its children's.
        docs = np.concatenate([n.doc_idx for n in nodes])
        assert docs.size == np.unique(docs).size == int(np.sum(result.topic_ids >= 0))
        for n in nodes:
            assert tax.nodes[n.parent_id].level == level - 1
            assert n.node_id in tax.nodes[n.parent_id].children
            if n.children:
                kids = np.concatenate([tax.nodes[c].doc_idx for c in n.children])
                assert np.array_equal(np.sort(kids), np.sort(n.doc_idx))
    # Every leaf has exactly one path to the root.
    for leaf in leaves:
        path = tax.path(leaf.node_id)
        assert [p.level for p in path] == list(range(1, tax.n_levels + 1))


@pytest.mark.parametrize("parents", PARENTS)
def test_top_level_readable(sample_run, parents):
    result, _ = sample_run
    tax = _shape(result, parents)
    n_topics = int(result.topic_ids.max()) + 1
    top = len(tax.level(1))
    assert min(4, n_topics // 2) <= top <= MAX_TOP_LEVEL
    assert top < n_topics
    sizes = [len(tax.level(lv)) for lv in range(1, tax.n_levels + 1)]
    assert sizes == sorted(sizes)


@pytest.mark.parametrize("parents", PARENTS)
def test_same_inputs_same_shape(sample_run, parents):
    result, _ = sample_run
    a = _shape(result, parents)
    b = _shape(result, parents)
    ids = np.arange(int(result.topic_ids.max()) + 1)
    assert np.array_equal(a.labels_at(1, ids), b.labels_at(1, ids))


def test_parents_option_is_validated():
    assert build_config({"taxonomy": {"parents": "density"}}).taxonomy.parents == "density"
    with pytest.raises(ConfigError, match="taxonomy.parents"):
        build_config({"taxonomy": {"parents": "kmeans"}})


def test_layers_too_coarse_still_give_a_readable_top_level():
    from taxonomy.hierarchy import level_sizes
    from taxonomy.shape import layered_members

    rng = np.random.default_rng(0)
    topic_ids = np.repeat(np.arange(20), 5)
    points = rng.normal(size=(topic_ids.size, 5)) + topic_ids[:, None] * 0.5
    coarse = topic_ids // 7  # 3 groups: below the top level's lower bound
    fine = topic_ids // 2  # 10 groups
    fine[::5] = -1  # some noise
    finer = np.minimum(topic_ids, 14) * 3  # 15 groups, ids with gaps: above the bound
    for layers in ([coarse], [coarse, fine], [coarse, finer]):
        member = layered_members(layers, topic_ids, points, level_sizes(20, "auto", "auto"))
        top = len(set(member[1].tolist()))
        assert 4 <= top <= 12
        # Nested: leaves of one top node share it, every leaf has one.
        assert member[max(member)].tolist() == list(range(20))
