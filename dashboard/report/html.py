"""The briefing as one self-contained HTML document (CSS inline, charts as data: URIs).

The same document is printed to PDF by WeasyPrint (``@page`` rules give the running
header, the footer with the provenance and the page numbers). :func:`fragment` gives
the article alone, with its styles scoped to ``.st-brief``, for embedding in a page.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from html import escape
from typing import Any

import pandas as pd

from dashboard.report.charts import FONT, SECONDARY_LABELS, short_name
from dashboard.report.data import HIDDEN, ReportData
from dashboard.report.text import (BAD_WHEN_UP, T, direction, fmt_change, fmt_count, fmt_pct, fmt_time, fmt_value,
                                   level_name, week_span)

__all__ = ["document", "fragment", "CSS", "MAX_ROWS"]

#: Rows shown in each breakdown table before "n more not listed" (each section fits its page).
MAX_ROWS = {"risk": 7, "checkpoints": 8, "sites": 12}
#: Community names listed per risk level.
MAX_NAMES = 14

CSS = """
.st-brief { font-family: %(font)s; color: #1f2933; font-size: 10.5pt; line-height: 1.45; max-width: 186mm;
  margin: 0 auto; }
.st-brief h1 { font-size: 21pt; margin: 0 0 2mm 0; letter-spacing: 0.02em; }
.st-brief h2 { font-size: 13.5pt; margin: 0 0 2.5mm 0; padding-bottom: 1mm; border-bottom: 1.5px solid #1f2933; }
.st-brief h3 { font-size: 11pt; margin: 3mm 0 1.5mm 0; }
.st-brief section { margin: 0 0 5mm 0; }
.st-brief section.page { break-before: page; }
.st-brief .week { font-size: 12.5pt; margin: 0 0 2mm 0; }
.st-brief .meta { color: #52606d; font-size: 9pt; margin: 0 0 4mm 0; }
.st-brief .meta span { margin-right: 5mm; white-space: nowrap; }
.st-brief .banner { background: #fff4e5; border-left: 3px solid #f59e0b; padding: 2mm 3mm; margin: 0 0 4mm 0; }
.st-brief ul.summary { margin: 0; padding-left: 5mm; }
.st-brief ul.summary li { margin: 0 0 1.2mm 0; }
.st-brief table { border-collapse: collapse; width: 100%%; font-size: 9.5pt; margin: 1mm 0 2mm 0; }
.st-brief th, .st-brief td { padding: 0.9mm 2mm; border-bottom: 0.5px solid #d5dbe1; text-align: right;
  white-space: nowrap; }
.st-brief th { background: #f1f4f7; font-weight: bold; border-bottom: 1px solid #9aa5b1; }
.st-brief th:first-child, .st-brief td:first-child { text-align: left; }
.st-brief td.text, .st-brief th.text { text-align: left; white-space: normal; }
.st-brief tr.total td { font-weight: bold; border-top: 1px solid #9aa5b1; }
.st-brief table.figures td.change { font-weight: bold; }
.st-brief .bad { color: #c2410c; }
.st-brief .good { color: #15803d; }
.st-brief .neutral { color: #52606d; }
.st-brief figure { margin: 1mm 0 3mm 0; break-inside: avoid; }
.st-brief figure img { width: 100%%; display: block; }
.st-brief figcaption { font-size: 9pt; color: #52606d; margin-top: 0.8mm; }
.st-brief figcaption .prov { white-space: nowrap; }
.st-brief .lvl-high { color: #d7301f; font-weight: bold; }
.st-brief .lvl-medium { color: #b45309; font-weight: bold; }
.st-brief .lvl-low { color: #15803d; }
.st-brief .note { font-size: 8.5pt; color: #52606d; margin: 1mm 0; }
.st-brief p { margin: 0 0 2mm 0; }
""" % {"font": FONT}

_PAGE = """
@page { size: A4; margin: 17mm 12mm 15mm 12mm; font-family: %(font)s;
  @top-left { content: "%(head)s"; font-size: 8.5pt; color: #52606d; font-family: %(font)s; }
  @top-right { content: "%(internal)s"; font-size: 8.5pt; color: #c2410c; font-family: %(font)s; }
  @bottom-left { content: "%(prov)s"; font-size: 8pt; color: #6b7785; font-family: %(font)s; }
  @bottom-right { content: %(pageno)s; font-size: 8pt; color: #6b7785; font-family: %(font)s; }
}
html { font-family: %(font)s; }
body { margin: 0; background: white; }
@media screen { body { padding: 8mm 4mm; } }
"""


def _css_string(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _table(headers: list[str], rows: list[list[Any]], *, cls: str = "", row_classes: list[str] | None = None,
           text_cols: tuple[int, ...] = ()) -> str:
    head = "".join(f'<th class="text">{escape(h)}</th>' if j in text_cols else f"<th>{escape(h)}</th>"
                   for j, h in enumerate(headers))
    body = []
    for i, row in enumerate(rows):
        rc = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        cells = []
        for j, cell in enumerate(row):
            if isinstance(cell, tuple):  # (html, css class): already escaped
                html, ccls = cell
                cells.append(f'<td class="{ccls}">{html}</td>')
            else:
                c = ' class="text"' if j in text_cols else ""
                cells.append(f"<td{c}>{escape(str(cell))}</td>")
        body.append(f"<tr{rc}>{''.join(cells)}</tr>")
    c = f' class="{cls}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(png: bytes | None, caption: str, prov: str) -> str:
    img = _img(png, caption) if png else ""
    return (f"<figure>{img}<figcaption>{escape(caption)} · <span class=\"prov\">{escape(prov)}</span>"
            f"</figcaption></figure>")


def _more(n: int, lang: str) -> str:
    return f'<p class="note">{escape(T("more_rows", lang, n=n))}</p>' if n > 0 else ""


def _share(v: Any) -> str:
    return v if isinstance(v, str) else fmt_pct(v)


def _minutes(v: Any, lang: str) -> str:
    return v if isinstance(v, str) else fmt_value(v, "min", lang)


def provenance(d: ReportData, lang: str) -> str:
    return T("provenance", lang, asof=fmt_time(d.data_as_of, d.zone), rules=d.rules.version)


def _figures_table(d: ReportData, lang: str) -> str:
    rows = []
    for r in d.figures.itertuples():
        dirn = direction(r.change)
        if dirn == 0:
            cls = "neutral"
        elif r.key in BAD_WHEN_UP:
            cls = "bad" if dirn > 0 else "good"
        else:
            cls = "neutral"
        label = r.label_zh if lang == "zh" else r.label_en
        rows.append([label, fmt_value(r.this_week, r.unit, lang), fmt_value(r.last_week, r.unit, lang),
                     (escape(fmt_change(r.change, r.change_pct, r.unit, lang)), f"change {cls}")])
    return _table([T("col_figure", lang), T("col_this", lang), T("col_last", lang), T("col_change", lang)], rows,
                  cls="figures")


def _reason_text(reason_counts: list[tuple[str, Any]], lang: str) -> str:
    if not reason_counts:
        return T("reason_none", lang)
    sep = T("list_sep", lang)
    parts = []
    for reason, n in reason_counts:
        count = fmt_count(n)
        parts.append(f"{T('reason_' + reason, lang)}（{count}）" if lang == "zh" else f"{T('reason_' + reason, lang)} ({count})")
    return sep.join(parts)


def _risk_section(d: ReportData, lang: str, charts: dict[str, bytes], prov: str) -> str:
    c, p = d.risk_counts, d.risk_counts_before
    out = [f'<section class="page" id="risk"><h2>{escape(T("s_risk", lang))}</h2>']
    day = d.end - timedelta(days=1)
    out.append(_figure(charts.get("risk"), T("fig_risk", lang, day=day.isoformat()), prov))
    out.append(f"<p>{escape(T('risk_counts', lang, high=c['high'], medium=c['medium'], low=c['low'], p_high=p['high'], p_medium=p['medium'], p_low=p['low']))}</p>")
    for level in ("high", "medium"):
        names = [short_name(n, lang) for n in
                 d.risk.loc[d.risk["level"] == level, "name_zh" if lang == "zh" else "name_en"]]
        if names:
            shown = T("list_sep", lang).join(names[:MAX_NAMES]) + (T("etc", lang) if len(names) > MAX_NAMES else "")
            out.append(f'<p><span class="lvl-{level}">{escape(T("risk_now_" + level, lang, n=len(names)))}</span>'
                       f"{escape(shown)}</p>")
    out.append(f"<h3>{escape(T('risk_changes_title', lang))}</h3>")
    ch = d.risk_changes
    if ch.empty:
        out.append(f"<p>{escape(T('risk_no_change', lang))}</p>")
    else:
        rows = []
        for r in ch.head(MAX_ROWS["risk"]).itertuples():
            name = r.name_zh if lang == "zh" else r.name_en
            move = (f'<span class="lvl-{escape(r.previous)}">{escape(level_name(r.previous, lang))}</span> → '
                    f'<span class="lvl-{escape(r.level)}">{escape(level_name(r.level, lang))}</span>', "text")
            drop = r.may_drop_on.isoformat() if r.level != "low" and r.may_drop_on is not None else "—"
            rows.append([name, move, _reason_text(r.reason_counts, lang), drop])
        out.append(_table([T("col_community", lang), T("col_from_to", lang), T("col_reason", lang),
                           T("col_drop", lang)], rows, text_cols=(1, 2)))
        out.append(_more(len(ch) - MAX_ROWS["risk"], lang))
    out.append("</section>")
    return "".join(out)


def _heat_section(d: ReportData, lang: str, charts: dict[str, bytes], prov: str) -> str:
    out = [f'<section class="page" id="heat"><h2>{escape(T("s_heat", lang))}</h2>']
    note = (T("heat_all", lang) if d.shows_small_counts else
            T("heat_suppressed", lang, k=d.k, n=d.heat.attrs.get("suppressed_cells", 0)))
    cap = T("fig_heat", lang, res=d.heat_resolution, measure=T("heat_measure", lang)) + ("；" if lang == "zh" else "; ") + note
    out.append(_figure(charts.get("heat"), cap, prov))
    cap = T("fig_clusters", lang)
    if any(sum(1 for _, a in g.nodes(data=True) if a.get("degree", 2) >= 2) > SECONDARY_LABELS for g in d.clusters[:3]):
        cap += ("；" if lang == "zh" else "; ") + T("clusters_dots", lang, n=SECONDARY_LABELS)
    if d.clusters:
        out.append(_figure(charts.get("clusters"), cap, prov))
        sizes = T("list_sep", lang).join(str(g.number_of_nodes()) for g in d.clusters)
        n_all = len(d.clusters)
        out.append(f"<p>{escape(T('clusters_sizes', lang, n=n_all, k=min(n_all, len(d.clusters)), sizes=sizes))}</p>")
    else:
        out.append(f"<p>{escape(T('clusters_none', lang))}</p>")
    out.append("</section>")
    return "".join(out)


def _traffic_section(d: ReportData, lang: str, charts: dict[str, bytes], prov: str) -> str:
    out = [f'<section class="page" id="traffic"><h2>{escape(T("s_traffic", lang))}</h2>']
    out.append(_figure(charts.get("throughput"), T("fig_throughput", lang), prov))
    cps = d.checkpoints
    # busiest first (vehicles in + out); rows whose volume is hidden last, by code, so that
    # their place says nothing of their size
    hidden = cps[["vehicles_in", "vehicles_out"]].map(lambda v: isinstance(v, str)).any(axis=1)
    busy = pd.to_numeric(cps["vehicles"], errors="coerce").fillna(0).where(~hidden, 0)
    cps_sorted = cps.assign(_h=hidden, _v=-busy).sort_values(["_h", "_v", "checkpoint_code"])
    rows = []
    for r in cps_sorted.head(MAX_ROWS["checkpoints"]).itertuples():
        rows.append([r.name, fmt_count(r.vehicles_in), fmt_count(r.vehicles_out), fmt_count(r.turned_back),
                     _share(r.turned_back_share), fmt_count(r.processing_p50_s), fmt_count(r.processing_p90_s)])
    out.append(_table([T("col_checkpoint", lang), T("col_in", lang), T("col_out", lang), T("col_turned", lang),
                       T("col_turned_share", lang), T("col_p50", lang), T("col_p90", lang)], rows))
    out.append(_more(len(cps) - MAX_ROWS["checkpoints"], lang))
    f = d.funnel
    target = f"{f.target_minutes:g}"
    out.append(_figure(charts.get("funnel"), T("fig_funnel", lang, target=target), prov))
    rows = []
    for r in d.funnel_categories.itertuples():
        rows.append([T(f"cat_{r.category}", lang) if f"cat_{r.category}" in _CATS else r.category,
                     fmt_count(r.applied), fmt_count(r.approved), fmt_count(r.rejected), fmt_count(r.pending),
                     _share(r.approval_rate), _minutes(r.latency_p50_min, lang), _share(r.within_target_share)])
    rows.append([T("total", lang), fmt_count(f.applied), fmt_count(f.approved), fmt_count(f.rejected),
                 fmt_count(f.pending), fmt_pct(f.approval_rate), fmt_value(f.latency_p50_min, "min", lang),
                 fmt_pct(f.within_target_share)])
    out.append(_table([T("col_category", lang), T("col_applied", lang), T("col_approved", lang),
                       T("col_rejected", lang), T("col_pending", lang), T("col_rate", lang), T("col_median", lang),
                       T("col_within", lang, target=target)], rows,
                      row_classes=[""] * (len(rows) - 1) + ["total"]))
    out.append("</section>")
    return "".join(out)


_CATS = {"cat_emergency_supplies", "cat_bulk_cargo", "cat_resident"}


def _isolation_section(d: ReportData, lang: str, charts: dict[str, bytes], prov: str) -> str:
    iso = d.isolation
    out = [f'<section class="page" id="isolation"><h2>{escape(T("s_isolation", lang))}</h2>']
    out.append(f"<p>{escape(T('iso_kpis', lang, capacity=fmt_count(iso.capacity), occupied=fmt_count(iso.occupied), free=fmt_count(iso.free), free3=fmt_count(iso.free_in_3d), free7=fmt_count(iso.free_in_7d)))}"
               + (f" {escape(T('iso_elsewhere', lang, n=fmt_count(d.isolation_elsewhere)))}" if d.isolation_elsewhere else "")
               + "</p>")
    out.append(_figure(charts.get("isolation"), T("fig_isolation", lang), prov))
    sites = d.isolation_sites
    if sites.empty:
        out.append(f"<p>{escape(T('iso_no_sites', lang))}</p>")
    else:
        rows = []
        for r in sites.head(MAX_ROWS["sites"]).itertuples():
            occ = r.occupancy if isinstance(r.occupancy, str) else fmt_pct(r.occupancy)
            rows.append([r.name, fmt_count(r.capacity), fmt_count(r.occupied), occ, fmt_count(r.free),
                         fmt_count(r.free_in_3d), fmt_count(r.free_in_7d)])
        rows.append([T("total", lang), fmt_count(iso.capacity), fmt_count(iso.occupied),
                     fmt_pct(iso.occupied / iso.capacity) if iso.capacity else "—", fmt_count(iso.free),
                     fmt_count(iso.free_in_3d), fmt_count(iso.free_in_7d)])
        out.append(_table([T("col_site", lang), T("col_capacity", lang), T("col_occupied", lang),
                           T("col_occupancy", lang), T("col_free", lang), T("col_free3", lang), T("col_free7", lang)],
                          rows, row_classes=[""] * (len(rows) - 1) + ["total"]))
        out.append(_more(len(sites) - MAX_ROWS["sites"], lang))
    out.append(f"<h3>{escape(T('s_notes', lang))}</h3>")
    rules = d.rules
    out.append(f'<p class="note">{escape(T("note_defs", lang, temp=rules.active_scan.max_temperature_c, minutes=rules.copresence.minutes))}</p>')
    out.append(f'<p class="note">{escape(T("note_cdc", lang) if d.shows_small_counts else T("note_k", lang, k=d.k))}</p>')
    out.append("</section>")
    return "".join(out)


def fragment(d: ReportData, lang: str, charts: dict[str, bytes], summary: list[str]) -> str:
    """The briefing as an ``<article class="st-brief">`` with its scoped ``<style>``."""
    iso_year, iso_week, _ = d.start.isocalendar()
    prov = provenance(d, lang)
    title = T("title", lang, district=T("district", lang))
    span = week_span(d.start, d.end - timedelta(days=1), lang)
    out = [f"<style>{CSS}</style>", f'<article class="st-brief" lang="{"zh-CN" if lang == "zh" else "en"}">']
    out.append(f"<header><h1>{escape(title)}</h1>"
               f'<p class="week">{escape(T("week_line", lang, year=iso_year, week=iso_week, span=span))}</p>'
               f'<p class="meta"><span>{escape(T("meta_asof", lang))}: {escape(fmt_time(d.data_as_of, d.zone))}</span>'
               f'<span>{escape(T("meta_rules", lang))}: {escape(d.rules.version)}</span>'
               f'<span>{escape(T("meta_role", lang))}: {escape(T("role_" + d.viewer.role, lang))}</span>'
               f'<span>{escape(T("meta_made", lang))}: {escape(fmt_time(d.generated_at, d.zone))}</span></p></header>')
    if d.incomplete:
        out.append(f'<p class="banner">{escape(T("incomplete", lang, asof=fmt_time(d.data_as_of, d.zone)))}</p>')
    out.append(f'<section id="summary"><h2>{escape(T("s_summary", lang))}</h2><ul class="summary">'
               + "".join(f"<li>{escape(s)}</li>" for s in summary) + "</ul></section>")
    out.append(f'<section id="figures"><h2>{escape(T("s_figures", lang))}</h2>{_figures_table(d, lang)}'
               f'<p class="note">{escape(prov)}</p></section>')
    out.append(_risk_section(d, lang, charts, prov))
    out.append(_heat_section(d, lang, charts, prov))
    out.append(_traffic_section(d, lang, charts, prov))
    out.append(_isolation_section(d, lang, charts, prov))
    out.append("</article>")
    return "".join(out)


def document(d: ReportData, lang: str, charts: dict[str, bytes], summary: list[str]) -> str:
    """The whole HTML document (self-contained; also the input of the PDF)."""
    iso_year, iso_week, _ = d.start.isocalendar()
    title = T("title", lang, district=T("district", lang))
    head = f"{title} · {iso_year}-W{iso_week:02d}"
    pageno = ('"第 " counter(page) " / " counter(pages) " 页"' if lang == "zh"
              else '"Page " counter(page) " of " counter(pages)')
    page_css = _PAGE % {"font": FONT, "head": _css_string(head), "internal": _css_string(T("internal", lang)),
                        "prov": _css_string(provenance(d, lang)), "pageno": pageno}
    return ("<!DOCTYPE html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f"<title>{escape(head)}</title><style>{page_css}</style></head><body>"
            f"{fragment(d, lang, charts, summary)}</body></html>\n")
