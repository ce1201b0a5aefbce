"""A run's papers as it saves them under ``model/``, and how they are read back.

- ``papers.jsonl.gz``: a line per write (the fit's, then one per update, each its own gzip
  member, so an update never recompresses what is there), each a JSON object of columns:
  ``{"papers": n, "id": [...], "title": [...], "url": [...], "date": [...], "gold": {field:
  [...]}}``, dates as ``YYYY-MM-DD`` or null, in ``documents.csv`` order. Columns, not an
  object per paper: at 147k papers the C parser reads them in a tenth of the time, and they
  leave no 147k dicts for the garbage collector to walk.
- ``abstracts.jsonl.gz``: each paper's abstract, one JSON string per line, same order. A file
  of its own, read only when an abstract is (:class:`~taxonomy.util.lazy.LazyRows`): an
  update of a 147k run needs every title but few abstracts, which are 90 % of the bytes.

A run written before these layouts has one object per paper in ``papers.jsonl.gz``, its
``abstract`` inside; it is read as it is, and an update of it appends in that layout.
"""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import date
from functools import partial
from pathlib import Path

from ..corpus import Corpus
from ..errors import InputError
from ..util.dates import parse_date
from ..util.lazy import LazyRows

ABSTRACTS_NAME = "abstracts.jsonl.gz"  # beside papers.jsonl.gz


# --- writing ---------------------------------------------------------------------


def papers_gz(corpus: Corpus, rows: range | None = None) -> bytes:
    """Papers of ``corpus`` (``rows``, default all) as one gzipped line of columns (byte-stable),
    without their abstracts (:func:`abstracts_gz`)."""
    rows = rows if rows is not None else range(len(corpus))
    dates = corpus.dates or [None] * len(corpus)
    cols = {
        "papers": len(rows),
        "id": corpus.ids[rows.start : rows.stop],
        "title": corpus.titles[rows.start : rows.stop],
        "url": corpus.urls[rows.start : rows.stop],
        "date": [d.isoformat() if d else None for d in dates[rows.start : rows.stop]],
        "gold": {f: v[rows.start : rows.stop] for f, v in corpus.gold.items()},
    }
    return gz_lines([json.dumps(cols, ensure_ascii=False, separators=(",", ":"))])


