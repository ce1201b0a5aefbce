"""Names from a language model behind any OpenAI-compatible chat endpoint (``labels.method: llm``).

What is sent, per node: its keywords and the titles of the few papers nearest its centre; for a
parent also its children's names. Never abstracts, never the corpus. Nodes are named bottom-up
(children first, as toponymy does); then each set of siblings whose names collide gets one request
asking for distinct names. Every name passes guards (:func:`check_name`, similarity to the node's
papers, distinct from siblings, parent and the rest of the tree); a refused one keeps the
extractive name from naming/extractive.py, and ``metrics["labels"]["per_node"]`` says which namer won and why.

Replies are cached in the stage cache under (model, messages, temperature, max_tokens), so a
re-run or a sweep point that changes nothing upstream sends no request. Only the standard library
speaks HTTP here; the API key is read from the environment variable the config names and appears
in no log, error, output or cache key.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable

import numpy as np

from ..config import LabelsConfig
from ..hierarchy import Node, Taxonomy
from ..util.arrays import unit_rows, unit_vector
from ..util.cache import ArrayStore
from .keys import name_key
from .llm_client import ChatClient, LLMError, Messages, resolve_endpoint

Embed = Callable[[list[str]], np.ndarray]

MAX_NAME_CHARS = 60
MAX_DESCRIPTION_CHARS = 200
MAX_TITLE_CHARS = 200

SYSTEM = (
    "You name topics in a taxonomy of research papers. Reply with exactly two lines:\n"
    "Name: <the topic's name, 1 to {max_words} words>\n"
    "Description: <one sentence on what these papers study>\n"
    "The name is a short noun phrase for the whole topic, not a paper title. No other text."
)
# One worked example: small local models follow the two-line form only when shown it.
EXAMPLE_PROMPT = (
    "Keywords: protein folding, structure prediction, contact maps, alphafold\n"
    "Papers:\n- Highly accurate protein structure prediction with AlphaFold\n"
    "- Improved protein structure prediction using predicted interresidue orientations"
)
EXAMPLE_REPLY = (
    "Name: Protein structure prediction\n"
    "Description: Predicting a protein's 3-D structure from its sequence."
)
# Cosine (all-MiniLM-L6-v2) of a name to the example's name from which it counts as a copy:
# "Predicting protein structure" .97, "Predicting a protein's 3-D structure" .80, "Structure
# prediction" .79, "RNA structure prediction" .76; "Protein design" .65, "Protein folding" .55,
# "Feature extraction" .25, "Dense retrieval" .21, "Scaling laws" .11.
EXAMPLE_PARAPHRASE = 0.75
SYSTEM_DISTINCT = (
    "You make the names of sibling topics distinct. Reply with one line per topic, as "
    "'<number>. <name of 1 to {max_words} words>', in the order given. No other text."
)


# --- replies ------------------------------------------------------------------------------

_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_OPEN_REASONING = re.compile(r"<(think|thinking|reasoning)>", re.IGNORECASE)
_NAME_PREFIX = re.compile(
    r"^(?:topic\s+name|topic|name|label|title|theme)\s*[:：]\s*", re.IGNORECASE
)
_DESC_PREFIX = re.compile(r"^(?:description|summary|definition)\s*[:：]\s*", re.IGNORECASE)
_LIST_MARK = re.compile(r"^\s*(?:[-•*+>]|\d{1,2}[.)])\s+")
_NUMBERED = re.compile(r"^\s*(?:topic\s*)?(\d{1,2})\s*[.):\-]\s*(.+)$", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»`"


def strip_reasoning(text: str) -> str:
    """Drop ``<think>…</think>`` blocks; a block never closed was cut off: nothing after it counts."""
    text = _REASONING.sub(" ", text)
    m = _OPEN_REASONING.search(text)
    if m:
        text = text[: m.start()]
    close = text.lower().rfind("</think>")  # servers that drop the opening tag
    return text[close + len("</think>") :] if close >= 0 else text


def _clean(line: str) -> str:
    """A line without markdown emphasis, headings, list marks and surrounding quotes."""
    line = re.sub(r"\*\*|__|[*`]", "", line)
    line = _LIST_MARK.sub("", line.lstrip("# \t"))
    return line.strip().strip(_QUOTES).strip()


def clean_name(text: str) -> str:
    """One name: prefixes like 'Topic:' and 'Name:', quotes and end punctuation removed."""
    name, before = _clean(text), None
    while name != before:  # "Name: Topic: …", '"Dense retrieval".'
        before = name
        name = _NAME_PREFIX.sub("", name).strip().strip(_QUOTES).rstrip(".;,:!").strip()
    return " ".join(name.split())


def parse_reply(text: str) -> tuple[str, str]:
    """``(name, description)`` from a reply; either may be empty."""
    lines = [ln for ln in (_clean(x) for x in strip_reasoning(text).splitlines()) if ln]
    name_i = next((i for i, ln in enumerate(lines) if _NAME_PREFIX.match(ln)), None)
    if name_i is None:
        name_i = next((i for i, ln in enumerate(lines) if not _DESC_PREFIX.match(ln)), None)
    desc_i = next((i for i, ln in enumerate(lines) if _DESC_PREFIX.match(ln)), None)
    if desc_i is None and name_i is not None and name_i + 1 < len(lines):
        desc_i = name_i + 1
    name = clean_name(lines[name_i]) if name_i is not None else ""
    desc = _DESC_PREFIX.sub("", lines[desc_i]).strip() if desc_i is not None else ""
    if name_key(desc) == name_key(EXAMPLE_REPLY.split("Description:", 1)[1]):
        desc = ""  # the worked example's, copied
    if len(desc) > MAX_DESCRIPTION_CHARS:
        desc = desc[: MAX_DESCRIPTION_CHARS - 1].rstrip() + "…"
    return name, desc


def parse_numbered(text: str, n: int) -> dict[int, str]:
    """``{i: name}`` from lines like ``2. Sparse retrieval`` (1-based numbers up to ``n``)."""
    out: dict[int, str] = {}
    for line in strip_reasoning(text).splitlines():
        m = _NUMBERED.match(re.sub(r"\*\*|__|[*`]", "", line).lstrip("# \t"))
        if m and 1 <= int(m.group(1)) <= n and int(m.group(1)) not in out:
            out[int(m.group(1))] = clean_name(m.group(2))
    return out


# --- guards -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _example_key() -> str:
    return name_key(parse_reply(EXAMPLE_REPLY)[0])


_TITLE_BREAK = re.compile(r"\s*(?:[:?!;]|\s--?\s|\s[—–]\s)")


def title_keys(titles: list[str]) -> set[str]:
    """Keys a name may not take: each title, and each start of it that ends at a break
    ('GeneCIS' and 'Predictable Scale: Part I' of 'Predictable Scale: Part I -- Optimal …')."""
    keys = set()
    for t in titles:
        keys.add(name_key(t))
        keys.update(name_key(t[: m.start()]) for m in _TITLE_BREAK.finditer(t))
    return keys - {""}


def check_name(
    name: str, *, max_words: int, titles: set[str], taken: set[str] = frozenset()
) -> str:
    """``"ok"`` or why ``name`` is refused: empty, too_long, copies_title, copies_example
    (the prompt's worked example), repeats_child (a name in ``taken``). The guards that need
    embeddings (a paraphrase of the example, far from the papers) run after these."""
    if not name_key(name):
        return "empty"
    if len(name.split()) > max_words or len(name) > MAX_NAME_CHARS:
        return "too_long"
    if name_key(name) in titles:
        return "copies_title"
    if name_key(name) == _example_key():
        return "copies_example"
    if name_key(name) in taken:
        return "repeats_child"
    return "ok"


# --- naming the tree ----------------------------------------------------------------------


def _one_line(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Namer:
    def __init__(self, tax, titles, X, cfg: LabelsConfig, client: ChatClient, embed: Embed):
        self.tax, self.titles, self.cfg, self.llm = tax, titles, cfg, cfg.llm
        self.client, self.embed = client, embed
        Xn = unit_rows(X)
        self.centroid: dict[str, np.ndarray] = {}
        self.near: dict[str, list[int]] = {}  # papers nearest the centre, nearest first
        for n in tax.nodes.values():
            if n.size:
                c = Xn[n.doc_idx].mean(axis=0)
                self.centroid[n.node_id] = unit_vector(c)
                sims = Xn[n.doc_idx] @ self.centroid[n.node_id]
                self.near[n.node_id] = [int(n.doc_idx[i]) for i in np.argsort(-sims, kind="stable")]
        self.name = {nid: n.label for nid, n in tax.nodes.items()}
        self.extractive = dict(self.name)
        self.desc = {nid: "" for nid in tax.nodes}
        self.record: dict[str, dict] = {
            nid: {"namer": "extractive", "reason": "root" if n.level == 0 else "not_asked"}
            for nid, n in tax.nodes.items()
        }

    def _system(self, template: str) -> dict[str, str]:
        return {"role": "system", "content": template.format(max_words=self.cfg.max_words)}

    def messages(self, node: Node) -> Messages:
        k = self.llm.n_titles if not node.children else min(2, self.llm.n_titles)
        lines = []
        if node.children:
            lines.append("Subtopics: " + "; ".join(self.name[c] for c in node.children))
        lines.append("Keywords: " + ", ".join(node.keywords[:10]))
        titles = [self.titles[i] for i in self.near[node.node_id][:k]]
        if titles:
            lines.append("Papers:\n" + "\n".join(f"- {_one_line(t)}" for t in titles))
        if node.children:
            # A parent is a field: its name is what researchers call the area, not one subtopic.
            lines.append(
                "Name the research field that covers all its subtopics, as researchers in it "
                "call it: broader than any subtopic, not one of them."
            )
        return [
            self._system(SYSTEM),
            {"role": "user", "content": EXAMPLE_PROMPT},
            {"role": "assistant", "content": EXAMPLE_REPLY},
            {"role": "user", "content": "\n".join(lines)},
        ]

    def run(self) -> None:
        for level in range(self.tax.n_levels, 0, -1):
            nodes = [n for n in self.tax.level(level) if n.size]
            replies = self.client.complete_many({n.node_id: self.messages(n) for n in nodes})
            proposals = {}
            for n in nodes:
                name, desc = parse_reply(replies[n.node_id])
                proposals[n.node_id] = (name, desc, {name_key(self.name[c]) for c in n.children})
            self._judge(proposals)
            self._distinct_siblings(nodes)
        self._distinct_tree()

    def _judge(self, proposals: dict[str, tuple[str, str, set[str]]]) -> None:
        """Guard each proposed name; the ones that pass replace the extractive name."""
        passed = {}
        for nid, (name, desc, taken) in proposals.items():
            titles = title_keys([self.titles[i] for i in self.tax.nodes[nid].doc_idx])
            reason = check_name(name, max_words=self.cfg.max_words, titles=titles, taken=taken)
            self.record[nid] = {"namer": "extractive", "reason": reason, "proposed": name}
            if reason == "ok":
                passed[nid] = (name, desc)
        if not passed:
            return
        example = parse_reply(EXAMPLE_REPLY)[0]
        unique = sorted({name for name, _ in passed.values()} | {example})
        P = np.asarray(self.embed(unique), dtype=np.float64)
        P = unit_rows(P)
        row = dict(zip(unique, P))
        for nid, (name, desc) in passed.items():
            sim = round(float(row[name] @ self.centroid[nid]), 4)
            rec = self.record[nid]
            rec["similarity"] = sim
            # A paraphrase of the worked example, nearer to it than to the node's papers.
            to_example = float(row[name] @ row[example])
            if to_example >= EXAMPLE_PARAPHRASE and to_example > sim:
                rec["reason"] = "copies_example"
                continue
            if sim < self.llm.min_similarity:
                rec["reason"] = "far_from_papers"
                continue
            rec.update(namer="llm", reason="ok")
            self.name[nid] = name
            self.desc[nid] = desc or self.desc[nid]

    def _revert(self, nid: str, reason: str) -> None:
        self.name[nid], self.desc[nid] = self.extractive[nid], ""
        self.record[nid].update(namer="extractive", reason=reason)

    def _collisions(self, ids: list[str]) -> list[list[str]]:
        groups: dict[str, list[str]] = {}
        for nid in ids:
            groups.setdefault(name_key(self.name[nid]), []).append(nid)
        return [g for g in groups.values() if len(g) > 1]

    def _distinct_siblings(self, nodes: list[Node]) -> None:
        """One request per set of siblings with a shared name; what still collides reverts."""
        by_parent: dict[str, list[str]] = {}
        for n in nodes:
            by_parent.setdefault(n.parent_id, []).append(n.node_id)
        prompts, asked = {}, {}
        for parent, kids in by_parent.items():
            clash = [nid for g in self._collisions(kids) for nid in g]
            if any(self.record[nid]["namer"] == "llm" for nid in clash):
                asked[parent] = clash
                prompts[parent] = self._distinct_messages(clash)
        replies = self.client.complete_many(prompts) if prompts else {}
        for parent, clash in asked.items():
            new = parse_numbered(replies[parent], len(clash))
            proposals = {}
            for i, nid in enumerate(clash, start=1):
                others = {name_key(self.name[s]) for s in by_parent[parent] if s not in clash}
                children = {name_key(self.name[c]) for c in self.tax.nodes[nid].children}
                if new.get(i):
                    proposals[nid] = (new[i], self.desc[nid], others | children)
            old = {nid: self.name[nid] for nid in proposals}
            self._judge(proposals)
            for nid in proposals:
                if self.record[nid]["namer"] == "llm":
                    self.record[nid]["renamed_from"] = old[nid]
                elif self.record[nid]["reason"] == "repeats_child":
                    self.record[nid]["reason"] = "repeats_sibling"
                if self.record[nid]["namer"] == "extractive":
                    self.name[nid], self.desc[nid] = self.extractive[nid], ""
        for kids in by_parent.values():
            self._settle(kids, "repeats_sibling")

    def _distinct_messages(self, ids: list[str]) -> Messages:
        lines = [
            (
                "These sibling topics got the same name. Give each a distinct name that says "
                "what sets it apart from the others."
            )
        ]
        for i, nid in enumerate(ids, start=1):
            n = self.tax.nodes[nid]
            title = _one_line(self.titles[self.near[nid][0]])
            lines.append(
                f"{i}. Now: {self.name[nid]}. Keywords: {', '.join(n.keywords[:6])}. Paper: {title}"
            )
        return [self._system(SYSTEM_DISTINCT), {"role": "user", "content": "\n".join(lines)}]

    def _settle(self, ids: list[str], reason: str) -> None:
        """Until no two of ``ids`` share a name, the smallest LLM-named one in a clash reverts."""
        for _ in range(len(ids) + 1):
            clashes = self._collisions(ids)
            victims = [nid for g in clashes for nid in g if self.record[nid]["namer"] == "llm"]
            if not victims:
                return
            # The smallest gives way; among equals the later (ids number nodes largest first).
            nid = min(victims, key=lambda v: self._order(v))
            group = next(g for g in clashes if nid in g)
            self._revert(nid, self._relation(nid, group) if reason == "tree" else reason)

    def _order(self, nid: str) -> tuple[int, int, int]:
        n = self.tax.nodes[nid]
        return n.size, -n.level, -n.index

    def _relation(self, nid: str, group: list[str]) -> str:
        node = self.tax.nodes[nid]
        if node.parent_id in group:
            return "repeats_parent"
        if any(c in group for c in node.children):
            return "repeats_child"
        if any(self.tax.nodes[g].parent_id == node.parent_id for g in group if g != nid):
            return "repeats_sibling"
        return "repeats_name"

    def _distinct_tree(self) -> None:
        """No name twice in the tree (as with extractive names): parent, child or elsewhere."""
        self._settle(list(self.tax.nodes), "tree")

    def commit(self) -> None:
        for nid, node in self.tax.nodes.items():
            # A name kept (a vocabulary term's, say) keeps its description.
            if self.name[nid] != self.extractive[nid] or self.desc[nid]:
                node.label, node.description = self.name[nid], self.desc[nid]


def apply_llm_names(
    tax: Taxonomy,
    titles: list[str],
    X: np.ndarray,
    cfg: LabelsConfig,
    *,
    store: ArrayStore,
    embed: Embed,
    log: Callable[[str], None] = print,
) -> dict:
    """Rename the nodes of ``tax`` (already named extractively) through ``labels.llm``'s endpoint.

    Parameters
    ----------
    tax : Taxonomy
        The tree with extractive labels and keywords filled in (``Labeller.label_tree``).
    titles : list of str
        Paper titles, indexed like ``X`` and the nodes' ``doc_idx``.
    X : ndarray
        Paper embeddings, for each node's centroid.
    cfg : LabelsConfig
        ``method``, ``max_words`` and the ``llm`` section.
    store : ArrayStore
        The stage cache; replies are kept under ``llm/``.
    embed : callable
        Texts to embeddings in the space of ``X`` (for the similarity guard).
    log : callable
        Progress lines; the endpoint is printed here before anything is sent.

    Returns
    -------
    dict
        ``metrics["labels"]``: counts, reasons and ``per_node`` (namer, reason, proposed name).

    Raises
    ------
    LLMError
        When the endpoint fails and ``labels.llm.on_error`` is ``fail``.
    """
    endpoint = resolve_endpoint(cfg.llm)
    log(f"        names from {endpoint.model} at {endpoint.shown} (labels.method: llm)")
    client = ChatClient(endpoint, cfg.llm, store)
    namer = _Namer(tax, titles, X, cfg, client, embed)
    error = None
    try:
        namer.run()
    except LLMError as err:
        if cfg.llm.on_error == "fail":
            raise
        error = str(err)
        log(f"warning: {error}; keeping the extractive names (labels.llm.on_error: fallback)")
        for nid, node in tax.nodes.items():
            namer._revert(nid, "root" if node.level == 0 else "endpoint_error")
    namer.commit()
    per_node = namer.record
    named = [r for nid, r in per_node.items() if tax.nodes[nid].level > 0]
    n_llm = sum(r["namer"] == "llm" for r in named)
    reasons = Counter(r["reason"] for r in named if r["namer"] == "extractive")
    log(
        f"        {n_llm} of {len(named)} names from the model"
        + (f", the rest extractive ({_counts(reasons)})" if reasons else "")
        + f"; {client.requests} requests sent, {client.cached} replies from the cache"
    )
    return {
        "method": "llm",
        "model": endpoint.model,
        "endpoint": endpoint.shown,
        "n_llm": n_llm,
        "n_extractive": len(named) - n_llm,
        "reasons": dict(sorted(reasons.items())),
        "requests": client.requests,
        "from_cache": client.cached,
        "min_similarity": cfg.llm.min_similarity,
        "error": error,
        "per_node": dict(sorted(per_node.items(), key=lambda kv: tax.nodes[kv[0]].level)),
    }


def _counts(reasons: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(reasons.items()))
