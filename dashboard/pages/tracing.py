"""Tracing ``/tracing``: type a person reference and a purpose -> the trajectory on the
map, the contact graph (index, close and secondary contacts; edges labelled with the
site and time of the first exposure), the contact lists with their evidence, a CSV for
field teams, and how long it took.

Only the ``cdc`` role may trace: other roles see a clear "not permitted" message, a
callback request from any other role is refused with 403 (``ROLES``, checked by
:mod:`dashboard.auth` before the callback runs), and the analytics layer refuses
anyway (``AccessDenied``). Every trace is audited by :func:`analytics.trace` with the
purpose typed here (a blank purpose is refused), and so is every CSV export. The result
stays on the server under a random token, for the person who traced only (the browser
keeps only the token), so the CSV is exactly what was shown. The page lists the
user's own recent lookups from the audit log.
"""

from __future__ import annotations

import io
import logging
import math
import time
from datetime import datetime

import dash_cytoscape as cyto
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html, no_update

from dashboard import i18n
from dashboard.app import AppContext
from dashboard.components import data_table, error_state, graph, panel, shell
from dashboard.i18n import t
from dashboard.ids import Shell, Tracing
from dashboard.maps import empty_map, trace_map
from dashboard.provider import BasemapRequest, TraceRequest
from geodata.errors import AccessDenied

__all__ = ["PATH", "KEY", "ORDER", "ROLES", "layout", "register", "render_trace", "render_export",
           "render_lookups", "graph_elements", "export_csv", "CSV_COLUMNS"]

log = logging.getLogger("sandtable.dashboard")

PATH = "/tracing"
KEY = "tracing"
ORDER = 1
#: The roles that may call this page's callbacks (any other gets 403).
ROLES = ("cdc",)

CSV_COLUMNS = ["kind", "person", "via", "first_exposure", "isolated_at", "site_code", "site_name", "community",
               "index_or_via_at", "contact_at"]
_RINGS = (0, 260, 520)


def _stylesheet(ctx: AppContext) -> list[dict]:
    th = ctx.theme
    return [
        {"selector": "node", "style": {"label": "data(label)", "font-size": 11, "color": th.text,
                                       "text-valign": "bottom", "text-margin-y": 4, "width": 18, "height": 18,
                                       "min-zoomed-font-size": 7, "font-family": "sans-serif"}},
        {"selector": ".degree-0", "style": {"background-color": th.risk["high"], "width": 34, "height": 34,
                                            "font-size": 14, "font-weight": "bold"}},
        {"selector": ".degree-1", "style": {"background-color": th.risk["medium"], "width": 24, "height": 24}},
        {"selector": ".degree-2", "style": {"background-color": th.accent}},
        {"selector": "edge", "style": {"width": 1.5, "line-color": th.grid, "label": "data(label)", "font-size": 9,
                                       "color": th.muted, "text-rotation": "autorotate",
                                       "min-zoomed-font-size": 8, "curve-style": "straight"}},
        {"selector": ".close-edge", "style": {"line-color": th.risk["medium"], "width": 2.5}},
    ]


def layout(ctx: AppContext, lang: str) -> html.Div:
    if ctx.viewer.role not in ROLES:
        body = [html.Div(t("trace.denied", lang, role=t(f"role.{ctx.viewer.role}", lang)),
                         className="st-denied", id=Tracing.MESSAGE, role="alert")]
        return shell(page=KEY, lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role,
                     body=body)
    form = html.Div([
        html.Div([html.Label(t("trace.person", lang), htmlFor=Tracing.PERSON),
                  dcc.Input(id=Tracing.PERSON, type="text", placeholder=t("trace.person_ph", lang), debounce=False,
                            autoComplete="off", className="st-input")], className="st-field"),
        html.Div([html.Label(t("trace.purpose", lang), htmlFor=Tracing.PURPOSE),
                  dcc.Input(id=Tracing.PURPOSE, type="text", placeholder=t("trace.purpose_ph", lang),
                            className="st-input st-input-wide")], className="st-field"),
        html.Button(t("trace.go", lang), id=Tracing.GO, n_clicks=0, className="st-button"),
        html.Div(t("trace.audit_note", lang), className="st-hint"),
    ], className="st-form")
    result = html.Div([
        html.Div([html.Div(id=Tracing.SUMMARY, className="st-trace-summary"),
                  html.Div(id=Tracing.ELAPSED, className="st-elapsed"),
                  html.Button(t("trace.export", lang), id=Tracing.EXPORT, n_clicks=0, className="st-button ghost",
                              disabled=True),
                  dcc.Download(id=Tracing.DOWNLOAD)], className="st-trace-head"),
        html.Div([
            panel(t("trace.trajectory", lang), graph(Tracing.MAP, empty_map(ctx.theme), class_name="st-trace-map")),
            panel(t("trace.graph", lang), cyto.Cytoscape(
                id=Tracing.GRAPH, elements=[], layout={"name": "preset", "fit": True, "padding": 30},
                stylesheet=_stylesheet(ctx), style={"width": "100%", "height": "100%"},
                minZoom=0.2, maxZoom=3, userZoomingEnabled=True), class_name="st-graph-panel"),
        ], className="st-two"),
        html.Div([
            panel(t("trace.close", lang), html.Div(id=Tracing.CLOSE)),
            panel(t("trace.secondary", lang), html.Div(id=Tracing.SECONDARY)),
        ], className="st-two"),
    ], id=Tracing.RESULT, className="st-trace-result")
    lookups = panel(t("trace.lookups", lang), html.Div(render_lookups(ctx, lang), id=Tracing.LOOKUPS))
    body = [form, html.Div(id=Tracing.MESSAGE, className="st-message", role="status"), result, lookups,
            dcc.Store(id=Tracing.TOKEN)]
    return shell(page=KEY, lang=lang, default_lang=ctx.lang, wall=ctx.wall, viewer_role=ctx.viewer.role, body=body)


