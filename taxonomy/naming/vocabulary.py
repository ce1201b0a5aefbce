"""A research vocabulary (field and topic names) that may name the nodes of a taxonomy.

Abstracts rarely say the name of their field ("Condensed Matter Physics",
"Computer Vision and Pattern Recognition"), so no extractive namer reaches it;
a vocabulary holds such names. ``labels.vocabulary`` is ``openalex`` (OpenAlex's
topic taxonomy, CC0, bundled: 4 domains > 26 fields > 252 subfields > 4,516
topics, each topic with keywords and a description), ``none``, or the path of the
user's own vocabulary: CSV, TSV, JSONL or YAML rows with ``name`` and optional
``id``, ``parent`` (a term's id or name), ``keywords`` and ``description``.

A term is represented by the embedding of its name, keywords and description
(computed once per vocabulary and model, and cached); a term with terms under it
by that plus the mean of its leaf terms' vectors. Top-down, one set of siblings
at a time (docs/labels-and-shape.md, "Vocabulary names"):

* breadth and hierarchy: a node with children may take a broad term (a domain,
  field or subfield), a leaf any term; below a parent's term, only terms under it;
  the candidates are the ``N_CANDIDATES`` allowed terms nearest the node's papers;
* one term per sibling, jointly (:func:`taxonomy.naming.extractive.ascend`): each paper
  nearest its own node's term among the siblings' terms, plus the papers' cosine
  to the term; no two siblings take the same term or one under the other's;
* a node takes its term only when, on the objective the extractive names are
  chosen by (the share of its papers nearer its own name than its siblings'
  names, ``fit``), the term does at least ``MARGIN`` better than its extractive
  name (a leaf: more than ``LEAF_MARGIN``, so it keeps its phrase unless a term
  clearly wins), sits at least as near its papers as that name, and its papers sit
  near the vocabulary at all (mean cosine to their nearest leaf terms at least
  ``MIN_NEAREST``): a corpus outside research keeps its extractive names.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..hierarchy import Node, Taxonomy
from ..util.arrays import unit_mean, unit_rows
from ..util.cache import ArrayStore, hash_key
from .extractive import ascend
from .keys import name_keys

Embed = Callable[[list[str]], np.ndarray]
Log = Callable[[str], None]

BUILTIN = {"openalex": "openalex_topics.jsonl.gz"}
# Shipped vectors of the bundled vocabulary for the bundled model (float16, unit rows).
BUILTIN_VECTORS = {("openalex", "all-MiniLM-L6-v2"): "openalex_topics.all-MiniLM-L6-v2.npz"}
COLUMNS = ("id", "name", "parent", "keywords", "description", "level")
MAX_NAME = 120
MAX_DESCRIPTION = 2000
# The naming rule's constants (chosen on the tuning halves, benchmarks/vocabulary_routes.py).
N_CANDIDATES = 5
PASSES = 3
MARGIN = 0.05
LEAF_MARGIN = 0.2
MIN_NEAREST = 0.35
RELEVANCE = True
# Papers per block when placing papers under their nearest leaf term (memory bound).
BLOCK = 4096


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    parent: str | None = None
    keywords: tuple[str, ...] = ()
    description: str = ""

    @property
    def text(self) -> str:
        """What is embedded: name, keywords and description."""
        parts = [self.name]
        if self.keywords:
            parts.append(", ".join(self.keywords))
        if self.description:
            parts.append(self.description)
        return ". ".join(parts)

    @property
    def one_line(self) -> str:
        """The description's first sentence (a node's one-line description)."""
        text = " ".join(self.description.split())
        end = text.find(". ")
        line = text if end < 0 else text[: end + 1]
        return line if len(line) <= 200 else line[:199] + "…"


class Vocabulary:
    """Validated terms with their tree: ``parent`` (index or -1), ``depth`` and leaves."""

    def __init__(self, vocab_id: str, terms: list[Term]):
        self.id, self.terms = vocab_id, terms
        index = {t.id: i for i, t in enumerate(terms)}
        self.parent = np.array([index[t.parent] if t.parent else -1 for t in terms], np.int64)
        self.depth = np.zeros(len(terms), np.int64)
        for i in range(len(terms)):
            j = self.parent[i]
            while j >= 0:
                self.depth[i] += 1
                j = self.parent[j]
        has_child = np.zeros(len(terms), bool)
        has_child[self.parent[self.parent >= 0]] = True
        self.leaves = np.flatnonzero(~has_child)
        # ancestor[d, i]: the ancestor of term i at depth d (i itself at its own depth), or -1.
        self.ancestor = np.full((int(self.depth.max()) + 1, len(terms)), -1, np.int64)
        for i in range(len(terms)):
            j = i
            while j >= 0:
                self.ancestor[self.depth[j], i] = j
                j = self.parent[j]
        blob = json.dumps([t.__dict__ for t in terms], sort_keys=True, default=list)
        self.digest = hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.terms]


# --- reading and validating ------------------------------------------------------------


def load_vocabulary(spec: str) -> Vocabulary | None:
    """``labels.vocabulary``: ``none`` -> None, ``openalex`` -> the bundled one, else a file."""
    if spec == "none":
        return None
    if spec in BUILTIN:
        raw = resources.files("taxonomy").joinpath("data", BUILTIN[spec]).read_bytes()
        rows = [json.loads(line) for line in gzip.decompress(raw).decode("utf-8").splitlines()]
        return Vocabulary(spec, _validated(rows, f"builtin:{spec}"))
    path = Path(spec).expanduser()
    where = f"labels.vocabulary: {spec}"
    if not path.is_file():
        raise ConfigError(
            f"{where}: file not found (expected 'openalex', 'none' or a CSV/TSV/JSONL/YAML path)"
        )
    rows = _read_rows(path, where)
    return Vocabulary(path.stem.split(".")[0], _validated(rows, where))


def _read_rows(path: Path, where: str) -> list:
    suffixes = [s.lower() for s in path.suffixes]
    gz = suffixes[-1:] == [".gz"]
    kind = (suffixes[-2] if gz and len(suffixes) > 1 else suffixes[-1]) if suffixes else ""
    if kind not in (".csv", ".tsv", ".jsonl", ".ndjson", ".yaml", ".yml"):
        raise ConfigError(
            f"{where}: expected a .csv, .tsv, .jsonl or .yaml file (got {path.suffix or 'no suffix'!r})"
        )
    try:
        raw = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
        text = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{where}: cannot read: {' '.join(str(err).split())}") from None
    if kind in (".csv", ".tsv"):
        try:
            reader = csv.DictReader(io.StringIO(text), delimiter="\t" if kind == ".tsv" else ",")
            rows = list(reader)
        except csv.Error as err:
            raise ConfigError(f"{where}: invalid CSV: {err}") from None
        for i, row in enumerate(rows, start=2):
            if None in row:
                raise ConfigError(f"{where}:{i}: more fields than the header has")
        return rows
    if kind in (".jsonl", ".ndjson"):
        rows = []
        for i, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ConfigError(f"{where}:{i}: invalid JSON: {err.msg}") from None
        return rows
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f"{mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{where}:{line} invalid YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a YAML list of terms (got {type(data).__name__})")
    return data


def _validated(rows: list, where: str) -> list[Term]:
    """Terms from raw rows; one line naming the row, the field and the value on any problem."""
    terms: list[Term] = []
    for i, row in enumerate(rows, start=1):
        at = f"{where}: term {i}"
        if not isinstance(row, dict):
            raise ConfigError(f"{at}: expected a mapping with a name (got {_short(row)})")
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            raise ConfigError(
                f"{at}: {unknown[0]}: unknown field (expected some of {', '.join(COLUMNS)})"
            )
        name = _text(row.get("name"), f"{at}: name")
        if not name:
            raise ConfigError(
                f"{at}: name: expected a non-empty name (got {_short(row.get('name'))})"
            )
        if len(name) > MAX_NAME:
            raise ConfigError(
                f"{at}: name: expected at most {MAX_NAME} characters (got {len(name)})"
            )
        description = _text(row.get("description"), f"{at}: description")
        if len(description) > MAX_DESCRIPTION:
            raise ConfigError(
                f"{at}: description: expected at most {MAX_DESCRIPTION} characters "
                f"(got {len(description)})"
            )
        terms.append(
            Term(
                id=_text(row.get("id"), f"{at}: id") or name,
                name=name,
                parent=_text(row.get("parent"), f"{at}: parent") or None,
                keywords=_keywords(row.get("keywords"), f"{at}: keywords"),
                description=description,
            )
        )
    if len(terms) < 2:
        raise ConfigError(f"{where}: expected at least 2 terms (got {len(terms)})")
    seen: dict[str, int] = {}
    for i, t in enumerate(terms, start=1):
        if t.id in seen:
            raise ConfigError(f"{where}: term {i}: id: {t.id!r} repeats term {seen[t.id]}")
        seen[t.id] = i
    by_name = {t.name: t.id for t in terms}
    out = []
    for i, t in enumerate(terms, start=1):
        parent = t.parent
        if parent is not None and parent not in seen:
            if parent not in by_name:
                raise ConfigError(
                    f"{where}: term {i}: parent: {parent!r} is not the id or name of a term"
                )
            parent = by_name[parent]
        out.append(Term(t.id, t.name, parent, t.keywords, t.description))
    parent_of = {t.id: t.parent for t in out}
    for i, t in enumerate(out, start=1):
        chain, node = {t.id}, t.parent
        while node is not None:
            if node in chain:
                raise ConfigError(f"{where}: term {i}: parent: {t.parent!r} makes a cycle")
            chain.add(node)
            node = parent_of[node]
    return out


def _text(value: object, at: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{at}: expected text (got {_short(value)})")
    return " ".join(str(value).split())


def _keywords(value: object, at: str) -> tuple[str, ...]:
    """A list of strings, or one string separated by ';'."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        items = value.split(";")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = value
    else:
        raise ConfigError(f"{at}: expected a list of strings or 'a; b; c' (got {_short(value)})")
    return tuple(k for k in (" ".join(v.split()) for v in items) if k)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- term vectors ------------------------------------------------------------------------


