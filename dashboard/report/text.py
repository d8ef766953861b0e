"""Words and numbers of the briefing: the two languages, number formats, the summary.

Everything here is a pure function of the figures, so the same week gives the same text
(the summary is a set of fixed templates filled from the figures, no model involved).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import pandas as pd

__all__ = ["LANGS", "T", "fmt_value", "fmt_count", "fmt_change", "fmt_pct", "fmt_time", "week_span",
           "level_name", "direction", "summary_lines", "BAD_WHEN_UP"]

LANGS = ("zh", "en")

#: Figures whose rise is bad news (red arrow); the others are neutral (grey).
BAD_WHEN_UP = frozenset({
    "abnormal_scans", "cases", "close_contacts", "secondary_contacts", "isolation_admissions",
    "isolation_occupied", "isolation_occupancy", "approval_median_min", "turned_back", "fever_medicine",
    "returnees_risk",
})

#: A change smaller than this (in % of last week) is "about the same" in the summary.
NOTABLE_PCT = 10.0

_STRINGS: dict[str, dict[str, str]] = {
    "title": {"zh": "{district}疫情防控周报", "en": "{district} weekly briefing"},
    "district": {"zh": "龙港区", "en": "Longgang District"},
    "week_line": {"zh": "{year}年第{week}周　{span}", "en": "Week {week} of {year}, {span}"},
    "meta_asof": {"zh": "数据截至", "en": "Data as of"},
    "meta_rules": {"zh": "规则版本", "en": "Rules"},
    "meta_role": {"zh": "阅读角色", "en": "Prepared for role"},
    "meta_made": {"zh": "生成时间", "en": "Generated"},
    "provenance": {"zh": "数据截至 {asof} · 规则 {rules}", "en": "Data as of {asof} · rules {rules}"},
    "incomplete": {"zh": "注意：本周数据不完整（数据截至 {asof}），本周数字偏低。",
                   "en": "Note: this week's data is incomplete (data as of {asof}); this week's figures are low."},
    "internal": {"zh": "内部资料　注意保存", "en": "Internal: handle with care"},
    "page": {"zh": "第 {n} 页", "en": "Page {n}"},
    # sections
    "s_summary": {"zh": "一、本周要点", "en": "1. This week at a glance"},
    "s_figures": {"zh": "二、主要指标（与上周对比）", "en": "2. Headline figures (against last week)"},
    "s_risk": {"zh": "三、社区风险等级（周末）", "en": "3. Community risk levels (week end)"},
    "s_heat": {"zh": "四、本周扫码热力与密接传播链", "en": "4. This week's scan heatmap and contact clusters"},
    "s_traffic": {"zh": "五、卡口通行与通行证审批", "en": "5. Checkpoints and vehicle passes"},
    "s_isolation": {"zh": "六、隔离点容量与预测", "en": "6. Isolation capacity and forecast"},
    # figures table
    "col_figure": {"zh": "指标", "en": "Figure"},
    "col_this": {"zh": "本周", "en": "This week"},
    "col_last": {"zh": "上周", "en": "Last week"},
    "col_change": {"zh": "变化", "en": "Change"},
    "new": {"zh": "新增", "en": "new"},
    "same": {"zh": "持平", "en": "no change"},
    "role_cdc": {"zh": "疾控", "en": "cdc"},
    "role_command": {"zh": "指挥中心", "en": "command"},
    "role_transport": {"zh": "交通", "en": "transport"},
    "role_leader": {"zh": "领导", "en": "leader"},
    "role_analyst": {"zh": "分析", "en": "analyst"},
    "unit_min": {"zh": "分钟", "en": "min"},
    # risk
    "level_high": {"zh": "高风险", "en": "High"},
    "level_medium": {"zh": "中风险", "en": "Medium"},
    "level_low": {"zh": "低风险", "en": "Low"},
    "risk_counts": {"zh": "周末 {high} 个高风险、{medium} 个中风险、{low} 个低风险社区（上周末 {p_high} / {p_medium} / {p_low}）。",
                    "en": "At the week's end {high} high-, {medium} medium- and {low} low-risk communities "
                          "(last week's end {p_high} / {p_medium} / {p_low})."},
    "risk_now_high": {"zh": "高风险（{n}）：", "en": "High risk ({n}): "},
    "risk_now_medium": {"zh": "中风险（{n}）：", "en": "Medium risk ({n}): "},
    "risk_changes_title": {"zh": "本周风险等级变化的社区", "en": "Communities whose level changed this week"},
    "risk_no_change": {"zh": "本周没有社区风险等级发生变化。", "en": "No community changed its risk level this week."},
    "col_community": {"zh": "社区", "en": "Community"},
    "col_from_to": {"zh": "等级变化", "en": "Level"},
    "col_reason": {"zh": "原因（病例数）", "en": "Reason (cases)"},
    "col_drop": {"zh": "可降级日期", "en": "May drop on"},
    "reason_case_resident": {"zh": "病例居住", "en": "case lives there"},
    "reason_case_visit": {"zh": "病例到访", "en": "case visited"},
    "reason_cases_copresent": {"zh": "病例同场", "en": "cases co-present"},
    "reason_none": {"zh": "满 7 天无新病例", "en": "7 days without a new case"},
    "more_rows": {"zh": "另有 {n} 个未列出。", "en": "{n} more not listed."},
    "fig_risk": {"zh": "图1　社区风险等级（{day}），粗框为本周等级变化的社区",
                 "en": "Figure 1. Community risk levels on {day}; thick outlines changed this week"},
    # heatmap and clusters
    "fig_heat": {"zh": "图2　本周扫码热力（H3 {res} 级网格，{measure}）", "en": "Figure 2. Scans this week (H3 resolution {res})"},
    "heat_measure": {"zh": "扫码次数", "en": "scans"},
    "heat_suppressed": {"zh": "少于 {k} 人的网格不显示（{n} 个）", "en": "cells with fewer than {k} persons not shown ({n})"},
    "heat_all": {"zh": "显示全部网格（疾控角色）", "en": "all cells shown (cdc role)"},
    "heat_empty": {"zh": "本周无可显示的扫码网格", "en": "No cells to show this week"},
    "fig_clusters": {"zh": "图3　本周最大的密接传播链（化名：病例/密接/次密接编号）",
                     "en": "Figure 3. This week's largest contact clusters (pseudonymised: case / close / secondary numbers)"},
    "clusters_sizes": {"zh": "本周共 {n} 条传播链；最大 {k} 条的人数：{sizes}。",
                       "en": "{n} clusters this week; persons in the largest {k}: {sizes}."},
    "clusters_dots": {"zh": "次密接超过 {n} 人的传播链只画点、不标号", "en": "secondary contacts drawn as dots without labels in clusters with more than {n}"},
    "clusters_none": {"zh": "本周没有新增病例的密接传播链。", "en": "No contact clusters of new cases this week."},
    "node_case": {"zh": "病例", "en": "Case"},
    "node_close": {"zh": "密接", "en": "Close"},
    "node_secondary": {"zh": "次密接", "en": "Secondary"},
    "cluster_n": {"zh": "传播链{i}（{n}人）", "en": "Cluster {i} ({n} persons)"},
    # traffic
    "fig_throughput": {"zh": "图4　卡口每小时通行车辆（全区合计）", "en": "Figure 4. Vehicles per hour at the checkpoints (district total)"},
    "dir_in": {"zh": "进", "en": "In"},
    "dir_out": {"zh": "出", "en": "Out"},
    "turned_back": {"zh": "劝返", "en": "Turned back"},
    "col_checkpoint": {"zh": "卡口", "en": "Checkpoint"},
    "col_in": {"zh": "进", "en": "In"},
    "col_out": {"zh": "出", "en": "Out"},
    "col_turned": {"zh": "劝返", "en": "Turned back"},
    "col_turned_share": {"zh": "劝返率", "en": "Share"},
    "col_p50": {"zh": "查验中位(秒)", "en": "Check p50 (s)"},
    "col_p90": {"zh": "查验P90(秒)", "en": "Check p90 (s)"},
    "fig_funnel": {"zh": "图5　通行证审批：办理情况与审批时长（承诺 {target} 分钟）",
                   "en": "Figure 5. Vehicle passes: outcome and approval time (promise: {target} min)"},
    "f_applied": {"zh": "申请", "en": "Applied"},
    "f_approved": {"zh": "批准", "en": "Approved"},
    "f_rejected": {"zh": "驳回", "en": "Rejected"},
    "f_pending": {"zh": "待审", "en": "Pending"},
    "f_within": {"zh": "{target} 分钟内办结 {share}", "en": "{share} decided within {target} min"},
    "f_minutes": {"zh": "审批时长（分钟）", "en": "Approval time (minutes)"},
    "f_passes": {"zh": "件数", "en": "Passes"},
    "col_category": {"zh": "类别", "en": "Category"},
    "col_applied": {"zh": "申请", "en": "Applied"},
    "col_approved": {"zh": "批准", "en": "Approved"},
    "col_rejected": {"zh": "驳回", "en": "Rejected"},
    "col_pending": {"zh": "待审", "en": "Pending"},
    "col_rate": {"zh": "批准率", "en": "Approval rate"},
    "col_median": {"zh": "中位时长", "en": "Median time"},
    "col_within": {"zh": "{target}分钟内", "en": "Within {target} min"},
    "cat_emergency_supplies": {"zh": "应急物资", "en": "Emergency supplies"},
    "cat_bulk_cargo": {"zh": "大宗货物", "en": "Bulk cargo"},
    "cat_resident": {"zh": "居民车辆", "en": "Residents"},
    "total": {"zh": "合计", "en": "Total"},
    # isolation
    "iso_kpis": {"zh": "周末隔离点床位 {capacity} 张，在住 {occupied} 人，空余 {free} 张；预计 3 天后空余 {free3} 张，7 天后空余 {free7} 张（不含新入住）。",
                 "en": "At the week's end the isolation sites have {capacity} beds, {occupied} occupied, {free} free; "
                       "expected free in 3 days {free3}, in 7 days {free7} (before new admissions)."},
    "iso_elsewhere": {"zh": "另有 {n} 人在无床位登记的场所（居家或社区）隔离。",
                      "en": "{n} more are isolated at places without a bed count (home or community)."},
    "fig_isolation": {"zh": "图6　有床位数的隔离点：每日入住、出院与在住人数（虚线为按规则隔离天数的预测）",
                      "en": "Figure 6. Isolation sites with a bed count: daily admissions, discharges and occupancy "
                            "(dashed: forecast from the rules' isolation days)"},
    "iso_occupied": {"zh": "在住", "en": "Occupied"},
    "iso_capacity": {"zh": "床位", "en": "Beds"},
    "iso_forecast": {"zh": "预测在住", "en": "Forecast occupied"},
    "iso_admissions": {"zh": "入住", "en": "Admissions"},
    "iso_discharges": {"zh": "出院/解除", "en": "Discharges"},
    "col_site": {"zh": "隔离点", "en": "Site"},
    "col_capacity": {"zh": "床位", "en": "Beds"},
    "col_occupied": {"zh": "在住", "en": "Occupied"},
    "col_occupancy": {"zh": "使用率", "en": "Occupancy"},
    "col_free": {"zh": "空余", "en": "Free"},
    "col_free3": {"zh": "3天后空余", "en": "Free in 3 d"},
    "col_free7": {"zh": "7天后空余", "en": "Free in 7 d"},
    "iso_no_sites": {"zh": "没有登记床位数的隔离点。", "en": "No isolation site with a bed count."},
    # notes
    "s_notes": {"zh": "说明", "en": "Notes"},
    "note_k": {"zh": "按隐私规则，分项表中小于 {k} 的计数显示为“<{k}”，为防止由合计反推而一并隐去的计数显示为“*”，"
                     "由隐去的计数推算的比例显示为“—”；全区合计照常显示。",
               "en": "By the privacy rules, counts below {k} in breakdown tables show as \"<{k}\", counts hidden with "
                     "them so that they cannot be worked out from the total as \"*\", and rates computed from hidden "
                     "counts as \"—\"; district totals are shown as they are."},
    "note_cdc": {"zh": "本版本为疾控角色生成，未隐去小计数，请勿外传。",
                 "en": "This copy was made for the cdc role and shows small counts: do not pass it on."},
    "note_defs": {"zh": "异常扫码：非绿码或体温≥{temp}℃；新增阳性：首次阳性采样在本周；密接/次密接：按第九版方案（同场所±{minutes}分钟）由本周病例推算；"
                        "风险等级：7 天内有病例居住或两名病例同场为高风险，病例到访为中风险；隔离预测按各类人员隔离天数推算，不含新入住。",
                  "en": "Abnormal scan: a code that is not green or a temperature of {temp} °C or more. New case: first positive "
                        "sample this week. Close/secondary contacts: traced from this week's cases by the 9th-edition "
                        "protocol (same site within ±{minutes} min). Risk: high when a case lives there or two cases were "
                        "co-present within 7 days, medium when a case visited. The isolation forecast uses each category's "
                        "isolation days and foresees no new admissions."},
    # summary
    "sum_cases": {"zh": "本周新增阳性 {cases} 例（上周 {cases_last} 例），密接 {close} 人、次密接 {secondary} 人。",
                  "en": "New cases this week: {cases} (last week {cases_last}); close contacts: {close}, "
                        "secondary contacts: {secondary}."},
    "sum_up": {"zh": "上升：{items}。", "en": "Rose: {items}."},
    "sum_down": {"zh": "下降：{items}。", "en": "Fell: {items}."},
    "sum_flat": {"zh": "其余指标与上周相比变化不足 {pct}%。", "en": "Other figures changed by less than {pct}% from last week."},
    "sum_all_flat": {"zh": "各项指标与上周相比变化均不足 {pct}%。", "en": "No figure changed by {pct}% or more from last week."},
    "sum_item": {"zh": "{label} {value}（上周 {last}，{pct}）", "en": "{label} {value} (last week {last}, {pct})"},
    "sum_risk": {"zh": "周末高风险社区 {high} 个、中风险 {medium} 个。", "en": "{high} high- and {medium} medium-risk communities at the week's end."},
    "sum_risk_up": {"zh": "升为{level}：{names}。", "en": " Up to {level} risk: {names}."},
    "sum_risk_down": {"zh": "降为{level}：{names}。", "en": " Down to {level} risk: {names}."},
    "sum_traffic": {"zh": "卡口通行 {crossings} 辆次，劝返 {turned} 辆次；通行证审批中位 {median}，{target} 分钟内办结 {share}。",
                    "en": "{crossings} checkpoint crossings, {turned} turned back; median pass approval {median}, "
                          "{share} decided within {target} min."},
    "sum_isolation": {"zh": "隔离点床位使用率 {occ}，空余 {free} 张，预计 7 天后空余 {free7} 张。",
                      "en": "Isolation beds {occ} occupied, {free} free, {free7} expected free in 7 days."},
    "list_sep": {"zh": "、", "en": ", "},
    "etc": {"zh": "等", "en": " and more"},
}


def T(key: str, lang: str, **kw: Any) -> str:  # noqa: N802
    """The string ``key`` in ``lang``, filled with ``kw``."""
    s = _STRINGS[key][lang]
    return s.format(**kw) if kw else s


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def fmt_count(v: Any) -> str:
    """A count as shown: ``12,345``; a suppressed ``"<5"`` stays as it is; missing: ``—``."""
    if isinstance(v, str):
        return v
    if _missing(v):
        return "—"
    return f"{int(round(float(v))):,}"


def fmt_pct(share: Any, digits: int = 1) -> str:
    """A share (0..1) as a percentage."""
    if isinstance(share, str):
        return share
    if _missing(share):
        return "—"
    return f"{100 * float(share):.{digits}f}%"


def fmt_value(v: Any, unit: str, lang: str) -> str:
    """A headline figure as printed in the figures table (and checked by the tests)."""
    if isinstance(v, str):
        return v
    if _missing(v):
        return "—"
    if unit == "%":
        return f"{float(v):.1f}%"
    if unit == "min":
        return f"{float(v):.1f} {T('unit_min', lang)}"
    return fmt_count(v)


def direction(change: Any) -> int:
    if _missing(change) or float(change) == 0:
        return 0
    return 1 if float(change) > 0 else -1


def fmt_change(change: Any, pct: Any, unit: str, lang: str) -> str:
    """``▲ 51 (+1.9%)``, ``▼ 1.6 min (−13.4%)``, ``▲ 2 (new)``, ``0``."""
    d = direction(change)
    if _missing(change):
        return "—"
    arrow = {1: "▲ ", -1: "▼ ", 0: ""}[d]
    mag = abs(float(change))
    if unit == "%":
        body = f"{mag:.1f} pt" if lang == "en" else f"{mag:.1f} 个百分点"
    elif unit == "min":
        body = f"{mag:.1f} {T('unit_min', lang)}"
    else:
        body = f"{int(round(mag)):,}"
    if d == 0:
        return T("same", lang)
    if _missing(pct):
        tail = T("new", lang)
    else:
        tail = f"{'+' if d > 0 else '−'}{abs(float(pct)):.1f}%"
    return f"{arrow}{body} ({tail})" if lang == "en" else f"{arrow}{body}（{tail}）"


def fmt_time(t: datetime | None, zone) -> str:  # noqa: ANN001
    if t is None:
        return "—"
    return pd.Timestamp(t).tz_convert(zone).strftime("%Y-%m-%d %H:%M")


def fmt_day(d: date, lang: str) -> str:
    return f"{d.month}月{d.day}日" if lang == "zh" else d.strftime("%-d %b")


def week_span(start: date, end_inclusive: date, lang: str) -> str:
    if lang == "zh":
        tail = f"{end_inclusive.day}日" if end_inclusive.month == start.month else f"{end_inclusive.month}月{end_inclusive.day}日"
        return f"{start.year}年{start.month}月{start.day}日—{tail}"
    if start.month == end_inclusive.month:
        return f"{start.day}–{end_inclusive.day} {start.strftime('%B %Y')}"
    return f"{start.strftime('%-d %B')} – {end_inclusive.strftime('%-d %B %Y')}"


def level_name(level: Any, lang: str) -> str:
    if _missing(level):
        return "—"
    return T(f"level_{level}", lang)


def _label(row: Any, lang: str) -> str:
    return row["label_zh"] if lang == "zh" else row["label_en"]


def summary_lines(figures: pd.DataFrame, *, lang: str, risk_counts: dict[str, int], risk_up: dict[str, list[str]],
                  risk_down: dict[str, list[str]], funnel: dict, isolation: dict, max_items: int = 5) -> list[str]:
    """The generated summary: what rose, what fell, risk, traffic, isolation (fixed templates).

    ``figures`` is :attr:`analytics.Briefing.figures`. A figure counts as rising or
    falling when it moved by at least :data:`NOTABLE_PCT` % (or from zero); the largest
    relative moves come first, ties in the order of the figures table.
    """
    f = figures.set_index("key")
    sep = T("list_sep", lang)

    def val(key: str, col: str = "this_week") -> str:
        return fmt_value(f.at[key, col], f.at[key, "unit"], lang)

    lines = [T("sum_cases", lang, cases=val("cases"), cases_last=val("cases", "last_week"),
               close=val("close_contacts"), secondary=val("secondary_contacts"))]
    moves: list[tuple[float, int, int, str]] = []
    for order, (key, row) in enumerate(f.iterrows()):
        d = direction(row["change"])
        if d == 0:
            continue
        pct = row["change_pct"]
        size = math.inf if _missing(pct) else abs(float(pct))
        if size < NOTABLE_PCT:
            continue
        rel = T("new", lang) if _missing(pct) else f"{'+' if d > 0 else '−'}{abs(float(pct)):.0f}%"
        item = T("sum_item", lang, label=_label(row, lang), value=fmt_value(row["this_week"], row["unit"], lang),
                 last=fmt_value(row["last_week"], row["unit"], lang), pct=rel)
        moves.append((-size, order, d, item))
    moves.sort()
    ups = [m[3] for m in moves if m[2] > 0]
    downs = [m[3] for m in moves if m[2] < 0]
    for key, items in (("sum_up", ups), ("sum_down", downs)):
        if items:
            shown = sep.join(items[:max_items]) + (T("etc", lang) if len(items) > max_items else "")
            lines.append(T(key, lang, items=shown))
    lines.append(T("sum_flat" if moves else "sum_all_flat", lang, pct=f"{NOTABLE_PCT:g}"))
    risk_line = T("sum_risk", lang, high=risk_counts.get("high", 0), medium=risk_counts.get("medium", 0))
    for level in ("high", "medium"):
        names = risk_up.get(level) or []
        if names:
            risk_line += T("sum_risk_up", lang, level=_level_word(level, lang), names=_names(names, lang))
    for level in ("medium", "low"):
        names = risk_down.get(level) or []
        if names:
            risk_line += T("sum_risk_down", lang, level=_level_word(level, lang), names=_names(names, lang))
    lines.append(risk_line)
    lines.append(T("sum_traffic", lang, crossings=val("crossings"), turned=val("turned_back"),
                   median=val("approval_median_min"), target=f"{funnel['target']:g}",
                   share=fmt_pct(funnel["within_target_share"])))
    lines.append(T("sum_isolation", lang, occ=val("isolation_occupancy"), free=fmt_count(isolation["free"]),
                   free7=fmt_count(isolation["free_in_7d"])))
    return lines


def _level_word(level: str, lang: str) -> str:
    return level_name(level, lang) if lang == "zh" else level


def _names(names: list[str], lang: str, limit: int = 6) -> str:
    sep = T("list_sep", lang)
    return sep.join(names[:limit]) + (T("etc", lang) if len(names) > limit else "")
