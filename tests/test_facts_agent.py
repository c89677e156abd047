"""Issue 15 at the agent and service level, with expectations derived from the catalog and the calculator rather than
written out: every fact an answer shows for each origin (question / earlier_turn / assumed / corrected), corrections
recomputed by the deterministic calculator, refused corrections explained in Chinese and leaving nothing behind, and
corrections kept across a snapshot, a replay and Services.chat's server-issued conversations."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from agent.facts import normalize_value, show_value
from agent.offline import OfflineAssistant
from policy_assistant.conversations import ChatRefused, ChatSession, ConversationNotFound
from policy_assistant.services import Services
from policy_assistant.settings import Settings
from tools.calculator import calculate
from tools.catalog import default_catalog
from tools.money import format_yuan
from ui.inputs import InputRefused
from ui.store import Store

AS_OF = dt.date(2026, 11, 30)
CJK = re.compile(r"[\u4e00-\u9fff]")
SIMING = "思明区，去年平台上架的算力买了80万，补多少"
QUESTIONS = [
    SIMING,
    "厦门企业去年购买算力服务花了80万元，最高能补多少？",
    "厦门研发投入补助，我们是规上软件企业，前年自主研发费用300万",
    "思明区智改数转评为三级，投入了500万，能补多少",
]
RELATIVE_YEARS = {"前年": 2, "去年": 1, "上年": 1, "今年": 0}


@pytest.fixture(scope="module")
def catalog():
    return default_catalog()


@pytest.fixture(scope="module")
def agent(catalog):
    return OfflineAssistant(Settings(), catalog, retriever_factory=lambda: None)


def by_fact(answer) -> dict:
    return {f.fact: f for f in answer.facts_read}


def recalculated(answer, catalog, **changes):
    """The answer's one calculation recomputed by the calculator from the facts the answer says it used."""
    (calc,) = answer.calculations
    facts = {f.fact: f.value for f in answer.facts_read}
    facts.update(changes)
    return calculate(calc.program_id, facts, AS_OF, catalog)


# --- origin: question ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question", QUESTIONS)
def test_question_facts_are_what_the_calculator_used(agent, catalog, question):
    """Each fact read from the question has the rules' label and unit, the question's own words, the year a relative
    year word names, and a value that — fed back to the calculator alone — gives the answer's amount and verdict."""
    answer = agent.ask(question, as_of=AS_OF)
    assert answer.error is None and len(answer.calculations) == 1 and answer.facts_read
    for f in answer.facts_read:
        fd = catalog.facts[f.fact]
        assert (f.label, f.unit, f.origin) == (fd.label, fd.unit, "question")
        assert f.source_text and f.source_text in question
        assert f.display == show_value(fd, f.value)
        if fd.unit == "yuan":  # the amount as typed is in the words shown ("80万" for 80万元)
            assert f.display.removesuffix("元") in f.source_text
        said = [word for word in RELATIVE_YEARS if word in f.source_text]
        if said and fd.unit == "yuan":
            assert f.year == AS_OF.year - RELATIVE_YEARS[said[0]]
    again = recalculated(answer, catalog)
    (calc,) = answer.calculations
    assert (again.amount_yuan, again.eligible) == (calc.amount_yuan, calc.eligible)
    spans = [question.index(f.source_text) for f in answer.facts_read]
    assert spans == sorted(spans)  # shown in the order the question says them


def test_a_lookup_reads_no_facts(agent):
    answer = agent.ask("思明区的人工智能若干措施什么时候到期？", as_of=AS_OF)
    assert answer.calculations == [] and answer.facts_read == []


