"""Checkpoints ``/checkpoints``: throughput per hour per checkpoint and direction,
processing-time percentiles and the turned-back share; the pass funnel by category and
department, and the approval-time distribution against the 10-minute promise."""

from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html

from dashboard import i18n
from dashboard.app import AppContext
from dashboard.charts import funnel_chart, latency_chart, throughput_chart
from dashboard.components import data_table, empty_state, error_state, figure_cards, graph, panel, shell
from dashboard.i18n import t
from dashboard.ids import Checkpoints, Shell
from dashboard.provider import CheckpointSummaryRequest, FunnelRequest, ThroughputRequest

__all__ = ["PATH", "KEY", "ORDER", "layout", "register", "render", "WINDOWS"]

PATH = "/checkpoints"
KEY = "checkpoints"
ORDER = 2
WINDOWS = (24, 72, 168)


def _window_label(hours: int, lang: str) -> str:
    return t("window.days", lang, n=hours // 24) if hours >= 48 else t("window.hours", lang, n=hours)


def layout(ctx: AppContext, lang: str) -> html.Div:
    controls = html.Div([html.Label(t("control.window", lang)),
                         dcc.RadioItems(id=Checkpoints.WINDOW, value=24, inline=True,
                                        options=[{"label": _window_label(h, lang), "value": h} for h in WINDOWS])],
                        className="st-control", hidden=ctx.wall)
    body = [
        html.Div([html.H2(t("cp.title", lang), className="st-page-title"), controls], className="st-page-head"),
        html.Div(id=Checkpoints.FIGURES),
        panel(t("cp.throughput", lang), graph(Checkpoints.THROUGHPUT, wall=ctx.wall)),
        panel(t("cp.summary", lang), html.Div(id=Checkpoints.SUMMARY)),
        html.Div([
            panel(t("cp.funnel", lang), graph(Checkpoints.FUNNEL, wall=ctx.wall)),
            panel(t("cp.latency", lang), graph(Checkpoints.LATENCY, wall=ctx.wall)),
        ], className="st-two"),
        panel(t("cp.by_department", lang), html.Div(id=Checkpoints.DEPARTMENTS)),
    ]
    return shell(page=KEY, lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role, body=body)


def _summary_records(summary: object, lang: str) -> list[dict]:
    return [{"name": r.name, "in": int(r.vehicles_in), "out": int(r.vehicles_out), "total": int(r.vehicles),
             "turned_back": int(r.turned_back), "share": i18n.fmt_share(r.turned_back_share, lang),
             "p50": i18n.fmt_num(r.processing_p50_s, lang, 0), "p90": i18n.fmt_num(r.processing_p90_s, lang, 0),
             "p95": i18n.fmt_num(r.processing_p95_s, lang, 0)} for r in summary.itertuples()]


def _funnel_records(df: object, key: str, lang: str) -> list[dict]:
    out = []
    for r in df.itertuples():
        label = getattr(r, key)
        if key == "category" and f"cat.{label}" in i18n.TEXT:
            label = t(f"cat.{label}", lang)
        out.append({"label": label, "applied": int(r.applied), "approved": int(r.approved),
                    "rejected": int(r.rejected), "pending": int(r.pending),
                    "rate": i18n.fmt_share(r.approval_rate, lang), "p50": i18n.fmt_num(r.latency_p50_min, lang),
                    "on_time": i18n.fmt_share(r.within_target_share, lang)})
    return out


def render(ctx: AppContext, lang: str, hours: int | None) -> tuple:
    """(figures, throughput, summary table, funnel, latency, department table)."""
    hours = hours if hours in WINDOWS else 24
    return ctx.provider.memo("checkpoints", (lang, hours), lambda: _build(ctx, lang, hours))


def _build(ctx: AppContext, lang: str, hours: int) -> tuple:
    p = ctx.provider
    anchor, _ = p.anchor()
    th = ctx.theme
    if not anchor.has_data:
        from dashboard.charts import empty_chart

        empty = empty_chart(th, lang)
        return empty_state(lang), empty, empty_state(lang, hint=False), empty, empty, empty_state(lang, hint=False)
    summary, through, funnel = p.get_many([CheckpointSummaryRequest(anchor.end, hours),
                                           ThroughputRequest(anchor.end, hours), FunnelRequest(anchor.end, hours)])

    figures = error_state(lang, summary.error) if summary.value is None and summary.error else None
    if summary.value is not None and funnel.value is not None:
        s, f = summary.value, funnel.value
        vehicles = int(s["vehicles"].sum())
        turned = int(s["turned_back"].sum())
        figures = figure_cards([
            (t("cp.kpi.vehicles", lang), i18n.fmt_int(vehicles, lang), None),
            (t("cp.kpi.turned_back", lang), i18n.fmt_share(turned / vehicles if vehicles else None, lang), None),
            (t("cp.kpi.approval_rate", lang), i18n.fmt_share(f.approval_rate, lang), None),
            (t("cp.kpi.within_target", lang, n=f"{f.target_minutes:g}"), i18n.fmt_share(f.within_target_share, lang),
             "bad" if f.within_target_share == f.within_target_share and f.within_target_share < 0.8 else None),
            (t("cp.kpi.latency", lang),
             f"{i18n.fmt_num(f.latency_p50_min, lang)} / {i18n.fmt_num(f.latency_p90_min, lang)} "
             f"{t('unit.min', lang)}", None),
            (t("cp.kpi.active", lang), i18n.fmt_int(f.active_passes, lang), None),
        ])
    table = empty_state(lang, hint=False)
    if summary.value is not None and not summary.value.empty:
        table = data_table(_summary_records(summary.value, lang), [
            ("name", t("col.checkpoint", lang)), ("in", t("col.vehicles_in", lang)),
            ("out", t("col.vehicles_out", lang)), ("total", t("col.vehicles", lang)),
            ("turned_back", t("col.turned_back", lang)), ("share", t("col.turned_back_share", lang)),
            ("p50", t("col.p50", lang)), ("p90", t("col.p90", lang)), ("p95", t("col.p95", lang))],
            th, numeric=("in", "out", "total", "turned_back", "share", "p50", "p90", "p95"))
    funnel_cols = [("label", ""), ("applied", t("col.applied", lang)), ("approved", t("col.approved", lang)),
                   ("rejected", t("col.rejected", lang)), ("pending", t("col.pending", lang)),
                   ("rate", t("col.approval_rate", lang)), ("p50", t("col.latency_p50", lang)),
                   ("on_time", t("col.within_target", lang))]
    depts = empty_state(lang, hint=False)
    if funnel.value is not None and not funnel.value.by_department.empty:
        cols = [("label", t("col.department", lang)), *funnel_cols[1:]]
        depts = data_table(_funnel_records(funnel.value.by_department, "reviewer_dept", lang), cols, th,
                           numeric=[c for c, _ in cols[1:]])
    f = funnel.value
    return (figures, throughput_chart(through.value, th, lang),
            table,
            funnel_chart(f.by_category if f is not None else None, th, lang),
            latency_chart(f.latency_histogram if f is not None else None, f.target_minutes if f else 10.0, th, lang),
            depts)


def register(app: Dash, ctx: AppContext) -> None:
    @app.callback(Output(Checkpoints.FIGURES, "children"), Output(Checkpoints.THROUGHPUT, "figure"),
                  Output(Checkpoints.SUMMARY, "children"), Output(Checkpoints.FUNNEL, "figure"),
                  Output(Checkpoints.LATENCY, "figure"), Output(Checkpoints.DEPARTMENTS, "children"),
                  Input(Shell.TICK, "n_intervals"), Input(Checkpoints.WINDOW, "value"), State(Shell.LANG, "data"))
    def _refresh(_n: int, hours: int, lang: str | None) -> tuple:
        return render(ctx, i18n.resolve_lang(lang, ctx.lang), hours)
