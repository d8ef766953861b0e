"""The cases (persons with a positive NAT result): when, where, isolated when.

``cdc`` sees person references and is audited for it; ``analyst`` sees pseudonyms;
the aggregate roles may not list persons at all.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from analytics._common import as_time, engine_or_default, rules_or_default
from analytics.access import Viewer, require, write_audit
from geodata.privacy import Pseudonymiser
from geodata.rules import Rules

__all__ = ["cases"]

_CASES = text(
    """
    WITH first_pos AS (
        SELECT DISTINCT ON (person_id) person_id, sampled_at, reported_at, site_id
        FROM nat_results WHERE result = 'positive'
          AND (CAST(:t0 AS timestamptz) IS NULL OR sampled_at >= CAST(:t0 AS timestamptz))
          AND (CAST(:t1 AS timestamptz) IS NULL OR sampled_at < CAST(:t1 AS timestamptz))
        ORDER BY person_id, sampled_at
    )
    SELECT f.person_id, p.ref_encrypted, f.sampled_at AS first_positive, f.reported_at,
           (SELECT min(z.admitted_at) FROM isolation_stays z
             WHERE z.person_id = f.person_id AND z.admitted_at >= f.sampled_at - :before) AS isolated_at,
           s.site_code AS nat_site, s.district_code AS community
    FROM first_pos f JOIN persons p ON p.person_id = f.person_id JOIN sites s ON s.site_id = f.site_id
    ORDER BY f.sampled_at, f.person_id
    """
)


def cases(
    window: tuple[datetime | str | None, datetime | str | None] = (None, None),
    *,
    viewer: Viewer,
    purpose: str | None = None,
    engine: Engine | None = None,
    rules: Rules | None = None,
    pseudonymiser: Pseudonymiser | None = None,
) -> pd.DataFrame:
    """Cases first sampled positive in ``window`` (either end open).

    Columns: ``person`` (reference for cdc, pseudonym for analysts), ``person_id``,
    ``first_positive``, ``reported_at``, ``isolated_at``, ``nat_site``, ``community``.
    """
    require(viewer, "cdc", "analyst", what="list cases")
    engine = engine_or_default(engine)
    rules = rules_or_default(rules)
    from datetime import timedelta

    params = {"t0": as_time(window[0]), "t1": as_time(window[1]),
              "before": timedelta(days=rules.exposure.days_before_sample)}
    with engine.begin() as conn:
        rows = conn.execute(_CASES, params).mappings().all()
        df = pd.DataFrame(rows, columns=["person_id", "ref_encrypted", "first_positive", "reported_at",
                                         "isolated_at", "nat_site", "community"], dtype=object)
        if viewer.role == "cdc":
            pseudo = pseudonymiser or Pseudonymiser.from_settings()
            df.insert(0, "person", [pseudo.decrypt(b) for b in df["ref_encrypted"]])
            write_audit(conn, viewer, "list_cases", person_id=None, purpose=purpose, rows=len(df),
                        detail={"from": str(params["t0"]), "to": str(params["t1"])})
        else:
            df.insert(0, "person", [str(p) for p in df["person_id"]])
    df = df.drop(columns="ref_encrypted")
    df["person_id"] = pd.array(df["person_id"].tolist(), dtype="Int64")
    for col in ("first_positive", "reported_at", "isolated_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df
