"""Reading a new notice (corpus/intake.py, corpus/draft.py): repairs found and recorded, dates proposed only with the
phrase that writes them, money phrases drafted into rules that validate. Pure functions, no files."""
from __future__ import annotations

import datetime as dt

import pytest

from corpus.clean import clean_text
from corpus.draft import draft_rules
from corpus.intake import detect_repairs, extract_dates, read_notice
from corpus.models import Document
from corpus.parse import parse_document
from tools.catalog import default_catalog

CALL = """某某市科技局关于开展2026年人工智能项目申报工作的通知
各有关单位：
现组织开展2026年人工智能项目申报工作，有关事项通知如下：
一、申报条件
申报单位年度研发投入不少于100万元。
二、申报时间
请符合条件的单位即日起至8月31日登录系统提交材料。
三、其他
联系人：张三，电话：0000-1111111
某某市科技局
2026年7月1日
"""

NO_YEAR_NO_DATE = """某某省科技厅关于组织第一批兑现工作的通知
一、有关要求
请各市于7月5日下午5点前将材料报送省科技厅。
"""


def _clauses(text: str, doc_id: str = "t-call"):
    return parse_document(doc_id, text)


def test_a_call_gets_its_window_and_deadline_with_readings_and_no_validity():
    dates, period, notes = extract_dates(_clauses(CALL))
    assert dates["published"]["date"] == dt.date(2026, 7, 1)
    assert dates["deadline"]["date"] == dt.date(2026, 8, 31) and "2026年" in dates["deadline"]["reading"]
    assert dates["window_opens"]["date"] == dt.date(2026, 7, 1) and "即日起" in dates["window_opens"]["reading"]
    assert "in_force_from" not in dates and "in_force_to" not in dates and period is None
    assert any("有效期截止" in n for n in notes)


def test_a_deadline_without_year_or_issue_date_is_left_to_a_person():
    dates, _, notes = extract_dates(_clauses(NO_YEAR_NO_DATE))
    assert "deadline" not in dates
    assert any("未写年份" in n and "7月5日下午5点前" in n for n in notes)


def test_the_proposed_entry_is_valid_and_loads_with_its_dates_checked():
    new = read_notice("t-call", CALL, seed_file="t-call.txt", meta={"region": "某某市"}, known=default_catalog().documents)
    doc = Document.model_validate(new.entry)
    assert not doc.validity_stated and doc.deadline == dt.date(2026, 8, 31) and doc.issuer == "某某市科技局"
    assert doc.contacts[0].phone == "0000-1111111"
    from corpus.dates import check_date_phrase

    for _, stated in doc.dates.stated():
        assert check_date_phrase(stated.date, stated.phrase, stated.reading, stated.time) is None


@pytest.mark.parametrize("raw, kinds, cleaned", [
    ("第一条 支持\n对企业给予 20 万元补助。\n暂无评论哦,快来评论一下吧!\n", ["debris", "spacing"], "对企业给予20万元补助。"),
    ("**第一条** 标题\n对年度购买总额达到30万元以上的，每家企业最高不超\n\n过50万元。\n", ["markup", "page_break"],
     "每家企业最高不超过50万元。"),
    ("(一) 第一项\n(二) 第二项\n", ["punctuation"], "（二）第二项"),
])
def test_repairs_are_found_and_rebuild_the_clean_text(raw, kinds, cleaned):
    repairs = detect_repairs(raw)
    assert [r.kind for r in repairs] == kinds
    doc = Document.model_validate({
        "id": "t", "seed_file": "t.txt", "title": "t", "notice_title": "t", "short_title": "t", "issuer": "t",
        "interpreter": "t", "doc_number": "", "doc_number_aliases": [], "region": "t", "region_path": [], "level": "city",
        "application": None, "contacts": [], "based_on": [], "keywords": [], "notes": [], "repairs": repairs})
    assert cleaned in clean_text(raw, doc)


def test_a_title_line_is_not_a_page_break():
    assert detect_repairs("第一条 支持算力租赁\n\n对企业给予补助。\n") == []


def test_money_phrases_become_drafts_with_exact_phrases():
    text = ("办法\n第一条 支持平台\n对年度服务收入超过100万元，且服务企业数超过50家的平台，按其年度服务收入最高10%给予运营补贴，"
            "每家企业最高不超过100万元。\n第二条 奖励标准\n对主导制定国际标准、国家标准的企业分别给予100万元、50万元奖励。\n")
    clauses = _clauses(text, "t-doc")
    draft = draft_rules("t-doc", clauses, "某市", ["某省", "某市"], "city")
    first, second = draft.programs
    assert first["formula"] == {"kind": "ratio_cap", "base": "t_doc_art1_yuan", "rate": "10%", "cap_yuan": 1_000_000,
                                "phrase": "按其年度服务收入最高10%给予运营补贴，每家企业最高不超过100万元"}
    ops = {(c["fact"], c["op"], c["value"]) for c in first["conditions"]}
    assert ("t_doc_art1_yuan", "gt", 1_000_000) in ops and ("t_doc_art1_count", "gt", 50) in ops
    assert second["formula"]["kind"] == "fixed_by_choice"
    assert list(second["formula"]["amounts"].values()) == [1_000_000, 500_000]
    for p in draft.programs:
        body = next(c.text for c in clauses if c.id == p["clause_ids"][0])
        for cond in p["conditions"]:
            assert cond["phrase"] in body
        assert p["status"] == "draft"


@pytest.mark.parametrize("doc_id, roles", [
    ("xm-guide", ("published", "window_opens", "deadline")),
    ("siming", ("in_force_from", "in_force_to")),
    ("quanzhou", ("deadline",)),
])
def test_the_intake_reads_the_seed_notices_as_the_corpus_states_them(doc_id, roles):
    """Run over a seed's raw text, `docs add` would propose the dates corpus/documents.yaml states (and none other)."""
    from corpus.clean import RAW_DIR

    catalog = default_catalog()
    doc = catalog.document(doc_id)
    others = {k: v for k, v in catalog.documents.items() if k != doc_id}
    new = read_notice(f"{doc_id}-again", (RAW_DIR / doc.seed_file).read_text(encoding="utf-8"), seed_file="x.txt",
                      meta={"region": doc.region}, known=others,
                      parse_style=doc.parse_style.model_dump(exclude_defaults=True) or None)
    proposed = new.entry["dates"]
    for role in roles:
        assert proposed[role]["date"] == getattr(doc.dates, role).date, role
    assert ("in_force_from" in proposed) == doc.validity_stated


def test_a_deadline_without_its_year_and_without_an_issue_date_is_not_guessed():
    """安徽: “于7月5日下午5点前” and no issue date in the text: the intake proposes no deadline and says why."""
    from corpus.clean import RAW_DIR

    catalog = default_catalog()
    doc = catalog.document("anhui")
    new = read_notice("anhui-again", (RAW_DIR / doc.seed_file).read_text(encoding="utf-8"), seed_file="x.txt",
                      meta={"region": doc.region}, known={}, parse_style={"title_delims": "。"})
    assert "deadline" not in new.entry["dates"] and "published" not in new.entry["dates"]
    assert any("7月5日下午5点前" in n and "未写年份" in n for n in new.notes)
