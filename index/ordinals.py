""""第三条", "（八）", "第四部分": numbered references in a question, matched against clause label numbers."""
from __future__ import annotations

import re

_CN = "零一二三四五六七八九十"
_QUERY_REF = re.compile(
    rf"第\s*([{_CN}\d]{{1,3}})\s*(?:条|项|点|部分|章|款|个)|[（(]\s*([{_CN}]{{1,3}}|\d{{1,2}})\s*[)）]"
    rf"|附件\s*([{_CN}\d]{{1,2}})"
)
_LABEL_NUM = re.compile(rf"^(?:第([{_CN}\d]{{1,3}})条|([{_CN}\d]{{1,3}})、|[（(]([{_CN}\d]{{1,3}})[)）]|附件(\d{{1,2}}))")
Ordinal = tuple[str, int]  # ("num", 3) for 第三条/（三）/三、; ("att", 2) for 附件2


def to_int(s: str) -> int | None:
    """'三' → 3, '十一' → 11, '二十' → 20, '7' → 7."""
    if s.isdigit():
        return int(s)
    digits = {c: i for i, c in enumerate(_CN)}
    if not s or any(c not in digits for c in s):
        return None
    if "十" not in s:
        return digits[s] if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)


def query_ordinals(query: str) -> list[Ordinal]:
    """Clause numbers the question refers to ("思明区第三条" → [("num", 3)], "附件2" → [("att", 2)])."""
    out: list[Ordinal] = []
    for m in _QUERY_REF.finditer(query):
        kind = "att" if m.group(3) else "num"
        n = to_int(m.group(1) or m.group(2) or m.group(3))
        if n and (kind, n) not in out:
            out.append((kind, n))
    return out


def label_ordinals(label_path: str) -> tuple[Ordinal | None, ...]:
    """The number of each label in a path ("一、强化算力供给 > （三）推广普惠算力服务" → (("num", 1), ("num", 3)))."""
    out: list[Ordinal | None] = []
    for label in label_path.split(" > ") if label_path else []:
        m = _LABEL_NUM.match(label.strip())
        if not m:
            out.append(None)
            continue
        n = to_int(next(g for g in m.groups() if g))
        out.append(("att" if m.group(4) else "num", n) if n else None)
    return tuple(out)
