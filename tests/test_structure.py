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


def module_imports(path: Path) -> set[str]:
    """Modules of the package a module imports anywhere, inside functions too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("taxonomy."):
            out.add(node.module.split(".")[1])
    return out


def test_no_import_cycles_even_inside_functions():
    graph = {p.stem: module_imports(p) for p in PACKAGE.glob("*.py")}
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
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
    """No environment variables, csv limits, warning filters, torch or numba threads, or numba
    disk caches of umap's and pynndescent's functions left changed."""
    import numba
    import torch

    from taxonomy.jit import cache_state
    from taxonomy.pipeline import run

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
