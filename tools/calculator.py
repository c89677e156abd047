"""The pure subsidy calculator: a program's rules (from the catalog) + facts + as-of date → a `Calculation`.

No files, no clock, no globals: everything comes from the catalog passed in. Amounts are exact (`Fraction` inside,
integer yuan out, fractional yuan rounded down). Expiry of a document never changes an amount; validity is reported
beside it. Activity dated outside the period a program covers is not covered by it (no amount, the dates said).

Reserved fact keys besides the vocabulary: `activity_year` (int), `activity_date` (date) or `activity_from` /
`activity_to` (dates) — when the activity happened; `province` / `city` / `district` — where the applicant is.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any, Mapping

from tools.errors import InvalidFactError
from tools.formulas import FormulaResult
from tools.money import format_yuan
from tools.rules import Program
from tools.schema import Calculation, Total
from tools.vocab import FactTable, date_zh, eval_condition, parse_facts, unmet_text

if TYPE_CHECKING:
    from tools.catalog import PolicyCatalog

LOCATION_KEYS = ("province", "city", "district")
ACTIVITY_KEYS = ("activity_year", "activity_date", "activity_from", "activity_to")


def _catalog(catalog: "PolicyCatalog | None") -> "PolicyCatalog":
    if catalog is not None:
        return catalog
    from tools.catalog import default_catalog

    return default_catalog()


def fact_table(program: Program, facts: Mapping[str, Any], catalog: "PolicyCatalog") -> FactTable:
    return parse_facts(catalog.facts, list(program.facts), facts)


def describe_formula(program: Program | str, catalog: "PolicyCatalog | None" = None) -> str:
    """The program's formula in Chinese, without any facts (shown when asking for facts)."""
    catalog = _catalog(catalog)
    program = catalog.program(program) if isinstance(program, str) else program
    program = program.at(None)[0]  # the latest values of a dated rule
    return program.formula.describe(FactTable(vocab=catalog.facts, values={}))


def program_facts(program_id: str, catalog: "PolicyCatalog | None" = None) -> list[dict]:
    """The facts a program needs, for a form builder: name, label, unit, choices, multiple, optional, cues."""
    catalog = _catalog(catalog)
    program = catalog.program(program_id)
    optional = set(getattr(program.formula, "optional_inputs", lambda: [])())
    out = []
    for name in program.facts:
        fd = catalog.facts[name]
        out.append({
            "name": fd.name, "label": fd.label, "unit": fd.unit, "multiple": fd.multiple,
            "choices": [{"key": c.key, "label": c.label, "aliases": list(c.aliases)} for c in fd.choices],
            "optional": name in optional, "cues": list(fd.cues), "description": fd.description,
            "profile_key": fd.profile_key,
        })
    return out


def missing_details(program: Program, names: list[str], catalog: "PolicyCatalog") -> list[str]:
    """Each missing fact with the threshold its clause sets (“新增单体智能算力规模（P）（新增单体智能算力规模400P（含）
    以上）”): the label alone when the program sets no condition on it (an amount the formula reads)."""
    vocab = catalog.facts
    out = []
    for name in names:
        fd = vocab[name]
        conds = [c.description for c in program.conditions if c.fact == name or c.ref_fact == name]
        # a fact a derived one is computed from: the derived fact's condition says what it must reach
        conds += [c.description for c in program.conditions
                  if (d := vocab[c.fact].derived) is not None and name in (d.current, d.previous)]
        conds = list(dict.fromkeys(c for c in conds if c and c != fd.label))
        out.append(f"{fd.label}（{'，'.join(conds)}）" if conds else fd.label)
    return out


# --- region and period -----------------------------------------------------------------------------------------
def _norm_place(name: str | None) -> str | None:
    import re

    if not name:
        return None
    name = name.strip()
    return re.sub(r"(省|市|区|县)$", "", name) or name