# --- origin: earlier_turn ----------------------------------------------------------------------------------------------
def test_facts_carried_from_an_earlier_turn_keep_that_turns_words(agent, catalog):
    first = agent.ask(SIMING, as_of=AS_OF)
    follow = "那如果是120万呢？"
    second = agent.ask(follow, session_id=first.session_id, as_of=AS_OF)
    facts = by_fact(second)
    carried = [f for f in second.facts_read if f.origin == "earlier_turn"]
    stated = [f for f in second.facts_read if f.origin == "question"]
    assert carried and stated
    for f in carried:  # said before, not now: the earlier question's words, the value it had then
        assert f.source_text in SIMING and f.source_text not in follow
        assert f.value == by_fact(first)[f.fact].value
    assert all(f.source_text in follow for f in stated)
    assert facts["compute_purchase_yuan"].value == normalize_value(catalog.facts["compute_purchase_yuan"], "120万")
    again = recalculated(second, catalog)
    assert again.amount_yuan == second.calculations[0].amount_yuan != first.calculations[0].amount_yuan


# --- origin: assumed ---------------------------------------------------------------------------------------------------
def test_presumed_conditions_are_shown_as_assumptions(agent, catalog):
    """The program's presumed facts (the rules say so) that the question did not state are shown as assumed, true and
    without words; denying one is a correction that fails the condition, removing one asks for it."""
    question = "泉州算力服务补助能给多少钱"
    answer = agent.ask(question, as_of=AS_OF)
    (calc,) = answer.calculations
    program = catalog.program(calc.program_id)
    presumed = {n for n in program.facts if catalog.facts[n].presumed}
    assumed = {f.fact: f for f in answer.facts_read if f.origin == "assumed"}
    assert presumed and set(assumed) == presumed
    assert all(f.value is True and f.source_text == "" and f.display == "是" for f in assumed.values())
    name = sorted(presumed)[0]
    denied = agent.ask(None, session_id=answer.session_id, as_of=AS_OF, facts_override={name: "否"})
    assert by_fact(denied)[name].origin == "corrected" and by_fact(denied)[name].value is False
    assert denied.calculations[0].eligible is False
    assert any(catalog.facts[name].label in u or "否" in u for u in denied.calculations[0].unmet)
    removed = agent.ask(None, session_id=answer.session_id, as_of=AS_OF, facts_override={name: None})
    assert name not in by_fact(removed) and name in removed.calculations[0].missing_facts


# --- origin: corrected, recomputed by the calculator -------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["120万", "120万元", "1200000", "1,200,000元", "一百二十万", "0.012亿", 1_200_000])
def test_a_correction_is_recomputed_by_the_calculator(agent, catalog, typed):
    """However the value is written, the corrected answer is the calculator's result for the corrected facts, its
    text states that amount, and the question is not asked again of anything but the pipeline."""
    first = agent.ask(SIMING, as_of=AS_OF)
    fixed = agent.ask(None, session_id=first.session_id, as_of=AS_OF,
                      facts_override={"compute_purchase_yuan": typed})
    fd = catalog.facts["compute_purchase_yuan"]
    value = normalize_value(fd, typed)
    assert fixed.error is None and fixed.question == SIMING
    assert fixed.facts_override == {"compute_purchase_yuan": value}
    spend = by_fact(fixed)["compute_purchase_yuan"]
    assert (spend.value, spend.origin, spend.display) == (value, "corrected", show_value(fd, value))
    assert spend.source_text == by_fact(first)["compute_purchase_yuan"].source_text  # still the words it replaced
    expected = recalculated(first, catalog, compute_purchase_yuan=value)
    assert fixed.calculations[0].amount_yuan == expected.amount_yuan != first.calculations[0].amount_yuan
    assert format_yuan(expected.amount_yuan) in fixed.answer


def test_corrections_accumulate_until_a_new_question(agent, catalog):
    first = agent.ask(SIMING, as_of=AS_OF)
    agent.ask(None, session_id=first.session_id, as_of=AS_OF, facts_override={"compute_purchase_yuan": "300万"})
    both = agent.ask(None, session_id=first.session_id, as_of=AS_OF,
                     facts_override={"compute_listed_on_platform": "否"})
    assert {f.fact for f in both.facts_read if f.origin == "corrected"} == {"compute_purchase_yuan",
                                                                            "compute_listed_on_platform"}
    expected = recalculated(first, catalog, compute_purchase_yuan=3_000_000, compute_listed_on_platform=False)
    assert (both.calculations[0].amount_yuan, both.calculations[0].eligible) == (expected.amount_yuan, expected.eligible)
    fresh = agent.ask("思明区智改数转评为三级，投入了500万，能补多少", session_id=first.session_id, as_of=AS_OF)
    assert all(f.origin != "corrected" for f in fresh.facts_read)  # a new question starts without corrections


