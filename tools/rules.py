"""Subsidy programs as schema-validated data: the models for corpus/rules/*.yaml and their loader.

Every rate, cap, threshold and date lives in the YAML; this module only knows their shapes. A malformed file fails
loudly with a `RulesError` naming the file and the program.
"""
from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from tools.errors import PolicyError, UnknownProgramError

RULES_DIR = Path(__file__).resolve().parent.parent / "corpus" / "rules"
FACTS_FILE = "facts.yaml"

Unit = Literal["yuan", "percent", "count", "pflops", "quantity", "bool", "choice", "date", "text"]
Op = Literal["ge", "gt", "le", "lt", "eq", "true", "false", "in"]
Beneficiary = Literal["企业", "市政府", "个人"]
Period = Literal["每年", "每项目", "每项产品", "每项标准", "一次性", "分阶段一次性", "未规定"]

OP_ZH = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "=", "true": "是", "false": "否", "in": "属于"}
UNIT_ORDERED = {"yuan", "percent", "count", "pflops", "quantity", "date"}


class RulesError(PolicyError):
    """A rules file does not match the schema or refers to something that does not exist."""

    code = "rules_error"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- fact vocabulary --------------------------------------------------------------------------------
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
    name: str
    label: str
    unit: Unit
    cues: list[str] = []
    choices: list[Choice] = []
    multiple: bool = False
    min: Any = None
    max: Any = None
    derived: Derivation | None = None
    profile_key: str | None = None
    description: str = ""

    def choice(self, key: str) -> Choice:
        for c in self.choices:
            if c.key == key:
                return c
        raise KeyError(key)


# --- conditions and formulas ------------------------------------------------------------------------
class When(Strict):
    fact: str
    op: Op
    value: Any = None


class Condition(Strict):
    """One requirement; `phrase` is the exact clause wording it comes from (以上 → ge, 超过 → gt)."""

    fact: str
    op: Op
    value: Any = None
    ref_fact: str | None = None
    description: str
    phrase: str
    clause_id: str | None = None
    when: When | None = None


class Rate(Strict):
    """A rate as written ('50%', '0.6%', '1/3'); `.fraction` is exact."""

    written: str

    @property
    def fraction(self) -> Fraction:
        from tools.money import parse_rate

        return parse_rate(self.written)


def _rate(v: Any) -> Any:
    if isinstance(v, (str, int)) and not isinstance(v, bool):
        return {"written": str(v)}
    return v


# A rate field: YAML may write it bare ("50%", "1/3"); stored as Rate(written=...).
RateField = Annotated[Rate, BeforeValidator(_rate)]


class _FormulaBase(Strict):
    phrase: str = ""


class RatioCap(_FormulaBase):
    kind: Literal["ratio_cap"]
    base: str
    rate: RateField
    cap_yuan: int | None = None



class RatioOption(Strict):
    rate: RateField
    cap_yuan: int | None = None



class RatioCapByChoice(_FormulaBase):
    kind: Literal["ratio_cap_by_choice"]
    choice_fact: str
    base: str
    options: dict[str, RatioOption]


class Fixed(_FormulaBase):
    kind: Literal["fixed"]
    amount_yuan: int
    ceiling_only: bool = False


class FixedByChoice(_FormulaBase):
    kind: Literal["fixed_by_choice"]
    choice_fact: str
    amounts: dict[str, int]
    ceiling_only: bool = False


class StepPart(Strict):
    base: str
    step_yuan: int
    award_per_step_yuan: int
    cap_yuan: int | None = None
    phrase: str = ""


class Step(_FormulaBase):
    kind: Literal["step"]
    step: StepPart


class BonusTier(Strict):
    op: Literal["gt", "ge"]
    value: Any
    award_yuan: int
    phrase: str


class GrowthBonus(Strict):
    """A fixed award picked by the highest growth tier met (not cumulative), once a spend threshold is met."""

    requires: Condition
    growth_fact: str
    tiers: list[BonusTier]


class ExtraPercent(Strict):
    requires: Condition
    rate: RateField
    of: Literal["step", "step_and_bonus"]
    phrase: str



