"""Map figures (Plotly ``choroplethmap`` / ``scattermap`` on MapLibre, offline style).

Pure builders: data in, a figure out, as a plain dict (``{"data": [...], "layout": {...}}``):
``plotly.graph_objects`` validates every array on construction, which costs more than the
rest of a wall refresh; the tests validate the dicts with ``go.Figure(fig)`` instead.

Trace order is drawing order: the community fill (the risk choropleth, or a plain fill
with the risk layer off) and its outlines, the H3 heatmap, street and district
outlines, then the site markers on top.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboard import i18n
from dashboard.geo import Basemap, feature_collection, fit_view
from dashboard.i18n import t
from dashboard.theme import FONT_FAMILY, Theme, map_style

__all__ = ["LAYERS", "sandbox_map", "trace_map", "empty_map", "occupancy_bucket", "RISK_Z"]

LAYERS = ("risk", "heatmap", "checkpoints", "isolation")
RISK_Z = {"low": 0, "medium": 1, "high": 2}


def _frame(data: list[dict], basemap: Basemap | None, theme: Theme, viewport: tuple[float, float],
           uirevision: str) -> dict:
    bounds = basemap.bounds if basemap is not None else (120.75, 40.65, 120.95, 40.80)
    centre, zoom = fit_view(bounds, *viewport)
    layout = {
        "map": {"style": map_style(theme), "center": centre, "zoom": zoom},
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "paper_bgcolor": theme.map_background,
        "font": {"family": FONT_FAMILY, "color": theme.text},
        "hoverlabel": {"font": {"family": FONT_FAMILY, "size": 14}},
        "showlegend": False,
        "uirevision": uirevision,
    }
    return {"data": data, "layout": layout}


def _list(values: object) -> list:
    """JSON-ready list (numpy scalars and NA become plain numbers and None)."""
    out = []
    for v in (values.tolist() if hasattr(values, "tolist") else list(values)):
        out.append(None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else v)
    return out


def _fill(basemap: Basemap, risk: pd.DataFrame | None, theme: Theme, lang: str, scale: float) -> dict:
    """The communities: coloured by risk level when ``risk`` is given, else a plain fill."""
    levels = dict(zip(risk["code"], risk["level"])) if risk is not None else {}
    reasons = dict(zip(risk["code"], risk["reasons"])) if risk is not None else {}
    drops = dict(zip(risk["code"], risk["may_drop_on"])) if risk is not None else {}
    names = basemap.names_zh if lang == "zh" else basemap.names_en
    z, custom = [], []
    for code, nm in zip(basemap.codes, names):
        level = levels.get(code, "low")
        z.append(RISK_Z[level] if risk is not None else 0)
        why = "，".join(t(f"risk.reason.{r['reason']}", lang) for r in reasons.get(code, []))
        drop = drops.get(code)
        extra = f"<br>{t('risk.may_drop_on', lang)} {i18n.fmt_date(drop, lang, weekday=False)}" if drop else ""
        label = t(f"risk.{level}", lang) if risk is not None else ""
        custom.append([i18n.plain(nm), label, why, extra])
    low = theme.risk["low"]
    scale_colours = [[0, low], [0.33, low], [0.33, theme.risk["medium"]], [0.66, theme.risk["medium"]],
                     [0.66, theme.risk["high"]], [1, theme.risk["high"]]]
    return {
        "type": "choroplethmap", "geojson": basemap.communities, "locations": list(basemap.codes), "z": z,
        "zmin": 0, "zmax": 2, "colorscale": scale_colours, "showscale": False, "customdata": custom,
        "marker": {"opacity": theme.risk_opacity if risk is not None else 0.55,
                   "line": {"width": 0.8 * scale, "color": theme.outline}},
        "hovertemplate": "<b>%{customdata[0]}</b><br>%{customdata[1]} %{customdata[2]}%{customdata[3]}<extra></extra>",
        "name": "risk",
    }


def _lines(xy: tuple[list, list], colour: str, width: float, name: str) -> dict:
    return {"type": "scattermap", "lon": xy[0], "lat": xy[1], "mode": "lines",
            "line": {"color": colour, "width": width}, "hoverinfo": "skip", "name": name}


def _heat(heat: gpd.GeoDataFrame, theme: Theme, lang: str, scale: float) -> dict | None:
    if heat is None or heat.empty:
        return None
    measure = heat.attrs.get("measure", "scans")
    title = t(f"measure.{measure}", lang)
    values = heat["value"].to_numpy(dtype=float)
    return {
        "type": "choroplethmap", "geojson": feature_collection(list(heat.geometry), list(heat["h3"])),
        "locations": list(heat["h3"]), "z": _list(values), "zmin": 0,
        "zmax": float(np.quantile(values, 0.98)) if len(values) > 4 else float(values.max()),
        "colorscale": [list(s) for s in theme.heat], "marker": {"opacity": theme.heat_opacity, "line": {"width": 0}},
        "customdata": [[int(a), int(b)] for a, b in zip(heat["value"], heat["persons"])],
        "hovertemplate": f"{title}: %{{customdata[0]:,}}<br>{t('measure.persons', lang)}: %{{customdata[1]:,}}"
                         "<extra></extra>",
        "colorbar": {"title": {"text": title, "font": {"size": round(13 * scale), "color": theme.text}},
                     "thickness": round(12 * scale), "len": 0.45, "x": 0.995, "xanchor": "right", "y": 0.02,
                     "yanchor": "bottom", "tickfont": {"size": round(12 * scale), "color": theme.text},
                     "outlinewidth": 0, "bgcolor": "rgba(0,0,0,0)"},
        "name": "heatmap",
    }


def occupancy_bucket(occupancy: float | None, over_90: bool = False) -> str:
    """``high`` over 90 %, ``mid`` from 70 %, else ``low``."""
    if over_90:
        return "high"
    if occupancy is None or (isinstance(occupancy, float) and math.isnan(occupancy)):
        return "low"
    return "high" if occupancy > 0.9 else ("mid" if occupancy >= 0.7 else "low")


def _checkpoints(sites: pd.DataFrame, summary: pd.DataFrame, theme: Theme, lang: str,
                 scale: float) -> dict | None:
    if sites is None or summary is None or summary.empty:
        return None
    df = summary.merge(sites[["site_code", "lon", "lat"]], left_on="checkpoint_code", right_on="site_code")
    if df.empty:
        return None
    v = df["vehicles"].to_numpy(dtype=float)
    top = max(v.max(), 1.0)
    size = (10 + 34 * np.sqrt(v / top)) * scale
    unit = t("unit.vehicles", lang)
    counts = [i18n.fmt_int(x, lang) for x in v]
    return {
        "type": "scattermap", "lon": _list(df["lon"]), "lat": _list(df["lat"]), "mode": "markers+text",
        "marker": {"size": _list(np.round(size, 1)), "color": theme.checkpoint, "opacity": 0.85},
        "text": counts, "textposition": "middle right",
        "textfont": {"size": round(13 * scale), "color": theme.text},
        "customdata": [[i18n.plain(nm), c, i18n.fmt_share(x, lang)] for nm, c, x in zip(df["name"], counts,
                                                                            df["turned_back_share"])],
        "hovertemplate": (f"<b>%{{customdata[0]}}</b><br>%{{customdata[1]}} {unit}<br>"
                          f"{t('col.turned_back_share', lang)} %{{customdata[2]}}<extra></extra>"),
        "name": "checkpoints",
    }


def _isolation(sites: pd.DataFrame, status: pd.DataFrame, theme: Theme, lang: str, scale: float) -> list:
    if sites is None or status is None or status.empty:
        return []
    df = status.merge(sites[["site_code", "lon", "lat"]], on="site_code")
    df = df[df["capacity"].notna()]
    if df.empty:
        return []
    df = df.assign(bucket=[occupancy_bucket(o, b) for o, b in zip(df["occupancy"], df["over_90"])])
    out = []
    for bucket in ("low", "mid", "high"):
        part = df[df["bucket"] == bucket]
        if part.empty:
            continue
        labels = [i18n.fmt_share(o, lang, 0) for o in part["occupancy"]]
        out.append({
            "type": "scattermap", "lon": _list(part["lon"]), "lat": _list(part["lat"]), "mode": "markers+text",
            "marker": {"size": round((24 if bucket == "high" else 18) * scale, 1), "color": theme.occupancy[bucket],
                       "opacity": 0.95},
            "text": labels, "textposition": "bottom center",
            "textfont": {"size": round(13 * scale), "color": theme.text},
            "customdata": [[i18n.plain(nm), lb, i18n.fmt_int(o, lang), i18n.fmt_int(c, lang)]
                           for nm, lb, o, c in zip(part["name"], labels, part["occupied"], part["capacity"])],
            "hovertemplate": (f"<b>%{{customdata[0]}}</b><br>{t('map.occupancy', lang)} %{{customdata[1]}} "
                              "(%{customdata[2]} / %{customdata[3]})<extra></extra>"),
            "name": f"isolation-{bucket}",
        })
    return out


def sandbox_map(
    *,
    basemap: Basemap | None,
    risk: pd.DataFrame | None,
    heat: gpd.GeoDataFrame | None,
    sites: pd.DataFrame | None,
    checkpoints: pd.DataFrame | None,
    isolation: pd.DataFrame | None,
    layers: tuple[str, ...] | list[str],
    theme: Theme,
    lang: str,
    viewport: tuple[float, float] = (1000, 800),
    scale: float = 1.0,
) -> dict:
    """The sandbox map: the base outlines plus each layer in ``layers`` that has data."""
    if basemap is None:
        return empty_map(theme, viewport=viewport)
    show = set(layers)
    data = [_fill(basemap, risk if "risk" in show else None, theme, lang, scale)]
    if "heatmap" in show:
        heat_trace = _heat(heat, theme, lang, scale)
        if heat_trace is not None:
            data.append(heat_trace)
    data.append(_lines(basemap.streets, theme.street, 1.4 * scale, "streets"))
    data.append(_lines(basemap.district, theme.district, 3.0 * scale, "district"))
    if "checkpoints" in show:
        cp = _checkpoints(sites, checkpoints, theme, lang, scale)
        if cp is not None:
            data.append(cp)
    if "isolation" in show:
        data.extend(_isolation(sites, isolation, theme, lang, scale))
    return _frame(data, basemap, theme, viewport, "sandbox")


def empty_map(theme: Theme, basemap: Basemap | None = None, viewport: tuple[float, float] = (1000, 800)) -> dict:
    if basemap is not None:
        data = [_lines(basemap.district, theme.district, 3.0, "district")]
    else:
        data = [{"type": "scattermap", "lon": [], "lat": [], "mode": "markers"}]
    return _frame(data, basemap, theme, viewport, "empty")


def trace_map(trace: object, basemap: Basemap | None, theme: Theme, lang: str,
              viewport: tuple[float, float] = (900, 600)) -> dict:
    """The index person's trajectory (numbered, in order) over the base map; the sites
    where close contacts were exposed are ringed in red."""
    data: list[dict] = []
    if basemap is not None:
        data.append(_fill(basemap, None, theme, lang, 1.0))
        data.append(_lines(basemap.streets, theme.street, 1.2, "streets"))
        data.append(_lines(basemap.district, theme.district, 2.5, "district"))
    traj = trace.trajectory
    exposed: set[str] = set()
    for exposures in trace.close_contacts.get("exposures", []):
        exposed |= {e["site_code"] for e in exposures}
    if not traj.empty:
        data.append({"type": "scattermap", "lon": _list(traj["lon"]), "lat": _list(traj["lat"]), "mode": "lines",
                     "line": {"color": theme.accent, "width": 3}, "hoverinfo": "skip", "name": "path"})
        hot = traj[traj["site_code"].isin(exposed)]
        if not hot.empty:
            data.append({"type": "scattermap", "lon": _list(hot["lon"]), "lat": _list(hot["lat"]),
                         "mode": "markers", "marker": {"size": 26, "color": theme.risk["high"], "opacity": 0.45},
                         "hoverinfo": "skip", "name": "exposed"})
        times = [i18n.fmt_datetime(x, lang) for x in traj["scanned_at"]]
        data.append({
            "type": "scattermap", "lon": _list(traj["lon"]), "lat": _list(traj["lat"]), "mode": "markers+text",
            "marker": {"size": 14, "color": theme.accent},
            "text": [str(i + 1) for i in range(len(traj))], "textposition": "top right",
            "textfont": {"size": 13, "color": theme.text},
            "customdata": [[i18n.plain(a), i18n.plain(b), c]
                           for a, b, c in zip(traj["site_name"], traj["site_code"], times)],
            "hovertemplate": "<b>%{text}. %{customdata[0]}</b> (%{customdata[1]})<br>%{customdata[2]}<extra></extra>",
            "name": "trajectory"})
    return _frame(data, basemap, theme, viewport, "trace")