def term_vectors(
    vocab: Vocabulary,
    embed: Embed,
    *,
    model: str,
    model_key: str,
    store: ArrayStore | None = None,
    log: Log | None = None,
) -> np.ndarray:
    """Unit vectors of the terms' texts, once per (vocabulary, model): the bundled vocabulary's
    for the bundled model ship with the package (so they are the same on every backend);
    others are embedded with the run's model and kept in the stage cache."""
    shipped = BUILTIN_VECTORS.get((vocab.id, model))
    if shipped:
        data = np.load(
            io.BytesIO(resources.files("taxonomy").joinpath("data", shipped).read_bytes())
        )
        if str(data["digest"]) == vocab.digest and data["vectors"].shape[0] == len(vocab):
            return data["vectors"].astype(np.float32)

    def compute() -> dict[str, np.ndarray]:
        if log is not None:
            log(
                f"        embedding the {len(vocab)} terms of vocabulary {vocab.id!r} (once per model)"
            )
        return {"vectors": unit_rows(embed(vocab.texts))}

    if store is None or not store.enabled:
        return compute()["vectors"]
    key = hash_key("vocabulary-terms", vocab.digest, model_key)
    return store.get_or_compute("vocabulary_terms", key, compute)["vectors"]


# --- naming ------------------------------------------------------------------------------