# --- pure helpers ---------------------------------------------------------------
def _short_time(value: object, lang: str) -> str:
    return i18n.fmt_datetime(value, lang)


def graph_elements(trace: object, lang: str) -> list[dict]:
    """Cytoscape elements with preset positions: the index person in the middle, close
    contacts on the first ring, secondary contacts on the second ring next to the close
    contact they were exposed through (deterministic: no random layout)."""
    g = trace.graph()
    close = list(trace.close_contacts["person"]) if not trace.close_contacts.empty else []
    secondary = list(trace.secondary_contacts["person"]) if not trace.secondary_contacts.empty else []
    angle: dict[str, float] = {trace.person: 0.0}
    elements = [{"data": {"id": trace.person, "label": trace.person}, "position": {"x": 0, "y": 0},
                 "classes": "degree-0"}]
    for i, person in enumerate(close):
        a = 2 * math.pi * i / max(len(close), 1)
        angle[person] = a
        elements.append({"data": {"id": person, "label": person},
                         "position": {"x": round(_RINGS[1] * math.cos(a), 1), "y": round(_RINGS[1] * math.sin(a), 1)},
                         "classes": "degree-1"})
    by_via: dict[str, list[str]] = {}
    vias = dict(zip(trace.secondary_contacts["person"], trace.secondary_contacts["via"])) if secondary else {}
    for person in secondary:
        first = (vias.get(person) or [None])[0]
        by_via.setdefault(first if first in angle else trace.person, []).append(person)
    spread = 2 * math.pi / max(len(close), 1)
    ring2 = [(person, via, j, len(group)) for via, group in by_via.items() for j, person in enumerate(group)]
    for person, via, j, n in ring2:
        base = angle.get(via, 0.0)
        a = base + spread * 0.8 * ((j + 0.5) / n - 0.5)
        r = _RINGS[2] + 40 * (j % 3)
        elements.append({"data": {"id": person, "label": person},
                         "position": {"x": round(r * math.cos(a), 1), "y": round(r * math.sin(a), 1)},
                         "classes": "degree-2"})
    for a, b, data in g.edges(data=True):
        ev = data.get("exposures") or []
        first = min(ev, key=lambda e: e.get("contact_at", "")) if ev else {}
        label = f"{first.get('site_code', '')} {_short_time(first.get('contact_at'), lang)}" if first else ""
        is_close = trace.person in (a, b)
        elements.append({"data": {"id": f"{a}->{b}", "source": a, "target": b, "label": label},
                         "classes": "close-edge" if is_close else "secondary-edge"})
    return elements


def _evidence(exposures: list[dict], lang: str, via: bool = False) -> str:
    parts = []
    for e in exposures[:6]:
        who = f"{e['via']} @ " if via else ""
        parts.append(f"{who}{e['site_code']} {_short_time(e['contact_at'], lang)}")
    more = f" (+{len(exposures) - 6})" if len(exposures) > 6 else ""
    return "; ".join(parts) + more


def _close_records(trace: object, lang: str) -> list[dict]:
    return [{"person": r.person, "first_exposure": _short_time(r.first_exposure, lang),
             "isolated_at": _short_time(r.isolated_at, lang), "evidence": _evidence(r.exposures, lang)}
            for r in trace.close_contacts.itertuples()]


