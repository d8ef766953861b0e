"""The wall under load: server time of a full sandbox refresh, and N screens against one server.

1. **Full refresh** (in process, through Flask's test client, i.e. the real callback
   endpoint with JSON in and out): the sandbox's four callbacks (status, KPI tiles, map,
   side panels) at a new refresh tick (every answer computed), sequentially and as a
   browser sends them (in parallel), then the same for a second screen in the same tick
   (served from the shared cache). Target (issue 6): under 300 ms at the district tier.
2. **Screens**: one waitress server in its own process (``sandtable serve``'s code path)
   and N screen threads that post the four callbacks to ``/_dash-update-component`` on
   loopback every ``refresh`` seconds, each starting at a random phase, for ``duration``
   seconds; first with one screen, then with N. Each screen logs in once with a kiosk
   URL (a new kiosk account of the tier) and sends its session cookie, as a wall does.
   Printed: callback latency (p50, p95, max) and database statements per refresh tick
   (counted in the server with a SQLAlchemy ``before_cursor_execute`` event), the
   session check's account lookups (one per request) counted apart. Targets: p95 under 500 ms with 20
   screens at a 5 s refresh; statements per tick independent of the number of screens.

``python -m benchmarks.bench_dashboard [--tier district] [--screens 20] [--refresh 5]
[--duration 60]``; the tier is simulated and loaded once (``benchmarks/_tiers.py``).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks._tiers import TIERS, loaded_tier
from tests.test_dashboard_support import callback_body  # what a browser posts, as the tests post it

SANDBOX_VALUES = {
    ("shell-tick", "n_intervals"): 1, ("sandbox-rotate", "n_intervals"): 0,
    ("sandbox-layers", "value"): ["risk", "heatmap", "checkpoints", "isolation"],
    ("sandbox-measure", "value"): "scans", ("sandbox-resolution", "value"): 8, ("sandbox-window", "value"): 24,
    ("shell-viewport", "data"): [1920, 1080], ("shell-lang", "data"): "zh",
}


def sandbox_bodies(deps: list[dict]) -> list[dict]:
    """The sandbox page's server-side callbacks (status, KPI tiles, map, side panels)."""
    out = []
    for dep in deps:
        if dep.get("clientside_function") or dep["output"].startswith(".._pages"):
            continue
        first = dep["output"].lstrip(".").split(".")[0]
        if first.startswith(("shell-", "sandbox-")):
            out.append(callback_body(dep, SANDBOX_VALUES))
    assert len(out) == 4, [b["output"] for b in out]
    return out


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


# --- 1. one full refresh ---------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t


def full_refresh(engine, rounds: int = 8) -> dict:  # noqa: ANN001
    from analytics.access import Viewer
    from dashboard import create_app

    clock = _Clock()
    # without login (the statements counted are the data's; a logged-in screen adds one
    # primary-key lookup of its account per request)
    app = create_app(engine=engine, viewer=Viewer("bench-wall", "command"), wall=True, refresh_s=5, clock=clock)
    ctx = app.server.config["SANDTABLE_DASHBOARD"]
    client = app.server.test_client()
    bodies = sandbox_bodies(client.get("/_dash-dependencies").get_json())

    def post(body: dict, c=client) -> float:  # noqa: ANN001
        t = time.perf_counter()
        r = c.post("/_dash-update-component", json=body)
        assert r.status_code == 200, (r.status_code, body["output"])
        return 1000 * (time.perf_counter() - t)

    for body in bodies:  # first contact: imports, the base map and the sites (kept 10 minutes)
        post(body)
    seq, par, warm, per_cb = [], [], [], {b["output"]: [] for b in bodies}
    clients = [app.server.test_client() for _ in bodies]
    for i in range(rounds):
        clock.t += 5  # a new tick: every answer is computed again
        if i % 2 == 0:
            t = time.perf_counter()
            for body in bodies:
                per_cb[body["output"]].append(post(body))
            seq.append(1000 * (time.perf_counter() - t))
        else:
            t = time.perf_counter()
            with ThreadPoolExecutor(len(bodies)) as pool:
                list(pool.map(post, bodies, clients))
            par.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        for body in bodies:  # a second screen in the same tick
            post(body)
        warm.append(1000 * (time.perf_counter() - t))
    per_request = {k.replace("Request", ""): round(ctx.provider.timings[k] / ctx.provider.stats[k], 1)
                   for k in ctx.provider.stats if ctx.provider.stats[k] and not k.startswith("view:")
                   and ":" not in k}
    return {"sequential_ms": seq, "parallel_ms": par, "second_screen_ms": warm,
            "callbacks_ms": {k: statistics.median(v) for k, v in per_cb.items()}, "requests_ms": per_request}