@dataclass
class Placement:
    """Each paper under its nearest leaf term: that term's ancestors per depth, and the cosine."""

    under: np.ndarray  # (depths, n papers) term index at each depth, -1 above a shallow leaf
    nearest: np.ndarray  # (n papers,) cosine to the nearest leaf term


def broad_vectors(vocab: Vocabulary, V: np.ndarray) -> np.ndarray:
    """A term with terms under it is represented by its own text and the mean of its leaf
    terms: a field's one-line text ("Physics. study of matter") says less than its topics do,
    and siblings named at different depths are then compared on an equal footing."""
    out = V.copy()
    for t in np.flatnonzero(np.isin(np.arange(len(vocab)), vocab.leaves, invert=True)):
        under = vocab.leaves[vocab.ancestor[vocab.depth[t], vocab.leaves] == t]
        mean = V[under].mean(axis=0)
        out[t] = V[t] + mean / max(float(np.linalg.norm(mean)), 1e-12)
    return unit_rows(out)


def related(vocab: Vocabulary, a: int, b: int) -> bool:
    """The same term, or one under the other."""
    da, db = vocab.depth[a], vocab.depth[b]
    return bool(vocab.ancestor[min(da, db), b if db >= da else a] == (a if db >= da else b))


def place_papers(Xn: np.ndarray, vocab: Vocabulary, V: np.ndarray) -> Placement:
    leaves = vocab.leaves
    VL = V[leaves].T
    best = np.empty(len(Xn), np.int64)
    sim = np.empty(len(Xn), np.float32)
    for s in range(0, len(Xn), BLOCK):
        S = Xn[s : s + BLOCK] @ VL
        best[s : s + BLOCK] = S.argmax(axis=1)
        sim[s : s + BLOCK] = S.max(axis=1)
    leaf = leaves[best]
    return Placement(vocab.ancestor[:, leaf], sim)


