"""Pull a program's facts out of a Chinese sentence, using the rules' fact vocabulary (cues, choice aliases)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tools.money import find_money, find_percents

NEGATIONS = ("没有", "还没", "尚未", "没", "未", "不是", "不", "无", "非")
QUESTION_AFTER = re.compile(r"^.{0,4}?(吗|么|嘛|\?|？|与否)")
QUESTION_BEFORE = ("需要", "是否", "要不要", "必须", "需不需要", "有没有", "是不是")
THRESHOLD_BEFORE = ("超过", "不低于", "高于", "低于", "门槛", "不少于", "至少", "起步", "不到", "少于", "突破", "首次过",
                    "每满", "满")
THRESHOLD_AFTER = ("以上", "以下", "以内", "门槛", "起")
SPEND_WORDS = ("花了", "花费", "支出", "投入", "采购", "购买", "买了", "付了", "用了", "收入", "营收", "单价", "销售")
BLANK_REGIONS = re.compile(r"厦门市|思明区|泉州市|安徽省|合肥市|福建省(?!国内|省内)")
_COUNT = re.compile(r"(\d+|[一二两三四五六七八九十百]+)\s*(?:家|个|户|名)")
_RANK = re.compile(r"(?:排名?第|第)\s*(\d+|[一二三四五六七八九十])\s*(?:名|位)?|前\s*(\d+|[一二三四五])\s*名")
_PFLOPS = re.compile(r"(\d+(?:\.\d+)?)\s*(?:P(?:Flops|FLOPS|flops)?|p|匹)(?![a-zA-Z])")
_DATE = re.compile(r"(20\d{2})\s*年(?!度)(?:\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*[日号])?)?")
_QUANTITY_UNITS = r"(?:核时|卡时|机时|GPU时|P时|PFlops|pflops|TFlops|小时|张卡|块卡|台|次|人|家|个|名|项|件|套|户)"
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)\s*(万|亿)?\s*(?:核时|卡时|机时|GPU时|P时|小时|PFlops·天|P·天)")
_UNIT_AFTER = re.compile(r"^\s*" + _QUANTITY_UNITS)
# Facts whose name states an absence ("no_…", "not_…"): mentioning the cue means the bad thing happened.
_INVERTED_PREFIXES = ("no_", "not_", "ah_not_")


def _cue_score(fd, before: str, after: str) -> int:
    best = 0
    for cue in fd.cues:
        if cue in before:
            # prefer longer cues that sit closer to the number
            distance = len(before) - before.rfind(cue) - len(cue)
            best = max(best, len(cue) * 10 - distance)
        elif cue in after:
            best = max(best, len(cue) * 10 - 15)
    return best


def _is_threshold(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 4):start]
    after = text[end:end + 3]
    return any(before.endswith(w) for w in THRESHOLD_BEFORE) or any(after.startswith(w) for w in THRESHOLD_AFTER)


def _is_label(text: str, end: int) -> bool:
    """“5000万那档”, “1亿这一档”: a tier's name, not an amount."""
    return bool(re.match(r"^\s*(?:那|这|的|两|三|几|各)?(?:一)?档", text[end:end + 4]))


def _assign(spans, facts, text, value_of) -> dict[str, Any]:
    """Greedy best-cue assignment of number spans to facts; one leftover span fills one leftover fact.

    Threshold mentions (“超过30万”) and tier labels (“5000万那档”) are not values; they do not cut the context
    window either, so “去年营收首次超过1亿（1.2亿）” gives 1.2亿 the cue 去年营收."""
    out: dict[str, Any] = {}
    scored = []
    window_start = 0
    skipped: set[int] = set()
    for idx, span in enumerate(spans):
        if _is_threshold(text, span.start, span.end) or _is_label(text, span.end):
            skipped.add(idx)
            # a threshold is itself the value of a fact whose cue names it (“首次超过1亿” → the tier crossed)
            head = text[:span.start].rstrip()
            for fd in facts:
                if any(head.endswith(cue) for cue in fd.cues if len(cue) >= 3):
                    scored.append((1000 + idx, idx, fd.name))  # the latest crossing is the current one
            continue
        before = text[max(window_start, span.start - 20):span.start]
        next_start = spans[idx + 1].start if idx + 1 < len(spans) else len(text)
        after = re.split(r"[,，。；;！？!?]", text[span.end:min(next_start, span.end + 10)])[0]
        window_start = span.end
        for fd in facts:
            score = _cue_score(fd, before, after)
            if score > 0:
                scored.append((score, idx, fd.name))
    used_spans: set[int] = set()
    for score, idx, name in sorted(scored, key=lambda t: (-t[0], t[1])):
        if idx in used_spans or name in out:
            continue
        out[name] = value_of(spans[idx])
        used_spans.add(idx)
    free_spans = [i for i in range(len(spans)) if i not in used_spans and i not in skipped]
    free_facts = [fd for fd in facts if fd.name not in out and not fd.derived]
    if len(free_facts) == 1 and free_spans:
        out[free_facts[0].name] = value_of(spans[free_spans[0]])
    return out


