"""Dates, periods, topics over time and the growth rule (timeline.py), and dates in the corpus."""

from __future__ import annotations

import csv
import json
from datetime import date

import numpy as np
import pytest

from taxonomy.config import CorpusConfig, build_config
from taxonomy.corpus import load_corpus
from taxonomy.errors import ConfigError, InputError
from taxonomy.runs.timeline import (
    bin_dates,
    build_timeline,
    choose_time_bin,
    over_time_rows,
    period_label,
    period_number,
    rising_and_fading,
    share_growth,
)
from taxonomy.util.dates import arxiv_id_date, parse_date

ABSTRACT = "We study dense retrieval with dual encoders trained on large query logs and more."


class TestParseDate:
    @pytest.mark.parametrize(
        "value, want",
        [
            ("2025-03-18", date(2025, 3, 18)),
            ("2025-03", date(2025, 3, 1)),
            ("2025", date(2025, 1, 1)),
            ("2025/3/8", date(2025, 3, 8)),
            ("2025-03-18T17:59:59Z", date(2025, 3, 18)),
            ("2025-03-18 17:59:59+02:00", date(2025, 3, 18)),
            ("Mon, 2 Apr 2007 19:18:42 GMT", date(2007, 4, 2)),
            (2024, date(2024, 1, 1)),
            (date(2020, 5, 6), date(2020, 5, 6)),
            ("", None),
            (None, None),
            (float("nan"), None),
        ],
    )
    def test_accepted_forms(self, value, want):
        assert parse_date(value) == want

    @pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "2025-02-30", 12, True, [2025]])
    def test_rejected_forms(self, value):
        with pytest.raises((ValueError, TypeError)):
            parse_date(value)

    def test_arxiv_ids(self):
        assert arxiv_id_date("2503.01234") == date(2025, 3, 1)
        assert arxiv_id_date("2503.01234v2") == date(2025, 3, 1)
        assert arxiv_id_date("hep-th/9901001") == date(1999, 1, 1)
        assert arxiv_id_date("math.AG/0601001") == date(2006, 1, 1)
        assert arxiv_id_date("doc000001") is None
        assert arxiv_id_date("2513.00001") is None  # no month 13


class TestPeriods:
    def test_auto_bin_follows_the_span(self):
        d0 = date(2025, 1, 1)
        assert choose_time_bin([d0, date(2025, 3, 1)]) == "week"
        assert choose_time_bin([d0, date(2026, 7, 1), None]) == "month"
        assert choose_time_bin([d0, date(2030, 1, 1)]) == "quarter"
        assert choose_time_bin([d0, date(2040, 1, 1)]) == "year"

    @pytest.mark.parametrize(
        "time_bin, label",
        [("week", "2025-W12"), ("month", "2025-03"), ("quarter", "2025-Q1"), ("year", "2025")],
    )
    def test_labels(self, time_bin, label):
        assert period_label(period_number(date(2025, 3, 18), time_bin), time_bin) == label

    def test_weeks_start_on_monday(self):
        # 2025-03-17 is a Monday: it and the Sunday after share a week, the Sunday before does not.
        n = period_number(date(2025, 3, 17), "week")
        assert period_number(date(2025, 3, 23), "week") == n
        assert period_number(date(2025, 3, 16), "week") == n - 1

    def test_bins_have_no_gaps_and_undated_papers_get_minus_one(self):
        dates = [date(2025, 1, 5), None, date(2025, 4, 1), date(2025, 1, 31)]
        idx, labels, starts = bin_dates(dates, "month")
        assert labels == ["2025-01", "2025-02", "2025-03", "2025-04"]
        assert idx.tolist() == [0, -1, 3, 0]
        assert starts[1] == date(2025, 2, 1)


class TestGrowth:
    def test_no_change_gives_an_interval_around_zero(self):
        g = share_growth(250, 750, 2500, 7500)
        assert g.low < 0 < g.high and abs(g.growth) < 0.05

    def test_a_tiny_node_cannot_top_a_clearly_growing_large_one(self):
        tiny = share_growth(3, 0, 2500, 7500)  # every paper recent, but only three
        big = share_growth(400, 600, 2500, 7500)  # share x2: 40 % recent where 25 % is usual
        assert tiny.growth > 0 and tiny.low < 0  # looks rising, is not sure
        assert big.low > 0.5
        new = share_growth(60, 0, 2500, 7500)  # a new topic of 60 papers
        assert new.low > big.low

    def test_fading_is_the_mirror_of_rising(self):
        up, down = share_growth(100, 100, 2500, 7500), share_growth(10, 290, 2500, 7500)
        assert up.low > 0 and down.high < 0
        assert up.p_value < 1e-6 and down.p_value < 1e-6

    def test_lists_rank_by_the_near_end_of_the_interval(self):
        dates = [date(2025, 1 + i % 4, 1) for i in range(400)]
        # node a: all in the last month (100 papers); b: 5 papers, all recent; c: only early.
        members = {
            "2.0": np.array([i for i in range(400) if dates[i].month == 4][:100]),
            "2.1": np.array([i for i in range(400) if dates[i].month == 4][100:105]),
            "2.2": np.array([i for i in range(400) if dates[i].month == 1][:80]),
            "2.3": np.arange(0, 400, 7),
        }
        tl = build_timeline(dates, members, time_bin="month", recent_periods=1)
        assert tl.labels == ["2025-01", "2025-02", "2025-03", "2025-04"]
        assert tl.recent_periods == 1 and tl.totals.tolist() == [100, 100, 100, 100]
        rising, fading = rising_and_fading(tl, list(members), {"2.0": "a"})
        assert rising[0]["node_id"] == "2.0" and rising[0]["label"] == "a"
        assert [f["node_id"] for f in fading] == ["2.2"]
        assert "2.3" not in {r["node_id"] for r in rising}
        rows = over_time_rows(tl, ["2.0"])
        assert rows[-1] == ["2.0", "2025-04", 100, 1.0] and rows[0][2:] == [0, 0.0]

    def test_one_period_or_no_dates(self):
        assert build_timeline([None, None], {"1.0": np.arange(2)}) is None
        tl = build_timeline([date(2025, 1, 1)] * 3, {"1.0": np.arange(3)})
        assert tl.growth == {} and tl.totals.tolist() == [3]