class RdComposite(_FormulaBase):
    kind: Literal["rd_composite"]
    step: StepPart
    growth_bonus: GrowthBonus
    extra: ExtraPercent


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
    tiers: list[Tier]


class RatioOfOther(_FormulaBase):
    """A share of another body's actual subsidy (安徽: 省级按市级实际补助的1/3)."""

    kind: Literal["ratio_of_other"]
    base: str
    rate: RateField
    cap_yuan: int | None = None
    payer: str
    payee: str



class LoanOption(Strict):
    cap_yuan: int
    rd_ratio: RateField | None = None
    rd_fact: str | None = None



class Loan(_FormulaBase):
    kind: Literal["loan"]
    choice_fact: str
    options: dict[str, LoanOption]
    interest_rate: RateField
    max_years: int



class NoAmount(_FormulaBase):
    kind: Literal["none"]
    reason: str


Formula = Annotated[
    Union[RatioCap, RatioCapByChoice, Fixed, FixedByChoice, Step, RdComposite, TierUpgrade, RatioOfOther, Loan, NoAmount],
    Field(discriminator="kind"),
]


# --- program ---------------------------------------------------------------------------------------
class Region(Strict):
    province: str
    city: str | None = None
    district: str | None = None

    @property
    def label(self) -> str:
        return "".join(p for p in (self.province, self.city, self.district) if p)


class Material(Strict):
    name: str
    attachment: str | None = None
    clause_id: str | None = None


class ApplicationInfo(Strict):
    deadline: dt.date | None = None
    deadline_time: str | None = None
    channel: str = ""
    note: str = ""
    clause_id: str | None = None


class Program(Strict):
    id: str
    name: str
    short_name: str = ""
    aliases: list[str]
    doc_id: str
    clause_ids: list[str]
    implements: str | None = None
    beneficiary: Beneficiary
    beneficiary_note: str = ""
    region: Region
    level: Literal["province", "city", "district"]
    facts: list[str]
    conditions: list[Condition] = []
    formula: Formula
    period: Period
    payment_form: str = ""
    amount_note: str = ""
    materials: list[Material] = []
    application: ApplicationInfo | None = None
    stacking_group: str | None = None
    exclusive_with: list[str] = []
    assumptions: list[str] = []
    notes: list[str] = []

    @property
    def amount_kind(self) -> str:
        if self.formula.kind == "loan":
            return "loan"
        if self.formula.kind == "none":
            return "none"
        return "award"


class StackingRule(Strict):
    id: str
    kind: Literal["highest_not_both", "may_stack", "choose_one", "no_double_after_agreement", "clawback",
                  "one_per_direction", "mutually_exclusive", "budget_cap", "other"]
    text: str
    clause_id: str
    programs: list[str] = []


class RulesFile(Strict):
    doc_id: str
    programs: list[Program]
    stacking: list[StackingRule] = []


class FactsFile(Strict):
    facts: list[FactDef]


class RuleSet(Strict):
    facts: dict[str, FactDef]
    programs: tuple[Program, ...]
    stacking: dict[str, tuple[StackingRule, ...]]

    def program(self, program_id: str) -> Program:
        for p in self.programs:
            if p.id == program_id:
                return p
        raise UnknownProgramError(f"未找到补助项目“{program_id}”。可用 `policy-assistant programs` 查看全部项目编号。")


# --- loading and cross-checks -------------------------------------------------------------------------
def _fmt_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(x) for x in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"规则文件 {path.name} 不是合法的YAML：{exc}") from exc


