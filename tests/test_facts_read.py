"""What an answer read from the question (issue 15): `facts_read` with labels from the rules, values as used (unit,
year), the question's words and the origin (question / earlier_turn / assumed / corrected), and corrections in one
step (`facts_override`) recomputed by the calculator, never a language model; the conversation keeps them."""
from __future__ import annotations

import datetime as dt

import pytest
from langchain_core.messages import AIMessage

from agent.facts import facts_block_text, normalize_value
from agent.offline import OfflineAssistant
from policy_assistant.settings import Settings
from tools.catalog import default_catalog
from tools.errors import InvalidFactError

AS_OF = dt.date(2026, 11, 30)
SIMING = "思明区，去年平台上架的算力买了80万，补多少"


@pytest.fixture(scope="module")
def agent():
    return OfflineAssistant(Settings(), default_catalog(), retriever_factory=lambda: None)


def by_fact(answer) -> dict:
    return {f.fact: f for f in answer.facts_read}


def test_facts_read_carry_label_value_unit_year_words_and_origin(agent):
    """80万 bought 去年 (2025 as of 2026-11-30) on the platform: two facts, both from the question."""
    answer = agent.ask(SIMING, as_of=AS_OF)
    facts = by_fact(answer)
    spend = facts["compute_purchase_yuan"]
    assert (spend.label, spend.value, spend.display, spend.unit, spend.year, spend.origin) == (
        "年度购买算力服务总额", 800_000, "80万元", "yuan", 2025, "question")
    assert "80万" in spend.source_text and spend.source_text in SIMING
    listed = facts["compute_listed_on_platform"]
    assert listed.value is True and listed.display == "是" and listed.origin == "question"
    assert facts_block_text(answer.facts_read).startswith("我读到的信息：")
    assert answer.contract_dict()["facts_read"][0].keys() >= {"fact", "label", "value", "unit", "year", "source_text",
                                                               "origin"}


def test_earlier_turn_and_assumed_facts_are_marked(agent):
    first = agent.ask("厦门研发投入补助，我们是规上软件企业，前年自主研发费用300万", as_of=AS_OF)
    second = agent.ask("上年是450万", session_id=first.session_id, as_of=AS_OF)
    origins = {f.fact: f.origin for f in second.facts_read}
    assert "earlier_turn" in origins.values() and "question" in origins.values()
    quanzhou = agent.ask("泉州算力服务补助能给多少钱", as_of=AS_OF)
    assumed = {f.fact: f for f in quanzhou.facts_read if f.origin == "assumed"}
    assert "independent_legal_person" in assumed  # a condition every applicant is presumed to meet, shown as such
    assert assumed["independent_legal_person"].display == "是" and assumed["independent_legal_person"].source_text == ""
    denied = agent.recompute(quanzhou.session_id, {"independent_legal_person": "否"}, as_of=AS_OF)
    assert by_fact(denied)["independent_legal_person"].origin == "corrected"
    assert denied.calculations[0].eligible is False  # the presumption corrected: the condition fails


def test_a_lookup_uses_no_facts(agent):
    assert agent.ask("厦门的人工智能若干措施现在还有效吗？", as_of=AS_OF).facts_read == []


@pytest.mark.parametrize("typed, shown, amount", [
    ("120万", "120万元", 120_000),  # 120万 × 10% = 12万, under the 25万 cap
    ("300万", "300万元", 250_000),  # 300万 × 10% = 30万, capped at 25万
    ("4万", "4万元", 0),  # under 思明's 5万(含) threshold: not eligible
])
def test_a_correction_recomputes_with_the_calculator_and_the_session_keeps_it(agent, typed, shown, amount):
    first = agent.ask(SIMING, as_of=AS_OF)
    fixed = agent.recompute(first.session_id, {"compute_purchase_yuan": typed}, as_of=AS_OF)
    assert fixed.error is None and fixed.question == SIMING
    assert fixed.calculations[0].amount_yuan == amount
    spend = by_fact(fixed)["compute_purchase_yuan"]
    assert (spend.display, spend.origin, spend.year) == (shown, "corrected", 2025)
    assert fixed.facts_override == {"compute_purchase_yuan": normalize_value(
        default_catalog().facts["compute_purchase_yuan"], typed)}
    follow = agent.ask("那需要什么材料？", session_id=first.session_id, as_of=AS_OF)
    assert follow.error is None
    again = agent.ask("那最高能补多少？", session_id=first.session_id, as_of=AS_OF)
    carried = by_fact(again).get("compute_purchase_yuan")
    assert carried is not None and carried.display == shown and carried.origin == "earlier_turn"


