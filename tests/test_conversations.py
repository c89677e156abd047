"""Conversations and Services.chat over a real SQLite store and a scripted assistant: ids, what is kept, restore."""
from __future__ import annotations

import threading

import pytest

from policy_assistant.conversations import ChatRefused, ChatSession, ConversationNotFound, Conversations
from policy_assistant.services import Services
from policy_assistant.settings import Settings
from tools.schema import Answer
from ui.store import Store


class ScriptedAssistant:
    """Remembers, per session, the questions it was asked; answers with them. Optional hooks block or snapshot."""

    def __init__(self, *, snapshots: bool = False):
        self.memory: dict[str, list[str]] = {}
        self.asked: list[tuple[str, str]] = []
        self.block: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        if snapshots:
            self.export_session = lambda sid: {"questions": list(self.memory.get(sid, []))}
            self.import_session = lambda sid, state: self.memory.__setitem__(sid, list(state["questions"]))

    def ask(self, question, *, session_id=None, as_of=None):
        if session_id in self.block:
            self.entered.setdefault(session_id, threading.Event()).set()
            self.block[session_id].wait(10)
        self.asked.append((session_id, question))
        if question == "坏":
            return Answer(question=question, answer="请输入有效的问题。", status="refused", session_id=session_id,
                          error="bad_question")
        self.memory.setdefault(session_id, []).append(question)
        return Answer(question=question, answer=" / ".join(self.memory[session_id]), status="answered",
                      session_id=session_id)

    def ask_stream(self, question, *, session_id=None, as_of=None):
        answer = self.ask(question, session_id=session_id, as_of=as_of)
        yield {"type": "token", "text": answer.answer[:2]}
        yield {"type": "answer", "answer": answer}


def services(tmp_path, assistant=None, **settings) -> Services:
    s = Services(Settings(data_dir=tmp_path, **settings), store=Store(tmp_path / "app.sqlite3"))
    s.__dict__["assistant"] = assistant or ScriptedAssistant()
    return s


def restart(old: Services, assistant=None) -> Services:
    """A new process over the same data directory: same store file, an agent with no memory."""
    old.store.close()
    return services(old.settings.data_dir, assistant)


def test_one_off_chat_is_kept_in_memory_until_continued(tmp_path):
    s = services(tmp_path)
    first = s.chat("厦门算力券", ChatSession(), "api")
    assert first["turn_id"] is None and s.store.stats()["turns"] == 0
    assert [t["question"] for t in s.conversation(first["session_id"])] == ["厦门算力券"]  # readable while held
    second = s.chat("80万", ChatSession(id=first["session_id"]), "api")
    assert second["answer"] == "厦门算力券 / 80万"  # the agent kept the conversation's memory
    assert [t["question"] for t in s.store.conversation(first["session_id"])] == ["厦门算力券", "80万"]
    assert isinstance(second["turn_id"], int)


def test_log_chats_keeps_one_off_chats(tmp_path):
    s = services(tmp_path, log_chats=True)
    assert isinstance(s.chat("厦门算力券", ChatSession(), "api")["turn_id"], int)


def test_web_conversations_are_kept_from_the_first_turn(tmp_path):
    s = services(tmp_path)
    assert isinstance(s.chat("厦门算力券", ChatSession(), "web")["turn_id"], int)


def test_ids_are_issued_by_the_server(tmp_path):
    s = services(tmp_path)
    with pytest.raises(ConversationNotFound):
        s.chat("厦门", ChatSession(id="chosen-by-client"), "api")
    with pytest.raises(ConversationNotFound):
        s.conversation("chosen-by-client")
    ids = {s.chat("厦门", ChatSession(), "api")["session_id"] for _ in range(50)}
    assert len(ids) == 50 and all(len(i) >= 24 for i in ids)


def test_user_labels_map_to_separate_conversations_with_a_server_secret(tmp_path):
    s = services(tmp_path)
    a = s.chat("思明智改数转", ChatSession(user="alice"), "openai")
    b = s.chat("思明智改数转", ChatSession(user="bob"), "openai")
    assert a["session_id"] != b["session_id"] and "alice" not in a["session_id"]
    again = s.chat("三级", ChatSession(user="alice"), "openai")
    assert again["session_id"] == a["session_id"] and again["answer"] == "思明智改数转 / 三级"
    other = services(tmp_path / "elsewhere")  # another deployment, another secret
    assert other.conversations.user_id("alice") != s.conversations.user_id("alice")


