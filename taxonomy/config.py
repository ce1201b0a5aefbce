"""One validated config for a run: a small model per stage, loaded from YAML.

Parameter names follow the libraries that use them (umap-learn, hdbscan,
sentence-transformers) so what users know there carries over. ``"auto"``
values are resolved from the corpus size by :func:`resolve_auto` and the
resolved numbers are written to the run's ``config.yaml``.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import ConfigError
from .util.formats import yaml_text  # round-trips any string exactly (titles, paths)

Auto = Literal["auto"]
# Metrics that work on dense embeddings with no extra parameters (umap-learn's and
# hdbscan's names); checked at load, so a typo fails before anything is embedded.
UmapMetric = Literal[
    "cosine",
    "euclidean",
    "l2",
    "manhattan",
    "l1",
    "chebyshev",
    "correlation",
    "canberra",
    "braycurtis",
]
HdbscanMetric = Literal[
    "euclidean",
    "l2",
    "manhattan",
    "l1",
    "cityblock",
    "chebyshev",
    "canberra",
    "braycurtis",
]
RUN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
SAMPLE_CORPUS = "builtin:sample"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _auto_or_at_least(low: int):
    """A field validator: ``auto``, or an integer of at least ``low``."""

    def check(v: Any) -> Any:
        if v != "auto" and v < low:
            raise ValueError(f"an integer >= {low} or 'auto'")
        return v

    return check


def not_blank(value: str, expected: str) -> str:
    """``value`` if it holds more than white space; else the error saying what was expected."""
    if not value.strip():
        raise ValueError(expected)
    return value


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
    # When each paper appeared (topics over time, runs/timeline.py): a field name, "auto" (the first of
    # date, published, listing_date, update_date a record has) or null for none.
    date_field: str | None = "auto"
    # A paper with no date takes the year-month of its arXiv id (2503.01234 -> 2025-03).
    date_from_id: bool = False

    @field_validator("path")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        return not_blank(v, "a file path or 'builtin:sample'")


class EmbeddingConfig(_Section):
    # The bundled model; any sentence-transformers name or local path works too.
    model: str = "all-MiniLM-L6-v2"
    # auto: the fastest backend that meets the fidelity bar on this machine, measured once
    # per machine and model and remembered (taxonomy/embedding/auto.py).
    backend: Literal[
        "auto", "torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "openvino-bf16"
    ] = "auto"
    batch_size: int = Field(default=32, ge=1, le=4096)
    max_seq_length: int = Field(default=256, ge=8, le=8192)
    normalize_embeddings: bool = True
    device: str = "cpu"
    show_progress_bar: bool = True
    # CPU threads for the model (torch and onnxruntime); null = the library default (all cores).
    threads: int | None = Field(default=None, ge=1, le=1024)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"cpu|mps|(cuda|xpu|npu|hpu)(:\d{1,2})?", v):
            raise ValueError("a torch device such as 'cpu', 'cuda', 'cuda:1' or 'mps'")
        return v


class UmapConfig(_Section):
    n_neighbors: int | Auto = "auto"
    n_components: int = Field(default=5, ge=2, le=100)
    min_dist: float = Field(default=0.0, ge=0.0, le=1.0)
    metric: UmapMetric = "cosine"
    # Layout of the 2-D map (a second UMAP, same neighbours, spread out for reading).
    map_min_dist: float = Field(default=0.1, ge=0.0, le=1.0)

    _nn = field_validator("n_neighbors")(_auto_or_at_least(2))


class HdbscanConfig(_Section):
    min_cluster_size: int | Auto = "auto"
    min_samples: int | Auto | None = "auto"
    cluster_selection_method: Literal["eom", "leaf"] = "eom"
    cluster_selection_epsilon: float = Field(default=0.0, ge=0.0)
    metric: HdbscanMetric = "euclidean"
    # Outliers whose embedding is this close (cosine) to a topic centroid join it;
    # their confidence is kept in ``probability``. 1.0 keeps every outlier.
    outlier_threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    # A cluster holding more than this share of the papers is clustered again on its own.
    max_cluster_share: float = Field(default=0.25, gt=0.0, le=1.0)

    _mcs = field_validator("min_cluster_size")(_auto_or_at_least(2))

    @field_validator("min_samples")
    @classmethod
    def _ms(cls, v: Any) -> Any:
        if v not in ("auto", None) and v < 1:
            raise ValueError("an integer >= 1, 'auto' or null")
        return v


class LLMConfig(_Section):
    """An OpenAI-compatible chat endpoint for ``labels.method: llm`` (taxonomy/naming/llm.py, README)."""

    # e.g. http://localhost:11434/v1 (Ollama); or the name of an environment variable holding it.
    base_url: str | None = None
    base_url_env: str | None = None
    model: str | None = Field(default=None, min_length=1)  # as the server names it
    # The NAME of the environment variable holding the API key; the key is never in a config.
    # Checked when the run starts, never echoed here: a key pasted by mistake must not be logged.
    api_key_env: str | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    # Reasoning models think first: give them room (their <think> block is dropped).
    max_tokens: int = Field(default=256, ge=8, le=32768)
    timeout: float = Field(default=60.0, gt=0.0, le=3600.0)  # seconds per request
    max_retries: int = Field(default=3, ge=0, le=20)  # on 429, 5xx, timeouts, dropped connections
    concurrency: int = Field(default=4, ge=1, le=64)  # requests in flight at once
    on_error: Literal["fallback", "fail"] = "fallback"
    # A name whose embedding has a lower cosine to its papers' centroid is refused. Measured
    # (benchmarks/name_similarity.py): at 0.15 no sample or PwC task name and 1 of 16 PwC
    # area names is refused, and 74% of names from unrelated fields (median cosine 0.05).
    min_similarity: float = Field(default=0.15, ge=-1.0, le=1.0)
    n_titles: int = Field(default=3, ge=0, le=10)  # paper titles shown per node

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return v

    @field_validator("base_url_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError("the name of an environment variable (letters, digits and _)")
        return v


class LabelsConfig(_Section):
    # extractive: phrases of the papers (offline); llm: a language model names the nodes.
    method: Literal["extractive", "llm"] = "extractive"
    n_keywords: int = Field(default=10, ge=1, le=50)
    ngram_range: tuple[int, int] = (1, 3)
    max_words: int = Field(default=4, ge=1, le=6)
    n_candidates: int = Field(default=30, ge=1, le=200)
    # MMR trade-off between relevance and variety for keywords (0 = relevance only).
    diversity: float = Field(default=0.3, ge=0.0, le=1.0)
    n_representative: int = Field(default=3, ge=1, le=20)
    extra_stop_words: list[str] = []
    # The naming objective (docs/labels-and-shape.md), chosen on the tuning halves with
    # benchmarks/name_routes.py. Weight of "an established term beats a rare one":
    prior_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    # A bare word says less than a phrase: it needs this much more fit to win.
    single_word_penalty: float = Field(default=0.2, ge=0.0, le=1.0)
    # A node whose best name fewer than this share of its papers relate to is "other — …".
    min_fit: float = Field(default=0.25, ge=0.0, le=1.0)
    # A parent's name is used this evenly across its children (1 = by each as much as by all).
    min_balance: float = Field(default=0.5, ge=0.0, le=1.0)
    # A candidate marks its node within its parent and the corpus at least this much (lift).
    min_lift: float = Field(default=0.25, ge=0.0, le=1.0)
    # A phrase yields to a longer one that this share of its papers use ("scaling laws").
    specific_share: float = Field(default=0.5, gt=0.0, le=1.0)
    # Field and topic names that may name a node (naming/vocabulary.py): none, the bundled
    # OpenAlex taxonomy, or a CSV/TSV/JSONL/YAML file of terms (name, parent, keywords,
    # description). Off by default: on the names benchmark OpenAlex terms did not yet beat the
    # extractive names (benchmarks/results/names.md); a venue's own tracks are the use case.
    vocabulary: str = "none"

    @field_validator("vocabulary")
    @classmethod
    def _vocabulary(cls, v: str) -> str:
        return not_blank(v, "'openalex', 'none' or a vocabulary file path")

    @field_validator("ngram_range")
    @classmethod
    def _ngr(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 1 <= v[0] <= v[1] <= 6:
            raise ValueError("[low, high] with 1 <= low <= high <= 6")
        return v

    llm: LLMConfig = LLMConfig()


class SeedTopic(_Section):
    """A topic the user asks for (``taxonomy.seed_topics``): a name, a one-line description,
    and optionally seed topics under it."""

    name: str = Field(min_length=1, max_length=80)
    description: str | None = Field(default=None, max_length=500)
    children: list[SeedTopic] = []

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, v: Any) -> Any:
        return {"name": v} if isinstance(v, str) else v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("a non-empty name")
        return v

    @field_validator("children")
    @classmethod
    def _depth(cls, v: list[SeedTopic]) -> list[SeedTopic]:
        if any(c.children for c in v):
            raise ValueError("at most two levels of seed topics")
        return v

    @property
    def text(self) -> str:
        """What is embedded: the name, and the description when there is one."""
        return f"{self.name}: {self.description}" if self.description else self.name


def _seed_list(v: Any) -> Any:
    """``seed_topics`` as a list: a mapping ``name: description | [children] | {children}``
    is read as one seed per key."""
    if not isinstance(v, dict):
        return v
    out = []
    for name, body in v.items():
        if body is None or isinstance(body, str):
            out.append({"name": name, "description": body})
        elif isinstance(body, (list, dict)):
            out.append({"name": name, "children": _seed_list(body)})
        else:
            out.append({"name": name, "description": body})  # let validation name the type
    return out


class TaxonomyConfig(_Section):
    # Levels below the root, leaves included.
    levels: int | Auto = "auto"
    # Number of top-level nodes.
    top_level: int | Auto = "auto"
    # How leaf topics get their parents (taxonomy/shape.py): EVoC's cluster layers (their
    # coarsest layer of 4-12 nodes is the top level), Ward on the centroids, or HDBSCAN's
    # condensed tree. Chosen on the tuning halves (benchmarks/results/quality.md).
    parents: Literal["evoc", "ward", "density"] = "evoc"
    # Periods of topics over time; auto picks from the dates' span (timeline.choose_time_bin).
    time_bin: Literal["auto", "week", "month", "quarter", "year"] = "auto"
    # Periods at the end that count as "recent" for rising/fading; auto = a quarter of them.
    recent_periods: int | Auto = "auto"
    # Topics the user asks for (a guided taxonomy): papers close to one form its node.
    seed_topics: list[SeedTopic] = []
    # A paper joins its most similar seed topic when the cosine reaches this (BERTopic's name
    # for the same threshold of its zero-shot topics).
    zeroshot_min_similarity: float = Field(default=0.35, ge=-1.0, le=1.0)

    @field_validator("seed_topics", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> Any:
        return _seed_list(v)

    @field_validator("seed_topics")
    @classmethod
    def _unique_seeds(cls, v: list[SeedTopic]) -> list[SeedTopic]:
        names = [s.name.lower() for s in v] + [c.name.lower() for s in v for c in s.children]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"seed topic names must differ; repeated: {', '.join(dup)}")
        return v

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: Any) -> Any:
        if v != "auto" and not 2 <= v <= 5:
            raise ValueError("an integer in [2, 5] or 'auto'")
        return v

    _top = field_validator("top_level")(_auto_or_at_least(2))

    _recent = field_validator("recent_periods")(_auto_or_at_least(1))


class ReportConfig(_Section):
    title: str | None = None
    max_abstract_chars: int = Field(default=2000, ge=0)
    # Up to this many papers the abstracts travel inside report.html (one file that opens
    # offline); above it they go to report_files/ beside it, loaded when needed (docs/report.md).
    inline_abstracts_max: int = Field(default=20000, ge=0)
    # A zoomed-out map draws a seeded sample of about this many of the papers in view; zooming
    # in draws more, every paper once they are fewer.
    map_points: int = Field(default=40000, ge=1)


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
    # Before any work, refuse a fit that would not fit in this machine's memory (util/memory.py).
    check_memory: bool = True


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


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """``(model, is_list)`` for a field typed as a model or a list of models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list and args:
        inner, _ = _model_of(args[0])
        return inner, inner is not None
    return None, False


