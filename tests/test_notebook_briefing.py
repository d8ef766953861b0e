"""notebooks/03_weekly_briefing.ipynb, executed end to end on a small simulated district."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy.engine import Engine

pytestmark = [pytest.mark.db, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_weekly_briefing.ipynb"


def test_briefing_notebook_runs(app_env: Path, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import load_directory
    from ingest.sim import simulate

    sim = tmp_path / "sim"
    simulate(residents=3000, days=14, seed=7, out=sim)
    load_directory(sim, engine=engine)
    out = tmp_path / "briefing.html"
    monkeypatch.setenv("SANDTABLE_BRIEF_OUT", str(out))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=dict(os.environ))  # a failing cell raises CellExecutionError
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "briefing for 2022-W14" in text and f"wrote {out}" in text
    tables = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("扫码总数" in t and "本周" in t for t in tables)  # the figures table
    assert any(o.get("data", {}).get("image/png") for o in outputs)  # the risk map shown inline
    html = out.read_text(encoding="utf-8")
    assert "龙港区疫情防控周报" in html and not re.search(r"https?://", html)
