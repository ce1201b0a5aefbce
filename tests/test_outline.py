"""`taxonomy export RUN_DIR --to outline DIR`: a survey's skeleton of a real run, its papers in
BibTeX, LaTeX that compiles against them, and corpus text inert in every format."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from test_hostile import HOSTILE, HOSTILE_IDS

from taxonomy.cli import main
from taxonomy.outputs.outline import Paper, latex, markdown
from taxonomy.runs.rundir import PAPERS_FILE
from taxonomy.runs.saved_papers import papers_gz, read_papers

# Text that is markup in at least one of the three formats.
NASTY = HOSTILE + [
    r"Closing } and opening { braces, \textbf{bold} \input{/etc/passwd} \\ end",
    "100% of #tags cost $5 & more: a_b ~ c^d @misc{x, title={y}}",
    "[a link](http://evil.example) ![img](x) <a href='x'>html</a> &amp; `code` *em* _em_",
    "Line one\nline two\r\n# not a heading\n- not a list",
    "1. Not a list item",
    "α-divergence and Ω-limits with ðþŋ, 基于扩散模型 and Ж",
    "x" * 2000,
]


def export(run_dir: Path, out: Path, *extra: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["export", str(run_dir), "--to", "outline", str(out), *extra])
    return code, err.getvalue()


def read(out: Path) -> tuple[str, str, str]:
    return tuple(
        (out / f).read_text(encoding="utf-8") for f in ("outline.md", "outline.tex", "papers.bib")
    )


def bib_entries(bib: str) -> dict[str, str]:
    """``key -> body`` of each entry, split the way BibTeX reads them: every brace counts,
    a backslashed one too, so an entry whose braces do not balance fails here."""
    entries, i = {}, 0
    while (at := bib.find("@", i)) >= 0:
        head = re.match(r"@(\w+)\{([^,\s]+),", bib[at:])
        assert head, bib[at : at + 80]
        depth, j = 1, at + head.end()
        while depth:
            assert j < len(bib), f"unbalanced braces in {head.group(2)}"
            depth += {"{": 1, "}": -1}.get(bib[j], 0)
            j += 1
        assert head.group(2) not in entries
        entries[head.group(2)] = bib[at + head.end() : j - 1]
        i = j
    return entries


def tree_nodes(run_dir: Path) -> list[dict]:
    tree = json.loads((run_dir / "taxonomy.json").read_text(encoding="utf-8"))
    out = []

    def walk(node: dict) -> None:
        out.append(node)
        for c in node.get("children", []):
            walk(c)

    walk(tree["root"])
    return out[1:]


@pytest.fixture(scope="module")
def outline(sample_run, tmp_path_factory):
    _, run_dir = sample_run
    out = tmp_path_factory.mktemp("outline") / "outline"
    code, err = export(run_dir, out)
    assert code == 0, err
    return run_dir, out


def test_the_outline_follows_the_taxonomy_and_cites_its_papers(outline):
    run_dir, out = outline
    md, tex, bib = read(out)
    nodes = tree_nodes(run_dir)
    headings = re.findall(r"^(#{2,}) ([\d.]+) (.*)$", md, re.MULTILINE)
    assert [h[2].lower() for h in headings] == [markdown(n["label"]).lower() for n in nodes]
    assert [len(h[0]) - 1 for h in headings] == [n["level"] for n in nodes]
    for n in nodes:
        assert f"_{n['size']:,} papers" in md
    sections = re.findall(r"^\\(section|subsection|subsubsection|paragraph)\{", tex, re.MULTILINE)
    assert len(sections) == len(nodes)
    # Every citation finds its entry, every entry is cited, and every leaf cites its papers.
    entries = bib_entries(bib)
    md_keys = set(re.findall(r"\[@([^\]]+)\]", md))
    tex_keys = set(re.findall(r"\\cite\{([^}]+)\}", tex))
    assert md_keys == tex_keys == set(entries)
    saved = read_papers(run_dir / PAPERS_FILE, [])
    papers = {d: (t, u) for d, t, u in zip(saved.ids, saved.titles, saved.urls)}
    for n in nodes:
        if "children" not in n:
            for d in n["representative"]:
                assert Paper(d, papers[d][0], None, papers[d][1]).key in md_keys


def test_keys_come_from_the_paper_not_the_run(outline, tmp_path):
    run_dir, out = outline
    assert Paper("2501.01234v2", "On Things", 2025, None).key == "arxiv:2501.01234"
    assert Paper("x", "T", None, "https://arxiv.org/abs/hep-th/9901001v1").key == (
        "arxiv:hep-th-9901001"
    )
    a, b = (
        Paper("doc1", "The Fira Method", 2024, None),
        Paper("doc1", "The Fira Method", 2024, None),
    )
    assert a.key == b.key and a.key.startswith("fira2024:")
    assert Paper("doc2", "The Fira Method", 2024, None).key != a.key
    doi = Paper("d", "T", None, "https://doi.org/10.1000/xyz-1")
    assert doi.doi == "10.1000/xyz-1" and "doi = {10.1000/xyz-1}" in doi_entry(doi)
    # The same run exported again: the same bytes.
    code, err = export(run_dir, tmp_path / "again")
    assert code == 0, err
    assert read(tmp_path / "again") == read(out)


def doi_entry(p: Paper) -> str:
    from taxonomy.outputs.outline import bib_entry

    return bib_entry(p)


def test_the_sample_outline_reads_as_a_survey_skeleton(outline):
    md = read(outline[1])[0]
    lines = md.splitlines()
    assert lines[0].startswith("# ") and "papers" in lines[2]
    # Headings are capitalised; a parent does not repeat what its subsections cite.
    for level, number, label in re.findall(r"^(#{2,}) ([\d.]+) (.*)$", md, re.MULTILINE):
        assert label[:1] == label[:1].upper()
        assert number.count(".") == len(level) - 2
    blocks = re.split(r"^#{2,} ", md, flags=re.MULTILINE)[1:]
    cited = [re.findall(r"\[@([^\]]+)\]", b) for b in blocks]
    assert all(len(c) == len(set(c)) for c in cited)


def test_rising_and_fading_topics_are_marked_in_a_dated_run(dated_run, tmp_path):
    _, run_dir = dated_run
    code, err = export(run_dir, tmp_path / "dated")
    assert code == 0, err
    md, tex, _ = read(tmp_path / "dated")
    with open(run_dir / "topic_growth.csv", newline="", encoding="utf-8") as fh:
        growth = list(csv.DictReader(fh))
    rising = [g for g in growth if float(g["low"]) > 0]
    assert rising, "the dated sample has a rising topic"
    blocks = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^#{2,} ([\d.]+) .*?\n(.*?)(?=^#|\Z)", md, re.MULTILINE | re.DOTALL)
    }
    marked = [b for b in blocks.values() if "rising (share ×" in b]
    assert len(marked) == len(rising)
    assert md.count("fading (share") == sum(float(g["high"]) < 0 for g in growth)
    assert tex.count("rising (share \\ensuremath{\\times}") == len(rising)


@pytest.fixture(scope="module")
def hostile_outline(sample_run, tmp_path_factory):
    """A copy of the sample run whose cited papers, names and descriptions are hostile text."""
    _, run_dir = sample_run
    tmp = tmp_path_factory.mktemp("hostile_outline")
    copy = tmp / "run"
    shutil.copytree(run_dir, copy)
    nodes = tree_nodes(copy)
    cited = [d for n in nodes for d in n["representative"]]
    cited = list(dict.fromkeys(cited))
    new_id = {d: HOSTILE_IDS[i] for i, d in enumerate(cited[: len(HOSTILE_IDS)])}
    titles = {new_id.get(d, d): NASTY[i % len(NASTY)] for i, d in enumerate(cited)}
    papers = read_papers(copy / PAPERS_FILE, [])
    ids = [new_id.get(d, d) for d in papers.ids]
    urls = ["https://example.org/a}b%c", *papers.urls[1:]]  # not written to papers.bib as it is
    hostile = replace(
        papers, ids=ids, titles=[titles.get(d, t) for d, t in zip(ids, papers.titles)], urls=urls
    )
    (copy / PAPERS_FILE).write_bytes(papers_gz(hostile))
    tree = json.loads((copy / "taxonomy.json").read_text(encoding="utf-8"))

    def rename(node: dict, i: list[int]) -> None:
        node["representative"] = [new_id.get(d, d) for d in node["representative"]]
        node["label"] = NASTY[i[0] % len(NASTY)]
        node["description"] = NASTY[(i[0] + 3) % len(NASTY)]
        i[0] += 1
        for c in node.get("children", []):
            rename(c, i)

    rename(tree["root"], [0])
    (copy / "taxonomy.json").write_text(json.dumps(tree), encoding="utf-8")
    code, err = export(copy, tmp / "outline")
    assert code == 0, err
    return tmp / "outline", titles


def test_hostile_text_is_inert_in_markdown(hostile_outline):
    out, titles = hostile_outline
    md = read(out)[0]
    html = MarkdownIt("commonmark").enable("table").render(md)
    tags = set(re.findall(r"<(\w+)", html))
    assert tags <= {"h1", "h2", "h3", "h4", "h5", "p", "em", "ul", "li"}, tags
    # Every heading is one of ours; no line of corpus text made one, or a list item.
    assert len(re.findall(r"^#", md, re.MULTILINE)) == 1 + len(re.findall(r"<h[2-5]>", html))
    assert md.count("\n- ") == html.count("<li>")
    assert "\\# not a heading" in md and "\n# not a heading" not in md
    for t in titles.values():
        assert markdown(t, 300) in md


def test_hostile_text_is_inert_in_latex_and_bibtex(hostile_outline):
    out, titles = hostile_outline
    _, tex, bib = read(out)
    entries = bib_entries(bib)  # every entry's braces balance as BibTeX counts them
    assert len(entries) == len(titles)
    assert "example.org" not in bib
    for d in HOSTILE_IDS:  # ids are text in papers.bib too
        assert f"note = {{id {latex(d)}}}" in bib
    allowed = {
        "textbackslash",
        "textbraceleft",
        "textbraceright",
        "textasciitilde",
        "textasciicircum",
        "textless",
        "textgreater",
        "textbar",
        "textquotedbl",
        "ensuremath",
        "alpha",
        "Omega",
        "times",
        "ldots",
        "$",
        "&",
        "#",
        "%",
        "_",
    }
    for t in set(titles.values()):
        text = latex(t, 300)
        commands = set(re.findall(r"\\([A-Za-z]+|.)", text))
        assert commands <= allowed, commands
        stripped = re.sub(r"\\([A-Za-z]+|.)", "", text)
        assert not re.search(r"[\\%#$&^_~]", stripped), stripped
        assert stripped.count("{") == stripped.count("}")  # only the commands' own {}
        assert text in tex
    compile_latex(out)


def compile_latex(out: Path) -> None:
    """pdflatex + bibtex, when installed: no error, and no citation left undefined."""
    if not (shutil.which("pdflatex") and shutil.which("bibtex")):
        pytest.skip("pdflatex/bibtex not installed (apt-get install texlive-latex-base)")
    work = out.parent / (out.name + "-tex")
    shutil.copytree(out, work)
    steps = [
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "outline"],
        ["bibtex", "outline"],
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "outline"],
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "outline"],
    ]
    for cmd in steps:
        done = subprocess.run(
            cmd, check=False, cwd=work, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (cmd, done.stdout[-3000:])
    log = (work / "outline.log").read_text(encoding="utf-8", errors="replace")
    assert "undefined" not in log.lower(), re.findall(r".*undefined.*", log)
    n_cited = len(set(re.findall(r"\\cite\{([^}]+)\}", (work / "outline.tex").read_text())))
    assert (work / "outline.bbl").read_text(errors="replace").count("\\bibitem") == n_cited
    assert (work / "outline.pdf").stat().st_size > 0


def test_the_sample_outline_compiles_with_latex(outline):
    compile_latex(outline[1])


def test_errors_are_one_line_and_leave_nothing(sample_run, tmp_path):
    _, run_dir = sample_run
    missing = tmp_path / "no-such-run"
    code, err = export(missing, tmp_path / "o1")
    assert code == 2 and err.count("\n") == 1 and "run directory not found" in err
    assert not (tmp_path / "o1").exists()
    empty = tmp_path / "empty-run"
    empty.mkdir()
    code, err = export(empty, tmp_path / "o2")
    assert code == 2 and err.count("\n") == 1 and "config.yaml" in err
    assert not (tmp_path / "o2").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    code, err = export(run_dir, taken)
    assert code == 2 and err.count("\n") == 1 and "--overwrite" in err
    code, err = export(run_dir, taken, "--overwrite")  # not an outline folder: never replaced
    assert code == 2 and err.count("\n") == 1 and "refusing" in err
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]
    # An outline is replaced with --overwrite only.
    code, _ = export(run_dir, tmp_path / "o3")
    assert code == 0
    code, err = export(run_dir, tmp_path / "o3")
    assert code == 2 and "--overwrite" in err
    assert export(run_dir, tmp_path / "o3", "--overwrite")[0] == 0
