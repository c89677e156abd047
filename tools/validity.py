"""A document's standing on an as-of date: in force / expired / not yet, and whether its application window is open.

Validity is reported beside an amount and never changes it: spending in an in-force year keeps its worth.
"""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from tools.schema import Validity
from tools.vocab import date_zh

if TYPE_CHECKING:
    from tools.catalog import PolicyCatalog

STATUS_ZH = {"in_force": "有效", "expired": "已失效", "not_yet": "尚未生效", "unstated": "未规定有效期"}
# A document in force that ends within this many days is flagged 即将到期 wherever its amounts are shown.
EXPIRING_SOON_DAYS = 60


def expiring_soon(effective_to: dt.date | None, as_of: dt.date) -> bool:
    """In force on `as_of` and ending within EXPIRING_SOON_DAYS days (the end date itself counts)."""
    return effective_to is not None and 0 <= (effective_to - as_of).days <= EXPIRING_SOON_DAYS


def _status(start: dt.date | None, end: dt.date | None, as_of: dt.date) -> str:
    if start is not None and as_of < start:
        return "not_yet"
    if end is not None and as_of > end:
        return "expired"
    return "in_force"


def _catalog(catalog):
    if catalog is not None:
        return catalog
    from tools.catalog import default_catalog

    return default_catalog()


def deadline_zh(doc) -> str:
    """“2024年7月5日17:00” — the deadline as the document states it (with the time of day when given)."""
    return date_zh(doc.deadline) + (doc.deadline_time or "") if doc.deadline else ""


def validity_for(doc_id: str, as_of: dt.date, catalog: "PolicyCatalog | None" = None) -> Validity:
    """Status of document `doc_id` on `as_of`, with a Chinese message quoting only the dates the document states.

    A document that states its validity is in force, expired or not yet in force; one that does not (a call for
    applications) is `unstated` and its application window decides what can be done. A document revised or
    repealed by another one from a date on or before `as_of` is no longer in force from that date."""
    catalog = _catalog(catalog)
    doc = catalog.document(doc_id)
    replaced = catalog.replacement(doc_id, as_of)
    if doc.validity_stated:
        status = _status(doc.effective_from, doc.effective_to, as_of)
    else:
        status = "unstated"
    window_open: bool | None = None
    if doc.deadline is not None:
        opened = doc.window_opens is None or as_of >= doc.window_opens
        window_open = opened and as_of <= doc.deadline
    title = f"《{doc.title}》"
    parts: list[str] = []
    if doc.validity_stated:
        state = {"in_force": "仍在有效期内", "expired": "已失效", "not_yet": "尚未生效"}[status]
        if doc.effective_from and doc.effective_to:
            span = f"有效期{date_zh(doc.effective_from)}至{date_zh(doc.effective_to)}"
        elif doc.effective_from:
            span = f"自{date_zh(doc.effective_from)}起施行（文件未规定有效期截止日）"
        else:
            span = f"有效期至{date_zh(doc.effective_to)}"
        parts.append(f"{title}{span}。" if replaced else f"{title}{span}，截至{date_zh(as_of)}{state}。")
        if not replaced and status == "in_force" and expiring_soon(doc.effective_to, as_of):
            parts.append(f"即将到期（{date_zh(doc.effective_to)}到期），请尽早申报。")
    else:
        parts.append(f"{title}通知未规定有效期。" if doc.deadline else f"{title}文件未规定有效期。")
    if doc.deadline is not None:
        closes = deadline_zh(doc)
        if as_of > doc.deadline:
            state = "申报已截止"
        elif not window_open:
            state = "尚未开始申报"
        else:
            state = "正在申报期内"
        window = f"申报时间{date_zh(doc.window_opens)}起至{closes}" if doc.window_opens else f"申报截止{closes}"
        parts.append(f"{window}，截至{date_zh(as_of)}{state}。")
        if doc.activity_period is not None:
            ap = doc.activity_period
            parts.append(f"（适用期间：{ap.label}，{date_zh(ap.from_)}至{date_zh(ap.to)}。）")
    elif replaced is None and status in ("in_force", "unstated"):
        parts.append("文件未规定统一的申报时间，以主管部门通知为准。")
    if replaced is not None:
        kind, by, rep = replaced
        word = "修订替代" if kind == "supersede" else "废止"
        parts.append(f"该文件已被{catalog.doc_label(by.id)}自{date_zh(rep.from_)}起{word}"
                     f"（原文：“{rep.phrase}”），截至{date_zh(as_of)}不再适用。")
        status = "expired"
        window_open = False if window_open is not None else None
    soon = status == "in_force" and expiring_soon(doc.effective_to, as_of)
    return Validity(document=doc.title, doc_id=doc.id, status=status, effective_from=doc.effective_from,
                    effective_to=doc.effective_to, window_open=window_open, window_closes=doc.deadline,
                    window_closes_time=doc.deadline_time, replaced_by=replaced[1].id if replaced else None,
                    replaced_from=replaced[2].from_ if replaced else None,
                    replaced_kind=replaced[0] if replaced else None,  # type: ignore[arg-type]
                    message="".join(parts), expiring_soon=soon)


def document_overview(as_of: dt.date, catalog: "PolicyCatalog | None" = None) -> list[dict]:
    """One row per document for a 政策库 page: metadata, status on `as_of`, window and program ids."""
    from corpus.models import LEVEL_ZH

    catalog = _catalog(catalog)
    programs = catalog.programs
    rows = []
    for doc in catalog.documents.values():
        v = validity_for(doc.id, as_of, catalog)
        rows.append({
            "id": doc.id,
            "title": doc.title,
            "short_title": doc.short_title,
            "doc_number": doc.doc_number,
            "doc_number_aliases": list(doc.doc_number_aliases),
            "issuer": doc.issuer,
            "region": doc.region,
            "region_path": list(doc.region_path),
            "level": doc.level,
            "level_zh": LEVEL_ZH[doc.level],
            "publish_date": doc.publish_date.isoformat() if doc.publish_date else None,
            "effective_from": doc.effective_from.isoformat() if doc.effective_from else None,
            "effective_to": doc.effective_to.isoformat() if doc.effective_to else None,
            "validity_stated": doc.validity_stated,
            "status": v.status,
            "status_zh": STATUS_ZH[v.status],
            "expiring_soon": v.expiring_soon,
            "window_open": v.window_open,
            "window_closes": v.window_closes.isoformat() if v.window_closes else None,
            "window_closes_time": v.window_closes_time,
            "replaced_by": v.replaced_by,
            "replaced_from": v.replaced_from.isoformat() if v.replaced_from else None,
            "application_channel": doc.application.channel if doc.application else "",
            "message": v.message,
            "contacts": [c.model_dump() for c in doc.contacts],
            "program_ids": [p.id for p in programs if p.doc_id == doc.id],
        })
    return rows
