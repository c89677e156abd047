"""HTML fragments for the Gradio tabs, built from service results as plain dicts (no Gradio here, easy to test)."""
from __future__ import annotations

import csv
import html
import io
from typing import Any, Iterable

from ui.format import (STATUS_ZH, badge_html, citation_line, claimable, closed_note, money_zh, status_kind, status_text,
                       validity_badges, zh_date)

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


def _formula(text: str) -> str:
    return text.removeprefix("计算公式：").strip()


def calculation_html(calc: dict[str, Any]) -> str:
    """The calculator's result card, status first: the document's standing (已失效 / 申报已截止 / 即将到期), then the
    verdict and ceiling (muted “政策已失效（按原规定可获…）” when it can no longer be applied for), steps, what is
    unmet or missing (with the clause's thresholds), assumptions and the clause."""
    validity = calc.get("validity")
    live = claimable(validity)
    head = ""
    if validity:
        head = (f'<div class="pa-status-line">{badge_html(status_text(validity), status_kind(validity))}'
                f'<span class="pa-muted"> {e(validity.get("message") or "")}</span></div>')
    parts = [f'<div class="pa-card pa-calc-result{"" if live else " pa-expired"}">{head}'
             f'<div class="pa-card-head">{verdict_badge(calc.get("eligible"))} <b>{e(calc.get("program", ""))}</b></div>']
    amount = calc.get("amount_yuan")
    kind = calc.get("amount_kind", "award")
    who = f"（受益方：{e(calc['beneficiary'])}）" if calc.get("beneficiary") and calc["beneficiary"] != "企业" else ""
    if amount is not None and calc.get("eligible") is not False and not live:
        word = "最高贴息贷款额度" if kind == "loan" else "可获"
        lead = "申报已截止" if validity and validity.get("window_open") is False else "政策已失效"
        parts.append(f'<div class="pa-amount pa-amount-expired">{e(lead)}（按原规定{word} '
                     f'<span class="pa-amount-old">{e(money_zh(amount))}</span>，现已不能申报）{who}</div>')
    elif amount is not None:
        word = "最高贴息贷款额度" if kind == "loan" else "最高可获得"
        parts.append(f'<div class="pa-amount">{word} <span class="pa-amount-num">{e(money_zh(amount))}</span>{who}</div>')
    elif calc.get("potential_amount_yuan") is not None:
        pot = e(money_zh(calc["potential_amount_yuan"]))
        if live:
            parts.append(f'<div class="pa-amount">补充信息并满足条件后，最高可获得 <span class="pa-amount-num">{pot}</span></div>')
        else:
            lead = "申报已截止" if validity and validity.get("window_open") is False else "政策已失效"
            parts.append(f'<div class="pa-amount pa-amount-expired">{lead}（按原规定补充信息后可获 '
                         f'<span class="pa-amount-old">{pot}</span>，现已不能申报）</div>')
    elif kind == "none":
        parts.append('<div class="pa-amount pa-muted">该文件未规定具体补助金额。</div>')
    if calc.get("formula"):
        parts.append(f'<div class="pa-formula"><b>计算公式：</b>{e(_formula(calc["formula"]))}</div>')
    if calc.get("period") or calc.get("payment_form"):
        parts.append(f'<div class="pa-muted">{e(" · ".join(x for x in (calc.get("period"), calc.get("payment_form")) if x))}</div>')
    steps = calc.get("steps") or []
    if steps:
        rows = "".join(f"<tr><td>{i}</td><td>{e(s)}</td></tr>" for i, s in enumerate(steps, 1))
        parts.append(f'<table class="pa-steps"><thead><tr><th>步骤</th><th>计算过程</th></tr></thead><tbody>{rows}</tbody></table>')
    parts.append(_list("未满足的条件", calc.get("unmet") or [], "pa-unmet"))
    parts.append(_list("还需提供", calc.get("missing_details") or calc.get("missing") or [], "pa-missing"))
    parts.append(_list("假设与说明", [*(calc.get("assumptions") or []), *(calc.get("notes") or [])]))
    parts.append(_list("申报材料", calc.get("materials") or []))
    if calc.get("application"):
        parts.append(f'<div class="pa-list"><b>申报方式</b><div>{e(calc["application"])}</div></div>')
    if calc.get("citations"):
        parts.append('<div class="pa-sub">依据条款</div>' + cite_block(calc["citations"], open_first=True))
    parts.append("</div>")
    return "".join(p for p in parts if p)