# --- 2. screens against one server -----------------------------------------------
def _serve(port: int, refresh: float, stats_file: str) -> None:
    """The server process: ``sandtable serve``'s app and waitress, plus a statement counter."""
    from sqlalchemy import event

    from dashboard import create_app
    from dashboard.server import dashboard_engine, serve

    owner, _ = loaded_tier(TIERS[os.environ["BENCH_TIER"]])
    engine = dashboard_engine(owner.url.render_as_string(hide_password=False), embedded=True, pool_size=8,
                              max_overflow=8)  # as `sandtable serve` connects
    counter = {"statements": 0, "by_tick": {}, "accounts": 0}
    lock = threading.Lock()

    def hit(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        with lock:
            if "FROM users" in statement:  # the session check: one lookup per request
                counter["accounts"] += 1
                return
            counter["statements"] += 1
            tick = str(int(time.time() // refresh))
            counter["by_tick"][tick] = counter["by_tick"].get(tick, 0) + 1

    event.listen(engine, "before_cursor_execute", hit)
    app = create_app(engine=engine, wall=True, refresh_s=refresh)  # logins required, as `sandtable serve`

    def dump(*_: object) -> None:
        with lock:
            Path(stats_file).write_text(json.dumps(counter))
        os._exit(0)

    signal.signal(signal.SIGTERM, dump)
    serve(app, host="127.0.0.1", port=port, threads=24)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, cookie: str = "") -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return body


def _kiosk_cookie(port: int, token: str) -> str:
    """A wall screen's session: it logs in once with its kiosk URL, as a real wall does."""
    from dashboard.auth import KIOSK_PATH, SESSION_COOKIE

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", f"{KIOSK_PATH}?token={token}")
    r = conn.getresponse()
    r.read()
    conn.close()
    for header, value in r.getheaders():
        if header.lower() == "set-cookie" and value.startswith(SESSION_COOKIE + "="):
            return value.split(";", 1)[0]
    msg = f"the kiosk login gave no session (HTTP {r.status})"
    raise RuntimeError(msg)


def kiosk_token(engine) -> str:  # noqa: ANN001
    """A new kiosk account (role command) in the tier's database, for this run."""
    from geodata.accounts import add_kiosk

    with engine.begin() as conn:
        return add_kiosk(conn, f"bench-wall-{os.getpid()}-{int(time.time())}")


def screens(tier: str, n: int, refresh: float, duration: float, token: str) -> dict:
    port = _free_port()
    stats_file = f"/tmp/bench-dashboard-{os.getpid()}-{n}.json"
    env = {**os.environ, "BENCH_TIER": tier}
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_dashboard", "--serve", str(port),
                             "--refresh", str(refresh), "--stats-file", stats_file], env=env)
    try:
        for _ in range(600):
            try:
                _get(port, "/login")
                break
            except OSError:
                time.sleep(0.2)
        cookies = [_kiosk_cookie(port, token) for _ in range(n)]  # each screen its own session
        headers = [{"Content-Type": "application/json", "Cookie": c} for c in cookies]
        bodies = sandbox_bodies(json.loads(_get(port, "/_dash-dependencies", cookies[0])))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)  # warm-up: base map, sites
        for body in bodies:
            conn.request("POST", "/_dash-update-component", json.dumps(body), headers[0])
            conn.getresponse().read()
        conn.close()
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        start = time.time()
        stop = start + duration

        def screen(i: int) -> None:
            rng = random.Random(i)
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            nxt = start + rng.uniform(0, refresh)  # screens were switched on at different moments
            while nxt < stop:
                time.sleep(max(0.0, nxt - time.time()))
                for body in bodies:  # a browser sends these in parallel; one connection here, so p95 is pessimistic
                    t = time.perf_counter()
                    try:
                        c.request("POST", "/_dash-update-component", json.dumps(body), headers[i])
                        r = c.getresponse()
                        r.read()
                        ok = r.status == 200
                    except (OSError, http.client.HTTPException) as err:
                        ok = False
                        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                        with lock:
                            errors.append(str(err))
                    ms = 1000 * (time.perf_counter() - t)
                    with lock:
                        latencies.append(ms)
                        if not ok:
                            errors.append(body["output"])
                nxt += refresh

        threads = [threading.Thread(target=screen, args=(i,)) for i in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.time() - start
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    counter = json.loads(Path(stats_file).read_text())
    Path(stats_file).unlink(missing_ok=True)
    first, last = int(start // refresh) + 1, int((start + elapsed) // refresh) - 1  # whole ticks inside the run
    per_tick = [counter["by_tick"].get(str(k), 0) for k in range(first, last + 1)]
    return {"screens": n, "callbacks": len(latencies), "errors": len(errors),
            "p50_ms": _pct(latencies, 0.5), "p95_ms": _pct(latencies, 0.95), "max_ms": max(latencies),
            "accounts_per_callback": counter["accounts"] / max(1, len(latencies)),
            "statements_per_tick": statistics.median(per_tick) if per_tick else float("nan"),
            "statements_per_tick_max": max(per_tick) if per_tick else float("nan"), "ticks": len(per_tick)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="district", choices=sorted(TIERS))
    ap.add_argument("--screens", type=int, default=20)
    ap.add_argument("--refresh", type=float, default=5.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--stats-file", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.refresh, args.stats_file)
        return 0
    engine, _ = loaded_tier(TIERS[args.tier])
    fr = full_refresh(engine)
    print(f"[{args.tier}] full sandbox refresh at a new tick (4 callbacks, every answer computed): "
          f"sequential median {statistics.median(fr['sequential_ms']):.0f} ms "
          f"(max {max(fr['sequential_ms']):.0f}), as a browser sends them (parallel) median "
          f"{statistics.median(fr['parallel_ms']):.0f} ms; a second screen in the same tick "
          f"{statistics.median(fr['second_screen_ms']):.1f} ms  (target < 300 ms)")
    print("  callbacks (median ms): " + ", ".join(f"{k.strip('.').split('.')[0]} {v:.0f}"
                                                 for k, v in fr["callbacks_ms"].items()))
    print("  analytics answers (mean ms): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(fr["requests_ms"].items())))
    token = kiosk_token(engine)
    engine.dispose()
    for n, duration in ((1, max(20.0, args.duration / 2)), (args.screens, args.duration)):
        r = screens(args.tier, n, args.refresh, duration, token)
        print(f"[{args.tier}] {r['screens']:>2} screen(s) at a {args.refresh:g} s refresh for {duration:.0f} s: "
              f"{r['callbacks']} callbacks, {r['errors']} errors, latency p50 {r['p50_ms']:.0f} ms, "
              f"p95 {r['p95_ms']:.0f} ms, max {r['max_ms']:.0f} ms; database statements per refresh tick "
              f"{r['statements_per_tick']:.0f} (max {r['statements_per_tick_max']}, {r['ticks']} ticks), "
              f"plus the session check: {r['accounts_per_callback']:.2f} account lookups per callback")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