def allowed_terms(vocab: Vocabulary, node: Node, under: int) -> np.ndarray:
    """Terms a node may take: below its parent's term (``under``; -1: any); a node with
    children takes a broad term (one with terms under it) where the vocabulary has any, a leaf
    any term (a topic, for a narrow node)."""
    ok = np.ones(len(vocab), bool)
    if under >= 0:
        d = vocab.depth[under]
        ok &= (vocab.depth > d) & (vocab.ancestor[d] == under)
    broad = np.isin(np.arange(len(vocab)), vocab.leaves, invert=True)
    if node.children and (ok & broad).any():
        ok &= broad
    return np.flatnonzero(ok)


def units_of(tax: Taxonomy, group: list[Node], pos: dict[int, int]) -> list[list[np.ndarray]]:
    """Per sibling, its units as rows of the group's papers: a parent's children, else itself."""
    return [
        [np.array([pos[int(d)] for d in tax.nodes[c].doc_idx]) for c in n.children]
        or [np.array([pos[int(d)] for d in n.doc_idx])]
        for n in group
    ]


def shares(cols: np.ndarray, units: list[list[np.ndarray]]) -> np.ndarray:
    """Per sibling, the share of its papers whose nearest name (column) is its own; a parent's
    is the mean over its children, as in naming/extractive.py's objective."""
    nearest = cols.argmax(axis=1)
    return np.array([np.mean([np.mean(nearest[u] == g) for u in us]) for g, us in enumerate(units)])


def choose_terms(
    Xs: np.ndarray,
    units: list[list[np.ndarray]],
    cands: list[np.ndarray],
    V: np.ndarray,
    vocab: Vocabulary,
) -> list[int]:
    """One term per sibling (index into its candidates, -1: none), jointly: each paper nearest
    its own node's term among the siblings' terms (coordinate ascent, as naming/extractive.py does with
    phrases); no two siblings take the same term or one under the other's."""
    sims = [Xs @ V[c].T for c in cands]
    # Relevance: mean cosine of the node's papers to each candidate (over its units).
    relevance = [
        np.mean([sims[g][u].mean(axis=0) for u in units[g]], axis=0) if len(c) else np.zeros(0)
        for g, c in enumerate(cands)
    ]

    def score(choice: list[int]) -> float:
        cols = np.stack(
            [sims[g][:, k] if k >= 0 else np.full(len(Xs), -1.0) for g, k in enumerate(choice)],
            axis=1,
        )
        fit = shares(cols, units)
        return float(sum(fit[g] + relevance[g][k] for g, k in enumerate(choice) if k >= 0))

    def clash(g: int, k: int, choice: list[int]) -> bool:
        t = cands[g][k]
        return any(
            h != g and j >= 0 and related(vocab, t, cands[h][j]) for h, j in enumerate(choice)
        )

    choice = [-1] * len(cands)
    for g in sorted(range(len(cands)), key=lambda g: -sum(u.size for u in units[g])):
        own = sims[g][np.concatenate(units[g])].mean(axis=0) if len(cands[g]) else []
        for k in np.argsort(-np.asarray(own), kind="stable"):
            if not clash(g, int(k), choice):
                choice[g] = int(k)
                break
    return ascend(choice, [range(len(c)) for c in cands], score, clash, PASSES)


