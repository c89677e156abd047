"""Subsidy programs as schema-validated data: the models for corpus/rules/*.yaml and their loader.

Every rate, cap, threshold and date lives in the YAML; this module only knows their shapes. Facts and conditions are
in tools/vocab.py, formula kinds (with their behaviour) in tools/formulas.py. A malformed file fails loudly with a
`RulesError` naming the file and the program. Loading is pure: `load_rules` reads the folders it is given and checks
them against the clauses it is given; the catalog (tools/catalog.py) owns the result.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping

import yaml

from corpus.yamlio import load_yaml
from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError, model_validator

from corpus.models import ActivityPeriod
from tools.dated import DatedValue, boundaries, histories, history_problems, resolve
from tools.errors import PolicyError, UnknownProgramError
from tools.formulas import Formula
from tools.vocab import Condition, FactDef

RULES_DIR = Path(__file__).resolve().parent.parent / "corpus" / "rules"
FACTS_FILE = "facts.yaml"

Beneficiary = Literal["企业", "市政府", "个人"]
Period = Literal["每年", "每项目", "每项产品", "每项标准", "一次性", "分阶段一次性", "未规定"]
UNIT_ORDERED = {"yuan", "percent", "count", "pflops", "quantity", "date"}


class RulesError(PolicyError):
    """A rules file does not match the schema or refers to something that does not exist."""

    code = "rules_error"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # schemas build on first validation


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
    # the dates the rewarded activity must fall in, when this program's differ from its document's
    activity_period: ActivityPeriod | None = None
    # each item (product, standard, project, person) is computed and capped on its own; default from `period`
    each_item: bool | None = None
    # counters that multiply an item (“3个人拿到中级”, “国家标准2项”); none: each named item counts once
    item_units: list[str] = []
    # drafted by `policy-assistant docs add` from the money phrases of the text: validated like any program but
    # never used in answers until a person checks it against the clause and sets `status: reviewed`
    status: Literal["reviewed", "draft"] = "reviewed"
    review_note: str = ""
    _applied: list = PrivateAttr(default_factory=list)  # dated values a resolved copy was taken with
    _histories: list | None = PrivateAttr(default=None)  # memoised: the model is frozen

    @property
    def amount_kind(self) -> str:
        if self.formula.kind == "loan":
            return "loan"
        if self.formula.kind == "none":
            return "none"
        return "award"

    @property
    def per_item(self) -> bool:
        """Each product / standard / project / person is computed on its own (每项产品, 每项标准, 每项目)."""
        return self.each_item if self.each_item is not None else self.period in ("每项目", "每项产品", "每项标准")

    def names(self) -> list[str]:
        return [n for n in (self.name, self.short_name, *self.aliases) if n]

    # --- value histories (tools/dated.py) -------------------------------------------------------------------
    def histories(self) -> list[tuple[str, list[DatedValue]]]:
        if self._histories is None:
            self._histories = histories(self)
        return self._histories

    def change_dates(self) -> list[dt.date]:
        return sorted({day for _, h in self.histories() for day in boundaries(h)})

    def at(self, day: dt.date | None) -> "tuple[Program, list[DatedValue]]":
        """This program with every dated value taken on `day` (the latest when None), and the entries used (kept
        on the resolved program too, so a calculation over an already resolved edition still cites them)."""
        if not self.histories():
            return self, list(self._applied)
        used: list[DatedValue] = []
        resolved = resolve(self, day, used)
        resolved._applied = list(used)
        resolved._histories = []  # a resolved copy holds plain values only
        return resolved, used


class Across(Strict):
    """The rule also speaks when a same-type program (same stacking group) of another document is in play."""

    text: str  # shown with {names} = the programs' short names
    docs: list[str] = []  # the other documents it applies to ([] = any)
    except_docs: list[str] = []

    def applies_to(self, other_docs: set[str]) -> bool:
        others = other_docs - set(self.except_docs)
        return bool(others & set(self.docs)) if self.docs else bool(others)


class StackingRule(Strict):
    id: str
    kind: Literal["highest_not_both", "may_stack", "choose_one", "no_double_after_agreement", "clawback",
                  "one_per_direction", "mutually_exclusive", "budget_cap", "other"]
    text: str
    clause_id: str
    programs: list[str] = []
    across: Across | None = None


class RulesFile(Strict):
    doc_id: str
    programs: list[Program]
    stacking: list[StackingRule] = []


class FactsFile(Strict):
    facts: list[FactDef]

    @model_validator(mode="after")
    def _same_as_known(self) -> "FactsFile":
        units = {f.name: f.unit for f in self.facts}
        for f in self.facts:
            if f.same_as and units.get(f.same_as) != f.unit:
                raise ValueError(f"事实 {f.name} 的 same_as 指向未定义或单位不同的事实：{f.same_as}")
        return self


class RuleSet(Strict):
    facts: dict[str, FactDef]
    programs: tuple[Program, ...]  # reviewed programs: the ones answers use
    stacking: dict[str, tuple[StackingRule, ...]]
    drafts: tuple[Program, ...] = ()  # validated, never used in answers until reviewed

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
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RulesError(f"规则文件 {path.name} 不是合法的YAML：{exc}") from exc


def normalise_phrase(text: str) -> str:
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


class _ProgramCheck:
    """The `CheckContext` a formula validates itself with: facts, units, choices and quoted phrases of one program."""

    def __init__(self, program: Program, facts: Mapping[str, FactDef], clause_texts: Mapping[str, str], where: str):
        self.program, self.facts, self.clause_texts, self.where = program, facts, clause_texts, where
        self.own_text = normalise_phrase("".join(clause_texts[c] for c in program.clause_ids))
        self.ctx = ""

    def fail(self, message: str) -> None:
        raise RulesError(f"{self.where}：{self.ctx}{message}")

    def need_fact(self, name: str) -> FactDef:
        if name not in self.facts:
            self.fail(f"引用了未定义的事实“{name}”（请在 {FACTS_FILE} 中定义）")
        fd = self.facts[name]
        derived_ok = fd.derived and {fd.derived.current, fd.derived.previous} <= set(self.program.facts)
        if name not in self.program.facts and not derived_ok:
            self.fail(f"使用的事实“{name}”未列入该项目的 facts")
        return fd

    def need_unit(self, name: str, units: set[str]) -> FactDef:
        fd = self.need_fact(name)
        if fd.unit not in units:
            self.fail(f"事实 {name} 单位应为 {sorted(units)}，实际为 {fd.unit}")
        return fd

    def need_choices(self, name: str, keys: set[str]) -> None:
        fd = self.need_unit(name, {"choice"})
        defined = {c.key for c in fd.choices}
        if not keys <= defined:
            self.fail(f"选项 {sorted(keys - defined)} 未在事实 {name} 中定义")

    def need_phrase(self, phrase: str, clause_id: str | None = None) -> None:
        if not phrase:
            return
        text = normalise_phrase(self.clause_texts[clause_id]) if clause_id else self.own_text
        if normalise_phrase(phrase) not in text:
            self.fail(f"原文短语“{phrase}”未在条款 {clause_id or self.program.clause_ids} 中找到")


def _check_program(program: Program, facts: Mapping[str, FactDef], clause_texts: Mapping[str, str], where: str) -> None:
    """The program's histories (order, clause, phrase per value), then every version of it as of each change."""
    for path, history in program.histories():
        for problem in history_problems(history):
            raise RulesError(f"{where}：{path} 的取值历史有误：{problem}")
        for entry in history:
            if entry.clause_id is None:
                if entry.from_ is not None and history.index(entry) > 0:
                    raise RulesError(f"{where}：{path} 自{entry.from_}起的取值缺少条款编号 clause_id")
                continue
            if entry.clause_id not in clause_texts:
                raise RulesError(f"{where}：{path} 的取值引用了不存在的条款 {entry.clause_id}")
            if entry.phrase and normalise_phrase(entry.phrase) not in normalise_phrase(clause_texts[entry.clause_id]):
                raise RulesError(f"{where}：{path} 的原文短语“{entry.phrase}”未在条款 {entry.clause_id} 中找到")
            if not entry.phrase:
                raise RulesError(f"{where}：{path} 引用条款 {entry.clause_id} 的取值缺少原文短语 phrase")
    if not program.histories():
        _check_version(program, facts, clause_texts, where)
        return
    for day in [dt.date.min, *program.change_dates()]:
        _check_version(program.at(day)[0], facts, clause_texts, where + ("" if day == dt.date.min else f"（{day}起的版本）"))


