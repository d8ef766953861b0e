"""The briefing's charts as Plotly figures (exported to PNG by :mod:`dashboard.report.export`).

Maps are plain Plotly scatter polygons on hidden axes (longitude/latitude with the
latitude's aspect), so that nothing is fetched: no tiles, no map style, no glyphs.
Every figure carries its data-as-of time and the rules version in its top-right corner.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta

import networkx as nx
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from dashboard.report.data import ReportData
from dashboard.report.text import T, fmt_count, fmt_pct, level_name

__all__ = ["FONT", "WIDTH", "risk_map", "heat_map", "cluster_picture", "throughput_chart", "funnel_chart",
           "isolation_chart", "all_charts", "cluster_labels"]

FONT = "Noto Sans CJK SC, Noto Sans CJK, WenQuanYi Micro Hei, sans-serif"
#: CSS pixels of the printed column (A4 minus margins); PNGs are exported at 2x.
WIDTH = 700
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e4e8ec"
LEVEL_COLOURS = {"high": "#d7301f", "medium": "#f59e0b", "low": "#e3efe0"}
HEAT_COLOURS = ["#fee8c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"]
IN_COLOUR, OUT_COLOUR, BACK_COLOUR = "#2563eb", "#0f9d8a", "#d7301f"
NODE_COLOURS = {0: "#d7301f", 1: "#f59e0b", 2: "#facc15"}
#: Clusters with more secondary contacts than this draw them as unlabelled dots.
SECONDARY_LABELS = 14


def _base(fig: go.Figure, height: int, provenance: str, *, top: int = 26, bottom: int = 30, left: int = 48,
          right: int = 16, legend: bool = True) -> go.Figure:
    fig.update_layout(
        width=WIDTH, height=height, template="plotly_white", paper_bgcolor="white", plot_bgcolor="white",
        font={"family": FONT, "size": 12, "color": INK}, margin={"l": left, "r": right, "t": top, "b": bottom},
        showlegend=legend,
        legend={"orientation": "h", "x": 0, "y": 1.0, "xanchor": "left", "yanchor": "bottom",
                "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0)"},
    )
    fig.add_annotation(text=provenance, xref="paper", yref="paper", x=1, y=1, xanchor="right", yanchor="bottom",
                       yshift=top - 20, showarrow=False, font={"size": 9, "color": MUTED})
    return fig


def _rings(geom: BaseGeometry) -> Iterable[np.ndarray]:
    polys = geom.geoms if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []
    for p in polys:
        yield np.asarray(p.exterior.coords)


def _path(geoms: Iterable[BaseGeometry]) -> tuple[list, list]:
    """All rings of ``geoms`` in one coordinate list, separated by None (Plotly draws each)."""
    xs: list = []
    ys: list = []
    for g in geoms:
        for ring in _rings(g):
            xs.extend(ring[:, 0].tolist() + [None])
            ys.extend(ring[:, 1].tolist() + [None])
    return xs, ys


def _map_axes(fig: go.Figure, bounds: tuple[float, float, float, float], row: int | None = None,
              col: int | None = None) -> None:
    minx, miny, maxx, maxy = bounds
    lat = math.radians((miny + maxy) / 2)
    pad_x, pad_y = (maxx - minx) * 0.02, (maxy - miny) * 0.02
    kw = {"row": row, "col": col} if row else {}
    fig.update_xaxes(visible=False, range=[minx - pad_x, maxx + pad_x], **kw)
    fig.update_yaxes(visible=False, range=[miny - pad_y, maxy + pad_y], scaleanchor="x", scaleratio=1 / math.cos(lat),
                     **kw)


def _scale_bar(fig: go.Figure, bounds: tuple[float, float, float, float], lang: str) -> None:
    """A scale bar in the lower right corner (a round number of km)."""
    minx, miny, maxx, maxy = bounds
    lat = (miny + maxy) / 2
    km_per_deg = 111.32 * math.cos(math.radians(lat))
    width_km = (maxx - minx) * km_per_deg
    km = next(v for v in (20, 10, 5, 2, 1, 0.5) if v <= width_km / 4)
    x1 = maxx - (maxx - minx) * 0.02
    x0 = x1 - km / km_per_deg
    y = miny + (maxy - miny) * 0.03
    fig.add_trace(go.Scatter(x=[x0, x1], y=[y, y], mode="lines", line={"color": INK, "width": 2},
                             showlegend=False, hoverinfo="skip"))
    fig.add_annotation(x=(x0 + x1) / 2, y=y, text=f"{km:g} km" if lang == "en" else f"{km:g} 公里",
                       showarrow=False, yshift=9, font={"size": 10, "color": INK})


def short_name(name: str, lang: str) -> str:
    """A community's name without its generic suffix (社区 / Community), for labels and lists."""
    if lang == "en":
        return name.removesuffix(" Community")
    return name.removesuffix("社区") if len(name) > 3 else name


