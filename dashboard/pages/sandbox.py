"""Sandbox ``/``: the wall. The district map (risk choropleth, H3 heatmap, checkpoints
sized by throughput, isolation sites coloured by occupancy), the KPI tiles with the
change against yesterday, and side panels (risk areas, isolation sites, checkpoints).

Every panel refreshes on the shell's tick; the provider answers each question once per
tick for all screens. ``render_*`` are the callbacks' bodies, callable without a browser.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html

from dashboard import i18n
from dashboard.app import AppContext
from dashboard.components import empty_state, error_state, graph, kpi_tiles, panel, shell
from dashboard.i18n import t
from dashboard.ids import Sandbox, Shell
from dashboard.maps import LAYERS, occupancy_bucket, sandbox_map
from dashboard.provider import (
    BasemapRequest, CheckpointSummaryRequest, HeatmapRequest, IsolationStatusRequest, KpiRequest, RiskRequest,
    SitesRequest,
)

__all__ = ["PATH", "KEY", "ORDER", "layout", "register", "render_kpis", "render_map", "render_side",
           "MEASURES", "RESOLUTIONS", "WINDOWS", "DEFAULTS"]

PATH = "/"
KEY = "sandbox"
ORDER = 0

MEASURES = ("scans", "persons", "abnormal")
RESOLUTIONS = (7, 8, 9)
WINDOWS = (6, 24, 72, 168)  # hours
DEFAULTS = {"measure": "scans", "resolution": 8, "hours": 24, "layers": list(LAYERS)}
#: the map's share of the viewport (width, height), for fitting the district into it
_MAP_SHARE = {True: (0.53, 0.86), False: (0.52, 0.74)}


def _window_label(hours: int, lang: str) -> str:
    return t("window.days", lang, n=hours // 24) if hours >= 48 else t("window.hours", lang, n=hours)


def _controls(ctx: AppContext, lang: str) -> html.Div:
    """The map's controls; present but hidden on the wall (the callbacks read them)."""
    return html.Div([
        html.Div([html.Label(t("control.measure", lang)),
                  dcc.RadioItems(id=Sandbox.MEASURE, value=DEFAULTS["measure"], inline=True,
                                 options=[{"label": t(f"measure.{m}", lang), "value": m} for m in MEASURES])],
                 className="st-control"),
        html.Div([html.Label(t("control.resolution", lang)),
                  dcc.RadioItems(id=Sandbox.RESOLUTION, value=DEFAULTS["resolution"], inline=True,
                                 options=[{"label": t(f"res.{r}", lang), "value": r} for r in RESOLUTIONS])],
                 className="st-control"),
        html.Div([html.Label(t("control.window", lang)),
                  dcc.RadioItems(id=Sandbox.WINDOW, value=DEFAULTS["hours"], inline=True,
                                 options=[{"label": _window_label(h, lang), "value": h} for h in WINDOWS])],
                 className="st-control"),
        html.Div([html.Label(t("control.layers", lang)),
                  dcc.Checklist(id=Sandbox.LAYERS, value=DEFAULTS["layers"], inline=True,
                                options=[{"label": t(f"layer.{x}", lang), "value": x} for x in LAYERS])],
                 className="st-control"),
    ], className="st-controls", hidden=ctx.wall)


def _legend(ctx: AppContext, lang: str) -> html.Div:
    th = ctx.theme

    def item(colour: str, label: str, shape: str = "square") -> html.Span:
        return html.Span([html.Span(className=f"st-swatch {shape}", style={"background": colour}), label],
                         className="st-legend-item")

    return html.Div([
        item(th.risk["high"], t("risk.high", lang)), item(th.risk["medium"], t("risk.medium", lang)),
        item(th.risk["low"], t("risk.low", lang)),
        item(th.checkpoint, t("layer.checkpoints", lang), "dot"),
        item(th.occupancy["low"], t("occ.low", lang), "dot"), item(th.occupancy["mid"], t("occ.mid", lang), "dot"),
        item(th.occupancy["high"], t("occ.high", lang), "dot"),
    ], className="st-legend")


