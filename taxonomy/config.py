"""One validated config for a run: a small model per stage, loaded from YAML.

Parameter names follow the libraries that use them (umap-learn, hdbscan,
sentence-transformers) so what users know there carries over. ``"auto"``
values are resolved from the corpus size by :func:`resolve_auto` and the
resolved numbers are written to the run's ``config.yaml``.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

Auto = Literal["auto"]
RUN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
SAMPLE_CORPUS = "builtin:sample"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CorpusConfig(_Section):
    path: str = SAMPLE_CORPUS
    format: Literal["auto", "papers_page", "jsonl", "csv", "parquet", "arxiv"] = "auto"
    id_field: str = "id"
    title_field: str = "title"
    abstract_field: str = "abstract"
    # Tried in order when ``abstract_field`` is absent from a record.
    abstract_fallbacks: list[str] = ["summary", "text"]
    url_field: str | None = "url"
    gold_fields: list[str] = []
    encoding: str = "utf-8"
    max_docs: int | None = Field(default=None, ge=1)
    # When each paper appeared (topics over time, timeline.py): a field name, "auto" (the first of
    # date, published, listing_date, update_date a record has) or null for none.
    date_field: str | None = "auto"
    # A paper with no date takes the year-month of its arXiv id (2503.01234 -> 2025-03).
    date_from_id: bool = False

    @field_validator("path")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a file path or 'builtin:sample'")
        return v


class EmbeddingConfig(_Section):
    # The bundled model; any sentence-transformers name or local path works too.
    model: str = "all-MiniLM-L6-v2"
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    batch_size: int = Field(default=32, ge=1, le=4096)
    max_seq_length: int = Field(default=256, ge=8, le=8192)
    normalize_embeddings: bool = True
    device: str = "cpu"
    show_progress_bar: bool = True
    # CPU threads for the model (torch and onnxruntime); null = the library default (all cores).
    threads: int | None = Field(default=None, ge=1, le=1024)


class UmapConfig(_Section):
    n_neighbors: Union[int, Auto] = "auto"
    n_components: int = Field(default=5, ge=2, le=100)
    min_dist: float = Field(default=0.0, ge=0.0, le=1.0)
    metric: str = "cosine"
    # Layout of the 2-D map (a second UMAP, same neighbours, spread out for reading).
    map_min_dist: float = Field(default=0.1, ge=0.0, le=1.0)

    @field_validator("n_neighbors")
    @classmethod
    def _nn(cls, v: Any) -> Any:
        if v != "auto" and v < 2:
            raise ValueError("an integer >= 2 or 'auto'")
        return v


class HdbscanConfig(_Section):
    min_cluster_size: Union[int, Auto] = "auto"
    min_samples: Union[int, Auto, None] = "auto"
    cluster_selection_method: Literal["eom", "leaf"] = "eom"
    cluster_selection_epsilon: float = Field(default=0.0, ge=0.0)
    metric: str = "euclidean"
    # Outliers whose embedding is this close (cosine) to a topic centroid join it;
    # their confidence is kept in ``probability``. 1.0 keeps every outlier.
    outlier_threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    # A cluster holding more than this share of the papers is clustered again on its own.
    max_cluster_share: float = Field(default=0.25, gt=0.0, le=1.0)

    @field_validator("min_cluster_size")
    @classmethod
    def _mcs(cls, v: Any) -> Any:
        if v != "auto" and v < 2:
            raise ValueError("an integer >= 2 or 'auto'")
        return v

    @field_validator("min_samples")
    @classmethod
    def _ms(cls, v: Any) -> Any:
        if v not in ("auto", None) and v < 1:
            raise ValueError("an integer >= 1, 'auto' or null")
        return v


class LabelsConfig(_Section):
    n_keywords: int = Field(default=10, ge=1, le=50)
    ngram_range: tuple[int, int] = (1, 3)
    max_words: int = Field(default=4, ge=1, le=6)
    n_candidates: int = Field(default=30, ge=1, le=200)
    # MMR trade-off between relevance and variety for keywords (0 = relevance only).
    diversity: float = Field(default=0.3, ge=0.0, le=1.0)
    n_representative: int = Field(default=3, ge=1, le=20)
    extra_stop_words: list[str] = []

    @field_validator("ngram_range")
    @classmethod
    def _ngr(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= 6:
            raise ValueError("[low, high] with 1 <= low <= high <= 6")
        return v


class TaxonomyConfig(_Section):
    # Levels below the root, leaves included.
    levels: Union[int, Auto] = "auto"
    # Number of top-level nodes.
    top_level: Union[int, Auto] = "auto"
    # Periods of topics over time; auto picks from the dates' span (timeline.choose_time_bin).
    time_bin: Literal["auto", "week", "month", "quarter", "year"] = "auto"
    # Periods at the end that count as "recent" for rising/fading; auto = a quarter of them.
    recent_periods: Union[int, Auto] = "auto"

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: Any) -> Any:
        if v != "auto" and not 2 <= v <= 5:
            raise ValueError("an integer in [2, 5] or 'auto'")
        return v

    @field_validator("top_level")
    @classmethod
    def _top(cls, v: Any) -> Any:
        if v != "auto" and v < 2:
            raise ValueError("an integer >= 2 or 'auto'")
        return v

    @field_validator("recent_periods")
    @classmethod
    def _recent(cls, v: Any) -> Any:
        if v != "auto" and v < 1:
            raise ValueError("an integer >= 1 or 'auto'")
        return v


class ReportConfig(_Section):
    title: str | None = None
    max_abstract_chars: int = Field(default=2000, ge=0)


class CacheConfig(_Section):
    enabled: bool = True
    dir: str = ".cache/taxonomy"


class EngineConfig(_Section):
    """Past one machine: fit on a sample, embed and assign the rest in batches (docs/scaling.md)."""

    # local = batches in this process; dask = on a Dask cluster (needs pip install '.[distributed]').
    kind: Literal["local", "dask"] = "local"
    # Dask scheduler, e.g. tcp://10.0.0.5:8786; null starts a local cluster on this machine.
    address: str | None = None
    n_workers: int = Field(default=2, ge=1, le=4096)
    threads_per_worker: int = Field(default=1, ge=1, le=1024)
    batch_size: int = Field(default=2000, ge=1)
    # Fit the taxonomy on this many papers (seeded random sample); null = fit on all.
    fit_sample: int | None = Field(default=None, ge=10)


class RunConfig(_Section):
    name: str = Field(default="sample", pattern=RUN_NAME_PATTERN)
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    output_dir: str = "outputs"
    corpus: CorpusConfig = CorpusConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    umap: UmapConfig = UmapConfig()
    hdbscan: HdbscanConfig = HdbscanConfig()
    labels: LabelsConfig = LabelsConfig()
    taxonomy: TaxonomyConfig = TaxonomyConfig()
    report: ReportConfig = ReportConfig()
    cache: CacheConfig = CacheConfig()
    engine: EngineConfig = EngineConfig()


def _fields_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Names of the keys allowed at the parent of ``loc`` (for suggestions)."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = getattr(field, "annotation", None) if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def _field_path(loc: tuple) -> tuple:
    """The part of an error location that names config keys (drops union-branch tags like 'int')."""
    model: type[BaseModel] | None = RunConfig
    out = []
    for part in loc:
        if model is None:
            break
        out.append(part)
        field = model.model_fields.get(str(part))
        if field is None:  # an unknown key: the path ends here
            break
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return tuple(out)


def _expected(msg: str) -> str:
    msg = msg.removeprefix("Value error, ").removeprefix("Input should be ")
    msg = msg.split(", unable to parse")[0]
    return f"a value {msg}" if msg.startswith(("greater", "less")) else msg


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per bad key: ``source: key.path: expected …, got …``."""
    by_path: dict[tuple, list[dict]] = {}
    for e in err.errors():
        by_path.setdefault(_field_path(tuple(e["loc"])), []).append(e)
    lines = []
    for loc, errs in by_path.items():
        path = ".".join(_key_text(p) for p in loc) or "<root>"
        if errs[0]["type"] == "extra_forbidden":
            allowed = _fields_at(RunConfig, loc)
            hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            tip = (
                f"; did you mean '{hint[0]}'?"
                if hint
                else f"; expected one of: {', '.join(allowed)}"
            )
            lines.append(f"{source}: {path}: unknown key{tip}")
            continue
        expected = " or ".join(dict.fromkeys(_expected(e["msg"]) for e in errs))
        lines.append(f"{source}: {path}: expected {expected} (got {_short(errs[0].get('input'))})")
    return "\n".join(lines)


