"""Form descriptions for the calculator and the eligibility profile, read from the rules' fact vocabulary."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Money fields are in 万元: a bare number means 万元; a typed unit (元, 万, 亿) is read as written.
MONEY_UNIT = "万元"
BARE_NUMBER = re.compile(r"\s*\d[\d,，]*(?:\.\d+)?\s*")
# An amount in yuan below this is asked about (“是80元还是80万元？”): every money threshold in the rules is in 万元.
IMPLAUSIBLE_YUAN = 1000

UNIT_HINT = {
    "yuan": "单位：万元。只填数字按万元计（80 即 80万元）；也可写“300000元”“1.5亿”",
    "percent": "百分比，如“25%”",
    "count": "数量（个/家/项）",
    "pflops": "算力规模（P），如“500P”",
    "quantity": "数量",
    "date": "日期，如 2024-05-01",
    "text": "",
}

YES, NO = "是", "否"


@dataclass(frozen=True)
class FieldSpec:
    """One input: fact name, Chinese label, unit, choices as (label, key) pairs, hint."""

    name: str
    label: str
    unit: str
    choices: list[tuple[str, str]] = field(default_factory=list)
    multiple: bool = False
    hint: str = ""
    profile_key: str | None = None
    custom: bool = False  # a choice that also accepts typed values (place names)

    @property
    def kind(self) -> str:
        if self.unit == "bool":
            return "bool"
        if self.unit == "choice":
            return "choice"
        return "text"

    @property
    def shown_label(self) -> str:
        """The label as the form shows it: money fields carry their unit (年度购买算力服务总额（万元））."""
        return f"{self.label}（{MONEY_UNIT}）" if self.unit == "yuan" else self.label


def _spec(fd) -> FieldSpec:
    choices = [(c.label, c.key) for c in getattr(fd, "choices", []) or []]
    hint = UNIT_HINT["yuan"] if fd.unit == "yuan" else (getattr(fd, "description", "") or UNIT_HINT.get(fd.unit, ""))
    return FieldSpec(name=fd.name, label=fd.label, unit=fd.unit, choices=choices,
                     multiple=bool(getattr(fd, "multiple", False)), hint=hint,
                     profile_key=getattr(fd, "profile_key", None))


def program_fields(catalog, program_id: str) -> list[FieldSpec]:
    """The facts the calculator needs for one program, in the rules' order."""
    vocab = catalog.facts
    return [_spec(vocab[name]) for name in catalog.program(program_id).facts if name in vocab]


def collect_values(specs: list[FieldSpec], values: list[Any]) -> dict[str, Any]:
    """Turn widget values into facts: blanks dropped, 是/否 to booleans, numbers kept as typed (tools parse them)."""
    facts: dict[str, Any] = {}
    for spec, value in zip(specs, values):
        if value is None or value == "" or value == []:
            continue
        if spec.kind == "bool":
            if value not in (YES, NO):
                continue
            facts[spec.name] = value == YES
        elif spec.unit == "yuan" and isinstance(value, str) and BARE_NUMBER.fullmatch(value):
            facts[spec.name] = value.strip() + "万"  # the field is in 万元
        elif isinstance(value, str):
            facts[spec.name] = value.strip()
        else:
            facts[spec.name] = value
    return facts


def implausible_amounts(specs: list[FieldSpec], values: list[Any]) -> list[str]:
    """Questions about money typed so small it is probably a unit slip: “是80元还是80万元？” (the value as typed)."""
    from tools.errors import PolicyError
    from tools.money import parse_money

    asks = []
    for spec, value in zip(specs, values):
        if spec.unit != "yuan" or not isinstance(value, str) or not value.strip() or BARE_NUMBER.fullmatch(value):
            continue
        try:
            amount = parse_money(value.strip())
        except PolicyError:
            continue  # the calculator reports it, repeating what was typed
        if 0 < amount < IMPLAUSIBLE_YUAN:
            number = re.sub(r"[^\d.]", "", str(amount))
            asks.append(f"“{spec.label}”填写的是“{value.strip()}”，金额很小：是{number}元还是{number}万元？"
                        f"如是{number}万元，请改填“{number}”或“{number}万”。")
    return asks


def _locations(catalog) -> tuple[list[str], list[str], list[str]]:
    """Provinces, cities and districts named by the corpus (other places may be typed in)."""
    provinces, cities, districts = [], [], []
    for doc in catalog.documents.values():
        path = list(doc.region_path)
        for level, bucket in zip(range(3), (provinces, cities, districts)):
            if len(path) > level and path[level] not in bucket:
                bucket.append(path[level])
    return provinces, cities, districts


def profile_sections(catalog) -> list[tuple[str, list[FieldSpec]]]:
    """The eligibility profile form (tools.eligibility.Profile): who and where, then each document's facts.

    Field names are paths into the profile: `name`, `location.city`, `legal_person` (profile_key facts),
    `facts.<fact name>` for the rest of the vocabulary.
    """
    provinces, cities, districts = _locations(catalog)
    vocab = catalog.facts
    basic = [
        FieldSpec("name", "企业名称（可选）", "text"),
        FieldSpec("location.province", "所在省份", "choice", [(p, p) for p in provinces], hint="可直接输入其他省份", custom=True),
        FieldSpec("location.city", "所在城市", "choice", [(c, c) for c in cities], hint="可直接输入其他城市", custom=True),
        FieldSpec("location.district", "所在区（县）", "choice", [(d, d) for d in districts], hint="可直接输入其他区县", custom=True),
        FieldSpec("applicant_type", "申请主体", "choice", [(x, x) for x in ("企业", "市政府", "个人")]),
    ]
    seen: set[str] = set()
    for fd in vocab.values():
        if fd.profile_key:
            basic.append(FieldSpec(**{**_spec(fd).__dict__, "name": fd.profile_key}))
            seen.add(fd.name)
    sections: list[tuple[str, list[FieldSpec]]] = [("企业基本情况", basic)]
    by_doc: dict[str, list[FieldSpec]] = {}
    for program in catalog.programs:
        for name in program.facts:
            if name in seen or name not in vocab:
                continue
            seen.add(name)
            by_doc.setdefault(program.doc_id, []).append(FieldSpec(**{**_spec(vocab[name]).__dict__, "name": "facts." + name}))
    for doc_id, specs in by_doc.items():
        doc = catalog.document(doc_id)
        sections.append((f"{doc.region}｜{doc.short_title} 相关情况", specs))
    return sections


def collect_profile(specs: list[FieldSpec], values: list[Any]) -> dict[str, Any]:
    """Nest the flat form values into the profile shape: {name, location: {...}, legal_person, facts: {...}}."""
    profile: dict[str, Any] = {}
    for path, value in collect_values(specs, values).items():
        target = profile
        *parents, leaf = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return profile