def test_identical_histories_never_share_a_conversation(tmp_path):
    """Two clients send the same opening and the same reply, then private follow-ups: no conversation holds both."""
    s = services(tmp_path)
    opening = ("思明区智改数转评为三级，能奖励多少？",)
    a = s.chat("信用代码AAA", ChatSession(prior_questions=opening), "openai")
    b = s.chat("信用代码BBB", ChatSession(prior_questions=opening), "openai")
    assert a["session_id"] != b["session_id"]
    assert a["answer"] == f"{opening[0]} / 信用代码AAA" and b["answer"] == f"{opening[0]} / 信用代码BBB"


def test_prior_questions_continue_a_new_conversation_only(tmp_path):
    """The request's own user turns restore a new conversation; a known one keeps the server's memory."""
    s = services(tmp_path)
    first = s.chat("问一", ChatSession(user="u"), "openai")
    follow = s.chat("问二", ChatSession(user="u", prior_questions=("改写过的问一",)), "openai")
    assert follow["session_id"] == first["session_id"] and follow["answer"] == "问一 / 问二"


def test_restore_after_restart_replays_stored_questions_once(tmp_path):
    s = services(tmp_path)
    sid = s.chat("问一", ChatSession(), "api")["session_id"]
    s.chat("问二", ChatSession(id=sid), "api")
    agent = ScriptedAssistant()
    s = restart(s, agent)
    assert s.chat("问三", ChatSession(id=sid), "api")["answer"] == "问一 / 问二 / 问三"
    s.chat("问四", ChatSession(id=sid), "api")
    assert [q for _, q in agent.asked] == ["问一", "问二", "问三", "问四"]  # replayed once, not per request


def test_restore_uses_the_stored_state_when_the_agent_offers_it(tmp_path):
    s = services(tmp_path, ScriptedAssistant(snapshots=True))
    sid = s.chat("问一", ChatSession(), "api")["session_id"]
    s.chat("问二", ChatSession(id=sid), "api")
    agent = ScriptedAssistant(snapshots=True)
    s = restart(s, agent)
    assert s.chat("问三", ChatSession(id=sid), "api")["answer"] == "问一 / 问二 / 问三"
    assert agent.asked == [(sid, "问三")]  # nothing re-asked


def test_a_slow_restore_does_not_block_other_conversations(tmp_path):
    """Restoring conversation A (held mid-replay) while conversation B restores and answers: B is not waiting on A."""
    s = services(tmp_path)
    sid_a = s.chat("甲一", ChatSession(), "api")["session_id"]
    s.chat("甲二", ChatSession(id=sid_a), "api")
    sid_b = s.chat("乙一", ChatSession(), "api")["session_id"]
    s.chat("乙二", ChatSession(id=sid_b), "api")
    agent = ScriptedAssistant()
    s = restart(s, agent)
    agent.block[sid_a] = threading.Event()
    worker = threading.Thread(target=s.chat, args=("甲三", ChatSession(id=sid_a), "api"))
    worker.start()
    agent.entered.setdefault(sid_a, threading.Event()).wait(10)
    try:
        assert s.chat("乙三", ChatSession(id=sid_b), "api")["answer"] == "乙一 / 乙二 / 乙三"
        assert worker.is_alive()  # A is still restoring: B did not wait for it
    finally:
        agent.block[sid_a].set()
        worker.join(10)


def test_refused_input_is_not_recorded(tmp_path):
    s = services(tmp_path)
    with pytest.raises(ChatRefused) as err:
        s.chat("坏", ChatSession(), "web")
    assert err.value.code == "bad_question" and s.store.stats()["turns"] == 0


def test_stream_records_before_the_answer_event(tmp_path):
    s = services(tmp_path)
    events = list(s.chat_stream("厦门", ChatSession(), "web"))
    assert [e["type"] for e in events] == ["token", "answer"]
    turn_id = events[-1]["answer"]["turn_id"]
    assert s.store.turn(turn_id)["question"] == "厦门"


