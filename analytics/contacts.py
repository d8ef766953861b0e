"""Contacts of many cases at once (set-based tracing): who, how many, and the clusters.

The same definitions as :mod:`analytics.tracing`, applied to every case whose first
positive sample falls in a time window, in one SQL statement. Used by the weekly
figures and the wall's KPI tiles; returns pseudonyms only (no references).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import networkx as nx
import pandas as pd
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.types import Text

from analytics._common import as_time, engine_or_default, rules_or_default
from analytics.access import Viewer
from analytics.tracing import prepared
from geodata.rules import Rules

__all__ = ["contact_pairs", "contact_counts", "clusters"]

_PAIRS = text(
    """
    WITH first_pos AS (
        SELECT DISTINCT ON (person_id) person_id, sampled_at FROM nat_results
        WHERE result = 'positive' AND sampled_at < :t1 ORDER BY person_id, sampled_at
    ),
    cases AS (
        SELECT f.person_id AS case_id, f.sampled_at - :before AS w0,
               coalesce((SELECT min(z.admitted_at) FROM isolation_stays z
                          WHERE z.person_id = f.person_id AND z.admitted_at >= f.sampled_at - :before),
                        'infinity') AS w1
        FROM first_pos f WHERE f.sampled_at >= :t0
    ),
    idx AS (
        SELECT c.case_id, s.site_id, s.scanned_at
        FROM cases c JOIN scans s ON s.person_id = c.case_id AND s.scanned_at BETWEEN c.w0 AND c.w1
        JOIN sites t ON t.site_id = s.site_id AND t.kind = ANY(:kinds)
    ),
    close_ev AS (
        SELECT i.case_id, o.person_id, o.scanned_at
        FROM idx i JOIN scans o ON o.site_id = i.site_id
                               AND o.scanned_at BETWEEN i.scanned_at - :d AND i.scanned_at + :d
        WHERE o.person_id <> i.case_id
    ),
    close AS (
        SELECT c.case_id, c.person_id, min(c.scanned_at) AS first_exposure,
               coalesce((SELECT min(z.admitted_at) FROM isolation_stays z
                          WHERE z.person_id = c.person_id AND z.admitted_at >= min(c.scanned_at)), 'infinity') AS until
        FROM close_ev c GROUP BY c.case_id, c.person_id
    ),
    k_scans AS (
        SELECT k.case_id, k.person_id AS via, s.site_id, s.scanned_at
        FROM close k JOIN scans s ON s.person_id = k.person_id AND s.scanned_at BETWEEN k.first_exposure AND k.until
        JOIN sites t ON t.site_id = s.site_id AND t.kind = ANY(:kinds)
    ),
    sec AS (
        SELECT DISTINCT k.case_id, o.person_id, k.via
        FROM k_scans k JOIN scans o ON o.site_id = k.site_id
                                   AND o.scanned_at BETWEEN k.scanned_at - :d AND k.scanned_at + :d
        WHERE o.person_id <> k.case_id
          AND NOT EXISTS (SELECT 1 FROM close c WHERE c.case_id = k.case_id AND c.person_id = o.person_id)
    )
    SELECT case_id, person_id, 1 AS degree, case_id AS via FROM close
    UNION ALL
    SELECT case_id, person_id, 2, via FROM sec
    """
).bindparams(bindparam("kinds", type_=ARRAY(Text)))


def contact_pairs(
    window: tuple[datetime | str, datetime | str],
    *,
    viewer: Viewer,
    engine: Engine | None = None,
    rules: Rules | None = None,
) -> pd.DataFrame:
    """Every (case, contact) pair for the cases first sampled positive in ``window``.

    Columns: ``case_id, person_id, degree`` (1 close, 2 secondary), ``via`` (the case for
    close contacts, the close contact for secondary ones). Pseudonyms only.
    """
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    t0, t1 = as_time(window[0]), as_time(window[1])
    with engine.connect() as conn, prepared(conn), conn.begin():
        conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        rows = conn.execute(_PAIRS, {
            "t0": t0, "t1": t1, "before": timedelta(days=rules.exposure.days_before_sample),
            "d": timedelta(minutes=rules.copresence.minutes), "kinds": list(rules.copresence.site_kinds),
        }).all()
    df = pd.DataFrame(rows, columns=["case_id", "person_id", "degree", "via"], dtype=object)
    for col in ("case_id", "person_id", "via"):
        df[col] = pd.array(df[col].tolist(), dtype="Int64")
    df["degree"] = df["degree"].astype("int64")
    return df


def contact_counts(pairs: pd.DataFrame) -> dict[str, int]:
    """Distinct close and secondary contacts (each person once, at the closest degree)."""
    close = set(pairs.loc[pairs["degree"] == 1, "person_id"].astype("int64"))
    cases = set(pairs["case_id"].astype("int64"))
    secondary = set(pairs.loc[pairs["degree"] == 2, "person_id"].astype("int64")) - close - cases
    return {"cases_traced": len(cases), "close_contacts": len(close - cases), "secondary_contacts": len(secondary)}


def clusters(pairs: pd.DataFrame) -> list[nx.Graph]:
    """Connected contact clusters (case -> close -> secondary edges), largest first."""
    g = nx.Graph()
    for row in pairs.itertuples():
        g.add_node(int(row.case_id), degree=0)
        g.add_node(int(row.person_id), degree=row.degree if not g.has_node(int(row.person_id))
                   else min(g.nodes[int(row.person_id)].get("degree", 9), row.degree))
        g.add_edge(int(row.via), int(row.person_id))
    comps = [g.subgraph(c).copy() for c in nx.connected_components(g)]
    return sorted(comps, key=lambda c: (-c.number_of_nodes(), min(c.nodes)))