def write_jsonl(path, recs):
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


class TestCorpusDates:
    def recs(self, **extra):
        return [
            {"id": f"250{i % 9 + 1}.0000{i}", "title": f"P {i}", "abstract": f"{ABSTRACT} {i}"}
            | extra
            for i in range(4)
        ]

    @pytest.mark.parametrize("name", ["date", "published", "listing_date", "update_date"])
    def test_auto_finds_the_usual_fields(self, tmp_path, name):
        p = write_jsonl(tmp_path / "c.jsonl", self.recs(**{name: "2025-06-02"}))
        assert load_corpus(CorpusConfig(path=str(p))).dates == [date(2025, 6, 2)] * 4

    def test_no_date_field_gives_none_and_ids_give_months_when_asked(self, tmp_path):
        p = write_jsonl(tmp_path / "c.jsonl", self.recs())
        assert load_corpus(CorpusConfig(path=str(p))).dates == [None] * 4
        c = load_corpus(CorpusConfig(path=str(p), date_from_id=True))
        assert c.dates == [date(2025, i + 1, 1) for i in range(4)]
        assert load_corpus(CorpusConfig(path=str(p), date_field=None)).dates == [None] * 4

    def test_a_named_field_and_csv(self, tmp_path):
        p = tmp_path / "c.csv"
        with open(p, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "title", "abstract", "when"])
            w.writerow(["a", "T", ABSTRACT, "2024-02"])
            w.writerow(["b", "U", ABSTRACT + " more", ""])
        c = load_corpus(CorpusConfig(path=str(p), date_field="when"))
        assert c.dates == [date(2024, 2, 1), None]

    def test_an_unparseable_date_is_one_line_naming_file_line_and_field(self, tmp_path):
        recs = self.recs(published="2025-01-01")
        recs[2]["published"] = "last Tuesday"
        p = write_jsonl(tmp_path / "c.jsonl", recs)
        with pytest.raises(InputError) as e:
            load_corpus(CorpusConfig(path=str(p)))
        msg = str(e.value)
        assert msg.startswith(f"{p}:3: field 'published': expected a date")
        assert "'last Tuesday'" in msg and "\n" not in msg

    def test_config_keys_are_validated(self):
        cfg = build_config({"taxonomy": {"time_bin": "month", "recent_periods": 2}})
        assert cfg.taxonomy.time_bin == "month"
        with pytest.raises(ConfigError, match="taxonomy.time_bin"):
            build_config({"taxonomy": {"time_bin": "fortnight"}})
        with pytest.raises(ConfigError, match="taxonomy.recent_periods"):
            build_config({"taxonomy": {"recent_periods": 0}})


def test_growth_statistics_match_scipy_stats():
    """util.binomial (scipy.special only: no 0.6 s import of scipy.stats in an update) gives
    scipy.stats' two-sided binomtest p-value and beta quantiles."""
    from scipy.stats import beta, binomtest

    from taxonomy.util.binomial import beta_quantiles, binomtest_p

    rng = np.random.default_rng(0)
    for n in [*range(1, 30), 100, 1000, 148_267]:
        for p in (0.0068, 0.1, 0.25, 1 / 3, 0.5, 0.9):
            ks = {0, 1, n // 3, int(p * n), int(p * n) + 1, n - 1, n}
            for k in sorted(ks | set(rng.integers(0, n + 1, 3).tolist())):
                want = binomtest(k, n, p).pvalue
                assert binomtest_p(k, n, p) == pytest.approx(want, rel=1e-8, abs=1e-300)
    for a, b in [(1.5, 3.2), (500.3, 20_000.1), (0.1, 0.2), (140_000.5, 8_000.2)]:
        q = [0.05, 0.5, 0.95]
        assert np.allclose(beta_quantiles(q, a, b), beta.ppf(q, a, b), rtol=1e-12)
