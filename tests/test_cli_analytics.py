"""`sandtable trace`, `heatmap` and `risk` on a hand-made scenario, through the CLI."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from sandtable.cli import app
from tests.scenario import World

pytestmark = pytest.mark.db
runner = CliRunner()


@pytest.fixture
def world(app_env, engine: Engine) -> World:  # noqa: ANN001
    w = World(engine)
    w.site("V1")
    w.site("N1", kind="nat_site", community=5)
    w.nat("210000200001011234", "04-10 09:00", site="N1")
    for i in range(6):
        w.scan("210000200001011234" if i == 0 else f"P{i}", "V1", f"04-09 12:0{i}")
    w.scan("P1", "V1", "04-09 20:00")
    w.scan("Z", "V1", "04-09 20:10")
    return w


def test_trace_json(world: World, engine: Engine) -> None:
    result = runner.invoke(app, ["trace", "210000200001011234", "--json", "--purpose", "case 7"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output.strip().splitlines()[-1])
    assert d["person"] == "210000200001011234"
    assert [c["person"] for c in d["close_contacts"]] == ["P1", "P2", "P3", "P4", "P5"]
    assert d["secondary_contacts"] == [{"person": "Z", "via": ["P1"], "exposures": d["secondary_contacts"][0]["exposures"]}]
    assert d["elapsed_ms"] > 0 and d["window"]["from"].startswith("2022-04-06")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT purpose FROM audit_log")).scalar_one() == "case 7"


def test_trace_human(world: World) -> None:
    result = runner.invoke(app, ["trace", "210000200001011234", "--purpose", "case 8"])
    assert result.exit_code == 0, result.output
    assert "close contacts (密接): 5" in result.output and "secondary contacts (次密接): 1" in result.output


def test_trace_needs_a_purpose(world: World, engine: Engine) -> None:
    for purpose in ([], ["--purpose", "  "]):
        result = runner.invoke(app, ["trace", "210000200001011234", *purpose])
        assert result.exit_code != 0 and "purpose" in str(result.exception)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 0


def test_trace_refused_for_other_roles(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from geodata.settings import get_settings

    monkeypatch.setenv("SANDTABLE_ROLE", "leader")
    get_settings.cache_clear()
    from sandtable.cli import main

    with pytest.raises(SystemExit) as exc:
        monkeypatch.setattr("sys.argv", ["sandtable", "trace", "210000200001011234"])
        main()
    assert exc.value.code == 1


def test_heatmap_to_geojson(world: World, tmp_path) -> None:  # noqa: ANN001
    out = tmp_path / "h.geojson"
    result = runner.invoke(app, ["heatmap", "--from", "2022-04-09", "--to", "2022-04-10", "--res", "8",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    gdf = gpd.read_file(out)
    assert gdf["value"].sum() == 8 and len(gdf) == 1


def test_risk_json(world: World) -> None:
    result = runner.invoke(app, ["risk", "--date", "2022-04-10", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output.strip().splitlines()[-1])
    levels = {c["level"] for c in d["communities"]}
    assert d["day"] == "2022-04-10" and levels == {"high", "medium", "low"} and len(d["communities"]) == 64
