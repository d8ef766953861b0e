"""The ``sandtable`` command line.

Every command prints one clear line on a known error (``sandtable: error: ...``) and
exits 1; it never prints a traceback for a problem the user can fix.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Annotated

import typer

from geodata.errors import SandtableError

__all__ = ["app", "main"]

app = typer.Typer(
    name="sandtable",
    help="sandtable: the e-sandbox (电子沙盘) of a district's epidemic-control command center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database: the embedded PostGIS or SANDTABLE_DATABASE_URL.", no_args_is_help=True)
users_app = typer.Typer(help="Dashboard accounts and roles.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")

log = logging.getLogger("sandtable")


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug lines.")] = False,
) -> None:
    from geodata.settings import get_settings

    level = "DEBUG" if verbose else get_settings().log_level
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("alembic").setLevel(logging.WARNING)


# --- db -----------------------------------------------------------------------
@db_app.command("up")
def db_up() -> None:
    """Start the database (create the embedded cluster on first use) and migrate it."""
    from geodata.db import database_url, get_engine, migrate

    settings_url = database_url()
    revision = migrate(get_engine())
    typer.echo(f"database up: {_describe_url(settings_url)} (schema {revision})")


@db_app.command("down")
def db_down() -> None:
    """Stop the embedded cluster (an external database is left alone)."""
    from geodata.db import embedded_cluster
    from geodata.settings import get_settings

    if get_settings().database_url:
        typer.echo("SANDTABLE_DATABASE_URL is set: the external database is not stopped")
        return
    cluster = embedded_cluster()
    stopped = cluster.down()
    typer.echo("database stopped" if stopped else "database was not running")


@db_app.command("status")
def db_status(as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False) -> None:
    """Where the database runs, its PostgreSQL and PostGIS versions, and the schema revision."""
    from geodata.db import current_revision, embedded_cluster, get_engine, head_revision
    from geodata.settings import get_settings
    from sqlalchemy import text

    settings = get_settings()
    info: dict = {"mode": "external" if settings.database_url else "embedded"}
    if not settings.database_url:
        st = embedded_cluster().status()
        info |= {"running": st.running, "data_dir": str(st.data_dir), "socket_dir": str(st.socket_dir),
                 "port": st.port, "log_file": str(st.log_file)}
        if not st.running:
            _print_status(info, as_json)
            return
    engine = get_engine()
    with engine.connect() as conn:
        info["running"] = True
        info["postgresql"] = conn.execute(text("SHOW server_version")).scalar_one()
        info["postgis"] = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
        info["database"] = conn.execute(text("SELECT current_database()")).scalar_one()
    info["schema"] = current_revision(engine)
    info["schema_head"] = head_revision()
    _print_status(info, as_json)


def _print_status(info: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(info))
        return
    if not info.get("running"):
        typer.echo(f"database: not running (embedded cluster in {info['data_dir']}); `sandtable db up` starts it")
        return
    where = (f"embedded cluster in {info['data_dir']}, socket {info['socket_dir']} port {info['port']}, "
             f"log {info['log_file']}") if info["mode"] == "embedded" else "external server (SANDTABLE_DATABASE_URL)"
    typer.echo(f"database: running, {where}")
    typer.echo(f"PostgreSQL {info['postgresql']}, PostGIS {info['postgis']}, database {info['database']!r}")
    schema = info["schema"] or "not migrated"
    note = "" if info["schema"] == info["schema_head"] else f" (newest is {info['schema_head']}: run `sandtable db migrate`)"
    typer.echo(f"schema: {schema}{note}")


@db_app.command("migrate")
def db_migrate() -> None:
    """Bring the schema to the newest migration and load the reference geography."""
    from geodata.db import get_engine, migrate

    revision = migrate(get_engine())
    typer.echo(f"schema at {revision}; reference geography loaded")


def _describe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    host = u.query.get("host") or u.host or "localhost"
    return f"{u.drivername.split('+')[0]} database {u.database!r} on {host} port {u.port or u.query.get('port')}"


# --- commands that later issues fill ---------------------------------------------
@app.command()
def simulate(
    residents: Annotated[int, typer.Option(help="Number of residents.")] = 100_000,
    days: Annotated[int, typer.Option(help="Number of days.")] = 54,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    out: Annotated[str, typer.Option(help="Output folder.")] = "sim",
    start: Annotated[str, typer.Option(help="First simulated day (YYYY-MM-DD).")] = "2022-04-01",
    fmt: Annotated[str, typer.Option("--format", help="Feed files as csv or parquet.")] = "csv",
    params: Annotated[str | None, typer.Option(help="TOML file overriding ingest/sim/params.toml.")] = None,
) -> None:
    """Simulate the synthetic Longgang and write every feed file plus truth/."""
    import datetime as dt
    import time

    from ingest.sim import load_params
    from ingest.sim import simulate as run_simulation

    try:
        first_day = dt.date.fromisoformat(start)
    except ValueError as err:
        raise SandtableError(f"--start must be a date YYYY-MM-DD, got {start!r}") from err
    if fmt not in ("csv", "parquet"):
        raise SandtableError(f"--format must be csv or parquet, got {fmt!r}")
    if residents < 100 or days < 1:
        raise SandtableError(f"need --residents >= 100 and --days >= 1, got {residents} and {days}")
    sim_params = load_params(params) if params else None
    clock = time.perf_counter()
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("simulate"), BarColumn(), MofNCompleteColumn(), TextColumn("days"),
                      TimeElapsedColumn(), TextColumn("{task.description}"), transient=True) as bar:
            task = bar.add_task("building the world", total=days)
            summary = run_simulation(residents=residents, days=days, seed=seed, out=out, start=first_day, fmt=fmt,
                                     params=sim_params,
                                     progress=lambda done, _total, msg: bar.update(task, completed=done,
                                                                                    description=msg))
    else:
        def _log(done: int, total: int, msg: str) -> None:
            log.info("simulate: day %d/%d (%.1f s) %s", done, total, time.perf_counter() - clock, msg)

        summary = run_simulation(residents=residents, days=days, seed=seed, out=out, start=first_day, fmt=fmt,
                                 params=sim_params, progress=_log)
    typer.echo(summary.line())


@app.command()
def ingest(
    feed: Annotated[str, typer.Argument(help="Feed name (districts, sites, scans, ...).")],
    paths: Annotated[list[str], typer.Argument(help="Feed files (.csv, .jsonl, .parquet).")],
    crs: Annotated[str, typer.Option(help="Coordinates of the file: wgs84 or gcj02.")] = "wgs84",
    as_json: Annotated[bool, typer.Option("--json", help="Last line: one JSON summary.")] = False,
) -> None:
    """Load feed files into the database (validated, idempotent).

    FEED is a feed of the contract, or `all` with folders (every feed file in them, in
    dependency order). A summary line per file; with --json one JSON object per file on
    stdout (and, for several files, a last line adding them up). Exit 0 when every run
    completed, rejected rows included.
    """
    import time as _time
    from pathlib import Path

    from ingest.feeds import FEEDS
    from ingest.pipeline import feed_files, load_feed, refresh_rollups

    if feed == "all":
        jobs = [job for folder in paths for job in feed_files(folder)]
    elif feed in FEEDS:
        jobs = [(feed, Path(p)) for p in paths]
    else:
        raise SandtableError(f"unknown feed {feed!r}; feeds: all, {', '.join(FEEDS)}")
    from geodata.db import current_revision, get_engine, head_revision, migrate

    if current_revision(get_engine()) != head_revision():  # a new database: the schema first
        migrate(get_engine())
    out = sys.stderr if as_json else sys.stdout
    tty = sys.stderr.isatty()
    logging.getLogger("ingest.pipeline").setLevel(logging.WARNING)  # the summaries below say it
    results = []
    for name, path in jobs:
        if tty:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            with Progress(TextColumn(f"{name} {path.name}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                          transient=True) as bar:
                task = bar.add_task("load", total=None)
                res = load_feed(name, path, crs=crs,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            last = [0.0]

            def plain(done: int, total: int, _path: Path = path, _last: list = last) -> None:
                if _time.monotonic() - _last[0] >= 5 and total:
                    _last[0] = _time.monotonic()
                    log.info("%s: %d%% read", _path.name, 100 * done // total)

            res = load_feed(name, path, crs=crs, progress=plain)
        results.append(res)
        rate = f", {res.read / res.seconds:,.0f} rows/s" if res.seconds > 0 else ""
        extra = f"; extra columns ignored: {', '.join(res.extra_columns)}" if res.extra_columns else ""
        print(f"{name} {path.name}: read {res.read:,}, loaded {res.loaded:,}, duplicates {res.duplicates:,}, "
              f"rejected {res.rejected:,} in {res.seconds:.2f} s{rate}{extra}", file=out, flush=True)
    started = _time.perf_counter()
    days = refresh_rollups(results)
    if days:
        print(f"heatmap rollups rebuilt for {days} day(s) in {_time.perf_counter() - started:.2f} s", file=out,
              flush=True)
    if as_json:  # last, so that the last line is JSON even with stderr in the same stream
        for res in results:
            typer.echo(json.dumps(res.summary()))
    if as_json and len(results) > 1:
        typer.echo(json.dumps({"feed": feed, "read": sum(r.read for r in results),
                               "loaded": sum(r.loaded for r in results),
                               "duplicates": sum(r.duplicates for r in results),
                               "rejected": sum(r.rejected for r in results),
                               "seconds": round(sum(r.seconds for r in results), 3)}))


@app.command()
def trace(
    person_ref: Annotated[str, typer.Argument(help="The person's reference.")],
    at: Annotated[str | None, typer.Option(help="Time of interest (ISO 8601; default: the case's window).")] = None,
    purpose: Annotated[str | None, typer.Option(help="Why: a case number or a reason (required; audited).")
                       ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Trace a person: trajectory, close and secondary contacts with evidence."""
    from analytics import trace as do_trace
    from analytics.access import CLI_VIEWER, require, require_purpose

    viewer = CLI_VIEWER()
    require(viewer, "cdc", what="trace a person")
    try:
        purpose = require_purpose(purpose, what="trace a person")
    except SandtableError as err:
        raise SandtableError(f"{err} (--purpose)") from err
    res = do_trace(person_ref, at=at, viewer=viewer, purpose=purpose)
    if as_json:
        typer.echo(res.to_json())
        return
    w_to = res.window_to.isoformat() if res.window_to is not None and res.window_to == res.window_to else "open"
    typer.echo(f"{res.person}: {'case' if res.is_case else 'not a case'}, window {res.window_from.isoformat()} .. {w_to}")
    typer.echo(f"trajectory: {len(res.trajectory)} scans at {res.trajectory['site_code'].nunique()} sites")
    for row in res.trajectory.itertuples():
        typer.echo(f"  {row.scanned_at.isoformat()}  {row.site_code}  {row.site_name} ({row.site_kind})")
    typer.echo(f"close contacts (密接): {len(res.close_contacts)}")
    for row in res.close_contacts.itertuples():
        ev = row.exposures[0]
        typer.echo(f"  {row.person}  first at {ev['site_code']} {ev['contact_at']} ({len(row.exposures)} exposures)")
    typer.echo(f"secondary contacts (次密接): {len(res.secondary_contacts)}")
    for row in res.secondary_contacts.itertuples():
        typer.echo(f"  {row.person}  via {', '.join(row.via)}")
    typer.echo(f"traced in {res.elapsed_ms:.0f} ms")


