"""Conversations, feedback and the chat log in PostgreSQL (psycopg 3): the backend for N API processes on several
hosts (ui.conversation_store.ConversationStore; same behaviour as the SQLite store, tests/test_store_contract.py).

A small pool of connections per process; every method runs in its own transaction and commits before it returns.
The schema is created on first connect (CREATE … IF NOT EXISTS, serialised by an advisory lock so hosts starting
together do not race). Timestamps are timestamptz; answers and memory snapshots are jsonb.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import secrets
import threading
from typing import Any, Iterator

from ui.store import _TurnsAndFeedback

log = logging.getLogger("policy_assistant.store")

SCHEMA_LOCK = 7_313_013  # pg_advisory_xact_lock key: one schema migration at a time

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS conversations (
        session_id TEXT PRIMARY KEY,
        channel    TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        turns      INTEGER NOT NULL DEFAULT 0,
        state      JSONB,
        version    BIGINT NOT NULL DEFAULT 0,
        kept       BOOLEAN NOT NULL DEFAULT TRUE
    )""",
    """CREATE TABLE IF NOT EXISTS turns (
        id          BIGSERIAL PRIMARY KEY,
        session_id  TEXT NOT NULL REFERENCES conversations(session_id) ON DELETE CASCADE,
        question    TEXT NOT NULL,
        answer      TEXT NOT NULL,
        status      TEXT NOT NULL,
        answer_json JSONB NOT NULL,
        channel     TEXT NOT NULL,
        created_at  TIMESTAMPTZ NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, id)",
    """CREATE TABLE IF NOT EXISTS feedback (
        id         BIGSERIAL PRIMARY KEY,
        session_id TEXT,
        turn_id    BIGINT,
        rating     INTEGER NOT NULL CHECK (rating IN (-1, 1)),
        comment    TEXT NOT NULL DEFAULT '',
        question   TEXT NOT NULL DEFAULT '',
        answer     TEXT NOT NULL DEFAULT '',
        channel    TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS feedback_session ON feedback(session_id)",
    "CREATE INDEX IF NOT EXISTS feedback_created ON feedback(created_at)",
    "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations(updated_at)",
    """CREATE TABLE IF NOT EXISTS app_secrets (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


class PostgresStore(_TurnsAndFeedback):
    """ConversationStore on a PostgreSQL server (see the module docstring)."""

    def __init__(self, dsn: str, *, pool_size: int = 4, connect_timeout_s: int = 10):
        import psycopg  # noqa: F401 - fail here, with the import error, not on the first request

        self._dsn = dsn
        self._timeout = connect_timeout_s
        self._pool: queue.LifoQueue = queue.LifoQueue(maxsize=max(1, pool_size))
        self._slots = threading.Semaphore(max(1, pool_size))
        self._closed = False
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for statement in _SCHEMA:
                conn.execute(statement)

    # --- connections ----------------------------------------------------------------------------------------------
    def _connect(self):
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(self._dsn, autocommit=True, row_factory=dict_row, connect_timeout=self._timeout,
                               application_name="policy-assistant")

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        """A pooled connection (at most pool_size at once); a broken one is dropped, not returned to the pool."""
        if self._closed:
            raise RuntimeError("store is closed")
        self._slots.acquire()
        conn = None
        try:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                conn = self._connect()
            if conn.closed or conn.broken:
                conn = self._connect()
            yield conn
        except BaseException:
            if conn is not None and (conn.broken or conn.closed):
                conn = None
            raise
        finally:
            if conn is not None and not conn.closed and not conn.broken:
                self._pool.put_nowait(conn)
            self._slots.release()

    # --- conversations ----------------------------------------------------------------------------------------------
    def has_conversation(self, session_id: str) -> bool:
        with self._conn() as conn:
            row = conn.execute("SELECT 1 AS x FROM conversations WHERE session_id=%s", (session_id,)).fetchone()
        return row is not None

    def record_turns(self, session_id: str, turns: list[tuple[str, dict[str, Any]]], *, channel: str = "api",
                     state: dict[str, Any] | None = None) -> list[int]:
        from psycopg.types.json import Jsonb

        now = _now()
        ids: list[int] = []
        with self._conn() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO conversations(session_id, channel, created_at, updated_at, turns, state, version, kept)"
                " VALUES (%s,%s,%s,%s,%s,%s,1,TRUE) ON CONFLICT (session_id) DO UPDATE SET"
                " updated_at=EXCLUDED.updated_at, turns=conversations.turns+EXCLUDED.turns,"
                " state=COALESCE(EXCLUDED.state, conversations.state), version=conversations.version+1, kept=TRUE",
                (session_id, channel, now, now, len(turns), Jsonb(state) if state is not None else None))
            for question, answer in turns:
                row = conn.execute(
                    "INSERT INTO turns(session_id, question, answer, status, answer_json, channel, created_at)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                    (session_id, question, str(answer.get("answer", "")), str(answer.get("status", "")),
                     Jsonb(answer), channel, now)).fetchone()
                ids.append(int(row["id"]))
        return ids

    def save_one_offs(self, items: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, str, str]]) -> None:
        from psycopg.types.json import Jsonb

        if not items:
            return
        now = _now()
        with self._conn() as conn, conn.transaction():
            for sid, question, answer, state, channel, asked_at in items:
                asked = dt.datetime.fromisoformat(asked_at)
                conn.execute(
                    "INSERT INTO conversations(session_id, channel, created_at, updated_at, turns, state, version, kept)"
                    " VALUES (%s,%s,%s,%s,1,%s,1,FALSE) ON CONFLICT (session_id) DO UPDATE SET"
                    " turns=conversations.turns+1, version=conversations.version+1",
                    (sid, channel, asked, now, Jsonb(state) if state is not None else None))
                conn.execute(
                    "INSERT INTO turns(session_id, question, answer, status, answer_json, channel, created_at)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s)",
                    (sid, question, str(answer.get("answer", "")), str(answer.get("status", "")), Jsonb(answer),
                     channel, asked))

    def snapshot(self, session_id: str) -> tuple[int, dict[str, Any] | None] | None:
        with self._conn() as conn:
            row = conn.execute("SELECT version, state FROM conversations WHERE session_id=%s",
                               (session_id,)).fetchone()
        if row is None:
            return None
        return int(row["version"]), row["state"]

    def load_state(self, session_id: str) -> dict[str, Any] | None:
        snap = self.snapshot(session_id)
        return snap[1] if snap else None

    def conversation(self, session_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT id, question, answer_json, created_at FROM turns WHERE session_id=%s"
                " ORDER BY created_at DESC, id DESC LIMIT %s",
                (session_id, limit)).fetchall()
        return [{"turn_id": int(r["id"]), "question": r["question"], "answer": r["answer_json"],
                 "created_at": _iso(r["created_at"])} for r in reversed(rows)]

    def questions(self, session_id: str, *, limit: int = 20) -> list[str]:
        with self._conn() as conn:
            rows = conn.execute("SELECT question FROM turns WHERE session_id=%s ORDER BY created_at DESC, id DESC LIMIT %s",
                                (session_id, limit)).fetchall()
        return [r["question"] for r in reversed(rows)]

    def turn(self, turn_id: int) -> dict[str, Any] | None:
        with self._conn() as conn:
            row = conn.execute("SELECT id, session_id, question, answer FROM turns WHERE id=%s",
                               (turn_id,)).fetchone()
        return {**row, "id": int(row["id"])} if row else None

    def delete_conversation(self, session_id: str) -> bool:
        with self._conn() as conn, conn.transaction():
            turns = conn.execute("DELETE FROM turns WHERE session_id=%s", (session_id,)).rowcount
            conn.execute("DELETE FROM feedback WHERE session_id=%s", (session_id,))
            conversations = conn.execute("DELETE FROM conversations WHERE session_id=%s", (session_id,)).rowcount
        return bool(turns or conversations)

    def purge(self, older_than: dt.datetime, *, unkept_older_than: dt.datetime | None = None) -> dict[str, int]:
        cutoff = older_than.astimezone(dt.timezone.utc)
        unkept = (unkept_older_than or older_than).astimezone(dt.timezone.utc)
        with self._conn() as conn, conn.transaction():
            old = "SELECT session_id FROM conversations WHERE updated_at < %s OR (NOT kept AND updated_at < %s)"
            turns = conn.execute(f"DELETE FROM turns WHERE session_id IN ({old})", (cutoff, unkept)).rowcount
            feedback = conn.execute(f"DELETE FROM feedback WHERE session_id IN ({old}) OR created_at < %s",
                                    (cutoff, unkept, cutoff)).rowcount
            conversations = conn.execute("DELETE FROM conversations WHERE updated_at < %s OR (NOT kept AND "
                                         "updated_at < %s)", (cutoff, unkept)).rowcount
        return {"conversations": conversations, "turns": turns, "feedback": feedback}

    # --- feedback -------------------------------------------------------------------------------------------------------
    def add_feedback(self, *, rating: int, session_id: str | None = None, turn_id: int | None = None,
                     comment: str = "", question: str = "", answer: str = "", channel: str = "api") -> int:
        session_id, question, answer = self._feedback_refs(rating, session_id, turn_id, question, answer)
        with self._conn() as conn:
            row = conn.execute(
                "INSERT INTO feedback(session_id, turn_id, rating, comment, question, answer, channel, created_at)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s) RETURNING id",
                (session_id, turn_id, rating, comment or "", question or "", answer or "", channel, _now())).fetchone()
        return int(row["id"])

    def feedback(self, *, limit: int = 100) -> list[dict[str, Any]]:
        with self._conn() as conn:
            rows = conn.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
        return [{**r, "id": int(r["id"]), "turn_id": None if r["turn_id"] is None else int(r["turn_id"]),
                 "created_at": _iso(r["created_at"])} for r in rows]

    # --- operations -------------------------------------------------------------------------------------------------------
    def server_secret(self) -> bytes:
        with self._conn() as conn, conn.transaction():
            conn.execute("INSERT INTO app_secrets(name, value) VALUES ('conversation', %s) ON CONFLICT DO NOTHING",
                         (secrets.token_hex(32),))
            row = conn.execute("SELECT value FROM app_secrets WHERE name='conversation'").fetchone()
        return bytes.fromhex(row["value"])

    def stats(self) -> dict[str, int]:
        with self._conn() as conn:
            row = conn.execute("SELECT (SELECT COUNT(*) FROM conversations) AS conversations,"
                               " (SELECT COUNT(*) FROM turns) AS turns, (SELECT COUNT(*) FROM feedback) AS feedback"
                               ).fetchone()
        return {k: int(v) for k, v in row.items()}

    def health(self) -> dict[str, Any]:
        try:
            with self._conn() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - reported, never raised, by /healthz
            log.error("conversation store unreachable: %s", type(exc).__name__)
            return {"status": "unavailable", "message": f"会话数据库（PostgreSQL）无法连接（{type(exc).__name__}），"
                                                       "问答仍可使用，但对话与反馈无法保存。"}
        return {"status": "ok"}

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):
                conn.close()
