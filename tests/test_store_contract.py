"""One contract for every conversation store backend (ui.conversation_store.ConversationStore): SQLite (embedded,
default) and PostgreSQL (a real server: CI's, or a private one tests/pg_server.py starts; skipped only if neither
can be had). Each test runs against both."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from ui.conversation_store import ConversationStore


def _answer(text: str, session_id: str = "s1") -> dict:
    return {"question": "q", "answer": text, "status": "answered", "citations": [], "calculations": [],
            "validity": [], "session_id": session_id}


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    """A factory opening the same (initially empty) store again and again, as restarted processes would."""
    opened = []
    if request.param == "sqlite":
        from ui.store import Store

        def factory():
            opened.append(Store(tmp_path / "app.sqlite3"))
            return opened[-1]

        yield factory
    else:
        admin = request.getfixturevalue("postgres_admin_dsn")
        import pg_server

        from ui.store_postgres import PostgresStore

        with pg_server.fresh_database(admin) as dsn:
            def factory():
                opened.append(PostgresStore(dsn, pool_size=4))
                return opened[-1]

            yield factory
            for store in opened:
                store.close()
            return
    for store in opened:
        store.close()


@pytest.fixture
def store(backend):
    return backend()


def test_implements_the_protocol(store):
    assert isinstance(store, ConversationStore)
    assert store.health() == {"status": "ok"}


def test_turns_round_trip_in_order(store):
    first = store.record_turn("s1", "第一问", _answer("第一答"), channel="api")
    second = store.record_turn("s1", "第二问", _answer("第二答"), channel="web")
    store.record_turn("s2", "别的会话", _answer("别的", "s2"))
    turns = store.conversation("s1")
    assert [t["turn_id"] for t in turns] == [first, second] and first < second
    assert [t["question"] for t in turns] == ["第一问", "第二问"]
    assert turns[1]["answer"]["answer"] == "第二答" and turns[1]["answer"]["citations"] == []
    assert dt.datetime.fromisoformat(turns[0]["created_at"]).tzinfo is not None
    assert store.conversation("nobody") == [] and store.questions("nobody") == []
    assert store.questions("s1") == ["第一问", "第二问"]
    assert store.turn(second) == {"id": second, "session_id": "s1", "question": "第二问", "answer": "第二答"}
    assert store.turn(10**9) is None
    assert store.stats() == {"conversations": 2, "turns": 3, "feedback": 0}
    assert store.has_conversation("s1") and not store.has_conversation("nobody")


def test_several_turns_in_one_write(store):
    ids = store.record_turns("s", [("一", _answer("1")), ("二", _answer("2"))], channel="web", state={"k": 1})
    assert len(ids) == 2 and ids[0] < ids[1]
    assert [t["turn_id"] for t in store.conversation("s")] == ids


def test_limits_keep_the_latest(store):
    for i in range(5):
        store.record_turn("s", f"问{i}", _answer(f"答{i}"))
    assert [t["question"] for t in store.conversation("s", limit=2)] == ["问3", "问4"]
    assert store.questions("s", limit=3) == ["问2", "问3", "问4"]


def test_feedback_fills_question_and_answer_from_turn(store):
    turn = store.record_turn("s9", "算力券多少", _answer("最高50万元", "s9"))
    fid = store.add_feedback(rating=-1, turn_id=turn, comment="金额不对")
    other = store.add_feedback(rating=1, session_id="s9", comment="好")
    rows = store.feedback()
    assert [r["id"] for r in rows] == [other, fid]  # newest first
    row = rows[1]
    assert row["rating"] == -1 and row["comment"] == "金额不对" and row["turn_id"] == turn
    assert row["question"] == "算力券多少" and row["answer"] == "最高50万元" and row["session_id"] == "s9"
    assert store.feedback(limit=1)[0]["id"] == other
    with pytest.raises(ValueError):
        store.add_feedback(rating=0)


def _iso(delta_s: float = 0.0) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delta_s)).isoformat(timespec="milliseconds")


def test_memory_snapshots_and_versions(store):
    """Every write to a conversation moves its version; a turn without a snapshot keeps the last one."""
    assert store.snapshot("s") is None and store.load_state("s") is None
    store.record_turn("s", "问", _answer("答"), state={"region": "xiamen"})
    v1, state = store.snapshot("s")
    assert state == {"region": "xiamen"} and store.load_state("s") == {"region": "xiamen"}
    store.record_turn("s", "问2", _answer("答2"))
    v2, state = store.snapshot("s")
    assert v2 > v1 and state == {"region": "xiamen"}


def test_one_off_chats_written_behind(store):
    """A one-off chat written behind the request exists (another process may continue it) but is not kept: purged
    after the short one-off period unless continued; a continuation arriving first keeps its own snapshot and the
    history stays in the order the questions were asked."""
    store.save_one_offs([("o1", "一问", _answer("一答", "o1"), {"region": "siming"}, "api", _iso()),
                         ("o2", "二问", _answer("二答", "o2"), None, "api", _iso())])
    assert store.has_conversation("o1") and store.load_state("o1") == {"region": "siming"}
    assert [t["question"] for t in store.conversation("o1")] == ["一问"]
    assert store.conversation("o1")[0]["turn_id"] is not None
    # continued: kept from now on
    store.record_turn("o1", "续问", _answer("续答", "o1"), state={"region": "xiamen"})
    assert [t["question"] for t in store.conversation("o1")] == ["一问", "续问"]
    # a continuation that reached the store before the one-off it continues (another process, a slow write)
    asked = _iso(-1)
    store.record_turn("o3", "第二问", _answer("第二答", "o3"), state={"turn": 2})
    store.save_one_offs([("o3", "第一问", _answer("第一答", "o3"), {"turn": 1}, "api", asked)])
    assert store.load_state("o3") == {"turn": 2}
    assert store.questions("o3") == ["第一问", "第二问"]
    assert [t["question"] for t in store.conversation("o3")] == ["第一问", "第二问"]
    now = dt.datetime.now(dt.timezone.utc)
    removed = store.purge(now - dt.timedelta(days=30), unkept_older_than=now + dt.timedelta(seconds=5))
    assert removed == {"conversations": 1, "turns": 1, "feedback": 0}  # o2: never continued
    assert store.has_conversation("o1") and store.has_conversation("o3") and not store.has_conversation("o2")
    store.save_one_offs([])


def test_committed_rows_survive_reopen_without_close(backend):
    """A write acknowledged by the store is committed: a new store (a restarted process) sees it."""
    writer = backend()
    writer.record_turn("s1", "问", _answer("答"), state={"x": 1})
    writer.add_feedback(rating=1, session_id="s1", comment="好")
    secret = writer.server_secret()
    reader = backend()
    assert [t["question"] for t in reader.conversation("s1")] == ["问"]
    assert reader.feedback()[0]["comment"] == "好" and reader.load_state("s1") == {"x": 1}
    assert reader.server_secret() == secret and len(secret) == 32


def test_delete_removes_turns_and_feedback(store):
    store.record_turn("gone", "问", _answer("答", "gone"))
    store.add_feedback(rating=1, session_id="gone")
    store.record_turn("kept", "问", _answer("答", "kept"))
    assert store.delete_conversation("gone") is True
    assert store.delete_conversation("gone") is False
    assert not store.has_conversation("gone") and store.conversation("gone") == []
    assert store.stats() == {"conversations": 1, "turns": 1, "feedback": 0}


def test_purge_removes_what_is_older_than_the_cutoff(store):
    store.record_turn("a", "问", _answer("答", "a"))
    store.add_feedback(rating=1, session_id="a")
    store.add_feedback(rating=-1, comment="无会话")
    now = dt.datetime.now(dt.timezone.utc)
    assert store.purge(now - dt.timedelta(days=1)) == {"conversations": 0, "turns": 0, "feedback": 0}
    assert store.purge(now + dt.timedelta(seconds=5)) == {"conversations": 1, "turns": 1, "feedback": 2}
    assert store.stats() == {"conversations": 0, "turns": 0, "feedback": 0}


def test_concurrent_writers_lose_nothing(store):
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(25):
                store.record_turn(f"s{n}", f"问{i}", _answer(f"答{i}", f"s{n}"), state={"i": i})
                if i % 5 == 0:
                    store.add_feedback(rating=1, session_id=f"s{n}")
                    store.save_one_offs([(f"p{n}-{i}", "问", _answer("答"), {"i": i}, "api", _iso())])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.stats() == {"conversations": 48, "turns": 240, "feedback": 40}
    assert len(store.conversation("s3")) == 25 and store.load_state("s3") == {"i": 24}
