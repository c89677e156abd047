"""Enterprise self-check: every program as eligible / not eligible / needs information, with ceilings and stacking.

`check_eligibility(profile, as_of)` runs the pure calculator on each program with the profile's facts; the profile
names its location (province/city/district), legal-person status, industry, 规上, and any facts of the shared
vocabulary in corpus/rules/facts.yaml.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

import yaml

from corpus.yamlio import load_yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.calculator import calculate, region_status
from tools.errors import InvalidInputError, PolicyError
from tools.money import format_yuan
from tools.schema import Calculation

if TYPE_CHECKING:
    from tools.catalog import PolicyCatalog

Status = Literal["eligible", "not_eligible", "needs_info"]
STATUS_ZH = {"eligible": "符合条件", "not_eligible": "不符合条件", "needs_info": "需要补充信息"}


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")

    province: str | None = None
    city: str | None = None
    district: str | None = None

    def label(self) -> str:
        return "".join(p for p in (self.province, self.city, self.district) if p) or "未填写"


class Profile(BaseModel):
    """What an enterprise knows about itself; `facts` uses the names in corpus/rules/facts.yaml."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    location: Location = Field(default_factory=Location)
    applicant_type: Literal["企业", "市政府", "个人"] = "企业"
    legal_person: bool | None = None
    industry: str | None = None
    above_scale: bool | None = None
    facts: dict[str, Any] = Field(default_factory=dict)


class EligibilityItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program_id: str
    program: str
    doc_id: str
    region: str
    level: str
    beneficiary: str
    status: Status
    status_zh: str
    amount_yuan: int | None = None
    potential_amount_yuan: int | None = None
    amount_kind: str
    reasons: list[str] = Field(default_factory=list)
    ask: list[str] = Field(default_factory=list)
    ask_facts: list[str] = Field(default_factory=list)
    stacking_group: str | None = None
    validity_status: str = ""
    window_open: bool | None = None
    validity_message: str = ""
    calculation: Calculation


class StackingNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    text: str
    clause_id: str
    programs: list[str] = Field(default_factory=list)


class EligibilityReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: dt.date
    profile_name: str = ""
    location: str = ""
    items: list[EligibilityItem]
    stacking: list[StackingNote] = Field(default_factory=list)
    summary: str = ""
    # the headline total split by standing: programs that can still be applied for / expired or window closed
    total_in_force_yuan: int = 0
    total_expired_yuan: int = 0

    def by_status(self, status: Status) -> list[EligibilityItem]:
        return [i for i in self.items if i.status == status]


# --- profile → facts ----------------------------------------------------------------------------------------
def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile YAML file."""
    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"找不到企业信息文件：{path}") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"企业信息文件 {path.name} 不是合法的YAML：{exc}") from None
    return parse_profile(data or {})


def parse_profile(data: Mapping[str, Any] | Profile) -> Profile:
    if isinstance(data, Profile):
        return data
    try:
        return Profile.model_validate(dict(data))
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise InvalidInputError(f"企业信息格式有误：{errs}") from None


def profile_facts(profile: Profile, catalog: "PolicyCatalog") -> dict[str, Any]:
    """The profile's facts in vocabulary names (profile_key fields mapped onto their facts)."""
    vocab = catalog.facts
    facts: dict[str, Any] = {}
    for fd in vocab.values():
        if fd.profile_key:
            value = getattr(profile, fd.profile_key, None)
            if value is not None:
                facts[fd.name] = value
    unknown = [k for k in profile.facts if k not in vocab and k not in ("activity_year", "activity_date")]
    if unknown:
        raise InvalidInputError(f"企业信息中有未定义的事实：{'、'.join(unknown)}（请使用 corpus/rules/facts.yaml 中的名称）。")
    facts.update({k: v for k, v in profile.facts.items() if v is not None})
    return facts


# --- the check -------------------------------------------------------------------------------------------
def _item(program, calc: Calculation, region_ok: bool | None, region_msg: str, applicant: str) -> EligibilityItem:
    reasons: list[str] = []
    ask = list(calc.missing_details or calc.missing)
    ask_facts = list(calc.missing_facts)
    if region_ok is False:
        status: Status = "not_eligible"
        reasons.append(region_msg)
    elif program.beneficiary != applicant:
        status = "not_eligible"
        note = f"（{program.beneficiary_note}）" if program.beneficiary_note else ""
        reasons.append(f"本项目的受益主体为{program.beneficiary}{note}，{applicant}不能直接申领。")
    elif calc.eligible is False:
        status = "not_eligible"
    elif calc.eligible is True and region_ok is True:
        status = "eligible"
    else:
        status = "needs_info"
        if region_ok is None:
            ask.insert(0, region_msg)
    reasons.extend(u for u in calc.unmet if u not in reasons)
    v = calc.validity
    return EligibilityItem(
        program_id=program.id, program=program.name, doc_id=program.doc_id, region=program.region.label,
        level=program.level, beneficiary=program.beneficiary, status=status, status_zh=STATUS_ZH[status],
        amount_yuan=calc.amount_yuan if status == "eligible" else None,
        potential_amount_yuan=(None if status != "needs_info" else
                               calc.amount_yuan if calc.eligible else calc.potential_amount_yuan),
        amount_kind=calc.amount_kind, reasons=reasons, ask=ask, ask_facts=ask_facts,
        stacking_group=program.stacking_group, validity_status=v.status if v else "",
        window_open=v.window_open if v else None, validity_message=v.message if v else "", calculation=calc,
    )


