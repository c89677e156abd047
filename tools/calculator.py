"""The pure subsidy calculator: program rules (cached YAML) + facts → a `Calculation` with Chinese worked steps.

No files besides the cached rules, no clock, no globals beyond caches. Amounts are exact (`Fraction` inside,
integer yuan out, fractional yuan rounded down). Expiry of a document never changes an amount; validity is
reported beside it.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping

from tools.errors import InvalidFactError, MoneyParseError
from tools.money import (format_number, format_percent, format_yuan, parse_count, parse_money, parse_number,
                         parse_percent, parse_pflops)
from tools.rules import (Condition, FactDef, Program, Rate, default_rules, fact_vocabulary, get_program)
from tools.schema import Calculation, Citation

LOCATION_KEYS = ("province", "city", "district")
_TRUE = {"是", "是的", "对", "对的", "有", "有的", "已", "已经", "符合", "满足", "具备", "yes", "y", "true", "1", "√", "✓", "t"}
_FALSE = {"否", "不是", "不", "没有", "没", "无", "未", "不符合", "不满足", "不具备", "no", "n", "false", "0", "×", "f"}
# Allowed slack when a user gives both a growth rate and the two amounts it derives from (rounded rates).
GROWTH_TOLERANCE_POINTS = Fraction(1, 2)


def date_zh(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


# --- parsing facts ----------------------------------------------------------------------------------
def _parse_bool(value: Any, fd: FactDef) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower().rstrip("。.!！")
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text.startswith(("不", "没", "未", "否", "无")):
        return False
    if text.startswith(("是", "有", "已", "符合", "满足")):
        return True
    raise InvalidFactError(f"“{fd.label}”请回答“是”或“否”，无法识别“{value}”。")


def _choice_spans(text: str, fd: FactDef) -> list[str]:
    """Choice keys named in free text: longest non-overlapping alias matches, in order of appearance."""
    hits = []
    low = text.lower()
    for choice in fd.choices:
        for alias in {choice.key, choice.label, *choice.aliases}:
            a = alias.lower()
            start = low.find(a)
            while a and start >= 0:
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
    """One raw fact value (as typed by a user, a form or the agent) → its typed value; raises InvalidFactError."""
    if isinstance(value, str) and fd.unit not in ("text",):
        value = value.strip()
    try:
        if fd.unit == "bool":
            return _parse_bool(value, fd)
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
                value = re.sub(r"[^\d.,，零〇一二两三四五六七八九十百千万亿点]+$", "", value)
            parsed = _as_fraction(parse_number(value))
    except MoneyParseError as exc:
        raise InvalidFactError(f"“{fd.label}”的取值有误：{exc.message_zh}") from None
    if fd.min is not None and parsed < Fraction(Decimal(str(fd.min))):
        raise InvalidFactError(f"“{fd.label}”不能小于{fd.min}：您填写的是“{value}”。")
    if fd.max is not None and parsed > Fraction(Decimal(str(fd.max))):
        raise InvalidFactError(f"“{fd.label}”不能大于{fd.max}：您填写的是“{value}”。")
    return parsed


def show(fd: FactDef, value: Any) -> str:
    """A typed fact value as Chinese text."""
    if value is None:
        return "未知"
    if fd.unit == "yuan":
        return format_yuan(value)
    if fd.unit == "percent":
        return _show_percent(value)
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


def _show_percent(value: Fraction) -> str:
    dec = Decimal(value.numerator) / Decimal(value.denominator)
    if dec == dec.quantize(Decimal("0.01")):
        return format_percent(dec)
    return f"约{format_percent(dec.quantize(Decimal('0.01')))}"


def _rate_text(rate: Rate) -> str:
    return rate.written if "/" in rate.written else format_percent(parse_percent(rate.written))


# --- the fact table ---------------------------------------------------------------------------------
@dataclass
class Facts:
    """Parsed facts for one program, with derived facts filled in and missing ones recorded in ask order."""

    vocab: dict[str, FactDef]
    values: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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


def _derive(vocab: dict[str, FactDef], values: dict[str, Any], notes: list[str]) -> None:
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


def parse_facts(program: Program, facts: Mapping[str, Any]) -> Facts:
    """Parse the facts a program can use; unknown keys are ignored, blanks count as missing."""
    vocab = fact_vocabulary()
    usable = set(program.facts) | {n for n, fd in vocab.items()
                                   if fd.derived and {fd.derived.current, fd.derived.previous} <= set(program.facts)}
    values: dict[str, Any] = {}
    for name, raw in facts.items():
        if name not in vocab or name not in usable:
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []:
            continue
        values[name] = parse_fact(vocab[name], raw)
    notes: list[str] = []
    _derive(vocab, values, notes)
    return Facts(vocab=vocab, values=values, notes=notes)


# --- conditions ---------------------------------------------------------------------------------------
def _threshold(fd: FactDef, value: Any) -> Any:
    """A rules-file bound in the fact's typed form (yuan/count are ints in YAML; percents may be strings)."""
    if fd.unit in ("date", "choice"):
        return value
    if fd.unit in ("yuan", "count"):
        return Fraction(value)
    return Fraction(Decimal(str(value)))


