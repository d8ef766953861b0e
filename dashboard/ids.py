"""Component ids: one ``StrEnum`` per page, each value prefixed by its page, all unique."""

from __future__ import annotations

from enum import StrEnum, unique

__all__ = ["Shell", "Sandbox", "Tracing", "Checkpoints", "Isolation", "Briefing", "ALL"]


@unique
class Shell(StrEnum):
    """The frame every page shares (header, status line, timers)."""

    TICK = "shell-tick"
    CLOCK_TICK = "shell-clock-tick"
    VIEWPORT = "shell-viewport"
    LANG = "shell-lang"
    CLOCK = "shell-clock"
    DATE = "shell-date"
    AS_OF = "shell-as-of"
    BANNER = "shell-banner"
    ROOT = "shell-root"


@unique
class Sandbox(StrEnum):
    KPIS = "sandbox-kpis"
    MAP = "sandbox-map"
    MAP_TITLE = "sandbox-map-title"
    MAP_NOTE = "sandbox-map-note"
    LAYERS = "sandbox-layers"
    MEASURE = "sandbox-measure"
    RESOLUTION = "sandbox-resolution"
    WINDOW = "sandbox-window"
    ROTATE = "sandbox-rotate"
    RISK = "sandbox-risk"
    ISOLATION = "sandbox-isolation"
    CHECKPOINTS = "sandbox-checkpoints"


@unique
class Tracing(StrEnum):
    PERSON = "tracing-person"
    PURPOSE = "tracing-purpose"
    GO = "tracing-go"
    MESSAGE = "tracing-message"
    SUMMARY = "tracing-summary"
    ELAPSED = "tracing-elapsed"
    MAP = "tracing-map"
    GRAPH = "tracing-graph"
    CLOSE = "tracing-close"
    SECONDARY = "tracing-secondary"
    TOKEN = "tracing-token"
    EXPORT = "tracing-export"
    DOWNLOAD = "tracing-download"
    RESULT = "tracing-result"
    LOOKUPS = "tracing-lookups"


@unique
class Checkpoints(StrEnum):
    WINDOW = "checkpoints-window"
    FIGURES = "checkpoints-figures"
    THROUGHPUT = "checkpoints-throughput"
    SUMMARY = "checkpoints-summary"
    FUNNEL = "checkpoints-funnel"
    LATENCY = "checkpoints-latency"
    DEPARTMENTS = "checkpoints-departments"


@unique
class Isolation(StrEnum):
    FIGURES = "isolation-figures"
    SITES = "isolation-sites"
    SERIES = "isolation-series"
    FLOWS = "isolation-flows"


@unique
class Briefing(StrEnum):
    WEEK = "briefing-week"
    FIGURES = "briefing-figures"
    RISK = "briefing-risk"
    CLUSTERS = "briefing-clusters"
    TITLE = "briefing-title"


ALL = (Shell, Sandbox, Tracing, Checkpoints, Isolation, Briefing)
