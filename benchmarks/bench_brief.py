"""Time to produce the weekly briefing (PDF and HTML in one run) on the simulated district.

Target (issue 7): both formats in under a minute, offline. Runs ``sandtable brief`` in its
own process, as a user would, against the district tier (``benchmarks/_tiers.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._tiers import TIERS, loaded_tier


def run(week: str = "2022-W15") -> float:
    engine, _ = loaded_tier(TIERS["district"])
    out = Path(tempfile.mkdtemp(prefix="sandtable-brief-"))
    env = dict(os.environ, SANDTABLE_DATABASE_URL=engine.url.render_as_string(hide_password=False))
    clock = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "sandtable", "brief", "--week", week, "--out", str(out / "b.pdf"),
                           "--out", str(out / "b.html")], capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - clock
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(1)
    print(f"brief [district] {week}: PDF + HTML in {elapsed:.1f} s (target < 60 s); "
          f"{(out / 'b.pdf').stat().st_size // 1024} KiB PDF, {(out / 'b.html').stat().st_size // 1024} KiB HTML")
    return elapsed


if __name__ == "__main__":
    run(*sys.argv[1:])