@pytest.mark.parametrize("text", ["", "   ", "\u200b\u200d", "问\ud800", "问\x00", "问" * 2001])
def test_bad_questions_are_refused_before_the_agent(tmp_path, text):
    from ui.inputs import InputRefused

    agent = ScriptedAssistant()
    s = services(tmp_path, agent)
    with pytest.raises(InputRefused):
        s.chat(text, ChatSession(), "api")
    assert agent.asked == []


def test_delete_forgets_the_conversation(tmp_path):
    s = services(tmp_path)
    sid = s.chat("电话13800000000", ChatSession(), "web")["session_id"]
    s.feedback(rating=1, session_id=sid, turn_id=None, comment="好")
    assert s.delete_conversation(sid)
    assert s.store.stats() == {"conversations": 0, "turns": 0, "feedback": 0}
    with pytest.raises(ConversationNotFound):
        s.chat("还在吗", ChatSession(id=sid), "api")


def test_purge_applies_the_retention_period(tmp_path):
    """retention_days=30: a conversation last updated 31 days ago goes, one updated 29 days ago stays."""
    import datetime as dt

    s = services(tmp_path, retention_days=30)
    old = s.chat("旧", ChatSession(), "web")["session_id"]
    new = s.chat("新", ChatSession(), "web")["session_id"]
    now = dt.datetime.now(dt.timezone.utc)
    with s.store._lock:
        s.store._conn.execute("UPDATE conversations SET updated_at=? WHERE session_id=?",
                              ((now - dt.timedelta(days=31)).isoformat(), old))
        s.store._conn.execute("UPDATE conversations SET updated_at=? WHERE session_id=?",
                              ((now - dt.timedelta(days=29)).isoformat(), new))
    assert s.purge() == {"conversations": 1, "turns": 1, "feedback": 0}
    assert s.store.has_conversation(new) and not s.store.has_conversation(old)
    assert services(tmp_path / "keep", retention_days=0).purge() == {"conversations": 0, "turns": 0, "feedback": 0}


def test_offline_agent_restores_from_a_state_snapshot(tmp_path):
    from agent.offline import OfflineAssistant

    from tools.catalog import default_catalog

    agent = OfflineAssistant(Settings(data_dir=tmp_path), default_catalog())
    assert callable(getattr(agent, "export_session", None)) and callable(getattr(agent, "import_session", None))
    first = agent.ask("厦门企业去年购买算力服务花了80万元，最高能补多少？", session_id="s1")
    other = OfflineAssistant(Settings(data_dir=tmp_path), default_catalog())  # another process, no memory
    other.import_session("s1", agent.export_session("s1"))
    follow = other.ask("那如果是120万呢？", session_id="s1")
    same = agent.ask("那如果是120万呢？", session_id="s1")
    assert first.calculations and follow.calculations
    assert [(c.program_id, c.amount_yuan) for c in follow.calculations] == \
        [(c.program_id, c.amount_yuan) for c in same.calculations]
    assert agent.export_session("nobody") is None


@pytest.mark.parametrize("workers", [1, 2])
def test_a_new_conversation_reads_nothing_from_the_store(tmp_path, workers):
    """An id issued for this request is in no store: it is neither looked up nor restored from one; the request's
    own earlier turns (OpenAI clients) still give it its memory."""
    reads: list[str] = []

    class CountingStore(Store):
        def has_conversation(self, sid):
            reads.append("has_conversation")
            return super().has_conversation(sid)

        def snapshot(self, sid):
            reads.append("snapshot")
            return super().snapshot(sid)

    s = Services(Settings(data_dir=tmp_path, workers=workers), store=CountingStore(tmp_path / "app.sqlite3"))
    s.__dict__["assistant"] = ScriptedAssistant()
    assert s.chat("问一", ChatSession(), "api")["answer"] == "问一"
    assert s.chat("问三", ChatSession(prior_questions=("问一", "问二")), "openai")["answer"] == "问一 / 问二 / 问三"
    assert reads == []
    s.conversations.close()
