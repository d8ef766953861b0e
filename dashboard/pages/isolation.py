"""Isolation ``/isolation``: beds, occupancy, admissions and discharges over time per
site, beds free in 3 and 7 days; sites over 90 % highlighted."""

from __future__ import annotations

from dash import Dash, Input, Output, State, html

from dashboard import i18n
from dashboard.app import AppContext
from dashboard.charts import empty_chart, flows_chart, occupancy_chart
from dashboard.components import data_table, empty_state, error_state, figure_cards, graph, panel, shell
from dashboard.i18n import t
from dashboard.ids import Isolation, Shell
from dashboard.provider import IsolationDemandRequest, IsolationSeriesRequest, IsolationStatusRequest

__all__ = ["PATH", "KEY", "ORDER", "layout", "register", "render", "site_records"]

PATH = "/isolation"
KEY = "isolation"
ORDER = 3


def layout(ctx: AppContext, lang: str) -> html.Div:
    body = [
        html.Div(html.H2(t("iso.title", lang), className="st-page-title"), className="st-page-head"),
        html.Div(id=Isolation.FIGURES),
        panel(t("iso.sites", lang), html.Div(id=Isolation.SITES)),
        html.Div([
            panel(t("iso.series", lang), graph(Isolation.SERIES, wall=ctx.wall)),
            panel(t("iso.flows", lang), graph(Isolation.FLOWS, wall=ctx.wall)),
        ], className="st-two"),
    ]
    return shell(page=KEY, lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role, body=body)


def site_records(status: object, lang: str) -> list[dict]:
    """Table rows: central sites (with a capacity), fullest first, ``over90`` 1/0; then
    one row summing the stays registered at sites with no capacity (home isolation,
    recorded at community offices), which have no beds to count."""
    known = status[status["capacity"].notna()].sort_values(["occupancy", "site_code"], ascending=[False, True])
    rows = []
    for r in known.itertuples():
        rows.append({"name": r.name, "capacity": i18n.fmt_int(r.capacity, lang), "occupied": int(r.occupied),
                     "occupancy": i18n.fmt_share(r.occupancy, lang), "admitted": int(r.admissions_today),
                     "discharged": int(r.discharges_today), "free": i18n.fmt_int(r.free, lang),
                     "free3": i18n.fmt_int(r.free_in_3d, lang), "free7": i18n.fmt_int(r.free_in_7d, lang),
                     "over90": 1 if bool(r.over_90) else 0})
    other = status[status["capacity"].isna()]
    if not other.empty:
        rows.append({"name": t("iso.home_n", lang, n=len(other)), "capacity": i18n.MISSING,
                     "occupied": int(other["occupied"].sum()), "occupancy": i18n.MISSING,
                     "admitted": int(other["admissions_today"].sum()),
                     "discharged": int(other["discharges_today"].sum()), "free": i18n.MISSING,
                     "free3": i18n.MISSING, "free7": i18n.MISSING, "over90": 0})
    return rows


def render(ctx: AppContext, lang: str) -> tuple:
    """(figures, site table, occupancy chart, flows chart)."""
    return ctx.provider.memo("isolation", lang, lambda: _build(ctx, lang))


def _build(ctx: AppContext, lang: str) -> tuple:
    p = ctx.provider
    th = ctx.theme
    anchor, _ = p.anchor()
    if not anchor.has_data:
        return empty_state(lang), empty_state(lang, hint=False), empty_chart(th, lang), empty_chart(th, lang)
    status, demand, series = p.get_many([IsolationStatusRequest(anchor.end), IsolationDemandRequest(anchor.end),
                                         IsolationSeriesRequest(anchor.end, 14)])
    figures = error_state(lang, demand.error) if demand.value is None and demand.error else empty_state(lang)
    if demand.value is not None:
        d = demand.value
        figures = figure_cards([
            (t("iso.capacity", lang), i18n.fmt_int(d.capacity, lang), None),
            (t("iso.occupied", lang), i18n.fmt_int(d.occupied, lang), None),
            (t("col.occupancy", lang), i18n.fmt_share(d.occupied / d.capacity if d.capacity else None, lang), None),
            (t("iso.free", lang), i18n.fmt_int(d.free, lang), None),
            (t("iso.free3", lang), i18n.fmt_int(d.free_in_3d, lang), None),
            (t("iso.free7", lang), i18n.fmt_int(d.free_in_7d, lang), None),
            (t("iso.over90", lang), i18n.fmt_int(d.over_90_sites, lang), "bad" if d.over_90_sites else None),
        ])
    table = empty_state(lang, hint=False)
    if status.value is not None and not status.value.empty:
        cols = [("name", t("col.site", lang)), ("capacity", t("col.capacity", lang)),
                ("occupied", t("col.occupied", lang)), ("occupancy", t("col.occupancy", lang)),
                ("admitted", t("col.admissions_today", lang)), ("discharged", t("col.discharges_today", lang)),
                ("free", t("col.free", lang)), ("free3", t("col.free_in_3d", lang)),
                ("free7", t("col.free_in_7d", lang)), ("over90", "over90")]
        table = data_table(site_records(status.value, lang), cols, th, highlight="over90",
                           numeric=[c for c, _ in cols[1:-1]])
    return figures, table, occupancy_chart(series.value, th, lang), flows_chart(series.value, th, lang)


def register(app: Dash, ctx: AppContext) -> None:
    @app.callback(Output(Isolation.FIGURES, "children"), Output(Isolation.SITES, "children"),
                  Output(Isolation.SERIES, "figure"), Output(Isolation.FLOWS, "figure"),
                  Input(Shell.TICK, "n_intervals"), State(Shell.LANG, "data"))
    def _refresh(_n: int, lang: str | None) -> tuple:
        return render(ctx, i18n.resolve_lang(lang, ctx.lang))
