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

STATUS_ZH = {"in_force": "有效", "expired": "已失效", "not_yet": "尚未生效"}


def _status(start: dt.date, end: dt.date, as_of: dt.date) -> str:
    if as_of < start:
        return "not_yet"
    if as_of > end:
        return "expired"
    return "in_force"


def _catalog(catalog):
    if catalog is not None:
        return catalog
    from tools.catalog import default_catalog

    return default_catalog()


def validity_for(doc_id: str, as_of: dt.date, catalog: "PolicyCatalog | None" = None) -> Validity:
    """Status of document `doc_id` on `as_of`, with a Chinese message quoting the dates."""
    doc = _catalog(catalog).document(doc_id)
    status = _status(doc.effective_from, doc.effective_to, as_of)
    app = doc.application
    window_open: bool | None = None
    window_closes: dt.date | None = None
    if app is not None:
        window_closes = app.closes
        window_open = app.opens <= as_of <= app.closes
        closes = date_zh(app.closes) + (f"{app.closes_time}" if app.closes_time else "")
        if as_of > app.closes:
            state = "申报已截止"
        elif as_of < app.opens:
            state = "尚未开始申报"
        else:
            state = "正在申报期内"
        message = (f"《{doc.title}》申报期{date_zh(app.opens)}至{closes}，"
                   f"截至{date_zh(as_of)}{state}。")
        if app.covers_period is not None:
            cp = app.covers_period
            message += f"（适用期间：{cp.label}，{date_zh(cp.from_)}至{date_zh(cp.to)}。）"
    else:
        state = {"in_force": "仍在有效期内", "expired": "已失效", "not_yet": "尚未生效"}[status]
        message = (f"《{doc.title}》有效期{date_zh(doc.effective_from)}至{date_zh(doc.effective_to)}，"
                   f"截至{date_zh(as_of)}{state}。")
        if status == "in_force":
            message += "文件未规定统一的申报时间，以主管部门通知为准。"
    return Validity(document=doc.title, doc_id=doc.id, status=status, effective_from=doc.effective_from,
                    effective_to=doc.effective_to, window_open=window_open, window_closes=window_closes,
                    message=message)


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
            "publish_date": doc.publish_date.isoformat(),
            "effective_from": doc.effective_from.isoformat(),
            "effective_to": doc.effective_to.isoformat(),
            "status": v.status,
            "status_zh": STATUS_ZH[v.status],
            "window_open": v.window_open,
            "window_closes": v.window_closes.isoformat() if v.window_closes else None,
            "application_channel": doc.application.channel if doc.application else "",
            "message": v.message,
            "contacts": [c.model_dump() for c in doc.contacts],
            "program_ids": [p.id for p in programs if p.doc_id == doc.id],
        })
    return rows
