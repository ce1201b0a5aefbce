"""Config validation: one line per problem naming the key path, what was expected and what was given."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from taxonomy.config import RunConfig, build_config, load_config, resolve_auto
from taxonomy.errors import ConfigError


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as e:
        build_config(data, "exp.yaml")
    return str(e.value)


class TestValidation:
    def test_unknown_key_suggests_the_right_one(self):
        msg = error_of({"umap": {"n_neighbour": 10}})
        assert msg == "exp.yaml: umap.n_neighbour: unknown key; did you mean 'n_neighbors'?"

    def test_unknown_section(self):
        assert error_of({"hdbscn": {}}).startswith(
            "exp.yaml: hdbscn: unknown key; did you mean 'hdbscan'?"
        )

    def test_wrong_type_names_expected_and_given(self):
        msg = error_of({"hdbscan": {"min_cluster_size": "big"}})
        assert msg.startswith("exp.yaml: hdbscan.min_cluster_size")
        assert "'big'" in msg and "\n" not in msg

    @pytest.mark.parametrize(
        "key, section, value, bound",
        [
            ("n_neighbors", "umap", 1, ">= 2"),
            ("min_cluster_size", "hdbscan", 1, ">= 2"),
            ("min_dist", "umap", 2.0, "less than or equal to 1"),
            ("levels", "taxonomy", 9, "[2, 5]"),
            ("batch_size", "embedding", 0, "greater than or equal to 1"),
            ("inline_abstracts_max", "report", -1, "greater than or equal to 0"),
            ("map_points", "report", 0, "greater than or equal to 1"),
        ],
    )
    def test_out_of_range(self, key, section, value, bound):
        msg = error_of({section: {key: value}})
        assert msg.startswith(f"exp.yaml: {section}.{key}:") and bound in msg and repr(value) in msg

    def test_bad_choice(self):
        msg = error_of({"corpus": {"format": "xml"}})
        assert (
            msg.startswith("exp.yaml: corpus.format:") and "'papers_page'" in msg and "'xml'" in msg
        )

    def test_run_name_cannot_escape_output_dir(self):
        assert error_of({"name": "../../etc"}).startswith("exp.yaml: name:")

    def test_top_level_must_be_mapping(self):
        assert "expected a mapping" in error_of([1, 2])

    def test_invalid_yaml_names_line(self, tmp_path):
        p = tmp_path / "bad.yaml"
        p.write_text("name: x\numap: [1,\n")
        with pytest.raises(ConfigError, match=r"bad\.yaml: line \d+: invalid YAML"):
            load_config(p)


class TestDefaults:
    def test_default_yaml_equals_built_in_defaults(self):
        """config/default.yaml documents every key; it must not drift from the code."""
        assert load_config("config/default.yaml") == RunConfig()

    def test_default_yaml_lists_every_key(self):
        data = yaml.safe_load(Path("config/default.yaml").read_text(encoding="utf-8"))
        assert data == RunConfig().model_dump(mode="json")

    @pytest.mark.parametrize("n, nn, mcs", [(66, 11, 4), (300, 15, 9), (18077, 15, 67)])
    def test_auto_rules_scale_with_corpus(self, n, nn, mcs):
        cfg = resolve_auto(RunConfig(), n)
        assert (cfg.umap.n_neighbors, cfg.hdbscan.min_cluster_size) == (nn, mcs)

    def test_n_neighbors_capped_by_corpus_size(self):
        cfg = resolve_auto(build_config({"umap": {"n_neighbors": 50}}), 12)
        assert cfg.umap.n_neighbors == 11