def _walk(loc: tuple) -> tuple[tuple, type[BaseModel] | None]:
    """The part of an error location that names config keys (list positions kept, union-branch
    tags like 'int' dropped), and the model whose keys are allowed where it ends."""
    model: type[BaseModel] | None = RunConfig
    out: list = []
    expect_index = False
    for part in loc:
        if model is None:
            break
        if expect_index:
            if not isinstance(part, int):
                break
            out.append(part)
            expect_index = False
            continue
        field = model.model_fields.get(str(part))
        out.append(part)
        if field is None:  # an unknown key: the path ends here
            break
        model, expect_index = _model_of(field.annotation)
    return tuple(out), model


def _fields_at(loc: tuple) -> list[str]:
    """Names of the keys allowed at the parent of ``loc`` (for suggestions)."""
    _, model = _walk(loc[:-1])
    return list(model.model_fields) if model else []


def _field_path(loc: tuple) -> tuple:
    return _walk(loc)[0]


def _expected(msg: str) -> str:
    msg = msg.removeprefix("Value error, ").removeprefix("Input should be ")
    msg = msg.split(", unable to parse")[0]
    if msg == "Field required":
        return "a value: this key is required"
    return f"a value {msg}" if msg.startswith(("greater", "less")) else msg


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line per bad key: ``source: key.path: expected …, got …``."""
    by_path: dict[tuple, list[dict]] = {}
    for e in err.errors():
        by_path.setdefault(_field_path(tuple(e["loc"])), []).append(e)
    lines = []
    for loc, errs in by_path.items():
        path = (
            "".join(f"[{p}]" if isinstance(p, int) else f".{_key_text(p)}" for p in loc).lstrip(".")
            or "<root>"
        )
        if errs[0]["type"] == "extra_forbidden":
            allowed = _fields_at(loc)
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
        cfg = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
    llm = cfg.labels.llm
    if cfg.labels.method == "llm" and not (llm.base_url or llm.base_url_env):
        raise ConfigError(
            f"{source}: labels.llm.base_url: required when labels.method is 'llm' "
            "(or labels.llm.base_url_env: the name of an environment variable holding it)"
        )
    if cfg.labels.method == "llm" and not llm.model:
        raise ConfigError(
            f"{source}: labels.llm.model: required when labels.method is 'llm' "
            "(the model name the server knows, e.g. llama3.2 for Ollama)"
        )
    return cfg


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


# Keys of a config file that are not config sections: a base to build on, and a sweep.
EXPERIMENT_KEYS = ("base", "description", "sweep", "select")


def deep_merge(base: dict, override: dict) -> dict:
    """``base`` updated by ``override`` section by section (lists and values are replaced)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _find_base(name: str, source: Path) -> Path:
    """A ``base:`` path: relative to the working directory, like every path in a config."""
    candidate = Path(name).expanduser().resolve()
    if candidate.is_file():
        return candidate
    raise ConfigError(
        f"{source}: base: config file not found: {name!r} (paths in configs are relative to "
        f"the working directory, {Path.cwd()})"
    )