def region_status(program: Program, loc: Mapping[str, Any]) -> tuple[bool | None, str]:
    """(True, '') when the location is inside the program's region, (False, reason) when outside, (None, ask)."""
    region = program.region
    want = [("province", region.province), ("city", region.city), ("district", region.district)]
    have = {k: _norm_place(loc.get(k)) for k in LOCATION_KEYS}
    finest = next((n for _, n in reversed(want) if n), None)
    if finest and _norm_place(finest) in set(have.values()):
        return True, ""  # the program's own place, whichever field it was typed in (city: 思明区)
    for key, needed in want:
        if not needed:
            continue
        got = have.get(key)
        if got is None:
            if key == "province" and have.get("city"):
                continue  # a city alone is enough to compare below
            return None, f"请提供企业所在{ {'province': '省份', 'city': '城市', 'district': '区（县）'}[key] }。"
        if got != _norm_place(needed):
            where = "".join(str(loc[k]) for k in LOCATION_KEYS if loc.get(k))
            return False, f"地域不符：本项目适用于{region.label}，企业所在地为{where}。"
    return True, ""


def _activity_span(facts: Mapping[str, Any]) -> tuple[dt.date, dt.date, str] | None:
    """The stated time of the activity as a date range (a year or a day) and how to name it."""
    raw_date, raw_year = facts.get("activity_date"), facts.get("activity_year")
    if facts.get("activity_from") and facts.get("activity_to"):
        first, last = (d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
                       for d in (facts["activity_from"], facts["activity_to"]))
        if first.month == 1 and first.day == 1 and last.month == 12 and last.day == 31 and first.year == last.year:
            return first, last, f"{first.year}年"
        same_month = (first.year, first.month) == (last.year, last.month)
        label = f"{first.year}年{first.month}月" if same_month else f"{date_zh(first)}至{date_zh(last)}"
        return first, last, label
    if raw_date:
        day = raw_date if isinstance(raw_date, dt.date) else dt.date.fromisoformat(str(raw_date))
        return day, day, date_zh(day)
    if raw_year not in (None, ""):
        try:
            year = int(raw_year)
        except (TypeError, ValueError):
            raise InvalidFactError(f"活动年份应为四位年份，无法识别“{raw_year}”。") from None
        if len(str(year)) != 4:
            raise InvalidFactError(f"活动年份应为四位年份，“{raw_year}”不合常理，请核对。")
        return dt.date(year, 1, 1), dt.date(year, 12, 31), f"{year}年"
    return None


def period_unmet(program: Program, facts: Mapping[str, Any], catalog: "PolicyCatalog") -> tuple[str | None, str | None]:
    """(reason the activity is outside the covered period, assumption when it only partly overlaps)."""
    span = _activity_span(facts)
    period = catalog.activity_period(program)
    if span is None or period is None:
        return None, None
    start, end, label = span
    covered = f"{date_zh(period.from_)}至{date_zh(period.to)}"
    if end < period.from_ or start > period.to:
        return (f"所述活动发生在{label}，不在{catalog.doc_label(program.doc_id)}覆盖的期间（{period.label}：{covered}）内，"
                f"不属于该文件支持范围（原文：“{period.phrase}”）。"), None
    if start < period.from_ or end > period.to:
        return None, (f"{label}只有{covered}期间发生的部分属于{period.label}；以上按您给出的金额测算，"
                      f"如其中含该期间以外的部分，应只计期间内的金额（可告诉我期间内的金额重新测算）。")
    return None, None


