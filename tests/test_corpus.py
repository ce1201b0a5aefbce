"""Corpus loaders: every format, field mapping, skips, and one-line errors with line numbers."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from taxonomy.config import CorpusConfig
from taxonomy.corpus import load_corpus
from taxonomy.errors import InputError

ABSTRACT = (
    "We study dense retrieval with dual encoders trained on large query logs and show that "
    "hard negatives matter more than model size for recall on passage ranking benchmarks."
)


def records(n=3):
    return [
        {"id": f"p{i}", "title": f"Paper {i}", "abstract": f"{ABSTRACT} Variant {i}."}
        for i in range(n)
    ]


class TestSample:
    def test_bundled_sample_has_66_papers(self):
        c = load_corpus(CorpusConfig())
        assert len(c) == 66 and c.n_skipped == 0
        assert c.titles[0].startswith("Fira: Can We Achieve Full-rank Training")
        assert c.abstracts[0].startswith("Low-rank training has emerged")
        # Page chrome ("New", "Subscribe", the date) is not taken for papers.
        assert not any(t in ("New", "Subscribe", "Mar 17") for t in c.titles)

    def test_text_is_title_plus_abstract(self):
        c = load_corpus(CorpusConfig())
        assert c.texts[3] == f"{c.titles[3]}. {c.abstracts[3]}"


class TestFormats:
    def test_jsonl(self, tmp_path):
        p = tmp_path / "c.jsonl"
        p.write_text("\n".join(json.dumps(r) for r in records()) + "\n\n")
        c = load_corpus(CorpusConfig(path=str(p)))
        assert c.ids == ["p0", "p1", "p2"] and c.titles[1] == "Paper 1"

    def test_jsonl_gz_and_summary_fallback(self, tmp_path):
        recs = [{"id": r["id"], "title": r["title"], "summary": r["abstract"]} for r in records()]
        p = tmp_path / "c.jsonl.gz"
        p.write_bytes(gzip.compress("\n".join(map(json.dumps, recs)).encode()))
        c = load_corpus(CorpusConfig(path=str(p)))
        assert len(c) == 3 and c.abstracts[0].startswith("We study")

    def test_csv_with_quotes_and_custom_fields(self, tmp_path):
        p = tmp_path / "c.csv"
        rows = [
            {"paper": r["id"], "name": r["title"] + ', "quoted"', "text": r["abstract"]}
            for r in records()
        ]
        pd.DataFrame(rows).to_csv(p, index=False)
        c = load_corpus(CorpusConfig(path=str(p), id_field="paper", title_field="name"))
        assert c.ids == ["p0", "p1", "p2"] and c.titles[0] == 'Paper 0, "quoted"'

    def test_parquet(self, tmp_path):
        p = tmp_path / "c.parquet"
        pd.DataFrame(records()).to_parquet(p)
        assert load_corpus(CorpusConfig(path=str(p))).ids == ["p0", "p1", "p2"]

    def test_arxiv_snapshot(self, tmp_path):
        recs = [
            {
                "id": "2101.00001",
                "title": "A\n  title",
                "abstract": ABSTRACT,
                "categories": "cond-mat.str-el cs.LG",
            }
        ]
        p = tmp_path / "arxiv-metadata.json"
        p.write_text(json.dumps(recs[0]) + "\n")
        c = load_corpus(
            CorpusConfig(path=str(p), gold_fields=["group", "archive", "primary_category"])
        )
        assert c.titles == ["A title"]
        assert c.urls == ["https://arxiv.org/abs/2101.00001"]
        assert c.gold == {
            "group": ["physics"],
            "archive": ["cond-mat"],
            "primary_category": ["cond-mat.str-el"],
        }

    def test_format_override(self, tmp_path):
        p = tmp_path / "papers.data"
        p.write_text("\n".join(json.dumps(r) for r in records()))
        with pytest.raises(InputError, match="corpus.format"):
            load_corpus(CorpusConfig(path=str(p)))
        assert len(load_corpus(CorpusConfig(path=str(p), format="jsonl"))) == 3


class TestSkips:
    def test_duplicates_and_empty_are_counted(self, tmp_path):
        recs = records(3)
        recs.append(dict(recs[0]))  # same id
        recs.append(
            {"id": "other", "title": recs[1]["title"], "abstract": recs[1]["abstract"]}
        )  # same text
        recs.append({"id": "empty", "title": "No abstract", "abstract": "  "})
        p = tmp_path / "c.jsonl"
        p.write_text("\n".join(map(json.dumps, recs)))
        c = load_corpus(CorpusConfig(path=str(p)))
        assert len(c) == 3 and c.n_read == 6
        assert c.skipped == {"empty": 1, "duplicate_id": 1, "duplicate_text": 1}


class TestErrors:
    """Each malformed input gives one line naming the file and the line."""

    def test_jsonl_malformed_line(self, tmp_path):
        p = tmp_path / "c.jsonl"
        p.write_text(json.dumps(records()[0]) + "\n" + '{"id": "x", "title": \n')
        with pytest.raises(InputError) as e:
            load_corpus(CorpusConfig(path=str(p)))
        msg = str(e.value)
        assert msg.startswith(f"{p}:2: invalid JSON") and "\n" not in msg

    def test_csv_wrong_column_count(self, tmp_path):
        p = tmp_path / "c.csv"
        p.write_text(f"id,title,abstract\np0,T,{ABSTRACT}\np1,T,x,extra\n")
        with pytest.raises(InputError, match=r"c\.csv:3: expected 3 columns"):
            load_corpus(CorpusConfig(path=str(p)))

    def test_csv_unclosed_quote(self, tmp_path):
        p = tmp_path / "c.csv"
        p.write_text(f'id,title,abstract\np0,T,{ABSTRACT}\np1,"broken,{ABSTRACT}\n')
        with pytest.raises(InputError, match=r"c\.csv:\d+: malformed CSV"):
            load_corpus(CorpusConfig(path=str(p)))

    def test_papers_page_undecodable_bytes(self, tmp_path):
        p = tmp_path / "page.txt"
        p.write_bytes(
            b"Title one\n\n" + ABSTRACT.encode() + b"\n\nCaf\xe9 title\n\n" + ABSTRACT.encode()
        )
        with pytest.raises(InputError, match=r"page\.txt:5: .*corpus\.encoding"):
            load_corpus(CorpusConfig(path=str(p)))
        assert len(load_corpus(CorpusConfig(path=str(p), encoding="latin-1"))) == 2

    def test_parquet_garbage(self, tmp_path):
        p = tmp_path / "c.parquet"
        p.write_bytes(b"not parquet at all")
        with pytest.raises(InputError, match="not a readable Parquet file"):
            load_corpus(CorpusConfig(path=str(p)))

    def test_arxiv_malformed_line(self, tmp_path):
        p = tmp_path / "snap.json"
        p.write_text('{"id": "1", "abstract": "a b c"}\n[1, 2]\n')
        with pytest.raises(InputError, match=r"snap\.json:2: expected a JSON object"):
            load_corpus(CorpusConfig(path=str(p)))

    def test_missing_abstract_field(self, tmp_path):
        p = tmp_path / "c.jsonl"
        p.write_text(json.dumps({"id": "1", "body": ABSTRACT}) + "\n")
        with pytest.raises(
            InputError, match=r"c\.jsonl:1: no abstract field .*record has: body, id"
        ):
            load_corpus(CorpusConfig(path=str(p)))

    def test_wrong_type(self, tmp_path):
        p = tmp_path / "c.jsonl"
        p.write_text(json.dumps({"id": "1", "title": "t", "abstract": ["a", "list"]}) + "\n")
        with pytest.raises(
            InputError, match=r"c\.jsonl:1: field 'abstract': expected text, got list"
        ):
            load_corpus(CorpusConfig(path=str(p)))

    def test_missing_file(self, tmp_path):
        with pytest.raises(InputError, match="file not found"):
            load_corpus(CorpusConfig(path=str(tmp_path / "nope.jsonl")))