def _compare(op: str, left: Any, right: Any) -> bool:
    return {"ge": left >= right, "gt": left > right, "le": left <= right, "lt": left < right, "eq": left == right}[op]


def eval_condition(cond: Condition | Any, facts: Facts) -> bool | None:
    """True/False, or None when a fact is unknown (recorded as missing)."""
    fd = facts.vocab[cond.fact]
    value = facts.get(cond.fact)
    if cond.op in ("true", "false"):
        if value is None:
            return None
        return value is (cond.op == "true")
    if getattr(cond, "ref_fact", None):
        other = facts.get(cond.ref_fact)
        if value is None or other is None:
            return None
        return _compare(cond.op, value, other)
    if value is None:
        return None
    if cond.op == "in":
        keys = value if isinstance(value, tuple) else (value,)
        return all(k in cond.value for k in keys)
    if fd.unit == "choice":
        keys = value if isinstance(value, tuple) else (value,)
        return cond.value in keys
    return _compare(cond.op, value, _threshold(fd, cond.value))


@dataclass
class FormulaResult:
    amount: Fraction | None = None
    steps: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cap_step(raw: Fraction, cap: int | None, expr: str, cap_label: str = "上限") -> tuple[Fraction, str]:
    if cap is None:
        return raw, f"{expr} = {format_yuan(raw)}（文件未规定金额上限）"
    if raw > cap:
        return Fraction(cap), f"{expr} = {format_yuan(raw)}，超过{cap_label}{format_yuan(cap)}，按{cap_label}计{format_yuan(cap)}"
    return raw, f"{expr} = {format_yuan(raw)}，未超过{cap_label}{format_yuan(cap)}"


def _cap_text(cap: int | None) -> str:
    return f"，最高不超过{format_yuan(cap)}" if cap is not None else "（文件未规定金额上限）"


def _step_part(step, facts: Facts, res: FormulaResult, *, describe_only: bool = False) -> Fraction | None:
    base_label = facts.label(step.base)
    res.steps.append(f"每满{format_yuan(step.step_yuan)}给予{format_yuan(step.award_per_step_yuan)}：{base_label}"
                     f"按每满{format_yuan(step.step_yuan)}计档{_cap_text(step.cap_yuan)}。")
    if describe_only:
        return None
    base = facts.get(step.base)
    if base is None:
        return None
    units = math.floor(base / step.step_yuan)
    raw = Fraction(units * step.award_per_step_yuan)
    expr = (f"floor({format_yuan(base)} ÷ {format_yuan(step.step_yuan)})={units}，"
            f"{units} × {format_yuan(step.award_per_step_yuan)}")
    amount, text = _cap_step(raw, step.cap_yuan, expr)
    res.steps.append(text)
    return amount


def _apply_rate(f, facts: Facts, res: "FormulaResult", describe_only: bool) -> None:
    """base × rate, capped: the money step shared by ratio_cap and ratio_of_other."""
    base = None if describe_only else facts.get(f.base)
    if base is not None:
        res.amount, text = _cap_step(base * f.rate.fraction, f.cap_yuan, f"{format_yuan(base)} × {_rate_text(f.rate)}")
        res.steps.append(text)