def risk_map(d: ReportData, lang: str, provenance: str) -> go.Figure:
    """Communities coloured by their level at the week's end; changed ones outlined."""
    comm = d.communities.merge(d.risk[["code", "level", "previous"]], on="code", how="left")
    comm["level"] = comm["level"].fillna("low")
    fig = go.Figure()
    for level in ("low", "medium", "high"):
        part = comm[comm["level"] == level]
        xs, ys = _path(part.geometry)
        if not xs:
            xs, ys = [None], [None]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", fill="toself", fillcolor=LEVEL_COLOURS[level],
            line={"color": "white", "width": 0.8},
            name=f"{level_name(level, lang)}  {d.risk_counts.get(level, 0)}", hoverinfo="skip"))
    changed = comm[comm["level"] != comm["previous"]]
    if len(changed):
        xs, ys = _path(changed.geometry)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": INK, "width": 2.2},
                                 name="本周变化" if lang == "zh" else "Changed this week", hoverinfo="skip"))
    xs, ys = _path([d.district])
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#52606d", "width": 1.4}, showlegend=False,
                             hoverinfo="skip"))
    labelled = comm[(comm["level"] != "low") | (comm["level"] != comm["previous"])]
    if len(labelled):
        pts = labelled.geometry.representative_point()
        names = labelled["name_zh" if lang == "zh" else "name_en"].map(lambda s: short_name(s, lang))
        fig.add_trace(go.Scatter(x=pts.x, y=pts.y, mode="text", text=names, showlegend=False, hoverinfo="skip",
                                 textfont={"size": 10, "color": INK}))
    bounds = tuple(d.communities.total_bounds)
    _scale_bar(fig, bounds, lang)
    _map_axes(fig, bounds)
    return _base(fig, 490, provenance, top=34, bottom=6, left=6, right=6)


def _heat_breaks(values: np.ndarray) -> list[tuple[int, int]]:
    """Up to five classes [lo, hi] of the cell values, on rounded quantiles."""
    values = np.sort(values.astype(int))
    if len(values) == 0:
        return []
    qs = np.quantile(values, [0.2, 0.4, 0.6, 0.8])

    def nice(v: float) -> int:
        if v < 10:
            return int(math.ceil(v))
        mag = 10 ** int(math.floor(math.log10(v)))
        return int(math.ceil(v / mag * 2) / 2 * mag)

    cuts = sorted({nice(q) for q in qs if values[0] <= q < values[-1]})
    edges = [int(values[0]) - 1, *cuts, int(values[-1])]
    return [(a + 1, b) for a, b in zip(edges, edges[1:]) if b > a]


