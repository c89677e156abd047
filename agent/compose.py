"""Building Chinese answers: numbered citations, status and validity lines, contacts. Numbers come from data only."""
from __future__ import annotations

import datetime as dt

from tools.catalog import PolicyCatalog
from tools.schema import Citation, Validity


def zh_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def join_zh(items, sep: str = "；") -> str:
    """Join Chinese clauses without doubled punctuation ("…。；…")."""
    return sep.join(str(i).rstrip("。；;，, ") for i in items if str(i).strip())


class Citations:
    """Assigns [n] markers in first-use order; only clauses actually used are ever listed."""

    def __init__(self, catalog: PolicyCatalog) -> None:
        self.catalog = catalog
        self.items: list[Citation] = []

    def mark(self, clause_id: str | None) -> str:
        if not clause_id:
            return ""
        for i, c in enumerate(self.items, 1):
            if c.id == clause_id:
                return f"[{i}]"
        self.items.append(self.catalog.citation(clause_id))
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


WARN_DAYS = 60  # "即将到期" within this many days of a document's end


def status_tag(v: Validity, as_of: dt.date) -> str:
    """The short status that leads any amount: 已失效 / 申报已截止 / 即将到期 / 有效至…"""
    if v.status == "expired":
        return f"已失效（{zh_date(v.effective_to)}到期）"
    if v.status == "not_yet":
        return f"尚未生效（{zh_date(v.effective_from)}起施行）"
    if v.window_open is False and v.window_closes and as_of > v.window_closes:
        return f"申报已截止（{zh_date(v.window_closes)}）"
    if v.window_open and v.window_closes:
        return f"申报中（截止{zh_date(v.window_closes)}）"
    if (v.effective_to - as_of).days <= WARN_DAYS:
        return f"即将到期（有效至{zh_date(v.effective_to)}）"
    return f"有效至{zh_date(v.effective_to)}"


def claimable(v: Validity) -> bool:
    """In force and no closed window: a program of this document can still be applied for."""
    return v.status == "in_force" and v.window_open is not False


def validity_sentence(catalog: PolicyCatalog, v: Validity, as_of: dt.date) -> str:
    doc = catalog.document(v.doc_id)
    span = f"{zh_date(v.effective_from)}至{zh_date(v.effective_to)}"
    if doc.application is not None:
        app = doc.application
        close = zh_date(app.closes) + (app.closes_time or "")
        if v.window_open:
            return f"《{doc.title}》申报窗口开放中，截止时间为{close}。"
        if as_of > app.closes:
            return f"《{doc.title}》申报已于{close}截止（截至{zh_date(as_of)}），现已不能按该通知申报。"
        return f"《{doc.title}》申报窗口尚未开放（{zh_date(app.opens)}起）。"
    if v.status == "expired":
        return f"《{doc.title}》适用期为{span}，截至{zh_date(as_of)}已失效。"
    if v.status == "not_yet":
        return f"《{doc.title}》自{zh_date(v.effective_from)}起施行，截至{zh_date(as_of)}尚未生效。"
    soon = "，即将到期" if (v.effective_to - as_of).days <= WARN_DAYS else ""
    return f"《{doc.title}》有效期为{span}，截至{zh_date(as_of)}仍在有效期内{soon}。"


def contacts_text(catalog: PolicyCatalog, doc_id: str) -> str:
    doc = catalog.document(doc_id)
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