def _evaluate_formula(program: Program, facts: Facts, describe_only: bool = False) -> FormulaResult:
    f = program.formula
    res = FormulaResult()
    vocab = facts.vocab

    if f.kind == "ratio_cap":
        label = facts.label(f.base)
        res.steps.append(f"计算公式：{label} × {_rate_text(f.rate)}{_cap_text(f.cap_yuan)}。")
        _apply_rate(f, facts, res, describe_only)

    elif f.kind == "ratio_cap_by_choice":
        cfd = vocab[f.choice_fact]
        label = facts.label(f.base)
        parts = [f"{cfd.choice(k).label}按{label} × {_rate_text(o.rate)}{_cap_text(o.cap_yuan)}" for k, o in f.options.items()]
        res.steps.append("计算公式：" + "；".join(parts) + "。")
        if not describe_only:
            choice = facts.get(f.choice_fact)
            base = facts.get(f.base)
            if choice is not None and choice in f.options and base is not None:
                opt = f.options[choice]
                res.amount, text = _cap_step(base * opt.rate.fraction, opt.cap_yuan,
                                             f"{cfd.choice(choice).label}：{format_yuan(base)} × {_rate_text(opt.rate)}")
                res.steps.append(text)

    elif f.kind == "fixed":
        word = "最高" if f.ceiling_only else ""
        res.steps.append(f"符合条件的给予{word}{format_yuan(f.amount_yuan)}"
                         + ("（文件只规定上限，未规定计算基数）。" if f.ceiling_only else "。"))
        res.amount = Fraction(f.amount_yuan)

    elif f.kind == "fixed_by_choice":
        cfd = vocab[f.choice_fact]
        word = "最高" if f.ceiling_only else ""
        parts = [f"{cfd.choice(k).label}{word}{format_yuan(a)}" for k, a in f.amounts.items()]
        res.steps.append("奖励标准：" + "；".join(parts) + ("（文件只规定上限）。" if f.ceiling_only else "。"))
        if not describe_only:
            choice = facts.get(f.choice_fact)
            if choice is not None:
                keys = [k for k in (choice if isinstance(choice, tuple) else (choice,)) if k in f.amounts]
                if keys:
                    total = sum(Fraction(f.amounts[k]) for k in keys)
                    if len(keys) > 1:
                        expr = " + ".join(f"{cfd.choice(k).label}{format_yuan(f.amounts[k])}" for k in keys)
                        res.steps.append(f"{expr} = {format_yuan(total)}")
                    else:
                        res.steps.append(f"{cfd.choice(keys[0]).label}：{word}{format_yuan(total)}")
                    res.amount = total

    elif f.kind == "step":
        res.amount = _step_part(f.step, facts, res, describe_only=describe_only)

    elif f.kind == "rd_composite":
        step_amount = _step_part(f.step, facts, res, describe_only=describe_only)
        gb = f.growth_bonus
        tiers = "；".join(f"增长率{'超过' if t.op == 'gt' else '达到'}{format_percent(parse_percent(str(t.value)))}"
                         f"奖励{format_yuan(t.award_yuan)}" for t in gb.tiers)
        res.steps.append(f"增长奖励：{gb.requires.description}时，{tiers}（取最高一档，不重复）。")
        ex = f.extra
        res.steps.append(f"追加补助：{ex.requires.description}的，按可获得的研发费用补助额再给予{_rate_text(ex.rate)}。")
        if not describe_only:
            spend = facts.get(f.step.base)
            bonus: Fraction | None = Fraction(0)
            if spend is not None and eval_condition(gb.requires, facts):
                growth = facts.get(gb.growth_fact)
                if growth is None:
                    bonus = None
                else:
                    hit = next((t for t in gb.tiers if _compare(t.op, growth, _threshold(vocab[gb.growth_fact], t.value))), None)
                    if hit:
                        bonus = Fraction(hit.award_yuan)
                        res.steps.append(f"研发费用{format_yuan(spend)}高于门槛，增长率{_show_percent(growth)}"
                                         f"{'超过' if hit.op == 'gt' else '达到'}{format_percent(parse_percent(str(hit.value)))}，"
                                         f"增长奖励{format_yuan(bonus)}")
                    else:
                        res.steps.append(f"增长率{_show_percent(growth)}未达到奖励档次，增长奖励0元")
            elif spend is not None:
                res.steps.append(f"研发费用{format_yuan(spend)}未{gb.requires.description.replace('年度自主研发费用', '')}，增长奖励0元")
            extra: Fraction | None = Fraction(0)
            if spend is not None and eval_condition(ex.requires, facts):
                base = step_amount if ex.of == "step" else (None if step_amount is None or bonus is None else step_amount + bonus)
                if base is None:
                    extra = None
                else:
                    extra = base * ex.rate.fraction
                    res.steps.append(f"研发费用{format_yuan(spend)}超过门槛，追加补助：{format_yuan(base)} × {_rate_text(ex.rate)} = {format_yuan(extra)}")
            elif spend is not None:
                res.steps.append(f"研发费用{format_yuan(spend)}未{ex.requires.description.replace('年度自主研发费用', '')}，无追加补助")
            if step_amount is not None and bonus is not None and extra is not None:
                res.amount = step_amount + bonus + extra
                res.steps.append(f"合计：{format_yuan(step_amount)} + {format_yuan(bonus)} + {format_yuan(extra)} = {format_yuan(res.amount)}")

    elif f.kind == "tier_upgrade":
        tiers = "、".join(f"{t.label}→{format_yuan(t.award_yuan)}" for t in f.tiers)
        word = "首次超过" if f.op == "gt" else "首次达到"
        res.steps.append(f"奖励档次（营业收入{word}）：{tiers}；按“晋级补差”原则，奖励 = 新达到的最高档次奖励 − 已获得的较低档次奖励。")
        if not describe_only:
            stated_tier = facts.values.get(f.tier_fact) if f.tier_fact else None
            revenue = facts.get(f.base) if stated_tier is None or f.base in facts.values else None
            received = facts.get(f.received_fact)
            previous_max = facts.values.get(f.previous_max_fact) if f.previous_max_fact else None
            top = None
            if revenue is not None:
                crossed = [t for t in f.tiers if _compare(f.op, revenue, t.threshold_yuan)]
                if not crossed:
                    res.amount = Fraction(0)
                    res.unmet.append(f"{facts.label(f.base)}{format_yuan(revenue)}未{word.replace('首次', '')}最低档次"
                                     f"{f.tiers[0].label}。")
                else:
                    top = crossed[-1]
                    res.steps.append(f"{facts.label(f.base)}{format_yuan(revenue)}，达到的最高档次为{top.label}（奖励{format_yuan(top.award_yuan)}）")
            elif stated_tier is not None:
                top = next((t for t in f.tiers if t.threshold_yuan == stated_tier), None)
                if top is None:
                    raise InvalidFactError(f"{format_yuan(stated_tier)}不是文件规定的档次（" +
                                           "、".join(t.label for t in f.tiers) + "）。请核对。")
                res.steps.append(f"{facts.label(f.tier_fact)}：{top.label}（奖励{format_yuan(top.award_yuan)}）")
            if top is not None:
                if previous_max is not None and _compare(f.op, previous_max, top.threshold_yuan):
                    res.amount = Fraction(0)
                    res.unmet.append(f"此前年度营业收入最高已达{format_yuan(previous_max)}，已超过{top.label}，"
                                     f"本次不属于“首次超过”。")
                elif received is not None:
                    if previous_max is None and f.previous_max_fact:
                        res.assumptions.append(f"未提供{facts.label(f.previous_max_fact)}，假设{top.label}档为首次超过。")
                    diff = Fraction(top.award_yuan) - received
                    if diff <= 0:
                        res.amount = Fraction(0)
                        res.steps.append(f"晋级补差：{format_yuan(top.award_yuan)} − {format_yuan(received)} ≤ 0，无差额可补")
                        res.unmet.append(f"已获得的规模上台阶奖励{format_yuan(received)}不低于{top.label}档奖励，按“晋级补差”无差额。")
                    else:
                        res.amount = diff
                        res.steps.append(f"晋级补差：{format_yuan(top.award_yuan)} − 已获得{format_yuan(received)} = {format_yuan(diff)}")

    elif f.kind == "ratio_of_other":
        label = facts.label(f.base)
        res.steps.append(f"计算公式：{f.payer}按{label} × {_rate_text(f.rate)}{_cap_text(f.cap_yuan)}，付给{f.payee}。")
        _apply_rate(f, facts, res, describe_only)

    elif f.kind == "loan":
        cfd = vocab[f.choice_fact]
        parts = []
        for k, o in f.options.items():
            text = f"{cfd.choice(k).label}放款不超过{format_yuan(o.cap_yuan)}"
            if o.rd_ratio and o.rd_fact:
                text += f"且不超过{facts.label(o.rd_fact)}的{_rate_text(o.rd_ratio)}"
            parts.append(text)
        res.steps.append(f"贴息贷款：期限最长{f.max_years}年、年化利率{_rate_text(f.interest_rate)}；" + "；".join(parts) + "。")
        if not describe_only:
            choice = facts.get(f.choice_fact)
            if choice is not None and choice in f.options:
                o = f.options[choice]
                if o.rd_ratio and o.rd_fact:
                    rd = facts.get(o.rd_fact)
                    if rd is not None:
                        by_rd = rd * o.rd_ratio.fraction
                        res.amount = min(Fraction(o.cap_yuan), by_rd)
                        res.steps.append(f"{cfd.choice(choice).label}：{format_yuan(rd)} × {_rate_text(o.rd_ratio)} = {format_yuan(by_rd)}；"
                                         f"取较小值 min({format_yuan(o.cap_yuan)}, {format_yuan(by_rd)}) = {format_yuan(res.amount)}（贷款额度上限）")
                else:
                    res.amount = Fraction(o.cap_yuan)
                    res.steps.append(f"{cfd.choice(choice).label}：贷款额度上限{format_yuan(o.cap_yuan)}")

    elif f.kind == "none":
        res.steps.append(f.reason)

    return res


