"""Corpus loading: papers pages, JSONL, CSV, Parquet and arXiv metadata snapshots.

Every loader yields ``(record, line)`` pairs; :func:`load_corpus` maps fields,
skips and counts empty and duplicate papers, and returns a :class:`Corpus`.
A malformed line stops loading with an :class:`InputError` naming the file,
the line and the reason.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

from .config import SAMPLE_CORPUS, CorpusConfig
from .errors import InputError
from .util.dates import arxiv_id_date, parse_date

FORMATS_BY_SUFFIX = {
    ".txt": "papers_page",
    ".md": "papers_page",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "arxiv",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# Real abstracts can be long (and some exports hold whole papers); the csv module's
# default cell limit of 128 KiB would reject them, so allow up to 2 GiB per cell
# while we read (the limit is process-wide: it is put back afterwards).
CSV_FIELD_LIMIT = 2**31 - 1
SURROGATE = re.compile("[\ud800-\udfff]")
EMPTY_HINTS = {
    "papers_page": "expected title lines, each followed by a blank line and an abstract paragraph",
    "jsonl": "expected one JSON object per line",
    "arxiv": "expected arXiv metadata records as JSON lines or a JSON array",
    "csv": "expected a header row and at least one data row",
    "parquet": "the table has no rows",
}
ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?$")
PHYSICS_ARCHIVES = {
    "astro-ph",
    "cond-mat",
    "gr-qc",
    "hep-ex",
    "hep-lat",
    "hep-ph",
    "hep-th",
    "math-ph",
    "nlin",
    "nucl-ex",
    "nucl-th",
    "physics",
    "quant-ph",
}


@dataclass
class Corpus:
    """Papers kept for the run, in input order, plus what was skipped and why."""

    ids: list[str]
    titles: list[str]
    abstracts: list[str]
    urls: list[str | None]
    gold: dict[str, list[str | None]] = field(default_factory=dict)
    source: str = ""
    n_read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    # The format it was read as (``corpus.format: auto`` resolved).
    format: str = ""
    # When each paper appeared (corpus.date_field); None where unknown.
    dates: list[date | None] = field(default_factory=list)
    # The field the dates came from (``corpus.date_field: auto`` resolved); None for none.
    date_field: str | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def texts(self) -> list[str]:
        """What gets embedded: title and abstract."""
        return [join_text(t, a) for t, a in zip(self.titles, self.abstracts)]

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def join_text(title: str, abstract: str) -> str:
    if not title:
        return abstract
    sep = " " if title[-1:] in ".?!:" else ". "
    return f"{title}{sep}{abstract}"


def _collapse(s: str) -> str:
    return " ".join(s.split())


# --- readers -----------------------------------------------------------------


def _open_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a corpus file") from None
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror}") from None
    except ValueError as err:  # e.g. a NUL byte in the path
        raise InputError(repr(str(path)), f"not a usable file path ({err})") from None
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise InputError(path, f"not a valid gzip file ({err})") from None
    return raw


def _decode(raw: bytes, path: Path, encoding: str) -> str:
    try:
        text = raw.decode(encoding)
    except LookupError:
        raise InputError(path, f"unknown encoding '{encoding}' (corpus.encoding)") from None
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise InputError(
            path,
            f"bytes not valid {encoding} ({raw[err.start : err.start + 1]!r} at byte {err.start}); "
            "set corpus.encoding, e.g. 'latin-1' or 'cp1252'",
            line=line,
        ) from None
    return text.removeprefix("\ufeff")


def read_papers_page(text: str, path: Path) -> Iterator[tuple[dict, int]]:
    """A saved papers page: header lines, then title / blank line / abstract.

    A paragraph is taken as a title when it is one short line and the next
    paragraph is longer prose (the abstract); anything else is page chrome.
    """
    paragraphs: list[tuple[str, int]] = []
    buf: list[str] = []
    start = 0
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not buf:
                start = i
            buf.append(line.strip())
        elif buf:
            paragraphs.append((" ".join(buf), start))
            buf = []
    if buf:
        paragraphs.append((" ".join(buf), start))

    def is_title(p: str) -> bool:
        return 0 < len(p) <= 300

    def is_abstract(p: str, title: str) -> bool:
        return len(p.split()) >= 20 and len(p) > len(title)

    i = 0
    while i < len(paragraphs) - 1:
        title, line = paragraphs[i]
        abstract, _ = paragraphs[i + 1]
        if is_title(title) and is_abstract(abstract, title):
            yield {"title": title, "abstract": abstract}, line
            i += 2
        else:
            i += 1


def _parse_json(text: str, path: Path, line: int | None) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            path,
            f"invalid JSON ({err.msg} at column {err.colno})",
            line=err.lineno if line is None else line,
        ) from None
    except ValueError as err:  # an integer of more than 4300 digits
        raise InputError(path, f"invalid JSON ({err})", line=line) from None
    except RecursionError:
        raise InputError(path, "invalid JSON (nested too deeply)", line=line) from None


def read_jsonl(text: str, path: Path) -> Iterator[tuple[dict, int]]:
    # Split on \n only: str.splitlines would also split inside JSON strings at U+2028 etc.
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        rec = _parse_json(line, path, i)
        if not isinstance(rec, dict):
            raise InputError(
                path, f"expected a JSON object per line, got {type(rec).__name__}", line=i
            )
        yield rec, i


def read_json_array(text: str, path: Path) -> Iterator[tuple[dict, int]]:
    data = _parse_json(text, path, None)
    if not isinstance(data, list):
        raise InputError(
            path, f"expected a JSON array of objects or JSON lines, got {type(data).__name__}"
        )
    for i, rec in enumerate(data, start=1):
        if not isinstance(rec, dict):
            raise InputError(path, f"item {i}: expected a JSON object, got {type(rec).__name__}")
        yield rec, i


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    old = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def read_csv(text: str, path: Path) -> Iterator[tuple[dict, int]]:
    with _csv_field_limit(CSV_FIELD_LIMIT):
        yield from _read_csv(text, path)


def _read_csv(text: str, path: Path) -> Iterator[tuple[dict, int]]:
    sample = text[:4096]
    delimiter = (
        "\t"
        if path.name.removesuffix(".gz").endswith(".tsv")
        or (sample.count("\t") > sample.count(","))
        else ","
    )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            raise InputError(path, f"duplicate column names in header: {header}", line=1)
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    path,
                    f"expected {len(header)} columns as in the header, got {len(row)}",
                    line=reader.line_num,
                )
            yield dict(zip(header, row)), reader.line_num
    except csv.Error as err:
        raise InputError(path, f"malformed CSV ({err})", line=reader.line_num) from None


def read_parquet(raw: bytes, path: Path) -> Iterator[tuple[dict, int]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(io.BytesIO(raw)).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise InputError(path, f"not a readable Parquet file ({str(err)[:200]})") from None
    for i, rec in enumerate(rows, start=1):
        yield rec, i


def arxiv_record(rec: dict, path: Path, line: int) -> dict:
    """Normalise an arXiv metadata record: categories list, primary, archive, group, URL."""
    rec = dict(rec)
    cats = rec.get("categories")
    if isinstance(cats, str):
        cats = cats.split()
    primary = rec.get("primary_category")
    if cats is not None and not (
        isinstance(cats, list) and all(isinstance(c, str) and c for c in cats)
    ):
        raise InputError(
            path,
            "expected a space-separated string or a list of category names",
            line=line,
            field="categories",
        )
    if primary is not None and not (isinstance(primary, str) and primary):
        raise InputError(
            path, "expected a category name such as 'cs.LG'", line=line, field="primary_category"
        )
    if cats:
        rec["categories"] = cats
        primary = rec.get("primary_category") or cats[0]
        archive = primary.split(".")[0]
        rec.setdefault("primary_category", primary)
        rec.setdefault("archive", archive)
        rec.setdefault("group", "physics" if archive in PHYSICS_ARCHIVES else archive)
    return rec


# --- field mapping ---------------------------------------------------------------


def _text_field(rec: dict, name: str, path: Path, line: int, *, numbers: bool = False) -> str:
    """The text in ``rec[name]`` ("" when absent or null); ``numbers`` also takes integers (ids)."""
    value = rec.get(name)
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):  # NaN from pandas-written files
        return ""
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, int) or value.is_integer() else str(value)
    if not isinstance(value, str):
        raise InputError(path, f"expected text, got {type(value).__name__}", line=line, field=name)
    bad = SURROGATE.search(value)
    if bad:  # only JSON escapes can make these; they cannot be encoded or embedded
        raise InputError(
            path,
            f"invalid character (lone UTF-16 surrogate {bad.group()!r}) at position {bad.start()}",
            line=line,
            field=name,
        )
    return value


def detect_format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    suffix = Path(path.name.removesuffix(".gz")).suffix.lower()
    if suffix not in FORMATS_BY_SUFFIX:
        raise InputError(
            path,
            f"cannot tell the format from extension '{suffix or '(none)'}'; set corpus.format to one of "
            "papers_page, jsonl, csv, parquet, arxiv",
        )
    return FORMATS_BY_SUFFIX[suffix]


def resolve_corpus_path(path: str) -> Path:
    if path == SAMPLE_CORPUS:
        return Path(str(resources.files("taxonomy") / "data" / "sample_papers.txt"))
    return Path(path).expanduser()


def iter_records(cfg: CorpusConfig) -> tuple[Path, str, Iterator[tuple[dict, int]]]:
    path = resolve_corpus_path(cfg.path)
    raw = _open_bytes(path)  # first: "file not found" beats "unknown extension"
    fmt = detect_format(path, cfg.format)
    if fmt == "parquet":
        return path, fmt, read_parquet(raw, path)
    text = _decode(raw, path, cfg.encoding)
    if fmt == "papers_page":
        return path, fmt, read_papers_page(text, path)
    if fmt == "csv":
        return path, fmt, read_csv(text, path)
    if fmt == "arxiv" and text.lstrip().startswith("["):
        return path, fmt, ((arxiv_record(r, path, i), i) for r, i in read_json_array(text, path))
    if fmt == "arxiv":
        return path, fmt, ((arxiv_record(r, path, i), i) for r, i in read_jsonl(text, path))
    return path, fmt, read_jsonl(text, path)


def load_corpus(cfg: CorpusConfig) -> Corpus:
    """Read, map and de-duplicate a corpus as ``cfg`` describes."""
    path, fmt, records = iter_records(cfg)
    ids: list[str] = []
    titles: list[str] = []
    abstracts: list[str] = []
    urls: list[str | None] = []
    dates: list[date | None] = []
    date_fields: Counter[str] = Counter()
    gold: dict[str, list[str | None]] = {f: [] for f in cfg.gold_fields}
    skipped = {"empty": 0, "duplicate_id": 0, "duplicate_text": 0}
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    abstract_names = [cfg.abstract_field, *cfg.abstract_fallbacks]
    n_read = 0
    checked_fields = False
    for rec, line in records:
        n_read += 1
        if not checked_fields:
            _check_fields(rec, cfg, abstract_names, path, line)
            checked_fields = True
        abs_name = next(
            (n for n in abstract_names if rec.get(n) not in (None, "")), cfg.abstract_field
        )
        abstract = _collapse(_text_field(rec, abs_name, path, line))
        title = _collapse(_text_field(rec, cfg.title_field, path, line))
        doc_id = (
            _text_field(rec, cfg.id_field, path, line, numbers=True).strip() or f"doc{n_read:06d}"
        )
        if not abstract:
            skipped["empty"] += 1
            continue
        if doc_id in seen_ids:
            skipped["duplicate_id"] += 1
            continue
        key = (title + " " + abstract).lower()
        if key in seen_texts:
            skipped["duplicate_text"] += 1
            continue
        seen_ids.add(doc_id)
        seen_texts.add(key)
        ids.append(doc_id)
        titles.append(title)
        abstracts.append(abstract)
        urls.append(_url(rec, cfg, doc_id))
        found, source = record_date(rec, cfg, doc_id, path, line)
        dates.append(found)
        if source:
            date_fields[source] += 1
        for f in cfg.gold_fields:
            value = rec.get(f)
            gold[f].append(None if value in (None, "") else str(value))
        if cfg.max_docs and len(ids) >= cfg.max_docs:
            break
    if n_read == 0:
        raise InputError(path, f"no papers found as {fmt}: {EMPTY_HINTS[fmt]}")
    for f in cfg.gold_fields:
        if ids and all(v is None for v in gold[f]):
            raise InputError(
                path, f"gold field '{f}' is missing from every record (corpus.gold_fields)"
            )
    date_field = date_fields.most_common(1)[0][0] if date_fields else None
    return Corpus(
        ids,
        titles,
        abstracts,
        urls,
        gold,
        str(path),
        n_read,
        skipped,
        fmt,
        dates=dates,
        date_field=date_field,
    )


DATE_FIELDS = ("date", "published", "listing_date", "update_date")


def record_date(
    rec: dict, cfg: CorpusConfig, doc_id: str, path: Path, line: int
) -> tuple[date | None, str | None]:
    """The paper's date from ``corpus.date_field`` (``auto``: the first of :data:`DATE_FIELDS`
    the record has), else from its arXiv id when ``corpus.date_from_id``; None if neither.
    Also the field it came from (None when from the id or from nowhere)."""
    if cfg.date_field == "auto":
        name = next((f for f in DATE_FIELDS if rec.get(f) not in (None, "")), None)
    else:
        name = cfg.date_field
    value = rec.get(name) if name else None
    try:
        found = parse_date(value)
    except (ValueError, TypeError) as err:
        raise InputError(
            path,
            f"expected a date such as 2025-03-18, 2025-03 or 'Mon, 2 Apr 2007 19:18:42 GMT', {err}"
            + (
                "; set corpus.date_field to another field or null"
                if cfg.date_field == "auto"
                else ""
            ),
            line=line,
            field=name,
        ) from None
    if found is None and cfg.date_from_id:
        return arxiv_id_date(doc_id), None
    return found, name if found is not None else None


def _check_fields(
    rec: dict, cfg: CorpusConfig, abstract_names: list[str], path: Path, line: int
) -> None:
    """Fail early when the configured text fields are absent from the first record."""
    if not any(n in rec for n in abstract_names):
        present = ", ".join(sorted(map(str, rec))[:12])
        raise InputError(
            path,
            f"no abstract field (tried {', '.join(abstract_names)}); record has: {present}; "
            "set corpus.abstract_field",
            line=line,
        )


def _url(rec: dict, cfg: CorpusConfig, doc_id: str) -> str | None:
    if cfg.url_field and isinstance(rec.get(cfg.url_field), str):
        url = rec[cfg.url_field].strip()
        if url.startswith(("http://", "https://")):
            return url
    if ARXIV_ID.match(doc_id):
        return "https://arxiv.org/abs/" + re.sub(r"v\d+$", "", doc_id)
    return None
