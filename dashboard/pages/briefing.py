"""Briefing ``/briefing``: the leaders' weekly briefing itself (the same document as
``sandtable brief``: figures, risk map, heatmap, clusters, checkpoints, isolation and the
summary), embedded from :data:`REPORT_PATH` with its PDF a click away; above it the
week's figures against the week before, the risk-level changes and the largest contact
clusters as live tables from :func:`analytics.briefing`.

The report is built for the asking role (small counts suppressed outside ``cdc``), once
per week, language, role and data version, and kept (:class:`ReportCache`); building
one takes a few seconds (the charts are drawn by the system's Chromium)."""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future
from datetime import date, timedelta

import flask
from dash import Dash, Input, Output, State, dcc, html

from dashboard import i18n
from dashboard.app import AppContext
from dashboard.components import data_table, empty_state, error_state, panel, shell
from dashboard.i18n import t
from dashboard.ids import Briefing, Shell
from dashboard.provider import BriefingRequest

__all__ = ["PATH", "KEY", "ORDER", "layout", "register", "render", "week_options", "iso_week", "default_week",
           "REPORT_PATH", "ReportCache", "report_url"]

PATH = "/briefing"
KEY = "briefing"
ORDER = 4
_PERCENT = {"isolation_occupancy"}

#: The briefing document (``?week=2022-W15&lang=zh&format=html|pdf``), for the asking role.
REPORT_PATH = "/briefing/report"
FRAME = "briefing-report-frame"
PDF_LINK = "briefing-report-pdf"
HTML_LINK = "briefing-report-html"
_WEEK = re.compile(r"^\d{4}-W\d{2}$")
_TEXT = {
    "full": ("简报全文", "The briefing"),
    "pdf": ("下载 PDF", "Download PDF"),
    "html": ("在新窗口打开", "Open in a new window"),
    "building": ("正在生成简报（约 20 秒）……", "Building the briefing (about 20 seconds)..."),
    "frame_title": ("每周简报全文", "The weekly briefing"),
}


def _t(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def report_url(week: str, lang: str, fmt: str = "html") -> str:
    return f"{REPORT_PATH}?week={week}&lang={lang}&format={fmt}"


class ReportCache:
    """Built briefings, one per (week, language, role, data version); a build in progress
    is shared by everyone asking for it. Keeps the newest ``size`` reports."""

    def __init__(self, size: int = 12) -> None:
        self._size = size
        self._items: dict[tuple, Future] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, build) -> object:  # noqa: ANN001
        with self._lock:
            fut = self._items.get(key)
            mine = fut is None
            if mine:
                fut = self._items[key] = Future()
                while len(self._items) > self._size:
                    self._items.pop(next(iter(self._items)))
        if mine:
            try:
                fut.set_result(build())
            except BaseException as err:  # the next request tries again
                with self._lock:
                    self._items.pop(key, None)
                fut.set_exception(err)
        return fut.result()


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def default_week(last_day: date) -> str:
    """The newest complete week: the one holding ``last_day`` if it is a Sunday, else the one before."""
    return iso_week(last_day if last_day.isoweekday() == 7 else last_day - timedelta(days=7))


def week_options(last_day: date, lang: str, n: int = 8) -> list[dict]:
    """The ``n`` ISO weeks up to the one holding ``last_day``, newest first."""
    out = []
    for i in range(n):
        d = last_day - timedelta(weeks=i)
        year, week, _ = d.isocalendar()
        monday = date.fromisocalendar(year, week, 1)
        label = t("week.label", lang, year=year, week=week, d0=i18n.fmt_short_date(monday, lang),
                  d1=i18n.fmt_short_date(monday + timedelta(days=6), lang))
        out.append({"label": label, "value": iso_week(d)})
    return out


