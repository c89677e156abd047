"""No answer states a date the documents do not state.

Every date in an answer must be the as-of date, a date in the question, or a date the documents write (a stated
date with its phrase, an activity period, or a day written in a clause of a document the answer is about). A call
for applications (泉州, 安徽, the Xiamen guide) states no validity: its answers say so and never give a validity range
(the defect: “2024年6月1日至2024年6月16日”, “2024年6月15日至2024年7月5日”).
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from agent.offline import OfflineAssistant
from corpus.dates import written_dates
from policy_assistant.settings import Settings
from tools.catalog import default_catalog

REPO = Path(__file__).resolve().parent.parent
CALLS = {"quanzhou", "anhui", "xm-guide"}

QUESTIONS = [
    ("泉州2024年省级人工智能项目申报的有效期是什么时候", "2026-11-30"),
    ("泉州2024年省级人工智能项目申报的有效期是什么时候", "2024-06-10"),
    ("泉州省级AI产业发展项目现在还能报吗", "2024-06-10"),
    ("泉州软件企业2023年买算力50万，有在训练的模型，能申报算力服务补助吗", "2026-11-30"),
    ("安徽2024年第一批AI政策兑现通知有效期到什么时候", "2026-11-30"),
    ("安徽2024年第一批AI政策兑现通知有效期到什么时候", "2024-07-01"),
    ("安徽企业通过算力调度平台用算力，算力总支出100万，能补多少", "2026-11-30"),
    ("安徽第一批兑现还来得及报吗", "2024-07-03"),
    ("厦门2023年度人工智能补助申报指南的有效期", "2026-11-30"),
    ("厦门AI补助申报截止日期是哪天", "2024-06-20"),
    ("厦门市促进人工智能产业发展若干措施现在还有效吗", "2026-11-30"),
    ("厦门企业2025年买算力花了80万，能补多少", "2026-11-30"),
    ("思明区AI政策有效期到什么时候", "2026-11-30"),
    ("思明区企业今年购买公共智能算力80万元，已上架AI产业服务平台，能补多少", "2025-06-01"),
]


def _gold_validity_questions():
    cases = yaml.safe_load((REPO / "evals" / "gold" / "validity.yaml").read_text(encoding="utf-8"))
    cases = cases["cases"] if isinstance(cases, dict) else cases
    return [(c["question"], str(c.get("as_of", "2026-11-22"))) for c in cases if "question" in c]


@pytest.fixture(scope="module")
def assistant():
    return OfflineAssistant(Settings(), default_catalog())


def _allowed(catalog, question: str, as_of: dt.date, doc_ids: set[str]) -> set[dt.date]:
    days = {as_of}
    days |= {dt.date(w.year, w.month, w.day) for w in written_dates(question) if w.year}
    for doc in catalog.documents.values():
        days |= {d.date for _, d in doc.dates.stated()}
        if doc.activity_period:
            days |= {doc.activity_period.from_, doc.activity_period.to}
    for p in catalog.programs:
        if p.activity_period:
            days |= {p.activity_period.from_, p.activity_period.to}
    for cid, clause in catalog.clauses.items():
        if clause.doc_id in doc_ids:
            days |= {dt.date(w.year, w.month, w.day) for w in written_dates(clause.text) if w.year}
    return days


@pytest.mark.parametrize("question, as_of", QUESTIONS + _gold_validity_questions())
def test_every_date_in_an_answer_is_stated(assistant, question, as_of):
    catalog = default_catalog()
    day = dt.date.fromisoformat(as_of)
    answer = assistant.ask(question, as_of=day)
    docs = {c.id.split(":")[0] for c in answer.citations} | {v.doc_id for v in answer.validity}
    allowed = _allowed(catalog, question, day, docs)
    for w in written_dates(answer.answer):
        if w.year is None:  # “7月15日”: a day the documents write without its year
            assert any((d.month, d.day) == (w.month, w.day) for d in allowed), (w, answer.answer)
        else:
            assert dt.date(w.year, w.month, w.day) in allowed, (w, answer.answer)
    for v in answer.validity:
        if v.doc_id in CALLS:
            assert v.status == "unstated" and v.effective_from is None and v.effective_to is None


@pytest.mark.parametrize("question, as_of, doc_id, deadline", [
    ("泉州2024年省级人工智能项目申报的有效期是什么时候", "2026-11-30", "quanzhou", "2024年6月16日"),
    ("安徽2024年第一批AI政策兑现通知有效期到什么时候", "2026-11-30", "anhui", "2024年7月5日17:00"),
    ("厦门2023年度人工智能补助申报指南的有效期", "2026-11-30", "xm-guide", "2024年7月15日"),
])
def test_calls_say_no_validity_and_give_the_deadline(assistant, question, as_of, doc_id, deadline):
    answer = assistant.ask(question, as_of=dt.date.fromisoformat(as_of))
    title = default_catalog().document(doc_id).title
    lines = [ln for ln in answer.answer.split("\n") if title in ln]
    assert lines and all("未规定有效期" in ln for ln in lines), answer.answer
    assert deadline in answer.answer
    assert not any(re.search(r"(有效期|适用期)(为|：)?\d{4}年", ln) for ln in lines)
    for invented in ("2024年6月1日", "6月15日至2024年7月5日", "已失效（2024年"):
        assert invented not in answer.answer


def test_an_amount_under_a_closed_call_leads_with_the_deadline_not_an_expiry(assistant):
    answer = assistant.ask("安徽企业通过算力调度平台用算力，算力总支出100万，能补多少", as_of=dt.date(2026, 11, 30))
    assert "申报已截止（2024年7月5日17:00）" in answer.answer
    assert "已失效" not in answer.answer
