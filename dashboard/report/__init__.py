"""The leaders' weekly briefing as HTML and PDF (``sandtable brief``).

>>> from analytics.access import Viewer
>>> from dashboard.report import build_report
>>> report = build_report("2022-W15", viewer=Viewer("me", "leader"), lang="zh")  # doctest: +SKIP
>>> report.write("briefing.pdf"); report.write("briefing.html")                  # doctest: +SKIP

Everything comes from the analytics API (:mod:`dashboard.report.data`); charts are
Plotly figures exported with kaleido and the system's Chromium
(:mod:`dashboard.report.charts`, :mod:`dashboard.report.export`); the HTML is one
self-contained file (:mod:`dashboard.report.html`) and the PDF is that HTML printed by
WeasyPrint. This subpackage never imports Dash, so the command line and notebooks can
use it without the web app; the dashboard may embed :meth:`Report.fragment`.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from analytics.access import Viewer
from dashboard.report.data import BriefingError, ReportData, collect
from dashboard.report.export import quiet, warm_up
from dashboard.report.text import LANGS
from geodata.rules import Rules

__all__ = ["build_report", "Report", "BriefingError", "ReportData", "FORMATS", "check_output", "preload_pdf"]

FORMATS = (".pdf", ".html")


_preload: threading.Thread | None = None


def preload_pdf() -> None:
    """Import WeasyPrint in a background thread (a few seconds of fonts and style sheets)
    while the charts are drawn; :meth:`Report.pdf` then finds it loaded."""
    global _preload
    if _preload is None and "weasyprint" not in sys.modules:
        quiet("weasyprint", "fontTools")
        _preload = threading.Thread(target=importlib.import_module, args=("weasyprint",), daemon=True,
                                    name="preload-weasyprint")
        _preload.start()


def check_output(path: str | Path) -> Path:
    """The output path, if its extension is one we write (``.pdf`` or ``.html``)."""
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        msg = f"the briefing is written as .pdf or .html, not {p.name!r}"
        raise BriefingError(msg)
    return p


@dataclass
class Report:
    """A rendered briefing: its data, chart images, generated summary and HTML."""

    data: ReportData
    lang: str
    charts: dict[str, bytes]
    summary: list[str]
    html: str
    timings: dict[str, float] = field(default_factory=dict)

    def fragment(self) -> str:
        """The article alone (scoped styles), for embedding in another page."""
        from dashboard.report.html import fragment

        return fragment(self.data, self.lang, self.charts, self.summary)

    def pdf(self) -> bytes:
        """The briefing printed to PDF (A4) by WeasyPrint."""
        t = time.perf_counter()
        quiet("weasyprint", "fontTools")
        if _preload is not None:
            _preload.join()
        from weasyprint import HTML

        out = HTML(string=self.html).write_pdf()
        self.timings["pdf"] = time.perf_counter() - t
        return out

    def write(self, path: str | Path) -> Path:
        """Write ``.pdf`` or ``.html`` (chosen by the extension); returns the path."""
        p = check_output(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix.lower() == ".pdf":
            p.write_bytes(self.pdf())
        else:
            p.write_text(self.html, encoding="utf-8")
        return p


def build_report(
    week: str,
    *,
    viewer: Viewer,
    lang: str = "zh",
    engine: Engine | None = None,
    rules: Rules | None = None,
    progress: Callable[[str], None] | None = None,
    for_pdf: bool = False,
) -> Report:
    """Gather, draw and lay out the briefing of ISO ``week`` (``2022-W21``) for ``viewer``.

    ``progress`` (optional) is called with the name of each step as it starts. With
    ``for_pdf`` WeasyPrint is imported in the background while the charts are drawn.
    """
    step = progress or (lambda message: None)
    if lang not in LANGS:
        msg = f"language must be one of {', '.join(LANGS)}, got {lang!r}"
        raise BriefingError(msg)
    from dashboard.report.charts import all_charts
    from dashboard.report.export import to_png
    from dashboard.report.html import document, provenance
    from dashboard.report.text import summary_lines

    timings: dict[str, float] = {}
    warm_up()  # Chromium boots while the database works
    step("gathering the figures")
    t = time.perf_counter()
    d = collect(week, viewer=viewer, engine=engine, rules=rules)
    timings["data"] = time.perf_counter() - t
    prov = provenance(d, lang)
    step("drawing the charts")
    if for_pdf:
        preload_pdf()  # the main thread mostly waits on Chromium now
    t = time.perf_counter()
    charts = {name: to_png(fig) for name, fig in all_charts(d, lang, prov).items()
              if name != "clusters" or d.clusters}
    timings["charts"] = time.perf_counter() - t
    sev = {"high": 0, "medium": 1, "low": 2}
    risk_up: dict[str, list[str]] = {}
    risk_down: dict[str, list[str]] = {}
    for r in d.risk_changes.itertuples():
        name = r.name_zh if lang == "zh" else r.name_en
        target = risk_up if sev[r.level] < sev[r.previous] else risk_down
        target.setdefault(r.level, []).append(name)
    summary = summary_lines(
        d.figures, lang=lang, risk_counts=d.risk_counts, risk_up=risk_up, risk_down=risk_down,
        funnel={"target": d.funnel.target_minutes, "within_target_share": d.funnel.within_target_share},
        isolation={"free": d.isolation.free, "free_in_7d": d.isolation.free_in_7d})
    step("laying out")
    t = time.perf_counter()
    html = document(d, lang, charts, summary)
    timings["html"] = time.perf_counter() - t
    return Report(data=d, lang=lang, charts=charts, summary=summary, html=html, timings=timings)