def test_corrections_accumulate_and_removal_asks_again(agent):
    first = agent.ask(SIMING, as_of=AS_OF)
    agent.recompute(first.session_id, {"compute_purchase_yuan": "120万"}, as_of=AS_OF)
    no = agent.recompute(first.session_id, {"compute_listed_on_platform": "否"}, as_of=AS_OF)
    assert no.calculations[0].eligible is False  # not listed on the platform: not eligible
    assert by_fact(no)["compute_purchase_yuan"].display == "120万元"  # the earlier correction still holds
    removed = agent.recompute(first.session_id, {"compute_listed_on_platform": None}, as_of=AS_OF)
    assert "compute_listed_on_platform" not in by_fact(removed)
    assert "compute_listed_on_platform" in removed.calculations[0].missing_facts


@pytest.mark.parametrize("override, code, words", [
    ({"compute_purchase_yuan": "很多"}, "invalid_fact", "很多"),
    ({"compute_listed_on_platform": "也许吧"}, "invalid_fact", "也许吧"),
    ({"no_such_fact": "1"}, "unknown_fact", "no_such_fact"),
    ({"rd_expense_yuan": "100万"}, "unrelated_fact", "本年度自主研发费用"),
])
def test_a_bad_correction_is_refused_in_chinese_and_changes_nothing(agent, override, code, words):
    first = agent.ask(SIMING, as_of=AS_OF)
    bad = agent.recompute(first.session_id, override, as_of=AS_OF)
    assert bad.error == code and words in bad.answer and bad.calculations == []
    again = agent.recompute(first.session_id, {}, as_of=AS_OF)
    assert again.calculations[0].amount_yuan == 80_000  # the refused correction left nothing behind


def test_nothing_to_correct_without_a_question(agent):
    answer = agent.recompute("never-asked", {"compute_purchase_yuan": "1万"}, as_of=AS_OF)
    assert answer.error == "nothing_to_correct" and "请先提问" in answer.answer


def test_a_question_with_overrides_is_answered_with_them(agent):
    answer = agent.ask("厦门算力券，去年买了80万", as_of=dt.date(2025, 6, 30),
                       facts_override={"compute_purchase_yuan": "100万"})
    assert answer.calculations[0].amount_yuan == 500_000  # 100万 × 50% = 50万 = the cap
    assert by_fact(answer)["compute_purchase_yuan"].origin == "corrected"


def test_typed_corrections_keep_working(agent):
    first = agent.ask("思明区，平台上架的算力买了80万，补多少", as_of=AS_OF)
    corrected = agent.ask("不对，是120万", session_id=first.session_id, as_of=AS_OF)
    assert corrected.calculations[0].amount_yuan == 120_000
    assert by_fact(corrected)["compute_purchase_yuan"].display == "120万元"


@pytest.mark.parametrize("unit_fact, typed, value", [
    ("compute_purchase_yuan", "1.5亿", 150_000_000), ("compute_listed_on_platform", "否", False),
    ("compute_purchase_yuan", 800000, 800_000),
])
def test_normalize_value_reads_what_people_type(unit_fact, typed, value):
    assert normalize_value(default_catalog().facts[unit_fact], typed) == value
    with pytest.raises(InvalidFactError):
        normalize_value(default_catalog().facts[unit_fact], "说不清")


def test_the_llm_agent_recomputes_without_the_model():
    """A correction goes through the offline pipeline and the calculator: the scripted model is never asked."""
    from test_llm_agent import KeywordRetriever, PolicyBackend, ScriptedChatModel, call

    from agent.llm import LLMAssistant

    offline = OfflineAssistant(Settings(), default_catalog(), retriever_factory=KeywordRetriever)
    model = ScriptedChatModel(script=[
        call("calculate_award", program_id="sm-compute",
             facts={"compute_purchase_yuan": "80万", "compute_listed_on_platform": "是"}),
        AIMessage("思明区普惠算力补助最高可获得8万元。")])
    assistant = LLMAssistant(model, PolicyBackend(KeywordRetriever), fallback=offline, injection_check=lambda q: False)
    first = assistant.ask(SIMING, session_id="llm-fix", as_of=AS_OF)
    assert {f.fact: f.display for f in first.facts_read}["compute_purchase_yuan"] == "80万元"
    asked = len(model.seen)
    fixed = assistant.ask(None, session_id="llm-fix", as_of=AS_OF, facts_override={"compute_purchase_yuan": "120万"})
    assert len(model.seen) == asked  # no model call
    assert fixed.calculations[0].amount_yuan == 120_000 and by_fact(fixed)["compute_purchase_yuan"].origin == "corrected"
