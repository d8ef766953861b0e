"""Chinese and English: every label, number, date and duration the dashboard shows.

``t(key, lang)`` looks a label up (a missing key is a bug: it raises ``KeyError``, and a
test checks that every key has both languages); the ``fmt_*`` functions format numbers,
shares, changes, dates and times. Times are shown in the district's zone
(``SANDTABLE_TIMEZONE``), whatever the zone of the machine that runs the server.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from numbers import Number
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = ["LANGS", "DEFAULT_LANG", "TEXT", "t", "resolve_lang", "name", "fmt_int", "fmt_num", "fmt_share",
           "fmt_percent", "fmt_change", "fmt_date", "fmt_short_date", "fmt_datetime", "fmt_age", "fmt_time",
           "fmt_ms", "fmt_minutes", "fmt_seconds", "zone", "MISSING", "plain"]

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
MISSING = "—"

#: key -> (Chinese, English)
TEXT: dict[str, tuple[str, str]] = {
    # the shell
    "app.title": ("龙港区疫情防控电子沙盘", "Longgang District Epidemic-Control E-Sandbox"),
    "app.short": ("电子沙盘", "E-Sandbox"),
    "nav.sandbox": ("沙盘总览", "Sandbox"),
    "nav.tracing": ("流调溯源", "Tracing"),
    "nav.checkpoints": ("卡口通行", "Checkpoints"),
    "nav.isolation": ("隔离点", "Isolation"),
    "nav.briefing": ("每周简报", "Briefing"),
    "lang.switch": ("English", "中文"),
    "nav.logout": ("退出登录", "Log out"),
    # logging in
    "login.title": ("登录", "Log in"),
    "login.name": ("账号", "Account"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("账号或密码不正确，或账号已停用。", "Wrong account or password, or the account is disabled."),
    "login.retry": ("登录页面已过期，请重新输入。", "The login form had expired; please try again."),
    "login.throttled": ("尝试次数过多，请稍后再试。", "Too many attempts; please wait a while and try again."),
    "login.unavailable": ("数据库暂时无法连接，请稍后再试。", "The database cannot be reached; try again shortly."),
    "login.kiosk_failed": ("大屏令牌无效，或其账号已停用。", "This kiosk token is not valid, or its account is disabled."),
    "login.logged_out": ("您已退出登录。", "You have logged out."),
    "login.note": ("登录、退出以及每一次个人信息查询都会记入审计日志。",
                   "Logins, logouts and every look at a named person are written to the audit log."),
    "status.as_of": ("数据截至", "Data as of"),
    "status.no_data": ("暂无数据", "No data yet"),
    "status.no_data_hint": ("数据库中还没有扫码数据；数据导入后此处自动更新。",
                            "The database holds no scans yet; this screen fills itself once data are loaded."),
    "status.stale": ("数据库暂时无法连接，显示的是最后一次获取的数据（{age}前），连接恢复后自动更新。",
                     "The database cannot be reached: showing the last data received ({age} ago); "
                     "the screen recovers by itself when it comes back."),
    "status.stale_nodata": ("数据库暂时无法连接，连接恢复后自动更新。",
                            "The database cannot be reached; the screen recovers by itself when it comes back."),
    "status.error": ("此面板暂时无法显示：{error}", "This panel cannot be shown right now: {error}"),
    "status.role": ("角色", "Role"),
    "role.cdc": ("疾控", "CDC"),
    "role.command": ("指挥中心", "Command"),
    "role.transport": ("交通", "Transport"),
    "role.leader": ("领导", "Leader"),
    "role.analyst": ("分析员", "Analyst"),
    "unit.min": ("分钟", "min"),
    "unit.s": ("秒", "s"),
    "unit.h": ("小时", "h"),
    "unit.vehicles": ("辆", "vehicles"),
    "unit.persons": ("人", "persons"),
    "unit.beds": ("床", "beds"),
    "time.ago.s": ("{n} 秒", "{n} s"),
    "time.ago.min": ("{n} 分钟", "{n} min"),
    "time.ago.h": ("{n} 小时", "{n} h"),
    "vs_yesterday": ("较昨日", "vs yesterday"),
    "notfound.title": ("页面不存在", "Page not found"),
    "notfound.back": ("返回沙盘总览", "Back to the sandbox"),
    # KPI tiles
    "kpi.scans": ("今日扫码", "Scans today"),
    "kpi.abnormal_scans": ("异常扫码", "Abnormal scans"),
    "kpi.passes_issued": ("通行证发放", "Passes issued"),
    "kpi.approval_median_min": ("审批中位时长", "Median approval"),
    "kpi.crossings": ("卡口通行", "Checkpoint crossings"),
    "kpi.turned_back": ("劝返车辆", "Turned back"),
    "kpi.cases": ("新增阳性", "New cases"),
    "kpi.close_contacts": ("密接", "Close contacts"),
    "kpi.secondary_contacts": ("次密接", "Secondary contacts"),
    "kpi.isolation_occupancy": ("隔离点使用率", "Isolation occupancy"),
    "kpi.isolation_occupied": ("隔离在住", "In isolation"),
    "kpi.persons_scanned": ("扫码人数", "Persons scanned"),
    "kpi.median": ("审批中位 {v}", "median approval {v}"),
    "kpi.fever_medicine": ("退烧药购买", "Fever medicine"),
    "kpi.returnees_risk": ("中高风险返乡", "Risk-area returnees"),
    "kpi.day": ("{day}（箭头：较昨日）", "{day} (arrows: vs yesterday)"),
    # the map
    "map.title": ("全区态势", "District situation"),
    "layer.risk": ("风险等级", "Risk areas"),
    "layer.heatmap": ("热力图", "Heatmap"),
    "layer.checkpoints": ("卡口", "Checkpoints"),
    "layer.isolation": ("隔离点", "Isolation sites"),
    "layer.outlines": ("街道边界", "Street outlines"),
    "risk.high": ("高风险", "High risk"),
    "risk.medium": ("中风险", "Medium risk"),
    "risk.low": ("低风险", "Low risk"),
    "risk.reason.case_resident": ("病例居住", "a case lives here"),
    "risk.reason.case_visit": ("病例到访", "a case visited"),
    "risk.reason.cases_copresent": ("多名病例同场", "cases met here"),
    "risk.may_drop_on": ("预计解除", "may drop on"),
    "measure.scans": ("扫码量", "Scans"),
    "measure.persons": ("扫码人数", "Persons"),
    "measure.abnormal": ("异常扫码", "Abnormal scans"),
    "control.measure": ("热力指标", "Heatmap measure"),
    "control.resolution": ("网格精度", "Hexagon size"),
    "control.window": ("时间范围", "Time window"),
    "control.layers": ("图层", "Layers"),
    "res.7": ("粗 (5 km²)", "coarse (5 km²)"),
    "res.8": ("中 (0.7 km²)", "medium (0.7 km²)"),
    "res.9": ("细 (0.1 km²)", "fine (0.1 km²)"),
    "window.hours": ("近 {n} 小时", "last {n} h"),
    "window.days": ("近 {n} 天", "last {n} days"),
    "map.suppressed": ("{n} 个网格人数少于 {k}，已隐藏", "{n} cells with fewer than {k} persons hidden"),
    "map.vehicles": ("车辆", "vehicles"),
    "map.occupancy": ("使用率", "occupancy"),
    "occ.low": ("使用率 < 70%", "occupancy < 70%"),
    "occ.mid": ("使用率 70–90%", "occupancy 70–90%"),
    "occ.high": ("使用率 > 90%", "occupancy > 90%"),
    # side panels
    "panel.risk": ("风险区域", "Risk areas"),
    "panel.isolation": ("隔离点使用", "Isolation sites"),
    "panel.checkpoints": ("卡口流量 (24 小时)", "Checkpoints (24 h)"),
    "panel.none_high": ("当前无中高风险区域", "No medium or high risk area"),
    "panel.more": ("另有 {n} 个", "and {n} more"),
    "panel.beds_free": ("空余 {n} 床", "{n} beds free"),
    "panel.turned_back": ("劝返 {n}", "{n} turned back"),
    "panel.communities": ("个社区", "communities"),
    # tracing
    "trace.title": ("流调溯源", "Contact tracing"),
    "trace.person": ("人员编号", "Person reference"),
    "trace.person_ph": ("输入身份证号或人员编号", "ID number or person reference"),
    "trace.purpose": ("查询事由", "Purpose"),
    "trace.purpose_ph": ("例如：阳性病例流调", "e.g. investigation of a positive case"),
    "trace.go": ("开始溯源", "Trace"),
    "trace.need_person": ("请输入人员编号。", "Type a person reference."),
    "trace.need_purpose": ("请填写查询事由（将记入审计日志）。", "State the purpose (it is written to the audit log)."),
    "trace.denied": ("无权限：仅疾控（cdc）角色可以查看个人轨迹与密接。当前角色：{role}。",
                     "Not permitted: only the CDC role may trace persons. Your role: {role}."),
    "trace.audit_note": ("每次查询都会记录查询人、事由与时间。", "Every trace is written to the audit log with who, why and when."),
    "trace.elapsed": ("用时 {ms}", "took {ms}"),
    "trace.summary": ("{who}：{kind}，暴露窗口 {w0} 至 {w1}；密接 {close} 人，次密接 {sec} 人，轨迹 {n} 条",
                      "{who}: {kind}, exposure window {w0} to {w1}; {close} close and {sec} secondary contacts, "
                      "{n} scans"),
    "trace.case": ("阳性病例", "a case"),
    "trace.not_case": ("非病例（按最近窗口）", "not a case (recent window)"),
    "trace.open": ("至今", "now"),
    "trace.trajectory": ("活动轨迹", "Trajectory"),
    "trace.graph": ("密接关系图", "Contact graph"),
    "trace.close": ("密接人员", "Close contacts"),
    "trace.secondary": ("次密接人员", "Secondary contacts"),
    "trace.export": ("导出 CSV（现场排查）", "Export CSV (field teams)"),
    "trace.expired": ("查询结果已过期，请重新查询。", "The result has expired; trace again."),
    "trace.no_scans": ("该人员在窗口内没有扫码记录。", "No scans of this person in the window."),
    "trace.unknown": ("未找到该人员的记录。", "No record of this person."),
    "trace.index": ("查询对象", "Index person"),
    "trace.lookups": ("我的近期查询（审计日志）", "My recent lookups (audit log)"),
    "trace.no_lookups": ("暂无查询记录。", "No lookups yet."),
    "trace.lookups_error": ("查询记录暂时无法显示。", "The lookups cannot be shown right now."),
    "action.trace": ("溯源", "trace"),
    "action.trace_export": ("导出 CSV", "CSV export"),
    "action.list_cases": ("病例列表", "case list"),
    "action.person_lookup": ("人员查询", "person lookup"),
    "col.when": ("时间", "When"),
    "col.action": ("操作", "Action"),
    "col.purpose": ("事由", "Purpose"),
    "col.rows": ("结果条数", "Rows"),
    "col.person": ("人员", "Person"),
    "col.first_exposure": ("首次暴露", "First exposure"),
    "col.isolated_at": ("隔离时间", "Isolated at"),
    "col.exposures": ("暴露证据", "Evidence"),
    "col.via": ("经由密接", "Via"),
    "col.degree": ("类别", "Kind"),
    "col.time": ("时间", "Time"),
    "col.site": ("场所", "Site"),
    "col.site_code": ("场所编号", "Site code"),
    "col.kind": ("场所类型", "Site kind"),
    "col.community": ("社区", "Community"),
    "degree.0": ("查询对象", "index"),
    "degree.1": ("密接", "close contact"),
    "degree.2": ("次密接", "secondary contact"),
    # checkpoints
    "cp.title": ("卡口通行与通行证", "Checkpoints and passes"),
    "cp.throughput": ("每小时通行车辆", "Vehicles per hour"),
    "cp.in": ("进", "in"),
    "cp.out": ("出", "out"),
    "cp.summary": ("卡口处理情况", "Checkpoint processing"),
    "cp.funnel": ("通行证审批", "Pass approvals"),
    "cp.latency": ("审批时长分布", "Approval time"),
    "cp.target": ("承诺 {n} 分钟", "{n}-minute promise"),
    "cp.by_department": ("按审批部门", "By reviewing department"),
    "col.checkpoint": ("卡口", "Checkpoint"),
    "col.vehicles_in": ("进", "In"),
    "col.vehicles_out": ("出", "Out"),
    "col.vehicles": ("合计", "Total"),
    "col.turned_back": ("劝返", "Turned back"),
    "col.turned_back_share": ("劝返率", "Turned back %"),
    "col.p50": ("处理中位 (秒)", "p50 (s)"),
    "col.p90": ("处理 P90 (秒)", "p90 (s)"),
    "col.p95": ("处理 P95 (秒)", "p95 (s)"),
    "col.category": ("类别", "Category"),
    "col.department": ("部门", "Department"),
    "col.applied": ("申请", "Applied"),
    "col.approved": ("批准", "Approved"),
    "col.rejected": ("驳回", "Rejected"),
    "col.pending": ("待审", "Pending"),
    "col.approval_rate": ("批准率", "Approval rate"),
    "col.latency_p50": ("审批中位 (分)", "Median (min)"),
    "col.within_target": ("按时率", "On time"),
    "col.passes": ("通行证", "Passes"),
    "cat.emergency_supplies": ("应急物资", "Emergency supplies"),
    "cat.bulk_cargo": ("大宗货物", "Bulk cargo"),
    "cat.resident": ("居民出行", "Residents"),
    "cp.applied": ("申请", "applied"),
    "cp.approved": ("批准", "approved"),
    "cp.rejected": ("驳回", "rejected"),
    "cp.pending": ("待审", "pending"),
    "cp.kpi.approval_rate": ("批准率", "Approval rate"),
    "cp.kpi.within_target": ("{n} 分钟内审结", "Decided within {n} min"),
    "cp.kpi.latency": ("审批中位 / P90", "Median / p90 approval"),
    "cp.kpi.active": ("有效通行证", "Active passes"),
    "cp.kpi.vehicles": ("通行车辆", "Vehicles"),
    "cp.kpi.turned_back": ("劝返率", "Turned back"),
    # isolation
    "iso.title": ("隔离点容量与使用", "Isolation capacity and occupancy"),
    "iso.capacity": ("总床位", "Beds"),
    "iso.occupied": ("在住", "Occupied"),
    "iso.free": ("空余", "Free now"),
    "iso.free3": ("3 天后空余", "Free in 3 days"),
    "iso.free7": ("7 天后空余", "Free in 7 days"),
    "iso.over90": ("使用率超 90% 的隔离点", "Sites over 90%"),
    "iso.sites": ("各隔离点", "Sites"),
    "iso.series": ("每日在住人数", "Occupied per day"),
    "iso.flows": ("各隔离点每日入住与解除", "Admissions and discharges per day, by site"),
    "iso.admissions": ("入住", "admissions"),
    "iso.discharges": ("解除", "discharges"),
    "iso.home_n": ("居家隔离（{n} 个社区登记）", "Home isolation ({n} community offices)"),
    "col.capacity": ("床位", "Beds"),
    "col.occupied": ("在住", "Occupied"),
    "col.occupancy": ("使用率", "Occupancy"),
    "col.admissions_today": ("今日入住", "Admitted today"),
    "col.discharges_today": ("今日解除", "Discharged today"),
    "col.free": ("空余", "Free"),
    "col.free_in_3d": ("3 天后空余", "Free in 3 d"),
    "col.free_in_7d": ("7 天后空余", "Free in 7 d"),
    "col.overdue": ("逾期未解除", "Overdue"),
    # briefing
    "brief.title": ("每周简报", "Weekly briefing"),
    "brief.week": ("周次", "Week"),
    "brief.figures": ("本周数据", "The week's figures"),
    "brief.risk_changes": ("风险等级变化", "Risk-level changes"),
    "brief.no_changes": ("本周无风险等级变化", "No risk level changed this week"),
    "brief.clusters": ("主要传播链", "Largest contact clusters"),
    "brief.no_clusters": ("本周无传播链", "No cluster this week"),
    "brief.risk_now": ("周末风险区域", "Risk areas at week end"),
    "brief.pdf_later": ("PDF 版简报见命令 sandtable brief。", "The PDF briefing comes from `sandtable brief`."),
    "col.figure": ("指标", "Figure"),
    "col.this_week": ("本周", "This week"),
    "col.last_week": ("上周", "Last week"),
    "col.change": ("变化", "Change"),
    "col.change_pct": ("变化率", "Change %"),
    "col.previous": ("原等级", "Was"),
    "col.level": ("现等级", "Now"),
    "col.cluster": ("传播链", "Cluster"),
    "col.size": ("人数", "Persons"),
    "col.cases": ("病例", "Cases"),
    "col.close": ("密接", "Close"),
    "col.secondary": ("次密接", "Secondary"),
    "week.label": ("{year} 年第 {week} 周（{d0} – {d1}）", "{year} week {week} ({d0} – {d1})"),
}

_WEEKDAYS_ZH = "一二三四五六日"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def plain(value: object) -> str:
    """Free text (a site or community name from the feeds) for a Plotly label, legend or
    hover template, shown exactly as it is: Plotly reads a subset of HTML (links,
    bold, line breaks) and ``%{...}`` templates in labels, so ``<``, ``>``, ``&`` and ``%``
    are given as entities, which it draws as the characters themselves."""
    import html as _html

    return _html.escape(str(value), quote=False).replace("%", "&#37;")


def resolve_lang(lang: str | None, default: str = DEFAULT_LANG) -> str:
    """``lang`` if it is one we speak, else ``default``."""
    return lang if lang in LANGS else default


def t(key: str, lang: str, **values: object) -> str:
    """The label ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``."""
    zh, en = TEXT[key]
    text = zh if lang == "zh" else en
    return text.format(**values) if values else text


def name(row: object, lang: str, base: str = "name") -> str:
    """``row.name_zh`` or ``row.name_en`` (a mapping or an object), falling back to the other."""
    get = row.get if isinstance(row, dict) else (lambda k, d=None: getattr(row, k, d))
    first, second = (f"{base}_zh", f"{base}_en") if lang == "zh" else (f"{base}_en", f"{base}_zh")
    return get(first) or get(second) or ""


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def fmt_int(value: Number | None, lang: str) -> str:
    """A count: ``12,345``; in Chinese ``12.3万`` from 100,000 on."""
    if _missing(value):
        return MISSING
    v = round(float(value))
    if lang == "zh" and abs(v) >= 100_000:
        return f"{v / 10_000:,.1f}万"
    return f"{v:,}"


def fmt_num(value: Number | None, lang: str, digits: int = 1) -> str:  # noqa: ARG001
    if _missing(value):
        return MISSING
    return f"{float(value):,.{digits}f}"


def fmt_share(value: Number | None, lang: str, digits: int = 1) -> str:  # noqa: ARG001
    """A fraction (0.853) as a percentage (``85.3%``)."""
    if _missing(value):
        return MISSING
    return f"{100 * float(value):.{digits}f}%"


def fmt_percent(value: Number | None, lang: str, digits: int = 1) -> str:  # noqa: ARG001
    """A number already in percent (85.3) as ``85.3%``."""
    if _missing(value):
        return MISSING
    return f"{float(value):.{digits}f}%"


def fmt_change(change: Number | None, pct: Number | None, lang: str, unit: str = "") -> str:
    """``▲ 12 (+5.1%)``, ``▼ 3``, ``= 0``; the percentage only when there is one."""
    if _missing(change):
        return MISSING
    c = float(change)
    arrow = "▲" if c > 0 else ("▼" if c < 0 else "=")
    mag = f"{abs(c):,.0f}" if float(c).is_integer() else f"{abs(c):,.1f}"
    text = f"{arrow} {mag}{unit}"
    if not _missing(pct) and c != 0:
        text += f" ({float(pct):+.1f}%)"
    return text


def zone() -> ZoneInfo:
    from geodata.settings import get_settings

    return ZoneInfo(get_settings().timezone)


def _local(value: datetime | date | str | pd.Timestamp) -> datetime | date:
    if isinstance(value, str):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.astimezone(zone()) if value.tzinfo else value.replace(tzinfo=zone())
    return value


def fmt_date(value: date | datetime | str | None, lang: str, *, weekday: bool = True) -> str:
    """``2022年4月12日 星期二`` / ``Tue 12 Apr 2022``."""
    if _missing(value):
        return MISSING
    d = _local(value)
    d = d.date() if isinstance(d, datetime) else d
    if lang == "zh":
        text = f"{d.year}年{d.month}月{d.day}日"
        return f"{text} 星期{_WEEKDAYS_ZH[d.weekday()]}" if weekday else text
    text = f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    return f"{_WEEKDAYS_EN[d.weekday()]} {text}" if weekday else text


def fmt_short_date(value: date | datetime | str, lang: str) -> str:
    """``4月12日`` / ``12 Apr``."""
    d = _local(value)
    d = d.date() if isinstance(d, datetime) else d
    return f"{d.month}月{d.day}日" if lang == "zh" else f"{d.day} {_MONTHS_EN[d.month - 1]}"


def fmt_datetime(value: datetime | str | pd.Timestamp | None, lang: str, *, seconds: bool = False,
                 year: bool | None = None) -> str:
    """``4月12日 21:49`` / ``12 Apr 21:49`` in the district's zone; with the year
    (``2022年4月12日 21:49``) when ``year`` is true, or by default when it is not this year."""
    if _missing(value):
        return MISSING
    dt = _local(value)
    hm = dt.strftime("%H:%M:%S" if seconds else "%H:%M")
    if year is None:
        year = dt.year != datetime.now(zone()).year
    if lang == "zh":
        return f"{f'{dt.year}年' if year else ''}{dt.month}月{dt.day}日 {hm}"
    return f"{dt.day} {_MONTHS_EN[dt.month - 1]}{f' {dt.year}' if year else ''} {hm}"


def fmt_time(value: datetime | str | None, lang: str) -> str:  # noqa: ARG001
    if _missing(value):
        return MISSING
    return _local(value).strftime("%H:%M:%S")


def fmt_ms(ms: Number | None, lang: str) -> str:
    """Milliseconds, in seconds from one second on."""
    if _missing(ms):
        return MISSING
    ms = float(ms)
    if ms < 1000:
        return f"{ms:.0f} 毫秒" if lang == "zh" else f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} 秒" if lang == "zh" else f"{ms / 1000:.2f} s"


def fmt_minutes(value: Number | None, lang: str) -> str:
    if _missing(value):
        return MISSING
    return f"{float(value):.1f} {t('unit.min', lang)}"


def fmt_seconds(value: Number | None, lang: str) -> str:
    if _missing(value):
        return MISSING
    return f"{float(value):.0f} {t('unit.s', lang)}"


def fmt_age(seconds: float, lang: str) -> str:
    """How long ago: ``40 秒`` / ``3 min`` / ``2 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return t("time.ago.s", lang, n=s)
    if s < 3600:
        return t("time.ago.min", lang, n=s // 60)
    return t("time.ago.h", lang, n=s // 3600)