def _secondary_records(trace: object, lang: str) -> list[dict]:
    return [{"person": r.person, "via": ", ".join(r.via), "first_exposure": _short_time(r.first_exposure, lang),
             "evidence": _evidence(r.exposures, lang, via=True)}
            for r in trace.secondary_contacts.itertuples()]


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _text(value: object) -> object:
    """A text cell a spreadsheet will not run: ``=...``, ``+...``, ``-...``, ``@...`` get a
    leading apostrophe (site names are free text from the feeds)."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def export_csv(trace: object) -> str:
    """One row per exposure (the evidence), close contacts first; times ISO 8601 local;
    text that a spreadsheet would take for a formula is quoted (see ``_text``)."""
    places = trace.places.set_index("site_code") if not trace.places.empty else pd.DataFrame()
    zone = i18n.zone()

    def iso(v: object) -> str:
        return "" if v is None or pd.isna(v) else pd.Timestamp(v).tz_convert(zone).isoformat()

    def site(code: str) -> tuple[str, str]:
        if code in places.index:
            p = places.loc[code]
            return str(p["name"]), str(p.get("community_zh") or "")
        return "", ""

    rows = []
    for r in trace.close_contacts.itertuples():
        for e in r.exposures:
            name, community = site(e["site_code"])
            rows.append({"kind": "close_contact", "person": r.person, "via": trace.person,
                         "first_exposure": iso(r.first_exposure), "isolated_at": iso(r.isolated_at),
                         "site_code": e["site_code"], "site_name": name, "community": community,
                         "index_or_via_at": iso(e["index_at"]), "contact_at": iso(e["contact_at"])})
    for r in trace.secondary_contacts.itertuples():
        for e in r.exposures:
            name, community = site(e["site_code"])
            rows.append({"kind": "secondary_contact", "person": r.person, "via": e["via"],
                         "first_exposure": iso(r.first_exposure), "isolated_at": "",
                         "site_code": e["site_code"], "site_name": name, "community": community,
                         "index_or_via_at": iso(e["via_at"]), "contact_at": iso(e["contact_at"])})
    rows = [{k: _text(v) for k, v in r.items()} for r in rows]
    buf = io.StringIO()
    pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(buf, index=False)
    return buf.getvalue()


def render_trace(ctx: AppContext, lang: str, person: str | None, purpose: str | None,
                 viewport: list | None = None) -> dict:
    """Everything the tracing callback outputs, as a dict keyed by output name."""
    out = {"message": None, "summary": None, "elapsed": None, "figure": no_update, "elements": [],
           "close": None, "secondary": None, "token": None, "export_disabled": True}
    person = (person or "").strip()
    purpose = (purpose or "").strip()
    if not person:
        out["message"] = html.Div(t("trace.need_person", lang), className="st-warn")
        return out
    if not purpose:
        out["message"] = html.Div(t("trace.need_purpose", lang), className="st-warn")
        return out
    started = time.perf_counter()
    try:
        token, fetched = ctx.provider.trace(TraceRequest(person, purpose), viewer=ctx.viewer)
    except AccessDenied:
        out["message"] = html.Div(t("trace.denied", lang, role=t(f"role.{ctx.viewer.role}", lang)),
                                  className="st-denied", role="alert")
        return out
    if fetched.value is None:
        out["message"] = error_state(lang, fetched.error or "")
        return out
    tr = fetched.value
    total_ms = 1000 * (time.perf_counter() - started)
    w1 = tr.window_to if tr.window_to is not None and not pd.isna(tr.window_to) else None
    out["summary"] = t("trace.summary", lang, who=tr.person,
                       kind=t("trace.case" if tr.is_case else "trace.not_case", lang),
                       w0=_short_time(tr.window_from, lang), w1=_short_time(w1, lang) if w1 else t("trace.open", lang),
                       close=len(tr.close_contacts), sec=len(tr.secondary_contacts), n=len(tr.trajectory))
    out["elapsed"] = t("trace.elapsed", lang, ms=i18n.fmt_ms(tr.elapsed_ms, lang)) + \
        f" ({i18n.fmt_ms(total_ms, lang)})"
    if tr.trajectory.empty:
        out["message"] = html.Div(t("trace.no_scans", lang), className="st-warn")
    vw, vh = (viewport or (1600, 900))[:2]
    base = ctx.provider.get(BasemapRequest()).value
    out["figure"] = trace_map(tr, base, ctx.theme, lang, viewport=(vw * 0.45, 460))
    out["elements"] = graph_elements(tr, lang)
    out["close"] = data_table(_close_records(tr, lang),
                              [("person", t("col.person", lang)), ("first_exposure", t("col.first_exposure", lang)),
                               ("isolated_at", t("col.isolated_at", lang)), ("evidence", t("col.exposures", lang))],
                              ctx.theme, max_height="420px", numeric=("first_exposure", "isolated_at"))
    out["secondary"] = data_table(_secondary_records(tr, lang),
                                  [("person", t("col.person", lang)), ("via", t("col.via", lang)),
                                   ("first_exposure", t("col.first_exposure", lang)),
                                   ("evidence", t("col.exposures", lang))], ctx.theme, max_height="420px",
                                  numeric=("first_exposure",))
    out["token"] = token
    out["export_disabled"] = False
    return out


def render_lookups(ctx: AppContext, lang: str) -> object:
    """The viewer's own recent views of named persons (from the audit log)."""
    try:
        rows = ctx.provider.lookups(ctx.viewer)
    except Exception:  # noqa: BLE001 - the page works without the list
        log.warning("cannot read the audit log for the lookups list", exc_info=True)
        return html.Div(t("trace.lookups_error", lang), className="st-hint")
    if not rows:
        return html.Div(t("trace.no_lookups", lang), className="st-hint")
    records = [{"when": i18n.fmt_datetime(r["at"], lang, seconds=True),
                "action": t(f"action.{r['action']}", lang) if f"action.{r['action']}" in i18n.TEXT else r["action"],
                "person": r["person"] or i18n.MISSING, "purpose": r["purpose"] or i18n.MISSING,
                "rows": i18n.fmt_int(r["rows"], lang) if r["rows"] is not None else i18n.MISSING} for r in rows]
    return data_table(records, [("when", t("col.when", lang)), ("action", t("col.action", lang)),
                                ("person", t("col.person", lang)), ("purpose", t("col.purpose", lang)),
                                ("rows", t("col.rows", lang))], ctx.theme, numeric=("rows",))