def layout(ctx: AppContext, lang: str) -> html.Div:
    anchor, _ = ctx.provider.anchor()
    options = week_options(anchor.day, lang)
    body = [
        html.Div([html.H2(t("brief.title", lang), className="st-page-title"),
                  html.Div([html.Label(t("brief.week", lang)),
                            dcc.Dropdown(id=Briefing.WEEK, options=options, value=default_week(anchor.day),
                                         clearable=False, searchable=False, className="st-dropdown")],
                           className="st-control"),
                  html.Div([html.A(_t("pdf", lang), id=PDF_LINK, className="st-button", download=""),
                            html.A(_t("html", lang), id=HTML_LINK, className="st-link", target="_blank",
                                   rel="noopener")], className="st-control")], className="st-page-head"),
        html.H3(id=Briefing.TITLE, className="st-subtitle"),
        panel(t("brief.figures", lang), html.Div(id=Briefing.FIGURES)),
        html.Div([
            panel(t("brief.risk_changes", lang), html.Div(id=Briefing.RISK)),
            panel(t("brief.clusters", lang), html.Div(id=Briefing.CLUSTERS)),
        ], className="st-two"),
        panel(_t("full", lang), html.Div([
            # behind the frame: seen until the document (white) is drawn over it
            html.Div(_t("building", lang), className="st-hint st-report-wait",
                     style={"position": "absolute", "top": "1em", "left": "1em", "zIndex": 0}),
            html.Iframe(id=FRAME, title=_t("frame_title", lang), className="st-report-frame",
                        style={"width": "100%", "height": "85vh", "border": "0", "background": "transparent",
                               "position": "relative", "zIndex": 1}),
        ], style={"position": "relative"})),
    ]
    return shell(page=KEY, lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role, body=body)


def _value(key: str, v: object, lang: str) -> str:
    if key in _PERCENT:
        return i18n.fmt_percent(v, lang)
    if key == "approval_median_min":
        return i18n.fmt_minutes(v, lang)
    return i18n.fmt_int(v, lang)


def render(ctx: AppContext, lang: str, week: str | None) -> tuple:
    """(title, figures table, risk changes, clusters)."""
    anchor, _ = ctx.provider.anchor()
    week = week or default_week(anchor.day)
    if not anchor.has_data:
        return "", empty_state(lang), empty_state(lang, hint=False), empty_state(lang, hint=False)
    return ctx.provider.memo("briefing", (lang, week), lambda: _build(ctx, lang, week))


