"""HTML fragments for the Gradio tabs, built from service results as plain dicts (no Gradio here, easy to test)."""
from __future__ import annotations

import csv
import html
import io
from typing import Any, Iterable

from ui.format import STATUS_ZH, badge_html, citation_line, money_zh, validity_badges

e = html.escape


def _lines(text: str) -> str:
    return e(text).replace("\n", "<br>")


def _list(title: str, items: Iterable[str], cls: str = "") -> str:
    items = [i for i in items if i]
    if not items:
        return ""
    lis = "".join(f"<li>{e(str(i))}</li>" for i in items)
    return f'<div class="pa-list {cls}"><b>{e(title)}</b><ul>{lis}</ul></div>'


def cite_block(citations: list[dict[str, Any]], *, open_first: bool = False) -> str:
    out = []
    for i, c in enumerate(citations, 1):
        opened = " open" if open_first and i == 1 else ""
        out.append(f'<details class="pa-cite"{opened}><summary>{e(citation_line(c, i))}</summary>'
                   f'<div class="pa-cite-text">{_lines(c.get("text", ""))}</div></details>')
    return "".join(out)


def verdict_badge(eligible: bool | None) -> str:
    return {True: badge_html("符合条件", "ok"), False: badge_html("不符合", "bad"),
            None: badge_html("需补充信息", "info")}[eligible]


def calculation_html(calc: dict[str, Any]) -> str:
    """The calculator's result card: verdict, ceiling, steps table, unmet/missing/assumptions, validity, clause."""
    parts = [f'<div class="pa-card pa-calc-result"><div class="pa-card-head">{verdict_badge(calc.get("eligible"))} '
             f'<b>{e(calc.get("program", ""))}</b></div>']
    amount = calc.get("amount_yuan")
    kind = calc.get("amount_kind", "award")
    if amount is not None:
        word = "最高贴息贷款额度" if kind == "loan" else "最高可获得"
        who = f"（受益方：{e(calc['beneficiary'])}）" if calc.get("beneficiary") and calc["beneficiary"] != "企业" else ""
        parts.append(f'<div class="pa-amount">{word} <span class="pa-amount-num">{e(money_zh(amount))}</span>{who}</div>')
    elif calc.get("potential_amount_yuan") is not None:
        parts.append(f'<div class="pa-amount">补充信息并满足条件后，最高可获得 '
                     f'<span class="pa-amount-num">{e(money_zh(calc["potential_amount_yuan"]))}</span></div>')
    elif kind == "none":
        parts.append('<div class="pa-amount pa-muted">该文件未规定具体补助金额。</div>')
    if calc.get("formula"):
        parts.append(f'<div class="pa-formula"><b>计算公式：</b>{e(calc["formula"])}</div>')
    if calc.get("period") or calc.get("payment_form"):
        parts.append(f'<div class="pa-muted">{e(" · ".join(x for x in (calc.get("period"), calc.get("payment_form")) if x))}</div>')
    steps = calc.get("steps") or []
    if steps:
        rows = "".join(f"<tr><td>{i}</td><td>{e(s)}</td></tr>" for i, s in enumerate(steps, 1))
        parts.append(f'<table class="pa-steps"><thead><tr><th>步骤</th><th>计算过程</th></tr></thead><tbody>{rows}</tbody></table>')
    parts.append(_list("未满足的条件", calc.get("unmet") or [], "pa-unmet"))
    parts.append(_list("还需提供", calc.get("missing") or [], "pa-missing"))
    parts.append(_list("假设与说明", [*(calc.get("assumptions") or []), *(calc.get("notes") or [])]))
    parts.append(_list("申报材料", calc.get("materials") or []))
    if calc.get("application"):
        parts.append(f'<div class="pa-list"><b>申报方式</b><div>{e(calc["application"])}</div></div>')
    validity = calc.get("validity")
    if validity:
        badges = " ".join(badge_html(label, k) for label, k in validity_badges([validity]))
        msg = validity.get("message") or f"有效期 {validity.get('effective_from')} 至 {validity.get('effective_to')}"
        parts.append(f'<div class="pa-validity">{badges} <span class="pa-muted">{e(msg)}</span></div>')
    if calc.get("citations"):
        parts.append('<div class="pa-sub">依据条款</div>' + cite_block(calc["citations"], open_first=True))
    parts.append("</div>")
    return "".join(p for p in parts if p)


# --- eligibility ---------------------------------------------------------------------------------------
ELIG_BADGE = {"eligible": ("符合条件", "ok"), "needs_info": ("需补充信息", "info"), "not_eligible": ("不符合", "bad")}


def _item_amount(item: dict[str, Any]) -> str:
    if item.get("amount_yuan") is not None:
        return money_zh(item["amount_yuan"])
    if item.get("potential_amount_yuan") is not None:
        return "补充信息后最高 " + money_zh(item["potential_amount_yuan"])
    if item.get("amount_kind") == "none":
        return "文件未规定金额"
    return "—"