def heat_map(d: ReportData, lang: str, provenance: str) -> go.Figure:
    """The week's scans per H3 cell over the community outlines."""
    fig = go.Figure()
    xs, ys = _path(d.communities.geometry)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#c5ccd3", "width": 0.6}, showlegend=False,
                             hoverinfo="skip"))
    xs, ys = _path([d.district])
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#52606d", "width": 1.4}, showlegend=False,
                             hoverinfo="skip"))
    heat = d.heat
    classes = _heat_breaks(heat["value"].to_numpy()) if len(heat) else []
    colours = HEAT_COLOURS[-len(classes):] if len(classes) < len(HEAT_COLOURS) else HEAT_COLOURS
    unit = " 次" if lang == "zh" else ""
    for (lo, hi), colour in zip(classes, colours):
        part = heat[(heat["value"] >= lo) & (heat["value"] <= hi)]
        hx, hy = _path(part.geometry)
        label = f"{lo:,}–{hi:,}{unit}" if hi > lo else f"{lo:,}{unit}"
        fig.add_trace(go.Scatter(x=hx or [None], y=hy or [None], mode="lines", fill="toself", fillcolor=colour,
                                 line={"color": colour, "width": 0.3}, name=label, hoverinfo="skip"))
    if not classes:
        fig.add_annotation(text=T("heat_empty", lang), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                           font={"size": 14, "color": MUTED})
    bounds = tuple(d.communities.total_bounds)
    _scale_bar(fig, bounds, lang)
    _map_axes(fig, bounds)
    return _base(fig, 500, provenance, top=34, bottom=6, left=6, right=6)


# --- contact clusters ----------------------------------------------------------------------
def _radial_layout(g: nx.Graph) -> dict[int, tuple[float, float]]:
    """Cases in the middle, each ring one step further from them; every subtree gets an
    angular sector in proportion to its leaves (deterministic: ties broken by node id)."""
    roots = sorted(n for n, a in g.nodes(data=True) if a.get("degree") == 0) or [min(g.nodes)]
    parent: dict[int, int | None] = {r: None for r in roots}
    depth = {r: 0 for r in roots}
    order = list(roots)
    i = 0
    while i < len(order):
        n = order[i]
        i += 1
        for m in sorted(g.neighbors(n)):
            if m not in depth:
                depth[m], parent[m] = depth[n] + 1, n
                order.append(m)
    for n in sorted(set(g.nodes) - set(depth)):  # not reachable from a case (should not happen)
        depth[n], parent[n] = 1, None
        order.append(n)
    children: dict[int, list[int]] = {n: [] for n in order}
    for n in order:
        if parent[n] is not None:
            children[parent[n]].append(n)
    weight: dict[int, int] = {}
    for n in reversed(order):
        weight[n] = max(1, sum(weight[c] for c in children[n]))
    tops = [n for n in order if parent[n] is None]
    pos: dict[int, tuple[float, float]] = {}

    def shares(nodes: list[int]) -> list[float]:
        # half of a sector is shared equally, half by leaves: a crowded subtree gets room
        # without squeezing its small siblings' labels together
        w = sum(weight[c] for c in nodes)
        return [0.5 / len(nodes) + 0.5 * weight[c] / w for c in nodes]

    def place(n: int, a0: float, a1: float) -> None:
        mid = (a0 + a1) / 2
        r = depth[n] if depth[n] > 0 else (0.0 if len(roots) == 1 else 0.45)
        pos[n] = (r * math.cos(mid), r * math.sin(mid))
        a = a0
        if children[n]:
            for c, share in zip(children[n], shares(children[n])):
                span = (a1 - a0) * share
                place(c, a, a + span)
                a += span

    a = math.pi / 2
    for n, share in zip(tops, shares(tops)):
        span = 2 * math.pi * share
        place(n, a, a + span)
        a += span
    return pos


def cluster_labels(graphs: list[nx.Graph], lang: str) -> list[dict[int, str]]:
    """Pseudonymised node labels (病例1, 密接3, 次密接12 ...), numbered across the clusters
    in the order drawn, within a cluster by ring and then by angle of the layout."""
    counters = {0: 0, 1: 0, 2: 0}
    names = {0: T("node_case", lang), 1: T("node_close", lang), 2: T("node_secondary", lang)}
    out = []
    for g in graphs:
        pos = _radial_layout(g)
        labels: dict[int, str] = {}

        def key(n: int) -> tuple:
            x, y = pos[n]
            return (min(int(g.nodes[n].get("degree", 2)), 2), round((math.pi / 2 - math.atan2(y, x)) % (2 * math.pi), 6), n)

        for n in sorted(g.nodes, key=key):
            kind = min(int(g.nodes[n].get("degree", 2)), 2)
            counters[kind] += 1
            labels[n] = f"{names[kind]}{counters[kind]}"
        out.append(labels)
    return out