def _normalise_phrase(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("(", "（").replace(")", "）").replace(",", "，").replace(";", "；").replace(":", "：")


def _check_value(fact: FactDef, op: str, value: Any, where: str) -> None:
    if op in ("true", "false"):
        if fact.unit != "bool":
            raise RulesError(f"{where}：条件“{op}”只能用于是/否事实，{fact.name} 的单位是 {fact.unit}")
        return
    if fact.unit == "bool":
        raise RulesError(f"{where}：是/否事实 {fact.name} 只能用 true/false 条件")
    if op == "in":
        if fact.unit != "choice" or not isinstance(value, list):
            raise RulesError(f"{where}：“in”条件需要选择型事实和取值列表（{fact.name}）")
        keys = {c.key for c in fact.choices}
        bad = [v for v in value if v not in keys]
        if bad:
            raise RulesError(f"{where}：{fact.name} 没有选项 {bad}")
        return
    if fact.unit == "choice":
        if op != "eq" or value not in {c.key for c in fact.choices}:
            raise RulesError(f"{where}：选择型事实 {fact.name} 只能用 eq/in 且取值必须是已定义选项（{value!r}）")
        return
    if fact.unit == "date" and not isinstance(value, dt.date):
        raise RulesError(f"{where}：日期事实 {fact.name} 的取值必须是日期（{value!r}）")
    if fact.unit in ("yuan", "count") and (not isinstance(value, int) or isinstance(value, bool)):
        raise RulesError(f"{where}：{fact.name} 的取值必须是整数（元/个），不能是 {value!r}")
    if fact.unit in ("percent", "pflops", "quantity") and (isinstance(value, bool) or not isinstance(value, (int, str))):
        raise RulesError(f"{where}：{fact.name} 的取值必须是整数或数字字符串（{value!r}）")


def _check_program(program: Program, facts: dict[str, FactDef], clause_texts: dict[str, str], where: str) -> None:
    for cid in program.clause_ids:
        if cid not in clause_texts:
            raise RulesError(f"{where}：条款编号 {cid} 在语料中不存在")
        if not cid.startswith(program.doc_id + ":"):
            raise RulesError(f"{where}：条款 {cid} 不属于文件 {program.doc_id}")
    own_text = _normalise_phrase("".join(clause_texts[c] for c in program.clause_ids))

    def need_fact(name: str, ctx: str) -> FactDef:
        if name not in facts:
            raise RulesError(f"{where}：{ctx} 引用了未定义的事实“{name}”（请在 {FACTS_FILE} 中定义）")
        if name not in program.facts and not (facts[name].derived and
                                              {facts[name].derived.current, facts[name].derived.previous} <= set(program.facts)):
            raise RulesError(f"{where}：{ctx} 使用的事实“{name}”未列入该项目的 facts")
        return facts[name]

    def need_phrase(phrase: str, ctx: str, clause_id: str | None = None) -> None:
        if not phrase:
            return
        text = _normalise_phrase(clause_texts[clause_id]) if clause_id else own_text
        if _normalise_phrase(phrase) not in text:
            raise RulesError(f"{where}：{ctx} 的原文短语“{phrase}”未在条款 {clause_id or program.clause_ids} 中找到")

    for name in program.facts:
        if name not in facts:
            raise RulesError(f"{where}：facts 中的“{name}”未在 {FACTS_FILE} 中定义")
    for i, cond in enumerate(program.conditions):
        ctx = f"条件{i + 1}（{cond.description}）"
        fact = need_fact(cond.fact, ctx)
        if cond.clause_id and cond.clause_id not in clause_texts:
            raise RulesError(f"{where}：{ctx} 的条款编号 {cond.clause_id} 不存在")
        need_phrase(cond.phrase, ctx, cond.clause_id)
        if cond.ref_fact:
            ref = need_fact(cond.ref_fact, ctx)
            if ref.unit != fact.unit or cond.op not in ("ge", "gt", "le", "lt"):
                raise RulesError(f"{where}：{ctx} 比较的两个事实单位不同或运算不支持")
        elif cond.value is None and cond.op not in ("true", "false"):
            raise RulesError(f"{where}：{ctx} 缺少取值 value")
        else:
            _check_value(fact, cond.op, cond.value, f"{where} {ctx}")
        if cond.when:
            _check_value(need_fact(cond.when.fact, ctx), cond.when.op, cond.when.value, f"{where} {ctx} when")

    f = program.formula
    fctx = f"公式（{f.kind}）"
    need_phrase(f.phrase, fctx)

    def need_unit(name: str, units: set[str]) -> FactDef:
        fd = need_fact(name, fctx)
        if fd.unit not in units:
            raise RulesError(f"{where}：{fctx} 的事实 {name} 单位应为 {sorted(units)}，实际为 {fd.unit}")
        return fd

    def need_choices(name: str, keys: set[str]) -> None:
        fd = need_unit(name, {"choice"})
        defined = {c.key for c in fd.choices}
        if not keys <= defined:
            raise RulesError(f"{where}：{fctx} 的选项 {sorted(keys - defined)} 未在事实 {name} 中定义")

    if f.kind == "ratio_cap":
        need_unit(f.base, {"yuan"})
    elif f.kind == "ratio_cap_by_choice":
        need_unit(f.base, {"yuan"})
        need_choices(f.choice_fact, set(f.options))
    elif f.kind == "fixed_by_choice":
        need_choices(f.choice_fact, set(f.amounts))
    elif f.kind in ("step", "rd_composite"):
        need_unit(f.step.base, {"yuan"})
        need_phrase(f.step.phrase, fctx)
        if f.step.step_yuan <= 0:
            raise RulesError(f"{where}：{fctx} 的 step_yuan 必须为正数")
        if f.kind == "rd_composite":
            gb = f.growth_bonus
            need_unit(gb.growth_fact, {"percent"})
            need_unit(gb.requires.fact, {"yuan"})
            need_phrase(gb.requires.phrase, fctx)
            for t in gb.tiers:
                need_phrase(t.phrase, fctx)
            need_unit(f.extra.requires.fact, {"yuan"})
            need_phrase(f.extra.requires.phrase, fctx)
            need_phrase(f.extra.phrase, fctx)
    elif f.kind == "tier_upgrade":
        need_unit(f.base, {"yuan"})
        need_unit(f.received_fact, {"yuan"})
        if f.previous_max_fact:
            need_unit(f.previous_max_fact, {"yuan"})
        if f.tier_fact:
            need_unit(f.tier_fact, {"yuan"})
        thresholds = [t.threshold_yuan for t in f.tiers]
        awards = [t.award_yuan for t in f.tiers]
        if thresholds != sorted(set(thresholds)) or awards != sorted(awards):
            raise RulesError(f"{where}：{fctx} 的档次必须按门槛与奖励递增排列")
    elif f.kind == "ratio_of_other":
        need_unit(f.base, {"yuan"})
    elif f.kind == "loan":
        need_choices(f.choice_fact, set(f.options))
        for opt in f.options.values():
            if opt.rd_fact:
                need_unit(opt.rd_fact, {"yuan"})
    for m in program.materials:
        if m.clause_id and m.clause_id not in clause_texts:
            raise RulesError(f"{where}：材料“{m.name}”的条款编号 {m.clause_id} 不存在")
    if program.application and program.application.clause_id and program.application.clause_id not in clause_texts:
        raise RulesError(f"{where}：申报信息的条款编号 {program.application.clause_id} 不存在")


def load_rules(rules_dir: Path | str | None = None) -> RuleSet:
    """Read and validate facts.yaml plus every program file in `rules_dir` (default corpus/rules)."""
    from corpus import clause_index, load_documents

    rules_dir = Path(rules_dir) if rules_dir else RULES_DIR
    facts_path = rules_dir / FACTS_FILE
    if not facts_path.exists():
        raise RulesError(f"缺少事实词表 {facts_path}")
    try:
        facts_file = FactsFile.model_validate(_read_yaml(facts_path))
    except ValidationError as exc:
        raise RulesError(f"规则文件 {facts_path.name} 格式错误：{_fmt_validation(exc)}") from exc
    facts: dict[str, FactDef] = {}
    for fd in facts_file.facts:
        if fd.name in facts:
            raise RulesError(f"{facts_path.name}：事实“{fd.name}”重复定义")
        if fd.unit == "choice" and not fd.choices:
            raise RulesError(f"{facts_path.name}：选择型事实“{fd.name}”没有选项")
        facts[fd.name] = fd
    for fd in facts.values():
        if fd.derived and not {fd.derived.current, fd.derived.previous} <= set(facts):
            raise RulesError(f"{facts_path.name}：派生事实“{fd.name}”引用了未定义的事实")

    clause_texts = {cid: c.text for cid, c in clause_index().items()}
    doc_ids = {d.id for d in load_documents()}
    programs: list[Program] = []
    stacking: dict[str, tuple[StackingRule, ...]] = {}
    files = sorted(p for p in rules_dir.glob("*.yaml") if p.name != FACTS_FILE)
    if not files:
        raise RulesError(f"{rules_dir} 中没有规则文件")
    for path in files:
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise RulesError(f"规则文件 {path.name} 应为映射（doc_id / programs / stacking）")
        raw_programs = data.get("programs") or []
        for i, raw in enumerate(raw_programs):
            pid = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
            try:
                Program.model_validate(raw)
            except ValidationError as exc:
                raise RulesError(f"规则文件 {path.name} 中的项目 {pid} 格式错误：{_fmt_validation(exc)}") from exc
        try:
            rules_file = RulesFile.model_validate(data)
        except ValidationError as exc:
            raise RulesError(f"规则文件 {path.name} 格式错误：{_fmt_validation(exc)}") from exc
        if rules_file.doc_id not in doc_ids:
            raise RulesError(f"规则文件 {path.name}：文件编号 {rules_file.doc_id} 不存在")
        for program in rules_file.programs:
            where = f"规则文件 {path.name} 中的项目 {program.id}"
            if program.doc_id != rules_file.doc_id:
                raise RulesError(f"{where}：doc_id {program.doc_id} 与文件的 doc_id {rules_file.doc_id} 不一致")
            _check_program(program, facts, clause_texts, where)
            programs.append(program)
        for rule in rules_file.stacking:
            if rule.clause_id not in clause_texts:
                raise RulesError(f"规则文件 {path.name} 中的叠加规则 {rule.id}：条款编号 {rule.clause_id} 不存在")
        stacking[rules_file.doc_id] = tuple(rules_file.stacking)

    doc_order = {d.id: i for i, d in enumerate(load_documents())}
    programs.sort(key=lambda p: doc_order[p.doc_id])  # stable: keeps file order within a document
    ids = [p.id for p in programs]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RulesError(f"项目编号重复：{sorted(dupes)}")
    known = set(ids)
    for p in programs:
        for ref in [p.implements, *p.exclusive_with]:
            if ref and ref not in known:
                raise RulesError(f"项目 {p.id} 引用了不存在的项目 {ref}")
    for rules in stacking.values():
        for rule in rules:
            missing = set(rule.programs) - known
            if missing:
                raise RulesError(f"叠加规则 {rule.id} 引用了不存在的项目 {sorted(missing)}")
    return RuleSet(facts=facts, programs=tuple(programs), stacking=stacking)


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    return load_rules()


def load_programs() -> tuple[Program, ...]:
    return default_rules().programs


def get_program(program_id: str) -> Program:
    return default_rules().program(program_id)


def fact_vocabulary() -> dict[str, FactDef]:
    return default_rules().facts


def stacking_rules(doc_id: str | None = None) -> list[StackingRule]:
    rules = default_rules().stacking
    if doc_id:
        return list(rules.get(doc_id, ()))
    return [r for rs in rules.values() for r in rs]


def program_summaries() -> list[dict]:
    """One dict per program for lists and pickers: id, name, region, doc, level, beneficiary, amount kind, aliases."""
    from corpus import get_document
    from corpus.models import LEVEL_ZH

    out = []
    for p in load_programs():
        doc = get_document(p.doc_id)
        out.append({
            "id": p.id,
            "name": p.name,
            "short_name": p.short_name or p.name,
            "aliases": list(p.aliases),
            "doc_id": p.doc_id,
            "document": doc.title,
            "doc_short_title": doc.short_title,
            "doc_number": doc.doc_number,
            "region": p.region.label,
            "region_path": [x for x in (p.region.province, p.region.city, p.region.district) if x],
            "level": p.level,
            "level_zh": LEVEL_ZH[p.level],
            "beneficiary": p.beneficiary,
            "amount_kind": p.amount_kind,
            "period": p.period,
            "payment_form": p.payment_form,
            "clause_ids": list(p.clause_ids),
            "implements": p.implements,
            "facts": list(p.facts),
        })
    return out
