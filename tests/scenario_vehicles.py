"""Hand-made vehicle and isolation scenarios (passes, crossings, stays), written with SQL.

Extends :class:`tests.scenario.World` (sites and persons). Times are local
(Asia/Shanghai) strings ``"MM-DD HH:MM"`` or ``"MM-DD HH:MM:SS"`` in 2022.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from tests.scenario import _TZ, World


def lt(s: str) -> datetime:
    """A local time in 2022: ``"MM-DD HH:MM"`` or ``"MM-DD HH:MM:SS"``."""
    fmt = "%Y-%m-%d %H:%M:%S" if s.count(":") == 2 else "%Y-%m-%d %H:%M"
    return datetime.strptime(f"2022-{s}", fmt).replace(tzinfo=_TZ)


class Fleet(World):
    """A :class:`World` with vehicle passes, checkpoint crossings and isolation stays."""

    def pass_(self, pass_id: str, applied: str, *, category: str = "emergency_supplies", dept: str | None = "交通局",
              decided: str | None = None, decision: str | None = None, valid_from: str | None = None,
              valid_to: str | None = None, driver: str | None = None, plate: str | None = None) -> None:
        with self.engine.begin() as conn:
            pid = self._person(conn, driver or f"driver-{pass_id}")
            conn.execute(text(
                """INSERT INTO passes (pass_id, plate, driver_id, category, enterprise, origin_city, applied_at,
                                       reviewer_dept, decided_at, decision, valid_from, valid_to)
                   VALUES (:i, :plate, :d, :c, '某物流公司', '沈阳', :a, :dept, :dec_at, :dec, :vf, :vt)"""),
                {"i": pass_id, "plate": plate or f"辽P{pass_id}", "d": pid, "c": category, "a": lt(applied),
                 "dept": dept, "dec_at": lt(decided) if decided else None, "dec": decision,
                 "vf": lt(valid_from) if valid_from else None, "vt": lt(valid_to) if valid_to else None})

    def crossing(self, checkpoint: str, when: str, *, direction: str = "in", outcome: str = "released",
                 processing_s: float | None = 60.0, plate: str = "辽P12345", pass_id: str | None = None) -> str:
        cid = f"X{next(self._ids)}"
        with self.engine.begin() as conn:
            conn.execute(text(
                """INSERT INTO crossings (crossing_id, pass_id, plate, checkpoint_id, direction, crossed_at,
                                          verified, sealed, processing_s, outcome)
                   VALUES (:i, :p, :plate, :cp, :dir, :t, true, false, :ps, :o)"""),
                {"i": cid, "p": pass_id, "plate": plate, "cp": self.sites[checkpoint], "dir": direction,
                 "t": lt(when), "ps": processing_s, "o": outcome})
        return cid

    def stay(self, ref: str, site: str, admitted: str, discharged: str | None = None, *,
             category: str = "close_contact") -> str:
        sid = f"S{next(self._ids)}"
        with self.engine.begin() as conn:
            pid = self._person(conn, ref)
            conn.execute(text(
                """INSERT INTO isolation_stays (stay_id, person_id, site_id, category, admitted_at, discharged_at)
                   VALUES (:i, :p, :s, :c, :a, :d)"""),
                {"i": sid, "p": pid, "s": self.sites[site], "c": category, "a": lt(admitted),
                 "d": lt(discharged) if discharged else None})
        return sid

    def stays(self, n: int, site: str, admitted: str, *, category: str = "close_contact",
              discharged: str | None = None, prefix: str | None = None) -> None:
        """``n`` persons admitted at the same time (one transaction)."""
        with self.engine.begin() as conn:
            for i in range(n):
                ref = f"{prefix or site}-{admitted}-{category}-{i}"
                pid = self._person(conn, ref)
                conn.execute(text(
                    """INSERT INTO isolation_stays (stay_id, person_id, site_id, category, admitted_at, discharged_at)
                       VALUES (:i, :p, :s, :c, :a, :d)"""),
                    {"i": f"S{next(self._ids)}", "p": pid, "s": self.sites[site], "c": category, "a": lt(admitted),
                     "d": lt(discharged) if discharged else None})
