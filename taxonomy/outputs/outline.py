"""A run as a survey's outline: ``taxonomy export RUN_DIR --to outline DIR``.

Writes three files, all or nothing:

* ``outline.md``: the taxonomy as nested, numbered headings; under each its one-line
  description (LLM names), its size, rising or fading when the run is dated
  (``topic_growth.csv``, the rule of docs/time.md), and its representative papers cited
  as ``[@key]`` (Pandoc's citation syntax: ``pandoc outline.md --citeproc
  --bibliography papers.bib``);
* ``outline.tex``: the same outline as a LaTeX document of ``\\section``s with
  ``\\cite{key}``, set with ``pdflatex`` and ``bibtex`` against ``papers.bib``;
* ``papers.bib``: one BibTeX entry per cited paper, with its arXiv id, DOI or URL where
  the corpus has them.

A paper's key depends on the paper alone, never on the run, so a key cited from one run's
outline finds the same paper in another's: ``arxiv:2501.01234`` for an arXiv paper, else the
first word of the title, the year when dated and six hex digits of the paper's id
(``fira2025:3f9a1c``). Titles, names and descriptions are text, never markup, in every
format: Markdown's punctuation is backslash-escaped, LaTeX's specials become their text
commands, and braces are written so that BibTeX's brace counting cannot be unbalanced.
Runs keep no authors, so entries are ``@misc`` without one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..corpus import ARXIV_ID
from ..runs.rundir import load_run, read_growth
from ..util.folders import check_target, write_run_dir

OUTLINE_MARKER = "outline.md"
# A title longer than this is cut (with an ellipsis) in every format.
MAX_TITLE_CHARS = 300
LATEX_HEADINGS = ("section", "subsection", "subsubsection", "paragraph", "subparagraph")
# Words a key never starts with (the title's first other word is used).
STOP_WORDS = frozenset(
    ("a", "an", "the", "on", "of", "in", "for", "to", "and", "towards", "toward", "how")
    + ("what", "why", "when", "does", "do", "is", "are", "can", "we")
)
ARXIV_URL = re.compile(r"^https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/(.+?)(?:\.pdf)?/?$")
DOI_URL = re.compile(r"^https?://(?:dx\.)?doi\.org/(10\.\d{4,9}/.+)$")
SAFE_DOI = re.compile(r"^10\.\d{4,9}/[-._;()/:A-Za-z0-9]+$")
# URLs safe to write into papers.bib as they are; any other URL is left out.
SAFE_URL = re.compile(r"^https?://[A-Za-z0-9._~:/?=+@!,;-]+$")


@dataclass(frozen=True)
class Paper:
    """One cited paper: what papers.bib and the citations need."""

    doc_id: str
    title: str
    year: int | None
    url: str | None

    @property
    def arxiv_id(self) -> str | None:
        found = ARXIV_URL.match(self.url or "")
        candidate = found.group(1) if found else self.doc_id
        if ARXIV_ID.match(candidate):
            return re.sub(r"v\d+$", "", candidate)
        return None

    @property
    def doi(self) -> str | None:
        found = DOI_URL.match(self.url or "")
        return found.group(1) if found and SAFE_DOI.match(found.group(1)) else None

    @property
    def key(self) -> str:
        """A citation key from the paper alone (stable across runs)."""
        if self.arxiv_id:
            return "arxiv:" + self.arxiv_id.replace("/", "-")
        words = [w for w in re.findall(r"[a-z0-9]+", ascii_fold(self.title).lower())]
        word = next((w for w in words if w not in STOP_WORDS), "paper")[:20]
        digest = hashlib.sha1(self.doc_id.encode("utf-8")).hexdigest()[:6]
        return f"{word}{self.year or ''}:{digest}"


# --- text --------------------------------------------------------------------------------


def ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def plain(text: str | None, limit: int | None = None) -> str:
    """One line of visible text: control and format characters (bidi overrides, zero-width
    spaces) dropped, whitespace runs and newlines made one space, cut at ``limit``."""
    kept = "".join(
        " " if ch.isspace() else ch
        for ch in (text or "")
        if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    line = " ".join(kept.split())
    if limit and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


# Characters that can start inline markup in CommonMark or Pandoc's Markdown (links, emphasis,
# code, HTML and entities, tables, strike-through, math, citations, super/subscripts,
# attributes, closing heading marks); a backslash makes each literal.
MD_INLINE = re.compile(r"([\\`*_\[\]<>&|~$@^{}#])")
# What makes a line a list item, quote, heading underline or definition when it starts one.
MD_LINE_START = re.compile(r"^([-+=:>]|\d+(?=[.)]))")


def markdown(text: str | None, limit: int | None = None) -> str:
    """Text that Markdown renders as itself: no link, emphasis, HTML, heading, list or
    citation can start inside it."""
    escaped = MD_INLINE.sub(r"\\\1", plain(text, limit))
    return MD_LINE_START.sub(
        lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\" + m.group(1), escaped
    )


def heading(label: str) -> str:
    """A node's name as a heading: its first letter capitalised (``sparse model`` ->
    ``Sparse model``; ``BERT`` stays)."""
    label = plain(label)
    return label[:1].upper() + label[1:]


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",  # not \{ : BibTeX counts a backslashed brace too
    "}": r"\textbraceright{}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': r"\textquotedbl{}",
    "…": r"\ldots{}",
    "×": r"\ensuremath{\times}",
    "–": "--",
    "—": "---",
    "‘": "`",
    "’": "'",
    "“": "``",
    "”": "''",
}
GREEK_CAPITALS = {"GAMMA", "DELTA", "THETA", "LAMBDA", "XI", "PI", "SIGMA", "UPSILON", "PHI", "PSI"}


def _latex_char(ch: str) -> str:
    if ch in LATEX_SPECIAL:
        return LATEX_SPECIAL[ch]
    if ord(ch) < 128 or (0xC0 <= ord(ch) < 0x180 and ch.isalpha()):
        return ch  # ASCII, and the Latin letters pdfLaTeX's T1 fonts set from UTF-8
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK SMALL LETTER ") and " " not in name[19:]:
        letter = name[19:].lower().replace("lamda", "lambda")
        if letter != "omicron":
            return rf"\ensuremath{{\{letter}}}"
    if name.startswith("GREEK CAPITAL LETTER ") and name[21:].replace("LAMDA", "LAMBDA") in (
        GREEK_CAPITALS | {"OMEGA"}
    ):
        return rf"\ensuremath{{\{name[21:].replace('LAMDA', 'LAMBDA').capitalize()}}}"
    base = ascii_fold(ch)
    return base if base else "?"  # a character pdfLaTeX's default fonts lack


def latex(text: str | None, limit: int | None = None) -> str:
    """Text that LaTeX (and BibTeX, inside a field) sets as itself, for pdfLaTeX with T1 fonts."""
    return "".join(_latex_char(ch) for ch in plain(text, limit))


# --- the run -----------------------------------------------------------------------------


def status(growth: tuple[float, float, float] | None) -> str:
    """``rising``/``fading`` with the share ratio and its 90 % interval, or ``""``."""
    if growth is None:
        return ""
    g, low, high = growth

    def ratio(x: float) -> str:
        return f"×{2**x:.{0 if 2**x >= 10 else 1}f}"

    word = "rising" if low > 0 else "fading" if high < 0 else ""
    return f"{word} (share {ratio(g)}, 90 % interval {ratio(low)}–{ratio(high)})" if word else ""


@dataclass
class Section:
    """One node of the outline."""

    number: str
    level: int
    label: str
    description: str
    size: int
    status: str
    papers: list[Paper]
    children: list[Section]


def outline_of(tree: dict, papers: dict[str, Paper], growth: dict) -> list[Section]:
    """The top-level sections (the root's children), numbered 1, 1.1, ... in tree order."""

    def section(node: dict, number: str) -> Section:
        children = [section(c, f"{number}.{i}") for i, c in enumerate(node.get("children", []), 1)]
        # A parent cites its own representatives that no subsection cites already.
        below = {p.doc_id for c in children for s in walk([c]) for p in s.papers}
        return Section(
            number,
            int(node["level"]),
            str(node.get("label") or ""),
            str(node.get("description") or ""),
            int(node.get("size", 0)),
            status(growth.get(node["node_id"])),
            [papers[d] for d in node.get("representative", []) if d in papers and d not in below],
            children,
        )

    return [section(c, str(i)) for i, c in enumerate(tree["root"].get("children", []), 1)]


def walk(sections: list[Section]):
    for s in sections:
        yield s
        yield from walk(s.children)


def cited(sections: list[Section]) -> list[Paper]:
    """Every cited paper once (by key: one arXiv paper under two versions' ids is one), in
    order of first citation."""
    seen: dict[str, Paper] = {}
    for s in walk(sections):
        for p in s.papers:
            seen.setdefault(p.key, p)
    return list(seen.values())


# --- the three files ---------------------------------------------------------------------


def facts(s: Section) -> str:
    return ", ".join(x for x in (f"{s.size:,} papers", s.status) if x)


def outline_md(title: str, summary: str, sections: list[Section]) -> str:
    lines = [f"# {markdown(title)}", "", f"_{markdown(summary)}_", ""]
    for s in walk(sections):
        lines += [f"{'#' * (s.level + 1)} {s.number} {markdown(heading(s.label))}", ""]
        if s.description:
            lines += [markdown(s.description), ""]
        lines += [f"_{markdown(facts(s))}_", ""]
        if s.papers:
            lines += ["Papers:", ""]
            lines += [f"- {markdown(p.title, MAX_TITLE_CHARS)} [@{p.key}]" for p in s.papers]
            lines.append("")
    return "\n".join(lines)


def outline_tex(title: str, summary: str, sections: list[Section]) -> str:
    lines = [
        "% A survey's outline written by `taxonomy export RUN_DIR --to outline`; cites papers.bib.",
        "% pdflatex outline && bibtex outline && pdflatex outline && pdflatex outline",
        r"\documentclass{article}",
        r"\usepackage[utf8]{inputenc}",
        r"\usepackage[T1]{fontenc}",
        r"\IfFileExists{lmodern.sty}{\usepackage{lmodern}}{}",
        rf"\title{{{latex(title)}}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
        latex(summary),
        "",
    ]
    for s in walk(sections):
        command = LATEX_HEADINGS[min(s.level, len(LATEX_HEADINGS)) - 1]
        lines += [rf"\{command}{{{latex(heading(s.label))}}}"]
        if s.description:
            lines += [latex(s.description), ""]
        lines += [rf"\emph{{{latex(facts(s))}}}", ""]
        if s.papers:
            lines += ["Papers:", r"\begin{itemize}"]
            lines += [
                rf"\item \emph{{{latex(p.title, MAX_TITLE_CHARS)}}}~\cite{{{p.key}}}"
                for p in s.papers
            ]
            lines += [r"\end{itemize}", ""]
    lines += [r"\bibliographystyle{plain}", r"\bibliography{papers}", r"\end{document}", ""]
    return "\n".join(lines)


def bib_entry(p: Paper) -> str:
    title = latex(p.title, MAX_TITLE_CHARS)
    # key: what BibTeX sorts an entry without authors by
    fields = [("title", "{" + title + "}"), ("key", title)]
    if p.year:
        fields.append(("year", str(p.year)))
    if p.arxiv_id:
        fields += [
            ("eprint", p.arxiv_id),
            ("archiveprefix", "arXiv"),
            ("howpublished", "arXiv:" + p.arxiv_id),
        ]
    if p.doi:
        fields.append(("doi", p.doi))
    if p.url and SAFE_URL.match(p.url):
        fields.append(("url", p.url))
    fields.append(("note", "id " + latex(p.doc_id, MAX_TITLE_CHARS)))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{p.key},\n{body}\n}}\n"


