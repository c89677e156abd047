"""Formula kinds as data with behaviour: each kind validates itself against the rules, names its inputs, describes
itself in Chinese and evaluates exactly (Fraction inside; the calculator rounds down to whole yuan).

A new kind is one class here with `inputs`, `check` and `evaluate`; the loader, the calculator and both agents pick
it up through the `Formula` union. No subsidy figure appears here: rates, caps, tiers come from corpus/rules YAML.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Annotated, Any, Literal, Protocol, Union

from pydantic import BaseModel, ConfigDict, Field

from tools.dated import Dated
from tools.errors import InvalidFactError
from tools.money import format_percent, format_yuan, parse_percent
from tools.vocab import Condition, FactDef, FactTable, RateField, compare, eval_condition, show_percent, threshold


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # schemas build on first validation


@dataclass
class FormulaResult:
    amount: Fraction | None = None
    steps: list[str] = field(default_factory=list)
    unmet: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class CheckContext(Protocol):
    """What a formula needs from the loader to validate itself (implemented in tools.rules)."""

    def need_unit(self, name: str, units: set[str]) -> FactDef: ...

    def need_choices(self, name: str, keys: set[str]) -> None: ...

    def need_phrase(self, phrase: str) -> None: ...

    def fail(self, message: str) -> None: ...


def cap_step(raw: Fraction, cap: int | None, expr: str, cap_label: str = "上限") -> tuple[Fraction, str]:
    if cap is None:
        return raw, f"{expr} = {format_yuan(raw)}（文件未规定金额上限）"
    if raw > cap:
        return Fraction(cap), f"{expr} = {format_yuan(raw)}，超过{cap_label}{format_yuan(cap)}，按{cap_label}计{format_yuan(cap)}"
    return raw, f"{expr} = {format_yuan(raw)}，未超过{cap_label}{format_yuan(cap)}"


def cap_text(cap: int | None) -> str:
    return f"，最高不超过{format_yuan(cap)}" if cap is not None else "（文件未规定金额上限）"


class _FormulaBase(Strict):
    phrase: str = ""

    def inputs(self) -> list[str]:
        """Fact names the formula itself reads (as opposed to yes/no conditions)."""
        return []

    def check(self, ctx: CheckContext) -> None:
        ctx.need_phrase(self.phrase)

    def evaluate(self, table: FactTable, res: FormulaResult, describe_only: bool = False) -> None:
        raise NotImplementedError

    def describe(self, table: FactTable) -> str:
        res = FormulaResult()
        self.evaluate(table, res, describe_only=True)
        return "".join(res.steps)


def _apply_rate(f, table: FactTable, res: FormulaResult, describe_only: bool) -> None:
    """base × rate, capped: the money step shared by ratio_cap and ratio_of_other."""
    base = None if describe_only else table.get(f.base)
    if base is not None and base <= 0:
        # a fall or no change (营业收入增量 −3000万) earns nothing; no negative arithmetic is shown as an amount
        res.amount = Fraction(0)
        res.steps.append(f"{table.label(f.base)}为{format_yuan(base)}，不大于0，按此项计0元")
    elif base is not None:
        res.amount, text = cap_step(base * f.rate.fraction, f.cap_yuan, f"{format_yuan(base)} × {f.rate.text}")
        res.steps.append(text)


class RatioCap(_FormulaBase):
    kind: Literal["ratio_cap"]
    base: str
    rate: Dated[RateField]
    cap_yuan: Dated[int] | None = None

    def inputs(self) -> list[str]:
        return [self.base]

    def check(self, ctx: CheckContext) -> None:
        super().check(ctx)
        ctx.need_unit(self.base, {"yuan"})

    def evaluate(self, table, res, describe_only=False):
        res.steps.append(f"计算公式：{table.label(self.base)} × {self.rate.text}{cap_text(self.cap_yuan)}。")
        _apply_rate(self, table, res, describe_only)


class RatioOption(Strict):
    rate: Dated[RateField]
    cap_yuan: Dated[int] | None = None


class RatioCapByChoice(_FormulaBase):
    kind: Literal["ratio_cap_by_choice"]
    choice_fact: str
    base: str
    options: dict[str, RatioOption]

    def inputs(self) -> list[str]:
        return [self.choice_fact, self.base]

    def check(self, ctx):
        super().check(ctx)
        ctx.need_unit(self.base, {"yuan"})
        ctx.need_choices(self.choice_fact, set(self.options))

    def evaluate(self, table, res, describe_only=False):
        cfd = table.vocab[self.choice_fact]
        label = table.label(self.base)
        parts = [f"{cfd.choice(k).label}按{label} × {o.rate.text}{cap_text(o.cap_yuan)}" for k, o in self.options.items()]
        res.steps.append("计算公式：" + "；".join(parts) + "。")
        if describe_only:
            return
        choice = table.get(self.choice_fact)
        base = table.get(self.base)
        if choice is not None and choice in self.options and base is not None:
            opt = self.options[choice]
            res.amount, text = cap_step(base * opt.rate.fraction, opt.cap_yuan,
                                        f"{cfd.choice(choice).label}：{format_yuan(base)} × {opt.rate.text}")
            res.steps.append(text)


class Fixed(_FormulaBase):
    kind: Literal["fixed"]
    amount_yuan: Dated[int]
    ceiling_only: bool = False

    def evaluate(self, table, res, describe_only=False):
        word = "最高" if self.ceiling_only else ""
        res.steps.append(f"符合条件的给予{word}{format_yuan(self.amount_yuan)}"
                         + ("（文件只规定上限，未规定计算基数）。" if self.ceiling_only else "。"))
        res.amount = Fraction(self.amount_yuan)


class FixedByChoice(_FormulaBase):
    kind: Literal["fixed_by_choice"]
    choice_fact: str
    amounts: dict[str, Dated[int]]
    ceiling_only: bool = False

    def inputs(self) -> list[str]:
        return [self.choice_fact]

    def check(self, ctx):
        super().check(ctx)
        ctx.need_choices(self.choice_fact, set(self.amounts))

    def evaluate(self, table, res, describe_only=False):
        cfd = table.vocab[self.choice_fact]
        word = "最高" if self.ceiling_only else ""
        parts = [f"{cfd.choice(k).label}{word}{format_yuan(a)}" for k, a in self.amounts.items()]
        res.steps.append("奖励标准：" + "；".join(parts) + ("（文件只规定上限）。" if self.ceiling_only else "。"))
        if describe_only:
            return
        choice = table.get(self.choice_fact)
        if choice is None:
            return
        keys = [k for k in (choice if isinstance(choice, tuple) else (choice,)) if k in self.amounts]
        if not keys:
            return
        total = sum(Fraction(self.amounts[k]) for k in keys)
        if len(keys) > 1:
            expr = " + ".join(f"{cfd.choice(k).label}{format_yuan(self.amounts[k])}" for k in keys)
            res.steps.append(f"{expr} = {format_yuan(total)}")
        else:
            res.steps.append(f"{cfd.choice(keys[0]).label}：{word}{format_yuan(total)}")
        res.amount = total


class StepPart(Strict):
    base: str
    step_yuan: Dated[int]
    award_per_step_yuan: Dated[int]
    cap_yuan: Dated[int] | None = None
    phrase: str = ""

    def evaluate(self, table: FactTable, res: FormulaResult, describe_only: bool = False) -> Fraction | None:
        res.steps.append(f"每满{format_yuan(self.step_yuan)}给予{format_yuan(self.award_per_step_yuan)}："
                         f"{table.label(self.base)}按每满{format_yuan(self.step_yuan)}计档{cap_text(self.cap_yuan)}。")
        if describe_only:
            return None
        base = table.get(self.base)
        if base is None:
            return None
        units = math.floor(base / self.step_yuan)
        expr = (f"floor({format_yuan(base)} ÷ {format_yuan(self.step_yuan)})={units}，"
                f"{units} × {format_yuan(self.award_per_step_yuan)}")
        amount, text = cap_step(Fraction(units * self.award_per_step_yuan), self.cap_yuan, expr)
        res.steps.append(text)
        return amount

    def check(self, ctx: CheckContext) -> None:
        ctx.need_unit(self.base, {"yuan"})
        ctx.need_phrase(self.phrase)
        if self.step_yuan <= 0:
            ctx.fail("step_yuan 必须为正数")


class Step(_FormulaBase):
    kind: Literal["step"]
    step: StepPart

    def inputs(self) -> list[str]:
        return [self.step.base]

    def check(self, ctx):
        super().check(ctx)
        self.step.check(ctx)

    def evaluate(self, table, res, describe_only=False):
        res.amount = self.step.evaluate(table, res, describe_only)


class BonusTier(Strict):
    op: Literal["gt", "ge"]
    value: Any
    award_yuan: Dated[int]
    phrase: str


class GrowthBonus(Strict):
    """A fixed award picked by the highest growth tier met (not cumulative), once a spend threshold is met."""

    requires: Condition
    growth_fact: str
    tiers: list[BonusTier]


class ExtraPercent(Strict):
    requires: Condition
    rate: Dated[RateField]
    of: Literal["step", "step_and_bonus"]
    phrase: str


def _pct(value: Any) -> str:
    return format_percent(parse_percent(str(value)))


class RdComposite(_FormulaBase):
    """每满X给予Y (capped) + a growth bonus by tier + an extra percentage above a spend threshold."""

    kind: Literal["rd_composite"]
    step: StepPart
    growth_bonus: GrowthBonus
    extra: ExtraPercent
    step_award_label: str = "可获得的补助额"  # what the extra percentage is a share of, in the clause's words

    def inputs(self) -> list[str]:
        return [self.step.base, self.growth_bonus.growth_fact]

    def check(self, ctx):
        super().check(ctx)
        self.step.check(ctx)
        gb = self.growth_bonus
        ctx.need_unit(gb.growth_fact, {"percent"})
        ctx.need_unit(gb.requires.fact, {"yuan"})
        ctx.need_phrase(gb.requires.phrase)
        for t in gb.tiers:
            ctx.need_phrase(t.phrase)
        ctx.need_unit(self.extra.requires.fact, {"yuan"})
        ctx.need_phrase(self.extra.requires.phrase)
        ctx.need_phrase(self.extra.phrase)
        ctx.need_phrase(self.step_award_label)

    def evaluate(self, table, res, describe_only=False):
        step_amount = self.step.evaluate(table, res, describe_only)
        gb, ex = self.growth_bonus, self.extra
        growth_label = table.label(gb.growth_fact)
        tiers = "；".join(f"{growth_label}{'超过' if t.op == 'gt' else '达到'}{_pct(t.value)}奖励{format_yuan(t.award_yuan)}"
                         for t in gb.tiers)
        res.steps.append(f"增长奖励：{gb.requires.description}时，{tiers}（取最高一档，不重复）。")
        res.steps.append(f"追加补助：{ex.requires.description}的，按{self.step_award_label}再给予{ex.rate.text}。")
        if describe_only:
            return
        spend = table.get(self.step.base)
        bonus: Fraction | None = Fraction(0)
        if spend is not None and eval_condition(gb.requires, table):
            growth = table.get(gb.growth_fact)
            if growth is None:
                bonus = None
            else:
                gfd = table.vocab[gb.growth_fact]
                hit = next((t for t in gb.tiers if compare(t.op, growth, threshold(gfd, t.value))), None)
                if hit:
                    bonus = Fraction(hit.award_yuan)
                    res.steps.append(f"{table.label(self.step.base)}{format_yuan(spend)}高于门槛，{growth_label}{show_percent(growth)}"
                                     f"{'超过' if hit.op == 'gt' else '达到'}{_pct(hit.value)}，增长奖励{format_yuan(bonus)}")
                else:
                    res.steps.append(f"{growth_label}{show_percent(growth)}未达到奖励档次，增长奖励0元")
        elif spend is not None:
            res.steps.append(f"{table.label(self.step.base)}{format_yuan(spend)}不满足“{gb.requires.description}”，增长奖励0元")
        extra: Fraction | None = Fraction(0)
        if spend is not None and eval_condition(ex.requires, table):
            base = step_amount if ex.of == "step" else (None if step_amount is None or bonus is None else step_amount + bonus)
            if base is None:
                extra = None
            else:
                extra = base * ex.rate.fraction
                res.steps.append(f"{table.label(self.step.base)}{format_yuan(spend)}超过门槛，追加补助："
                                 f"{format_yuan(base)} × {ex.rate.text} = {format_yuan(extra)}")
        elif spend is not None:
            res.steps.append(f"{table.label(self.step.base)}{format_yuan(spend)}不满足“{ex.requires.description}”，无追加补助")
        if step_amount is not None and bonus is not None and extra is not None:
            res.amount = step_amount + bonus + extra
            res.steps.append(f"合计：{format_yuan(step_amount)} + {format_yuan(bonus)} + {format_yuan(extra)} = {format_yuan(res.amount)}")


class Tier(Strict):
    threshold_yuan: int
    award_yuan: int
    label: str


class TierUpgrade(_FormulaBase):
    """晋级补差: award of the highest newly crossed tier minus what was already received for lower tiers."""

    kind: Literal["tier_upgrade"]
    base: str
    op: Literal["gt", "ge"]
    received_fact: str
    previous_max_fact: str | None = None
    tier_fact: str | None = None  # the tier threshold stated as first crossed ("首次超过1亿"), used when base is unknown
    tiers: Dated[list[Tier]]
    crossing: str  # the clause's word for reaching a tier for the first time
    principle: str  # the clause's name for paying only the difference to lower tiers already received

    def inputs(self) -> list[str]:
        return [n for n in (self.base, self.received_fact, self.tier_fact) if n]

    def optional_inputs(self) -> list[str]:
        return [self.previous_max_fact] if self.previous_max_fact else []

    def check(self, ctx):
        super().check(ctx)
        ctx.need_unit(self.base, {"yuan"})
        ctx.need_unit(self.received_fact, {"yuan"})
        for name in (self.previous_max_fact, self.tier_fact):
            if name:
                ctx.need_unit(name, {"yuan"})
        ctx.need_phrase(self.crossing)
        ctx.need_phrase(self.principle)
        thresholds = [t.threshold_yuan for t in self.tiers]
        awards = [t.award_yuan for t in self.tiers]
        if thresholds != sorted(set(thresholds)) or awards != sorted(awards):
            ctx.fail("档次必须按门槛与奖励递增排列")

    def evaluate(self, table, res, describe_only=False):
        tiers = "、".join(f"{t.label}→{format_yuan(t.award_yuan)}" for t in self.tiers)
        word, rule = self.crossing, self.principle
        res.steps.append(f"奖励档次（{table.label(self.base)}{word}）：{tiers}；按“{rule}”原则，"
                         f"奖励 = 新达到的最高档次奖励 − 已获得的较低档次奖励。")
        if describe_only:
            return
        stated_tier = table.values.get(self.tier_fact) if self.tier_fact else None
        revenue = table.get(self.base) if stated_tier is None or self.base in table.values else None
        received = table.get(self.received_fact)
        previous_max = table.values.get(self.previous_max_fact) if self.previous_max_fact else None
        top = None
        if revenue is not None:
            crossed = [t for t in self.tiers if compare(self.op, revenue, t.threshold_yuan)]
            if not crossed:
                res.amount = Fraction(0)
                res.unmet.append(f"{table.label(self.base)}{format_yuan(revenue)}未{'超过' if self.op == 'gt' else '达到'}最低档次"
                                 f"{self.tiers[0].label}。")
            else:
                top = crossed[-1]
                res.steps.append(f"{table.label(self.base)}{format_yuan(revenue)}，达到的最高档次为{top.label}（奖励{format_yuan(top.award_yuan)}）")
        elif stated_tier is not None:
            top = next((t for t in self.tiers if t.threshold_yuan == stated_tier), None)
            if top is None:
                raise InvalidFactError(f"{format_yuan(stated_tier)}不是文件规定的档次（" +
                                       "、".join(t.label for t in self.tiers) + "）。请核对。")
            res.steps.append(f"{table.label(self.tier_fact)}：{top.label}（奖励{format_yuan(top.award_yuan)}）")
        if top is None:
            return
        if previous_max is not None and compare(self.op, previous_max, top.threshold_yuan):
            res.amount = Fraction(0)
            res.unmet.append(f"{table.label(self.previous_max_fact)}已达{format_yuan(previous_max)}，已超过{top.label}，"
                             f"本次不属于“{word}”。")
        elif received is not None:
            if previous_max is None and self.previous_max_fact:
                res.assumptions.append(f"未提供{table.label(self.previous_max_fact)}，假设{top.label}档为{word}。")
            diff = Fraction(top.award_yuan) - received
            if diff <= 0:
                res.amount = Fraction(0)
                res.steps.append(f"{rule}：{format_yuan(top.award_yuan)} − {format_yuan(received)} ≤ 0，无差额可补")
                res.unmet.append(f"{table.label(self.received_fact)}{format_yuan(received)}不低于{top.label}档奖励，"
                                 f"按“{rule}”无差额。")
            else:
                res.amount = diff
                res.steps.append(f"{rule}：{format_yuan(top.award_yuan)} − 已获得{format_yuan(received)} = {format_yuan(diff)}")


class RatioOfOther(_FormulaBase):
    """A share of another body's actual subsidy (省级按市级实际补助的1/3), paid to `payee`."""

    kind: Literal["ratio_of_other"]
    base: str
    rate: Dated[RateField]
    cap_yuan: Dated[int] | None = None
    payer: str
    payee: str

    def inputs(self) -> list[str]:
        return [self.base]

    def check(self, ctx):
        super().check(ctx)
        ctx.need_unit(self.base, {"yuan"})

    def evaluate(self, table, res, describe_only=False):
        res.steps.append(f"计算公式：{self.payer}按{table.label(self.base)} × {self.rate.text}{cap_text(self.cap_yuan)}，"
                         f"付给{self.payee}。")
        _apply_rate(self, table, res, describe_only)


