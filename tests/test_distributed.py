"""Past one machine: sampled fit + batch assignment, locally and on a real 2-worker Dask cluster."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import dated_records, sample_config

from taxonomy.config import build_config
from taxonomy.errors import ConfigError
from taxonomy.runs.assign import AssignModel
from taxonomy.runs.distributed import batch_slices, embed_and_place, split_sample
from taxonomy.runs.rundir import load_run


def new_texts(corpus, step: int = 3) -> list[str]:
    # Abstracts without their titles: new texts (not in the embedding cache, not fitted papers).
    return [corpus.abstracts[i] for i in range(0, len(corpus), step)]


class TestEngineConfig:
    @pytest.mark.parametrize(
        "key, value, expected",
        [
            ("kind", "ray", "'local' or 'dask'"),
            ("fit_sample", 5, "greater than or equal to 10"),
            ("batch_size", 0, "greater than or equal to 1"),
            ("n_workers", 0, "greater than or equal to 1"),
        ],
    )
    def test_bad_values_name_key_and_bound(self, key, value, expected):
        with pytest.raises(ConfigError) as e:
            build_config({"engine": {key: value}}, "exp.yaml")
        msg = str(e.value)
        assert msg.startswith(f"exp.yaml: engine.{key}:") and expected in msg and repr(value) in msg


class TestSplitting:
    def test_sample_is_seeded_disjoint_and_ordered(self, sample_run):
        corpus = sample_run[0].corpus
        a, rest = split_sample(corpus, 40, seed=7)
        b, _ = split_sample(corpus, 40, seed=7)
        c, _ = split_sample(corpus, 40, seed=8)
        assert a.ids == b.ids and a.ids != c.ids
        assert len(a) == 40 and len(rest) == len(corpus) - 40
        assert set(a.ids).isdisjoint(rest.ids) and set(a.ids) | set(rest.ids) == set(corpus.ids)
        order = {d: i for i, d in enumerate(corpus.ids)}
        assert [order[d] for d in a.ids] == sorted(order[d] for d in a.ids)

    def test_batches_cover_everything_once(self):
        s = batch_slices(10, 4)
        assert [(x.start, x.stop) for x in s] == [(0, 4), (4, 8), (8, 10)]


class TestDask:
    def test_dask_gives_the_same_assignments_as_one_process(self, sample_run, tmp_path):
        pytest.importorskip("dask.distributed")
        result, run_dir = sample_run
        model = AssignModel.load(run_dir)
        texts = new_texts(result.corpus)
        local = embed_and_place(sample_config(tmp_path / "a", engine__batch_size=8), model, texts)
        cfg = sample_config(
            tmp_path / "b", engine={"kind": "dask", "n_workers": 2, "batch_size": 8}
        )
        dask = embed_and_place(cfg, model, texts)
        assert len(dask.topic_ids) == len(texts)
        assert np.array_equal(local.topic_ids, dask.topic_ids)
        np.testing.assert_allclose(local.xy, dask.xy, atol=1e-3)
        np.testing.assert_allclose(local.probabilities, dask.probabilities, atol=1e-4)


class TestSampledRun:
    def test_fit_on_a_sample_assigns_the_rest(self, tmp_path):
        from taxonomy.pipeline import run

        cfg = sample_config(tmp_path, engine={"fit_sample": 45, "batch_size": 10})
        result = run(cfg, log=lambda m: None)
        with open(result.out_dir / "documents.csv", newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        metrics = json.loads((result.out_dir / "metrics.json").read_text())
        assert metrics["n_fit"] == 45 and metrics["n_assigned"] == 66 - 45
        assert len(rows) == 66 and len({r["doc_id"] for r in rows}) == 66
        leaves = {r["topic_id"] for r in rows[:45]}
        for r in rows[45:]:  # assigned papers land in topics of the fit, with a label path
            assert r["topic_id"] == "-1" or (r["topic_id"] in leaves and r["path"])

    def test_an_update_keeps_the_papers_placed_after_the_fit(self, tmp_path, sample_run):
        """The run saves only its fit's papers; its documents.csv also lists the rest, and
        every update carries those rows over as they were, after its own."""
        from taxonomy.pipeline import run
        from taxonomy.runs.update import update_run

        recs = dated_records(sample_run[0])
        path = tmp_path / "early.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs[:56]))
        cfg = sample_config(tmp_path, corpus={"path": str(path)}, engine={"fit_sample": 40})
        base = run(cfg, log=lambda m: None).out_dir

        def rows(run_dir):
            with open(run_dir / "documents.csv", newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))

        rest = rows(base)[40:]
        assert len(rows(base)) == 56 and len(rest) == 16
        out = base
        for k, part in enumerate((recs[56:61], recs[61:])):
            new = tmp_path / f"new{k}.jsonl"
            new.write_text("".join(json.dumps(r) + "\n" for r in part))
            out = update_run(
                out, str(new), out=tmp_path / f"u{k}", log=lambda m: None
            ).result.out_dir
            now = rows(out)
            assert [r["doc_id"] for r in now[: len(now) - 16]] == load_run(out).corpus.ids
            assert now[-16:] == rest
        assert len(rows(out)) == 66 and {r["doc_id"] for r in rows(out)} == {r["id"] for r in recs}
