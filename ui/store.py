"""Durable conversations and feedback in SQLite (WAL) under the data directory.

Every write commits before the caller acknowledges the request, so a server restart loses nothing a client was told
was saved. WAL with synchronous=NORMAL is durable against process crashes and restarts (an OS crash may lose the last
transactions); `durable=True` switches to synchronous=FULL for deployments that need power-loss durability.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    session_id TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    turns      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS turns (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL REFERENCES conversations(session_id),
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    status      TEXT NOT NULL,
    answer_json TEXT NOT NULL,
    channel     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, id);
CREATE TABLE IF NOT EXISTS feedback (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT,
    turn_id    INTEGER,
    rating     INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment    TEXT NOT NULL DEFAULT '',
    question   TEXT NOT NULL DEFAULT '',
    answer     TEXT NOT NULL DEFAULT '',
    channel    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_session ON feedback(session_id);
CREATE TABLE IF NOT EXISTS history_sessions (
    history_hash TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
"""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """One SQLite connection shared by the server's threads behind a lock (SQLite serialises writers anyway)."""

    def __init__(self, path: Path | str, *, durable: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._conn.execute("PRAGMA busy_timeout=10000")
        with self._lock:
            self._conn.executescript(_SCHEMA)
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # --- conversations ----------------------------------------------------------------------------
    def record_turn(self, session_id: str, question: str, answer: dict[str, Any], *, channel: str = "api") -> int:
        """Append one question/answer pair (the answer in its contract JSON form); returns the turn id."""
        now = _now()
        payload = json.dumps(answer, ensure_ascii=False)
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "INSERT INTO conversations(session_id, channel, created_at, updated_at, turns) VALUES (?,?,?,?,1)"
                    " ON CONFLICT(session_id) DO UPDATE SET updated_at=excluded.updated_at, turns=turns+1",
                    (session_id, channel, now, now),
                )
                cur.execute(
                    "INSERT INTO turns(session_id, question, answer, status, answer_json, channel, created_at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (session_id, question, str(answer.get("answer", "")), str(answer.get("status", "")), payload,
                     channel, now),
                )
                turn_id = int(cur.lastrowid)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return turn_id

    def conversation(self, session_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """The session's turns, oldest first, each with its full answer JSON."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, question, answer_json, created_at FROM turns WHERE session_id=? ORDER BY id DESC LIMIT ?",
                (session_id, limit),
            ).fetchall()
        return [
            {"turn_id": r["id"], "question": r["question"], "answer": json.loads(r["answer_json"]),
             "created_at": r["created_at"]}
            for r in reversed(rows)
        ]

    def turn(self, turn_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, session_id, question, answer FROM turns WHERE id=?", (turn_id,)
            ).fetchone()
        return dict(row) if row else None

    # --- OpenAI-style clients resend the whole history; map a history to the agent session that produced it ---
    def link_history(self, history_hash: str, session_id: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO history_sessions(history_hash, session_id, created_at) VALUES (?,?,?)",
                               (history_hash, session_id, _now()))

    def session_for_history(self, history_hash: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT session_id FROM history_sessions WHERE history_hash=?",
                                     (history_hash,)).fetchone()
        return row[0] if row else None

    # --- feedback ---------------------------------------------------------------------------------
    def add_feedback(self, *, rating: int, session_id: str | None = None, turn_id: int | None = None,
                     comment: str = "", question: str = "", answer: str = "", channel: str = "api") -> int:
        """Store a 👍 (+1) or 👎 (-1) with an optional comment; question/answer default to the referenced turn."""
        if rating not in (-1, 1):
            raise ValueError("rating must be 1 or -1")
        if turn_id is not None and not (question and answer):
            ref = self.turn(turn_id)
            if ref:
                question = question or ref["question"]
                answer = answer or ref["answer"]
                session_id = session_id or ref["session_id"]
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO feedback(session_id, turn_id, rating, comment, question, answer, channel, created_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (session_id, turn_id, rating, comment or "", question or "", answer or "", channel, _now()),
            )
            return int(cur.lastrowid)

    def feedback(self, *, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def stats(self) -> dict[str, int]:
        with self._lock:
            conv = self._conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
            turns = self._conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
            fb = self._conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
        return {"conversations": conv, "turns": turns, "feedback": fb}

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass
            self._conn.close()
