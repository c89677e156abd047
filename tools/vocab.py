"""The fact vocabulary (corpus/rules/facts.yaml): fact and condition shapes, typed fact values, the fact table.

A fact is one thing an enterprise can tell us (年度购买算力服务总额, 是否独立法人…). Its definition carries how users
write about it (cues, negative cues, the year it belongs to) and how its value is typed (unit). `parse_fact` turns what
a user, a form or the agent typed into that type; `FactTable` holds one program's parsed facts, fills derived facts
and records what is missing; `eval_condition` checks one requirement against it.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict

from tools.dated import Dated
from tools.errors import InvalidFactError, MoneyParseError
from tools.money import (format_number, format_percent, format_yuan, parse_count, parse_money, parse_number,
                         parse_percent, parse_pflops, parse_rate)

Unit = Literal["yuan", "percent", "count", "pflops", "quantity", "bool", "choice", "date", "text"]
Op = Literal["ge", "gt", "le", "lt", "eq", "true", "false", "in"]
OP_ZH = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "=", "true": "是", "false": "否", "in": "属于"}

# Only clear words count as yes or no; anything else ("不知道", "也许", "是不是我也不知道") is unknown.
YES_WORDS = frozenset({"是", "是的", "对", "对的", "有", "有的", "已", "已经", "符合", "满足", "具备", "yes", "y", "true",
                       "1", "√", "✓", "t", "确定", "肯定", "已上架", "已完成", "已签", "已签署"})
NO_WORDS = frozenset({"否", "不是", "不", "没有", "没", "无", "未", "不符合", "不满足", "不具备", "no", "n", "false", "0",
                      "×", "f", "还没有", "尚未", "没上架", "未上架", "不属于"})
# Allowed slack when a user gives both a growth rate and the two amounts it derives from (rounded rates).
GROWTH_TOLERANCE_POINTS = Fraction(1)  # “增长了31%左右” for 31.58%


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # schemas build on first validation


class Choice(Strict):
    key: str
    label: str
    aliases: list[str] = []


class Derivation(Strict):
    """A fact computed from two others when not given directly."""

    kind: Literal["growth_percent", "difference", "at_least"]  # at_least: bool fact = current ≥ previous
    current: str
    previous: str


class FactDef(Strict):
    """One fact of the shared vocabulary and how questions speak of it.

    cues: words that name the fact next to its value. negative_cues: words that state it false (个体户 → not a legal
    person). series/offset: facts that are the same quantity in consecutive years (this year's and last year's
    研发费用); figures labelled by year are bound by their year, the later one to offset 0. aggregate "sum": several
    figures of one year add up (上半年…下半年…; 市级 + 县区). history: a figure already received (never this year's).
    """

    name: str
    label: str
    unit: Unit
    cues: list[str] = []
    negative_cues: list[str] = []
    choices: list[Choice] = []
    multiple: bool = False
    min: Any = None
    max: Any = None
    derived: Derivation | None = None
    profile_key: str | None = None
    description: str = ""
    series: str | None = None
    offset: int = 0
    aggregate: Literal["none", "sum"] = "none"
    history: bool = False
    presumed: bool = False  # every applicant is presumed to meet it unless they say otherwise (stated as an assumption)
    inverted: bool = False  # the cues name the bad thing (安全生产事故): mentioning it without a negation means false
    threshold: bool = False  # stated as a bound crossed (“首次超过1亿”), never as a plain figure
    ordinal: bool = False  # a position (第3名, 排第二), read from ranks only, never from counts
    # what the figure is about, when facts of several programs share their cues (市里补了… for 智算中心 or for 招引项目):
    # the fact whose topic word stands nearest before the figure in its sentence takes it
    topics: list[str] = []
    # the same quantity under another document's wording (算力总支出 ↔ 年度购买算力服务总额): a figure stated for one
    # is carried to the other when a follow-up moves to the other document's program (“同样金额在安徽呢”)
    same_as: str | None = None
    # phrases that state a value without a figure (“单独报，不拉医院一起” → 联合体成员 1 家)
    value_phrases: dict[str, Any] = {}
    # phrases that state the value whatever figure is given beside them (“服务了6家企业，不过都是关联企业” → 0 家非关联企业)
    overriding_phrases: dict[str, Any] = {}

    def choice(self, key: str) -> Choice:
        for c in self.choices:
            if c.key == key:
                return c
        raise KeyError(key)


class When(Strict):
    fact: str
    op: Op
    value: Any = None


def _history_or_value(v: Any) -> Any:
    """A threshold written as a history (a list of {value, from, …} entries) becomes `DatedValue`s; any other
    value (a number, a date, a list of choice keys) is kept as it is."""
    from tools.dated import DatedValue

    if isinstance(v, list) and v and all(isinstance(x, dict) and "value" in x for x in v):
        return [DatedValue[Any].model_validate(x) for x in v]
    return v


class Condition(Strict):
    """One requirement; `phrase` is the exact clause wording it comes from (以上 → ge, 超过 → gt). `value` and
    `description` may be histories when the threshold changes on a date (tools/dated.py)."""

    fact: str
    op: Op
    value: Annotated[Any, BeforeValidator(_history_or_value)] = None
    ref_fact: str | None = None
    description: Dated[str]
    phrase: str
    clause_id: str | None = None
    when: When | None = None


class Rate(Strict):
    """A rate as written ('50%', '0.6%', '1/3'); `.fraction` is exact."""

    written: str

    @property
    def fraction(self) -> Fraction:
        return parse_rate(self.written)

    @property
    def text(self) -> str:
        return self.written if "/" in self.written else format_percent(parse_percent(self.written))


def _rate(v: Any) -> Any:
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return {"written": str(v)}
    return v


# A rate field: YAML may write it bare ("50%", "1/3"); stored as Rate(written=...).
RateField = Annotated[Rate, BeforeValidator(_rate)]


# --- typed values ---------------------------------------------------------------------------------------
class StatedDate(dt.date):
    """A date the user gave only to the month or the year (“2024年8月”): compared as its first day, but always shown
    as it was stated, never with a day the user did not say."""

    precision: str = "day"

    @classmethod
    def of(cls, value: dt.date, precision: str) -> "StatedDate":
        d = cls(value.year, value.month if precision != "year" else 1, value.day if precision == "day" else 1)
        d.precision = precision
        return d


def date_zh(d: dt.date) -> str:
    precision = getattr(d, "precision", "day")
    if precision == "year":
        return f"{d.year}年"
    if precision == "month":
        return f"{d.year}年{d.month}月"
    return f"{d.year}年{d.month}月{d.day}日"


def parse_bool(value: Any) -> bool | None:
    """True / False for clear yes/no words; None (unknown) for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower().rstrip("。.!！")
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    return None


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _stands_alone(low: str, start: int, end: int) -> bool:
    """A Latin alias (IT, other) is a word of its own, not letters inside a longer one (InfinITy, anOTHER); Chinese
    text has no spaces, so only the Latin edges of a match are checked."""
    return not ((_latin(low[start]) and start > 0 and _latin(low[start - 1]))
                or (_latin(low[end - 1]) and end < len(low) and _latin(low[end])))


def _choice_spans(text: str, fd: FactDef) -> list[str]:
    """Choice keys named in free text: longest non-overlapping alias matches, in order of appearance."""
    hits = []
    low = text.lower()
    for choice in fd.choices:
        for alias in {choice.key, choice.label, *choice.aliases}:
            a = alias.lower()
            start = low.find(a)
            while a and start >= 0:
                if _stands_alone(low, start, start + len(a)):
                    hits.append((start, start + len(a), choice.key))
                start = low.find(a, start + 1)
    hits.sort(key=lambda h: (-(h[1] - h[0]), h[0]))
    taken: list[tuple[int, int, str]] = []
    for h in hits:
        if all(h[1] <= t[0] or h[0] >= t[1] for t in taken):
            taken.append(h)
    keys: list[str] = []
    for _, _, key in sorted(taken):
        if key not in keys:
            keys.append(key)
    return keys


def _parse_choice(value: Any, fd: FactDef) -> str | tuple[str, ...]:
    items = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    keys: list[str] = []
    for item in items:
        text = str(item).strip()
        exact = [c.key for c in fd.choices
                 if text.lower() in {c.key.lower(), c.label.lower(), *(a.lower() for a in c.aliases)}]
        found = exact or _choice_spans(text, fd)
        if not found:
            options = "、".join(c.label for c in fd.choices)
            raise InvalidFactError(f"“{fd.label}”无法识别“{item}”，可选：{options}。")
        if not fd.multiple and len(found) > 1:
            labels = "、".join(fd.choice(k).label for k in found)
            raise InvalidFactError(f"“{fd.label}”只能选一项，但“{item}”同时提到了{labels}。")
        for k in found:
            if k not in keys:
                keys.append(k)
    if not keys:
        raise InvalidFactError(f"“{fd.label}”不能为空。")
    if fd.multiple:
        order = [c.key for c in fd.choices]
        return tuple(sorted(keys, key=order.index))
    if len(keys) > 1:
        raise InvalidFactError(f"“{fd.label}”只能选一项。")
    return keys[0]


def _parse_date(value: Any, fd: FactDef) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?", text)
    if not m:
        raise InvalidFactError(f"“{fd.label}”请填写完整日期（如2024-03-01或2024年3月1日），无法识别“{value}”。")
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise InvalidFactError(f"“{fd.label}”不是有效日期：“{value}”。") from None


def _as_fraction(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    return Fraction(Decimal(value)) if isinstance(value, Decimal) else Fraction(value)


def parse_fact(fd: FactDef, value: Any) -> Any:
    """One raw fact value (as typed by a user, a form or the agent) → its typed value; None when the answer is
    'unknown' (yes/no facts only); raises InvalidFactError for a value that cannot be read."""
    if isinstance(value, str) and fd.unit != "text":
        value = value.strip()
    try:
        if fd.unit == "bool":
            return parse_bool(value)
        if fd.unit == "choice":
            return _parse_choice(value, fd)
        if fd.unit == "date":
            return _parse_date(value, fd)
        if fd.unit == "text":
            return str(value)
        if fd.unit == "yuan":
            parsed = _as_fraction(parse_money(value))
        elif fd.unit == "percent":
            if isinstance(value, bool):
                raise MoneyParseError("百分比不能是是/否。")
            parsed = _as_fraction(parse_percent(value))
        elif fd.unit == "count":
            parsed = Fraction(parse_count(value))
        elif fd.unit == "pflops":
            parsed = _as_fraction(parse_pflops(value))
        else:  # quantity
            if isinstance(value, str):
                # a unit word may follow the number (“120P”, “30台”); anything else after it (“500%”,
                # “100P; DROP TABLE”) is not a quantity and is refused below
                number = re.sub(r"\s*(?:(?![零〇一二两三四五六七八九十百千万亿点])[A-Za-z\u4e00-\u9fff])+$", "", value)
                try:
                    parsed = _as_fraction(parse_number(number))
                except MoneyParseError:
                    raise MoneyParseError(f"无法识别数字：“{value}”。") from None
            else:
                parsed = _as_fraction(parse_number(value))
    except MoneyParseError as exc:
        typed = "" if str(value) in exc.message_zh else f"（您填写的是“{value}”）"
        raise InvalidFactError(f"“{fd.label}”的取值有误：{exc.message_zh}{typed}") from None
    if fd.min is not None and parsed < Fraction(Decimal(str(fd.min))):
        raise InvalidFactError(f"“{fd.label}”不能小于{fd.min}：您填写的是“{value}”。")
    if fd.max is not None and parsed > Fraction(Decimal(str(fd.max))):
        raise InvalidFactError(f"“{fd.label}”不能大于{fd.max}：您填写的是“{value}”。")
    return parsed


def show_percent(value: Fraction) -> str:
    dec = Decimal(value.numerator) / Decimal(value.denominator)
    if dec == dec.quantize(Decimal("0.01")):
        return format_percent(dec)
    return f"约{format_percent(dec.quantize(Decimal('0.01')))}"


def show(fd: FactDef, value: Any) -> str:
    """A typed fact value as Chinese text."""
    if value is None:
        return "未知"
    if fd.unit == "yuan":
        return format_yuan(value)
    if fd.unit == "percent":
        return show_percent(value)
    if fd.unit == "count":
        return f"{value}"
    if fd.unit == "pflops":
        return f"{format_number(value)}P"
    if fd.unit == "quantity":
        return format_number(value)
    if fd.unit == "bool":
        return "是" if value else "否"
    if fd.unit == "choice":
        keys = value if isinstance(value, tuple) else (value,)
        return "、".join(fd.choice(k).label for k in keys)
    if fd.unit == "date":
        return date_zh(value)
    return str(value)


# --- the fact table -----------------------------------------------------------------------------------------
@dataclass
class FactTable:
    """Parsed facts for one program, with derived facts filled in and missing ones recorded in ask order."""

    vocab: Mapping[str, FactDef]
    values: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)  # facts the user said they do not know

    def label(self, name: str) -> str:
        return self.vocab[name].label

    def get(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        fd = self.vocab[name]
        if fd.derived:
            for dep in (fd.derived.current, fd.derived.previous):
                if dep not in self.values:
                    self._miss(dep)
            return None
        self._miss(name)
        return None

    def _miss(self, name: str) -> None:
        if name not in self.missing:
            self.missing.append(name)

    def show(self, name: str) -> str:
        return show(self.vocab[name], self.values.get(name))


def derive(vocab: Mapping[str, FactDef], values: dict[str, Any], notes: list[str]) -> None:
    """Fill derived facts (growth rates, differences, comparisons) from their inputs; check stated ones agree."""
    for name, fd in vocab.items():
        d = fd.derived
        if not d or d.current not in values or d.previous not in values:
            continue
        cur, prev = values[d.current], values[d.previous]
        if d.kind == "at_least":
            computed_flag = cur >= prev
            if name in values and values[name] != computed_flag:
                raise InvalidFactError(
                    f"“{fd.label}”与填写的数值不一致：{vocab[d.current].label}{show(vocab[d.current], cur)}，"
                    f"{vocab[d.previous].label}{show(vocab[d.previous], prev)}。请核对。")
            values[name] = computed_flag
            continue
        if d.kind == "difference":
            computed = cur - prev
            tolerance = Fraction(0)
        else:
            if prev == 0:
                notes.append(f"{vocab[d.previous].label}为0，无法计算“{fd.label}”。")
                continue
            computed = (cur - prev) / prev * 100
            tolerance = GROWTH_TOLERANCE_POINTS
        if name in values and abs(values[name] - computed) > tolerance:
            raise InvalidFactError(
                f"“{fd.label}”与两个年度的金额不一致：按{vocab[d.current].label}{show(vocab[d.current], cur)}和"
                f"{vocab[d.previous].label}{show(vocab[d.previous], prev)}计算应为{show(fd, computed)}，"
                f"您填写的是{show(fd, values[name])}。请核对。")
        values[name] = computed


def usable_facts(vocab: Mapping[str, FactDef], names: list[str]) -> set[str]:
    """`names` plus the derived facts computable from them."""
    return set(names) | {n for n, fd in vocab.items()
                         if fd.derived and {fd.derived.current, fd.derived.previous} <= set(names)}


def parse_facts(vocab: Mapping[str, FactDef], names: list[str], facts: Mapping[str, Any]) -> FactTable:
    """Parse the facts in `names` (and their derived facts); unknown keys are ignored, blanks count as missing,
    'unknown' answers are recorded as unknown."""
    usable = usable_facts(vocab, names)
    values: dict[str, Any] = {}
    unknown: set[str] = set()
    for name, raw in facts.items():
        if name not in vocab or name not in usable:
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
            continue
        value = parse_fact(vocab[name], raw)
        if value is None:
            unknown.add(name)
            continue
        values[name] = value
    notes: list[str] = []
    derive(vocab, values, notes)
    return FactTable(vocab=vocab, values=values, notes=notes, unknown=unknown)


# --- conditions -----------------------------------------------------------------------------------------------
def threshold(fd: FactDef, value: Any) -> Any:
    """A rules-file bound in the fact's typed form (yuan/count are ints in YAML; percents may be strings)."""
    if fd.unit in ("date", "choice"):
        return value
    if fd.unit in ("yuan", "count"):
        return Fraction(value)
    return Fraction(Decimal(str(value)))


def compare(op: str, left: Any, right: Any) -> bool:
    return {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right, "eq": left == right}[op]


def eval_condition(cond: Condition | When, facts: FactTable) -> bool | None:
    """True/False, or None when a fact is unknown (recorded as missing)."""
    fd = facts.vocab[cond.fact]
    value = facts.get(cond.fact)
    if cond.op in ("true", "false"):
        if value is None:
            return None
        return value is (cond.op == "true")
    ref = getattr(cond, "ref_fact", None)
    if ref:
        other = facts.get(ref)
        if value is None or other is None:
            return None
        return compare(cond.op, value, other)
    if value is None:
        return None
    if cond.op == "in":
        keys = value if isinstance(value, tuple) else (value,)
        return all(k in cond.value for k in keys)
    if fd.unit == "choice":
        keys = value if isinstance(value, tuple) else (value,)
        return cond.value in keys
    return compare(cond.op, value, threshold(fd, cond.value))


def unmet_text(cond: Condition, facts: FactTable) -> str:
    if cond.ref_fact:
        current = f"{facts.label(cond.fact)}为{facts.show(cond.fact)}，{facts.label(cond.ref_fact)}为{facts.show(cond.ref_fact)}"
    else:
        current = f"{facts.label(cond.fact)}为{facts.show(cond.fact)}"
    return f"不满足“{cond.description}”（原文：“{cond.phrase}”）；当前{current}。"