# --- public API ---------------------------------------------------------------------------------------
def describe_formula(program: Program | str) -> str:
    """The program's formula in Chinese, without any facts (shown when asking for facts)."""
    program = get_program(program) if isinstance(program, str) else program
    empty = Facts(vocab=fact_vocabulary(), values={})
    return "".join(_evaluate_formula(program, empty, describe_only=True).steps)


def program_facts(program_id: str) -> list[dict]:
    """The facts a program needs, for a form builder: name, label, unit, choices, multiple, optional, cues."""
    program = get_program(program_id)
    vocab = fact_vocabulary()
    optional = {getattr(program.formula, "previous_max_fact", None)} - {None}
    out = []
    for name in program.facts:
        fd = vocab[name]
        out.append({
            "name": fd.name, "label": fd.label, "unit": fd.unit, "multiple": fd.multiple,
            "choices": [{"key": c.key, "label": c.label, "aliases": list(c.aliases)} for c in fd.choices],
            "optional": name in optional, "cues": list(fd.cues), "description": fd.description,
            "profile_key": fd.profile_key,
        })
    return out


def _unmet_text(cond: Condition, facts: Facts) -> str:
    if cond.ref_fact:
        current = f"{facts.label(cond.fact)}为{facts.show(cond.fact)}，{facts.label(cond.ref_fact)}为{facts.show(cond.ref_fact)}"
    else:
        current = f"{facts.label(cond.fact)}为{facts.show(cond.fact)}"
    return f"不满足“{cond.description}”（原文：“{cond.phrase}”）；当前{current}。"


