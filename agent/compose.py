"""Building Chinese answers: numbered citations, validity lines, document facts. Numbers come from data only."""
from __future__ import annotations

import datetime as dt

from corpus import get_document
from tools.schema import Citation, Validity


def zh_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


class Citations:
    """Assigns [n] markers in first-use order; only clauses actually used are ever listed."""

    def __init__(self) -> None:
        self.items: list[Citation] = []

    def mark(self, clause_id: str) -> str:
        for i, c in enumerate(self.items, 1):
            if c.id == clause_id:
                return f"[{i}]"
        self.items.append(Citation.from_clause_id(clause_id))
        return f"[{len(self.items)}]"

    def add(self, citation: Citation) -> str:
        for i, c in enumerate(self.items, 1):
            if c.id == citation.id:
                return f"[{i}]"
        self.items.append(citation)
        return f"[{len(self.items)}]"

    @property
    def ids(self) -> set[str]:
        return {c.id for c in self.items}


def doc_label(doc_id: str) -> str:
    doc = get_document(doc_id)
    return f"《{doc.title}》" + (f"（{doc.doc_number}）" if doc.doc_number else "")


def validity_sentence(v: Validity, as_of: dt.date) -> str:
    doc = get_document(v.doc_id)
    span = f"{zh_date(v.effective_from)}至{zh_date(v.effective_to)}"
    if v.status == "expired":
        text = f"《{doc.title}》适用期为{span}，截至{zh_date(as_of)}已失效"
    elif v.status == "not_yet":
        text = f"《{doc.title}》自{zh_date(v.effective_from)}起施行，截至{zh_date(as_of)}尚未生效"
    else:
        text = f"《{doc.title}》有效期为{span}，截至{zh_date(as_of)}仍在有效期内"
    if doc.application is not None:
        close = zh_date(doc.application.closes) + (f"{doc.application.closes_time}" if doc.application.closes_time else "")
        if v.window_open:
            text += f"；申报窗口开放中，截止时间为{close}"
        elif v.window_open is False and as_of > doc.application.closes:
            text += f"；申报已于{close}截止"
        elif v.window_open is False:
            text += f"；申报窗口尚未开放（{zh_date(doc.application.opens)}起）"
    return text + "。"


def contacts_text(doc_id: str) -> str:
    doc = get_document(doc_id)
    parts = []
    for c in doc.contacts:
        who = "、".join(x for x in (c.unit, c.name) if x)
        bits = [who] if who else []
        if c.phone:
            bits.append(f"电话{c.phone}")
        if c.email:
            bits.append(f"邮箱{c.email}")
        if c.address:
            bits.append(f"地址：{c.address}")
        line = "，".join(bits)
        if c.topic:
            line = f"{c.topic}：{line}"
        parts.append(line)
    return "；".join(parts)


def disclaimer() -> str:
    return "以上为政策规定的最高额度，实际金额以主管部门审核结果和年度预算安排为准。"