def layout(ctx: AppContext, lang: str) -> html.Div:
    body = html.Div([
        html.Aside(html.Div(id=Sandbox.KPIS, className="st-kpis"), className="st-col st-col-kpis"),
        html.Section([
            html.Div([html.H2(id=Sandbox.MAP_TITLE, className="st-panel-title"), _controls(ctx, lang)],
                     className="st-map-head"),
            html.Div([graph(Sandbox.MAP, wall=ctx.wall, class_name="st-map"), _legend(ctx, lang),
                      html.Div(id=Sandbox.MAP_NOTE, className="st-map-note")], className="st-map-wrap"),
        ], className="st-col st-col-map st-panel"),
        html.Aside([
            panel(t("panel.risk", lang), None, id_=Sandbox.RISK, class_name="st-side-risk"),
            panel(t("panel.isolation", lang), None, id_=Sandbox.ISOLATION, class_name="st-side-isolation"),
            panel(t("panel.checkpoints", lang), None, id_=Sandbox.CHECKPOINTS, class_name="st-side-checkpoints"),
        ], className="st-col st-col-side"),
        dcc.Interval(id=Sandbox.ROTATE, interval=int(max(ctx.rotate_s, 1) * 1000), n_intervals=0,
                     disabled=not (ctx.wall and ctx.rotate_s > 0)),
    ], className="st-sandbox")
    return shell(page=KEY, lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role, body=[body])


# --- callback bodies --------------------------------------------------------------
def render_kpis(ctx: AppContext, lang: str) -> list:
    return ctx.provider.memo("sandbox-kpis", lang, lambda: _build_kpis(ctx, lang))


def _build_kpis(ctx: AppContext, lang: str) -> list:
    anchor, _ = ctx.provider.anchor()
    if not anchor.has_data:
        return [empty_state(lang)]
    fetched = ctx.provider.get(KpiRequest(anchor.day))
    if fetched.value is None:
        return [error_state(lang, fetched.error)] if fetched.error and not fetched.stale else [empty_state(lang)]
    day = html.Div(t("kpi.day", lang, day=i18n.fmt_date(anchor.day, lang)), className="st-kpi-day")
    return [day, *kpi_tiles(fetched.value, lang)]


def render_map(ctx: AppContext, lang: str, *, layers: list[str] | None = None, measure: str | None = None,
               resolution: int | None = None, hours: int | None = None, viewport: list | None = None,
               rotation: int | None = None) -> tuple:
    """(figure, title, note) of the sandbox map."""
    p = ctx.provider
    layers = list(DEFAULTS["layers"] if layers is None else layers)
    measure = measure if measure in MEASURES else DEFAULTS["measure"]
    if ctx.wall and ctx.rotate_s > 0 and rotation:
        measure = MEASURES[rotation % len(MEASURES)]
    resolution = resolution if resolution in RESOLUTIONS else DEFAULTS["resolution"]
    hours = hours if hours in WINDOWS else DEFAULTS["hours"]
    vw, vh = (viewport or (1920, 1080))[:2]
    vw, vh = int(round(vw / 10) * 10), int(round(vh / 10) * 10)  # bucketed: a bounded number of views
    key = (tuple(sorted(layers)), measure, resolution, hours, vw, vh, lang)
    return p.memo("sandbox-map", key, lambda: _build_map(ctx, lang, layers, measure, resolution, hours, vw, vh))