@app.command()
def heatmap(
    from_: Annotated[str, typer.Option("--from", help="Window start (ISO 8601).")],
    to: Annotated[str, typer.Option(help="Window end (ISO 8601).")],
    res: Annotated[int, typer.Option(help="H3 resolution (7-10).")] = 9,
    measure: Annotated[str, typer.Option(help="scans, persons, abnormal or meds.")] = "scans",
    out: Annotated[str | None, typer.Option(help="Write hexagons to FILE (.geojson, .csv or .parquet).")] = None,
) -> None:
    """H3 heatmap of a time window (cells under k persons suppressed outside cdc)."""
    from analytics import heatmap as do_heatmap
    from analytics.access import CLI_VIEWER

    gdf = do_heatmap((from_, to), res, measure, viewer=CLI_VIEWER())
    if out:
        if out.endswith((".geojson", ".json")):
            gdf.to_file(out, driver="GeoJSON")
        elif out.endswith(".parquet"):
            gdf.to_parquet(out)
        elif out.endswith(".csv"):
            gdf.assign(geometry=gdf.geometry.to_wkt()).to_csv(out, index=False)
        else:
            raise typer.BadParameter("--out must end in .geojson, .csv or .parquet")
        typer.echo(f"wrote {len(gdf)} cells to {out}")
    else:
        for row in gdf.head(20).itertuples():
            typer.echo(f"{row.h3}  {row.value:>8}  ({row.persons} persons)")
    typer.echo(f"{len(gdf)} cells at resolution {res}, total {measure} {int(gdf['value'].sum())}; "
               f"{gdf.attrs['suppressed_cells']} cells under k={gdf.attrs['k']} suppressed")


