"""The demo business system the tools talk to: a clinic calendar, customers, field jobs, legal matters.

``BusinessSystem`` is the seam: a user swaps ``SqliteBusiness`` for an adapter over their own
API. Write-backs take an idempotency key and store it under a UNIQUE constraint, so a retried
activity returns the first result instead of booking twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from switchboard.people import NotAPhoneNumber, normalise

SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (
  id INTEGER PRIMARY KEY, day TEXT NOT NULL, time TEXT NOT NULL, practitioner TEXT NOT NULL,
  booked_by TEXT, UNIQUE(day, time, practitioner));
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, phone TEXT NOT NULL UNIQUE, account TEXT UNIQUE);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, customer TEXT NOT NULL, status TEXT NOT NULL, technician TEXT NOT NULL,
  eta TEXT, notes TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS clients (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS matters (
  id INTEGER PRIMARY KEY, matter_type TEXT NOT NULL, description TEXT NOT NULL, name TEXT NOT NULL,
  phone TEXT NOT NULL, urgent INTEGER NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER PRIMARY KEY, category TEXT NOT NULL, summary TEXT NOT NULL, priority TEXT NOT NULL,
  phone TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS writes (
  idempotency_key TEXT PRIMARY KEY, result TEXT NOT NULL, created TEXT NOT NULL);
"""

ERASABLE = ("bookings", "customers", "tickets", "matters")  # the record kinds tools name
BUSINESS_FILE = "business.sqlite"  # in the local stack's home (.local/)
PRACTITIONERS = ("Dr Patel", "Dr Nguyen")
CLINIC_TIMES = ("09:00", "09:30", "10:00", "10:30", "11:00", "14:00", "14:30", "15:00", "15:30", "16:00")
DEMO_JOBS = (
    ("4172", "Harbour Cafe", "in progress", "Sam", "today 3 pm"),
    ("4173", "Westside Dental", "scheduled", "Priya", "Thursday 9 am"),
    ("4180", "Lee residence", "completed", "Tom", None),
    ("4201", "Ocean Apartments", "awaiting parts", "Sam", "next week"),
)
DEMO_CLIENTS = ("Acme Holdings", "Jordan Smith", "Riverside Council", "Blue Gum Pty Ltd")
DEMO_CUSTOMERS = (
    ("Alex Morgan", "+61412345678", "100234"),
    ("Casey Brown", "+61298765432", "100871"),
)


class AlreadyTaken(Exception):
    """The slot or resource was taken by someone else (a business outcome, not a retryable fault)."""


class BusinessSystem(Protocol):
    def open_slots(self, day: date, after: str | None = None) -> list[dict[str, str]]: ...
    def book(self, key: str, day: date, time: str, name: str, phone: str) -> dict[str, Any]: ...
    def job(self, job_id: str) -> dict[str, Any] | None: ...
    def add_job_note(self, key: str, job_id: str, note: str) -> dict[str, Any]: ...
    def conflict(self, party: str) -> list[str]: ...
    def capture_matter(self, key: str, fields: dict[str, Any]) -> dict[str, Any]: ...
    def customer(self, phone: str | None, account: str | None) -> dict[str, Any] | None: ...
    def create_ticket(self, key: str, fields: dict[str, Any]) -> dict[str, Any]: ...
    def erase(self, number: str, kinds: Collection[str]) -> dict[str, int]: ...


