"""Render contract answers for people: citation lines, calculation tables, validity badges (all Chinese)."""
from __future__ import annotations

import html
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
    """(label, css class) pairs such as ('有效', 'ok'), ('申报已截止', 'closed') for each document."""
    badges: list[tuple[str, str]] = []
    for v in validity:
        status = v.get("status")
        if v.get("replaced_by"):
            badges.append(("已被修订/废止", "bad"))
        elif status == "unstated":
            badges.append((STATUS_ZH[status], "info"))
        else:
            badges.append((STATUS_ZH.get(status, status or ""), "ok" if status == "in_force" else "bad"))
        if v.get("window_open") is False:
            badges.append(("申报已截止", "closed"))
        elif v.get("window_open") is True:
            badges.append(("申报中", "ok"))
    return badges


def badge_html(label: str, kind: str) -> str:
    return f'<span class="pa-badge pa-badge-{kind}">{html.escape(label)}</span>'


def validity_html(validity: list[dict[str, Any]]) -> str:
    rows = []
    for v in validity:
        badges = " ".join(badge_html(label, kind) for label, kind in validity_badges([v]))
        if v.get("effective_from") or v.get("effective_to"):
            period = f"有效期 {v.get('effective_from') or '未规定'} 至 {v.get('effective_to') or '未规定'}"
        else:
            period = "通知未规定有效期" + (f"，申报截止 {v['window_closes']}" if v.get("window_closes") else "")
        rows.append(f'<div class="pa-validity">{badges} <b>{html.escape(v.get("document", ""))}</b>'
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


def answer_markdown(answer: dict[str, Any]) -> str:
    """The full chat bubble for the Gradio app: answer, calculation tables, validity badges, citations."""
    parts = [answer.get("answer", "")]
    for calc in answer.get("calculations") or []:
        if calc.get("steps"):
            parts.append(calculation_markdown(calc))
    if answer.get("validity"):
        parts.append(validity_html(answer["validity"]))
    if answer.get("citations"):
        parts.append("**引用条款**（点击展开原文）\n\n" + citations_html(answer["citations"]))
    return "\n\n".join(p for p in parts if p)