def paper_records_gz(corpus: Corpus, rows: range | None = None) -> bytes:
    """Papers of ``corpus`` as one gzipped JSON object per paper, abstracts inside: the layout
    of a run written before columns, which an update of such a run keeps."""
    dates = corpus.dates or [None] * len(corpus)
    lines = [
        json.dumps(
            {
                "id": corpus.ids[i],
                "title": corpus.titles[i],
                "abstract": corpus.abstracts[i],
                "url": corpus.urls[i],
                "date": dates[i].isoformat() if dates[i] else None,
                "gold": {f: v[i] for f, v in corpus.gold.items()},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for i in (rows if rows is not None else range(len(corpus)))
    ]
    return gz_lines(lines)


def abstracts_gz(corpus: Corpus, rows: range | None = None) -> bytes:
    """The abstracts of ``corpus`` (``rows``, default all): one JSON string per line, gzipped."""
    abstracts = corpus.abstracts if rows is None else corpus.abstracts[rows.start : rows.stop]
    return gz_lines([json.dumps(a, ensure_ascii=False) for a in abstracts])


def gz_lines(lines: list[str]) -> bytes:
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    # Level 6: 2-3x faster than 9 for a few percent more bytes; mtime=0: same input, same bytes.
    return gzip.compress(text, compresslevel=6, mtime=0)


# --- reading ---------------------------------------------------------------------


def read_papers(path: Path, gold_fields: list[str]) -> Corpus:
    """The papers of a run's ``papers.jsonl.gz`` as a :class:`Corpus`, their abstracts read
    from ``abstracts.jsonl.gz`` beside it when first used (or from the records of a run
    written before that file)."""
    text = gunzipped(path)
    lines = text.split("\n")
    if lines[0].startswith('{"papers":'):
        cols = read_columns(path, lines, gold_fields)
    else:
        cols = read_records(path, text, gold_fields)
    n = len(cols["id"])
    try:
        # Written as YYYY-MM-DD: the fast path; parse_date for anything else.
        dates = [
            date.fromisoformat(d) if isinstance(d, str) and len(d) == 10 else parse_date(d)
            for d in cols["date"]
        ]
    except (ValueError, TypeError) as err:
        raise InputError(path, f"a damaged date ({err})") from None
    abstracts = cols.get("abstract")
    if abstracts is None:
        side = path.with_name(ABSTRACTS_NAME)
        if not side.is_file():
            raise InputError(path, f"its abstracts ({side.name}) are missing: the run is damaged")
        abstracts = LazyRows([(n, partial(read_abstracts, side, n))])
    return Corpus(
        cols["id"],
        cols["title"],
        abstracts,
        cols["url"],
        cols["gold"],
        source=str(path),
        n_read=n,
        dates=dates,
    )


def read_columns(path: Path, lines: list[str], gold_fields: list[str]) -> dict:
    """The columns of every line (write) of a papers file, joined; a damaged line is named."""
    out: dict = {"id": [], "title": [], "url": [], "date": [], "gold": {f: [] for f in gold_fields}}
    for line_no, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            cols = json.loads(line)
            n = cols["papers"]
            for key in ("id", "title", "url", "date"):
                if not isinstance(cols[key], list) or len(cols[key]) != n:
                    raise ValueError(f"{key!r}: expected a list of {n}")
                out[key] += cols[key]
            for f in gold_fields:
                values = cols["gold"].get(f) or [None] * n
                if not isinstance(values, list) or len(values) != n:
                    raise ValueError(f"gold {f!r}: expected a list of {n}")
                out["gold"][f] += values
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(path, f"damaged papers ({err})", line=line_no) from None
    if not all(type(i) is str for i in out["id"]) or not all(type(t) is str for t in out["title"]):
        raise InputError(path, "damaged papers: an id or a title that is not text")
    return out


def read_records(path: Path, text: str, gold_fields: list[str]) -> dict:
    """The columns of a papers file of one object per paper (a run written before columns),
    parsed as one JSON array; a line at a time when that fails, to skip blank lines and
    name a damaged one."""
    try:
        return record_columns(json_lines(text), gold_fields)
    except (ValueError, KeyError, TypeError, AttributeError):
        return record_columns(records_by_line(path, text, gold_fields), gold_fields)


def record_columns(records: list[dict], gold_fields: list[str]) -> dict:
    return {
        "id": [r["id"] for r in records],
        "title": [r["title"] for r in records],
        "abstract": [r["abstract"] for r in records],
        "url": [r.get("url") for r in records],
        "date": [r.get("date") for r in records],
        "gold": {f: [(r.get("gold") or {}).get(f) for r in records] for f in gold_fields},
    }


def records_by_line(path: Path, text: str, gold_fields: list[str]) -> list[dict]:
    """The records of a papers file read a line at a time: the first damaged one is named."""
    decode = json.JSONDecoder().raw_decode
    records = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line:
            continue
        try:
            rec, end = decode(line)
            if end != len(line):
                raise ValueError(f"extra data at column {end + 1}")
            if type(rec) is not dict:
                raise TypeError(f"expected an object, got {type(rec).__name__}")
            rec["id"], rec["title"], rec["abstract"]
            d = rec.get("date")
            date.fromisoformat(d) if isinstance(d, str) and len(d) == 10 else parse_date(d)
            for f in gold_fields:
                (rec.get("gold") or {}).get(f)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise InputError(path, f"damaged record ({err})", line=line_no) from None
        records.append(rec)
    return records


def json_lines(text: str) -> list:
    """The values of JSON lines we wrote, parsed as one array by the C parser (4x faster than
    a line at a time at 147k papers); a blank line among them is a ``ValueError``."""
    return json.loads("[" + text.rstrip("\n").replace("\n", ",") + "]")


def gunzipped(path: Path) -> str:
    try:
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        raise InputError(path, f"not a readable papers file ({err})") from None


def read_abstracts(path: Path, n: int) -> list[str]:
    """The ``n`` abstracts of ``abstracts.jsonl.gz`` (one JSON string per line)."""
    text = gunzipped(path)
    try:
        out = json_lines(text)
    except ValueError as err:
        raise InputError(path, f"damaged abstracts ({err})") from None
    if len(out) != n or not all(type(a) is str for a in out):
        raise InputError(
            path, f"expected {n} abstracts (text), found {len(out)}: the run is damaged"
        )
    return out
