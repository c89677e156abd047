"""Render contract answers for people: citation lines, calculation tables, validity badges (all Chinese)."""
from __future__ import annotations

import base64
import datetime as dt
import html
import re
from decimal import Decimal
from typing import Any

STATUS_ZH = {"in_force": "有效", "expired": "已失效", "not_yet": "未生效", "unstated": "未规定有效期"}
ANSWER_STATUS_ZH = {"answered": "已解答", "needs_info": "需补充信息", "not_found": "未找到", "refused": "已拒绝"}


def citation_line(c: dict[str, Any], n: int | None = None) -> str:
    """`[1] 《标题》（文号） 条款` — the line hotline staff paste under an answer."""
    prefix = f"[{n}] " if n is not None else ""
    number = f"（{c['doc_number']}）" if c.get("doc_number") else ""
    return f"{prefix}《{c['document']}》{number} {c['clause']}".rstrip()


def answer_with_citations(answer: dict[str, Any], *, quote_chars: int = 200) -> str:
    """Answer text followed by a numbered 参考条款 list with quoted clause text (for OpenAI-style clients)."""
    parts = [answer.get("answer", "").rstrip()]
    citations = answer.get("citations") or []
    if citations:
        lines = ["", "参考条款："]
        for i, c in enumerate(citations, 1):
            text = c.get("text", "").replace("\n", " ")
            if len(text) > quote_chars:
                text = text[:quote_chars] + "…"
            lines.append(f"{citation_line(c, i)}：“{text}”")
        parts.append("\n".join(lines))
    return "\n".join(parts)


