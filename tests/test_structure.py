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


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# Private names that are still imported, each with why; an entry that no longer applies fails
# too, so the list only shrinks.
PRIVATE_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}


def private_imports() -> set[tuple[str, str]]:
    """``(module, what)`` for each private name a package module imports from elsewhere: a
    ``_name`` from another module of the package or from a library, or a library's
    ``_module``. Type-only imports count too."""
    found = set()
    for me, path in package_modules().items():
        for module, name, _ in imported_names(path):
            if module == "__future__":
                continue
            where = f"{module}.{name}" if name else module
            if any(is_private(part) for part in module.split(".")):
                found.add((me, module))
            elif name and is_private(name) and module != me:
                found.add((me, where))
    return found


def test_no_private_names_imported_across_modules_or_from_libraries():
    found = private_imports()
    unexpected = sorted(found - set(PRIVATE_IMPORTS_ALLOWED))
    assert not unexpected, (
        "private names imported (make them public or write our own): "
        + ", ".join(f"{me} imports {what}" for me, what in unexpected)
    )
    stale = sorted(set(PRIVATE_IMPORTS_ALLOWED) - found)
    assert not stale, f"no longer imported, remove from PRIVATE_IMPORTS_ALLOWED: {stale}"


MAX_FUNCTION_LINES = 80
# Functions allowed to be longer, each with why; one that is short enough now (or gone) fails,
# so the list only shrinks.
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}


def function_lengths() -> dict[str, int]:
    """Lines (decorators and docstring included) of every function and method of the package,
    by qualified name (``module.Class.method``; a nested function under its outer one)."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}.{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    out[name] = child.end_lineno - first + 1
                visit(child, name)

    for me, path in package_modules().items():
        visit(ast.parse(path.read_text(encoding="utf-8")), me)
    return out


def test_no_function_is_over_80_lines_unless_listed():
    lengths = function_lengths()
    long = {name for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    unexpected = sorted(long - set(LONG_FUNCTIONS_ALLOWED))
    assert not unexpected, f"over {MAX_FUNCTION_LINES} lines (split them): " + ", ".join(
        f"{name} ({lengths[name]})" for name in unexpected
    )
    stale = sorted(set(LONG_FUNCTIONS_ALLOWED) - long)
    assert not stale, f"no longer over {MAX_FUNCTION_LINES} lines, remove from the list: {stale}"


# Process-wide caches, each with why it is safe to keep for the life of the process: values
# that cannot change while it runs. A model, a corpus or a run's settings have no place here.
PROCESS_CACHES_ALLOWED = {
    "taxonomy.reduce.enable_numba_cache": "switches numba's cache on once (being scoped, issue 22)",
    "taxonomy.embedding.encoder._fast_tokenizer": "a tokenizer file's tokenizer (read-only)",
    "taxonomy.embedding.auto.cpu_info": "the CPU does not change while the process runs",
    "taxonomy.naming.llm._example_key": "a digest of a fixed text",
    "taxonomy.naming.keys._stemmer": "a stemmer (stateless)",
    "taxonomy.pipeline.library_versions": "installed versions do not change while it runs",
}


def test_process_wide_caches_are_listed():
    """A new ``functools.cache``/``lru_cache`` must say why it may outlive a run."""
    cached = set()
    for me, path in package_modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in node.decorator_list:
                    text = ast.unparse(d.func if isinstance(d, ast.Call) else d)
                    if text.rsplit(".", 1)[-1] in ("cache", "lru_cache"):
                        cached.add(f"{me}.{node.name}")
    unexpected = sorted(cached - set(PROCESS_CACHES_ALLOWED))
    assert not unexpected, f"process-wide caches not listed: {unexpected}"


def test_every_command_finds_its_module():
    """``taxonomy <command>`` imports its module only when run: each named target exists."""
    import importlib

    tree = ast.parse((PACKAGE / "cli.py").read_text(encoding="utf-8"))
    targets = [
        (node.args[0].value, node.args[1].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_lazy"
    ]
    assert targets
    for module, func in targets:
        assert callable(getattr(importlib.import_module(f"taxonomy.{module}"), func, None)), (
            f"cli: taxonomy.{module}.{func} not found"
        )


def test_a_run_leaves_the_process_as_it_found_it(tmp_path):
    """No environment variables, csv limits, warning filters, torch or numba threads, or numba
    disk caches of umap's and pynndescent's functions left changed."""
    import numba
    import torch

    from taxonomy.pipeline import run
    from taxonomy.util.jit import cache_state

    env, limit, threads = dict(os.environ), csv.field_size_limit(), torch.get_num_threads()
    numba_threads, jit_caches = numba.get_num_threads(), cache_state()
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
    assert numba.get_num_threads() == numba_threads
    assert cache_state() == jit_caches


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