def wins(
    parent: bool, fit: float, extractive_fit: float, margin: float, leaf_margin: float
) -> bool:
    """A parent takes its term when it fits at least ``margin`` better than its extractive name
    (a field's name is what a parent should have); a leaf only when clearly better."""
    return fit >= extractive_fit + margin if parent else fit > extractive_fit + leaf_margin


def term_candidates(
    node: Node,
    Xn: np.ndarray,
    vocab: Vocabulary,
    V: np.ndarray,
    place: Placement,
    under: int,
    record: dict[str, dict],
    n_candidates: int,
    min_nearest: float,
) -> np.ndarray:
    """The terms a node may take (under its parent's term ``under``), nearest its papers first;
    none for a seed or a node whose papers sit far from the whole vocabulary."""
    near = float(place.nearest[node.doc_idx].mean())
    record[node.node_id]["nearest"] = round(near, 4)
    if node.seed or near < min_nearest:
        return np.zeros(0, np.int64)
    ok = allowed_terms(vocab, node, under)
    cos = V[ok] @ unit_mean(Xn[node.doc_idx])
    return ok[np.argsort(-cos, kind="stable")[:n_candidates]]


def term_record(
    vocab: Vocabulary,
    V: np.ndarray,
    place: Placement,
    node: Node,
    term: int,
    runner: int,
    centroid: np.ndarray,
) -> dict:
    """What ``metrics.json`` says of the term a node was offered, and of the runner-up."""
    return {
        "term_id": vocab.terms[term].id,
        "term": vocab.terms[term].name,
        "cosine": round(float(V[term] @ centroid), 4),
        "runner_up_id": vocab.terms[runner].id if runner != term else None,
        "runner_up_cosine": round(float(V[runner] @ centroid), 4),
        "coverage": round(float(np.mean(place.under[vocab.depth[term], node.doc_idx] == term)), 4),
    }


def namer_records(tax: Taxonomy) -> dict[str, dict]:
    """Every node's namer before any term is chosen: its seed's or the extractive namer."""
    record = {}
    for node in tax.nodes.values():
        node.namer = "seed" if node.seed else "extractive"
        record[node.node_id] = {"namer": node.namer} | (
            {"reason": "root"} if node.level == 0 else {}
        )
    return record