# --- refused corrections -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("override, code", [
    ({"compute_purchase_yuan": "很多"}, "invalid_fact"),
    ({"compute_purchase_yuan": "-5万"}, "invalid_fact"),
    ({"compute_purchase_yuan": "abc"}, "invalid_fact"),
    ({"compute_listed_on_platform": "也许"}, "invalid_fact"),
    ({"no_such_fact": "1"}, "unknown_fact"),
    ({"rd_growth_percent": "20%"}, "unknown_fact"),  # derived from other facts: correct those instead
    ({"rd_expense_yuan": "100万"}, "unrelated_fact"),
])
def test_a_refused_correction_is_explained_in_chinese_and_changes_nothing(agent, catalog, override, code):
    first = agent.ask(SIMING, as_of=AS_OF)
    ((name, typed),) = override.items()
    bad = agent.ask(None, session_id=first.session_id, as_of=AS_OF, facts_override=override)
    assert bad.error == code and bad.calculations == [] and CJK.search(bad.answer)
    assert "Traceback" not in bad.answer and "Error" not in bad.answer
    fd = catalog.facts.get(name)
    if code == "invalid_fact":  # names the fact and repeats what was typed (or why it cannot be: 负数)
        assert fd.label in bad.answer and (typed in bad.answer or "负" in bad.answer)
    elif code == "unknown_fact":
        assert name in bad.answer
    else:  # names the fact and lists what can be corrected, from the rules
        usable = [catalog.facts[n].label for n in catalog.program(first.calculations[0].program_id).facts]
        assert fd.label in bad.answer and all(label in bad.answer for label in usable)
    unchanged = agent.ask(None, session_id=first.session_id, as_of=AS_OF, facts_override={})
    assert unchanged.calculations[0].amount_yuan == first.calculations[0].amount_yuan
    assert [(f.fact, f.value) for f in unchanged.facts_read] == [(f.fact, f.value) for f in first.facts_read]


def test_nothing_to_correct_before_a_question(agent):
    answer = agent.ask(None, session_id="never-asked-here", as_of=AS_OF, facts_override={"compute_purchase_yuan": "1万"})
    assert answer.error == "nothing_to_correct" and CJK.search(answer.answer) and "请先提问" in answer.answer


def test_corrections_survive_a_memory_snapshot(catalog, agent):
    """The corrected values are part of the exported session: another process continues with them."""
    first = agent.ask(SIMING, as_of=AS_OF)
    agent.ask(None, session_id=first.session_id, as_of=AS_OF, facts_override={"compute_purchase_yuan": "120万"})
    other = OfflineAssistant(Settings(), catalog, retriever_factory=lambda: None)
    other.import_session(first.session_id, agent.export_session(first.session_id))
    again = other.ask(None, session_id=first.session_id, as_of=AS_OF, facts_override={})
    assert by_fact(again)["compute_purchase_yuan"].origin == "corrected"
    assert again.calculations[0].amount_yuan == recalculated(first, catalog, compute_purchase_yuan=1_200_000).amount_yuan


# --- through Services.chat: server-issued conversations ------------------------------------------------------------------
class NoSnapshots:
    """The offline agent without export/import: a restarted server must replay the stored turns."""

    def __init__(self, agent):
        self.agent = agent
        self.asked: list[tuple[str | None, dict | None]] = []

    def ask(self, question, *, session_id=None, as_of=None, facts_override=None):
        self.asked.append((question, facts_override))
        extra = {} if facts_override is None else {"facts_override": facts_override}
        return self.agent.ask(question, session_id=session_id, as_of=as_of, **extra)

    def ask_stream(self, question, *, session_id=None, as_of=None, facts_override=None):
        answer = self.ask(question, session_id=session_id, as_of=as_of, facts_override=facts_override)
        yield {"type": "answer", "answer": answer}