# --- eligibility ---------------------------------------------------------------------------------------
ELIG_BADGE = {"eligible": ("符合条件", "ok"), "needs_info": ("需补充信息", "info"), "not_eligible": ("不符合", "bad")}


def _item_live(item: dict[str, Any]) -> bool:
    return item.get("validity_status") in ("", None, "in_force") and item.get("window_open") is not False


def _item_validity_dict(item: dict[str, Any]) -> dict[str, Any]:
    calc_v = (item.get("calculation") or {}).get("validity") or {}
    return {**calc_v, "status": item.get("validity_status") or calc_v.get("status"),
            "window_open": item.get("window_open")}


def _item_amount(item: dict[str, Any]) -> str:
    live = _item_live(item)
    if item.get("amount_yuan") is not None:
        return money_zh(item["amount_yuan"]) if live else f"按原规定可获 {money_zh(item['amount_yuan'])}"
    if item.get("potential_amount_yuan") is not None:
        word = "补充信息后最高 " if live else "按原规定补充信息后 "
        return word + money_zh(item["potential_amount_yuan"])
    if item.get("amount_kind") == "none":
        return "文件未规定金额"
    return "—"


def _item_validity(item: dict[str, Any]) -> str:
    if not item.get("validity_status"):
        return ""
    v = _item_validity_dict(item)
    return badge_html(status_text(v), status_kind(v))


