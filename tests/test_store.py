"""SQLite store: WAL mode, turns and feedback round-trip, durability across reopen, concurrent writers."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from ui.store import Store


def _answer(text: str, session_id: str = "s1") -> dict:
    return {"question": "q", "answer": text, "status": "answered", "citations": [], "calculations": [],
            "validity": [], "session_id": session_id}


def test_wal_mode_and_schema(tmp_path):
    store = Store(tmp_path / "app.sqlite3")
    store.close()
    conn = sqlite3.connect(tmp_path / "app.sqlite3")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "turns", "feedback"} <= tables


def test_turns_round_trip_in_order(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    first = store.record_turn("s1", "第一问", _answer("第一答"), channel="api")
    second = store.record_turn("s1", "第二问", _answer("第二答"), channel="web")
    store.record_turn("s2", "别的会话", _answer("别的", "s2"))
    turns = store.conversation("s1")
    assert [t["turn_id"] for t in turns] == [first, second]
    assert [t["question"] for t in turns] == ["第一问", "第二问"]
    assert turns[1]["answer"]["answer"] == "第二答"
    assert store.conversation("nobody") == []
    assert store.stats() == {"conversations": 2, "turns": 3, "feedback": 0}


def test_conversation_limit_keeps_latest(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    for i in range(5):
        store.record_turn("s", f"问{i}", _answer(f"答{i}"))
    assert [t["question"] for t in store.conversation("s", limit=2)] == ["问3", "问4"]


def test_feedback_fills_question_and_answer_from_turn(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    turn = store.record_turn("s9", "算力券多少", _answer("最高50万元", "s9"))
    fid = store.add_feedback(rating=-1, turn_id=turn, comment="金额不对")
    row = store.feedback()[0]
    assert row["id"] == fid and row["rating"] == -1 and row["comment"] == "金额不对"
    assert row["question"] == "算力券多少" and row["answer"] == "最高50万元" and row["session_id"] == "s9"


def test_feedback_rating_must_be_plus_or_minus_one(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    with pytest.raises(ValueError):
        store.add_feedback(rating=0)


def test_committed_rows_survive_reopen_without_close(tmp_path):
    """A write acknowledged by record_turn is committed: a new connection sees it even if the first never closed."""
    path = tmp_path / "db.sqlite3"
    writer = Store(path)
    writer.record_turn("s1", "问", _answer("答"))
    writer.add_feedback(rating=1, session_id="s1", comment="好")
    reader = Store(path)  # as a restarted process would
    assert [t["question"] for t in reader.conversation("s1")] == ["问"]
    assert reader.feedback()[0]["comment"] == "好"


def test_concurrent_writers_lose_nothing(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(50):
                store.record_turn(f"s{n}", f"问{i}", _answer(f"答{i}", f"s{n}"))
                if i % 10 == 0:
                    store.add_feedback(rating=1, session_id=f"s{n}")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.stats() == {"conversations": 8, "turns": 400, "feedback": 40}
    assert len(store.conversation("s3")) == 50