def _services(tmp_path, assistant) -> Services:
    s = Services(Settings(data_dir=tmp_path, as_of=AS_OF), store=Store(tmp_path / "app.sqlite3"))
    s.__dict__["assistant"] = assistant
    return s


def test_services_chat_corrects_a_server_issued_conversation(tmp_path, catalog):
    s = _services(tmp_path, OfflineAssistant(Settings(), catalog, retriever_factory=lambda: None))
    first = s.chat(SIMING, ChatSession(), "web")
    fixed = s.chat(None, ChatSession(id=first["session_id"]), "web", facts_override={"compute_purchase_yuan": "120万"})
    assert fixed["session_id"] == first["session_id"] and isinstance(fixed["turn_id"], int)
    label = catalog.facts["compute_purchase_yuan"].label
    assert [t["question"] for t in s.conversation(first["session_id"])] == [SIMING, f"更正：{label}改为120万元"]
    with pytest.raises(ConversationNotFound):  # only ids this server issued
        s.chat(None, ChatSession(id="chosen-by-client"), "api", facts_override={"compute_purchase_yuan": "1万"})
    with pytest.raises(InputRefused) as refused:  # a correction needs the conversation it corrects
        s.chat("  ", ChatSession(), "api", facts_override={"compute_purchase_yuan": "1万"})
    assert refused.value.code == "session_required" and CJK.search(refused.value.message)
    with pytest.raises(ChatRefused) as bad:
        s.chat(None, ChatSession(id=first["session_id"]), "web", facts_override={"compute_purchase_yuan": "很多"})
    assert bad.value.code == "invalid_fact" and "很多" in bad.value.message_zh
    assert len(s.conversation(first["session_id"])) == 2  # a refused correction is not recorded


def test_a_restarted_server_replays_a_correction_as_a_correction(tmp_path, catalog):
    """Without a memory snapshot the stored turns are replayed: the “更正：…” turn as the correction it was, never
    as a question."""
    s = _services(tmp_path, NoSnapshots(OfflineAssistant(Settings(), catalog, retriever_factory=lambda: None)))
    first = s.chat(SIMING, ChatSession(), "web")
    s.chat(None, ChatSession(id=first["session_id"]), "web", facts_override={"compute_purchase_yuan": "120万"})
    s.store.close()
    fresh = NoSnapshots(OfflineAssistant(Settings(), catalog, retriever_factory=lambda: None))
    restarted = _services(tmp_path, fresh)
    follow = restarted.chat("那最高能补多少？", ChatSession(id=first["session_id"]), "web")
    assert fresh.asked[:2] == [(SIMING, None), (None, {"compute_purchase_yuan": 1_200_000})]
    spend = {f["fact"]: f for f in follow["facts_read"]}["compute_purchase_yuan"]
    assert spend["value"] == 1_200_000 and spend["origin"] == "earlier_turn"


def test_editions_pass_corrections_to_the_edition_of_the_date():
    from agent.editions import EditionAssistant

    seen = []

    class Edition:
        def ask(self, question, **kw):
            seen.append((question, kw))

    class Catalog:
        def edition_key(self, as_of):
            return as_of.year

        def at(self, as_of):
            return self

    editions = EditionAssistant(Catalog(), lambda edition: Edition(), lambda: AS_OF)
    editions.ask(None, session_id="s", facts_override={"compute_purchase_yuan": "1万"})
    editions.ask("问", session_id="s")
    assert seen == [(None, {"session_id": "s", "as_of": AS_OF, "facts_override": {"compute_purchase_yuan": "1万"}}),
                    ("问", {"session_id": "s", "as_of": AS_OF})]