@app.command()
def risk(
    date: Annotated[str | None, typer.Option(help="Day (YYYY-MM-DD; default today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Each community's risk level for a day, with the reasons, and the ranked score."""
    from analytics import risk as do_risk
    from analytics import risk_score
    from analytics.access import CLI_VIEWER

    viewer = CLI_VIEWER()
    levels = do_risk(date, viewer=viewer)
    score = risk_score(date, viewer=viewer).set_index("code")
    if as_json:
        rows = []
        for r in levels.itertuples():
            rows.append({"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "level": r.level,
                         "reasons": r.reasons, "may_drop_on": r.may_drop_on, "score": round(score.at[r.code, "score"], 4),
                         "rank": int(score.at[r.code, "rank"])})
        typer.echo(json.dumps({"day": levels.attrs["day"], "rules_version": levels.attrs["rules_version"],
                               "communities": rows}, ensure_ascii=False, default=str))
        return
    counts = levels["level"].value_counts()
    typer.echo(f"{levels.attrs['day']}: " + ", ".join(f"{counts.get(lv, 0)} {lv}" for lv in ("high", "medium", "low")))
    for r in levels[levels["level"] != "low"].itertuples():
        why = "; ".join(f"{e['reason']} ({e['case_count']} cases{', ' + ','.join(e['sites']) if e['sites'] else ''})"
                        for e in r.reasons)
        typer.echo(f"  {r.level:<6} {r.code} {r.name_zh}: {why}; may drop on {r.may_drop_on}")
    typer.echo("top 5 by score: " + ", ".join(
        f"{i}. {c} {score.at[c, 'name_zh']} {score.at[c, 'score']:.2f}" for i, c in enumerate(score.index[:5], 1)))


@app.command()
def brief(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2022-W21.")],
    out: Annotated[list[str], typer.Option(help="FILE.pdf or FILE.html; repeat to write both from one run.")],
    lang: Annotated[str, typer.Option(help="Language: zh or en.")] = "zh",
    role: Annotated[str, typer.Option(help="Role the briefing is made for (outside cdc, counts below k are hidden).")]
    = "leader",
) -> None:
    """The leaders' weekly briefing as PDF or HTML (charts drawn offline with the system's Chromium)."""
    import time

    from sqlalchemy.exc import ProgrammingError

    from analytics.access import CLI_VIEWER, ROLES, Viewer
    from analytics.briefing import parse_week
    from dashboard.report import build_report, check_output
    from dashboard.report.text import LANGS

    clock = time.perf_counter()
    try:
        paths = [check_output(o) for o in out]
        parse_week(week)
        if lang not in LANGS:
            raise ValueError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}")
        if role not in ROLES:
            raise ValueError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
        viewer = Viewer(CLI_VIEWER().name, role)
        title = f"briefing {week}"
        bar = None
        if sys.stderr.isatty():  # a bar on a terminal, plain log lines otherwise
            from rich.progress import Progress

            bar = Progress(transient=True)
            bar.start()
            task = bar.add_task(title, total=3 + len(paths))

        def step(message: str) -> None:
            if bar is None:
                log.info("%s: %s", title, message)
            else:
                bar.update(task, advance=1, description=f"{title}: {message}")

        try:
            report = build_report(week, viewer=viewer, lang=lang, progress=step,
                                  for_pdf=any(p.suffix.lower() == ".pdf" for p in paths))
            for p in paths:
                step(f"writing {p}")
                report.write(p)
        finally:
            if bar is not None:
                bar.stop()
    except (SandtableError, ValueError) as err:
        typer.echo(f"sandtable: error: {err}", err=True)
        raise typer.Exit(1) from None
    except ProgrammingError as err:  # a database that was never migrated
        if type(err.orig).__name__ != "UndefinedTable":
            raise
        typer.echo("sandtable: error: the database has no sandtable schema yet: run `sandtable db up`", err=True)
        raise typer.Exit(1) from None
    for p in paths:
        typer.echo(f"wrote {p} ({p.stat().st_size / 1024:,.0f} KB)")
    t = report.timings
    typer.echo(f"{week} briefing ({lang}, role {role}) in {time.perf_counter() - clock:.1f} s "
               f"(data {t.get('data', 0):.1f} s, charts {t.get('charts', 0):.1f} s, pdf {t.get('pdf', 0):.1f} s)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8050,
    wall: Annotated[bool, typer.Option(help="Screen-wall mode: dark, large type, no controls, Chinese.")] = False,
    lang: Annotated[str | None, typer.Option(help="zh or en (default zh).")] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Development only, refused off 127.0.0.1: no login, "
                                          "every screen runs as --role.")] = False,
    role: Annotated[str | None, typer.Option(help="With --no-auth only: the role every screen runs as "
                                             "(default command). With login, the role is the account's.")] = None,
    trust_proxy_header: Annotated[str | None, typer.Option(
        "--trust-proxy-header", help="Single sign-on: trust this header (e.g. X-Remote-User) naming the account a "
        "reverse proxy has authenticated; needs --trusted-proxy. Off by default.")] = None,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        "--trusted-proxy", help="Address or network of the reverse proxy whose header is trusted (repeatable).")
    ] = None,
    refresh: Annotated[float, typer.Option(help="Seconds between refreshes (also the shared cache's tick).")] = 30.0,
    rotate: Annotated[float, typer.Option(help="Wall only: rotate the heatmap measure every N seconds (0: off).")
                      ] = 0.0,
    threads: Annotated[int, typer.Option(help="Server threads.")] = 16,
    debug: Annotated[bool, typer.Option(help="Dash dev tools (development only; refused off 127.0.0.1).")] = False,
) -> None:
    """Serve the Dash e-sandbox (waitress) on http://HOST:PORT; every page needs a login."""
    import socket

    from analytics.access import ROLES, Viewer
    from dashboard import create_app
    from dashboard.auth import AuthConfig
    from dashboard.i18n import LANGS
    from dashboard.server import check_debug, check_no_login, dashboard_engine
    from dashboard.server import serve as run_server
    from geodata.db import database_url
    from geodata.settings import get_settings

    if role is not None and role not in ROLES:
        raise SandtableError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    if role is not None and not no_auth:
        raise SandtableError("--role only goes with --no-auth (development): with login, each screen has the role "
                             "of the account it logged in with (`sandtable users add NAME --role ROLE`)")
    if lang is not None and lang not in LANGS:
        raise SandtableError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}")
    if refresh < 1:
        raise SandtableError(f"--refresh must be at least 1 second, got {refresh:g}")
    if rotate < 0:
        raise SandtableError(f"--rotate must be >= 0, got {rotate:g}")
    auth = None
    try:
        check_debug(host, debug)
        check_no_login(host, no_login=no_auth)
        if no_auth and (trust_proxy_header or trusted_proxy):
            raise ValueError("--trust-proxy-header and --trusted-proxy need login (drop --no-auth)")
        if not no_auth:
            auth = AuthConfig.from_settings(proxy_header=trust_proxy_header,
                                            trusted_proxies=tuple(trusted_proxy) if trusted_proxy else None)
    except ValueError as err:
        raise SandtableError(str(err)) from err
    url = database_url()  # starts the embedded cluster when it is down
    engine = dashboard_engine(url, embedded=not get_settings().database_url, pool_size=8, max_overflow=8,
                              connect_args={"connect_timeout": 5})
    viewer = Viewer(name=f"dashboard:{socket.gethostname()}", role=role or "command") if no_auth else None
    app = create_app(engine=engine, viewer=viewer, auth=auth, wall=wall, lang=lang, refresh_s=refresh,
                     rotate_s=rotate)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if no_auth:
        access = f"NO LOGIN: every screen is role {viewer.role} (development only)"
    else:
        access = "login required"
        if auth.proxy_header:
            access += f"; single sign-on via {auth.proxy_header} from {', '.join(auth.trusted_proxies)}"
        _warn_without_accounts(engine)
    typer.echo(f"dashboard: http://{shown}:{port}/  ({access}; refresh {refresh:g} s"
               f"{', wall' if wall else ''}; database {_describe_url(url)}); Ctrl+C stops it")
    try:
        run_server(app, host=host, port=port, threads=threads, debug=debug)
    except OSError as err:
        raise SandtableError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err


