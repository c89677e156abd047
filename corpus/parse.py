"""Structural parse of a cleaned policy text into clauses with stable ids and label paths as written."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from corpus.models import Clause, ParseStyle

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def cn_ordinal(s: str) -> int:
    """'三' -> 3, '十一' -> 11, '二十' -> 20; ASCII digits pass through."""
    if s.isdigit():
        return int(s)
    if len(s) == 1:
        return _CN_DIGITS[s]
    if s[0] == "十":
        return 10 + _CN_DIGITS[s[1]]
    if s[-1] == "十":
        return _CN_DIGITS[s[0]] * 10
    return _CN_DIGITS[s[0]] * 10 + _CN_DIGITS[s[2]]


_L1 = re.compile(r"^(?:(?P<cn>[一二三四五六七八九十]+)、|(?P<ar>[1-9])、|第(?P<art>[一二三四五六七八九十]+)条)\s*(?P<rest>.*)$")
_L2 = re.compile(r"^（(?P<num>[一二三四五六七八九十]+|[1-9])）(?P<rest>.*)$")
_NOTES = re.compile(r"^有关说明[:：]?$")
_ATTACHMENT = re.compile(r"^附件(?P<num>\d*)$")
_ATTACHMENT_LIST = re.compile(r"^附件[:：]")
_CONTACTS = re.compile(r"^联系人[:：]")


MAX_TITLE = 25


def _title(rest: str, delims: str) -> str:
    """The heading title written after an enumerator, or '' when the line is a numbered paragraph."""
    rest = rest.strip()
    if not rest:
        return ""
    for i, ch in enumerate(rest):
        if ch in delims:
            return rest[:i] if 0 < i <= MAX_TITLE else ""
    if len(rest) <= MAX_TITLE and not re.search(r"[。；;，,]", rest):
        return rest
    return ""


@dataclass
class _Open:
    id: str
    labels: list[str]
    kind: str
    lines: list[str] = field(default_factory=list)


def parse_document(doc_id: str, text: str, style: ParseStyle | None = None) -> list[Clause]:
    style = style or ParseStyle()
    lines = [ln for ln in text.split("\n") if ln.strip()]
    clauses: list[Clause] = []
    current: _Open | None = None
    l1_label: str | None = None
    l1_key: str | None = None
    attachment_count = 0
    notice_done = style.notice_ends_before is None

    def close() -> None:
        nonlocal current
        if current is not None and current.lines:
            clauses.append(
                Clause(
                    id=current.id,
                    doc_id=doc_id,
                    order=len(clauses),
                    labels=current.labels,
                    kind=current.kind,  # type: ignore[arg-type]
                    text="\n".join(current.lines),
                )
            )
        current = None

    def start(cid: str, labels: list[str], kind: str, first: str | None) -> None:
        nonlocal current
        close()
        current = _Open(cid, labels, kind, [first] if first else [])

    start(f"{doc_id}:notice" if not notice_done else f"{doc_id}:preamble",
          ["印发通知"] if not notice_done else ["序言"], "preamble", None)
    i = 0
    while i < len(lines):
        line = lines[i]
        in_attachment = current is not None and current.kind == "attachment"
        if not notice_done and line == style.notice_ends_before:
            notice_done = True
            start(f"{doc_id}:preamble", ["序言"], "preamble", line)
        elif m := _ATTACHMENT.match(line):
            attachment_count += 1
            num = m.group("num") or str(attachment_count)
            title = lines[i + 1] if i + 1 < len(lines) else ""
            start(f"{doc_id}:att{num}", [f"{line} {title}".strip()], "attachment", line)
            if title:
                current.lines.append(title)  # type: ignore[union-attr]
                i += 1
        elif in_attachment:
            current.lines.append(line)  # type: ignore[union-attr]
        elif _ATTACHMENT_LIST.match(line):
            start(f"{doc_id}:attachments", ["附件"], "attachment_list", line)
        elif any(line.startswith(s) for s in style.closing_starts):
            start(f"{doc_id}:closing", ["附则"], "closing", line)
        elif _CONTACTS.match(line) and (current is None or current.kind != "closing"):
            start(f"{doc_id}:contacts", ["联系人"], "contacts", line)
        elif _NOTES.match(line):
            l1_label, l1_key = line.rstrip(":："), "notes"
            start(f"{doc_id}:notes", [l1_label], "body", None)
        elif m := _L1.match(line):
            rest = m.group("rest")
            if m.group("art"):
                l1_key = f"art{cn_ordinal(m.group('art'))}"
                l1_label = line
                start(f"{doc_id}:{l1_key}", [l1_label], "body", line)
            else:
                num = m.group("cn") or m.group("ar")
                l1_key = str(cn_ordinal(num))
                title = _title(rest, style.title_delims)
                l1_label = f"{num}、{title}"
                start(f"{doc_id}:{l1_key}", [l1_label], "body", None if title == rest.strip() else line)
        elif (m := _L2.match(line)) and l1_label is not None:
            title = _title(m.group("rest"), style.title_delims)
            label = f"（{m.group('num')}）{title}"
            start(f"{doc_id}:{l1_key}.{cn_ordinal(m.group('num'))}", [l1_label, label], "body", line)
        else:
            assert current is not None
            current.lines.append(line)
        i += 1
    close()
    return clauses
