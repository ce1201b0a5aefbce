"""`taxonomy assign`: placing papers into an existing run (real run of the sample, real model)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

import taxonomy.assign as assign_mod
from taxonomy.assign import ASSIGN_FILE, AssignModel
from taxonomy.cli import main


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_jsonl(path: Path, corpus, idx, *, drop_title: bool = False) -> Path:
    import json

    with open(path, "w", encoding="utf-8") as f:
        for i in idx:
            title = "" if drop_title else corpus.titles[i]
            f.write(
                json.dumps({"id": corpus.ids[i], "title": title, "abstract": corpus.abstracts[i]})
                + "\n"
            )
    return path


class TestFittedPapers:
    def test_the_run_saves_what_assign_needs(self, sample_run):
        result, run_dir = sample_run
        model = AssignModel.load(run_dir)
        assert model.embeddings.shape == result.embeddings.shape
        assert np.array_equal(model.topic_ids, result.topic_ids)

    def test_a_fitted_paper_gets_its_fitted_node(self, sample_run, tmp_path):
        # BERTopic's transform disagrees with its own fit (#1582); ours must not.
        result, run_dir = sample_run
        papers = write_jsonl(tmp_path / "again.jsonl", result.corpus, range(len(result.corpus)))
        out = tmp_path / "placed"
        assert main(["assign", str(run_dir), str(papers), "--out", str(out)]) == 0
        fitted = {r["doc_id"]: r for r in read_rows(run_dir / "documents.csv")}
        placed = read_rows(out / "documents.csv")
        assert len(placed) == len(fitted)
        for row in placed:
            ref = fitted[row["doc_id"]]
            assert (row["topic_id"], row["path"], row["x"], row["y"]) == (
                ref["topic_id"],
                ref["path"],
                ref["x"],
                ref["y"],
            )

    def test_knn_vote_alone_mostly_agrees_with_the_fit(self, sample_run):
        # Without the text keys every paper is re-predicted by its neighbours' vote.
        result, run_dir = sample_run
        placed = AssignModel.load(run_dir).place(result.embeddings)
        assert not placed.in_fit.any()
        assert np.mean(placed.topic_ids == result.topic_ids) >= 0.8


class TestNewPapers:
    def test_abstract_without_title_lands_with_its_original(self, sample_run, tmp_path):
        result, run_dir = sample_run
        papers = write_jsonl(
            tmp_path / "new.jsonl", result.corpus, range(0, len(result.corpus), 3), drop_title=True
        )
        out = tmp_path / "new"
        assert main(["assign", str(run_dir), str(papers), "--out", str(out)]) == 0
        fitted = {r["doc_id"]: r for r in read_rows(run_dir / "documents.csv")}
        placed = read_rows(out / "documents.csv")
        same = [r["topic_id"] == fitted[r["doc_id"]]["topic_id"] for r in placed]
        assert np.mean(same) >= 0.7
        for r in placed:  # a placed paper carries its topic's label path and a map position
            if r["topic_id"] != "-1":
                assert r["path"] and r["topic_label"] == r["path"].split(" > ")[-1]
            assert np.isfinite(float(r["x"])) and np.isfinite(float(r["y"]))

    def test_chunking_does_not_change_placements(self, sample_run, monkeypatch):
        result, run_dir = sample_run
        model = AssignModel.load(run_dir)
        X = result.embeddings[::-1] + 0.01  # not identical to fitted vectors
        whole = model.place(X)
        monkeypatch.setattr(assign_mod, "_CHUNK_CELLS", 7 * len(model.topic_ids))
        chunked = model.place(X)
        assert np.array_equal(whole.topic_ids, chunked.topic_ids)
        np.testing.assert_allclose(whole.xy, chunked.xy, atol=1e-4)  # BLAS sums differ by shape


class TestErrors:
    def test_not_a_run_directory(self, tmp_path, capsys):
        (tmp_path / "papers.jsonl").write_text('{"id": "1", "title": "t", "abstract": "a"}\n')
        assert main(["assign", str(tmp_path), str(tmp_path / "papers.jsonl")]) == 2
        assert "config.yaml" in capsys.readouterr().err

    def test_run_without_assign_file(self, sample_run, tmp_path, capsys):
        import shutil

        _, run_dir = sample_run
        old = tmp_path / "old_run"
        shutil.copytree(run_dir, old)
        (old / ASSIGN_FILE).unlink()
        assert main(["assign", str(old), str(tmp_path / "x.jsonl")]) == 2
        assert ASSIGN_FILE in capsys.readouterr().err

    def test_existing_output_needs_overwrite(self, sample_run, tmp_path, capsys):
        result, run_dir = sample_run
        papers = write_jsonl(tmp_path / "p.jsonl", result.corpus, range(12))
        out = tmp_path / "o"
        assert main(["assign", str(run_dir), str(papers), "--out", str(out)]) == 0
        assert main(["assign", str(run_dir), str(papers), "--out", str(out)]) == 2
        assert "--overwrite" in capsys.readouterr().err
        assert main(["assign", str(run_dir), str(papers), "--out", str(out), "--overwrite"]) == 0
