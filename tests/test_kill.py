"""Nothing lost: killed runs, interrupted swaps and damaged cache entries.

The main test kills real ``taxonomy run`` processes (SIGKILL, no chance to tidy
up) as their stage lines appear, and checks after each kill that the run
directory is the previous complete run, byte for byte, or a complete new one.
The last run finishes, reuses every cached stage and leaves no staging folder.
"""

from __future__ import annotations

import hashlib
import json
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import sample_config
from test_network import offline_env, taxonomy_cmd

from taxonomy.config import CorpusConfig
from taxonomy.corpus import resolve_corpus_path
from taxonomy.util.cache import ArrayStore
from taxonomy.util.folders import check_target, remove_stale_staging, write_run_dir

# Mid-embedding (nothing cached), mid-clustering (embeddings and UMAP cached), mid-write.
KILL_AT = ["[embed]", "[cluster]", "[write]"]


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def assert_complete(run_dir: Path, expected_files: set[str], n_docs: int) -> None:
    assert set(tree_hashes(run_dir)) == expected_files
    assert json.loads((run_dir / "metrics.json").read_text())["n_docs"] == n_docs
    json.loads((run_dir / "taxonomy.json").read_text())
    yaml.safe_load((run_dir / "taxonomy.yaml").read_text())
    assert len((run_dir / "documents.csv").read_text().splitlines()) == n_docs + 1
    assert (run_dir / "report.html").read_text().rstrip().endswith("</html>")


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def start_and_kill(
    cmd: list[str], env: dict, marker: str, timeout: float = 240
) -> tuple[bool, str]:
    """Start ``cmd``; SIGKILL it once ``marker`` starts a stderr line. Returns (killed, stderr)."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stderr], daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                if proc.poll() is not None:
                    return False, "".join(seen)  # finished (or failed) before the marker
                continue
            seen.append(line)
            if line.startswith(marker):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True, "".join(seen)
        raise AssertionError(f"no {marker} line within {timeout} s:\n{''.join(seen)}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killed_runs_leave_previous_or_complete_run(sample_run, tmp_path):
    result, previous = sample_run
    n_docs = len(result.corpus)
    outputs = tmp_path / "outputs"
    target = outputs / "sample"
    shutil.copytree(previous, target)
    expected_files = set(tree_hashes(target))
    state = tree_hashes(target)

    corpus = tmp_path / "papers.txt"
    shutil.copyfile(resolve_corpus_path(CorpusConfig().path), corpus)
    corpus_hash = hashlib.sha256(corpus.read_bytes()).hexdigest()
    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump(sample_config(tmp_path).model_dump(mode="json")))
    env, netlog = offline_env(tmp_path)
    cmd = taxonomy_cmd("run", str(cfg_path), "--input", str(corpus), "--overwrite")

    for marker in KILL_AT:
        _, err = start_and_kill(cmd, env, marker)
        assert "Traceback" not in err, err
        now = tree_hashes(target)
        if now != state:  # the run got to replace it: then it must be whole
            assert_complete(target, expected_files, n_docs)
            state = now
        # A killed run may leave its staging folder, never a half-replaced target.
        assert all(".staging-" in name for name in leftovers(outputs)), leftovers(outputs)

    cache = tmp_path / "cache"
    stage_files = {
        d: sorted(p.name for p in (cache / d).rglob("*.npz")) for d in ("reduce", "cluster")
    }
    assert all(stage_files.values()), stage_files  # the killed runs finished these stages
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{n_docs} from cache, 0 embedded" in proc.stderr  # papers not embedded again
    assert stage_files == {
        d: sorted(p.name for p in (cache / d).rglob("*.npz")) for d in stage_files
    }
    assert_complete(target, expected_files, n_docs)
    assert leftovers(outputs) == []  # the dead runs' staging folders were removed
    assert hashlib.sha256(corpus.read_bytes()).hexdigest() == corpus_hash  # input never modified
    assert netlog.read_text() == ""  # and none of these runs touched the network


class TestInterruptedSwap:
    """The two renames of --overwrite, interrupted in between (too short a window to hit with a kill)."""

    def make_run(self, path: Path, text: str) -> None:
        write_run_dir(path, {"metrics.json": text, "documents.csv": text}, overwrite=True)

    def test_previous_run_is_put_back(self, tmp_path):
        target = tmp_path / "run"
        self.make_run(target, "old")
        # State after a kill between the renames: old run moved aside, new one staged, no target.
        target.rename(tmp_path / ".run.previous")
        staging = tmp_path / ".run.staging-999999999-abc"  # no such pid (above pid_max)
        staging.mkdir()
        check_target(target, overwrite=True)
        assert (target / "metrics.json").read_text() == "old"
        assert leftovers(tmp_path) == []

    def test_backup_left_after_swap_is_removed(self, tmp_path):
        target = tmp_path / "run"
        self.make_run(target, "new")
        shutil.copytree(target, tmp_path / ".run.previous")
        check_target(target, overwrite=True)
        assert (target / "metrics.json").read_text() == "new" and leftovers(tmp_path) == []

    def test_live_runs_staging_is_kept(self, tmp_path):
        import os

        mine = tmp_path / f".run.staging-{os.getpid()}-xyz"
        dead = tmp_path / ".run.staging-999999999-xyz"
        other = tmp_path / ".notes"
        for p in (mine, dead, other):
            p.mkdir()
        assert remove_stale_staging(tmp_path) == [dead]
        assert mine.exists() and other.exists()


class TestDamagedCache:
    def test_corrupt_entry_is_recomputed(self, tmp_path, caplog):
        store = ArrayStore(tmp_path)
        store.save("reduce", "k1", Z=np.arange(6.0).reshape(3, 2))
        data = tmp_path / "reduce" / "k1.npz"
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
        assert store.load("reduce", "k1") is None
        assert "damaged (checksum mismatch); recomputing" in caplog.text
        assert not data.exists()  # removed, so the next save starts clean
        store.save("reduce", "k1", Z=np.ones(2))
        assert store.load("reduce", "k1")["Z"].tolist() == [1.0, 1.0]

    @pytest.mark.parametrize("damage", ["truncate", "no checksum", "garbage checksum"])
    def test_other_damage(self, tmp_path, damage):
        store = ArrayStore(tmp_path)
        store.save("cluster", "k", ids=np.arange(4))
        data, checksum = tmp_path / "cluster" / "k.npz", tmp_path / "cluster" / "k.sha256"
        if damage == "truncate":
            data.write_bytes(data.read_bytes()[:10])
        elif damage == "no checksum":
            checksum.unlink()
        else:
            checksum.write_bytes(b"\xff\xfe not hex")
        assert store.load("cluster", "k") is None

    def test_half_written_temp_file_is_not_an_entry(self, tmp_path):
        store = ArrayStore(tmp_path)
        store.save("embeddings/m", "real", keys=np.array([b"a"]), vectors=np.ones((1, 2)))
        (tmp_path / "embeddings" / "m" / ".tmp-killed.npz").write_bytes(b"PK\x03\x04 half")
        assert store.entries("embeddings/m") == ["real"]

    def test_run_recomputes_damaged_stages(self, sample_run, tmp_path, caplog):
        """A real fit over a copied cache whose UMAP and HDBSCAN entries are damaged: same taxonomy."""
        from taxonomy.pipeline import fit

        result, _ = sample_run
        cache = tmp_path / "cache"
        shutil.copytree(result.cfg.cache.dir, cache)
        for stage in ("reduce", "cluster"):
            for f in (cache / stage).glob("*.npz"):
                f.write_bytes(f.read_bytes()[:-7] + b"garbage")
        again = fit(sample_config(tmp_path), log=lambda m: None)
        assert caplog.text.count("is damaged") >= 2
        assert np.array_equal(again.topic_ids, result.topic_ids)
        assert np.allclose(again.xy, result.xy)