def _warn_without_accounts(engine: object) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as conn:  # type: ignore[attr-defined]
            n = conn.execute(text("SELECT count(*) FROM users WHERE NOT disabled")).scalar_one()
    except SQLAlchemyError:
        return
    if not n:
        typer.echo("no accounts yet: nobody can log in. Add one: `sandtable users add NAME --role cdc` "
                   "(or `--role command --kiosk` for a wall screen)", err=True)


@app.command()
def demo(
    residents: Annotated[int, typer.Option(help="Residents of the simulated district.")] = 100_000,
    days: Annotated[int, typer.Option(help="Simulated days (from 2022-04-01).")] = 54,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 1,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8050,
    wall: Annotated[bool, typer.Option(help="Serve in screen-wall mode.")] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after loading (no dashboard).")] = False,
) -> None:
    """Start the database, load the district, simulate it, ingest the feeds and serve the dashboard.

    The simulated feeds go to SANDTABLE_HOME/demo-sim; a database that already holds
    scans is served as it is (delete SANDTABLE_HOME to start again).
    """
    import time as _time

    from geodata.db import database_url, get_engine, migrate
    from geodata.settings import get_settings
    from sqlalchemy import text

    url = database_url()
    engine = get_engine()
    revision = migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT level, count(*) FROM districts GROUP BY level ORDER BY level")).all()
        area = conn.execute(text(
            "SELECT round((ST_Area(geom::geography) / 1e6)::numeric, 1) FROM districts WHERE level = 'district'"
        )).scalar_one()
        have = conn.execute(text("SELECT EXISTS (SELECT 1 FROM scans)")).scalar_one()
    typer.echo(f"database up: {_describe_url(url)} (schema {revision})")
    typer.echo(f"district loaded: Longgang District, {area} km²; " + ", ".join(f"{n} {lvl}" for lvl, n in rows))
    if have:
        typer.echo("the database already holds scans: serving them as they are")
    else:
        from ingest.pipeline import load_directory

        out = get_settings().home / "demo-sim"
        typer.echo(f"simulating {residents:,} residents over {days} days (seed {seed}) into {out} ...")
        simulate(residents=residents, days=days, seed=seed, out=str(out), start="2022-04-01", fmt="csv", params=None)
        started = _time.perf_counter()
        typer.echo("loading the feeds ...")
        results = load_directory(out, engine=engine)
        for res in results:
            typer.echo(f"  {res.feed}: loaded {res.loaded:,}, duplicates {res.duplicates:,}, rejected {res.rejected:,}")
        typer.echo(f"ingested in {_time.perf_counter() - started:.0f} s")
    _demo_logins(engine, port, wall)
    if no_serve:
        return
    serve(host="127.0.0.1", port=port, wall=wall, lang=None, no_auth=False, role=None, trust_proxy_header=None,
          trusted_proxy=None, refresh=30.0, rotate=0.0, threads=16, debug=False)