def validity_badges(validity: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(label, css class) pairs such as ('有效', 'ok'), ('即将到期', 'soon'), ('申报已截止', 'closed') per document."""
    badges: list[tuple[str, str]] = []
    for v in validity:
        status = v.get("status")
        if v.get("replaced_by"):
            badges.append(("已被修订/废止", "bad"))
        elif status == "unstated":
            badges.append((STATUS_ZH[status], "info"))
        else:
            badges.append((STATUS_ZH.get(status, status or ""), "ok" if status == "in_force" else "bad"))
        if status == "in_force" and v.get("expiring_soon"):
            badges.append(("即将到期", "soon"))
        if v.get("window_open") is False:
            badges.append(("申报已截止", "closed"))
        elif v.get("window_open") is True:
            badges.append(("申报中", "ok"))
    return badges


def zh_date(value: Any) -> str:
    """2025-12-31 (a date or its ISO text) → 2025年12月31日; anything else as given."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    return "" if value is None else str(value)


def claimable(v: dict[str, Any] | None) -> bool:
    """In force (or a call that states no validity) and no closed window: the document's programs can still be
    applied for (None: nothing known). The same rule as agent.compose.claimable."""
    return v is None or (v.get("status") in ("in_force", "unstated") and v.get("window_open") is not False)


def _closes(v: dict[str, Any]) -> str:
    closes = v.get("window_closes")
    return zh_date(closes) + (v.get("window_closes_time") or "") if closes else ""


def status_text(v: dict[str, Any]) -> str:
    """The short status that leads any amount: 已失效（…到期）/ 申报已截止 / 即将到期 / 有效至… — in the order of
    agent.compose.status_tag, with only the dates the document states."""
    status = v.get("status")
    if v.get("replaced_by"):
        since = f"（{zh_date(v.get('replaced_from'))}起）" if v.get("replaced_from") else ""
        word = "修订替代" if v.get("replaced_kind") == "supersede" else "废止" if v.get("replaced_kind") else "修订或废止"
        return f"已被{word}{since}"
    if status == "expired":
        return f"已失效（{zh_date(v.get('effective_to'))}到期）" if v.get("effective_to") else "已失效"
    if status == "not_yet":
        return f"尚未生效（{zh_date(v.get('effective_from'))}起施行）"
    closes = _closes(v)
    if v.get("window_open") is False and closes:
        return f"申报已截止（{closes}）"
    if v.get("window_open") is False:
        return "申报已截止"
    if v.get("window_open") is True:
        return f"申报中（截止{closes}）" if closes else "申报中"
    if status == "unstated":
        return "通知未规定有效期"
    if not v.get("effective_to"):
        return (f"自{zh_date(v.get('effective_from'))}起施行" if v.get("effective_from")
                else STATUS_ZH.get(status, status or ""))
    if v.get("expiring_soon"):
        return f"即将到期（有效至{zh_date(v.get('effective_to'))}）"
    return f"有效至{zh_date(v.get('effective_to'))}"


def closed_note(v: dict[str, Any]) -> str:
    """Why a document's programs cannot be applied for now (“申报已截止（2024年7月15日），现已不能按该文件申报。”); ""
    while they can. Said on hotline cards so an operator never reads a passed deadline out as open."""
    if claimable(v):
        return ""
    if v.get("replaced_by"):
        return f"该文件{status_text(v)}，现已不再适用。"
    if v.get("status") == "expired":
        end = f"已于{zh_date(v.get('effective_to'))}失效" if v.get("effective_to") else "已失效"
        return f"该文件{end}，其中的项目现已不能申报。"
    if v.get("status") == "not_yet":
        return f"该文件自{zh_date(v.get('effective_from'))}起施行，目前尚未生效。"
    return f"{status_text(v)}，现已不能按该文件申报。"  # 申报已截止（2024年7月15日），…


def status_kind(v: dict[str, Any]) -> str:
    """The badge class of a document's standing: bad (replaced / expired / not yet), closed, soon, info, ok."""
    if v.get("replaced_by") or v.get("status") in ("expired", "not_yet"):
        return "bad"
    if v.get("window_open") is False:
        return "closed"
    if v.get("window_open") is True:
        return "ok"
    if v.get("status") == "unstated":
        return "info"
    return "soon" if v.get("expiring_soon") else "ok"


def badge_html(label: str, kind: str) -> str:
    return f'<span class="pa-badge pa-badge-{kind}">{html.escape(label)}</span>'


def validity_html(validity: list[dict[str, Any]]) -> str:
    """One line per document, status first: [已失效（2025年12月31日到期）] 《标题》."""
    rows = []
    for v in validity:
        if v.get("effective_from") or v.get("effective_to"):
            period = f"有效期 {v.get('effective_from') or '未规定'} 至 {v.get('effective_to') or '未规定'}"
        else:
            period = "通知未规定有效期" + (f"，申报截止 {v['window_closes']}" if v.get("window_closes") else "")
        rows.append(f'<div class="pa-validity">{badge_html(status_text(v), status_kind(v))} '
                    f'<b>{html.escape(v.get("document", ""))}</b>'
                    f'<span class="pa-muted">（{html.escape(period)}）</span></div>')
    return "\n".join(rows)


def money_zh(amount_yuan: int | None) -> str:
    """12345678 → '1234.5678万元（12,345,678元）'; None → '—'."""
    if amount_yuan is None:
        return "—"
    if amount_yuan >= 10_000:
        wan = format(Decimal(amount_yuan) / Decimal(10_000), "f")
        if "." in wan:
            wan = wan.rstrip("0").rstrip(".")
        return f"{wan}万元（{amount_yuan:,}元）"
    return f"{amount_yuan:,}元"


def _cell(text: Any) -> str:
    return str(text).replace("|", "｜").replace("\n", " ")


def calculation_markdown(calc: dict[str, Any]) -> str:
    """A compact block under a chat answer: verdict, ceiling and the worked steps as a small numbered table."""
    verdict = {True: "符合条件", False: "不符合条件", None: "需补充信息"}[calc.get("eligible")]
    head = f"**测算：{_cell(calc.get('program', ''))}**（{verdict}）"
    if calc.get("amount_yuan") is not None:
        word = "最高贴息/额度" if calc.get("amount_kind") == "loan" else "最高可获得"
        head += f"　{word} **{money_zh(calc['amount_yuan'])}**"
    lines = [head]
    steps = calc.get("steps") or []
    if steps:
        lines += ["", "| 步骤 | 计算过程 |", "|:-:|---|"]
        lines += [f"| {i} | {_cell(s)} |" for i, s in enumerate(steps, 1)]
    return "\n".join(lines)


def citations_html(citations: list[dict[str, Any]]) -> str:
    """Numbered, collapsible citations: the summary names title/文号/label, opening it shows the verbatim clause."""
    items = []
    for i, c in enumerate(citations, 1):
        summary = html.escape(citation_line(c, i))
        text = html.escape(c.get("text", "")).replace("\n", "<br>")
        items.append(f'<details class="pa-cite" id="cite-{i}"><summary>{summary}</summary>'
                     f'<div class="pa-cite-text">{text}</div></details>')
    return "\n".join(items)


ORIGIN_ZH = {"question": "", "earlier_turn": "上文", "assumed": "推定", "corrected": "已更正"}


def _missing_facts(answer: dict[str, Any]) -> list[tuple[str, str]]:
    """Facts the calculations still need (name, label), not among those read: shown as 未说明 chips to fill in."""
    read = {f.get("fact") for f in answer.get("facts_read") or []}
    out: list[tuple[str, str]] = []
    for calc in answer.get("calculations") or []:
        for name, label in zip(calc.get("missing_facts") or [], calc.get("missing") or []):
            if name not in read and all(name != n for n, _ in out):
                out.append((name, label))
    return out


def _chip(fact: str, unit: str, origin: str, label: str, shown: str, note: str = "") -> str:
    """One fact chip. Gradio's sanitizer keeps classes but drops data- attributes, so the fact name, unit and origin
    ride in classes (pa-f--name, pa-u--unit, pa-o--origin) and the label and value in child elements."""
    classes = f"pa-fact pa-fact-{origin} pa-f--{fact} pa-u--{unit or 'any'} pa-o--{origin}"
    return (f'<span class="{html.escape(classes)}" role="button" tabindex="0">'
            f'<span class="pa-fact-label">{html.escape(label)}</span> <b class="pa-fact-value">{html.escape(shown)}</b>'
            + (f'<small class="pa-fact-note">{html.escape(note)}</small>' if note else "")
            + '<span class="pa-sr">（点击修改）</span></span>')


def facts_block_html(answer: dict[str, Any]) -> str:
    """“我读到的信息” first in an answer: one chip per fact (label, value as used, the question's words, the year; marked
    上文 / 推定 / 已更正), then 未说明 chips for what the calculation still needs. The page makes the chips of the latest
    answer editable (ui/static/app.js)."""
    facts = answer.get("facts_read") or []
    missing = _missing_facts(answer)
    if not facts and not missing:
        return ""
    chips = []
    for f in facts:
        origin = f.get("origin", "question")
        note = " · ".join(x for x in (f"“{f['source_text']}”" if f.get("source_text") else "",
                                      f"{f['year']}年" if f.get("year") else "", ORIGIN_ZH.get(origin, "")) if x)
        chips.append(_chip(f.get("fact", ""), f.get("unit", ""), origin, f.get("label", ""), f.get("display", ""), note))
    chips += [_chip(name, "", "missing", label, "未说明") for name, label in missing]
    return ('<div class="pa-facts"><span class="pa-facts-title">我读到的信息</span>' + " ".join(chips)
            + '<span class="pa-facts-hint">点击修改或补充，立即重新计算</span></div>')


def answer_markdown(answer: dict[str, Any]) -> str:
    """The full chat bubble for the Gradio app: the facts read first (a misread number shows before any amount), the
    documents' status, then the answer (its worked steps are in the text: shown once), the citations, and the clean
    text the copy button puts on the clipboard."""
    parts = [facts_block_html(answer)]
    if answer.get("validity"):
        parts.append(validity_html(answer["validity"]))
    parts.append(answer.get("answer", ""))
    if answer.get("citations"):
        parts.append("**引用条款**（点击展开原文）\n\n" + citations_html(answer["citations"]))
    parts.append(copy_marker(answer_plain_text(answer)))
    return "\n\n".join(p for p in parts if p)


def plain_markdown(text: str) -> str:
    """Markdown as plain text for WeChat and tickets: no bold marks, headings or quote marks; lists kept."""
    out = []
    for line in str(text or "").splitlines():
        line = re.sub(r"\*\*(.+?)\*\*", r"\1", line)
        line = re.sub(r"^\s*#{1,6}\s+", "", line)
        line = re.sub(r"^(\s*)>\s?", r"\1", line)
        out.append(line.rstrip())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def answer_plain_text(answer: dict[str, Any]) -> str:
    """What hotline staff paste: the facts read, each document's status, the answer as plain text, then the numbered
    citation lines."""
    from agent.facts import facts_block_text

    lines = [f"【{status_text(v)}】《{v.get('document', '')}》" for v in answer.get("validity") or []]
    body = plain_markdown(answer.get("answer", ""))
    parts = [facts_block_text(answer.get("facts_read") or []), "\n".join(lines), body]
    citations = answer.get("citations") or []
    if citations:
        parts.append("参考条款：\n" + "\n".join(citation_line(c, i) for i, c in enumerate(citations, 1)))
    return "\n\n".join(p for p in parts if p)


COPY_MARKER = re.compile(r"<!--pa-copy:([A-Za-z0-9+/=]*)-->")


def copy_marker(text: str) -> str:
    """The clean text, hidden in the message: the page's copy handler puts it on the clipboard instead of the raw
    message (which carries HTML for the collapsible citations). Base64, so no text can close the comment."""
    return f"<!--pa-copy:{base64.b64encode(text.encode('utf-8')).decode('ascii')}-->"


def copied_text(message: str) -> str:
    """What the copy button yields for a message (the same rule as ui/static/app.js; for tests)."""
    m = COPY_MARKER.search(message or "")
    return base64.b64decode(m.group(1)).decode("utf-8") if m else (message or "")
