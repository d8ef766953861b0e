"""sandtable's analytics: pure functions over the database, returning (Geo)DataFrames.

Every function takes the viewer (``analytics.access.Viewer``); role rules and small-count
suppression are applied here, not only in the dashboard. Analytics never imports Dash.
"""

from __future__ import annotations

from analytics.access import Viewer
from analytics.briefing import Briefing, briefing
from analytics.cases import cases
from analytics.checkpoints import PassFunnel, checkpoint_summary, checkpoint_throughput, pass_funnel
from analytics.contacts import contact_pairs
from analytics.figures import kpis, period_figures
from analytics.heatmap import heatmap
from analytics.isolation import isolation_demand, isolation_status, isolation_timeseries
from analytics.risk import risk, risk_score
from analytics.tracing import Trace, trace

__all__ = ["Viewer", "cases", "trace", "Trace", "heatmap", "risk", "risk_score", "contact_pairs", "briefing", "Briefing",
           "kpis", "period_figures", "checkpoint_throughput", "checkpoint_summary", "pass_funnel", "PassFunnel",
           "isolation_status", "isolation_demand", "isolation_timeseries"]


def __dir__() -> list[str]:
    return sorted(__all__)