def apply_vocabulary_names(
    tax: Taxonomy,
    X: np.ndarray,
    vocab: Vocabulary,
    V: np.ndarray,
    embed: Embed,
    *,
    n_candidates: int = N_CANDIDATES,
    margin: float = MARGIN,
    leaf_margin: float = LEAF_MARGIN,
    min_nearest: float = MIN_NEAREST,
    relevance: bool = RELEVANCE,
) -> dict:
    """Give nodes vocabulary terms where they fit better than their extractive names (in place).

    Runs after the extractive namer (each node's ``label`` and ``best_phrase`` set), top-down,
    one set of siblings at a time. Returns ``per_node`` records for ``metrics.json``: the namer,
    and for every node that had a term the term's id, its cosine to the node's papers against
    the runner-up term's, its coverage and both fits.
    """
    Xn = unit_rows(X)
    place = place_papers(Xn, vocab, V)
    V = broad_vectors(vocab, V)
    namer = f"vocabulary:{vocab.id}"
    record = namer_records(tax)
    term_of: dict[str, int] = {}
    used = {k for n in tax.nodes.values() if n.level > 0 for k in name_keys(n.label)}
    for level in range(tax.n_levels):
        for parent in tax.level(level):
            group = [tax.nodes[c] for c in parent.children]
            if len(group) < 2:  # an only child has no siblings to be told apart from
                continue
            scope = np.concatenate([n.doc_idx for n in group])
            pos = {int(d): i for i, d in enumerate(scope)}
            units = units_of(tax, group, pos)
            Xs = Xn[scope]
            under = term_of.get(parent.node_id, -1)
            cands = [
                term_candidates(node, Xn, vocab, V, place, under, record, n_candidates, min_nearest)
                for node in group
            ]
            if not any(len(c) for c in cands):
                continue
            choice = choose_terms(Xs, units, cands, V, vocab)
            P = unit_rows(embed([n.best_phrase or n.label for n in group]))
            extractive = shares(Xs @ P.T, units)
            T = np.stack([V[cands[g][k]] if k >= 0 else P[g] for g, k in enumerate(choice)])
            with_terms = shares(Xs @ T.T, units)
            for g, k in enumerate(choice):
                if k < 0:
                    continue
                node, term = group[g], int(cands[g][k])
                centroid = unit_mean(Xn[node.doc_idx])
                runner = int(cands[g][1 if k == 0 and len(cands[g]) > 1 else 0])
                rec = record[node.node_id]
                rec.update(
                    term_record(vocab, V, place, node, term, runner, centroid),
                    fit=round(float(with_terms[g]), 4),
                    extractive_fit=round(float(extractive[g]), 4),
                    extractive_cosine=round(float(P[g] @ centroid), 4),
                )
                near, phrase_near = float(V[term] @ centroid), float(P[g] @ centroid)
                if relevance and near < phrase_near:
                    continue  # the term must be as near the papers as the extractive name is
                if not wins(bool(node.children), with_terms[g], extractive[g], margin, leaf_margin):
                    continue
                keys = name_keys(vocab.terms[term].name)
                if keys & (used - name_keys(node.label)):
                    continue  # no name twice in the tree
                used -= name_keys(node.label)
                used |= keys
                rec.update(extractive_name=node.label, namer=namer)
                node.label, node.description = vocab.terms[term].name, vocab.terms[term].one_line
                node.namer, node.term_id = namer, vocab.terms[term].id
                term_of[node.node_id] = term
    return record


def name_with_vocabulary(
    tax: Taxonomy,
    X: np.ndarray,
    vocab: Vocabulary | None,
    embed: Embed,
    *,
    model: str,
    model_key: str,
    store: ArrayStore | None = None,
    log: Log | None = None,
) -> dict:
    """The pipeline's step: vocabulary names where they win, and ``metrics["labels"]``'s
    ``vocabulary``, namer counts and ``per_node`` (namer, term id, coverage, runner-up, fits)."""
    if vocab is None:
        per_node = namer_records(tax)
    else:
        V = term_vectors(vocab, embed, model=model, model_key=model_key, store=store, log=log)
        per_node = apply_vocabulary_names(tax, X, vocab, V, embed)
    return {
        "vocabulary": vocab.id if vocab is not None else "none",
        "namers": _count(per_node),
        "per_node": dict(sorted(per_node.items(), key=lambda kv: tax.nodes[kv[0]].level)),
    }


def with_llm(tax: Taxonomy, vocab_metrics: dict, llm_metrics: dict) -> dict:
    """``labels.method: llm`` ran after the vocabulary: a node the model named is ``llm`` (its
    term, if any, stays on record); one it did not keeps the vocabulary's or extractive name."""
    per_node = {}
    for nid, rec in vocab_metrics["per_node"].items():
        llm = llm_metrics["per_node"].get(nid, {})
        if llm.get("namer") == "llm":
            tax.nodes[nid].namer, tax.nodes[nid].term_id = "llm", None
            per_node[nid] = {**rec, **llm, "vocabulary_namer": rec["namer"]}
        else:
            per_node[nid] = {**llm, **rec}
    out = {**llm_metrics, "vocabulary": vocab_metrics["vocabulary"], "per_node": per_node}
    out["namers"] = _count(per_node)
    return out


def _count(per_node: dict[str, dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rec in per_node.values():
        if rec.get("reason") != "root":
            counts[rec["namer"]] = counts.get(rec["namer"], 0) + 1
    return dict(sorted(counts.items()))
