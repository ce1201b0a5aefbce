"""Vocabulary names (labels.vocabulary): reading and validating a vocabulary, the bundled
OpenAlex one, and the naming rule on real runs: a user's track list names the sample's top
level, ``none`` keeps the extractive names, a news corpus keeps mostly extractive names, and
every node's namer and term are recorded."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random

import numpy as np
import pytest
from conftest import DATASETS, sample_config

from taxonomy.config import build_config
from taxonomy.errors import ConfigError
from taxonomy.naming.vocabulary import Term, load_vocabulary

# Ten made-up track names of a venue, with keywords and a line each.
TRACKS = [
    ("Search, Ranking and Retrieval Systems", "retrieval; ranking; search engines; dense retrieval",
     "Finding and ordering documents for a query."),
    ("Representation Learning for Text", "embeddings; sentence embeddings; contrastive learning",
     "Vectors that represent texts and images for similarity."),
    ("Scaling and Efficient Training", "scaling laws; compute; efficient training; fine-tuning",
     "How models grow with data and compute, and training at lower cost."),
    ("Knowledge and Question Answering", "question answering; knowledge bases; open-domain QA",
     "Answering questions from stored or retrieved knowledge."),
    ("Robot Manipulation", "robot grasping; manipulation; motion planning", "Robots that handle objects."),
    ("Speech and Audio", "speech recognition; audio; speaker", "Spoken language and sound."),
    ("Fairness and Ethics", "bias; fairness; ethics; privacy", "Social effects of AI systems."),
    ("Computational Biology", "proteins; genomics; drug discovery", "Machine learning for biology."),
    ("Game Theory and Economics", "auctions; equilibria; mechanism design", "Strategic agents."),
    ("Climate and Weather", "climate models; weather forecasting", "Earth system modelling."),
]  # fmt: skip
TRACK_NAMES = {name for name, _, _ in TRACKS}


def write_tracks(path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "keywords", "description"])
        w.writerows(TRACKS)
    return path


# --- reading and validating ---------------------------------------------------------------


def test_formats_read_the_same_terms(tmp_path):
    rows = [
        {"id": "ml", "name": "Machine Learning", "keywords": ["learning", "models"]},
        {"name": "Deep Learning", "parent": "Machine Learning", "description": "Neural networks."},
    ]
    (tmp_path / "v.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    import yaml

    (tmp_path / "v.yaml").write_text(yaml.safe_dump(rows))
    for ext, sep in (("csv", ","), ("tsv", "\t")):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter=sep)
        w.writerow(["id", "name", "parent", "keywords", "description"])
        w.writerow(["ml", "Machine Learning", "", "learning; models", ""])
        w.writerow(["", "Deep Learning", "ml", "", "Neural networks."])
        (tmp_path / f"v.{ext}").write_text(buf.getvalue())
    with gzip.open(tmp_path / "w.jsonl.gz", "wt") as f:
        f.write((tmp_path / "v.jsonl").read_text())
    expected = [
        Term("ml", "Machine Learning", None, ("learning", "models"), ""),
        Term("Deep Learning", "Deep Learning", "ml", (), "Neural networks."),
    ]
    for name in ("v.jsonl", "v.yaml", "v.csv", "v.tsv", "w.jsonl.gz"):
        v = load_vocabulary(str(tmp_path / name))
        assert v.terms == expected, name
        assert v.depth.tolist() == [0, 1] and v.leaves.tolist() == [1]
    assert load_vocabulary("none") is None


def test_bundled_openalex_and_its_vectors():
    from taxonomy.naming.vocabulary import term_vectors

    v = load_vocabulary("openalex")
    assert len(v) == 4798
    assert np.bincount(v.depth).tolist() == [4, 26, 252, 4516]
    assert {v.terms[i].id for i in v.leaves} == {t.id for t in v.terms if t.id.startswith("T")}

    def refuse(texts):  # the bundled model's vectors ship with the package
        raise AssertionError("embedded")

    V = term_vectors(v, refuse, model="all-MiniLM-L6-v2", model_key="k")
    assert V.shape == (4798, 384)
    assert np.allclose(np.linalg.norm(V, axis=1), 1, atol=1e-2)


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("v.txt", "a\nb\n", "expected a .csv, .tsv, .jsonl or .yaml file (got '.txt')"),
        ("v.jsonl", '{"name": "a"}\n{"name": \n', "v.jsonl:2: invalid JSON"),
        ("v.yaml", "- name: [a\n", "invalid YAML"),
        ("v.yaml", "name: a\n", "expected a YAML list of terms (got dict)"),
        ("v.csv", "name,keywords\na,b,c\n", "v.csv:2: more fields than the header has"),
        ("v.jsonl", '"a"\n{"name": "b"}\n', "term 1: expected a mapping with a name (got 'a')"),
        ("v.jsonl", '{"name": "a", "colour": 1}\n{"name": "b"}\n', "term 1: colour: unknown field"),
        ("v.jsonl", '{"name": " "}\n{"name": "b"}\n', "term 1: name: expected a non-empty name"),
        (
            "v.jsonl",
            '{"name": "' + "x" * 121 + '"}\n{"name": "b"}\n',
            "term 1: name: expected at most 120 characters (got 121)",
        ),
        (
            "v.jsonl",
            '{"name": "a", "description": {"x": 1}}\n{"name": "b"}\n',
            "term 1: description: expected text (got {'x': 1})",
        ),
        (
            "v.jsonl",
            '{"name": "a", "keywords": [1, 2]}\n{"name": "b"}\n',
            "term 1: keywords: expected a list of strings or 'a; b; c' (got [1, 2])",
        ),
        ("v.jsonl", '{"name": "a"}\n{"name": "a"}\n', "term 2: id: 'a' repeats term 1"),
        (
            "v.jsonl",
            '{"name": "a", "parent": "c"}\n{"name": "b"}\n',
            "term 1: parent: 'c' is not the id or name of a term",
        ),
        (
            "v.jsonl",
            '{"name": "a", "parent": "b"}\n{"name": "b", "parent": "a"}\n',
            "term 1: parent: 'b' makes a cycle",
        ),
        ("v.jsonl", '{"name": "a"}\n', "expected at least 2 terms (got 1)"),
    ],
)
def test_a_bad_vocabulary_fails_in_one_line(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(ConfigError) as err:
        load_vocabulary(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"labels.vocabulary: {path}")
    assert "\n" not in str(err.value)


def test_a_missing_vocabulary_file_or_empty_value_fails(tmp_path):
    with pytest.raises(ConfigError, match="labels.vocabulary: .*nope.csv: file not found"):
        load_vocabulary(str(tmp_path / "nope.csv"))
    with pytest.raises(ConfigError, match="labels.vocabulary"):
        build_config({"labels": {"vocabulary": " "}})


def test_a_bad_vocabulary_stops_a_run_before_any_work(tmp_path):
    from taxonomy.pipeline import run

    cfg = sample_config(tmp_path, labels={"vocabulary": str(tmp_path / "missing.yaml")})
    with pytest.raises(ConfigError, match="file not found"):
        run(cfg, log=lambda m: None)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))


# --- naming on real runs -------------------------------------------------------------------


def test_user_tracks_name_the_sample_top_level(tmp_path, shared_cache):
    """Ten made-up track names: the sample's top level is named from them (the run's
    records say so in metrics.json, topics.csv, taxonomy.json and the report's data)."""
    from taxonomy.pipeline import run

    tracks = write_tracks(tmp_path / "tracks.csv")
    cfg = sample_config(tmp_path, cache={"dir": str(shared_cache)})
    cfg.labels.vocabulary = str(tracks)
    r = run(cfg, log=lambda m: None)
    top = r.taxonomy.level(1)
    named = [n for n in top if n.label in TRACK_NAMES]
    assert len(named) >= len(top) / 2, [n.label for n in top]
    assert len({n.label for n in named}) == len(named)  # siblings never share a term
    per_node = r.metrics["labels"]["per_node"]
    assert r.metrics["labels"]["vocabulary"] == "tracks"
    for n in r.taxonomy.nodes.values():
        rec = per_node[n.node_id]
        if n.label in TRACK_NAMES:
            assert n.namer == rec["namer"] == "vocabulary:tracks"
            assert rec["term_id"] == n.term_id == n.label
            assert rec["fit"] >= rec["extractive_fit"]
            assert rec["runner_up_id"] != rec["term_id"] and 0 <= rec["coverage"] <= 1
            assert -1 <= rec["runner_up_cosine"] <= 1 and -1 <= rec["cosine"] <= 1
            assert n.description  # the term's description is the node's line
        else:
            assert rec["namer"] == "extractive" and not n.term_id
    rows = list(csv.DictReader(io.StringIO((r.out_dir / "topics.csv").read_text("utf-8"))))
    by_id = {row["node_id"]: row for row in rows}
    for n in named:
        assert by_id[n.node_id]["term_id"] == n.term_id
    assert all(
        by_id[n.node_id]["term_id"] == "" for n in r.taxonomy.nodes.values() if not n.term_id
    )
    saved = json.loads((r.out_dir / "metrics.json").read_text())
    assert saved["labels"]["per_node"] == json.loads(json.dumps(per_node))
    tree = json.loads((r.out_dir / "taxonomy.json").read_text())
    top_saved = {c["node_id"]: c for c in tree["root"]["children"]}
    for n in named:
        assert top_saved[n.node_id]["term_id"] == n.term_id


