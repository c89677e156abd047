"""Where conversations, feedback and the chat log live: one small protocol, two backends, chosen in one place.

- `sqlite` (default, ui/store.py): a file under the data directory, embedded, nothing to run. Several worker
  processes on one machine share it (WAL).
- `postgres` (ui/store_postgres.py): a PostgreSQL server, for N stateless API processes on several hosts behind a
  proxy. The connection string is read from the environment variable named by `settings.postgres_dsn_env`
  (default POLICY_POSTGRES_DSN) and never logged.

Both pass one contract suite (tests/test_store_contract.py). Every write commits before it returns.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ConversationStore(Protocol):
    """Durable conversations (turns with their answer JSON and the agent's memory snapshot), feedback, the secret
    that maps client labels to conversation ids, and retention."""

    # conversations
    def has_conversation(self, session_id: str) -> bool: ...

    def record_turns(self, session_id: str, turns: list[tuple[str, dict[str, Any]]], *, channel: str = "api",
                     state: dict[str, Any] | None = None) -> list[int]:
        """Append turns in one transaction (and the memory snapshot after them); their ids, in order."""

    def record_turn(self, session_id: str, question: str, answer: dict[str, Any], *, channel: str = "api",
                    state: dict[str, Any] | None = None) -> int: ...

    def save_one_offs(self, items: list[tuple[str, str, dict[str, Any], dict[str, Any] | None, str, str]]) -> None:
        """One-off chats written behind the request when conversations are shared between processes: (session id,
        question, answer JSON, memory snapshot, channel, asked-at ISO time). Not kept — removed by `purge` after
        `unkept_older_than` — unless a later `record_turns` continues them. One transaction."""

    def snapshot(self, session_id: str) -> tuple[int, dict[str, Any] | None] | None:
        """(version, memory snapshot) of a conversation; the version grows with every write to it. None if absent."""

    def load_state(self, session_id: str) -> dict[str, Any] | None: ...

    def conversation(self, session_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """The latest `limit` turns in the order they were asked: turn_id, question, answer (JSON), created_at."""

    def questions(self, session_id: str, *, limit: int = 20) -> list[str]: ...

    def turn(self, turn_id: int) -> dict[str, Any] | None: ...

    def delete_conversation(self, session_id: str) -> bool: ...

    def purge(self, older_than: dt.datetime, *, unkept_older_than: dt.datetime | None = None) -> dict[str, int]:
        """Remove conversations last updated, and feedback given, before `older_than`, and one-off chats never
        continued before `unkept_older_than`; counts removed."""

    # feedback
    def add_feedback(self, *, rating: int, session_id: str | None = None, turn_id: int | None = None,
                     comment: str = "", question: str = "", answer: str = "", channel: str = "api") -> int: ...

    def feedback(self, *, limit: int = 100) -> list[dict[str, Any]]: ...

    # operations
    def server_secret(self) -> bytes:
        """A random secret made once and shared by every process using this store (conversation ids for labels)."""

    def stats(self) -> dict[str, int]: ...

    def health(self) -> dict[str, Any]:
        """{"status": "ok"} or a degraded/unavailable status with a Chinese `message`."""

    def close(self) -> None: ...


STORES = ("sqlite", "postgres")


def open_store(settings) -> ConversationStore:
    """The backend named by `settings.store` (the one place it is chosen)."""
    kind = getattr(settings, "store", "sqlite")
    if kind == "sqlite":
        from ui.store import Store

        return Store(settings.db_path)
    if kind == "postgres":
        from ui.store_postgres import PostgresStore

        dsn = os.environ.get(settings.postgres_dsn_env, "")
        if not dsn:
            raise RuntimeError(f"会话库设置为 PostgreSQL，但环境变量 {settings.postgres_dsn_env} 未设置连接串"
                               "（如 postgresql://user:password@db-host:5432/policy）。")
        return PostgresStore(dsn, pool_size=settings.store_pool_size)
    raise ValueError(f"unknown store {kind!r}; choose from {STORES}")
