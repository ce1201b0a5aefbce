"""Fuzzing every corpus loader and the config with hypothesis.

The property: a malformed input gives a clear :class:`TaxonomyError` (one line
naming the file) or loads with every dropped record counted — never any other
exception. The default suite runs a small fixed subset; ``-m slow`` runs at
least 200 generated inputs per loader (``FUZZ_EXAMPLES`` raises it).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxonomy.config import (
    CorpusConfig,
    RunConfig,
    build_config,
    dump_config,
    load_config,
    resolve_auto,
)
from taxonomy.corpus import load_corpus
from taxonomy.errors import ConfigError, InputError

REPO = Path(__file__).resolve().parents[1]
FAST, SLOW = 25, int(os.environ.get("FUZZ_EXAMPLES", "250"))
FIELDS = [
    "id",
    "title",
    "abstract",
    "summary",
    "text",
    "url",
    "categories",
    "primary_category",
    "group",
]

# --- strategies ------------------------------------------------------------------

# Text with the awkward parts of real corpora: quotes, separators, control characters,
# U+2028, NUL, right-to-left marks, LaTeX, HTML, formula starts, non-Latin scripts.
AWKWARD = [
    '"',
    "'",
    ",",
    "\t",
    "\n",
    "\r",
    "\x00",
    "\x1b",
    "\u2028",
    "\u200f",
    "\ufeff",
    "\\",
    "$\\alpha$",
    "<script>",
    "=1+1",
    "-",
    "@",
    "{",
    "[",
    "é",
    "量子",
    "Ω",
    "🙂",
    "\\ud800",
]
TEXT = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(AWKWARD) | st.text(max_size=6), max_size=12).map("".join),
    st.just("word " * 40),
)
SCALAR = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats() | TEXT
JSON_VALUE = st.recursive(
    SCALAR,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=6,
)
KEY = st.sampled_from(FIELDS) | st.text(max_size=8)
RECORD = st.dictionaries(KEY, st.one_of(TEXT, JSON_VALUE), max_size=6)
ENCODING = st.sampled_from(["utf-8"] * 5 + ["latin-1", "utf-16", "cp1252"])
# Mostly-right records, so that loading succeeds often enough to check the skip counts.
PAPER = st.fixed_dictionaries(
    {"abstract": st.one_of(TEXT, TEXT, TEXT, SCALAR)},
    optional={
        "id": st.one_of(TEXT, SCALAR, st.sampled_from(["p1", "p2", "p1"])),
        "title": st.one_of(TEXT, TEXT, SCALAR),
        "url": TEXT,
        "summary": TEXT,
    },
)


@st.composite
def mutate(draw, data: bytes) -> bytes:
    """Up to three edits of the kind that break real files: cut, insert, delete, flip, repeat."""
    b = bytearray(data)
    for op in draw(
        st.lists(st.sampled_from(["cut", "insert", "delete", "flip", "repeat"]), max_size=3)
    ):
        i = draw(st.integers(0, len(b)))
        if op == "cut":
            del b[i:]
        elif op == "insert":
            b[i:i] = draw(
                st.binary(min_size=1, max_size=8)
                | st.sampled_from([b'"', b"\n", b",", b"{", b"\xff"])
            )
        elif op == "delete":
            del b[i : i + draw(st.integers(1, 16))]
        elif op == "flip" and i < len(b):
            b[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "repeat":
            b[i:i] = b[max(0, i - 40) : i]
    return bytes(b)


def _encode(text: str, encoding: str) -> bytes:
    return (
        text.encode(encoding, errors="replace")
        if encoding != "utf-8"
        else text.encode("utf-8", "surrogatepass")
    )


@st.composite
def jsonl_files(draw, arxiv: bool = False) -> tuple[str, bytes]:
    record = RECORD
    if arxiv:
        cats = st.one_of(
            JSON_VALUE, st.sampled_from(["cs.LG", "cs.LG stat.ML", "hep-th", "", "math.AG cs.AI"])
        )
        record = st.fixed_dictionaries(
            {"abstract": TEXT, "categories": cats},
            optional={
                "id": st.sampled_from(["2101.00001", "hep-th/9901001v2"]) | SCALAR,
                "primary_category": cats,
                "title": TEXT,
            },
        )
    lines = draw(
        st.lists(
            st.one_of(
                PAPER.map(json.dumps),
                PAPER.map(json.dumps),
                record.map(json.dumps),
                JSON_VALUE.map(json.dumps),
                TEXT,
                st.just('{"abstract": "\\ud800"}'),
            ),
            max_size=8,
        )
    )
    if arxiv and draw(st.booleans()):
        text = "[" + ",".join(lines) + "]"
    else:
        text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    data = draw(mutate(_encode(text, draw(ENCODING))))
    if draw(st.integers(0, 5)) == 0:
        return ("snapshot.json.gz" if arxiv else "c.jsonl.gz"), draw(mutate(gzip.compress(data)))
    return ("snapshot.json" if arxiv else "c.jsonl"), data


@st.composite
def csv_files(draw) -> tuple[str, bytes]:
    header = draw(
        st.one_of(
            st.just(["id", "title", "abstract"]),
            st.just(["abstract"]),
            st.lists(KEY, min_size=0, max_size=5),
        )
    )
    row = st.one_of(
        st.lists(TEXT, min_size=len(header), max_size=len(header)), st.lists(TEXT, max_size=6)
    )
    rows = draw(st.lists(row, max_size=6))
    delimiter = draw(st.sampled_from([",", "\t", ";"]))
    if draw(st.booleans()):
        buf = io.StringIO()
        w = csv.writer(
            buf,
            delimiter=delimiter,
            quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])),
        )
        w.writerow(header)
        w.writerows(rows)
        text = buf.getvalue()
    else:  # hand-joined, so stray quotes and separators inside cells break the layout
        text = "\n".join(delimiter.join(r) for r in [header, *rows])
    name = "c.tsv" if delimiter == "\t" else "c.csv"
    return name, draw(mutate(_encode(text, draw(ENCODING))))


@st.composite
def papers_pages(draw) -> tuple[str, bytes]:
    abstract = st.one_of(TEXT, st.just("We show that " + "deep models learn " * 8 + "well."))
    paragraphs = draw(st.lists(st.one_of(TEXT, abstract), max_size=10))
    text = draw(st.sampled_from(["\n\n", "\n", "\r\n\r\n", "\n \n"])).join(paragraphs)
    return "page.txt", draw(mutate(_encode(text, draw(ENCODING))))


PARQUET_TYPES = {
    "string": (pa.string(), TEXT),
    "int": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "float": (pa.float64(), st.floats()),
    "bool": (pa.bool_(), st.booleans()),
    "binary": (pa.binary(), st.binary(max_size=20)),
    "list": (pa.list_(pa.string()), st.lists(st.text(max_size=5), max_size=3)),
    "struct": (pa.struct([("a", pa.int64())]), st.fixed_dictionaries({"a": st.integers(0, 9)})),
    "null": (pa.null(), st.none()),
}


@st.composite
def parquet_files(draw) -> tuple[str, bytes]:
    n = draw(st.integers(0, 6))
    names = draw(
        st.lists(
            st.sampled_from(FIELDS[:6]) | st.text(min_size=1, max_size=6), max_size=4, unique=True
        )
    )
    columns = {}
    for name in names:
        typ, values = PARQUET_TYPES[draw(st.sampled_from(sorted(PARQUET_TYPES)))]
        columns[name] = pa.array(
            draw(st.lists(st.none() | values, min_size=n, max_size=n)), type=typ
        )
    buf = io.BytesIO()
    pq.write_table(pa.table(columns) if columns else pa.table({"x": pa.array([], pa.int64())}), buf)
    data = buf.getvalue()
    # Damaged files too: cut short or with a flipped byte (pyarrow must say so, not crash).
    return "c.parquet", draw(st.one_of(st.just(data), mutate(data)))


CORPUS_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        "title_field": st.sampled_from(["title", "name", "abstract"]),
        "abstract_field": st.sampled_from(["abstract", "summary", "text", "body"]),
        "id_field": st.sampled_from(["id", "title", "url"]),
        "gold_fields": st.lists(st.sampled_from(["group", "categories", "archive"]), max_size=2),
        "encoding": st.sampled_from(["utf-8", "latin-1", "utf-16", "klingon"]),
        "max_docs": st.integers(1, 5),
    },
)

LOADERS = {
    "papers_page": papers_pages(),
    "jsonl": jsonl_files(),
    "csv": csv_files(),
    "parquet": parquet_files(),
    "arxiv": jsonl_files(arxiv=True),
}

# --- the property -----------------------------------------------------------------


def load_or_error(path: Path, options: dict) -> str:
    """Load ``path``; return 'loaded' or 'error', failing on anything unclear."""
    try:
        c = load_corpus(CorpusConfig(path=str(path), **options))
    except InputError as err:
        msg = str(err)
        assert msg.startswith(str(path)) and "\n" not in msg and err.reason, msg
        return "error"
    if not options.get("max_docs"):
        assert c.n_read == len(c) + c.n_skipped  # every dropped record is counted
    assert all(isinstance(a, str) and a.strip() for a in c.abstracts)
    assert len(set(c.ids)) == len(c) and all(isinstance(t, str) for t in c.titles)
    for text in c.texts:
        text.encode("utf-8")  # no lone surrogates get through to the model or the outputs
    return "loaded"


def fuzz_loader(name: str, tmp_path: Path, n: int, derandomize: bool) -> Counter:
    outcomes: Counter = Counter()

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=derandomize,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
    )
    @given(LOADERS[name], CORPUS_OPTIONS)
    def prop(file, options):
        fname, data = file
        path = tmp_path / fname
        path.write_bytes(data)
        outcomes[load_or_error(path, options)] += 1

    prop()
    return outcomes


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_loader_fuzz_fast(loader, tmp_path):
    outcomes = fuzz_loader(loader, tmp_path, FAST, derandomize=True)
    assert sum(outcomes.values()) >= FAST // 2


@pytest.mark.slow
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_loader_fuzz_slow(loader, tmp_path):
    outcomes = fuzz_loader(loader, tmp_path, SLOW, derandomize=False)
    print(f"fuzz {loader}: {sum(outcomes.values())} inputs, {dict(outcomes)}, 0 unhandled")
    assert sum(outcomes.values()) >= 200


# --- the config ----------------------------------------------------------------------

SECTIONS = {
    name: list(f.annotation.model_fields)
    for name, f in RunConfig.model_fields.items()
    if hasattr(f.annotation, "model_fields")
}
CONFIG_VALUE = st.one_of(
    JSON_VALUE,
    st.sampled_from(["auto", "AUTO", -1, 0, 1, 2, 2**40, 1e309, "1e3", [1, 2], [3, 1], "../x"]),
)
SECTION = st.dictionaries(
    st.sampled_from(sorted({k for ks in SECTIONS.values() for k in ks})) | st.text(max_size=8),
    CONFIG_VALUE,
    max_size=4,
)
CONFIG_DICT = st.dictionaries(
    st.sampled_from([*SECTIONS, "name", "seed", "output_dir"]) | st.text(max_size=8),
    st.one_of(SECTION, CONFIG_VALUE),
    max_size=5,
)
DEFAULT_YAML = (REPO / "config" / "default.yaml").read_bytes()
CONFIG_FILE = st.one_of(
    mutate(DEFAULT_YAML),
    CONFIG_DICT.map(lambda d: yaml.safe_dump(d).encode()),
    st.binary(max_size=200),
    TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")),
)


def config_or_error(load, source: str) -> str:
    try:
        cfg = load()
    except ConfigError as err:
        lines = str(err).splitlines()
        assert lines and all(line.startswith(source) for line in lines), str(err)
        return "error"
    # A valid config resolves for any corpus size and survives its own dump.
    for n in (10, 1000):
        resolve_auto(cfg, n)
    assert build_config(yaml.safe_load(dump_config(cfg))) == cfg
    return "valid"


def fuzz_config(tmp_path: Path, n: int, derandomize: bool) -> Counter:
    outcomes: Counter = Counter()
    opts = {
        "max_examples": n,
        "deadline": None,
        "database": None,
        "derandomize": derandomize,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    }

    @settings(**opts)
    @given(CONFIG_DICT)
    def from_dict(data):
        outcomes["dict " + config_or_error(lambda: build_config(data, "exp.yaml"), "exp.yaml")] += 1

    @settings(**opts)
    @given(CONFIG_FILE)
    def from_file(data):
        path = tmp_path / "fuzz.yaml"
        path.write_bytes(data)
        outcomes["file " + config_or_error(lambda: load_config(path), str(path))] += 1

    from_dict()
    from_file()
    return outcomes


def test_config_fuzz_fast(tmp_path):
    assert sum(fuzz_config(tmp_path, FAST, derandomize=True).values()) >= FAST


@pytest.mark.slow
def test_config_fuzz_slow(tmp_path):
    outcomes = fuzz_config(tmp_path, SLOW, derandomize=False)
    print(f"fuzz config: {sum(outcomes.values())} inputs, {dict(outcomes)}, 0 unhandled")
    assert sum(outcomes.values()) >= 400