def test_none_keeps_the_extractive_names(tmp_path, shared_cache):
    from taxonomy.pipeline import fit

    cfg = sample_config(tmp_path, cache={"dir": str(shared_cache)})
    tracks = write_tracks(tmp_path / "tracks.csv")
    cfg.labels.vocabulary = "none"
    plain = fit(cfg, log=lambda m: None)
    cfg.labels.vocabulary = str(tracks)
    named = fit(cfg, log=lambda m: None)
    assert plain.metrics["labels"]["vocabulary"] == "none"
    assert set(plain.metrics["labels"]["namers"]) == {"extractive"}
    for nid, n in plain.taxonomy.nodes.items():
        assert n.namer == "extractive" and n.term_id is None
        other = named.taxonomy.nodes[nid]
        if other.namer == "extractive":  # the same tree: only vocabulary-named nodes differ
            assert other.label == n.label


def test_the_default_is_no_vocabulary(sample_run):
    """Off by default (it does not yet beat extractive names on the names benchmark)."""
    labels = sample_run[0].metrics["labels"]
    assert labels["vocabulary"] == "none"
    assert set(labels["namers"]) <= {"extractive", "seed"}


def test_openalex_on_the_sample(tmp_path, shared_cache):
    """The bundled sample with OpenAlex: every node has a namer on record, and a node named
    by a term has its OpenAlex id and description."""
    from taxonomy.pipeline import fit

    cfg = sample_config(
        tmp_path, cache={"dir": str(shared_cache)}, labels={"vocabulary": "openalex"}
    )
    result = fit(cfg, log=lambda m: None)
    labels = result.metrics["labels"]
    assert labels["vocabulary"] == "openalex"
    for n in result.taxonomy.nodes.values():
        rec = labels["per_node"][n.node_id]
        assert rec["namer"] in ("extractive", "vocabulary:openalex")
        if rec["namer"] == "vocabulary:openalex":
            assert n.term_id == rec["term_id"] and n.description
    names = [n.label for n in result.taxonomy.nodes.values() if n.level > 0]
    assert len(set(map(str.lower, names))) == len(names)


