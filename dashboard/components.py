"""Building blocks shared by the pages: the shell (header, clock, status), KPI tiles,
panels, empty and error states, and themed tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from dash import dcc, html

from dashboard import i18n
from dashboard.auth import logged_in, request_viewer
from dashboard.i18n import t
from dashboard.ids import Shell
from dashboard.theme import Theme

__all__ = ["PAGES", "shell", "kpi_tiles", "panel", "empty_state", "error_state", "data_table", "graph",
           "figure_cards", "KPI_TILES", "BAD_WHEN_UP"]

#: (key, path) in navigation order
PAGES = (("sandbox", "/"), ("tracing", "/tracing"), ("checkpoints", "/checkpoints"), ("isolation", "/isolation"),
         ("briefing", "/briefing"))

#: The wall's tiles, in reading order (two columns).
KPI_TILES = ("scans", "persons_scanned", "abnormal_scans", "cases", "close_contacts", "secondary_contacts",
             "isolation_occupancy", "passes_issued", "crossings", "turned_back", "fever_medicine", "returnees_risk")
#: Figures whose rise is bad news (the change is drawn in the alarm colour).
BAD_WHEN_UP = {"abnormal_scans", "cases", "close_contacts", "secondary_contacts", "isolation_occupancy",
               "turned_back", "approval_median_min", "isolation_occupied", "fever_medicine", "returnees_risk"}


def _href(path: str, lang: str, default_lang: str) -> str:
    return path if lang == default_lang else f"{path}?lang={lang}"


def shell(*, page: str, lang: str, default_lang: str, wall: bool, viewer_role: str, body: list,
          now: datetime | None = None) -> html.Div:
    """A page inside the common frame: title, navigation, language switch, clock, the
    "data as of" stamp and the banner line (filled by the shell's callbacks)."""
    now = (now or datetime.now()).astimezone(i18n.zone())
    nav = [] if wall else [
        html.Nav([dcc.Link(t(f"nav.{key}", lang), href=_href(path, lang, default_lang),
                           className="st-nav-link" + (" active" if key == page else ""))
                  for key, path in PAGES], className="st-nav"),
    ]
    other = "en" if lang == "zh" else "zh"
    here = dict(PAGES)[page] if page in dict(PAGES) else "/"
    switch = [] if wall else [
        html.A(t("lang.switch", lang), href=_href(here, other, default_lang), className="st-lang", lang=other),
    ]
    viewer = request_viewer()
    if not wall and viewer is not None and logged_in():  # the account, and a way out (a full page load)
        switch.append(html.Div([html.Span(viewer.name, className="st-user-name"),
                                html.A(t("nav.logout", lang), href=f"/logout?lang={lang}", className="st-logout")],
                               className="st-user"))
    return html.Div([
        dcc.Store(id=Shell.LANG, data=lang),
        html.Header([
            html.Div([html.H1(t("app.title", lang), className="st-title"),
                      html.Div(f"{t('status.role', lang)}: {t(f'role.{viewer_role}', lang)}", className="st-role")],
                     className="st-brand"),
            *nav,
            html.Div([
                html.Div(now.strftime("%H:%M:%S"), id=Shell.CLOCK, className="st-clock"),
                html.Div(i18n.fmt_date(now, lang), id=Shell.DATE, className="st-date"),
                html.Div(id=Shell.AS_OF, className="st-as-of"),
            ], className="st-status"),
            *switch,
        ], className="st-header"),
        html.Div(id=Shell.BANNER, className="st-banner-slot"),
        html.Main(body, className=f"st-page st-page-{page}"),
    ], className="st-shell", lang="zh-CN" if lang == "zh" else "en")


def empty_state(lang: str, *, hint: bool = True) -> html.Div:
    return html.Div([html.Div(t("status.no_data", lang), className="st-empty-title"),
                     html.Div(t("status.no_data_hint", lang), className="st-empty-hint") if hint else None],
                    className="st-empty")


def error_state(lang: str, error: str) -> html.Div:
    return html.Div(t("status.error", lang, error=error), className="st-error")


def panel(title: str, body: object, *, id_: str | None = None, class_name: str = "") -> html.Section:
    content = html.Div(body, id=id_, className="st-panel-body") if id_ else html.Div(body, className="st-panel-body")
    return html.Section([html.H2(title, className="st-panel-title"), content], className=f"st-panel {class_name}")


def kpi_tiles(kpis: pd.DataFrame | None, lang: str) -> list:
    """The KPI tiles from :func:`analytics.kpis`, each with its change against yesterday."""
    if kpis is None or kpis.empty:
        return [empty_state(lang)]
    rows = kpis.set_index("key")
    tiles = []
    for key in KPI_TILES:
        if key not in rows.index:
            continue
        r = rows.loc[key]
        if key == "isolation_occupancy":
            value = i18n.fmt_percent(r["today"], lang)
            change = i18n.fmt_change(r["change"], None, lang, unit=" pp" if lang == "en" else " 个百分点")
        else:
            value = i18n.fmt_int(r["today"], lang)
            change = i18n.fmt_change(r["change"], r["change_pct"], lang)
        c = r["change"]
        direction = "flat" if c is None or pd.isna(c) or c == 0 else ("up" if c > 0 else "down")
        tone = "neutral"
        if direction != "flat" and key in BAD_WHEN_UP:
            tone = "bad" if direction == "up" else "good"
        extra = None
        if key == "passes_issued" and "approval_median_min" in rows.index:
            extra = html.Div(t("kpi.median", lang, v=i18n.fmt_minutes(rows.loc["approval_median_min", "today"], lang)),
                             className="st-kpi-extra")
        tiles.append(html.Div([
            html.Div(t(f"kpi.{key}", lang), className="st-kpi-label"),
            html.Div(value, className="st-kpi-value"),
            html.Div(change, className=f"st-kpi-change {tone}", title=t("vs_yesterday", lang)),
            extra,
        ], className="st-kpi", **{"data-key": key}))
    return tiles


def figure_cards(items: Sequence[tuple[str, str, str | None]]) -> html.Div:
    """A row of headline figures: (label, value, tone or None)."""
    return html.Div([html.Div([html.Div(label, className="st-card-label"),
                               html.Div(value, className=f"st-card-value {tone or ''}")], className="st-card")
                     for label, value, tone in items], className="st-cards")


def data_table(records: list[dict], columns: list[tuple[str, str]], theme: Theme | None = None, *,  # noqa: ARG001
               id_: str | None = None, highlight: str | None = None, numeric: Sequence[str] = (),
               max_height: str | None = None) -> html.Div:
    """A plain HTML table (themed by the CSS); rows whose ``highlight`` value is true
    get the alarm class, and the ``highlight`` column itself is not shown."""
    shown = [(key, label) for key, label in columns if key != highlight]
    num = set(numeric)
    head = html.Thead(html.Tr([html.Th(label, className="num" if key in num else None) for key, label in shown]))
    body = html.Tbody([
        html.Tr([html.Td(_cell(r.get(key)), className="num" if key in num else None) for key, _ in shown],
                className="alarm" if highlight and r.get(highlight) else None)
        for r in records
    ])
    kwargs = {"id": id_} if id_ else {}
    style = {"maxHeight": max_height, "overflowY": "auto"} if max_height else None
    return html.Div(html.Table([head, body], className="st-table"), className="st-table-wrap", style=style,
                    **kwargs)


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return i18n.MISSING
    return value


def graph(id_: str, figure: object = None, *, wall: bool = False, class_name: str = "") -> dcc.Graph:
    """A ``dcc.Graph`` with the toolbar off on the wall; MathJax is never loaded."""
    return dcc.Graph(id=id_, figure=figure or {"data": [], "layout": {}}, className=f"st-graph {class_name}",
                     config={"displayModeBar": False if wall else "hover", "displaylogo": False,
                             "scrollZoom": not wall, "responsive": True},
                     mathjax=False)
