"""No person reference, pepper or key in logs or error messages of a full run.

A whole run through the command line on its own embedded cluster: simulate, ingest (with
a file of bad rows that carry person references), trace, a refused trace, audit, purge.
Everything written to stderr, the PostgreSQL server log and the data folder's logs and
reports is then searched for every person reference of the feeds and for the secrets.
"""

from __future__ import annotations

import base64
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from geodata.cluster import EmbeddedCluster

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_full_run_leaks_no_reference_or_secret() -> None:
    root = Path(tempfile.mkdtemp(prefix="sandtable-leaks-"))
    os.chmod(root, 0o755)
    home = root / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDTABLE_")}
    env |= {"SANDTABLE_HOME": str(home), "SANDTABLE_LOG_LEVEL": "DEBUG"}
    stderr: list[str] = []

    def run(*args: str, ok: bool = True, role: str | None = None) -> subprocess.CompletedProcess:
        e = dict(env, **({"SANDTABLE_ROLE": role} if role else {}))
        proc = subprocess.run([sys.executable, "-m", "sandtable", *args], capture_output=True, text=True, env=e,
                              timeout=600, check=False)
        stderr.append(proc.stderr)
        if args[0] not in ("trace",):  # a trace's stdout is its answer to the cdc operator, by design
            stderr.append(proc.stdout)
        if ok:
            assert proc.returncode == 0, proc.stderr[-2000:]
        return proc

    try:
        sim = root / "sim"
        run("simulate", "--residents", "1500", "--days", "3", "--seed", "5", "--out", str(sim))
        run("ingest", "all", str(sim))
        refs = {r["person_ref"] for r in csv.DictReader(open(sim / "scans.csv", encoding="utf-8"))}
        refs |= {r["person_ref"] for r in csv.DictReader(open(sim / "nat.csv", encoding="utf-8"))}
        victim = sorted(refs)[0]
        bad = root / "bad_scans.csv"
        with open(sim / "scans.csv", encoding="utf-8") as src, open(bad, "w", encoding="utf-8") as dst:
            header = src.readline()
            dst.write(header)
            cols = header.strip().split(",")
            row = dict(zip(cols, src.readline().strip().split(",")))
            for i, broken in enumerate(({"scanned_at": "not a time"}, {"site_code": "NO-SUCH-SITE"},
                                        {"temperature_c": "99"}, {"code_color": "purple"})):
                dst.write(",".join((row | broken | {"event_id": f"BAD{i}", "person_ref": victim}).get(c, "")
                                   for c in cols) + "\n")
            dst.write(f"BAD9,{victim},only three fields\n")
        out = run("ingest", "scans", str(bad))
        assert "rejected 5" in out.stdout
        run("trace", victim, "--purpose", "leak test")
        refused = run("trace", victim, ok=False, role="leader")
        assert refused.returncode == 1 and "may not" in refused.stderr
        run("audit", "--person", victim)
        run("purge", "--older-than", "28d", "--dry-run")
        run("db", "down")
        texts = list(stderr)
        for path in home.rglob("*"):
            if path.is_file() and path.suffix in (".log", ".json", ".txt") or path.name == "server.log":
                texts.append(path.read_text(errors="replace"))
        blob = "\n".join(texts)
        assert "rejected 5" in blob and "DEBUG" in blob  # the run did log, at the most talkative level
        leaked = sorted(r for r in refs if r in blob)
        assert leaked == [], f"{len(leaked)} person references in logs, e.g. {leaked[:1]}"
        for name in ("pepper", "person_ref.key"):
            secret = (home / "secrets" / name).read_bytes()
            for form in (secret.hex(), base64.b64encode(secret).decode(), base64.urlsafe_b64encode(secret).decode()):
                assert form not in blob
    finally:
        EmbeddedCluster(home / "pg").destroy()
        subprocess.run(["rm", "-rf", str(root)], check=False)
