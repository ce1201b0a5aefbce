"""`taxonomy export RUN_DIR --to bertopic DIR`: a model BERTopic itself loads and draws."""

from __future__ import annotations

import csv

import pytest

from taxonomy.cli import main


@pytest.fixture(scope="module")
def exported(sample_run, tmp_path_factory):
    _, run_dir = sample_run
    out = tmp_path_factory.mktemp("export") / "bertopic"
    assert main(["export", str(run_dir), "--to", "bertopic", str(out)]) == 0
    return run_dir, out


def test_bertopic_loads_our_topics_names_keywords_and_paths(sample_run, exported):
    from bertopic import BERTopic

    result, _ = sample_run
    run_dir, out = exported
    model = BERTopic.load(str(out))
    info = model.get_topic_info()
    tax = result.taxonomy
    leaves = {n.label for n in tax.level(tax.n_levels)}
    assert set(info["CustomName"]) - {"outliers"} == leaves
    with open(run_dir / "documents.csv", newline="", encoding="utf-8") as fh:
        sizes = {}
        for row in csv.DictReader(fh):
            sizes[row["topic_label"]] = sizes.get(row["topic_label"], 0) + 1
    for _, row in info.iterrows():
        if row["CustomName"] != "outliers":
            assert row["Count"] == sizes[row["CustomName"]]
    # The tree travels as an aspect: each topic's path of names, top level first.
    paths = model.topic_aspects_["Taxonomy"]
    for t, name in zip(info["Topic"], info["CustomName"]):
        if name != "outliers":
            path = [p for p, _ in paths[t]]
            assert path[-1] == name and len(path) == tax.n_levels
    assert all(model.topic_aspects_["Keywords"][t] for t in info["Topic"] if t != -1)


def test_bertopic_draws_it(exported):
    from bertopic import BERTopic

    model = BERTopic.load(str(exported[1]))
    fig = model.visualize_barchart(top_n_topics=4, custom_labels=True)
    assert len(fig.data) >= 1


def test_export_never_replaces_a_foreign_folder(sample_run, tmp_path, capsys):
    _, run_dir = sample_run
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    code = main(["export", str(run_dir), "--to", "bertopic", str(tmp_path / "mine"), "--overwrite"])
    assert code == 2 and "refusing to replace" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
