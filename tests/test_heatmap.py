"""Heatmaps: rollup days and raw edges agree with counts worked out by hand."""

from __future__ import annotations

import h3
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics.access import Viewer
from analytics.heatmap import heatmap
from tests.scenario import World

pytestmark = pytest.mark.db

CDC = Viewer("epi", "cdc")
WALL = Viewer("wall", "command")


@pytest.fixture
def world(app_env, engine: Engine) -> World:  # noqa: ANN001
    w = World(engine)
    w.site("BUSY", community=0)
    w.site("QUIET", community=10)
    w.site("BIG", community=20)
    # BUSY: persons P0..P5 (6 distinct) over 04-01 .. 04-03; P0 scans twice each day
    for day in ("04-01", "04-02", "04-03"):
        for i in range(6):
            w.scan(f"P{i}", "BUSY", f"{day} 09:{i:02d}")
        w.scan("P0", "BUSY", f"{day} 18:00", color="yellow")
    # QUIET: two persons, one with fever on 04-02 late evening
    w.scan("Q1", "QUIET", "04-02 10:00")
    w.scan("Q2", "QUIET", "04-02 23:30", temp=38.2)
    return w


def _cell(engine: Engine, code: str, res: int) -> str:
    with engine.connect() as conn:
        cell = conn.execute(text("SELECT h3 FROM sites WHERE site_code = :c"), {"c": code}).scalar_one()
    return h3.cell_to_parent(h3.int_to_str(cell), res)


@pytest.mark.parametrize("res", [7, 8, 9, 10])
def test_whole_days_from_rollup(world: World, engine: Engine, res: int) -> None:
    g = heatmap(("2022-04-01", "2022-04-04"), res, "scans", viewer=CDC, engine=engine).set_index("h3")
    busy, quiet = _cell(engine, "BUSY", res), _cell(engine, "QUIET", res)
    assert busy != quiet
    assert g.at[busy, "value"] == 21 and g.at[busy, "persons"] == 6
    assert g.at[quiet, "value"] == 2 and g.at[quiet, "persons"] == 2
    assert h3.get_resolution(busy) == res
    assert g.crs.to_epsg() == 4326 and g.geometry.iloc[0].geom_type == "Polygon"
    with engine.connect() as conn:  # the rollup healed itself for the three days
        assert conn.execute(text("SELECT count(*) FROM scan_rollup_days")).scalar_one() == 3


def test_partial_days_at_both_edges(world: World, engine: Engine) -> None:
    # 04-01 12:00 .. 04-03 09:03: 04-01 18:00 (1) + all of 04-02 (7) + 04-03 09:00..09:02 (3)
    g = heatmap(("2022-04-01 12:00", "2022-04-03 09:03"), 9, "scans", viewer=CDC, engine=engine).set_index("h3")
    busy = _cell(engine, "BUSY", 9)
    assert g.at[busy, "value"] == 11
    assert g.at[busy, "persons"] == 6


def test_window_inside_one_day(world: World, engine: Engine) -> None:
    g = heatmap(("2022-04-02 09:00", "2022-04-02 09:03"), 9, "persons", viewer=CDC, engine=engine)
    assert g["value"].tolist() == [3]


def test_abnormal_scans(world: World, engine: Engine) -> None:
    g = heatmap(("2022-04-01", "2022-04-04"), 9, "abnormal", viewer=CDC, engine=engine).set_index("h3")
    busy, quiet = _cell(engine, "BUSY", 9), _cell(engine, "QUIET", 9)
    assert g.at[busy, "value"] == 3 and g.at[busy, "persons"] == 1   # P0's yellow code, 3 days
    assert g.at[quiet, "value"] == 1                                  # Q2's fever


def test_small_cells_suppressed_outside_cdc(world: World, engine: Engine) -> None:
    # two cells: QUIET (2 persons) is under k; showing BUSY alone would give QUIET away from
    # any published total, so BUSY is hidden as well (secondary suppression)
    g = heatmap(("2022-04-01", "2022-04-04"), 9, "scans", viewer=WALL, engine=engine)
    assert g.empty and g.attrs["suppressed_cells"] == 2 and g.attrs["k"] == 5
    assert heatmap(("2022-04-01", "2022-04-04"), 9, "abnormal", viewer=WALL, engine=engine).empty


def test_suppressed_count_cannot_be_recovered_from_totals(world: World, engine: Engine) -> None:
    for i in range(7):  # a third, bigger cell
        world.scan(f"B{i}", "BIG", f"04-02 1{i}:00")
    window = ("2022-04-01", "2022-04-04")
    truth = heatmap(window, 9, "scans", viewer=CDC, engine=engine).set_index("h3")
    shown = heatmap(window, 9, "scans", viewer=WALL, engine=engine).set_index("h3")
    total = int(truth["value"].sum())           # what a published district total reveals
    hidden = total - int(shown["value"].sum())  # the attacker's remainder
    hidden_cells = truth.index.difference(shown.index)
    assert len(hidden_cells) >= 2               # the remainder is spread over several cells
    assert truth.loc[hidden_cells, "persons"].sum() >= 5
    quiet = _cell(engine, "QUIET", 9)
    assert quiet in hidden_cells and hidden != truth.at[quiet, "value"]


def test_rollup_refreshed_after_new_rows(world: World, engine: Engine) -> None:
    heatmap(("2022-04-01", "2022-04-04"), 9, "scans", viewer=CDC, engine=engine)
    world.scan("P9", "QUIET", "04-02 11:00")
    from geodata.rollups import refresh_days
    from datetime import date

    with engine.begin() as conn:
        refresh_days(conn, [date(2022, 4, 2)])
    g = heatmap(("2022-04-01", "2022-04-04"), 9, "scans", viewer=CDC, engine=engine).set_index("h3")
    assert g.at[_cell(engine, "QUIET", 9), "value"] == 3


@pytest.mark.parametrize(("args", "needle"), [
    ((("2022-04-01", "2022-04-02"), 6, "scans"), "resolution"),
    ((("2022-04-01", "2022-04-02"), 9, "people"), "measure"),
    ((("2022-04-02", "2022-04-01"), 9, "scans"), "end after"),
])
def test_bad_arguments(engine: Engine, args: tuple, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        heatmap(*args, viewer=CDC, engine=engine)
