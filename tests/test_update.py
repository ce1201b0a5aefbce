"""`taxonomy update`: new papers into a saved run (real runs of the dated sample, real model)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import dated_records, sample_config

from taxonomy.cli import main
from taxonomy.embedding.encoder import text_key
from taxonomy.errors import InputError
from taxonomy.outputs.report import report_core, report_payloads, unpacked
from taxonomy.runs.assign import AssignModel
from taxonomy.runs.rundir import load_run, tree_taxonomy, walk_tree
from taxonomy.runs.timeline import period_label, period_number
from taxonomy.runs.update import join_born_topics, pool_groups


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return path


def nodes_of(tree: dict) -> dict[str, tuple]:
    return {
        d["node_id"]: (d["label"], d["level"], p, tuple(d.get("keywords", [])))
        for d, p in walk_tree(tree["root"])
    }


@pytest.fixture(scope="module")
def early(tmp_path_factory, sample_run):
    """A run of the dated sample's papers up to June; July and August are left for updates."""
    from taxonomy.pipeline import run

    base = sample_run[0]
    tmp = tmp_path_factory.mktemp("update")
    recs = dated_records(base)
    first = write(tmp / "early.jsonl", [r for r in recs if r["date"] < "2025-07"])
    late = [r for r in recs if r["date"] >= "2025-07"]
    cfg = sample_config(
        tmp, name="early", corpus={"path": str(first)}, cache={"dir": base.cfg.cache.dir}
    )
    result = run(cfg, log=lambda m: None)
    return result, result.out_dir, late, tmp


