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


def _replaced(catalog: PolicyCatalog | None, v: Validity) -> str:
    if not (v.replaced_by and v.replaced_from):
        return ""
    by = catalog.doc_label(v.replaced_by) if catalog else ""
    word = "修订替代" if v.replaced_kind == "supersede" else "废止"
    return f"已被{by}自{zh_date(v.replaced_from)}起{word}"


def status_tag(v: Validity, as_of: dt.date, catalog: PolicyCatalog | None = None) -> str:
    """The short status that leads any amount: 已失效 / 申报已截止 / 即将到期 / 有效至… — only dates the text states."""
    if v.replaced_by and v.replaced_from:
        return _replaced(catalog, v) if catalog else f"已不再适用（{zh_date(v.replaced_from)}起）"
    closes = (zh_date(v.window_closes) + (v.window_closes_time or "")) if v.window_closes else ""
    if v.status == "expired":
        return f"已失效（{zh_date(v.effective_to)}到期）"
    if v.status == "not_yet":
        return f"尚未生效（{zh_date(v.effective_from)}起施行）"
    if v.window_open is False and v.window_closes and as_of > v.window_closes:
        return f"申报已截止（{closes}）"
    if v.window_open and v.window_closes:
        return f"申报中（截止{closes}）"
    if v.status == "unstated":
        return "通知未规定有效期"
    if v.effective_to is None:
        return f"自{zh_date(v.effective_from)}起施行" if v.effective_from else "有效"
    if v.expiring_soon:  # tools.validity: in force and ending within EXPIRING_SOON_DAYS
        return f"即将到期（有效至{zh_date(v.effective_to)}）"
    return f"有效至{zh_date(v.effective_to)}"


def claimable(v: Validity) -> bool:
    """In force (or a call that states no validity) and no closed window: a program can still be applied for."""
    return v.status in ("in_force", "unstated") and v.window_open is not False


def validity_sentence(catalog: PolicyCatalog, v: Validity, as_of: dt.date) -> str:
    """One sentence on the document's standing, with only the dates it states (“通知未规定有效期；申报截止…”)."""
    doc = catalog.document(v.doc_id)
    if v.replaced_by:
        return f"《{doc.title}》{_replaced(catalog, v)}，截至{zh_date(as_of)}不再适用。"
    if not doc.validity_stated:
        if doc.deadline is None:
            return f"《{doc.title}》文件未规定有效期，也未规定申报截止时间，以主管部门通知为准。"
        close = zh_date(doc.deadline) + (doc.deadline_time or "")
        head = f"《{doc.title}》通知未规定有效期；"
        if v.window_open:
            return head + f"申报截止时间为{close}，目前仍在申报期内。"
        if as_of > doc.deadline:
            return head + f"申报已于{close}截止（截至{zh_date(as_of)}），现已不能按该通知申报。"
        return head + f"申报自{zh_date(doc.window_opens)}起，截止时间为{close}。"
    if doc.effective_from and doc.effective_to:
        span = f"{zh_date(doc.effective_from)}至{zh_date(doc.effective_to)}"
    elif doc.effective_from:
        span = f"自{zh_date(doc.effective_from)}起（文件未规定截止日）"
    else:
        span = f"截至{zh_date(doc.effective_to)}"
    if v.status == "expired":
        return f"《{doc.title}》适用期为{span}，截至{zh_date(as_of)}已失效。"
    if v.status == "not_yet":
        return f"《{doc.title}》自{zh_date(doc.effective_from)}起施行，截至{zh_date(as_of)}尚未生效。"
    soon = "，即将到期" if v.expiring_soon else ""
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
