"""The cleaned corpus, its metadata and the clause parse."""
from __future__ import annotations

import re

import pytest

from corpus import clean_text, get_clause, load_clauses, load_documents
from corpus.clean import RAW_DIR, RepairError, apply_repair, build_clean
from corpus.models import Repair

DEBRIS = ["暂无评论哦", "[bookmark", "_GoBack", "传感可有效提高"]


def test_five_documents_with_metadata():
    docs = load_documents()
    assert [d.id for d in docs] == ["xm-measures", "xm-guide", "siming", "quanzhou", "anhui"]
    xm = docs[0]
    assert xm.doc_number == "厦府办规〔2023〕10号" and "厦府规〔2023〕10号" in xm.doc_number_aliases
    assert (xm.effective_from.isoformat(), xm.effective_to.isoformat()) == ("2023-10-10", "2025-12-31")
    guide = docs[1]
    assert guide.deadline.isoformat() == "2024-07-15" and guide.window_opens.isoformat() == "2024-06-13"
    assert guide.application and "慧企云" in guide.application.channel
    assert guide.activity_period and guide.activity_period.from_.isoformat() == "2023-10-10"
    assert not guide.validity_stated and guide.effective_from is None
    assert docs[2].level == "district" and docs[2].effective_to.isoformat() == "2026-12-31"
    assert docs[4].deadline_time == "17:00" and docs[4].publish_date is None and not docs[4].validity_stated
    assert docs[3].deadline.isoformat() == "2024-06-16" and docs[3].publish_date is None
    for d in docs:
        assert (RAW_DIR / d.seed_file).exists()
        assert d.repairs, d.id


@pytest.mark.parametrize("doc", load_documents(), ids=lambda d: d.id)
def test_clean_text_is_up_to_date_and_free_of_debris(doc):
    """corpus/clean/*.txt is exactly what the recorded repairs produce from the raw seed."""
    assert build_clean(doc) == clean_text(doc.id)
    text = clean_text(doc.id)
    for bit in DEBRIS:
        assert bit not in text, (doc.id, bit)
    if doc.id == "xm-measures":
        assert "**" not in text and not re.search(r"(?m)^#", text)


def test_scrambled_quanzhou_sentence_restored():
    text = clean_text("quanzhou")
    assert "芯片、传感器、智能理解设备、智能控制设备等电子产品，并已投入市场使用，可有效提高应用终端人工智能水平。" in text
    assert any(r.kind == "restore" for r in next(d for d in load_documents() if d.id == "quanzhou").repairs)


def test_page_breaks_joined_and_wording_kept():
    text = clean_text("xm-measures")
    assert "超高清视频" in text and "年度服务收入超过100万元" in text and "国内首台(套)目录" in text
    assert "对年度购买总额达到30万元以上的，每年均按实际支出费用最高50%给予补助，每家企业每年最高不超过50万元。" in text


def test_repair_that_no_longer_matches_fails_loudly():
    with pytest.raises(RepairError):
        apply_repair("abc", Repair(kind="debris", find="zzz", replace="", reason="x"), "doc")
    with pytest.raises(RepairError):
        apply_repair("aa", Repair(kind="debris", find="a", replace="", reason="x", count=1), "doc")


EXPECTED_LABELS = {
    "xm-measures:1.3": "一、强化算力供给 > （三）推广普惠算力服务",
    "xm-measures:2.6": "二、支持提质增效 > （六）鼓励加大研发投入",
    "xm-measures:3.11": "三、创新场景应用 > （十一）培育MaaS服务新模式",
    "xm-measures:4.17": "四、加强要素保障 > （十七）强化金融赋能",
    "xm-measures:closing": "附则",
    "xm-guide:2.2": "二、关键核心技术突破补助 > （二）申报条件",
    "xm-guide:7.1": "七、其他 > （一）",
    "xm-guide:att3": "附件3 布局重点创新平台补助申请表",
    "siming:art2": "第二条 提供普惠算力",
    "siming:notes.2": "有关说明 > （二）",
    "quanzhou:1.4": "1、申报方向 > （四）硬件优质产品",
    "quanzhou:2.1": "2、申报条件 > （一）算力服务补助",
    "quanzhou:att1": "附件1 福建省省级人工智能产业发展项目申报表",
    "anhui:3.2": "三、兑现条件 > （二）降低算力使用成本",
    "anhui:5.4": "五、支持方式 > （四）广泛招引重点企业",
    "anhui:att1": "附件 兑现项目汇总表（示例）",
}


@pytest.mark.parametrize("clause_id,label", EXPECTED_LABELS.items())
def test_clause_labels_as_written(clause_id, label):
    assert get_clause(clause_id).label_path == label


def test_every_clean_line_belongs_to_exactly_one_clause():
    for doc in load_documents():
        clauses = [c for c in load_clauses() if c.doc_id == doc.id]
        joined = [line for c in clauses for line in c.text.split("\n")]
        section_headings = {h for c in clauses for h in (c.labels[0], c.labels[0] + ":")}  # pure headings live in labels
        lines = [ln for ln in clean_text(doc.id).rstrip("\n").split("\n") if ln not in section_headings or ln in joined]
        assert joined == lines, doc.id
        ids = [c.id for c in clauses]
        assert len(ids) == len(set(ids)), doc.id
        assert all(re.fullmatch(r"[a-z-]+:[a-z0-9.]+", i) for i in ids), ids


def test_attachments_parsed_as_attachments():
    kinds = {c.id: c.kind for c in load_clauses()}
    assert [k for k, v in kinds.items() if v == "attachment"] == [
        "xm-guide:att1", "xm-guide:att2", "xm-guide:att3", "xm-guide:att4", "xm-guide:att5",
        "quanzhou:att1", "quanzhou:att2", "anhui:att1",
    ]