def test_update_places_every_paper_keeps_every_id_and_leaves_the_run_alone(early, capsys):
    result, run_dir, late, tmp = early
    before = digest(run_dir)
    papers = write(tmp / "late.jsonl", late)
    assert main(["update", str(run_dir), str(papers)]) == 0
    out = run_dir.parent / "early-update1"  # the default: beside the run, numbered
    assert digest(run_dir) == before  # the run it reads is never rewritten
    c = json.loads((out / "changes.json").read_text())
    assert c["summary"] and "report:" in capsys.readouterr().out
    p = c["papers"]
    assert p["added"] == len(late)
    assert p["placed"] + p["joined_update_topics"] + p["in_new_topics"] + p["pooled"] == len(late)
    saved = load_run(out)
    assert len(saved.corpus) == len(result.corpus) + len(late)
    assert (saved.origin == 1).sum() == len(late)
    new = saved.origin == 1
    # Every new paper is placed in a topic or pooled (-1), and the pool is what changes.json says.
    assert set(saved.topic_ids[new].tolist()) <= set(saved.topic_ids.tolist())
    assert c["pool"]["size"] == int((saved.topic_ids == -1).sum())
    # The fit's papers keep their topics; every node of the fit keeps id, name, level and parent.
    assert np.array_equal(saved.topic_ids[~new], result.topic_ids)
    old_nodes = nodes_of(json.loads((run_dir / "taxonomy.json").read_text()))
    new_nodes = nodes_of(saved.tree)
    assert {k: new_nodes[k] for k in old_nodes} == old_nodes
    # Old and new papers everywhere: documents, topics over time, the report.
    rows = (out / "documents.csv").read_text().splitlines()
    assert len(rows) == 1 + len(saved.corpus)
    periods = {r.split(",")[1] for r in (out / "topics_over_time.csv").read_text().splitlines()[1:]}
    # The run's time bin (weeks for its half year) is kept; the periods now reach into August.
    time_bin = saved.cfg.taxonomy.time_bin
    assert time_bin == result.cfg.taxonomy.time_bin != "auto"
    dates = [d for d in saved.corpus.dates if d]
    ends = {period_label(period_number(d, time_bin), time_bin) for d in (min(dates), max(dates))}
    assert ends <= periods and max(dates).month == 8
    html = (out / "report.html").read_text()
    core = report_core(report_payloads(html))
    assert len(core["docs"]["id"]) == len(saved.corpus) and core["changes"]["update"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["update"] == 1 and metrics["n_docs"] == len(saved.corpus)
    # The fit's model travels unchanged: every update places papers by the same fit.
    assert (out / "model/assign.npz").read_bytes() == (run_dir / "model/assign.npz").read_bytes()
    # An update reads the fit's papers' vectors from that model, as float32: the same
    # vectors as their float16 copies in the run, to float16's precision.
    fit = AssignModel.load(out).embeddings
    reused = load_run(out, fit).embeddings
    assert np.array_equal(reused[: len(fit)], fit) and reused.dtype == np.float32
    assert np.abs(reused - saved.embeddings).max() < 2e-3
    assert np.array_equal(reused[len(fit) :], saved.embeddings[len(fit) :])
    assert np.allclose(np.linalg.norm(reused, axis=1), 1.0, atol=1e-5)
    fit_only = AssignModel.load(run_dir).embeddings  # a run no update has grown: no copy
    assert load_run(run_dir, fit_only).embeddings is fit_only

    # The same papers again: nothing to add, all counted, the next number.
    assert main(["update", str(out), str(papers)]) == 0
    again = json.loads((run_dir.parent / "early-update2" / "changes.json").read_text())
    assert again["papers"]["added"] == 0 and again["papers"]["already_in_run"] == len(late)


def test_an_update_never_writes_into_the_run_it_reads(early, capsys):
    _, run_dir, late, tmp = early
    before = digest(run_dir)
    papers = write(tmp / "late2.jsonl", late)
    assert main(["update", str(run_dir), str(papers), "--out", str(run_dir)]) == 2
    assert "never rewrites" in capsys.readouterr().err
    assert digest(run_dir) == before


def pool_the_novel_leaf(sample_run, monkeypatch) -> set[str]:
    """The full sample's largest leaf: its papers are all dated July/August, so the early fit
    never saw that topic. Make the fit's rule say they fit no topic, as a geometry-faithful
    rule would for a topic the fit lacks. Returns those papers' text keys."""
    full = sample_run[0]
    leaf = max(full.taxonomy.level(full.taxonomy.n_levels), key=lambda n: n.size)
    novel = {text_key(full.corpus.texts[i]) for i in leaf.doc_idx}
    real = AssignModel.place

    def place(self, X, keys=None):
        out = real(self, X, keys)
        for i, k in enumerate(keys):
            if k in novel:
                out.topic_ids[i], out.probabilities[i] = -1, 0.0
        return out

    monkeypatch.setattr(AssignModel, "place", place)
    return novel


def test_a_dense_group_of_misfits_becomes_a_named_topic(early, sample_run, monkeypatch, tmp_path):
    """Papers the fit's rule places nowhere (-1) are pooled; a dense group of them is proposed."""
    result, run_dir, late, _ = early
    novel = pool_the_novel_leaf(sample_run, monkeypatch)
    papers = write(tmp_path / "late.jsonl", late)
    out = tmp_path / "grown"
    assert main(["update", str(run_dir), str(papers), "--out", str(out)]) == 0
    c = json.loads((out / "changes.json").read_text())
    assert c["new_topics"], c["summary"]
    saved = load_run(out)
    tax = tree_taxonomy(saved.tree, saved.topic_ids, saved.corpus.ids)
    fit_leaves = {n.index for n in result.taxonomy.level(result.taxonomy.n_levels)}
    labels = [n.label.lower() for n in tax.nodes.values()]
    for t in c["new_topics"]:
        node = tax.nodes[t["node_id"]]
        assert node.index > max(fit_leaves) and node.level == tax.n_levels
        assert node.parent_id in result.taxonomy.nodes  # under an existing parent
        assert node.label and labels.count(node.label.lower()) == 1  # named, and uniquely
        members = {text_key(saved.corpus.texts[i]) for i in node.doc_idx}
        assert members <= novel  # made of pooled papers only
        assert node.keywords and node.representative
    assert c["papers"]["in_new_topics"] >= int(result.cfg.hdbscan.min_cluster_size)
    # A later update of the same kind of paper joins the new topic instead of the pool.
    history = json.loads((out / "model/updates.json").read_text())
    assert history["updates"][0]["new_topics"] == [t["node_id"] for t in c["new_topics"]]


def test_a_run_without_saved_papers_is_refused(early, tmp_path):
    from taxonomy.runs.update import update_run

    _, run_dir, late, _ = early
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.yaml", "taxonomy.json", "metrics.json"):
        (bare / name).write_bytes((run_dir / name).read_bytes())
    with pytest.raises(InputError, match="no model/papers.jsonl.gz"):
        update_run(bare, str(write(tmp_path / "l.jsonl", late)), log=lambda m: None)


def test_a_missing_file_is_named_before_any_paper_is_embedded(early, tmp_path):
    """The run is read while the new papers embed; a file it lacks still fails first."""
    import shutil

    from taxonomy.runs.update import update_run

    _, run_dir, late, _ = early
    broken = shutil.copytree(run_dir, tmp_path / "broken")
    (broken / "model/papers.npz").unlink()

    class NoEmbedding:
        def embed(self, texts, **kw):
            raise AssertionError("embedded before the run was checked")

    with pytest.raises(InputError, match="no model/papers.npz"):
        update_run(
            broken, str(write(tmp_path / "l.jsonl", late)), log=lambda m: None,
            embedder=NoEmbedding(),
        )  # fmt: skip
    assert not (tmp_path / "broken-update1").exists()


def test_papers_of_the_fit_are_not_embedded_again(early, tmp_path):
    """While the run is read, only papers the fit does not hold are embedded ahead; the fit's
    own papers are recognised and counted, and nothing else changes."""
    from taxonomy.embedding import Embedder
    from taxonomy.pipeline import store_for
    from taxonomy.runs.rundir import load_run_config
    from taxonomy.runs.update import update_run

    result, run_dir, late, _ = early
    old = dated_records(result)[:3]
    cfg = load_run_config(run_dir)

    calls: list[list[str]] = []

    class Recording(Embedder):
        def embed(self, texts, **kw):
            calls.append(list(texts))
            return super().embed(texts, **kw)

    done = update_run(
        run_dir, str(write(tmp_path / "mixed.jsonl", old + late)), out=tmp_path / "u",
        log=lambda m: None, embedder=Recording(cfg.embedding, store_for(cfg)),
    )  # fmt: skip
    ahead = calls[0]
    assert len(ahead) == len(late) and not set(ahead) & set(load_run(run_dir).corpus.texts)
    assert done.changes["papers"]["added"] == len(late)


def test_an_update_keeps_what_it_does_not_change_as_it_was(early, tmp_path):
    """Two updates in a row: the embeddings of the papers already there are hard links to the
    files that first held them, documents.csv is the run's rows then the new ones, and the
    result reads back exactly as it says."""
    import csv
    import os
    import shutil

    _, run_dir, late, _ = early
    half = len(late) // 2
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["update", str(run_dir), str(write(tmp_path / "a.jsonl", late[:half])), "--out", str(one)]) == 0  # fmt: skip
    assert main(["update", str(one), str(write(tmp_path / "b.jsonl", late[half:])), "--out", str(two)]) == 0  # fmt: skip
    assert os.path.samefile(two / "model/embeddings-0.npz", run_dir / "model/papers.npz")
    assert os.path.samefile(two / "model/embeddings-1.npy", one / "model/embeddings-1.npy")
    base, first, saved = load_run(run_dir), load_run(one), load_run(two)
    assert saved.embedding_files == ["embeddings-0.npz", "embeddings-1.npy", "embeddings-2.npy"]
    n = len(first.corpus)
    assert np.array_equal(saved.embeddings[: len(base.corpus)], base.embeddings)
    assert np.array_equal(saved.embeddings[:n], first.embeddings)
    with open(two / "documents.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["doc_id"] for r in rows] == saved.corpus.ids
    assert [int(r["topic_id"]) for r in rows] == saved.topic_ids.tolist()
    if np.array_equal(saved.topic_ids[:n], first.topic_ids):  # no paper of `one` moved
        assert (two / "documents.csv").read_bytes().startswith((one / "documents.csv").read_bytes())
    # A file the state lists is named when it is missing.
    broken = tmp_path / "broken"
    shutil.copytree(two, broken)
    (broken / "model/embeddings-1.npy").unlink()
    with pytest.raises(InputError, match="embeddings-1.npy"):
        load_run(broken)


def test_a_run_saved_before_abstracts_had_their_own_file_is_updated_in_its_layout(early, tmp_path):
    """A run whose papers file holds each abstract in its record (written before
    abstracts.jsonl.gz) reads and updates as it is: the update appends records alike."""
    import shutil

    from taxonomy.runs.saved_papers import paper_records_gz

    _, run_dir, late, _ = early
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    saved = load_run(old)
    abstracts = list(saved.corpus.abstracts)  # read now: the file goes
    (old / "model/abstracts.jsonl.gz").unlink()
    (old / "model/papers.jsonl.gz").write_bytes(paper_records_gz(saved.corpus))
    out = tmp_path / "out"
    assert (
        main(["update", str(old), str(write(tmp_path / "a.jsonl", late)), "--out", str(out)]) == 0
    )
    assert not (out / "model/abstracts.jsonl.gz").exists()
    back = load_run(out)
    assert list(back.corpus.abstracts) == abstracts + [r["abstract"] for r in late]
    assert back.corpus.ids == saved.corpus.ids + [r["id"] for r in late]


def test_a_damaged_papers_file_names_the_line(tmp_path):
    from taxonomy.corpus import Corpus
    from taxonomy.runs.saved_papers import (
        abstracts_gz,
        paper_records_gz,
        papers_gz,
        read_papers,
    )

    c = Corpus(["a", "b"], ["T1", "T2"], ["x", "y"], [None, None], {}, dates=[None, None])
    path = tmp_path / "p.jsonl.gz"
    # A run written before columns: one record per line, abstracts inside.
    good = gzip.decompress(paper_records_gz(c)).decode()
    # Two halves of one record on two lines would read as one object if the lines were joined.
    first, rest = good.split("\n", 1)
    split = first[: first.index('"abstract"')] + "\n" + first[first.index('"abstract"') :]
    path.write_bytes(gzip.compress((split + "\n" + rest).encode()))
    with pytest.raises(InputError, match=r"p.jsonl.gz:1: damaged record"):
        read_papers(path, [])
    path.write_bytes(gzip.compress((good + "[1, 2]\n").encode()))
    with pytest.raises(InputError, match=r"p.jsonl.gz:3: damaged record"):
        read_papers(path, [])
    second = good.split("\n")[1]
    path.write_bytes(gzip.compress((first + "\n" + second + ' {"id": "c"}\n').encode()))
    with pytest.raises(InputError, match=r"p.jsonl.gz:2: damaged record \(extra data"):
        read_papers(path, [])
    path.write_bytes(gzip.compress(good.replace("\n", "\n\n", 1).encode()))  # a blank line
    assert read_papers(path, []).ids == ["a", "b"]
    # Columns, a line per write: a write whose columns disagree is named by its line.
    (tmp_path / "abstracts.jsonl.gz").write_bytes(abstracts_gz(c))
    one, two = (gzip.decompress(papers_gz(c, range(k, k + 1))).decode() for k in (0, 1))
    path.write_bytes(gzip.compress((one + two.replace('"T2"', '"T2","T3"')).encode()))
    with pytest.raises(InputError, match=r"p.jsonl.gz:2: damaged papers \('title'"):
        read_papers(path, [])
    path.write_bytes(gzip.compress((one + "\n" + two).encode()))  # a blank line between
    back = read_papers(path, [])
    assert back.ids == ["a", "b"] and list(back.abstracts) == ["x", "y"]


class TestPool:
    def blobs(self, sizes, spread, seed=0, dim=32):
        rng = np.random.default_rng(seed)
        parts = [rng.normal(size=dim) + spread * rng.normal(size=(n, dim)) for n in sizes]
        X = np.concatenate(parts)
        return X / np.linalg.norm(X, axis=1, keepdims=True)

    def test_two_dense_groups_and_scattered_misfits(self):
        X = np.concatenate([self.blobs([30, 25], 0.15), self.blobs([40], 3.0, seed=1)])
        groups = pool_groups(X, min_cluster_size=10, min_samples=5, min_similarity=0.5)
        assert len(groups) == 2 and groups[0].size >= groups[1].size
        blobs = [set(range(30)), set(range(30, 55))]
        homes = [
            next(k for k, b in enumerate(blobs) if len(set(g) & b) > g.size / 2) for g in groups
        ]
        assert sorted(homes) == [0, 1]
        for g, k in zip(groups, homes):  # mostly its blob's papers, at most a few misfits
            assert len(set(g) & blobs[k]) >= 0.8 * len(blobs[k]) and not set(g) - blobs[k]

    def test_one_group_is_enough_and_loose_groups_are_refused(self):
        X = np.concatenate([self.blobs([30], 0.15), self.blobs([40], 3.0, seed=1)])
        (g,) = pool_groups(X, min_cluster_size=10, min_samples=5, min_similarity=0.5)
        assert set(g) <= set(range(30)) and g.size >= 10  # a core; the update lets the rest join
        assert pool_groups(X, min_cluster_size=10, min_samples=5, min_cohesion=0.999) == []
        assert pool_groups(X[:5], min_cluster_size=10, min_samples=5) == []

    def test_misfits_join_a_born_topic_only_when_close(self):
        X = self.blobs([30, 1], 0.15)
        members = {7: X[:29]}
        joined = join_born_topics(np.stack([X[29], -X[0]]), members)
        assert joined.tolist() == [7, -1]
        assert join_born_topics(X[:2], {}).tolist() == [-1, -1]


def test_saved_papers_round_trip_and_an_appended_member_reads_as_one(tmp_path):
    from datetime import date

    from taxonomy.corpus import Corpus
    from taxonomy.runs.saved_papers import abstracts_gz, paper_records_gz, papers_gz, read_papers

    c = Corpus(
        ["a", "b", "c"],
        ["T1", "Ünïcode ✓", ""],
        ["x\ny", 'quote " and \\ back', "z"],
        ["https://x", None, None],
        {"group": ["cs", None, "physics"]},
        dates=[date(2025, 1, 2), None, date(2026, 7, 1)],
    )
    path = tmp_path / "papers.jsonl.gz"
    path.write_bytes(papers_gz(c, range(2)) + papers_gz(c, range(2, 3)))
    side = tmp_path / "abstracts.jsonl.gz"
    side.write_bytes(abstracts_gz(c, range(2)) + abstracts_gz(c, range(2, 3)))
    back = read_papers(path, ["group"])
    assert not back.abstracts.loaded  # read when first used
    assert (back.ids, back.titles, back.urls) == (c.ids, c.titles, c.urls)
    assert back.dates == c.dates and back.gold == c.gold
    assert list(back.abstracts) == c.abstracts and back.abstracts.loaded
    assert papers_gz(c) == papers_gz(c)  # byte-stable
    # A run written before abstracts.jsonl.gz: the abstracts are in the records.
    side.unlink()
    path.write_bytes(paper_records_gz(c))
    assert read_papers(path, ["group"]).abstracts == c.abstracts
    # Records without abstracts and no file of them: the run is damaged, said when read.
    path.write_bytes(papers_gz(c))
    with pytest.raises(InputError, match="abstracts.jsonl.gz"):
        read_papers(path, [])
    side.write_bytes(abstracts_gz(c, range(2)))  # one abstract short
    with pytest.raises(InputError, match="expected 3 abstracts"):
        list(read_papers(path, []).abstracts)


def copy_run(run_dir: Path, to: Path, **sections: dict) -> Path:
    """A copy of a written run whose config.yaml has ``sections`` merged in."""
    import shutil

    import yaml

    shutil.copytree(run_dir, to)
    data = yaml.safe_load((to / "config.yaml").read_text())
    for key, values in sections.items():
        data[key].update(values)
    (to / "config.yaml").write_text(yaml.safe_dump(data))
    return to


def test_an_update_keeps_the_report_chunks_of_the_runs_papers_as_they_were(
    early, monkeypatch, tmp_path
):
    """Past report.inline_abstracts_max the abstracts lie in chunk files; an update hard-links
    those of the run's own papers (never reading them), packs the grown last one again, and
    the page's chunks read back as every paper's abstract, in order."""
    import os
    import re

    from taxonomy.outputs import report
    from taxonomy.outputs.report import shorten_abstract
    from taxonomy.runs import saved_papers
    from taxonomy.runs.update import update_run

    _, run_dir, late, _ = early
    monkeypatch.setattr(report, "TEXT_CHUNK", 8)
    monkeypatch.setattr(report, "DOCS_CHUNK", 8)
    base = copy_run(run_dir, tmp_path / "base", report={"inline_abstracts_max": 10})
    one, two = tmp_path / "one", tmp_path / "two"
    update_run(base, str(write(tmp_path / "a.jsonl", late[:3])), out=one, log=lambda m: None)
    reads, real = [], saved_papers.read_abstracts
    monkeypatch.setattr(saved_papers, "read_abstracts", lambda p, n: reads.append(p) or real(p, n))
    update_run(one, str(write(tmp_path / "b.jsonl", late[3:])), out=two, log=lambda m: None)
    # The second update did not read the run's abstracts: the grown chunk's first rows came
    # from the previous report's payload, and no new paper's title was the run's. (The first
    # did: its run's report had chunks of another size, so every chunk was packed again.)
    assert reads == []
    n_one, saved = len(load_run(one).corpus), load_run(two)
    chunks = sorted((two / "report_files").glob("text-*.js"))
    assert len(chunks) == -(-len(saved.corpus) // 8)
    for k, path in enumerate(chunks):
        linked = os.path.exists(one / "report_files" / path.name) and os.path.samefile(
            path, one / "report_files" / path.name
        )
        assert linked == (8 * (k + 1) <= n_one)  # the run's full chunks, and only those
    pages = [report_payloads((d / "report.html").read_text()) for d in (one, two)]
    core = report_core(pages[1])
    assert core["text"]["files"] == [f"report_files/{p.name}" for p in chunks]
    # The papers' columns: a chunk of the run's papers whose columns did not change is the
    # previous page's payload as it was; the page's columns are every paper's.
    cols = [report_core(p)["docs"] for p in pages]
    same = [
        k
        for k in range(n_one // 8)
        if all(cols[1][f][8 * k : 8 * k + 8] == cols[0][f][8 * k : 8 * k + 8] for f in "xy")
        and cols[1]["topic"][8 * k : 8 * k + 8] == cols[0]["topic"][8 * k : 8 * k + 8]
    ]
    assert same and all(pages[1][f"docs-gz-{k}"] == pages[0][f"docs-gz-{k}"] for k in same)
    assert cols[1]["id"] == saved.corpus.ids and cols[1]["topic"] == saved.topic_ids.tolist()
    text = []
    for path in chunks:
        text += unpacked(re.search(r',"([A-Za-z0-9+/=]*)"\);', path.read_text())[1])
    limit = saved.cfg.report.max_abstract_chars
    assert text == [shorten_abstract(a, limit) for a in saved.corpus.abstracts]
    # A chunk file of the run gone: the update packs that chunk again from the papers.
    (two / "report_files" / chunks[0].name).unlink()
    three = tmp_path / "three"
    update_run(two, str(write(tmp_path / "c.jsonl", late[:1])), out=three, log=lambda m: None)
    first = (three / "report_files" / chunks[0].name).read_text()
    assert unpacked(re.search(r',"([A-Za-z0-9+/=]*)"\);', first)[1]) == text[:8]


def test_new_topics_are_named_by_the_runs_namer(early, sample_run, monkeypatch, tmp_path):
    """A run named by an LLM (labels.method: llm) gets LLM names for the topics an update
    proposes too: the update names through the same entry point as the run."""
    from test_llm import FakeServer

    from taxonomy.runs.update import update_run

    _, run_dir, late, _ = early
    server = FakeServer()
    try:
        llm = {"base_url": server.url, "model": "fake-update", "concurrency": 1}
        named = copy_run(run_dir, tmp_path / "llm-run", labels={"method": "llm", "llm": llm})
        pool_the_novel_leaf(sample_run, monkeypatch)
        papers = write(tmp_path / "late.jsonl", late)
        done = update_run(named, str(papers), out=tmp_path / "grown", log=lambda m: None)
    finally:
        server.close()
    new = done.changes["new_topics"]
    assert new and server.requests  # the endpoint was asked
    tree = json.loads((tmp_path / "grown" / "taxonomy.json").read_text())
    by_id = {d["node_id"]: d for d, _ in walk_tree(tree["root"])}
    for t in new:
        # The fake model answers "Name: <first keyword>" with "Papers on <it>." as the
        # description; extractive names carry no description.
        assert by_id[t["node_id"]]["description"].startswith("Papers on ")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_update_places_papers_on_the_runs_engine(early, tmp_path):
    """engine.kind: dask places an update's papers on a Dask cluster, as 'assign' does,
    with the same topics as the local engine."""
    pytest.importorskip("dask.distributed")
    from taxonomy.runs.update import update_run

    _, run_dir, late, _ = early
    papers = write(tmp_path / "late.jsonl", late)
    dask_run = copy_run(
        run_dir, tmp_path / "dask-run", engine={"kind": "dask", "n_workers": 1, "batch_size": 8}
    )
    logs: list[str] = []
    on_dask = update_run(dask_run, str(papers), out=tmp_path / "d", log=logs.append)
    local = update_run(run_dir, str(papers), out=tmp_path / "l", log=lambda m: None)
    assert any("batches on Dask" in m for m in logs)
    assert on_dask.changes["papers"] == local.changes["papers"]
    np.testing.assert_array_equal(on_dask.result.topic_ids, local.result.topic_ids)


def test_an_update_reads_the_runs_vocabulary(early, tmp_path):
    """labels.vocabulary reaches an update too (it names new topics through the run's entry
    point): a vocabulary file gone since the run stops the update before anything is written."""
    from taxonomy.errors import ConfigError
    from taxonomy.runs.update import update_run

    _, run_dir, late, _ = early
    gone = tmp_path / "tracks.csv"
    named = copy_run(run_dir, tmp_path / "vocab-run", labels={"vocabulary": str(gone)})
    papers = write(tmp_path / "late.jsonl", late)
    with pytest.raises(ConfigError, match="labels.vocabulary"):
        update_run(named, str(papers), out=tmp_path / "grown", log=lambda m: None)
    assert not (tmp_path / "grown").exists()