def _check_version(program: Program, facts: Mapping[str, FactDef], clause_texts: Mapping[str, str], where: str) -> None:
    for cid in program.clause_ids:
        if cid not in clause_texts:
            raise RulesError(f"{where}：条款编号 {cid} 在语料中不存在")
        if not cid.startswith(program.doc_id + ":"):
            raise RulesError(f"{where}：条款 {cid} 不属于文件 {program.doc_id}")
    for name in program.facts:
        if name not in facts:
            raise RulesError(f"{where}：facts 中的“{name}”未在 {FACTS_FILE} 中定义")
    check = _ProgramCheck(program, facts, clause_texts, where)
    for i, cond in enumerate(program.conditions):
        check.ctx = f"条件{i + 1}（{cond.description}）"
        fact = check.need_fact(cond.fact)
        if cond.clause_id and cond.clause_id not in clause_texts:
            check.fail(f"条款编号 {cond.clause_id} 不存在")
        check.need_phrase(cond.phrase, cond.clause_id)
        if cond.ref_fact:
            ref = check.need_fact(cond.ref_fact)
            if ref.unit != fact.unit or cond.op not in ("ge", "gt", "le", "lt"):
                check.fail("比较的两个事实单位不同或运算不支持")
        elif cond.value is None and cond.op not in ("true", "false"):
            check.fail("缺少取值 value")
        else:
            _check_value(fact, cond.op, cond.value, f"{where} {check.ctx}")
        if cond.when:
            _check_value(check.need_fact(cond.when.fact), cond.when.op, cond.when.value, f"{where} {check.ctx} when")
    check.ctx = f"公式（{program.formula.kind}）"
    program.formula.check(check)
    for m in program.materials:
        if m.clause_id and m.clause_id not in clause_texts:
            raise RulesError(f"{where}：材料“{m.name}”的条款编号 {m.clause_id} 不存在")
    for cid in ([program.application.clause_id] if program.application else []) + \
            ([program.activity_period.clause_id] if program.activity_period else []):
        if cid and cid not in clause_texts:
            raise RulesError(f"{where}：条款编号 {cid} 不存在")
    if program.activity_period:
        check.ctx = "适用期间"
        check.need_phrase(program.activity_period.phrase, program.activity_period.clause_id)