def _item_validity(item: dict[str, Any]) -> str:
    status = item.get("validity_status")
    if not status:
        return ""
    return " ".join(badge_html(label, k) for label, k in
                    validity_badges([{"status": status, "window_open": item.get("window_open")}]))


def eligibility_html(report: dict[str, Any]) -> str:
    """Every program as eligible / needs info / not eligible, in the report's order, with stacking notes."""
    items = list(report.get("items") or [])
    if not items:
        return '<div class="pa-muted">没有可判断的项目。</div>'
    rows = []
    for it in items:
        label, kind = ELIG_BADGE.get(it.get("status"), (it.get("status_zh", ""), "info"))
        why = it.get("reasons") or it.get("ask") or []
        if it.get("status") == "needs_info":
            why = it.get("ask") or why
        amount_cls = "pa-num" + (" pa-strong" if it.get("status") == "eligible" else "")
        rows.append(
            f"<tr class='pa-elig-{e(it.get('status', ''))}'><td>{badge_html(label, kind)}</td>"
            f"<td><b>{e(it.get('program', ''))}</b><div class='pa-muted'>{e(it.get('region', ''))}</div></td>"
            f"<td class='{amount_cls}'>{e(_item_amount(it))}</td><td>{e(it.get('beneficiary', ''))}</td>"
            f"<td>{_item_validity(it)}</td><td>{e('；'.join(why[:3]))}</td></tr>")
    table = ("<table class='pa-elig'><thead><tr><th>结论</th><th>项目</th><th>最高金额</th><th>受益方</th><th>效力</th>"
             "<th>原因 / 需补充</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    summary = f'<div class="pa-summary">{e(report.get("summary", ""))}</div>' if report.get("summary") else ""
    notes = [n.get("text", "") if isinstance(n, dict) else str(n) for n in report.get("stacking") or []]
    return summary + table + _list("叠加规则提示", notes, "pa-stacking")


def eligibility_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["项目编号", "项目", "地区", "结论", "最高金额（元）", "补充信息后最高（元）", "受益方", "效力",
                     "申报期", "原因", "还需提供", "依据条款"])
    for it in report.get("items") or []:
        calc = it.get("calculation") or {}
        window = {True: "申报中", False: "申报已截止", None: ""}[it.get("window_open")]
        writer.writerow([
            it.get("program_id", ""), it.get("program", ""), it.get("region", ""), it.get("status_zh", ""),
            "" if it.get("amount_yuan") is None else it["amount_yuan"],
            "" if it.get("potential_amount_yuan") is None else it["potential_amount_yuan"],
            it.get("beneficiary", ""), STATUS_ZH.get(it.get("validity_status", ""), ""), window,
            "；".join(it.get("reasons") or []), "；".join(it.get("ask") or []),
            "；".join(citation_line(c) for c in calc.get("citations") or []),
        ])
    for n in report.get("stacking") or []:
        writer.writerow(["", "叠加规则", "", "", "", "", "", "", "", n.get("text", "") if isinstance(n, dict) else n,
                         "", n.get("clause_id", "") if isinstance(n, dict) else ""])
    return buf.getvalue()


# --- hotline --------------------------------------------------------------------------------------------
def search_html(result: dict[str, Any]) -> str:
    hits = result.get("hits") or []
    if not hits:
        reason = result.get("reason") or "未检索到相关条款。"
        return f'<div class="pa-muted">{e(reason)}</div>'
    out = []
    if result.get("no_relevant"):
        out.append(f'<div class="pa-warn">{e(result.get("reason") or "以下条款相关度较低，仅供参考。")}</div>')
    for i, h in enumerate(hits, 1):
        out.append(f'<div class="pa-card pa-hit"><div class="pa-card-head"><b>{e(citation_line(h, i))}</b></div>'
                   f'<div class="pa-hit-text">{_lines(h.get("text", ""))}</div></div>')
    return "".join(out)


def snippet_text(result: dict[str, Any], *, max_chars: int = 300) -> str:
    """Copy-ready reply for hotline staff: the clause quoted, then the citation line."""
    hits = result.get("hits") or []
    if not hits:
        return ""
    blocks = []
    for h in hits[:3]:
        text = " ".join(h.get("text", "").split())
        if len(text) > max_chars:
            text = text[:max_chars] + "……"
        number = f"（{h['doc_number']}）" if h.get("doc_number") else ""
        blocks.append(f"根据《{h['document']}》{number}{h['clause']}：“{text}”\n出处：{citation_line(h)}")
    return "\n\n".join(blocks)