def _read_chain(path: Path, seen: tuple[Path, ...]) -> tuple[dict, dict]:
    """``(config mapping, experiment keys)`` of ``path`` with its ``base`` chain merged underneath.

    A base may itself be an experiment: its ``sweep`` is inherited key by key,
    its ``select`` and ``description`` unless the file sets its own.
    """
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of sections at the top level, got {type(data).__name__}"
        )
    _check_top_keys(data, path)
    base = data.get("base")
    config: dict = {}
    extra: dict = {}
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: base: expected a config file path (got {base!r})")
        base_path = _find_base(base, path)
        if base_path in seen:
            raise ConfigError(f"{path}: base: {base!r} includes itself")
        config, extra = _read_chain(base_path, seen + (base_path,))
        config.pop("name", None)  # a point's name comes from the experiment, not its base
    own = {k: v for k, v in data.items() if k not in EXPERIMENT_KEYS}
    sweep = data.get("sweep")
    if isinstance(sweep, dict) and isinstance(extra.get("sweep"), dict):
        sweep = {**extra["sweep"], **sweep}
    extra = {**extra, **{k: data[k] for k in ("description", "select") if k in data}}
    if "sweep" in data:
        extra["sweep"] = sweep
    return deep_merge(config, own), extra


def _check_top_keys(data: dict, source: Path) -> None:
    allowed = list(EXPERIMENT_KEYS) + list(RunConfig.model_fields)
    for key in data:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), allowed, n=1)
            tip = (
                f"; did you mean '{hint[0]}'?"
                if hint
                else f"; expected one of: {', '.join(allowed)}"
            )
            raise ConfigError(f"{source}: {key}: unknown key{tip}")


