"""The briefing's words and drawing helpers, without a database: number formats, the
generated summary (fixed templates), heatmap classes, the cluster layout, suppression."""

from __future__ import annotations

import math
from datetime import date

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from analytics.access import Viewer
from analytics.figures import FIGURES
from dashboard.report.charts import _heat_breaks, _radial_layout, cluster_labels
from dashboard.report.data import HIDDEN, _suppress_rows
from dashboard.report.text import fmt_change, fmt_count, fmt_pct, fmt_value, summary_lines, week_span


def test_values_as_printed() -> None:
    assert fmt_value(12345.0, "", "zh") == "12,345" and fmt_value(7, "", "en") == "7"
    assert fmt_value(4.25, "%", "zh") == "4.2%" and fmt_value(10.26, "min", "zh") == "10.3 分钟"
    assert fmt_value(10.26, "min", "en") == "10.3 min"
    assert fmt_value(None, "", "zh") == fmt_value(float("nan"), "%", "en") == fmt_value(pd.NA, "", "zh") == "—"
    assert fmt_value("<5", "", "zh") == "<5" and fmt_count("<5") == "<5"
    assert fmt_pct(0.4631) == "46.3%" and fmt_pct(HIDDEN) == HIDDEN


def test_changes_as_printed() -> None:
    assert fmt_change(51, 1.9, "", "en") == "▲ 51 (+1.9%)"
    assert fmt_change(-130, -7.6, "", "zh") == "▼ 130（−7.6%）"
    assert fmt_change(2, None, "", "zh") == "▲ 2（新增）" and fmt_change(2, math.nan, "", "en") == "▲ 2 (new)"
    assert fmt_change(-1.6, -13.4, "min", "zh") == "▼ 1.6 分钟（−13.4%）"
    assert fmt_change(1.5, 250.0, "%", "zh") == "▲ 1.5 个百分点（+250.0%）"
    assert fmt_change(0, 0.0, "", "zh") == "持平" and fmt_change(0.0, None, "min", "en") == "no change"
    assert fmt_change(None, None, "", "zh") == "—"


def test_week_span() -> None:
    assert week_span(date(2022, 4, 11), date(2022, 4, 17), "zh") == "2022年4月11日—17日"
    assert week_span(date(2022, 5, 30), date(2022, 6, 5), "zh") == "2022年5月30日—6月5日"
    assert week_span(date(2022, 4, 11), date(2022, 4, 17), "en") == "11–17 April 2022"
    assert week_span(date(2022, 5, 30), date(2022, 6, 5), "en") == "30 May – 5 June 2022"


def _figures(this: dict, last: dict) -> pd.DataFrame:
    from analytics.figures import compare

    base = {key: 0 for key, *_ in FIGURES}
    return compare(base | this, base | last, "this_week", "last_week")


def _summary(fig: pd.DataFrame, lang: str = "zh", **kw) -> list[str]:  # noqa: ANN003
    args = {"risk_counts": {"high": 1, "medium": 0}, "risk_up": {"high": ["滨海社区"]}, "risk_down": {},
            "funnel": {"target": 10.0, "within_target_share": 0.5}, "isolation": {"free": 40, "free_in_7d": 45}}
    return summary_lines(fig, lang=lang, **(args | kw))


def test_summary_lists_notable_rises_and_falls_largest_first() -> None:
    fig = _figures({"scans": 1050, "cases": 3, "close_contacts": 10, "crossings": 80, "isolation_occupancy": 40.0,
                    "approval_median_min": 9.0},
                   {"scans": 1000, "cases": 0, "close_contacts": 20, "crossings": 100, "isolation_occupancy": 40.0,
                    "approval_median_min": 12.0})
    lines = _summary(fig)
    assert lines[0] == "本周新增阳性 3 例（上周 0 例），密接 10 人、次密接 0 人。"
    # cases from zero first; scans (+5 %) is below the 10 % threshold and is not named
    assert lines[1] == "上升：新增阳性 3（上周 0，新增）。"
    assert lines[2] == "下降：密接 10（上周 20，−50%）、审批中位时长 9.0 分钟（上周 12.0 分钟，−25%）、卡口通行 80（上周 100，−20%）。"
    assert lines[3] == "其余指标与上周相比变化不足 10%。"
    assert lines[4] == "周末高风险社区 1 个、中风险 0 个。升为高风险：滨海社区。"
    assert lines[5] == "卡口通行 80 辆次，劝返 0 辆次；通行证审批中位 9.0 分钟，10 分钟内办结 50.0%。"
    assert lines[6] == "隔离点床位使用率 40.0%，空余 40 张，预计 7 天后空余 45 张。"
    assert _summary(fig) == lines  # the same figures, the same words
    en = _summary(fig, "en", risk_up={"high": ["Binhai Community"]}, risk_down={"low": ["Jinhai Community"]})
    assert en[1] == "Rose: New cases 3 (last week 0, new)."
    assert en[4] == ("1 high- and 0 medium-risk communities at the week's end. Up to high risk: Binhai Community. "
                     "Down to low risk: Jinhai Community.")