def cluster_picture(d: ReportData, lang: str, provenance: str, *, max_clusters: int = 3,
                    max_secondary_labels: int = SECONDARY_LABELS) -> go.Figure:
    """The largest contact clusters side by side, nodes labelled with pseudonymised roles."""
    graphs = d.clusters[:max_clusters]
    n = max(len(graphs), 1)
    widths = [1.0] if n == 1 else ([0.5] + [0.5 / (n - 1)] * (n - 1))
    titles = [T("cluster_n", lang, i=i + 1, n=g.number_of_nodes()) for i, g in enumerate(graphs)] or [""]
    fig = make_subplots(rows=1, cols=n, column_widths=widths, subplot_titles=titles, horizontal_spacing=0.03)
    for ann in fig.layout.annotations:
        ann.font = {"size": 12, "color": INK}
    all_labels = cluster_labels(graphs, lang)
    legend_done: set[int] = set()
    for ci, (g, labels) in enumerate(zip(graphs, all_labels), start=1):
        pos = _radial_layout(g)
        ex: list = []
        ey: list = []
        for a, b in sorted(g.edges):
            ex += [pos[a][0], pos[b][0], None]
            ey += [pos[a][1], pos[b][1], None]
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#b8c0c8", "width": 0.8}, showlegend=False,
                                 hoverinfo="skip"), row=1, col=ci)
        n_secondary = sum(1 for _, a in g.nodes(data=True) if min(int(a.get("degree", 2)), 2) == 2)
        for kind in (2, 1, 0):
            nodes = [m for m in sorted(g.nodes) if min(int(g.nodes[m].get("degree", 2)), 2) == kind]
            if not nodes:
                continue
            show_text = kind < 2 or n_secondary <= max_secondary_labels
            name = {0: T("node_case", lang), 1: T("node_close", lang), 2: T("node_secondary", lang)}[kind]
            fig.add_trace(go.Scatter(
                x=[pos[m][0] for m in nodes], y=[pos[m][1] for m in nodes],
                mode="markers+text" if show_text else "markers",
                text=[labels[m] for m in nodes] if show_text else None, textposition="top center",
                textfont={"size": 9 if kind == 2 else 10, "color": INK},
                marker={"size": {0: 15, 1: 11, 2: 7}[kind], "color": NODE_COLOURS[kind],
                        "line": {"color": "white", "width": 1}},
                name=name, legendgroup=str(kind), legendrank=10 + kind, showlegend=kind not in legend_done,
                hoverinfo="skip",
            ), row=1, col=ci)
            legend_done.add(kind)
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        r = max(1.0, max(max(map(abs, xs)), max(map(abs, ys)))) + 0.45
        fig.update_xaxes(visible=False, range=[-r, r], row=1, col=ci)
        fig.update_yaxes(visible=False, range=[-r, r], scaleanchor=f"x{'' if ci == 1 else ci}", scaleratio=1,
                         row=1, col=ci)
    if not graphs:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text=T("clusters_none", lang), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                           font={"size": 14, "color": MUTED})
    fig = _base(fig, 330, provenance, top=50, bottom=6, left=6, right=6)
    fig.update_layout(legend={"y": 1.08})
    return fig