def render_export(ctx: AppContext, lang: str, token: str | None) -> tuple[object, object]:
    """(the CSV download or no_update, a message or no_update). Each export is audited
    (``trace_export``: who, which person, the trace's purpose, rows) before it is sent."""
    viewer = ctx.viewer
    kept = ctx.provider.kept(token, viewer=viewer)
    if kept is None:
        return no_update, html.Div(t("trace.expired", lang), className="st-warn")
    tr, purpose = kept
    body = export_csv(tr)
    rows = max(body.count("\n") - 1, 0)
    ctx.provider.audit(viewer, "trace_export", person_id=int(tr.person_id), purpose=purpose, rows=rows,
                       detail={"format": "csv"})
    stamp = datetime.now(i18n.zone()).strftime("%Y%m%d-%H%M%S")
    # UTF-8 with a BOM so that spreadsheet programs read the Chinese names right
    return dcc.send_string("\ufeff" + body, f"trace-{stamp}.csv", type="text/csv"), no_update


def register(app: Dash, ctx: AppContext) -> None:
    @app.callback(
        Output(Tracing.MESSAGE, "children"), Output(Tracing.SUMMARY, "children"), Output(Tracing.ELAPSED, "children"),
        Output(Tracing.MAP, "figure"), Output(Tracing.GRAPH, "elements"), Output(Tracing.CLOSE, "children"),
        Output(Tracing.SECONDARY, "children"), Output(Tracing.TOKEN, "data"), Output(Tracing.EXPORT, "disabled"),
        Output(Tracing.LOOKUPS, "children"),
        Input(Tracing.GO, "n_clicks"), Input(Tracing.PERSON, "n_submit"),
        State(Tracing.PERSON, "value"), State(Tracing.PURPOSE, "value"), State(Shell.VIEWPORT, "data"),
        State(Shell.LANG, "data"),
        prevent_initial_call=True,
        running=[(Output(Tracing.GO, "disabled"), True, False)],
    )
    def _trace(_clicks: int, _submit: int, person: str, purpose: str, viewport: list, lang: str | None) -> tuple:
        lang = i18n.resolve_lang(lang, ctx.lang)
        o = render_trace(ctx, lang, person, purpose, viewport)
        lookups = render_lookups(ctx, lang) if o["token"] else no_update
        return (o["message"], o["summary"], o["elapsed"], o["figure"], o["elements"], o["close"], o["secondary"],
                o["token"], o["export_disabled"], lookups)

    @app.callback(Output(Tracing.DOWNLOAD, "data"), Output(Tracing.MESSAGE, "children", allow_duplicate=True),
                  Output(Tracing.LOOKUPS, "children", allow_duplicate=True),
                  Input(Tracing.EXPORT, "n_clicks"), State(Tracing.TOKEN, "data"), State(Shell.LANG, "data"),
                  prevent_initial_call=True)
    def _export(_clicks: int, token: str | None, lang: str | None) -> tuple:
        lang = i18n.resolve_lang(lang, ctx.lang)
        download, message = render_export(ctx, lang, token)
        return download, message, render_lookups(ctx, lang) if download is not no_update else no_update