def test_summary_when_nothing_moved() -> None:
    fig = _figures({"scans": 100}, {"scans": 100})
    lines = _summary(fig, risk_up={})
    assert "各项指标与上周相比变化均不足 10%。" in lines
    assert not any(s.startswith(("上升", "下降")) for s in lines)


def test_summary_names_at_most_five_then_and_more() -> None:
    keys = [k for k, *_ in FIGURES][:8]
    fig = _figures({k: 20 for k in keys}, {k: 10 for k in keys})
    rose = next(s for s in _summary(fig) if s.startswith("上升"))
    assert rose.count("（上周") == 5 and rose.endswith("等。")


def test_heat_classes_cover_every_value() -> None:
    values = np.array([5, 6, 7, 9, 12, 30, 31, 80, 150, 151, 400, 8533])
    classes = _heat_breaks(values)
    assert 1 <= len(classes) <= 5 and classes[0][0] == 5 and classes[-1][1] == 8533
    for v in values:
        assert sum(lo <= v <= hi for lo, hi in classes) == 1
    assert _heat_breaks(np.array([7, 7, 7])) == [(7, 7)] and _heat_breaks(np.array([])) == []


def _cluster() -> nx.Graph:
    g = nx.Graph()
    g.add_node(900, degree=0)
    for c in (101, 102, 103):
        g.add_node(c, degree=1)
        g.add_edge(900, c)
    for i, s in enumerate(range(201, 211)):
        g.add_node(s, degree=2)
        g.add_edge(101 if i < 8 else 102, s)
    return g


def test_cluster_layout_rings_and_labels() -> None:
    g = _cluster()
    pos = _radial_layout(g)
    radius = {n: round(math.hypot(*pos[n]), 6) for n in g}
    assert radius[900] == 0 and {radius[c] for c in (101, 102, 103)} == {1} and {radius[s] for s in range(201, 211)} == {2}
    assert pos == _radial_layout(g)  # deterministic
    # the crowded close contact gets the widest sector, but its siblings keep room for their labels
    angles = sorted(math.atan2(pos[c][1], pos[c][0]) for c in (101, 102, 103))
    gaps = [(b - a) % (2 * math.pi) for a, b in zip(angles, angles[1:] + angles[:1])]
    assert min(gaps) > math.radians(40)
    (labels,) = cluster_labels([g], "zh")
    assert labels[900] == "病例1" and sorted(labels[c] for c in (101, 102, 103)) == ["密接1", "密接2", "密接3"]
    assert sorted(labels[s] for s in range(201, 211)) == sorted(f"次密接{i}" for i in range(1, 11))
    assert not any(str(n) in label for n, label in labels.items())


def test_suppress_rows_counts_and_their_rates() -> None:
    df = pd.DataFrame({"name": ["a", "b", "c"], "applied": [3, 12, 0], "approved": [3, 10, 0], "rejected": [0, 2, 0],
                       "approval_rate": [1.0, 10 / 12, float("nan")]})
    rates = {"approval_rate": ["approved", "rejected"]}
    lead = _suppress_rows(df, ["applied", "approved", "rejected"], rates, Viewer("b", "leader"), 5)
    # primary "<5"; secondary "*": the smallest other count, so the total minus the shown ones reveals nothing
    assert lead["applied"].tolist() == ["<5", "*", 0] and lead["approved"].tolist() == ["<5", "*", 0]
    assert lead["rejected"].tolist() == ["*", "<5", 0]
    assert lead.at[0, "approval_rate"] == HIDDEN and lead.at[1, "approval_rate"] == HIDDEN
    assert math.isnan(lead.at[2, "approval_rate"])
    cdc = _suppress_rows(df, ["applied", "approved", "rejected"], rates, Viewer("e", "cdc"), 5)
    assert cdc["applied"].tolist() == [3, 12, 0] and cdc.at[1, "approval_rate"] == pytest.approx(10 / 12)
