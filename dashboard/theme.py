"""Colours, fonts and the offline map style, for the light (desk) and dark (wall) themes.

The map style has a background layer only and **no** ``glyphs`` key: MapLibre then
draws text labels with the browser's local fonts and never asks a font server for
glyphs, so no request leaves the machine (see RECIPES.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Theme", "LIGHT", "DARK", "theme_for", "map_style", "FONT_FAMILY", "RISK_LEVELS"]

#: Local fonts only (no web fonts): Noto Sans CJK / WenQuanYi on Debian, YaHei / PingFang elsewhere.
FONT_FAMILY = ('"Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", '
               '"Source Han Sans SC", "DejaVu Sans", sans-serif')

RISK_LEVELS = ("high", "medium", "low")


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    panel: str
    text: str
    muted: str
    grid: str
    accent: str
    map_background: str
    outline: str
    street: str
    district: str
    risk: dict
    risk_opacity: float
    heat: tuple
    heat_opacity: float
    checkpoint: str
    occupancy: dict
    up_bad: str
    down_good: str
    series: tuple

    def risk_colour(self, level: str) -> str:
        return self.risk[level]


LIGHT = Theme(
    name="light",
    background="#f3f5f8", panel="#ffffff", text="#17202a", muted="#5d6b7a", grid="#e1e6ec", accent="#1565c0",
    map_background="#eef2f5", outline="#9aa7b4", street="#5d6b7a", district="#263238",
    risk={"high": "#d32f2f", "medium": "#f57c00", "low": "#dfe9df"}, risk_opacity=0.72,
    heat=((0.0, "#fff3b0"), (0.35, "#ffb74d"), (0.7, "#f4511e"), (1.0, "#8e0000")), heat_opacity=0.75,
    checkpoint="#1565c0",
    occupancy={"low": "#2e7d32", "mid": "#f9a825", "high": "#c62828"},
    up_bad="#c62828", down_good="#2e7d32",
    series=("#1565c0", "#ef6c00", "#2e7d32", "#8e24aa", "#00838f", "#6d4c41", "#c2185b", "#546e7a", "#9e9d24"),
)

DARK = Theme(
    name="dark",
    background="#06101f", panel="#0d1b2e", text="#e8eef6", muted="#93a4ba", grid="#1d2f47", accent="#4fc3f7",
    map_background="#081527", outline="#2f4b6e", street="#5b7aa3", district="#9ec5ff",
    risk={"high": "#ff3b3b", "medium": "#ff9f1a", "low": "#12263f"}, risk_opacity=0.8,
    heat=((0.0, "#ffe082"), (0.35, "#ffb300"), (0.7, "#ff5722"), (1.0, "#ff1744")), heat_opacity=0.7,
    checkpoint="#4fc3f7",
    occupancy={"low": "#43a047", "mid": "#fdd835", "high": "#ff1744"},
    up_bad="#ff6b6b", down_good="#69f0ae",
    series=("#4fc3f7", "#ffb74d", "#81c784", "#ce93d8", "#4dd0e1", "#bcaaa4", "#f48fb1", "#b0bec5", "#dce775"),
)


def theme_for(wall: bool) -> Theme:
    return DARK if wall else LIGHT


def map_style(theme: Theme) -> dict:
    """A MapLibre style with one background layer and no glyphs: nothing is fetched.

    ``sources`` holds one empty inline GeoJSON source: with ``sources: {}`` Plotly drops
    the empty object when it updates a figure, and MapLibre then rejects the style
    ("missing required property sources", a console error on every refresh)."""
    return {
        "version": 8,
        "sources": {"sandtable-none": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
        "layers": [{"id": "background", "type": "background",
                    "paint": {"background-color": theme.map_background}}],
    }


def chart_layout(theme: Theme, *, scale: float = 1.0) -> dict:
    """Plotly layout defaults for a chart in ``theme`` (``scale`` multiplies the type)."""
    return {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": FONT_FAMILY, "color": theme.text, "size": round(13 * scale)},
        "margin": {"l": 50, "r": 16, "t": 16, "b": 40},
        "xaxis": {"gridcolor": theme.grid, "zerolinecolor": theme.grid, "linecolor": theme.grid},
        "yaxis": {"gridcolor": theme.grid, "zerolinecolor": theme.grid, "linecolor": theme.grid},
        "legend": {"bgcolor": "rgba(0,0,0,0)", "orientation": "h", "y": -0.18},
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        "colorway": list(theme.series),
    }