def _key_text(part: object) -> str:
    # A key from a hostile file may hold newlines or be huge: quote anything unusual.
    text = str(part)
    return text if text.isidentifier() or text.isdigit() else _short(text)


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def build_config(data: dict, source: str = "<config>") -> RunConfig:
    """Validate a nested mapping into a :class:`RunConfig` or raise ``ConfigError``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping of sections at the top level, got {type(data).__name__}"
        )
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def read_yaml(path: Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, ValueError) as err:  # UnicodeDecodeError, a NUL in the path
        raise ConfigError(f"{path}: cannot read config: {err}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}:" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}:{where} invalid YAML: {problem}") from None
    except (ValueError, RecursionError) as err:  # a 5000-digit integer, nesting too deep
        raise ConfigError(f"{path}: invalid YAML: {type(err).__name__}: {str(err)[:120]}") from None


def load_config(path: str | Path | None) -> RunConfig:
    """Load a run config; ``None`` means ``config/default.yaml`` or the built-in defaults."""
    if path is None:
        default = Path("config/default.yaml")
        if not default.exists():
            return RunConfig()
        path = default
    return build_config(read_yaml(Path(path)), str(path))


def set_dotted(data: dict, dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a nested dict, creating sections as needed."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: '{part}' is not a section")
    node[parts[-1]] = value


# --- "auto" rules ---------------------------------------------------------------
# Documented in the README ("How parameters scale"). They aim for 5-15 leaf topics
# on a few hundred papers and some dozens on tens of thousands.


def auto_n_neighbors(n_docs: int) -> int:
    return int(min(15, max(4, n_docs // 6)))


def auto_min_cluster_size(n_docs: int) -> int:
    return int(max(3, round(0.5 * math.sqrt(n_docs))))


def auto_min_samples(min_cluster_size: int) -> int:
    return int(max(1, min_cluster_size // 3))


def resolve_auto(cfg: RunConfig, n_docs: int) -> RunConfig:
    """Return a copy with every ``"auto"`` replaced by its value for ``n_docs``."""
    cfg = cfg.model_copy(deep=True)
    if cfg.umap.n_neighbors == "auto":
        cfg.umap.n_neighbors = auto_n_neighbors(n_docs)
    # UMAP cannot have more neighbours than points.
    cfg.umap.n_neighbors = int(min(cfg.umap.n_neighbors, max(2, n_docs - 1)))
    if cfg.hdbscan.min_cluster_size == "auto":
        cfg.hdbscan.min_cluster_size = auto_min_cluster_size(n_docs)
    if cfg.hdbscan.min_samples == "auto":
        cfg.hdbscan.min_samples = auto_min_samples(cfg.hdbscan.min_cluster_size)
    return cfg


def dump_config(cfg: RunConfig) -> str:
    from .outputs import yaml_text  # round-trips any string exactly (titles, paths)

    return yaml_text(cfg.model_dump(mode="json"))
