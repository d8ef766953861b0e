"""Charts (not maps): checkpoint throughput, the pass funnel, approval latency,
isolation occupancy and flows. Pure builders: DataFrames in, a figure out as a plain
dict (built with ``plotly.graph_objects``, so it is validated once, when built)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard import i18n
from dashboard.i18n import t
from dashboard.theme import Theme, chart_layout

__all__ = ["throughput_chart", "funnel_chart", "latency_chart", "occupancy_chart", "flows_chart", "empty_chart"]


def _style(fig: go.Figure, theme: Theme, height: int | None = None, **extra: object) -> go.Figure:
    fig.update_layout(**(chart_layout(theme) | extra))
    if height:
        fig.update_layout(height=height)
    fig.update_xaxes(gridcolor=theme.grid, linecolor=theme.grid, zerolinecolor=theme.grid)
    fig.update_yaxes(gridcolor=theme.grid, linecolor=theme.grid, zerolinecolor=theme.grid, rangemode="tozero")
    return fig


def _plain(fig: go.Figure) -> dict:
    """The figure as a plain dict: cached views unpickle it without Plotly re-validating it."""
    return fig.to_plotly_json()


def empty_chart(theme: Theme, lang: str, height: int = 280) -> dict:
    fig = go.Figure()
    fig.add_annotation(text=t("status.no_data", lang), showarrow=False, font={"size": 18, "color": theme.muted},
                       xref="paper", yref="paper", x=0.5, y=0.5)
    _style(fig, theme, height)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _plain(fig)


#: d3 time formats, so that Plotly needs no locale file (its month names are English)
_TIME_FORMAT = {"zh": "%H:%M<br>%-m月%-d日", "en": "%H:%M<br>%-d %b"}


def _hours(values: pd.Series) -> list[str]:
    return [pd.Timestamp(v).strftime("%Y-%m-%d %H:%M") for v in values]


def throughput_chart(df: pd.DataFrame, theme: Theme, lang: str, height: int = 420) -> dict:
    """Vehicles per hour per checkpoint: inbound above, outbound below (shared time axis)."""
    if df is None or df.empty or int(df["vehicles"].sum()) == 0:
        return empty_chart(theme, lang, height)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(t("cp.in", lang), t("cp.out", lang)))
    for i, (code, grp) in enumerate(df.groupby("checkpoint_code", sort=True)):
        colour = theme.series[i % len(theme.series)]
        label = i18n.plain(grp["name"].iloc[0])
        for row, direction in ((1, "in"), (2, "out")):
            part = grp[grp["direction"] == direction]
            fig.add_trace(go.Scatter(
                x=_hours(part["hour"]), y=part["vehicles"], mode="lines", name=label, legendgroup=code,
                showlegend=row == 1, line={"color": colour, "width": 2, "shape": "hv"},
                hovertemplate=f"{label} %{{x}}<br>%{{y}} {t('unit.vehicles', lang)}<extra></extra>",
                xhoverformat=_TIME_FORMAT[lang].replace("<br>", " "),
            ), row=row, col=1)
    _style(fig, theme, height, legend={"orientation": "h", "y": -0.12, "bgcolor": "rgba(0,0,0,0)"})
    fig.update_xaxes(tickformat=_TIME_FORMAT[lang])
    fig.update_annotations(font={"color": theme.muted, "size": 13})
    return _plain(fig)


def funnel_chart(by_category: pd.DataFrame, theme: Theme, lang: str, height: int = 320) -> dict:
    """Applied, approved, rejected and pending passes by category (grouped bars)."""
    if by_category is None or by_category.empty or int(by_category["applied"].sum()) == 0:
        return empty_chart(theme, lang, height)
    cats = [t(f"cat.{c}", lang) if f"cat.{c}" in i18n.TEXT else str(c) for c in by_category["category"]]
    fig = go.Figure()
    colours = {"applied": theme.accent, "approved": theme.occupancy["low"], "rejected": theme.up_bad,
               "pending": theme.occupancy["mid"]}
    for col in ("applied", "approved", "rejected", "pending"):
        fig.add_trace(go.Bar(x=cats, y=by_category[col], name=t(f"cp.{col}", lang), marker_color=colours[col],
                             text=by_category[col], textposition="outside"))
    return _plain(_style(fig, theme, height, barmode="group"))


def latency_chart(histogram: pd.DataFrame, target_min: float, theme: Theme, lang: str,
                  height: int = 320) -> dict:
    """Passes per approval-time bin; bins past the target in the alarm colour."""
    if histogram is None or histogram.empty or int(histogram["passes"].sum()) == 0:
        return empty_chart(theme, lang, height)
    colours = [theme.occupancy["low"] if hi <= target_min else theme.up_bad for hi in histogram["to_min"]]
    fig = go.Figure(go.Bar(x=list(histogram["label"]), y=histogram["passes"], marker_color=colours,
                           text=histogram["passes"], textposition="outside",
                           hovertemplate="%{x} " + t("unit.min", lang) + ": %{y}<extra></extra>"))
    _style(fig, theme, height)
    fig.update_xaxes(title={"text": t("unit.min", lang)}, type="category")
    fig.add_annotation(text=t("cp.target", lang, n=f"{target_min:g}"), xref="paper", yref="paper", x=1, y=1.02,
                       showarrow=False, xanchor="right", font={"color": theme.muted})
    return _plain(fig)


def occupancy_chart(series: pd.DataFrame, theme: Theme, lang: str, height: int = 340) -> dict:
    """Occupied beds per day per site (sites with a capacity), with the capacity dotted."""
    if series is None or series.empty:
        return empty_chart(theme, lang, height)
    df = series[series["capacity"].notna()]
    if df.empty or int(df["occupied"].sum()) == 0:
        return empty_chart(theme, lang, height)
    fig = go.Figure()
    for i, (code, grp) in enumerate(df.groupby("site_code", sort=True)):
        colour = theme.series[i % len(theme.series)]
        x = [i18n.fmt_short_date(p, lang) for p in grp["period"]]
        fig.add_trace(go.Scatter(x=x, y=grp["occupied"], mode="lines+markers", name=i18n.plain(grp["name"].iloc[0]),
                                 line={"color": colour, "width": 2}, legendgroup=code))
        fig.add_trace(go.Scatter(x=x, y=grp["capacity"].astype(float), mode="lines", showlegend=False,
                                 line={"color": colour, "width": 1, "dash": "dot"}, legendgroup=code,
                                 hoverinfo="skip"))
    return _plain(_style(fig, theme, height))


def flows_chart(series: pd.DataFrame, theme: Theme, lang: str, height: int = 300) -> dict:
    """Admissions (up) and discharges (down) per day, stacked by site; stays registered
    at sites without beds (home isolation) as one group."""
    if series is None or series.empty:
        return empty_chart(theme, lang, height)
    home = t("iso.home_n", lang, n=int(series.loc[series["capacity"].isna(), "site_code"].nunique()))
    df = series.assign(group=series["name"].where(series["capacity"].notna(), home))
    daily = df.groupby(["group", "period"], sort=True)[["admissions", "discharges"]].sum().reset_index()
    if int(daily[["admissions", "discharges"]].to_numpy().sum()) == 0:
        return empty_chart(theme, lang, height)
    fig = go.Figure()
    # the same colour per site as in the occupancy chart (sites in code order), home isolation last
    codes = sorted(series.loc[series["capacity"].notna(), "site_code"].unique())
    name_of = dict(zip(series["site_code"], series["name"]))
    colours = {name_of[c]: theme.series[i % len(theme.series)] for i, c in enumerate(codes)}
    groups = [name_of[c] for c in codes if name_of[c] in set(daily["group"])] + \
        ([home] if home in set(daily["group"]) else [])
    for group in groups:
        part = daily[daily["group"] == group]
        colour = colours.get(group, theme.muted)
        label = i18n.plain(group)
        x = [i18n.fmt_short_date(p, lang) for p in part["period"]]
        fig.add_trace(go.Bar(x=x, y=part["admissions"], name=label, marker_color=colour, legendgroup=group,
                             hovertemplate=f"{label} %{{x}}<br>{t('iso.admissions', lang)} %{{y}}<extra></extra>"))
        fig.add_trace(go.Bar(x=x, y=-part["discharges"], name=label, marker_color=colour, legendgroup=group,
                             showlegend=False, opacity=0.55, customdata=part["discharges"],
                             hovertemplate=f"{label} %{{x}}<br>{t('iso.discharges', lang)} %{{customdata}}"
                                           "<extra></extra>"))
    _style(fig, theme, height, barmode="relative")
    axis = f"▲ {t('iso.admissions', lang)} / ▼ {t('iso.discharges', lang)}"
    fig.update_yaxes(rangemode="normal", title={"text": axis})
    return _plain(fig)