def _status_of(overview: list[dict[str, Any]], doc_id: str) -> dict[str, Any] | None:
    for row in overview:
        if row.get("doc_id") == doc_id or row.get("id") == doc_id:
            return row
    return None


def status_badges(row: dict[str, Any] | None) -> str:
    if not row:
        return ""
    v = row.get("validity") if isinstance(row.get("validity"), dict) else row
    return " ".join(badge_html(label, k) for label, k in validity_badges([v]))


def validity_span(doc) -> str:
    """The validity a document states, or that it states none (a call for applications)."""
    if not doc.validity_stated:
        return "未规定（申报通知）" if doc.deadline else "文件未规定"
    return f"{doc.effective_from or '（未规定）'} 至 {doc.effective_to or '（未规定）'}"


def _window(doc) -> str:
    closes = f"{doc.deadline}{(' ' + doc.deadline_time) if doc.deadline_time else ''}"
    return f"{doc.window_opens} 至 {closes}" if doc.window_opens else f"截止 {closes}"


def document_cards_html(documents: list, overview: list[dict[str, Any]]) -> str:
    """Contact and deadline cards, one per document."""
    cards = []
    for doc in documents:
        row = _status_of(overview, doc.id)
        app = doc.application
        if doc.deadline:
            deadline = f"申报时间：{_window(doc)}" + (f"；渠道：{app.channel}" if app else "")
        else:
            deadline = "本文件未规定集中申报时间。"
        contacts = "".join(
            f"<li>{e(' · '.join(x for x in (c.topic, c.unit, c.name) if x))}"
            f"{('：☎ ' + e(c.phone)) if c.phone else ''}{(' ✉ ' + e(c.email)) if c.email else ''}</li>"
            for c in doc.contacts)
        contacts_html = f"<ul>{contacts}</ul>" if contacts else f'<div class="pa-muted">文件未列联系人；解释单位：{e(doc.interpreter)}</div>'
        cards.append(
            f'<div class="pa-card pa-doc-card"><div class="pa-card-head">{status_badges(row)} <b>{e(doc.short_title)}</b>'
            f'<span class="pa-muted"> {e(doc.doc_number or "无文号")}</span></div>'
            f'<div>有效期：{e(validity_span(doc))}</div><div>{e(deadline)}</div>'
            f'<div class="pa-sub">联系方式</div>{contacts_html}</div>')
    return '<div class="pa-cards">' + "".join(cards) + "</div>"


# --- library --------------------------------------------------------------------------------------------
def library_html(doc, clauses: list, overview: list[dict[str, Any]]) -> str:
    row = _status_of(overview, doc.id)
    meta = [
        ("标题", doc.title), ("印发通知", doc.notice_title), ("文号", doc.doc_number or "（文件未标注文号）"),
        ("发文/印发单位", doc.issuer), ("解释单位", doc.interpreter), ("地区", " · ".join(doc.region_path)),
        ("层级", doc.level_zh), ("发布日期", str(doc.publish_date) if doc.publish_date else "（文件未载明）"),
        ("有效期", validity_span(doc)),
    ]
    if doc.deadline:
        meta.append(("申报", _window(doc) + (f"，{doc.application.channel}" if doc.application else "")))
    if doc.based_on_titles or doc.based_on:
        meta.append(("依据", "；".join(doc.based_on_titles or doc.based_on)))
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in meta)
    status = status_badges(row)
    message = ""
    if row:
        v = row.get("validity") if isinstance(row.get("validity"), dict) else row
        message = v.get("message", "")
    notes = _list("说明", doc.notes)
    body = "".join(
        f'<section class="pa-clause" id="clause-{e(c.id)}"><h4>{e(c.label_path or "正文")}'
        f'<span class="pa-muted pa-cid">{e(c.id)}</span></h4><p>{_lines(c.text)}</p></section>'
        for c in clauses)
    return (f'<div class="pa-card"><div class="pa-card-head">{status} <b>{e(doc.title)}</b></div>'
            f'<div class="pa-muted">{e(message)}</div><table class="pa-meta">{rows}</table>{notes}</div>'
            f'<div class="pa-doc-text">{body}</div>')


def overview_table(documents: list, overview: list[dict[str, Any]]) -> str:
    rows = []
    for doc in documents:
        rows.append(f"<tr><td>{status_badges(_status_of(overview, doc.id))}</td><td>{e(doc.title)}</td>"
                    f"<td>{e(doc.doc_number or '—')}</td><td>{e(doc.region)}</td>"
                    f"<td>{e(validity_span(doc))}</td></tr>")
    return ("<table class='pa-elig'><thead><tr><th>状态</th><th>文件</th><th>文号</th><th>地区</th><th>有效期</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>")


__all__ = ["STATUS_ZH", "calculation_html", "eligibility_html", "eligibility_csv", "search_html", "snippet_text",
           "document_cards_html", "library_html", "overview_table", "cite_block"]