def _build(ctx: AppContext, lang: str, week: str) -> tuple:
    fetched = ctx.provider.get(BriefingRequest(week))
    if fetched.value is None:
        err = error_state(lang, fetched.error) if fetched.error else empty_state(lang)
        return "", err, None, None
    b = fetched.value
    th = ctx.theme
    title = t("week.label", lang, year=b.start.isocalendar()[0], week=b.start.isocalendar()[1],
              d0=i18n.fmt_date(b.start, lang, weekday=False),
              d1=i18n.fmt_date(b.end - timedelta(days=1), lang, weekday=False))
    rows = []
    for r in b.figures.itertuples():
        label = r.label_zh if lang == "zh" else r.label_en
        change = i18n.fmt_change(r.change, None, lang)
        rows.append({"figure": label, "this": _value(r.key, r.this_week, lang),
                     "last": _value(r.key, r.last_week, lang),
                     "change": change, "pct": i18n.fmt_percent(r.change_pct, lang) if r.key not in _PERCENT
                     else i18n.MISSING})
    figures = data_table(rows, [("figure", t("col.figure", lang)), ("this", t("col.this_week", lang)),
                                ("last", t("col.last_week", lang)), ("change", t("col.change", lang)),
                                ("pct", t("col.change_pct", lang))], th,
                         numeric=("this", "last", "change", "pct"))
    if b.risk_changes.empty:
        risk = html.Div(t("brief.no_changes", lang), className="st-hint")
    else:
        risk_rows = [{"community": i18n.name(r._asdict(), lang),
                      "previous": t(f"risk.{r.previous}", lang) if isinstance(r.previous, str) else i18n.MISSING,
                      "level": t(f"risk.{r.level}", lang)} for r in b.risk_changes.itertuples()]
        risk = data_table(risk_rows, [("community", t("col.community", lang)), ("previous", t("col.previous", lang)),
                                      ("level", t("col.level", lang))], th)
    counts = b.risk["level"].value_counts() if not b.risk.empty else {}
    risk_now = html.Div(" · ".join(f"{t(f'risk.{lv}', lang)} {i18n.fmt_int(counts.get(lv, 0), lang)}"
                                   for lv in ("high", "medium", "low")), className="st-hint")
    if not b.clusters:
        clusters = html.Div(t("brief.no_clusters", lang), className="st-hint")
    else:
        crow = []
        for i, g in enumerate(b.clusters, start=1):
            degrees = [d.get("degree", 2) for _, d in g.nodes(data=True)]
            crow.append({"cluster": f"#{i}", "size": g.number_of_nodes(), "cases": degrees.count(0),
                         "close": degrees.count(1), "secondary": degrees.count(2)})
        clusters = data_table(crow, [("cluster", t("col.cluster", lang)), ("size", t("col.size", lang)),
                                     ("cases", t("col.cases", lang)), ("close", t("col.close", lang)),
                                     ("secondary", t("col.secondary", lang))], th,
                              numeric=("size", "cases", "close", "secondary"))
    return title, figures, [html.H4(t("brief.risk_now", lang)), risk_now, risk], clusters


def _report_response(ctx: AppContext, cache: ReportCache) -> flask.Response:
    """The briefing document for the asking role (HTML, or PDF as an attachment)."""
    from dashboard.report import BriefingError, build_report

    args = flask.request.args
    week, lang, fmt = args.get("week", ""), args.get("lang", ctx.lang), args.get("format", "html")
    if not _WEEK.match(week) or lang not in i18n.LANGS or fmt not in ("html", "pdf"):
        return flask.Response("bad request: week=YYYY-Www, lang=zh|en, format=html|pdf", status=400,
                              mimetype="text/plain")
    provider = ctx.provider
    anchor, _ = provider.anchor()
    key = (week, lang, provider.viewer.role, anchor.as_of)
    try:
        report = cache.get(key, lambda: build_report(week, viewer=provider.viewer, lang=lang,
                                                     engine=provider.engine))
    except BriefingError as err:
        return flask.Response(str(err), status=404, mimetype="text/plain")
    if fmt == "html":
        return flask.Response(report.html, mimetype="text/html")
    pdf = cache.get((*key, "pdf"), report.pdf)
    return flask.Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="sandtable-briefing-{week}-{lang}.pdf"'})


def register(app: Dash, ctx: AppContext) -> None:
    cache = ReportCache()
    app.server.add_url_rule(REPORT_PATH, "briefing_report", lambda: _report_response(ctx, cache))

    @app.callback(Output(FRAME, "src"), Output(PDF_LINK, "href"), Output(HTML_LINK, "href"),
                  Input(Briefing.WEEK, "value"), State(Shell.LANG, "data"))
    def _document(week: str, lang: str | None) -> tuple:
        lang = i18n.resolve_lang(lang, ctx.lang)
        return report_url(week, lang), report_url(week, lang, "pdf"), report_url(week, lang)

    @app.callback(Output(Briefing.TITLE, "children"), Output(Briefing.FIGURES, "children"),
                  Output(Briefing.RISK, "children"), Output(Briefing.CLUSTERS, "children"),
                  Input(Briefing.WEEK, "value"), Input(Shell.TICK, "n_intervals"), State(Shell.LANG, "data"))
    def _refresh(week: str, _n: int, lang: str | None) -> tuple:
        return render(ctx, i18n.resolve_lang(lang, ctx.lang), week)