def _build_map(ctx: AppContext, lang: str, layers: list[str], measure: str, resolution: int, hours: int,
               vw: int, vh: int) -> tuple:
    p = ctx.provider
    share_w, share_h = _MAP_SHARE[ctx.wall]
    view = (vw * share_w, max(vh * share_h, 420))
    scale = ctx.scale * (max(min(vw / 1920, 2.5), 0.6) if ctx.wall else 1.0)
    anchor, _ = p.anchor()
    wanted = {"base": BasemapRequest(), "sites": SitesRequest()}
    if "risk" in layers:
        wanted["risk"] = RiskRequest(anchor.day)
    if "heatmap" in layers and anchor.has_data:
        wanted["heat"] = HeatmapRequest(anchor.end, hours, resolution, measure)
    if "checkpoints" in layers:
        wanted["checkpoints"] = CheckpointSummaryRequest(anchor.end, 24)
    if "isolation" in layers:
        wanted["isolation"] = IsolationStatusRequest(anchor.end)
    got = {k: f.value for k, f in zip(wanted, p.get_many(list(wanted.values())))}
    base, sites, risk, heat = got["base"], got["sites"], got.get("risk"), got.get("heat")
    checkpoints, isolation = got.get("checkpoints"), got.get("isolation")
    note = ""
    if heat is not None and heat.attrs.get("suppressed_cells"):
        note = t("map.suppressed", lang, n=heat.attrs["suppressed_cells"], k=heat.attrs.get("k", 5))
    fig = sandbox_map(basemap=base, risk=risk, heat=heat, sites=sites, checkpoints=checkpoints, isolation=isolation,
                      layers=layers, theme=ctx.theme, lang=lang, viewport=view, scale=scale)
    title = f"{t('map.title', lang)} · {t(f'measure.{measure}', lang)} · {_window_label(hours, lang)}"
    if not anchor.has_data:
        note = t("status.no_data", lang)
    return fig, title, note


def _risk_panel(ctx: AppContext, risk: object, lang: str) -> list:
    if risk is None or risk.empty:
        return [empty_state(lang, hint=False)]
    counts = risk["level"].value_counts()
    summary = html.Div([
        html.Div([html.Div(i18n.fmt_int(counts.get(level, 0), lang), className=f"st-risk-n {level}"),
                  html.Div(t(f"risk.{level}", lang), className="st-risk-label")], className="st-risk-count")
        for level in ("high", "medium", "low")
    ], className="st-risk-counts")
    hot = risk[risk["level"] != "low"]
    limit = 6 if ctx.wall else 8
    items = []
    for row in hot.head(limit).itertuples():
        why = "、".join(t(f"risk.reason.{r['reason']}", lang) for r in row.reasons) if lang == "zh" else \
            ", ".join(t(f"risk.reason.{r['reason']}", lang) for r in row.reasons)
        items.append(html.Li([html.Span(className=f"st-dot {row.level}"),
                              html.Span(i18n.name(row._asdict(), lang), className="st-item-name"),
                              html.Span(why, className="st-item-note")], className="st-list-item"))
    if len(hot) > limit:
        items.append(html.Li(t("panel.more", lang, n=len(hot) - limit), className="st-list-more"))
    if not items:
        items = [html.Li(t("panel.none_high", lang), className="st-list-more")]
    return [summary, html.Ul(items, className="st-list")]


def _isolation_panel(ctx: AppContext, status: object, lang: str) -> list:
    if status is None:
        return [empty_state(lang, hint=False)]
    df = status[status["capacity"].notna()].sort_values("occupancy", ascending=False)
    if df.empty:
        return [empty_state(lang, hint=False)]
    items = []
    for row in df.head(6 if ctx.wall else 8).itertuples():
        bucket = occupancy_bucket(row.occupancy, row.over_90)
        pct = 0.0 if row.occupancy != row.occupancy else min(float(row.occupancy), 1.0)
        items.append(html.Li([
            html.Div([html.Span(row.name, className="st-item-name"),
                      html.Span(i18n.fmt_share(row.occupancy, lang, 0), className=f"st-item-value {bucket}")],
                     className="st-item-row"),
            html.Div(html.Div(className=f"st-bar-fill {bucket}", style={"width": f"{100 * pct:.0f}%"}),
                     className="st-bar"),
            html.Div(f"{i18n.fmt_int(row.occupied, lang)} / {i18n.fmt_int(row.capacity, lang)} · "
                     f"{t('panel.beds_free', lang, n=i18n.fmt_int(row.free, lang))}", className="st-item-note"),
        ], className="st-list-item st-iso-item" + (" over90" if row.over_90 else "")))
    return [html.Ul(items, className="st-list")]