# --- traffic ---------------------------------------------------------------------------------
_WEEKDAYS = {"zh": "一二三四五六日", "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def _day_ticks(start, days: int, lang: str) -> tuple[list, list[str]]:  # noqa: ANN001
    vals, text = [], []
    for i in range(days):
        day = start + timedelta(days=i)
        vals.append(pd.Timestamp(day))
        wd = day.weekday()
        text.append(f"{day.month}/{day.day} 周{_WEEKDAYS['zh'][wd]}" if lang == "zh"
                    else f"{_WEEKDAYS['en'][wd]} {day.day}/{day.month}")
    return vals, text


def throughput_chart(d: ReportData, lang: str, provenance: str) -> go.Figure:
    """Vehicles per hour in and out, and turned back, over the week (district totals)."""
    t = d.throughput.copy()
    t["hour"] = pd.to_datetime(t["hour"]).dt.tz_localize(None) if len(t) else t["hour"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t["hour"], y=t["in"], name=T("dir_in", lang), mode="lines", stackgroup="v",
                             line={"color": IN_COLOUR, "width": 0.6, "shape": "hv"}, fillcolor="rgba(37,99,235,0.55)"))
    fig.add_trace(go.Scatter(x=t["hour"], y=t["out"], name=T("dir_out", lang), mode="lines", stackgroup="v",
                             line={"color": OUT_COLOUR, "width": 0.6, "shape": "hv"}, fillcolor="rgba(15,157,138,0.45)"))
    fig.add_trace(go.Bar(x=t["hour"] + pd.Timedelta(minutes=30), y=t["turned_back"], name=T("turned_back", lang),
                         marker_color=BACK_COLOUR, width=40 * 60 * 1000))
    vals, text = _day_ticks(d.start, 7, lang)
    fig.update_xaxes(tickvals=vals, ticktext=text, showgrid=True, gridcolor=GRID, ticklabelmode="period",
                     range=[pd.Timestamp(d.start), pd.Timestamp(d.end)])
    fig.update_yaxes(gridcolor=GRID, rangemode="tozero", title={"text": "辆次/小时" if lang == "zh" else "vehicles/h",
                                                                "font": {"size": 11}})
    fig = _base(fig, 230, provenance, top=40, bottom=30, left=56)
    fig.update_layout(legend={"traceorder": "normal"})
    return fig


def funnel_chart(d: ReportData, lang: str, provenance: str) -> go.Figure:
    """Applications by outcome (as of the week's end) and the approval-time histogram against the promise."""
    f = d.funnel
    target = f.target_minutes
    fig = make_subplots(rows=1, cols=2, column_widths=[0.36, 0.64], horizontal_spacing=0.12)
    keys = [("f_applied", f.applied, "#52606d"), ("f_approved", f.approved, OUT_COLOUR),
            ("f_rejected", f.rejected, BACK_COLOUR), ("f_pending", f.pending, "#9aa5b1")]
    fig.add_trace(go.Bar(
        y=[T(k, lang) for k, _, _ in keys][::-1], x=[v for _, v, _ in keys][::-1], orientation="h",
        marker_color=[c for _, _, c in keys][::-1], text=[fmt_count(v) for _, v, _ in keys][::-1],
        textposition="outside", cliponaxis=False, showlegend=False), row=1, col=1)
    top = max([v for _, v, _ in keys] + [1])
    fig.update_xaxes(visible=False, range=[0, top * 1.3], row=1, col=1)
    hist = f.latency_histogram
    hist = hist[(hist["passes"] > 0) | (hist["to_min"] <= 60)]
    within = hist["to_min"] <= target
    fig.add_trace(go.Bar(x=hist["label"], y=hist["passes"], marker_color=[OUT_COLOUR if w else "#f59e0b" for w in within],
                         showlegend=False, text=[fmt_count(v) if v else "" for v in hist["passes"]],
                         textposition="outside", cliponaxis=False, textfont={"size": 10}), row=1, col=2)
    n_within = int(within.sum())
    if 0 < n_within < len(hist):
        fig.add_vline(x=n_within - 0.5, line={"color": INK, "width": 1.2, "dash": "dash"}, row=1, col=2)
    fig.add_annotation(text=T("f_within", lang, target=f"{target:g}", share=fmt_pct(f.within_target_share)),
                       xref="x2 domain", yref="y2 domain", x=0.98, y=0.98, xanchor="right", yanchor="top",
                       showarrow=False, font={"size": 12, "color": INK}, bgcolor="rgba(255,255,255,0.8)")
    fig.update_xaxes(title={"text": T("f_minutes", lang), "font": {"size": 11}}, tickfont={"size": 10}, row=1, col=2)
    fig.update_yaxes(gridcolor=GRID, title={"text": T("f_passes", lang), "font": {"size": 11}},
                     range=[0, max(1, int(hist["passes"].max()) if len(hist) else 1) * 1.18], row=1, col=2)
    return _base(fig, 235, provenance, top=26, bottom=44, left=56, legend=False)