class LoanOption(Strict):
    cap_yuan: Dated[int]
    rd_ratio: Dated[RateField] | None = None
    rd_fact: str | None = None


class Loan(_FormulaBase):
    """A loan ceiling (not a subsidy): a cap per kind of borrower, optionally limited by a share of a spend."""

    kind: Literal["loan"]
    choice_fact: str
    options: dict[str, LoanOption]
    interest_rate: Dated[RateField]
    max_years: Dated[int]
    title: str  # what the clause calls the loan

    def inputs(self) -> list[str]:
        return [self.choice_fact, *(o.rd_fact for o in self.options.values() if o.rd_fact)]

    def check(self, ctx):
        super().check(ctx)
        ctx.need_choices(self.choice_fact, set(self.options))
        ctx.need_phrase(self.title)
        for opt in self.options.values():
            if opt.rd_fact:
                ctx.need_unit(opt.rd_fact, {"yuan"})

    def evaluate(self, table, res, describe_only=False):
        cfd = table.vocab[self.choice_fact]
        parts = []
        for k, o in self.options.items():
            text = f"{cfd.choice(k).label}放款不超过{format_yuan(o.cap_yuan)}"
            if o.rd_ratio and o.rd_fact:
                text += f"且不超过{table.label(o.rd_fact)}的{o.rd_ratio.text}"
            parts.append(text)
        res.steps.append(f"{self.title}：期限最长{self.max_years}年、年化利率{self.interest_rate.text}；" + "；".join(parts) + "。")
        if describe_only:
            return
        choice = table.get(self.choice_fact)
        if choice is None or choice not in self.options:
            return
        o = self.options[choice]
        if o.rd_ratio and o.rd_fact:
            rd = table.get(o.rd_fact)
            if rd is not None:
                by_rd = rd * o.rd_ratio.fraction
                res.amount = min(Fraction(o.cap_yuan), by_rd)
                res.steps.append(f"{cfd.choice(choice).label}：{format_yuan(rd)} × {o.rd_ratio.text} = {format_yuan(by_rd)}；"
                                 f"取较小值 min({format_yuan(o.cap_yuan)}, {format_yuan(by_rd)}) = {format_yuan(res.amount)}（贷款额度上限）")
        else:
            res.amount = Fraction(o.cap_yuan)
            res.steps.append(f"{cfd.choice(choice).label}：贷款额度上限{format_yuan(o.cap_yuan)}")


class NoAmount(_FormulaBase):
    """The document sets conditions but no amount: say so, never fill the gap."""

    kind: Literal["none"]
    reason: str

    def evaluate(self, table, res, describe_only=False):
        res.steps.append(self.reason)


Formula = Annotated[
    Union[RatioCap, RatioCapByChoice, Fixed, FixedByChoice, Step, RdComposite, TierUpgrade, RatioOfOther, Loan, NoAmount],
    Field(discriminator="kind"),
]