def read_config_chain(path: str | Path) -> tuple[dict, dict]:
    """``(config mapping, experiment keys)`` of a config file with its ``base`` chain merged
    underneath (every path relative to the working directory)."""
    path = Path(path)
    return _read_chain(path, (path.resolve(),))


def load_config(path: str | Path | None) -> RunConfig:
    """Load a run config; ``None`` means ``config/default.yaml`` or the built-in defaults.

    A config may build on another (``base:``) and hold only what differs; a file
    with a ``sweep:`` is an experiment for ``taxonomy sweep``.
    """
    if path is None:
        default = Path("config/default.yaml")
        if not default.exists():
            return RunConfig()
        path = default
    merged, extra = read_config_chain(path)
    if extra.get("sweep"):
        raise ConfigError(
            f"{path}: sweep: this file is an experiment of several runs; "
            f"run it with 'taxonomy sweep {path}'"
        )
    return build_config(merged, str(path))


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


def with_corpus(
    cfg: RunConfig, path: str, fmt: str | None, source: str, **corpus: object
) -> RunConfig:
    """The same config on another corpus file: ``path`` and ``fmt`` (``None``: detected from
    the file) replace the configured ones and the field names stay; ``corpus`` overrides other
    corpus fields (``max_docs=None``, ``gold_fields=[]``). Validated again, errors naming
    ``source`` (the command-line options that asked for it)."""
    data = cfg.model_dump(mode="json")
    data["corpus"].update(path=str(path), format=fmt or "auto", **corpus)
    return build_config(data, source)


