"""The package's shape: no import cycles, no process-wide side effects, docs that match the code."""

from __future__ import annotations

import ast
import csv
import os
import re
import warnings
from pathlib import Path

import yaml
from conftest import REPO, sample_config

from taxonomy.config import RunConfig

PACKAGE = REPO / "taxonomy"


def module_name(path: Path) -> str:
    """``taxonomy/naming/llm.py`` -> ``taxonomy.naming.llm`` (a package is its ``__init__``)."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_names(path: Path) -> list[tuple[str, str, int]]:
    """``(module, name, line)`` for each ``from module import name`` anywhere in the file,
    inside functions too, relative imports resolved (``name`` is "" for ``import module``)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # Imports only a type checker runs (``if TYPE_CHECKING:``) load nothing at run time.
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    out = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out += [(module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names]
    return out


def module_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package a module imports anywhere, inside functions too."""
    out = set()
    for module, name, _ in imported_names(path):
        if f"{module}.{name}" in modules:
            out.add(f"{module}.{name}")
        elif module in modules:
            out.add(module)
    return out


def test_no_import_cycles_even_inside_functions():
    files = package_modules()
    graph = {m: module_imports(p, set(files)) for m, p in files.items()}
    # A package's __init__ only re-exports its modules: importing it is importing them.
    graph = {
        m: {d for d in deps if d != m and not m.startswith(d + ".")} for m, deps in graph.items()
    }
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, trail: list[str]) -> bool:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle.extend(trail[trail.index(d) :] + [m, d] if d in trail else [m, d])
                return True
            if d not in state and visit(d, trail + [m]):
                return True
        state[m] = 2
        return False

    assert not any(visit(m, []) for m in sorted(graph) if m not in state), " -> ".join(cycle)


def test_a_run_leaves_the_process_as_it_found_it(tmp_path):
    """No environment variables, csv limits, warning filters or torch threads left changed."""
    import torch

    from taxonomy.pipeline import run

    env, limit, threads = dict(os.environ), csv.field_size_limit(), torch.get_num_threads()
    cfg = sample_config(tmp_path, embedding={"show_progress_bar": False, "threads": 1})
    run(cfg, out_dir=tmp_path / "first", log=lambda m: None)
    # Libraries add warning filters when first imported; a run itself must add none.
    filters = list(warnings.filters)
    run(cfg, out_dir=tmp_path / "second", log=lambda m: None)
    # Set by torch and its OpenMP runtime when they load, not by us.
    libraries = {"KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK", "TORCHINDUCTOR_CACHE_DIR"}
    changed = {k for k in set(env) | set(os.environ) if env.get(k) != os.environ.get(k)}
    assert changed <= libraries, changed
    assert csv.field_size_limit() == limit
    assert warnings.filters == filters
    assert torch.get_num_threads() == threads


def readme_config_block() -> dict:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.DOTALL).group(1)
    return yaml.safe_load(block)


def test_readme_config_block_shows_the_defaults():
    defaults = RunConfig().model_dump(mode="json")
    shown = readme_config_block()
    assert shown, "README has no config block"

    def check(part: dict, ref: dict, where: str) -> None:
        for key, value in part.items():
            assert key in ref, f"README config: {where}{key} is not a config key"
            if isinstance(value, dict):
                check(value, ref[key], f"{where}{key}.")
            else:
                assert value == ref[key], (
                    f"README config: {where}{key} = {value!r}, code: {ref[key]!r}"
                )

    check(shown, defaults, "")
    assert set(shown) == set(defaults) - {"name"} or set(shown) == set(defaults)