def _demo_logins(engine: object, port: int, wall: bool) -> None:
    """The demo's account ``demo`` (role cdc: every page, tracing included) with a new
    random password each run, and with ``--wall`` a kiosk URL for the wall screen."""
    import secrets

    from geodata.accounts import new_kiosk_token, set_password

    password = secrets.token_urlsafe(12)
    with engine.begin() as conn:  # type: ignore[attr-defined]
        set_password(conn, "demo", "cdc", password)
        token = new_kiosk_token(conn, "demo-wall") if wall else None
    typer.echo(f"log in at http://127.0.0.1:{port}/login as demo (role cdc) with the password {password}  "
               "(a new one at each `sandtable demo`)")
    if token:
        typer.echo(f"the wall screen logs in once with http://127.0.0.1:{port}/login/kiosk?token={token}")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Account name.")],
    role: Annotated[str, typer.Option(help="cdc, command, transport, leader or analyst.")],
    kiosk: Annotated[bool, typer.Option(help="A wall screen: command role, logs in with a token (printed once).")
                     ] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add a dashboard account (password asked twice, or read from stdin)."""
    from geodata.accounts import add_kiosk, add_user
    from geodata.db import get_engine

    engine = get_engine()
    if kiosk:
        if role != "command":
            raise SandtableError("a kiosk account has the command role")
        with engine.begin() as conn:
            token = add_kiosk(conn, name)
        typer.echo(f"kiosk account {name!r} added (role command). Its token, shown once:")
        typer.echo(token)
        return
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with engine.begin() as conn:
        add_user(conn, name, role, password)
    typer.echo(f"account {name!r} added (role {role})")


@users_app.command("list")
def users_list() -> None:
    """List dashboard accounts."""
    from geodata.accounts import list_users
    from geodata.db import get_engine

    with get_engine().connect() as conn:
        accounts = list_users(conn)
    if not accounts:
        typer.echo("no accounts yet: `sandtable users add NAME --role ROLE`")
    for a in accounts:
        state = "disabled" if a.disabled else "active"
        last = a.last_login.isoformat(timespec="minutes") if a.last_login else "never"
        typer.echo(f"{a.name:<24} {a.role:<10} {'kiosk' if a.kiosk else 'user':<6} {state:<9} last login {last}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()]) -> None:
    """Disable a dashboard account (it can no longer log in; its history stays)."""
    from geodata.accounts import disable_user
    from geodata.db import get_engine

    with get_engine().begin() as conn:
        disable_user(conn, name)
    typer.echo(f"account {name!r} disabled")


@app.command()
def audit(
    person: Annotated[str | None, typer.Option(help="Only views of this person (reference).")] = None,
    user: Annotated[str | None, typer.Option(help="Only views by this account.")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this time (ISO 8601).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows, newest first.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Who looked at whom, and why (the append-only audit log)."""
    from analytics.access import CLI_VIEWER, require, write_audit
    from geodata.db import get_engine
    from geodata.privacy import Pseudonymiser
    from sqlalchemy import text

    viewer = CLI_VIEWER()
    require(viewer, "cdc", what="read the audit log")
    pid = Pseudonymiser.from_settings().person_id(person) if person else None
    engine = get_engine()
    with engine.begin() as conn:
        rows = conn.execute(text(
            """SELECT audit_id, at, actor, role, action, person_id, purpose, rows_returned FROM audit_log
               WHERE (CAST(:pid AS bigint) IS NULL OR person_id = CAST(:pid AS bigint))
                 AND (CAST(:user AS text) IS NULL OR actor = CAST(:user AS text))
                 AND (CAST(:since AS timestamptz) IS NULL OR at >= CAST(:since AS timestamptz))
               ORDER BY at DESC, audit_id DESC LIMIT :lim"""),
            {"pid": pid, "user": user, "since": since, "lim": limit}).all()
        write_audit(conn, viewer, "audit_query", person_id=pid, purpose="audit review", rows=len(rows),
                    detail={"user": user, "since": since})
    for r in rows:
        if as_json:
            typer.echo(json.dumps({"id": r.audit_id, "at": r.at.isoformat(), "actor": r.actor, "role": r.role,
                                   "action": r.action, "person_id": r.person_id, "purpose": r.purpose,
                                   "rows": r.rows_returned}, ensure_ascii=False))
        else:
            who = f"person {r.person_id}" if r.person_id is not None else "-"
            typer.echo(f"{r.at.isoformat(timespec='seconds')}  {r.actor} ({r.role})  {r.action}  {who}  "
                       f"purpose: {r.purpose or '-'}  rows: {r.rows_returned if r.rows_returned is not None else '-'}")
    if not as_json:
        typer.echo(f"{len(rows)} audit record(s)")