# --- the calculation -------------------------------------------------------------------------------------------
def calculate(program_id: str | Program, facts: Mapping[str, Any], as_of: dt.date,
              catalog: "PolicyCatalog | None" = None) -> Calculation:
    """Eligibility, ceiling amount (integer yuan, rounded down) and Chinese worked steps for one program."""
    from tools.validity import validity_for

    catalog = _catalog(catalog)
    program = catalog.program(program_id) if isinstance(program_id, str) else program_id
    program, dated = program.at(as_of)  # a value that changed on a date: the one in force on the as-of date
    facts = dict(facts or {})
    table = fact_table(program, facts, catalog)

    unmet: list[str] = []
    unknown = False
    loc = {k: str(facts[k]).strip() for k in LOCATION_KEYS if facts.get(k)}
    if loc:
        ok, reason = region_status(program, loc)
        if ok is False:
            unmet.append(reason)
    outside, partial = period_unmet(program, facts, catalog)
    if outside:
        unmet.append(outside)
    period = catalog.activity_period(program) if (outside or partial) else None
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
            unmet.append(unmet_text(cond, table))

    res: FormulaResult = FormulaResult()
    if outside:
        res.steps.append("活动不在文件覆盖的期间内，不按该文件计算金额。")
    else:
        program.formula.evaluate(table, res)
    unmet.extend(res.unmet)
    kind = program.amount_kind
    steps = list(res.steps)
    dated_clauses = []
    for i, entry in enumerate(dated):
        if not (entry.clause_id and entry.from_) or any(entry is e for e in dated[:i]):
            continue
        clause = catalog.clause(entry.clause_id)
        steps.append(f"适用标准：“{entry.phrase}”（{catalog.doc_label(clause.doc_id)}{clause.label_path}，"
                     f"{date_zh(entry.from_)}起适用；截至{date_zh(as_of)}按此计算）。")
        dated_clauses.append(entry.clause_id)
    assumptions = list(program.assumptions) + res.assumptions + ([partial] if partial else [])
    notes = list(table.notes) + list(program.notes) + res.notes
    if program.amount_note:
        notes.append(program.amount_note)

    potential: int | None = None
    if kind != "none" and res.amount is not None:
        floored = math.floor(res.amount)
        if floored != res.amount:
            steps.append(f"不足1元的部分舍去（向下取整）：{format_yuan(res.amount)} → {format_yuan(floored)}")
        potential = floored
        if floored == 0 and not res.unmet and not unmet:
            unmet.append("按文件规定的公式计算，补助金额为0元。")

    # `eligible` reflects the conditions only (an unknown answer such as "不知道" is never a yes). The ceiling is
    # reported whenever the formula's inputs are known; with conditions still unknown it is conditional
    # ("若其余条件均满足"), which the steps say, and `eligible` stays None.
    amount: int | None
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

    clause_ids = list(dict.fromkeys([*program.clause_ids, *(c.clause_id for c in program.conditions if c.clause_id),
                                     *dated_clauses, *([period.clause_id] if period else [])]))
    validity = validity_for(program.doc_id, as_of, catalog)
    if validity.status != "in_force" or validity.window_open is False:
        notes.append(validity.message + ("申报截止" if validity.status == "unstated" else "文件失效或申报截止")
                     + "不改变按政策计算的金额，但可能已无法申报。")
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
    if program.beneficiary_note:
        notes.insert(0, f"受益主体：{program.beneficiary_note}。")
    missing_names = [n for n in table.missing]
    return Calculation(
        program_id=program.id,
        program=program.name,
        eligible=eligible,
        amount_yuan=amount,
        steps=steps,
        missing=[table.label(n) for n in missing_names],
        missing_facts=missing_names,
        missing_details=missing_details(program, missing_names, catalog),
        unmet=unmet,
        assumptions=list(dict.fromkeys(assumptions)),
        citations=[catalog.citation(c) for c in clause_ids],
        beneficiary=program.beneficiary,
        amount_kind=kind,  # type: ignore[arg-type]
        period=program.period,
        payment_form=program.payment_form,
        notes=list(dict.fromkeys(notes)),
        validity=validity,
        potential_amount_yuan=potential if eligible is None else None,
        formula=program.formula.describe(FactTable(vocab=catalog.facts, values={})),
        materials=materials,
        application=application,
    )


def total(parts: list[tuple[Calculation, int]], label: str, *, in_force: bool | None = None) -> Total:
    """The sum of payable ceilings: each (calculation, count) counts `count` times (several people, products)."""
    amounts = [(c, n) for c, n in parts if c.amount_yuan and c.eligible is not False]
    values = [c.amount_yuan * n for c, n in amounts]  # type: ignore[operator]
    terms = [f"{format_yuan(c.amount_yuan)} × {n}" if n > 1 else format_yuan(c.amount_yuan) for c, n in amounts]
    amount = sum(values)
    steps = [f"{' + '.join(terms)} = {format_yuan(amount)}"] if len(terms) > 1 or any(n > 1 for _, n in amounts) else []
    return Total(label=label, amount_yuan=amount, program_ids=list(dict.fromkeys(c.program_id for c, _ in amounts)),
                 parts_yuan=values, steps=steps, in_force=in_force)
