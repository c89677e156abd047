"""Durable conversations and feedback in SQLite (WAL) under the data directory: the default, embedded backend of
ui.conversation_store.ConversationStore (PostgreSQL is the other, ui/store_postgres.py).

Every write commits before the caller acknowledges the request, so a server restart loses nothing a client was told
was saved. WAL with synchronous=NORMAL is durable against process crashes and restarts (an OS crash may lose the last
transactions); `durable=True` switches to synchronous=FULL for deployments that need power-loss durability.

A damaged file (not a database, failing `PRAGMA quick_check`, or emptied to 0 bytes) is never silently replaced:
it is renamed aside as `app.sqlite3.damaged-<time>` (with its -wal/-shm), a fresh store is started, and `health()`
says so until an operator looks. Conversations older than the retention period are removed by `purge`.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("policy_assistant.store")

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    session_id TEXT PRIMARY KEY,
    channel    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    turns      INTEGER NOT NULL DEFAULT 0,
    state_json TEXT,
    version    INTEGER NOT NULL DEFAULT 0,
    kept       INTEGER NOT NULL DEFAULT 1
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
CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback(created_at);
"""
# v1 linked OpenAI-style histories to sessions by hash: a shared mapping that mixed users. It is dropped.
_MIGRATIONS = ["DROP TABLE IF EXISTS history_sessions"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class StoreDamaged(RuntimeError):
    pass


class _TurnsAndFeedback:
    """What both conversation stores do the same way above their SQL (SQLite here, PostgreSQL in store_postgres)."""

    def record_turn(self, session_id: str, question: str, answer: dict[str, Any], *, channel: str = "api",
                    state: dict[str, Any] | None = None) -> int:
        """Append one question/answer pair (the answer in its contract JSON form); returns the turn id."""
        return self.record_turns(session_id, [(question, answer)], channel=channel, state=state)[-1]

    def _feedback_refs(self, rating: int, session_id: str | None, turn_id: int | None, question: str,
                       answer: str) -> tuple[str | None, str, str]:
        """A rating checked, and the session, question and answer taken from the referenced turn when not given."""
        if rating not in (-1, 1):
            raise ValueError("rating must be 1 or -1")
        if turn_id is not None and not (question and answer):
            ref = self.turn(turn_id)
            if ref:
                question = question or ref["question"]
                answer = answer or ref["answer"]
                session_id = session_id or ref["session_id"]
        return session_id, question, answer


class Store(_TurnsAndFeedback):
    """One SQLite connection shared by the server's threads behind a lock (SQLite serialises writers anyway)."""

    def __init__(self, path: Path | str, *, durable: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.kept_aside: Path | None = None
        try:
            self._conn = self._open(durable)
        except StoreDamaged as damage:
            self.kept_aside = self._keep_aside(str(damage))
            self._conn = self._open(durable)

    # --- opening ------------------------------------------------------------------------------------------------
    def _open(self, durable: bool) -> sqlite3.Connection:
        if self.path.exists() and self.path.stat().st_size == 0 and not self._wal_has_data():
            # this store never leaves an empty file (the schema is written on first open): something truncated it
            raise StoreDamaged("the database file is empty (0 bytes)")
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10.0)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=10000")
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreDamaged(f"quick_check: {check}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            conn.executescript(_SCHEMA)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(conversations)")}
            if "state_json" not in columns:
                conn.execute("ALTER TABLE conversations ADD COLUMN state_json TEXT")
            if "version" not in columns:
                conn.execute("ALTER TABLE conversations ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
            if "kept" not in columns:
                conn.execute("ALTER TABLE conversations ADD COLUMN kept INTEGER NOT NULL DEFAULT 1")
            for statement in _MIGRATIONS:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise StoreDamaged(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal_has_data(self) -> bool:
        wal = self.path.with_name(self.path.name + "-wal")
        return wal.exists() and wal.stat().st_size > 0

    def _keep_aside(self, reason: str) -> Path:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{n}")
        self.path.rename(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        log.error("会话数据库已损坏（%s）：原文件已保留为 %s，已新建空数据库继续服务。", reason, target)
        return target

    def health(self) -> dict[str, Any]:
        """For /healthz: ok, or recovered (a damaged file was kept aside at start) with where it is."""
        if self.kept_aside is not None:
            return {"status": "recovered", "message": f"会话数据库曾损坏，原文件已保留为 {self.kept_aside.name}，当前使用新建的数据库。",
                    "kept_aside": self.kept_aside.name}
        return {"status": "ok"}

    # --- conversations ----------------------------------------------------------------------------
    def has_conversation(self, session_id: str) -> bool:
        with self._lock:
            row = self._conn.execute("SELECT 1 FROM conversations WHERE session_id=?", (session_id,)).fetchone()
        return row is not None

    def record_turns(self, session_id: str, turns: list[tuple[str, dict[str, Any]]], *, channel: str = "api",
                     state: dict[str, Any] | None = None) -> list[int]:
        """Append several turns in one transaction (a conversation kept from its first turn on); their ids."""
        now = _now()
        state_json = json.dumps(state, ensure_ascii=False) if state is not None else None
        ids: list[int] = []
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.execute(
                    "INSERT INTO conversations(session_id, channel, created_at, updated_at, turns, state_json, version,"
                    " kept) VALUES (?,?,?,?,?,?,1,1) ON CONFLICT(session_id) DO UPDATE SET updated_at=excluded.updated_at,"
                    " turns=turns+excluded.turns, state_json=COALESCE(excluded.state_json, state_json),"
                    " version=version+1, kept=1",
                    (session_id, channel, now, now, len(turns), state_json),
                )
                for question, answer in turns:
                    cur.execute(
                        "INSERT INTO turns(session_id, question, answer, status, answer_json, channel, created_at)"
                        " VALUES (?,?,?,?,?,?,?)",
                        (session_id, question, str(answer.get("answer", "")), str(answer.get("status", "")),
                         json.dumps(answer, ensure_ascii=False), channel, now),
                    )
                    ids.append(int(cur.lastrowid))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return ids

    def conversation(self, session_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """The session's turns, oldest first, each with its full answer JSON."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, question, answer_json, created_at FROM turns WHERE session_id=?"
                " ORDER BY created_at DESC, id DESC LIMIT ?",
                (session_id, limit),
            ).fetchall()
        return [
            {"turn_id": r["id"], "question": r["question"], "answer": json.loads(r["answer_json"]),
             "created_at": r["created_at"]}
            for r in reversed(rows)
        ]

    def questions(self, session_id: str, *, limit: int = 20) -> list[str]:
        """The latest `limit` questions of a conversation, oldest first (to replay into an agent)."""
        with self._lock:
            rows = self._conn.execute("SELECT question FROM turns WHERE session_id=? ORDER BY created_at DESC, id DESC LIMIT ?",
                                      (session_id, limit)).fetchall()
        return [r[0] for r in reversed(rows)]

    def save_one_offs(self, items: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, str, str]]) -> None:
        """One-off chats (session id, question, answer, memory snapshot, channel, asked-at ISO time) written behind
        the request in shared mode: not kept (purged after a day) unless continued. One transaction."""
        if not items:
            return
        now = _now()
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for sid, question, answer, state, channel, asked_at in items:
                    state_json = json.dumps(state, ensure_ascii=False) if state is not None else None
                    # a conversation already continued elsewhere keeps its own (newer) snapshot and stays kept
                    cur.execute(
                        "INSERT INTO conversations(session_id, channel, created_at, updated_at, turns, state_json,"
                        " version, kept) VALUES (?,?,?,?,1,?,1,0) ON CONFLICT(session_id) DO UPDATE SET"
                        " turns=turns+1, version=version+1", (sid, channel, asked_at, now, state_json))
                    cur.execute(
                        "INSERT INTO turns(session_id, question, answer, status, answer_json, channel, created_at)"
                        " VALUES (?,?,?,?,?,?,?)",
                        (sid, question, str(answer.get("answer", "")), str(answer.get("status", "")),
                         json.dumps(answer, ensure_ascii=False), channel, asked_at))
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def snapshot(self, session_id: str) -> tuple[int, dict[str, Any] | None] | None:
        with self._lock:
            row = self._conn.execute("SELECT version, state_json FROM conversations WHERE session_id=?",
                                     (session_id,)).fetchone()
        if row is None:
            return None
        try:
            state = json.loads(row[1]) if row[1] else None
        except ValueError:
            state = None
        return int(row[0]), state

    def load_state(self, session_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute("SELECT state_json FROM conversations WHERE session_id=?", (session_id,)).fetchone()
        if not row or not row[0]:
            return None
        try:
            return json.loads(row[0])
        except ValueError:
            return None

    def turn(self, turn_id: int) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, session_id, question, answer FROM turns WHERE id=?", (turn_id,)
            ).fetchone()
        return dict(row) if row else None

    def delete_conversation(self, session_id: str) -> bool:
        """Remove a conversation, its turns and the feedback on it; True if it existed."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                turns = cur.execute("DELETE FROM turns WHERE session_id=?", (session_id,)).rowcount
                cur.execute("DELETE FROM feedback WHERE session_id=?", (session_id,))
                conversations = cur.execute("DELETE FROM conversations WHERE session_id=?", (session_id,)).rowcount
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return bool(turns or conversations)

    def purge(self, older_than: dt.datetime, *, unkept_older_than: dt.datetime | None = None) -> dict[str, int]:
        """Delete conversations last updated, and feedback given, before `older_than` (and one-off chats that were
        never continued, before `unkept_older_than`); counts removed."""
        cutoff = older_than.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        unkept = (unkept_older_than or older_than).astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                old = "SELECT session_id FROM conversations WHERE updated_at < ? OR (kept = 0 AND updated_at < ?)"
                turns = cur.execute(f"DELETE FROM turns WHERE session_id IN ({old})", (cutoff, unkept)).rowcount
                feedback = cur.execute(f"DELETE FROM feedback WHERE session_id IN ({old}) OR created_at < ?",
                                       (cutoff, unkept, cutoff)).rowcount
                conversations = cur.execute("DELETE FROM conversations WHERE updated_at < ? OR (kept = 0 AND "
                                            "updated_at < ?)", (cutoff, unkept)).rowcount
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return {"conversations": conversations, "turns": turns, "feedback": feedback}

    # --- feedback ---------------------------------------------------------------------------------
    def add_feedback(self, *, rating: int, session_id: str | None = None, turn_id: int | None = None,
                     comment: str = "", question: str = "", answer: str = "", channel: str = "api") -> int:
        """Store a 👍 (+1) or 👎 (-1) with an optional comment; question/answer default to the referenced turn."""
        session_id, question, answer = self._feedback_refs(rating, session_id, turn_id, question, answer)
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

    def server_secret(self) -> bytes:
        """Kept beside the database (created once, readable by this user only)."""
        import os
        import secrets

        path = self.path.parent / ".conversation-secret"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        return bytes.fromhex(path.read_text().strip())

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
