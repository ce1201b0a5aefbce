"""Bad input through the command line: one clear line and exit code 2, never a traceback.

Each case is what a real user hands the tool by mistake. The loaders' own
behaviour on good files is in test_corpus.py; this file is about the wrong ones.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import sample_config

from taxonomy.cli import main

ABSTRACT = (
    "We study dense retrieval with dual encoders trained on large query logs and show that "
    "hard negatives matter more than model size for recall on passage ranking benchmarks."
)


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def one_error(args: list[str], capsys) -> str:
    """Run and return the single error line (exit code 2 checked)."""
    code, err = run_cli(args, capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1, err
    return lines[0]


def write_config(tmp: Path, **overrides) -> Path:
    """A config file with a tmp cache and output dir (so no test touches the shared ones)."""
    import yaml

    data = sample_config(tmp, **overrides).model_dump(mode="json")
    path = tmp / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def papers(n: int, **fields) -> list[dict]:
    return [
        {"id": f"p{i}", "title": f"Paper {i}", "abstract": f"{ABSTRACT} Variant {i}.", **fields}
        for i in range(n)
    ]


@pytest.fixture
def cfg(tmp_path) -> Path:
    return write_config(tmp_path)


class TestCorpusFiles:
    @pytest.mark.parametrize(
        "name, content, expected",
        [
            ("empty.jsonl", b"", "no papers found as jsonl"),
            ("blank.jsonl", b"\n  \n", "no papers found as jsonl"),
            ("empty.csv", b"", "no papers found as csv"),
            ("header_only.csv", b"id,title,abstract\n", "no papers found as csv"),
            ("empty.txt", b"", "no papers found as papers_page"),
            ("chrome_only.txt", b"New\n\nSubscribe\n\nMar 17\n", "no papers found as papers_page"),
            ("empty.json", b"[]", "no papers found as arxiv"),
        ],
    )
    def test_empty_file(self, tmp_path, cfg, capsys, name, content, expected):
        p = tmp_path / name
        p.write_bytes(content)
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert line.startswith(f"error: {p}: {expected}")

    def test_empty_parquet(self, tmp_path, cfg, capsys):
        p = tmp_path / "empty.parquet"
        pd.DataFrame({"id": [], "abstract": []}).to_parquet(p)
        assert "no papers found as parquet: the table has no rows" in one_error(
            ["run", str(cfg), "--input", str(p)], capsys
        )

    @pytest.mark.parametrize("n", [0, 1])
    def test_too_few_usable_papers(self, tmp_path, cfg, capsys, n):
        recs = papers(n) + [
            {"id": "e1", "title": "No abstract", "abstract": ""},
            {"id": "e2", "title": "Blank", "abstract": "   "},
        ]
        p = tmp_path / "few.jsonl"
        p.write_text("\n".join(map(json.dumps, recs)))
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert f"{p}: {n} usable paper{'' if n == 1 else 's'} after skipping 2 (empty 2," in line
        assert "needs at least 10" in line

    def test_all_duplicates(self, tmp_path, cfg, capsys):
        p = tmp_path / "dups.jsonl"
        rec = papers(1)[0]
        other_ids = [dict(rec, id=f"copy{i}") for i in range(5)]
        p.write_text("\n".join(map(json.dumps, [rec] * 20 + other_ids)))
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert "1 usable paper after skipping 24" in line
        assert "duplicate id 19" in line and "duplicate text 5" in line

    @pytest.mark.parametrize(
        "name, content, where, reason",
        [
            (
                "trunc.jsonl",
                json.dumps(papers(1)[0]) + '\n{"id": "x", "abstract": "cut sh',
                ":2:",
                "invalid JSON",
            ),
            (
                "list.jsonl",
                json.dumps(papers(1)[0]) + "\n[1, 2]\n",
                ":2:",
                "expected a JSON object per line",
            ),
            ("deep.jsonl", "[" * 50_000, ":1:", "nested too deeply"),
            (
                "quote.csv",
                f'id,title,abstract\np0,"Broken title,{ABSTRACT}\n',
                ":",
                "malformed CSV",
            ),
            (
                "cols.csv",
                f"id,title,abstract\np0,T,{ABSTRACT},extra\n",
                ":2:",
                "expected 3 columns",
            ),
            ("dupcol.csv", "id,abstract,abstract\n1,a,b\n", ":1:", "duplicate column names"),
            ("array.json", '[{"abstract": "x"}, 3]', "", "item 2: expected a JSON object"),
            (
                "cats.json",
                '{"abstract": "x", "categories": [1, 2]}\n',
                ":1: field 'categories'",
                "expected a space-separated string or a list",
            ),
        ],
    )
    def test_malformed_lines(self, tmp_path, cfg, capsys, name, content, where, reason):
        p = tmp_path / name
        p.write_text(content)
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert line.startswith(f"error: {p}{where}") and reason in line

    @pytest.mark.parametrize(
        "field, value, got",
        [
            ("abstract", ["a", "list"], "list"),
            ("abstract", {"en": "x"}, "dict"),
            ("abstract", 42, "int"),
            ("abstract", True, "bool"),
            ("title", 3.5, "float"),
            ("id", [1], "list"),
        ],
    )
    def test_wrong_types(self, tmp_path, cfg, capsys, field, value, got):
        recs = papers(3)
        recs[2][field] = value
        p = tmp_path / "types.jsonl"
        p.write_text("\n".join(map(json.dumps, recs)))
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert line == f"error: {p}:3: field '{field}': expected text, got {got}"

    def test_integer_ids_are_fine(self, tmp_path):
        from taxonomy.config import CorpusConfig
        from taxonomy.corpus import load_corpus

        p = tmp_path / "ids.jsonl"
        p.write_text("\n".join(json.dumps(dict(r, id=i)) for i, r in enumerate(papers(3))))
        assert load_corpus(CorpusConfig(path=str(p))).ids == ["0", "1", "2"]

    def test_missing_abstract_column(self, tmp_path, cfg, capsys):
        p = tmp_path / "c.csv"
        pd.DataFrame({"paper_id": ["1"], "body": [ABSTRACT]}).to_csv(p, index=False)
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert (
            line.startswith(f"error: {p}:2: no abstract field")
            and "set corpus.abstract_field" in line
        )

    def test_lone_surrogate_escape(self, tmp_path, cfg, capsys):
        p = tmp_path / "s.jsonl"
        p.write_text(
            json.dumps(papers(1)[0]) + '\n{"id": "x", "abstract": "broken \\udc80 text"}\n'
        )
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert line.startswith(f"error: {p}:2: field 'abstract': invalid character")

    def test_undecodable_bytes_hint_encoding(self, tmp_path, cfg, capsys):
        p = tmp_path / "latin1.jsonl"
        p.write_bytes(
            json.dumps(papers(1)[0]).encode() + '\n{"abstract": "Caf\xe9"}\n'.encode("latin-1")
        )
        line = one_error(["run", str(cfg), "--input", str(p)], capsys)
        assert line.startswith(f"error: {p}:2: bytes not valid utf-8") and "corpus.encoding" in line
        assert "'latin-1'" in line

    def test_unknown_encoding(self, tmp_path, capsys):
        p = tmp_path / "c.jsonl"
        p.write_text(json.dumps(papers(1)[0]))
        line = one_error(
            ["run", str(write_config(tmp_path, corpus__encoding="klingon")), "--input", str(p)],
            capsys,
        )
        assert "unknown encoding 'klingon' (corpus.encoding)" in line

    def test_broken_gzip(self, tmp_path, cfg, capsys):
        p = tmp_path / "c.jsonl.gz"
        p.write_bytes(gzip.compress(b'{"abstract": "x"}\n' * 50)[:-20])
        assert "not a valid gzip file" in one_error(["run", str(cfg), "--input", str(p)], capsys)

    @pytest.mark.parametrize(
        "make, expected",
        [
            (lambda t: t / "missing.jsonl", "file not found"),
            (lambda t: t, "is a directory"),
            (lambda t: t / "papers.xml", "cannot tell the format from extension '.xml'"),
        ],
    )
    def test_unusable_paths(self, tmp_path, cfg, capsys, make, expected):
        p = make(tmp_path)
        if p.suffix == ".xml":
            p.write_text("<papers/>")
        assert expected in one_error(["run", str(cfg), "--input", str(p)], capsys)


class TestConfigFiles:
    @pytest.mark.parametrize(
        "yaml_text, expected",
        [
            (
                "umap:\n  n_neighbours: 10\n",
                "umap.n_neighbours: unknown key; did you mean 'n_neighbors'?",
            ),
            ("hdbscan:\n  min_cluster_size: lots\n", "hdbscan.min_cluster_size: expected"),
            ("umap:\n  min_dist: 3\n", "umap.min_dist: expected"),
            ("seed: -1\n", "seed: expected"),
            ("name: ../../etc\n", "name: expected"),
            ("umap: [1,\n", "invalid YAML"),
            ("- just\n- a list\n", "expected a mapping of sections"),
            ("seed: " + "9" * 5000 + "\n", "invalid YAML"),
        ],
    )
    def test_bad_config_file(self, tmp_path, capsys, yaml_text, expected):
        p = tmp_path / "bad.yaml"
        p.write_text(yaml_text)
        line = one_error(["run", str(p)], capsys)
        assert line.startswith(f"error: {p}") and expected in line and len(line) < 400

    def test_every_problem_named_once(self, tmp_path, capsys):
        p = tmp_path / "bad.yaml"
        p.write_text("umap:\n  n_neighbors: 1\n  metrc: cosine\nlabels:\n  ngram_range: [3, 1]\n")
        code, err = run_cli(["run", str(p)], capsys)
        assert code == 2
        keys = [ln.removeprefix("error: ").split(": ")[1] for ln in err.splitlines()]
        assert sorted(keys) == ["labels.ngram_range", "umap.metrc", "umap.n_neighbors"]

    def test_missing_config(self, tmp_path, capsys):
        assert "config file not found" in one_error(["run", str(tmp_path / "nope.yaml")], capsys)

    def test_hostile_key_stays_on_one_line(self, tmp_path, capsys):
        p = tmp_path / "bad.yaml"
        p.write_text('umap:\n  "evil\\nkey\\u2028": 1\n')
        line = one_error(["run", str(p)], capsys)
        assert "umap.'evil\\nkey\\u2028': unknown key" in line


class TestOutputPaths:
    """All checked before any work is done, so a mistake costs nothing."""

    def test_existing_run_needs_overwrite(self, tmp_path, cfg, capsys):
        out = tmp_path / "outputs" / "sample"
        out.mkdir(parents=True)
        (out / "metrics.json").write_text("{}")
        line = one_error(["run", str(cfg)], capsys)
        assert (
            line == f"error: {out}: a run directory already exists; pass --overwrite to replace it "
            "or --out to write elsewhere"
        )

    def test_overwrite_refuses_a_directory_that_is_not_a_run(self, tmp_path, cfg, capsys):
        precious = tmp_path / "thesis"
        precious.mkdir()
        (precious / "chapter1.tex").write_text("years of work")
        line = one_error(["run", str(cfg), "--out", str(precious), "--overwrite"], capsys)
        assert "is not a run directory (no metrics.json); refusing to replace it" in line
        assert (precious / "chapter1.tex").read_text() == "years of work"

    def test_overwrite_refuses_the_current_directory(self, tmp_path, cfg, capsys, monkeypatch):
        work = tmp_path / "work"
        (work / "sub").mkdir(parents=True)
        (work / "metrics.json").write_text("{}")  # even if it looks like a run
        monkeypatch.chdir(work / "sub")
        for out in ("..", str(work)):
            line = one_error(["run", str(cfg), "--out", out, "--overwrite"], capsys)
            assert "refusing to replace it" in line or "ends in a name" in line
        assert (work / "metrics.json").exists()

    def test_out_is_a_file(self, tmp_path, cfg, capsys):
        f = tmp_path / "notes.txt"
        f.write_text("x")
        assert "exists and is not a directory" in one_error(
            ["run", str(cfg), "--out", str(f)], capsys
        )
        assert "is a file, expected a directory" in one_error(
            ["run", str(cfg), "--out", str(f / "run")], capsys
        )

    def test_out_not_writable(self, tmp_path, cfg, capsys):
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            target = ro / "run"
            if os.access(ro, os.W_OK):  # root ignores permissions; /sys is read-only for everyone
                target = Path("/sys/taxonomy-test-run")
            line = one_error(["run", str(cfg), "--out", str(target)], capsys)
            assert line.startswith(f"error: {target}: cannot write in")
        finally:
            ro.chmod(0o700)


def test_tiny_corpus_below_n_neighbors(tmp_path, shared_cache, capsys):
    """Ten papers (the minimum) with n_neighbors 15: clamped, run completes, recorded in config.yaml."""
    import yaml

    from taxonomy.config import CorpusConfig
    from taxonomy.corpus import load_corpus

    c = load_corpus(CorpusConfig())
    p = tmp_path / "tiny.jsonl"
    p.write_text(
        "\n".join(
            json.dumps({"id": i, "title": t, "abstract": a})
            for i, t, a in zip(c.ids[:10], c.titles[:10], c.abstracts[:10])
        )
    )
    cfg = write_config(tmp_path, umap__n_neighbors=15, cache={"dir": str(shared_cache)})
    code, err = run_cli(["run", str(cfg), "--input", str(p)], capsys)
    assert code == 0, err
    run_dir = tmp_path / "outputs" / "sample"
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["umap"]["n_neighbors"] == 9
    assert json.loads((run_dir / "metrics.json").read_text())["n_docs"] == 10
