"""Draft rules from a new notice's money phrases, for a person to review (`policy-assistant docs add`).

Per clause it looks for the patterns subsidy notices use — 达到…以上 / 超过…（thresholds）, 最高X% / 按…的X%（rates）,
不超过Y万元（caps）, 每满…给予…（steps）, 给予Y万元（fixed amounts）, 分别给予A、B（amounts by option） — and writes
one program per clause with the exact phrases it read, the clause id, new facts named after the words of the text,
and `status: draft`. Drafts are validated like any rule but never used in answers until marked reviewed. Words the
drafter uses are data (corpus/drafting.yaml); no document is known here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corpus.models import Clause
from tools.money import find_money, parse_money

DRAFTING_FILE = Path(__file__).resolve().parent / "drafting.yaml"
_AMOUNT = r"\d+(?:\.\d+)?(?:亿|万)?元"
_THRESHOLD = re.compile(
    r"(?P<verb>达到|达|超过|高于|不少于|不低于)(?P<amount>" + _AMOUNT + r")(?P<incl>[（(]含[）)])?(?P<tail>以上)?")
_COUNT_THRESHOLD = re.compile(r"(?P<subject>[\u4e00-\u9fff]{2,12}?)(?P<verb>超过|达到|达|不少于|不低于)(?P<n>\d+)(?P<unit>家|个|项|人)(?P<incl>[（(]含[）)])?(?P<tail>以上)?")
_RATE = re.compile(r"(?:最高|按)(?P<base>[\u4e00-\u9fff]{0,16}?)的?(?P<rate>\d+(?:\.\d+)?%)")
_CAP = re.compile(r"(?:最高不超过|最高不超|不超过|最高为|最高)(?P<cap>" + _AMOUNT + r")")
_STEP = re.compile(r"每满(?P<step>" + _AMOUNT + r")给予(?P<award>" + _AMOUNT + r")")
_FIXED = re.compile(r"给予(?P<amount>" + _AMOUNT + r")(?:的)?(?:一次性)?(?:奖励|补助|补贴|资助|支持)")
_MULTI = re.compile(r"分别给予(?P<list>" + _AMOUNT + r"(?:、" + _AMOUNT + r")+)")


@dataclass
class Drafting:
    title_verbs: list[str]
    subject_prefixes: list[str]
    cue_trims: list[str]
    choice_keys: dict[str, str]
    review_note: str

    @classmethod
    def load(cls, path: Path = DRAFTING_FILE) -> "Drafting":
        return cls(**yaml.safe_load(path.read_text(encoding="utf-8")))


@dataclass
class Draft:
    programs: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _yuan(raw: str) -> int:
    return int(parse_money(raw))


def _title(clause: Clause) -> str:
    label = clause.labels[-1] if clause.labels else ""
    return re.sub(r"^(?:第[一二三四五六七八九十]+条|[一二三四五六七八九十]+、|（[一二三四五六七八九十\d]+）)\s*", "", label).strip()


def _body(clause: Clause) -> str:
    lines = clause.text.split("\n")
    return "\n".join(lines[1:]) if lines and clause.labels and lines[0].strip() == clause.labels[-1].strip() else clause.text


def _sentence_start(text: str, pos: int) -> int:
    start = max(text.rfind(p, 0, pos) for p in "。；;\n")
    return start + 1


class Drafter:
    def __init__(self, doc_id: str, region_path: list[str], level: str, words: Drafting | None = None,
                 known_facts: dict[str, Any] | None = None):
        self.doc_id, self.region_path, self.level = doc_id, region_path, level
        self.words = words or Drafting.load()
        self.known = known_facts or {}
        self.slug = re.sub(r"[^0-9a-z]+", "_", doc_id.lower()).strip("_")

    # --- facts ---------------------------------------------------------------------------------------------
    def _label(self, subject: str) -> str:
        s = subject.strip("，,；;。 的")
        changed = True
        while changed:
            changed = False
            for p in self.words.subject_prefixes:
                if s.startswith(p) and len(s) > len(p) + 1:
                    s, changed = s[len(p):], True
        return s

    def _cues(self, label: str) -> list[str]:
        cues = [label]
        short = label
        for t in self.words.cue_trims:
            short = short.replace(t, "")
        if len(short) >= 2:
            cues.append(short)
        return list(dict.fromkeys(cues))

    def _fact(self, draft: Draft, name: str, label: str, unit: str, **extra) -> str:
        for fname, fd in self.known.items():  # reuse a fact of the vocabulary with the same label
            if getattr(fd, "label", None) == label and getattr(fd, "unit", None) == unit:
                return fname
        if not any(f["name"] == name for f in draft.facts):
            fact = {"name": name, "label": label, "unit": unit}
            if unit != "choice":
                fact["cues"] = self._cues(label)
            fact.update(extra)
            draft.facts.append(fact)
        return name

    def _short(self, title: str) -> str:
        """“支持算力租赁” → “算力租赁”: the clause title without its leading verb."""
        for v in self.words.title_verbs:
            if title.startswith(v) and len(title) > len(v) + 1:
                return title[len(v):]
        return title

    def _options(self, before: str, n: int) -> str | None:
        """The options a “分别给予A、B” sentence lists before the amounts (“市级、省级”), as written."""
        known = "|".join(re.escape(k) for k in sorted(self.words.choice_keys, key=len, reverse=True))
        runs = re.findall(rf"((?:{known})(?:、(?:{known}))+)", before) if known else []
        if runs and len(runs[-1].split("、")) == n:
            return runs[-1]
        seqs = re.findall(r"([\u4e00-\u9fff]{1,12}(?:、[\u4e00-\u9fff]{1,12})+)", before)
        if not seqs or len(seqs[-1].split("、")) != n:
            return None
        items = seqs[-1].split("、")
        width = min(len(items[1]) if n > 2 else 4, 4)
        items[0], items[-1] = items[0][-width:], items[-1][:width]
        joined = "、".join(items)
        return joined if joined in before else None

    # --- one clause ----------------------------------------------------------------------------------------
    def clause(self, clause: Clause, region_name: str, draft: Draft) -> None:
        text = _body(clause)
        if not (find_money(text) or "%" in text):
            return
        key = clause.id.split(":", 1)[1].replace(".", "_")
        title = _title(clause) or key
        facts: list[str] = []
        conditions: list[dict[str, Any]] = []
        base_fact: str | None = None
        base_label = ""
        for m in _THRESHOLD.finditer(text):
            start = _sentence_start(text, m.start())
            subject = text[start:m.start()]
            for sep in ("，", ","):
                subject = subject.rsplit(sep, 1)[-1]
            label = self._label(subject)
            if not label:
                continue
            op = "gt" if m.group("verb") in ("超过", "高于") else "ge"
            name = self._fact(draft, f"{self.slug}_{key}_yuan", label, "yuan")
            base_fact, base_label = base_fact or name, base_label or label
            end = m.end() + (1 if text[m.end():m.end() + 1] == "的" else 0)
            incl = "（含本数）" if op == "ge" else "（不含本数）"
            conditions.append({"fact": name, "op": op, "value": _yuan(m.group("amount")),
                               "description": f"{label}{m.group('verb')}{m.group('amount')}{'以上' if m.group('tail') else ''}{incl}",
                               "phrase": text[start:end].lstrip("，,")})
            facts.append(name)
            break  # the first money threshold is the base; more conditions are for the reviewer
        for m in _COUNT_THRESHOLD.finditer(text):
            op = "gt" if m.group("verb") == "超过" else "ge"
            label = self._label(m.group("subject"))
            name = self._fact(draft, f"{self.slug}_{key}_count", label, "count")
            conditions.append({"fact": name, "op": op, "value": int(m.group("n")),
                               "description": f"{label}{m.group('verb')}{m.group('n')}{m.group('unit')}{'以上' if m.group('tail') else ''}",
                               "phrase": m.group(0)})
            facts.append(name)
            break
        formula: dict[str, Any] | None = None
        period = "每年" if "每年" in text or "年度" in text else ("一次性" if "一次性" in text else "未规定")
        cap = _CAP.search(text)
        if (step := _STEP.search(text)):
            base_fact = base_fact or self._fact(draft, f"{self.slug}_{key}_yuan", title, "yuan")
            formula = {"kind": "step", "step": {"base": base_fact, "step_yuan": _yuan(step.group("step")),
                                                "award_per_step_yuan": _yuan(step.group("award")),
                                                **({"cap_yuan": _yuan(cap.group("cap"))} if cap and cap.start() > step.end() else {}),
                                                "phrase": text[step.start():(cap.end() if cap and cap.start() > step.end() else step.end())]}}
        elif (multi := _MULTI.search(text)):
            amounts = [_yuan(a) for a in re.findall(_AMOUNT, multi.group("list"))]
            before = text[_sentence_start(text, multi.start()):multi.start()]
            options = self._options(before, len(amounts))
            if options is None:
                draft.notes.append(f"{clause.id}：“{multi.group(0)}”的各档对象未能识别，未起草。")
                return
            labels = options.split("、")
            keys = [self.words.choice_keys.get(lab, f"c{i + 1}") for i, lab in enumerate(labels)]
            name = self._fact(draft, f"{self.slug}_{key}_choice", f"{self._short(title)}的类别", "choice",
                              cues=[self._short(title)], choices=[{"key": k, "label": lab, "aliases": [lab]} for k, lab in zip(keys, labels)])
            facts.append(name)
            conditions.append({"fact": name, "op": "in", "value": keys, "description": f"属于{'、'.join(labels)}之一",
                               "phrase": options})
            formula = {"kind": "fixed_by_choice", "choice_fact": name, "amounts": dict(zip(keys, amounts)),
                       "phrase": multi.group(0)}
            period = "一次性" if "一次性" in text else period
        elif (rate := _RATE.search(text)):
            base_fact = base_fact or self._fact(draft, f"{self.slug}_{key}_yuan", self._label(rate.group("base")) or title, "yuan")
            formula = {"kind": "ratio_cap", "base": base_fact, "rate": rate.group("rate")}
            if cap:
                formula["cap_yuan"] = _yuan(cap.group("cap"))
            lo, hi = rate.start(), (cap.end() if cap and cap.start() > rate.start() else rate.end())
            formula["phrase"] = text[lo:hi]
        elif (fixed := _FIXED.search(text)):
            formula = {"kind": "fixed", "amount_yuan": _yuan(fixed.group("amount")), "phrase": fixed.group(0)}
            if "最高" in text[max(0, fixed.start() - 6):fixed.start()]:
                formula["ceiling_only"] = True
        if formula is None:
            draft.notes.append(f"{clause.id}：有金额但未识别出计算方式，未起草，请人工编写。")
            return
        for name in ([base_fact] if base_fact else []):
            if name not in facts:
                facts.append(name)
        region = {"province": self.region_path[0]}
        if len(self.region_path) > 1:
            region["city"] = self.region_path[1]
        if len(self.region_path) > 2:
            region["district"] = self.region_path[2]
        short = self._short(title)
        draft.programs.append({
            "id": f"{self.doc_id}-{key.replace('_', '-')}", "name": f"{region_name}{title}", "short_name": title,
            "aliases": list(dict.fromkeys([title, short])), "doc_id": self.doc_id, "clause_ids": [clause.id],
            "beneficiary": "企业", "region": region, "level": self.level, "facts": list(dict.fromkeys(facts)),
            "conditions": conditions, "formula": formula, "period": period,
            "status": "draft", "review_note": self.words.review_note,
        })


def draft_rules(doc_id: str, clauses: list[Clause], region_name: str, region_path: list[str], level: str,
                known_facts: dict[str, Any] | None = None, words: Drafting | None = None) -> Draft:
    drafter = Drafter(doc_id, region_path, level, words, known_facts)
    draft = Draft()
    for clause in clauses:
        if clause.kind == "body" and not clause.id.split(":", 1)[1].startswith("notes"):
            drafter.clause(clause, region_name, draft)
    return draft


def rules_yaml(doc_id: str, title: str, draft: Draft) -> str:
    """corpus/rules/<doc>.yaml for the drafts: one block per program, small mappings inline."""
    from corpus.intake import _flow

    lines = [f"# {title}：由 `policy-assistant docs add` 按原文金额表述起草（status: draft）。",
             "# 审核：逐项对照条款原文核对，补充别名（aliases）和提问用词后把 status 改为 reviewed；草稿不会用于回答。",
             f"doc_id: {doc_id}", "", "programs:"]
    for p in draft.programs:
        first = True
        for key, value in p.items():
            if key == "conditions":
                lines.append("    conditions:")
                lines += [f"      - {_flow(c)}" for c in value]
                continue
            lines.append(("  - " if first else "    ") + f"{key}: {_flow(value)}")
            first = False
        lines.append("")
    if not draft.programs:
        lines[-1] = "programs: []"
    return "\n".join(lines).rstrip() + "\n"


def facts_yaml(facts: list[dict[str, Any]], header: bool) -> str:
    from corpus.intake import _flow

    lines = ["# Facts the added notices need (drafted by `policy-assistant docs add`; review labels and cues).",
             "facts:"] if header else []
    lines += [f"  - {_flow(f)}" for f in facts]
    return "\n".join(lines) + ("\n" if lines else "")
