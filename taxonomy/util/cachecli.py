"""``taxonomy cache info|clear [CONFIG]``: what the stage cache holds, and emptying it.

The cache lives in the config's ``cache.dir``. ``clear`` deletes only what the
cache writes (``*.npz`` entries, their ``*.sha256`` checksums and leftover
``.tmp-*`` files) and then the folders left empty, so a ``cache.dir`` pointed
at the wrong folder by mistake cannot take other files with it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from .files import TMP_PREFIX

CACHE_SUFFIXES = (".npz", ".sha256")


@dataclass
class StageInfo:
    """Entries and bytes of one stage folder (``embeddings`` counts every model below it)."""

    stage: str
    entries: int
    bytes: int
    groups: int  # models for ``embeddings``; 1 for the other stages


def _is_cache_file(p: Path) -> bool:
    return p.is_file() and (p.suffix in CACHE_SUFFIXES or p.name.startswith(TMP_PREFIX))


def cache_info(root: Path) -> list[StageInfo]:
    """One :class:`StageInfo` per stage folder under ``root`` (empty when there is no cache)."""
    out: list[StageInfo] = []
    if not root.is_dir():
        return out
    for stage_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        files = [p for p in stage_dir.rglob("*") if _is_cache_file(p)]
        groups = {p.parent for p in files if p.suffix == ".npz"}
        out.append(
            StageInfo(
                stage_dir.name,
                entries=sum(1 for p in files if p.suffix == ".npz" and not p.name.startswith(".")),
                bytes=sum(p.stat().st_size for p in files),
                groups=len(groups),
            )
        )
    return out


def clear_cache(root: Path) -> tuple[int, int]:
    """Delete every cache file under ``root``; returns ``(entries removed, bytes freed)``."""
    entries = freed = 0
    if not root.is_dir():
        return 0, 0
    for p in sorted(root.rglob("*")):
        if _is_cache_file(p):
            entries += p.suffix == ".npz" and not p.name.startswith(".")
            freed += p.stat().st_size
            p.unlink(missing_ok=True)
    # Deepest folders first, so a stage folder is empty by the time it is reached.
    for d in sorted(
        (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        if not any(d.iterdir()):
            d.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
    return entries, freed


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _config_of(path: str | None):
    """The run config of ``path``: a config file, or an experiment (its base settings)."""
    from ..config import load_config, read_config_chain
    from ..sweep import load_experiment

    if path is not None and read_config_chain(path)[1].get("sweep"):
        return load_experiment(path).base
    return load_config(path)


def main_cache(args: argparse.Namespace) -> int:
    """``taxonomy cache info|clear [CONFIG]`` on the config's ``cache.dir``."""
    cfg = _config_of(args.config)
    root = Path(cfg.cache.dir)
    where = f"{root} ({root.resolve()})" if not root.is_absolute() else str(root)
    if args.action == "clear":
        entries, freed = clear_cache(root)
        left = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        print(f"cache {where}: removed {entries} entries ({human_bytes(freed)})")
        if left:
            print(f"left {len(left)} file(s) the cache did not write, e.g. {left[0]}")
        return 0
    stages = cache_info(root)
    state = "" if cfg.cache.enabled else " (cache.enabled is false: runs neither read nor write it)"
    if not stages:
        print(f"cache {where}: empty{state}")
        return 0
    print(f"cache {where}{state}")
    width = max(len(s.stage) for s in stages)
    for s in stages:
        extra = f"  ({s.groups} model{'s' * (s.groups != 1)})" if s.stage == "embeddings" else ""
        print(f"  {s.stage:<{width}}  {s.entries:>6} entries  {human_bytes(s.bytes):>9}{extra}")
    total = sum(s.bytes for s in stages)
    print(
        f"  {'total':<{width}}  {sum(s.entries for s in stages):>6} entries  {human_bytes(total):>9}"
    )
    return 0