def resolve_auto(cfg: RunConfig, n_docs: int, corpus_format: str | None = None) -> RunConfig:
    """A copy with the size-driven ``"auto"`` values replaced by their value for ``n_docs``.

    ``corpus_format`` is the format the corpus was read as; the taxonomy's shape
    is resolved once the topics are known (:func:`resolve_shape`).
    """
    cfg = cfg.model_copy(deep=True)
    if corpus_format and cfg.corpus.format == "auto":
        cfg.corpus.format = corpus_format
    if cfg.umap.n_neighbors == "auto":
        cfg.umap.n_neighbors = auto_n_neighbors(n_docs)
    # UMAP cannot have more neighbours than points.
    cfg.umap.n_neighbors = int(min(cfg.umap.n_neighbors, max(2, n_docs - 1)))
    if cfg.hdbscan.min_cluster_size == "auto":
        cfg.hdbscan.min_cluster_size = auto_min_cluster_size(n_docs)
    if cfg.hdbscan.min_samples == "auto":
        cfg.hdbscan.min_samples = auto_min_samples(cfg.hdbscan.min_cluster_size)
    return cfg


def resolve_shape(cfg: RunConfig, levels: int, top_level: int) -> RunConfig:
    """A copy with ``taxonomy.levels`` and ``top_level`` set to the shape built."""
    cfg = cfg.model_copy(deep=True)
    cfg.taxonomy.levels = max(2, levels)
    cfg.taxonomy.top_level = max(2, top_level)
    return cfg


def dump_config(cfg: RunConfig) -> str:
    return yaml_text(cfg.model_dump(mode="json"))