def isolation_chart(d: ReportData, lang: str, provenance: str) -> go.Figure:
    """Occupied beds per day over last week and this week, capacity, and the 3/7-day forecast."""
    s = d.isolation_series.copy()
    fig = go.Figure()
    if len(s):
        s["x"] = pd.to_datetime(s["day"]).dt.tz_localize(None) + pd.Timedelta(hours=12)
        fig.add_trace(go.Bar(x=s["x"], y=s["admissions"], name=T("iso_admissions", lang), marker_color="#93c5fd"))
        fig.add_trace(go.Bar(x=s["x"], y=-s["discharges"], name=T("iso_discharges", lang), marker_color="#c4b5fd"))
        fig.add_trace(go.Scatter(x=s["x"], y=s["occupied"], name=T("iso_occupied", lang), mode="lines+markers",
                                 line={"color": IN_COLOUR, "width": 2}, marker={"size": 5}))
    iso = d.isolation
    end = pd.Timestamp(d.end)
    x_fc = [end, end + pd.Timedelta(days=3), end + pd.Timedelta(days=7)]
    y_fc = [iso.occupied, iso.capacity - iso.free_in_3d, iso.capacity - iso.free_in_7d]
    fig.add_trace(go.Scatter(x=x_fc, y=y_fc, name=T("iso_forecast", lang), mode="lines+markers+text",
                             line={"color": IN_COLOUR, "width": 2, "dash": "dash"}, marker={"size": 6},
                             text=["", fmt_count(y_fc[1]), fmt_count(y_fc[2])], textposition="top left",
                             cliponaxis=False))
    x0 = pd.Timestamp(d.start - timedelta(days=7))
    x1 = end + pd.Timedelta(days=7)
    top = max([*y_fc, *(s["occupied"].tolist() if len(s) else []), *(s["admissions"].tolist() if len(s) else []), 1])
    cap_label = f"{T('iso_capacity', lang)} {fmt_count(iso.capacity)}"
    if iso.capacity <= top * 2.5:
        # the beds fit on the chart: draw them as a line
        fig.add_trace(go.Scatter(x=[x0, x1], y=[iso.capacity, iso.capacity], mode="lines", name=cap_label,
                                 line={"color": BACK_COLOUR, "width": 1.4, "dash": "dot"}))
        top = max(top, iso.capacity)
    else:
        # far more beds than occupants: drawing them would flatten the occupancy to a line on the floor
        fig.add_annotation(text=f"{cap_label} ↑", xref="paper", yref="paper", x=0.005, y=1.0, xanchor="left",
                           yanchor="top", showarrow=False, font={"size": 11, "color": BACK_COLOUR})
    low = -max(s["discharges"].tolist() if len(s) else [0])
    fig.update_yaxes(range=[low * 1.15 if low else -0.5, top * 1.18])
    fig.add_vline(x=end, line={"color": MUTED, "width": 1})
    vals, text = _day_ticks(d.start - timedelta(days=7), 21, lang)
    fig.update_xaxes(tickvals=vals[::2], ticktext=text[::2], range=[x0, x1], gridcolor=GRID, tickfont={"size": 10})
    fig.update_yaxes(gridcolor=GRID, zeroline=True, zerolinecolor="#9aa5b1",
                     title={"text": "人" if lang == "zh" else "persons", "font": {"size": 11}})
    fig.update_layout(barmode="relative", bargap=0.25)
    return _base(fig, 270, provenance, top=40, bottom=30, left=56)


def all_charts(d: ReportData, lang: str, provenance: str) -> dict[str, go.Figure]:
    """Every chart of the briefing by name, in the order printed."""
    return {
        "risk": risk_map(d, lang, provenance),
        "heat": heat_map(d, lang, provenance),
        "clusters": cluster_picture(d, lang, provenance),
        "throughput": throughput_chart(d, lang, provenance),
        "funnel": funnel_chart(d, lang, provenance),
        "isolation": isolation_chart(d, lang, provenance),
    }