def _read_facts(path: Path) -> list[FactDef]:
    try:
        return list(FactsFile.model_validate(_read_yaml(path)).facts)
    except ValidationError as exc:
        raise RulesError(f"规则文件 {path.name} 格式错误：{_fmt_validation(exc)}") from exc


def load_rules(rules_dirs: Iterable[Path | str], clause_texts: Mapping[str, str], doc_order: list[str]) -> RuleSet:
    """Read and validate facts.yaml plus every program file in the folders (the corpus's, then any extra ones).

    `clause_texts` are the corpus clauses rules may cite; `doc_order` lists the known document ids in order."""
    dirs = [Path(d) for d in rules_dirs]
    if not dirs or not (dirs[0] / FACTS_FILE).exists():
        raise RulesError(f"缺少事实词表 {dirs[0] / FACTS_FILE if dirs else FACTS_FILE}")
    facts: dict[str, FactDef] = {}
    for d in dirs:
        path = d / FACTS_FILE
        if not path.exists():
            continue
        for fd in _read_facts(path):
            if fd.name in facts:
                raise RulesError(f"{path.name}：事实“{fd.name}”重复定义")
            if fd.unit == "choice" and not fd.choices:
                raise RulesError(f"{path.name}：选择型事实“{fd.name}”没有选项")
            facts[fd.name] = fd
    for fd in facts.values():
        if fd.derived and not {fd.derived.current, fd.derived.previous} <= set(facts):
            raise RulesError(f"{FACTS_FILE}：派生事实“{fd.name}”引用了未定义的事实")

    programs: list[Program] = []
    drafts: list[Program] = []
    stacking: dict[str, tuple[StackingRule, ...]] = {}
    files = sorted((p for d in dirs for p in d.glob("*.yaml") if p.name != FACTS_FILE), key=lambda p: p.name)
    if not files:
        raise RulesError(f"{dirs[0]} 中没有规则文件")
    for path in files:
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise RulesError(f"规则文件 {path.name} 应为映射（doc_id / programs / stacking）")
        for i, raw in enumerate(data.get("programs") or []):
            pid = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
            try:
                Program.model_validate(raw)
            except ValidationError as exc:
                raise RulesError(f"规则文件 {path.name} 中的项目 {pid} 格式错误：{_fmt_validation(exc)}") from exc
        try:
            rules_file = RulesFile.model_validate(data)
        except ValidationError as exc:
            raise RulesError(f"规则文件 {path.name} 格式错误：{_fmt_validation(exc)}") from exc
        if rules_file.doc_id not in doc_order:
            raise RulesError(f"规则文件 {path.name}：文件编号 {rules_file.doc_id} 不存在")
        for program in rules_file.programs:
            where = f"规则文件 {path.name} 中的项目 {program.id}"
            if program.doc_id != rules_file.doc_id:
                raise RulesError(f"{where}：doc_id {program.doc_id} 与文件的 doc_id {rules_file.doc_id} 不一致")
            _check_program(program, facts, clause_texts, where)
            (drafts if program.status == "draft" else programs).append(program)
        for rule in rules_file.stacking:
            if rule.clause_id not in clause_texts:
                raise RulesError(f"规则文件 {path.name} 中的叠加规则 {rule.id}：条款编号 {rule.clause_id} 不存在")
        stacking[rules_file.doc_id] = tuple(rules_file.stacking)

    order = {doc: i for i, doc in enumerate(doc_order)}
    programs.sort(key=lambda p: order[p.doc_id])  # stable: keeps file order within a document
    drafts.sort(key=lambda p: order[p.doc_id])
    ids = [p.id for p in [*programs, *drafts]]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise RulesError(f"项目编号重复：{sorted(dupes)}")
    known = {p.id for p in programs}
    for p in drafts:
        for ref in [p.implements, *p.exclusive_with]:
            if ref and ref not in known | {d.id for d in drafts}:
                raise RulesError(f"项目 {p.id} 引用了不存在的项目 {ref}")
    for p in programs:
        for ref in [p.implements, *p.exclusive_with]:
            if ref and ref not in known:
                raise RulesError(f"项目 {p.id} 引用了不存在的项目 {ref}")
    for p in programs:
        for ref in [p.implements, *p.exclusive_with]:
            if ref in {d.id for d in drafts}:
                raise RulesError(f"已审核的项目 {p.id} 不能引用草稿项目 {ref}（请先审核 {ref}）")
    draft_ids = {d.id for d in drafts}
    for doc_id, rules in list(stacking.items()):
        for rule in rules:
            missing = set(rule.programs) - known - draft_ids
            if missing:
                raise RulesError(f"叠加规则 {rule.id} 引用了不存在的项目 {sorted(missing)}")
        # a stacking rule that names draft programs waits for their review
        stacking[doc_id] = tuple(r for r in rules if not set(r.programs) & draft_ids)
    return RuleSet(facts=facts, programs=tuple(programs), stacking=stacking, drafts=tuple(drafts))
