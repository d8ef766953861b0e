"""The weekly briefing (issue 7) on a hand-made scenario: PDF pages and text, the page-1
picture, a self-contained HTML, small-count suppression by role, the pseudonymised
cluster picture, provenance on every figure, and the command line.

One database and one set of rendered briefings serve the whole module (rendering is
the slow part: a Chromium for the charts, WeasyPrint for the PDF).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from analytics.access import Viewer
from analytics.briefing import briefing
from dashboard.report import Report, build_report
from dashboard.report.charts import cluster_labels
from dashboard.report.text import fmt_value
from geodata.db import dispose_engines
from geodata.settings import get_settings
from sandtable.cli import app
from tests.conftest import _TEMPLATE
from tests.scenario_vehicles import Fleet

pytestmark = [pytest.mark.db, pytest.mark.slow]

WEEK = "2022-W15"  # 04-11 .. 04-17; the week before is 04-04 .. 04-10
LEADER = Viewer("boss", "leader")
CDC = Viewer("epi", "cdc")
REFS = ["REF-ALPHA", "REF-BRAVO", "REF-CHARLIE", "REF-DELTA"]
POPPLER = all(shutil.which(p) for p in ("pdfinfo", "pdftotext", "pdftoppm", "pdffonts"))
# make setup installs poppler-utils: only a machine set up by hand may lack it (never CI)
needs_poppler = pytest.mark.skipif(not POPPLER and not os.environ.get("CI"),
                                   reason="poppler-utils (pdfinfo, pdftotext, pdftoppm) not installed")


def _scenario(engine: Engine) -> None:
    w = Fleet(engine)
    w.site("V1", community=0)
    w.site("V2", community=30)
    w.site("N1", kind="nat_site", community=3)
    w.site("H1", kind="isolation_site", community=4, capacity=10, name="一号隔离酒店")
    w.site("H2", kind="isolation_site", community=5, capacity=20, name="二号隔离酒店")
    w.site("C1", kind="checkpoint", community=6, name="京哈高速出口")
    w.site("C2", kind="checkpoint", community=7, name="北环路卡口")
    w.site("C3", kind="checkpoint", community=8, name="滨海公路卡口")
    a, b, c, d = REFS
    # last week: a quieter week at V1 (6 persons), one inbound stay at H2
    for i in range(6):
        w.scan(f"P{i}", "V1", f"04-05 1{i}:00")
    w.stay("IN-0", "H2", "04-05 09:00", "04-09 09:00", category="inbound")
    # this week: 8 persons at V1 (a cell shown to everyone), 2 at V2 (under k: leaders do not see it)
    w.nat(a, "04-12 09:00", site="N1")                       # the case, first positive this week
    w.scan(a, "V1", "04-12 08:00")
    w.scan(b, "V1", "04-12 08:10")                           # close contacts of the case
    w.scan(c, "V1", "04-12 08:20")
    for i in range(5):
        w.scan(f"P{i}", "V1", f"04-13 1{i}:00")
    w.scan(b, "V2", "04-12 20:00")
    w.scan(d, "V2", "04-12 20:15", color="red")              # secondary via the close contact; abnormal
    w.isolate(a, "H1", "04-13 08:00")
    w.stay(b, "H1", "04-14 08:00")
    w.stay(c, "H1", "04-14 08:00")                           # H1: 3 occupants (under k)
    w.stays(6, "H2", "04-15 10:00", category="inbound")      # H2: 6 occupants
    # passes: 8 bulk cargo (3..24 min), 3 emergency supplies (under k), 1 resident rejected; 5 last week
    for i in range(8):
        w.pass_(f"B{i}", f"04-12 10:0{i}", category="bulk_cargo", decided=f"04-12 10:{3 * i + 3:02d}",
                decision="approved", valid_from="04-12 11:00", valid_to="04-20 11:00")
    for i in range(3):
        w.pass_(f"E{i}", f"04-13 09:0{i}", decided=f"04-13 09:1{i}", decision="approved",
                valid_from="04-13 10:00", valid_to="04-20 10:00")
    w.pass_("R0", "04-14 09:00", category="resident", decided="04-14 09:30", decision="rejected")
    for i in range(5):
        w.pass_(f"L{i}", f"04-06 10:0{i}", category="bulk_cargo", decided=f"04-06 10:1{i}", decision="approved",
                valid_from="04-06 11:00", valid_to="04-08 11:00")
    # crossings: 8 at C1 (one turned back), 3 at C2 (under k), 9 at C3; 4 last week
    for i in range(8):
        w.crossing("C1", f"04-1{2 + i % 3} 0{8 + i % 2}:{10 + i}", direction="in" if i < 6 else "out",
                   outcome="turned_back" if i == 0 else "released")
    for i in range(3):
        w.crossing("C2", f"04-14 1{i}:00")
    for i in range(9):
        w.crossing("C3", f"04-15 1{i}:00")
    for i in range(4):
        w.crossing("C1", f"04-06 1{i}:00")


@pytest.fixture(scope="module")
def brief_engine(pg_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:  # noqa: ANN001
    """A database of its own for the module, with the scenario, and the environment pointed at it."""
    name = f"t_brief_{os.getpid()}"
    url = pg_server.create(name, template=_TEMPLATE)
    home = tmp_path_factory.mktemp("brief-home")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("SANDTABLE_") and key != "SANDTABLE_TEST_DATABASE_URL":
                mp.delenv(key)
        mp.setenv("SANDTABLE_HOME", str(home))
        mp.setenv("SANDTABLE_DATABASE_URL", url)
        get_settings.cache_clear()
        dispose_engines()
        engine = create_engine(url, poolclass=NullPool)
        _scenario(engine)
        try:
            yield engine
        finally:
            engine.dispose()
            dispose_engines()
            get_settings.cache_clear()
    pg_server.drop(name)


@pytest.fixture(scope="module")
def reports(brief_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    return {
        "leader": build_report(WEEK, viewer=LEADER, lang="zh", engine=brief_engine),
        "cdc": build_report(WEEK, viewer=CDC, lang="zh", engine=brief_engine),
        "en": build_report(WEEK, viewer=LEADER, lang="en", engine=brief_engine),
    }


@pytest.fixture(scope="module")
def leader_pdf(reports: dict[str, Report], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reports["leader"].write(tmp_path_factory.mktemp("brief-pdf") / "briefing.pdf")


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


# --- PDF --------------------------------------------------------------------------------------
@needs_poppler
def test_pdf_has_the_expected_pages(leader_pdf: Path) -> None:
    info = _run("pdfinfo", str(leader_pdf))
    assert re.search(r"^Pages:\s+5$", info, re.M), info


@needs_poppler
def test_pdf_text_holds_every_headline_figure(leader_pdf: Path, brief_engine: Engine) -> None:
    """Each row of the figures table, as ``analytics.briefing`` returns it, is on one line of
    the extracted text: the label, this week and last week as formatted."""
    text = _run("pdftotext", "-layout", str(leader_pdf), "-")
    b = briefing(WEEK, viewer=LEADER, engine=brief_engine)
    lines = text.splitlines()
    for r in b.figures.itertuples():
        this, last = fmt_value(r.this_week, r.unit, "zh"), fmt_value(r.last_week, r.unit, "zh")
        row = [ln for ln in lines if ln.strip().startswith(r.label_zh)]
        assert row, f"no line for {r.label_zh}"
        assert any(re.search(rf"{re.escape(this)}\s+{re.escape(last)}", ln) for ln in row), (r.label_zh, this, last, row)
    assert b.figure("scans") == 10 and b.figure("cases") == 1  # the scenario as written
    assert "龙港区疫情防控周报" in text and "2022年第15周" in text
    assert "protocol-9/2022-06" in text and "数据截至 2022-04-13 14:00" in text  # footer and captions


@needs_poppler
def test_pdf_embeds_the_cjk_font(leader_pdf: Path) -> None:
    fonts = _run("pdffonts", str(leader_pdf))
    assert "NotoSansCJKSC" in fonts.replace(" ", "").replace("-", ""), fonts


@needs_poppler
def test_page_one_renders_the_chinese_title(leader_pdf: Path, tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    _run("pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(leader_pdf), str(tmp_path / "page"))
    png = next(tmp_path.glob("page*.png"))
    img = Image.open(png).convert("L")
    assert ImageStat.Stat(img).stddev[0] > 20  # not a blank page
    w, h = img.size
    title = img.crop((0, int(h * 0.05), w // 2, int(h * 0.12)))  # where the h1 sits
    dark = sum(title.histogram()[:100])
    assert dark > 300, f"title band nearly empty ({dark} dark pixels)"
    text = _run("pdftotext", "-f", "1", "-l", "1", str(leader_pdf), "-")
    assert text.lstrip().splitlines()[0].startswith("龙港区疫情防控周报") or "龙港区疫情防控周报" in text[:200]


# --- HTML -------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["leader", "cdc", "en"])
def test_html_is_self_contained(reports: dict[str, Report], which: str) -> None:
    html = reports[which].html
    assert not re.search(r"https?://", html)
    assert not re.search(r"<script\b", html, re.I) and "@import" not in html and "<link" not in html.lower()
    assert not re.search(r"url\(\s*['\"]?(?!data:)", html)
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == 6 and all(s.startswith("data:image/png;base64,") for s in srcs)
    # the fragment a dashboard page can embed: the article and its scoped styles, no page rules
    frag = reports[which].fragment()
    assert frag.startswith("<style>") and '<article class="st-brief"' in frag and "@page" not in frag
    assert frag in html


def test_every_figure_carries_data_as_of_and_rules(reports: dict[str, Report]) -> None:
    for which, lang_asof in (("leader", "数据截至 2022-04-13 14:00"), ("en", "Data as of 2022-04-13 14:00")):
        html = reports[which].html
        captions = re.findall(r"<figcaption>(.*?)</figcaption>", html, re.S)
        assert len(captions) == len(re.findall(r"<img ", html)) == 6
        assert all(lang_asof in c and "protocol-9/2022-06" in c for c in captions), captions


def test_no_person_reference_or_pseudonym_in_the_briefing(reports: dict[str, Report], brief_engine: Engine) -> None:
    from tests.scenario import World

    pids = [str(World(brief_engine).pid(r)) for r in REFS]
    for rep in reports.values():
        for secret in REFS + pids:
            assert secret not in rep.html


def test_cluster_picture_labels_are_pseudonymised(reports: dict[str, Report]) -> None:
    d = reports["leader"].data
    assert len(d.clusters) == 1 and d.clusters[0].number_of_nodes() == 4
    labels = cluster_labels(d.clusters, "zh")[0]
    assert set(labels.values()) == {"病例1", "密接1", "密接2", "次密接1"}
    assert set(cluster_labels(d.clusters, "en")[0].values()) == {"Case1", "Close1", "Close2", "Secondary1"}
    html = reports["leader"].html
    assert "传播链1（4人）" not in html  # the labels live in the picture, not as text: nothing to scrape


# --- small counts -----------------------------------------------------------------------------
def test_small_counts_hidden_for_leaders_shown_for_cdc(reports: dict[str, Report]) -> None:
    lead, cdc = reports["leader"].data, reports["cdc"].data
    cp_l = lead.checkpoints.set_index("checkpoint_code")
    cp_c = cdc.checkpoints.set_index("checkpoint_code")
    # vehicles in: C1 6, C2 3, C3 9. C2 is under k; C1, the smallest other, is hidden with it
    # (secondary), else C2 = district total - C1 - C3; C3 stays
    assert cp_l["vehicles_in"].to_dict() == {"C1": "*", "C2": "<5", "C3": 9}
    assert cp_c["vehicles_in"].to_dict() == {"C1": 6, "C2": 3, "C3": 9}
    assert cp_l.at["C1", "turned_back"] == "<5" and cp_c.at["C1", "turned_back"] == 1
    assert cp_l.at["C1", "turned_back_share"] == "—" and cp_c.at["C1", "turned_back_share"] == pytest.approx(1 / 8)
    cat_l = lead.funnel_categories.set_index("category")
    # applications: emergency 3, bulk 8, resident 1: two under k hold 4 < k together, so bulk goes too
    assert cat_l["applied"].to_dict() == {"emergency_supplies": "<5", "bulk_cargo": "*", "resident": "<5"}
    assert cdc.funnel_categories.set_index("category")["applied"].to_dict() == {
        "emergency_supplies": 3, "bulk_cargo": 8, "resident": 1}
    assert (cat_l["approval_rate"] == "—").all()
    site_l = lead.isolation_sites.set_index("site_code")
    site_c = cdc.isolation_sites.set_index("site_code")
    assert site_l.at["H1", "occupied"] == "<5" and site_c.at["H1", "occupied"] == 3
    assert site_l.at["H1", "free"] == "≥6" and site_c.at["H1", "free"] == 7
    assert site_l.at["H2", "occupied"] == "*" and site_l.at["H2", "free"] == "*" and site_c.at["H2", "occupied"] == 6
    # risk-change reasons: one case in each changed community
    reasons_l = [n for rc in lead.risk_changes["reason_counts"] for _, n in rc]
    assert reasons_l and set(reasons_l) == {"<5"}
    assert {n for rc in cdc.risk_changes["reason_counts"] for _, n in rc} == {1}
    # the heatmap: V2's cell (2 persons) is dropped for the leader, and V1's with it (secondary)
    assert len(cdc.heat) == 2 and len(lead.heat) == 0 and lead.heat.attrs["suppressed_cells"] == 2
    # district totals stay
    assert lead.figures.equals(cdc.figures)
    assert lead.isolation.occupied == cdc.isolation.occupied == 9
    # and what is printed
    assert "&lt;5" in reports["leader"].html and "&lt;5" not in reports["cdc"].html
    assert "小于 5 的计数显示为" in reports["leader"].html and "未隐去小计数" in reports["cdc"].html
    # the rows with a hidden count come last, in code order (their place says nothing of their size)
    html = reports["leader"].html
    assert html.index("滨海公路卡口") < html.index("京哈高速出口") < html.index("北环路卡口")


# --- summary ---------------------------------------------------------------------------------
def test_summary_says_what_rose_and_fell(reports: dict[str, Report]) -> None:
    zh, en = reports["leader"].summary, reports["en"].summary
    assert zh[0] == "本周新增阳性 1 例（上周 0 例），密接 2 人、次密接 1 人。"
    assert any(s.startswith("上升：") and "新增阳性 1（上周 0，新增）" in s for s in zh)
    assert en[0] == "New cases this week: 1 (last week 0); close contacts: 2, secondary contacts: 1."
    assert any(s.startswith("Rose: ") for s in en)
    assert any("高风险社区 1 个、中风险 1 个" in s for s in zh)
    # deterministic: the same week gives the same words
    from dashboard.report.text import summary_lines

    d = reports["leader"].data
    again = summary_lines(d.figures, lang="zh", risk_counts=d.risk_counts,
                          risk_up={"high": [n for n in d.risk_changes.query("level == 'high'")["name_zh"]],
                                   "medium": [n for n in d.risk_changes.query("level == 'medium'")["name_zh"]]},
                          risk_down={}, funnel={"target": 10.0, "within_target_share": d.funnel.within_target_share},
                          isolation={"free": d.isolation.free, "free_in_7d": d.isolation.free_in_7d})
    assert again == zh


# --- command line ------------------------------------------------------------------------------
runner = CliRunner()


@needs_poppler
def test_cli_writes_both_formats(brief_engine: Engine, tmp_path: Path) -> None:
    pdf, html = tmp_path / "w15.pdf", tmp_path / "w15.html"
    result = runner.invoke(app, ["brief", "--week", WEEK, "--out", str(pdf), "--out", str(html), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert f"wrote {pdf}" in result.output and f"wrote {html}" in result.output
    assert pdf.read_bytes()[:5] == b"%PDF-" and "Longgang District weekly briefing" in _run("pdftotext", str(pdf), "-")
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("args", "message"), [
    (["--week", "2022-15", "--out", "x.pdf"], "week must look like 2022-W21"),
    (["--week", "2022-W60", "--out", "x.pdf"], "no such ISO week"),
    (["--week", WEEK, "--out", "x.docx"], "written as .pdf or .html"),
    (["--week", WEEK, "--out", "x.pdf", "--lang", "fr"], "--lang must be one of zh, en"),
    (["--week", WEEK, "--out", "x.pdf", "--role", "mayor"], "--role must be one of"),
    (["--week", "2022-W30", "--out", "x.pdf"], "no data in 2022-W30"),
    (["--week", "2021-W30", "--out", "x.pdf"], "no data before the end of 2021-W30"),
])
def test_cli_fails_with_one_clear_line(brief_engine: Engine, tmp_path: Path, args: list[str], message: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["brief", *args])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("sandtable: error: ") and message in lines[0], result.output
    assert not list(tmp_path.iterdir())  # nothing written


def test_week_without_data_before_it_is_a_briefing_error(brief_engine: Engine) -> None:
    from dashboard.report import BriefingError

    with pytest.raises(BriefingError, match="no data"):
        build_report("2022-W40", viewer=LEADER, engine=brief_engine)
    with pytest.raises(BriefingError, match="language"):
        build_report(WEEK, viewer=LEADER, lang="de", engine=brief_engine)


def test_incomplete_week_is_flagged(brief_engine: Engine) -> None:
    """Data that stops mid-week gets a banner (the figures are low, not falling)."""
    from dashboard.report.data import collect

    d = collect(WEEK, viewer=LEADER, engine=brief_engine)
    assert d.incomplete  # the scenario's newest scan is 04-13 14:00, the week ends 04-18
    assert isinstance(pd.Timestamp(d.data_as_of), pd.Timestamp)


@needs_poppler
@pytest.mark.parametrize("which", ["leader", "en"])
def test_long_tables_still_fit_five_pages(reports: dict[str, Report], which: str, tmp_path: Path) -> None:
    """Each section fits its page whatever the week holds: long tables are cut with "n more not listed"."""
    from dataclasses import replace

    from dashboard.report.html import document

    rep = reports[which]
    d = rep.data
    risk = d.risk.copy()
    risk["level"] = ["high"] * 30 + ["medium"] * 20 + ["low"] * (len(risk) - 50)
    big = replace(d, risk=risk, risk_changes=pd.concat([d.risk_changes] * 15, ignore_index=True),
                  checkpoints=pd.concat([d.checkpoints] * 12, ignore_index=True),
                  isolation_sites=pd.concat([d.isolation_sites] * 15, ignore_index=True))
    from weasyprint import HTML

    pdf = tmp_path / "big.pdf"
    HTML(string=document(big, rep.lang, rep.charts, rep.summary)).write_pdf(pdf)
    assert re.search(r"^Pages:\s+5$", _run("pdfinfo", str(pdf)), re.M)
    text = _run("pdftotext", str(pdf), "-")
    assert ("未列出" if rep.lang == "zh" else "more not listed") in text


def test_cli_on_a_database_without_the_schema(brief_engine: Engine, pg_server, tmp_path: Path,  # noqa: ANN001
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"t_brief_bare_{os.getpid()}"
    url = pg_server.create(name)  # no template: no schema
    monkeypatch.setenv("SANDTABLE_DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    dispose_engines()
    try:
        result = runner.invoke(app, ["brief", "--week", WEEK, "--out", "x.pdf"])
    finally:
        dispose_engines()
        get_settings.cache_clear()
        pg_server.drop(name)
    assert result.exit_code == 1
    assert [ln for ln in result.output.splitlines() if ln.strip()] == [
        "sandtable: error: the database has no sandtable schema yet: run `sandtable db up`"]