class SqliteBusiness:
    """The local demo business, one SQLite file, seeded on first use. Thread-safe (one lock)."""

    def __init__(self, path: Path | str, *, today: date | None = None, days: int = 21) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(SCHEMA)
            if self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0:
                self._seed()
            self._days, self._fixed_today = days, today
            self._opened_on: date | None = None
            self._keep_open()

    def _keep_open(self) -> None:
        """The clinic's calendar always reaches ``days`` ahead, as a real one does: the days that came
        into range since the file was made (or since yesterday, in a long-lived worker) are opened;
        existing slots and bookings stay as they are. Call with the lock held."""
        start = self._fixed_today or date.today()
        if self._opened_on == start:
            return
        self._opened_on, days = start, self._days
        rows = [
            ((start + timedelta(days=d)).isoformat(), t, p)
            for d in range(days)
            if (start + timedelta(days=d)).weekday() < 6  # the clinic opens Monday to Saturday
            for t in CLINIC_TIMES
            for p in PRACTITIONERS
        ]
        self._db.executemany("INSERT OR IGNORE INTO slots(day, time, practitioner) VALUES (?, ?, ?)", rows)

    def _seed(self) -> None:
        self._db.executemany(
            "INSERT INTO jobs(id, customer, status, technician, eta) VALUES (?,?,?,?,?)", DEMO_JOBS
        )
        self._db.executemany("INSERT INTO clients(name) VALUES (?)", [(c,) for c in DEMO_CLIENTS])
        self._db.executemany("INSERT INTO customers(name, phone, account) VALUES (?,?,?)", DEMO_CUSTOMERS)

    def _once(self, key: str, write: Any) -> dict[str, Any]:
        """Run ``write`` at most once per idempotency key, returning the stored result on a repeat."""
        with self._lock:
            row = self._db.execute("SELECT result FROM writes WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                return dict(json.loads(row["result"]), replayed=True)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result: dict[str, Any] = write()
                self._db.execute(
                    "INSERT INTO writes VALUES (?, ?, ?)",
                    (key, json.dumps(result), datetime.now().isoformat(timespec="seconds")),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return result

    def open_slots(self, day: date, after: str | None = None) -> list[dict[str, str]]:
        with self._lock:
            self._keep_open()
            rows = self._db.execute(
                "SELECT time, practitioner FROM slots WHERE day = ? AND booked_by IS NULL AND time >= ?"
                " ORDER BY time, practitioner",
                (day.isoformat(), after or "00:00"),
            ).fetchall()
        return [{"time": r["time"], "practitioner": r["practitioner"]} for r in rows]

    def book(self, key: str, day: date, time: str, name: str, phone: str) -> dict[str, Any]:
        with self._lock:
            self._keep_open()

        def write() -> dict[str, Any]:
            row = self._db.execute(
                "SELECT id, practitioner FROM slots WHERE day = ? AND time = ? AND booked_by IS NULL"
                " ORDER BY practitioner LIMIT 1",
                (day.isoformat(), time),
            ).fetchone()
            if row is None:
                raise AlreadyTaken(f"no free appointment on {day.isoformat()} at {time}")
            self._db.execute("UPDATE slots SET booked_by = ? WHERE id = ?", (f"{name}|{phone}", row["id"]))
            return {"booking_id": f"B{row['id']:05d}", "practitioner": row["practitioner"]}

        return self._once(key, write)

    def job(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        return {k: row[k] for k in ("id", "customer", "status", "technician", "eta")} | {
            "notes": json.loads(row["notes"])
        }

    def add_job_note(self, key: str, job_id: str, note: str) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            row = self._db.execute("SELECT notes FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise LookupError(f"no job {job_id}")
            notes = [*json.loads(row["notes"]), note]
            self._db.execute("UPDATE jobs SET notes = ? WHERE id = ?", (json.dumps(notes), job_id))
            return {"job_id": job_id, "notes": len(notes)}

        return self._once(key, write)

    def conflict(self, party: str) -> list[str]:
        words = {w for w in party.lower().split() if len(w) > 2}
        with self._lock:
            names = [r["name"] for r in self._db.execute("SELECT name FROM clients")]
        return [n for n in names if words & {w for w in n.lower().split() if len(w) > 2}]

    def capture_matter(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            cur = self._db.execute(
                "INSERT INTO matters(matter_type, description, name, phone, urgent, created)"
                " VALUES (?,?,?,?,?,?)",
                (
                    fields["matter_type"],
                    fields["description"],
                    fields["name"],
                    fields["phone"],
                    int(bool(fields["urgent"])),
                    datetime.now().isoformat(timespec="seconds"),
                ),
            )
            return {"matter_id": f"M{cur.lastrowid:05d}"}

        return self._once(key, write)

    def customer(self, phone: str | None, account: str | None) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, phone, account FROM customers WHERE phone = ? OR account = ?", (phone, account)
            ).fetchone()
        return dict(row) if row else None

    def create_ticket(self, key: str, fields: dict[str, Any]) -> dict[str, Any]:
        def write() -> dict[str, Any]:
            cur = self._db.execute(
                "INSERT INTO tickets(category, summary, priority, phone, created) VALUES (?,?,?,?,?)",
                (
                    fields["category"],
                    fields["summary"],
                    fields["priority"],
                    fields.get("phone", ""),
                    datetime.now().isoformat(timespec="seconds"),
                ),
            )
            return {"ticket_id": f"T{cur.lastrowid:05d}"}

        return self._once(key, write)

    def erase(self, number: str, kinds: Collection[str]) -> dict[str, int]:
        """Erase what this business holds about the person on ``number`` (E.164), for the record
        ``kinds`` allowed (``ERASABLE``); returns how many rows of each kind. Idempotent."""
        unknown = set(kinds) - set(ERASABLE)
        if unknown:
            raise ValueError(f"no such business records: {sorted(unknown)}")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = _erase(self._db, number, kinds)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return counts


def _same_number(stored: str, number: str) -> bool:
    try:
        return normalise(stored) == number
    except NotAPhoneNumber:
        return False


def _erase(db: sqlite3.Connection, number: str, kinds: Collection[str]) -> dict[str, int]:
    """Erase the records of ``kinds`` about the person on ``number`` (E.164); counts per kind."""
    counts: dict[str, int] = {}
    if "bookings" in kinds:  # the appointment is cancelled: the slot is free again
        rows = db.execute("SELECT id, booked_by FROM slots WHERE booked_by IS NOT NULL").fetchall()
        ids = [r["id"] for r in rows if _same_number(r["booked_by"].rpartition("|")[2], number)]
        db.executemany("UPDATE slots SET booked_by = NULL WHERE id = ?", [(i,) for i in ids])
        counts["bookings"] = len(ids)
    for kind in ("customers", "tickets", "matters"):
        if kind in kinds:
            rows = db.execute(f"SELECT id, phone FROM {kind}").fetchall()
            ids = [r["id"] for r in rows if _same_number(r["phone"], number)]
            db.executemany(f"DELETE FROM {kind} WHERE id = ?", [(i,) for i in ids])
            counts[kind] = len(ids)
    return counts