def _bool_value(text: str, fd) -> bool | None:
    value = _bool_mention(text, fd)
    if value is not None and fd.name.startswith(_INVERTED_PREFIXES):
        return not value
    return value


def _bool_mention(text: str, fd) -> bool | None:
    for cue in sorted(fd.cues, key=len, reverse=True):
        pos = text.find(cue)
        if pos < 0:
            continue
        before = text[max(0, pos - 4):pos]
        after = text[pos + len(cue):]
        if QUESTION_AFTER.match(after) or any(before.endswith(q) for q in QUESTION_BEFORE):
            return None
        if any(before.endswith(n) or before[-3:].find(n) >= 0 for n in NEGATIONS):
            return False
        return True
    return None


def _choice_value(text: str, fd) -> Any:
    scan = BLANK_REGIONS.sub("#", text)
    hits: list[tuple[int, str]] = []
    for choice in fd.choices:
        for alias in [choice.label, *choice.aliases]:
            if len(alias) >= 2 and alias in scan:
                hits.append((len(alias), choice.key))
    if not hits:
        return None
    if fd.multiple:
        keys: list[str] = []
        for _, key in sorted(hits, reverse=True):
            if key not in keys:
                keys.append(key)
        return keys
    return max(hits)[1]


def _to_int(token: str) -> int | None:
    from tools.money import parse_count

    try:
        return int(parse_count(token))
    except Exception:
        return None


def extract(text: str, fact_defs: list) -> dict[str, Any]:
    """Facts stated in `text` for the given fact definitions; values are typed (int yuan, '30%', keys, bools, dates)."""
    found: dict[str, Any] = {}
    money_facts = [fd for fd in fact_defs if fd.unit == "yuan"]
    if money_facts:
        spans = [m for m in find_money(text) if not _UNIT_AFTER.match(text[m.end:])]
        found.update(_assign(spans, money_facts, text, lambda m: m.value_yuan))
        for fd in money_facts:
            # “以前没拿过规模奖励”: an amount stated as none is 0
            if fd.name not in found and not fd.derived and _bool_mention(text, fd) is False:
                found[fd.name] = 0
    percent_facts = [fd for fd in fact_defs if fd.unit == "percent"]
    if percent_facts:
        found.update(_assign(find_percents(text), percent_facts, text, lambda m: f"{m.value}%"))
    for fd in fact_defs:
        if fd.name in found or (fd.derived and fd.unit != "bool"):
            continue  # derived quantities come from their inputs, not from the text
        if fd.unit == "choice":
            value = _choice_value(text, fd)
        elif fd.unit == "bool":
            value = _bool_value(text, fd)
        elif fd.unit == "count":
            value = _count_value(text, fd)
        elif fd.unit == "pflops":
            m = _PFLOPS.search(text)
            value = f"{m.group(1)}P" if m else None
        elif fd.unit == "date":
            value = _date_value(text, fd)
        elif fd.unit == "quantity":
            value = _quantity_value(text, fd)
        else:
            value = None
        if value is not None:
            found[fd.name] = value
    return found


def _count_value(text: str, fd) -> int | None:
    if "rank" in fd.name:
        m = _RANK.search(text)
        return _to_int(m.group(1) or m.group(2)) if m else None
    matches = list(_COUNT.finditer(text))
    if not matches:
        return None
    if len(matches) == 1 or not fd.cues:
        return _to_int(matches[0].group(1))
    for m in matches:
        window = text[max(0, m.start() - 15):m.end() + 6]
        if any(c in window for c in fd.cues) or any(w in window for w in ("企业", "客户", "家")):
            return _to_int(m.group(1))
    return _to_int(matches[0].group(1))


def _date_value(text: str, fd) -> dt.date | None:
    m = _DATE.search(text)
    if not m:
        return None
    try:
        # a bare year (“2024年首次完成备案”) reads as 1 January: the policies' date bounds are all 1 January
        return dt.date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        return None


def _quantity_value(text: str, fd) -> str | None:
    """Compute volumes such as 100万核时: assigned by cue, or by 被/接入 (provided) versus 使用 (used)."""
    from decimal import Decimal

    for m in _QUANTITY.finditer(text):
        before = text[max(0, m.start() - 12):m.start()]
        provided = any(w in before for w in ("被", "接入", "提供给", "别人用"))
        is_provided_fact = "provided" in fd.name or "被使用" in fd.label
        if any(c in before for c in fd.cues) or provided == is_provided_fact:
            value = Decimal(m.group(1)) * {"万": 10**4, "亿": 10**8}.get(m.group(2) or "", 1)
            return str(value.normalize() if value != value.to_integral() else int(value))
    return None
