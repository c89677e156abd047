"""Conversations shared between processes (`serve --workers N`, or several hosts on PostgreSQL): any process can
answer any turn, continuing from the store.

Unit tests: two `Services` over one store file (two processes). Integration tests: real servers — `serve --workers
2`, two servers sharing one SQLite data directory, and two servers sharing one PostgreSQL database as two hosts
behind a proxy would."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from policy_assistant.conversations import ChatSession, ConversationNotFound
from policy_assistant.services import Services
from policy_assistant.settings import Settings
from test_conversations import ScriptedAssistant
from ui.store import Store


def process(tmp_path, **settings) -> Services:
    """One process of a shared deployment: its own store connection and agent over the same data directory."""
    s = Services(Settings(data_dir=tmp_path, workers=2, **settings), store=Store(tmp_path / "app.sqlite3"))
    s.__dict__["assistant"] = ScriptedAssistant(snapshots=True)
    return s


def test_shared_mode_follows_the_settings(tmp_path):
    assert not Settings(data_dir=tmp_path).shared_conversations
    assert Settings(data_dir=tmp_path, workers=2).shared_conversations
    assert Settings(data_dir=tmp_path, store="postgres").shared_conversations


def test_any_process_continues_a_one_off_chat_and_each_turn_starts_from_the_store(tmp_path):
    a, b = process(tmp_path), process(tmp_path)
    first = a.chat("问一", ChatSession(), "api")
    sid = first["session_id"]
    assert first["turn_id"] is None  # a one-off: written behind the request, not kept
    second = b.chat("问二", ChatSession(id=sid), "api")  # b never saw it: waits for a's write, then continues
    assert second["answer"] == "问一 / 问二" and isinstance(second["turn_id"], int)
    third = a.chat("问三", ChatSession(id=sid), "api")  # a's memory is stale: b answered since
    assert third["answer"] == "问一 / 问二 / 问三"
    fourth = a.chat("问四", ChatSession(id=sid), "api")  # a wrote the last turn: its memory is current
    assert fourth["answer"] == "问一 / 问二 / 问三 / 问四"
    assert a.assistant.asked[-2:] == [(sid, "问三"), (sid, "问四")]  # restored from snapshots, nothing replayed
    assert [t["question"] for t in b.conversation(sid)] == ["问一", "问二", "问三", "问四"]
    for s in (a, b):
        s.conversations.close()


def test_one_off_chats_are_written_behind_and_purged_unless_continued(tmp_path):
    import datetime as dt

    a = process(tmp_path)
    kept = a.chat("问一", ChatSession(), "api")["session_id"]
    a.chat("问二", ChatSession(id=kept), "api")
    dropped = a.chat("别的问题", ChatSession(), "api")["session_id"]
    assert [t["question"] for t in a.conversation(dropped)] == ["别的问题"]  # readable (its write is waited for)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    assert a.conversations.purge(now=later, days=90)["conversations"] == 1
    assert a.store.has_conversation(kept) and not a.store.has_conversation(dropped)
    a.conversations.close()


def test_feedback_on_a_one_off_keeps_it(tmp_path):
    import datetime as dt

    a = process(tmp_path)
    sid = a.chat("问一", ChatSession(), "api")["session_id"]
    fid = a.feedback(rating=1, session_id=sid, comment="有用")
    assert fid and a.store.feedback()[0]["turn_id"] == a.store.conversation(sid)[0]["turn_id"]
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)
    assert a.conversations.purge(now=later, days=90)["conversations"] == 0
    a.conversations.close()


def test_unknown_ids_are_still_refused(tmp_path):
    a = process(tmp_path)
    a.conversations.WAIT_FOR_SHARED_S = 0.2
    with pytest.raises(ConversationNotFound):
        a.chat("问", ChatSession(id="not-issued-by-us"), "api")


def test_user_labels_map_to_one_id_in_every_process(tmp_path):
    a, b = process(tmp_path), process(tmp_path)
    first = a.chat("问一", ChatSession(user="客户甲"), "openai")
    assert b.chat("问二", ChatSession(user="客户甲"), "openai")["session_id"] == first["session_id"]


# --- real servers ------------------------------------------------------------------------------------------------
FOLLOW_UPS = ["厦门企业去年购买算力服务花了80万元，最高能补多少？", "那如果是120万呢？", "那40万呢？", "如果是200万呢？"]


def _expected_amounts() -> list[list[tuple[str, int | None]]]:
    """What one process answers to the follow-ups in one conversation (the reference for several processes)."""
    from agent.offline import OfflineAssistant
    from tools.catalog import default_catalog

    agent = OfflineAssistant(Settings(), default_catalog())
    return [[(c.program_id, c.amount_yuan) for c in agent.ask(q, session_id="ref").calculations] for q in FOLLOW_UPS]


def _chat(url: str, question: str, session_id: str | None) -> dict:
    body = {"question": question, **({"session_id": session_id} if session_id else {})}
    resp = httpx.post(url + "/api/chat", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _converse(urls: list[str]) -> list[list[tuple[str, int | None]]]:
    """The follow-ups, turn i on urls[i % len(urls)]; the amounts of each answer."""
    sid = None
    amounts = []
    for i, question in enumerate(FOLLOW_UPS):
        answer = _chat(urls[i % len(urls)], question, sid)
        sid = answer["session_id"]
        amounts.append([(c["program_id"], c["amount_yuan"]) for c in answer["calculations"]])
    return amounts


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    from ui import harness

    return harness.shared_index(tmp_path_factory.getbasetemp())


@pytest.mark.integration
def test_serve_workers_answers_with_every_worker_and_stops_cleanly(shared, tmp_path):
    """`serve --workers 2`: two worker processes behind one port; conversations continue whichever answers."""
    from ui import harness

    data = harness.fresh_data_dir(shared, tmp_path / "data")
    server = harness.start_server(data, args=["--no-ui", "--workers", "2"],
                                  env={"POLICY_RATE_LIMIT_PER_MINUTE": "0"}, timeout_s=240)
    try:
        workers = [p for p in _children(server.proc.pid) if b"spawn_main" in _cmdline(p)]
        assert len(workers) == 2
        expected = _expected_amounts()
        for _ in range(3):  # fresh connections: the kernel hands them to either worker
            assert _converse([server.url]) == expected
        health = httpx.get(server.url + "/healthz", timeout=10).json()
        assert health["status"] == "ok"
    finally:
        assert server.stop() == 0


@pytest.mark.integration
def test_two_servers_on_one_sqlite_file_share_conversations(shared, tmp_path):
    """Two processes of one host (as the workers are), made to alternate deterministically: same answers."""
    from ui import harness

    data = harness.fresh_data_dir(shared, tmp_path / "data")
    env = {"POLICY_RATE_LIMIT_PER_MINUTE": "0", "POLICY_WORKERS": "2"}
    a = harness.start_server(data, args=["--no-ui"], env=env, log_path=tmp_path / "a.log")
    b = harness.start_server(data, args=["--no-ui"], env=env, log_path=tmp_path / "b.log")
    try:
        assert _converse([a.url, b.url]) == _expected_amounts()
    finally:
        assert a.stop() == 0 and b.stop() == 0


@pytest.mark.integration
def test_two_hosts_on_postgres_share_conversations_feedback_and_labels(shared, tmp_path, postgres_admin_dsn):
    """The multi-host layout: two stateless servers (own data directories, same index) on one PostgreSQL database."""
    import pg_server

    from ui import harness

    with pg_server.fresh_database(postgres_admin_dsn) as dsn:
        env = {"POLICY_RATE_LIMIT_PER_MINUTE": "0", "POLICY_STORE": "postgres", "POLICY_POSTGRES_DSN": dsn}
        a = harness.start_server(harness.fresh_data_dir(shared, tmp_path / "a"), args=["--no-ui"], env=env)
        b = harness.start_server(harness.fresh_data_dir(shared, tmp_path / "b"), args=["--no-ui"], env=env)
        try:
            assert _converse([a.url, b.url]) == _expected_amounts()
            first = _chat(a.url, FOLLOW_UPS[0], None)
            follow = _chat(b.url, FOLLOW_UPS[1], first["session_id"])
            resp = httpx.post(a.url + "/api/feedback", json={"session_id": follow["session_id"],
                                                            "turn_id": follow["turn_id"], "rating": 1}, timeout=30)
            assert resp.status_code == 200, resp.text
            history = httpx.get(f"{b.url}/api/sessions/{first['session_id']}", timeout=30)
            assert history.status_code == 200, history.text
            assert [t["question"] for t in history.json()["turns"]] == FOLLOW_UPS[:2]
            # an OpenAI client's own label names one conversation on every host (the secret lives in the database)
            from tools.money import format_yuan

            def completion(url: str, question: str) -> str:
                body = {"model": "policy-assistant", "user": "客户甲", "messages": [{"role": "user", "content": question}]}
                resp = httpx.post(url + "/v1/chat/completions", json=body, timeout=60)
                assert resp.status_code == 200, resp.text
                return resp.json()["choices"][0]["message"]["content"]

            completion(a.url, FOLLOW_UPS[0])
            text = completion(b.url, FOLLOW_UPS[1])
            assert format_yuan(_expected_amounts()[1][0][1]) in text
            assert httpx.get(a.url + "/healthz", timeout=10).json()["store"]["status"] == "ok"
        finally:
            assert a.stop() == 0 and b.stop() == 0


def _children(pid: int) -> list[int]:
    from pathlib import Path

    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _cmdline(pid: int) -> bytes:
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