_STATUS_ORDER = {"eligible": 0, "needs_info": 1, "not_eligible": 2}


def _sort_key(item: EligibilityItem):
    amount = item.amount_yuan if item.amount_yuan is not None else (item.potential_amount_yuan or 0)
    loan = 1 if item.amount_kind == "loan" else 0  # loan ceilings are not subsidies: list them after awards
    return (_STATUS_ORDER[item.status], loan, -amount, item.program_id)


def _stacking_notes(items: list[EligibilityItem], catalog: "PolicyCatalog") -> list[StackingNote]:
    get_program, stacking_rules = catalog.program, catalog.stacking
    live = [i for i in items if i.status != "not_eligible"]
    live_docs = {i.doc_id for i in live}
    live_ids = {i.program_id for i in live}
    notes: list[StackingNote] = []
    for doc_id in sorted(live_docs):
        for rule in stacking_rules(doc_id):
            if rule.kind == "budget_cap":
                continue
            if rule.programs and len(set(rule.programs) & live_ids) < 2:
                continue
            notes.append(StackingNote(kind=rule.kind, text=rule.text, clause_id=rule.clause_id,
                                      programs=sorted(set(rule.programs) & live_ids) if rule.programs else
                                      sorted(i.program_id for i in live if i.doc_id == doc_id)))
    for i in live:
        program = get_program(i.program_id)
        target = program.implements
        if target and target in live_ids:
            names = f"{program.short_name}、{get_program(target).short_name}"
            notes.append(StackingNote(
                kind="same_clause", clause_id=program.clause_ids[0], programs=[i.program_id, target],
                text=f"{names}是同一条款：申报指南是措施条款的年度申报，同一事项只申报一次，不重复享受。"))
    groups: dict[str, list[EligibilityItem]] = {}
    for i in live:
        if i.stacking_group and not (get_program(i.program_id).implements in live_ids):
            groups.setdefault(i.stacking_group, []).append(i)
    for group, members in sorted(groups.items()):
        docs = {m.doc_id for m in members}
        if len(docs) < 2:
            continue
        names = "、".join(get_program(m.program_id).short_name or m.program for m in members)
        ids = [m.program_id for m in members]
        for doc_id in sorted(docs):
            for rule in stacking_rules(doc_id):
                if rule.across and rule.across.applies_to(docs - {doc_id}):
                    notes.append(StackingNote(kind=rule.kind, text=rule.across.text.format(names=names),
                                              clause_id=rule.clause_id, programs=ids))
    return notes


def check_eligibility(profile: Mapping[str, Any] | Profile, as_of: dt.date,
                      catalog: "PolicyCatalog | None" = None) -> EligibilityReport:
    """Every program for this profile, sorted: eligible by amount desc, then needs-info, then not eligible."""
    if catalog is None:
        from tools.catalog import default_catalog

        catalog = default_catalog()
    catalog = catalog.at(as_of)  # revised or repealed documents' programs drop out; dated values as of the date
    prof = parse_profile(profile)
    facts = profile_facts(prof, catalog)
    loc = prof.location.model_dump()
    items: list[EligibilityItem] = []
    for program in catalog.programs:
        try:
            calc = calculate(program, facts, as_of, catalog)
        except PolicyError as exc:
            raise InvalidInputError(f"企业信息有误（{program.name}）：{exc.message_zh}") from None
        region_ok, region_msg = region_status(program, loc)
        items.append(_item(program, calc, region_ok, region_msg, prof.applicant_type))
    items.sort(key=_sort_key)
    eligible = [i for i in items if i.status == "eligible"]
    needs = [i for i in items if i.status == "needs_info"]
    # one figure per clause: a guide program and the measure it implements are the same support; totals are split
    # into programs that can still be applied for and those whose document expired or whose window closed
    per_clause: dict[str, tuple[int, bool]] = {}
    for i in eligible:
        if i.amount_kind == "award" and i.amount_yuan:
            key = catalog.program(i.program_id).implements or i.program_id
            # as agent.compose.claimable: in force, or a call stating no validity, with no closed window
            live = i.validity_status in ("in_force", "unstated") and i.window_open is not False
            best = per_clause.get(key)
            if best is None or (live, i.amount_yuan) > (best[1], best[0]):
                per_clause[key] = (i.amount_yuan, live)
    live_total = sum(a for a, live in per_clause.values() if live)
    dead_total = sum(a for a, live in per_clause.values() if not live)

    summary = (f"共{len(items)}个项目：符合条件{len(eligible)}个，需要补充信息{len(needs)}个，"
               f"不符合条件{len(items) - len(eligible) - len(needs)}个。")
    if eligible:
        parts = []
        if live_total or not dead_total:
            parts.append(f"现行有效项目的补助上限合计{format_yuan(live_total)}")
        if dead_total:
            parts.append(f"已失效或申报已截止的项目按原规定合计{format_yuan(dead_total)}，现已不能申报")
        summary += ("；".join(parts) + "（申报指南与其对应措施条款只计一次；"
                    "未扣除“就高不重复”等不可叠加部分，仅供参考）。")
    return EligibilityReport(as_of=as_of, profile_name=prof.name, location=prof.location.label(), items=items,
                             stacking=_stacking_notes(items, catalog), summary=summary,
                             total_in_force_yuan=live_total, total_expired_yuan=dead_total)