@app.command()
def purge(
    older_than: Annotated[str, typer.Option("--older-than", help="Age of the data to delete, e.g. 28d or 4w.")
                          ] = "28d",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go, delete nothing.")] = False,
) -> None:
    """Retention: delete person-level data past its time (scan days by partition), keep aggregates."""
    from analytics.access import CLI_VIEWER, require
    from geodata.db import get_engine
    from geodata.retention import parse_age
    from geodata.retention import purge as do_purge

    viewer = CLI_VIEWER()
    require(viewer, "cdc", what="purge data")
    try:
        age = parse_age(older_than)
    except ValueError as err:
        raise SandtableError(str(err)) from err
    report = do_purge(get_engine(), age, actor=viewer.name, dry_run=dry_run)
    deleted = ", ".join(f"{k} {v:,}" for k, v in report["deleted"].items())
    typer.echo(f"{'would delete' if dry_run else 'deleted'} before {report['cutoff']}: {deleted}; "
               f"{len(report['scan_partitions_dropped'])} scan day(s) dropped; report {report['report_file']}")


def main() -> None:
    """Entry point of the ``sandtable`` console script."""
    try:
        app()
    except SandtableError as err:
        typer.echo(f"sandtable: error: {err}", err=True)
        sys.exit(1)
    except ValueError as err:  # pydantic settings errors are ValueErrors
        first = str(err).strip().splitlines()
        typer.echo(f"sandtable: error: {' '.join(first[:3])}", err=True)
        sys.exit(1)