def shape_text(sections: list[Section]) -> str:
    """``4 topics, 9 subtopics`` (and deeper levels by number)."""
    counts: dict[int, int] = {}
    for s in walk(sections):
        counts[s.level] = counts.get(s.level, 0) + 1
    names = {1: "topics", 2: "subtopics"}
    return ", ".join(f"{n} {names.get(k, f'level-{k} topics')}" for k, n in sorted(counts.items()))


def export_outline(
    run_dir: Path, out: Path, *, overwrite: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Write the outline of the run at ``run_dir`` into the folder ``out`` (all or nothing)."""
    saved = load_run(run_dir)
    check_target(out, overwrite, marker=OUTLINE_MARKER)
    c = saved.corpus
    dates = c.dates or [None] * len(c)
    papers = {
        d: Paper(d, c.titles[i], dates[i].year if dates[i] else None, c.urls[i])
        for i, d in enumerate(c.ids)
    }
    sections = outline_of(saved.tree, papers, read_growth(run_dir))
    bib = cited(sections)
    tree = saved.tree
    title = heading(str(tree["root"].get("label") or tree.get("name") or "Outline"))
    summary = f"{tree.get('n_docs', len(c)):,} papers: {shape_text(sections)}; {len(bib)} cited."
    files = {
        "outline.md": outline_md(title, summary, sections),
        "outline.tex": outline_tex(title, summary, sections),
        "papers.bib": "\n".join(bib_entry(p) for p in bib),
    }
    write_run_dir(out, files, overwrite, marker=OUTLINE_MARKER)
    log(f"[export] {sum(1 for _ in walk(sections))} sections, {len(bib)} papers cited -> {out}")
    return out