def _checkpoint_panel(ctx: AppContext, summary: object, lang: str) -> list:
    if summary is None or summary.empty or int(summary["vehicles"].sum()) == 0:
        return [empty_state(lang, hint=False)]
    df = summary.sort_values("vehicles", ascending=False)
    top = max(int(df["vehicles"].max()), 1)
    items = []
    for row in df.head(5 if ctx.wall else 8).itertuples():
        items.append(html.Li([
            html.Div([html.Span(row.name, className="st-item-name"),
                      html.Span(i18n.fmt_int(row.vehicles, lang), className="st-item-value")],
                     className="st-item-row"),
            html.Div(html.Div(className="st-bar-fill cp", style={"width": f"{100 * row.vehicles / top:.0f}%"}),
                     className="st-bar"),
        ], className="st-list-item"))
    return [html.Ul(items, className="st-list")]


def render_side(ctx: AppContext, lang: str) -> tuple:
    """(risk, isolation, checkpoints) panels."""
    return ctx.provider.memo("sandbox-side", lang, lambda: _build_side(ctx, lang))


def _build_side(ctx: AppContext, lang: str) -> tuple:
    p = ctx.provider
    anchor, fetched = p.anchor()
    if not anchor.has_data:
        empty = [empty_state(lang, hint=False)]
        return empty, empty, empty
    risk, status, summary = p.get_many([RiskRequest(anchor.day), IsolationStatusRequest(anchor.end),
                                        CheckpointSummaryRequest(anchor.end, 24)])

    def guard(f: object, fn: object) -> list:
        if f.value is None and f.error and not f.stale:
            return [error_state(lang, f.error)]
        return fn(ctx, f.value, lang)

    return guard(risk, _risk_panel), guard(status, _isolation_panel), guard(summary, _checkpoint_panel)


def register(app: Dash, ctx: AppContext) -> None:
    def lang_of(lang: str | None) -> str:
        return i18n.resolve_lang(lang, ctx.lang)

    @app.callback(Output(Sandbox.KPIS, "children"), Input(Shell.TICK, "n_intervals"), State(Shell.LANG, "data"))
    def _kpis(_n: int, lang: str | None) -> list:
        return render_kpis(ctx, lang_of(lang))

    @app.callback(Output(Sandbox.MAP, "figure"), Output(Sandbox.MAP_TITLE, "children"),
                  Output(Sandbox.MAP_NOTE, "children"),
                  Input(Shell.TICK, "n_intervals"), Input(Sandbox.ROTATE, "n_intervals"),
                  Input(Sandbox.LAYERS, "value"), Input(Sandbox.MEASURE, "value"),
                  Input(Sandbox.RESOLUTION, "value"), Input(Sandbox.WINDOW, "value"),
                  Input(Shell.VIEWPORT, "data"), State(Shell.LANG, "data"))
    def _map(_n: int, rotation: int, layers: list, measure: str, resolution: int, hours: int, viewport: list,
             lang: str | None) -> tuple:
        return render_map(ctx, lang_of(lang), layers=layers, measure=measure, resolution=resolution, hours=hours,
                          viewport=viewport, rotation=rotation)

    @app.callback(Output(Sandbox.RISK, "children"), Output(Sandbox.ISOLATION, "children"),
                  Output(Sandbox.CHECKPOINTS, "children"), Input(Shell.TICK, "n_intervals"),
                  State(Shell.LANG, "data"))
    def _side(_n: int, lang: str | None) -> tuple:
        return render_side(ctx, lang_of(lang))
