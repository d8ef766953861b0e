from __future__ import annotations

import pytest
from typer.testing import CliRunner

from sandtable.cli import app

runner = CliRunner()

DESIGN_COMMANDS = ["db", "simulate", "ingest", "trace", "heatmap", "risk", "brief", "serve", "demo",
                   "users", "audit", "purge"]


def test_help_lists_every_command_of_the_design() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in DESIGN_COMMANDS:
        assert cmd in result.output
    db = runner.invoke(app, ["db", "--help"])
    for sub in ("up", "down", "status", "migrate"):
        assert sub in db.output