def eligibility_html(report: dict[str, Any]) -> str:
    """Every program, status first: those that can still be applied for, then eligible ones under an expired document
    or closed window (muted, “政策已失效（按原规定可获…）”), then needs-info and not eligible; the total split into
    现行有效 and 已失效."""
    items = list(report.get("items") or [])
    if not items:
        return '<div class="pa-muted">没有可判断的项目。</div>'
    eligible = [i for i in items if i.get("status") == "eligible"]
    ordered = ([i for i in eligible if _item_live(i)] + [i for i in eligible if not _item_live(i)]
               + [i for i in items if i.get("status") != "eligible"])
    rows = []
    for it in ordered:
        live = _item_live(it)
        label, kind = ELIG_BADGE.get(it.get("status"), (it.get("status_zh", ""), "info"))
        if it.get("status") == "eligible" and not live:
            label, kind = ("条件符合 · 已不能申报", "muted")
        why = it.get("reasons") or it.get("ask") or []
        if it.get("status") == "needs_info":
            why = it.get("ask") or why
        amount_cls = "pa-num" + (" pa-strong" if it.get("status") == "eligible" and live else "")
        amount_cls += "" if live else " pa-amount-old"
        row_cls = f"pa-elig-{e(it.get('status', ''))}" + ("" if live else " pa-elig-expired")
        rows.append(
            f"<tr class='{row_cls}'><td>{_item_validity(it)}</td><td>{badge_html(label, kind)}</td>"
            f"<td><b>{e(it.get('program', ''))}</b><div class='pa-muted'>{e(it.get('region', ''))}</div></td>"
            f"<td class='{amount_cls}'>{e(_item_amount(it))}</td><td>{e(it.get('beneficiary', ''))}</td>"
            f"<td>{e('；'.join(why[:3]))}</td></tr>")
    table = ("<table class='pa-elig'><thead><tr><th>效力</th><th>结论</th><th>项目</th><th>最高金额</th><th>受益方</th>"
             "<th>原因 / 需补充</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    totals = _totals_html(report) if eligible else ""
    summary = f'<div class="pa-summary">{e(report.get("summary", ""))}</div>' if report.get("summary") else ""
    notes = [n.get("text", "") if isinstance(n, dict) else str(n) for n in report.get("stacking") or []]
    return totals + summary + table + _list("叠加规则提示", notes, "pa-stacking")


def _totals_html(report: dict[str, Any]) -> str:
    live = int(report.get("total_in_force_yuan") or 0)
    dead = int(report.get("total_expired_yuan") or 0)
    cards = [f'<div class="pa-total pa-total-live"><div class="pa-total-label">现行有效 · 仍可申报</div>'
             f'<div class="pa-amount-num">{e(money_zh(live))}</div></div>']
    if dead:
        cards.append(f'<div class="pa-total pa-total-expired"><div class="pa-total-label">已失效 / 申报已截止 · 按原规定</div>'
                     f'<div class="pa-amount-old">{e(money_zh(dead))}</div><div class="pa-muted">现已不能申报，仅供核对</div></div>')
    return '<div class="pa-totals">' + "".join(cards) + "</div>"


def eligibility_csv(report: dict[str, Any], profile_rows: Iterable[tuple[str, str]] = ()) -> str:
    """The self-check as a spreadsheet: first the as-of date, the profile as entered and the split totals, then one
    row per program (its standing and whether it can still be applied for beside the amount)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["资格自查结果"])
    writer.writerow(["基准日期", str(report.get("as_of", ""))])
    if report.get("profile_name"):
        writer.writerow(["企业名称", report["profile_name"]])
    if report.get("location"):
        writer.writerow(["所在地", report["location"]])
    for label, value in profile_rows:
        writer.writerow([f"企业情况：{label}", value])
    writer.writerow(["现行有效项目合计（元）", report.get("total_in_force_yuan", 0)])
    writer.writerow(["已失效或申报已截止项目按原规定合计（元）", report.get("total_expired_yuan", 0)])
    writer.writerow([])
    writer.writerow(["项目编号", "项目", "地区", "结论", "效力", "当前能否申报", "最高金额（元）", "补充信息后最高（元）",
                     "受益方", "申报期", "原因", "还需提供", "依据条款"])
    for it in report.get("items") or []:
        calc = it.get("calculation") or {}
        window = {True: "申报中", False: "申报已截止", None: ""}[it.get("window_open")]
        writer.writerow([
            it.get("program_id", ""), it.get("program", ""), it.get("region", ""), it.get("status_zh", ""),
            status_text(_item_validity_dict(it)) if it.get("validity_status") else "",
            "可申报" if _item_live(it) else "已不能申报",
            "" if it.get("amount_yuan") is None else it["amount_yuan"],
            "" if it.get("potential_amount_yuan") is None else it["potential_amount_yuan"],
            it.get("beneficiary", ""), window,
            "；".join(it.get("reasons") or []), "；".join(it.get("ask") or []),
            "；".join(citation_line(c) for c in calc.get("citations") or []),
        ])
    for n in report.get("stacking") or []:
        writer.writerow(["", "叠加规则", "", "", "", "", "", "", "", "", n.get("text", "") if isinstance(n, dict) else n,
                         "", n.get("clause_id", "") if isinstance(n, dict) else ""])
    return buf.getvalue()


def eligibility_csv_name(as_of: Any) -> str:
    """资格自查_2026-11-30.csv: the check and its as-of date."""
    return f"资格自查_{as_of}.csv"


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
    return badge_html(status_text(v), status_kind(v))


def validity_cell(doc) -> str:
    """有效期 of a document as it states it, or that it states none (通知未规定有效期 for a call for applications, with
    its application window)."""
    if doc.validity_stated:
        if doc.effective_from and doc.effective_to:
            return f"{zh_date(doc.effective_from)}至{zh_date(doc.effective_to)}"
        if doc.effective_from:
            return f"自{zh_date(doc.effective_from)}起施行（文件未规定有效期截止日）"
        return f"至{zh_date(doc.effective_to)}"
    if doc.deadline:
        return f"通知未规定有效期（申报时间{_window(doc)}）"
    return "文件未规定有效期"


def _window(doc) -> str:
    """The application window in the document's own dates (“2024年6月13日至2024年7月15日 17:00” / “截止…”)."""
    closes = zh_date(doc.deadline) + (f" {doc.deadline_time}" if doc.deadline_time else "")
    return f"{zh_date(doc.window_opens)}至{closes}" if doc.window_opens else f"截止{closes}"


def document_dates(doc) -> list[str]:
    """What an operator reads out about a document's dates: validity (or 通知未规定有效期 for a call for applications),
    the application window and channel, the year it covers and when it was published — only dates the text states."""
    lines = []
    if doc.validity_stated:
        lines.append(f"有效期：{validity_cell(doc)}")
    else:
        lines.append("通知未规定有效期" if doc.deadline else "文件未规定有效期")
    app = doc.application
    if doc.deadline:
        lines.append(f"申报时间：{_window(doc)}" + (f"；渠道：{app.channel}" if app and app.channel else ""))
    else:
        lines.append("本文件未规定集中申报时间。")
    if doc.activity_period is not None:
        ap = doc.activity_period
        lines.append(f"适用年度：{ap.label}（{zh_date(ap.from_)}至{zh_date(ap.to)}）")
    lines.append(f"发布日期：{zh_date(doc.publish_date)}" if doc.publish_date else "发布日期：文件未载明")
    return lines


def document_cards_html(documents: list, overview: list[dict[str, Any]]) -> str:
    """Contact and deadline cards, one per document, status first (已失效 / 申报已截止 / 即将到期), so an operator
    never reads a passed deadline out as open."""
    cards = []
    for doc in documents:
        row = _status_of(overview, doc.id)
        v = (row.get("validity") if row and isinstance(row.get("validity"), dict) else row) or {}
        badge = badge_html(status_text(v), status_kind(v)) if v else ""
        live = claimable(v) if v else True
        warn = "" if live else f'<div class="pa-warn pa-card-warn">{e(closed_note(v))}</div>'
        dates = "".join(f"<div>{e(line)}</div>" for line in document_dates(doc))
        contacts = "".join(
            f"<li>{e(' · '.join(x for x in (c.topic, c.unit, c.name) if x))}"
            f"{('：电话 ' + e(c.phone)) if c.phone else ''}{('；邮箱 ' + e(c.email)) if c.email else ''}</li>"
            for c in doc.contacts)
        contacts_html = f"<ul>{contacts}</ul>" if contacts else f'<div class="pa-muted">文件未列联系人；解释单位：{e(doc.interpreter)}</div>'
        cards.append(
            f'<div class="pa-card pa-doc-card{"" if live else " pa-expired"}"><div class="pa-card-head">{badge} '
            f'<b>{e(doc.short_title)}</b><span class="pa-muted"> {e(doc.doc_number or "无文号")}</span></div>'
            f'{warn}<div class="pa-doc-dates">{dates}</div>'
            f'<div class="pa-sub">联系方式</div>{contacts_html}</div>')
    return '<div class="pa-cards">' + "".join(cards) + "</div>"


# --- library --------------------------------------------------------------------------------------------
def library_html(doc, clauses: list, overview: list[dict[str, Any]]) -> str:
    row = _status_of(overview, doc.id)
    meta = [
        ("标题", doc.title), ("印发通知", doc.notice_title), ("文号", doc.doc_number or "（文件未标注文号）"),
        ("发文/印发单位", doc.issuer), ("解释单位", doc.interpreter), ("地区", " · ".join(doc.region_path)),
        ("层级", doc.level_zh), ("发布日期", zh_date(doc.publish_date) if doc.publish_date else "（文件未载明）"),
        ("有效期", validity_cell(doc)),
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
        f'<code class="pa-muted pa-cid">{e(c.id)}</code></h4><p>{_lines(c.text)}</p></section>'
        for c in clauses)
    return (f'<div class="pa-card"><div class="pa-card-head">{status} <b>{e(doc.title)}</b></div>'
            f'<div class="pa-muted">{e(message)}</div><table class="pa-meta">{rows}</table>{notes}</div>'
            f'<div class="pa-doc-text">{body}</div>')


def overview_table(documents: list, overview: list[dict[str, Any]]) -> str:
    rows = []
    for doc in documents:
        rows.append(f"<tr><td>{status_badges(_status_of(overview, doc.id))}</td><td>{e(doc.title)}</td>"
                    f"<td>{e(doc.doc_number or '—')}</td><td>{e(doc.region)}</td>"
                    f"<td>{e(validity_cell(doc))}</td></tr>")
    return ("<table class='pa-elig'><thead><tr><th>状态</th><th>文件</th><th>文号</th><th>地区</th><th>有效期</th></tr>"
            "</thead><tbody>" + "".join(rows) + "</tbody></table>")


__all__ = ["STATUS_ZH", "calculation_html", "eligibility_html", "eligibility_csv", "search_html", "snippet_text",
           "document_cards_html", "library_html", "overview_table", "cite_block"]