NEWS = DATASETS / "twenty_newsgroups_19997" / "docs.jsonl.gz"


@pytest.mark.skipif(not NEWS.exists(), reason=f"{NEWS} not here (needs ../shared)")
def test_a_news_corpus_keeps_mostly_extractive_names(tmp_path, shared_cache):
    """30 posts of each of 10 newsgroups: at least 80 % of the nodes keep extractive names."""
    from taxonomy.pipeline import fit

    groups = ["rec.sport.hockey", "rec.autos", "talk.politics.guns", "soc.religion.christian",
              "comp.graphics", "sci.space", "misc.forsale", "rec.motorcycles", "sci.med",
              "talk.politics.mideast"]  # fmt: skip
    by_group: dict[str, list] = {g: [] for g in groups}
    with gzip.open(NEWS, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            if d["group"] in by_group and len(d["text"]) > 200 and not d["message_id_dup"]:
                by_group[d["group"]].append(d)
    rng = random.Random(0)
    path = tmp_path / "news.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for g in groups:
            for d in rng.sample(by_group[g], 30):
                rec = {"id": d["id"], "title": d["subject"], "abstract": d["text"][:1500]}
                f.write(json.dumps(rec) + "\n")
    cfg = sample_config(
        tmp_path,
        corpus={"path": str(path)},
        cache={"dir": str(shared_cache)},
        labels={"vocabulary": "openalex"},
    )
    r = fit(cfg, log=lambda m: None)
    namers = [r.metrics["labels"]["per_node"][n.node_id]["namer"]
              for n in r.taxonomy.nodes.values() if n.level > 0]  # fmt: skip
    assert namers.count("extractive") >= 0.8 * len(namers), r.metrics["labels"]["namers"]