def _region_unmet(program: Program, facts: Mapping[str, Any]) -> str | None:
    """If the caller passed a location (province/city/district), check it against the program's region."""
    loc = {k: str(facts[k]).strip() for k in LOCATION_KEYS if facts.get(k)}
    if not loc:
        return None
    from tools.eligibility import region_mismatch

    return region_mismatch(program, loc)


def calculate(program_id: str, facts: Mapping[str, Any], as_of: dt.date) -> Calculation:
    """Eligibility, ceiling amount (integer yuan, rounded down) and Chinese worked steps for one program."""
    from tools.validity import validity_for

    program = get_program(program_id)
    facts = dict(facts or {})
    table = parse_facts(program, facts)

    unmet: list[str] = []
    unknown = False
    region = _region_unmet(program, facts)
    if region:
        unmet.append(region)
    for cond in program.conditions:
        if cond.when is not None:
            gate = eval_condition(cond.when, table)
            if gate is False:
                continue
            if gate is None:
                unknown = True
                continue
        ok = eval_condition(cond, table)
        if ok is None:
            unknown = True
        elif not ok:
            unmet.append(_unmet_text(cond, table))

    res = _evaluate_formula(program, table)
    unmet.extend(res.unmet)
    kind = program.amount_kind
    steps = list(res.steps)
    assumptions = list(program.assumptions) + res.assumptions
    notes = list(table.notes) + list(program.notes) + res.notes
    if program.amount_note:
        notes.append(program.amount_note)

    amount: int | None = None
    potential: int | None = None
    if kind != "none" and res.amount is not None:
        floored = math.floor(res.amount)
        if floored != res.amount:
            steps.append(f"不足1元的部分舍去（向下取整）：{format_yuan(res.amount)} → {format_yuan(floored)}")
        potential = floored
        if floored == 0 and not res.unmet and not unmet:
            unmet.append("按文件规定的公式计算，补助金额为0元。")

    missing_names = list(table.missing)
    # `eligible` reflects the conditions only; the ceiling is reported whenever the formula's inputs are known.
    # With conditions still unknown the ceiling is conditional ("若其余条件均满足"), which the steps say.
    if unmet:
        eligible: bool | None = False
        amount = 0 if kind != "none" else None
        potential = None
    else:
        eligible = None if unknown else True
        amount = potential
    if eligible is True and kind == "none":
        steps.append("结论：符合文件所列条件，但文件未规定固定金额，无法计算补助额。")
    elif eligible is True and amount is not None:
        word = "可申请贷款额度最高" if kind == "loan" else "最高可获得"
        steps.append(f"结论：{word}{format_yuan(amount)}（政策上限，实际金额以主管部门审核为准）。")
    elif eligible is False:
        steps.append("结论：不符合条件（见未满足的条件），不能获得该项支持。")
    elif eligible is None and potential is not None:
        steps.append(f"若其余条件均满足，最高可获得{format_yuan(potential)}。")

    clause_ids = list(dict.fromkeys([*program.clause_ids, *(c.clause_id for c in program.conditions if c.clause_id)]))
    validity = validity_for(program.doc_id, as_of)
    if validity.status != "in_force" or validity.window_open is False:
        notes.append(validity.message + "文件失效或申报截止不改变按政策计算的金额，但可能已无法申报。")
    materials = [m.name + (f"（{m.attachment}）" if m.attachment else "") for m in program.materials]
    application = ""
    if program.application:
        a = program.application
        parts = []
        if a.deadline:
            parts.append(f"截止{date_zh(a.deadline)}{(' ' + a.deadline_time) if a.deadline_time else ''}")
        if a.channel:
            parts.append(a.channel)
        if a.note:
            parts.append(a.note)
        application = "；".join(parts)
    beneficiary = program.beneficiary
    if program.beneficiary_note:
        notes.insert(0, f"受益主体：{program.beneficiary_note}。")
    return Calculation(
        program_id=program.id,
        program=program.name,
        eligible=eligible,
        amount_yuan=amount,
        steps=steps,
        missing=[table.label(n) for n in missing_names],
        missing_facts=missing_names,
        unmet=unmet,
        assumptions=list(dict.fromkeys(assumptions)),
        citations=[Citation.from_clause_id(c) for c in clause_ids],
        beneficiary=beneficiary,
        amount_kind=kind,  # type: ignore[arg-type]
        period=program.period,
        payment_form=program.payment_form,
        notes=list(dict.fromkeys(notes)),
        validity=validity,
        potential_amount_yuan=potential if eligible is None else None,
        formula=describe_formula(program),
        materials=materials,
        application=application,
    )


def reset_caches() -> None:
    """Drop cached rules (tests that swap rules files)."""
    default_rules.cache_clear()
