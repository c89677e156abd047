"""Golden tests as data: `corpus/tests/<doc>.yaml` holds cases (facts, as-of → eligible, amount, the clause words
used), OpenFisca-style, at every threshold and cap (n−1, n, n+1). `policy-assistant rules test` and the test suite
run them through the real calculator; a failing case names its file, id and what differed.

A case:

    - id: compute-voucher/300000
      program: xm-compute-voucher
      facts: {compute_purchase_yuan: 300000}
      eligible: true          # true / false / null (conditions still unknown)
      amount_yuan: 150000     # the ceiling; null when not computable; 0 when not eligible
      words: [对年度购买总额达到30万元以上的]   # must be in a clause the calculation cites
      note: 30万 × 50% = 15万；“以上”含本数
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.errors import PolicyError

TESTS_DIR = "tests"  # inside each corpus folder: corpus/tests/<doc>.yaml


class GoldenError(PolicyError):
    code = "golden_error"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GoldenCase(Strict):
    id: str
    program: str
    facts: dict[str, Any] = {}
    as_of: dt.date | None = None
    eligible: bool | None
    amount_yuan: int | None
    potential_yuan: int | None = None  # the conditional ceiling when `eligible` is null
    words: list[str] = Field(default_factory=list)
    unmet: list[str] = Field(default_factory=list)  # words that must appear in the reasons it is not met
    steps: list[str] = Field(default_factory=list)  # words that must appear in the worked steps
    validity: Literal["in_force", "expired", "not_yet", "unstated"] | None = None
    note: str = ""


class GoldenFile(Strict):
    doc_id: str
    as_of: dt.date
    cases: list[GoldenCase]


@dataclass
class CaseResult:
    path: str
    doc_id: str
    case: GoldenCase
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def golden_files(corpus_dirs: Iterable[Path | str]) -> list[Path]:
    return sorted(p for d in corpus_dirs for p in (Path(d) / TESTS_DIR).glob("*.yaml"))


def load_golden(path: Path) -> GoldenFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return GoldenFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise GoldenError(f"测试文件 {path.name} 不是合法的YAML：{exc}") from exc
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:6])
        raise GoldenError(f"测试文件 {path.name} 格式错误：{errs}") from exc


def _norm(text: str) -> str:
    from tools.rules import normalise_phrase

    return normalise_phrase(text)


def run_case(case: GoldenCase, golden: GoldenFile, catalog, path: str = "") -> CaseResult:
    """One case through the real calculator (draft programs too, so a reviewer can test a draft)."""
    from tools.calculator import calculate

    result = CaseResult(path, golden.doc_id, case)
    program = catalog.program_or_draft(case.program)
    if program is None:
        result.problems.append(f"项目 {case.program} 不存在")
        return result
    if program.doc_id != golden.doc_id:
        result.problems.append(f"项目 {case.program} 属于文件 {program.doc_id}，不属于 {golden.doc_id}")
    try:
        calc = calculate(program, case.facts, case.as_of or golden.as_of, catalog)
    except PolicyError as exc:
        result.problems.append(f"计算出错：{exc.message_zh}")
        return result
    if calc.eligible is not case.eligible:
        result.problems.append(f"是否符合：应为 {case.eligible}，实际 {calc.eligible}（{'；'.join(calc.unmet) or '—'}）")
    if calc.amount_yuan != case.amount_yuan:
        result.problems.append(f"金额：应为 {case.amount_yuan}，实际 {calc.amount_yuan}")
    if case.potential_yuan is not None and calc.potential_amount_yuan != case.potential_yuan:
        result.problems.append(f"条件金额：应为 {case.potential_yuan}，实际 {calc.potential_amount_yuan}")
    cited = _norm("".join(c.text for c in calc.citations))
    for word in case.words:
        if _norm(word) not in cited:
            result.problems.append(f"所引条款中没有“{word}”")
    unmet = _norm("".join(calc.unmet))
    for word in case.unmet:
        if _norm(word) not in unmet:
            result.problems.append(f"未满足的条件中没有“{word}”（实际：{'；'.join(calc.unmet) or '—'}）")
    steps = _norm("".join(calc.steps))
    for word in case.steps:
        if _norm(word) not in steps:
            result.problems.append(f"计算过程中没有“{word}”")
    if case.validity and (calc.validity is None or calc.validity.status != case.validity):
        result.problems.append(f"效力：应为 {case.validity}，实际 {calc.validity.status if calc.validity else None}")
    return result


def run_goldens(catalog, corpus_dirs: Iterable[Path | str] | None = None) -> list[CaseResult]:
    """Every case of every golden file in the catalog's folders (or the folders given)."""
    results: list[CaseResult] = []
    for path in golden_files(corpus_dirs if corpus_dirs is not None else catalog.source_dirs):
        golden = load_golden(path)
        if golden.doc_id not in catalog.documents:
            raise GoldenError(f"测试文件 {path.name}：文件编号 {golden.doc_id} 不存在")
        ids = [c.id for c in golden.cases]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise GoldenError(f"测试文件 {path.name}：用例编号重复 {dupes}")
        results += [run_case(case, golden, catalog, str(path)) for case in golden.cases]
    return results


def summary_zh(results: list[CaseResult]) -> list[str]:
    """Per document: “xm-measures：72 例，全部通过” or the failures."""
    lines = []
    by_doc: dict[str, list[CaseResult]] = {}
    for r in results:
        by_doc.setdefault(r.doc_id, []).append(r)
    for doc_id, rs in by_doc.items():
        failed = [r for r in rs if not r.ok]
        lines.append(f"{doc_id}：{len(rs)} 例，" + ("全部通过" if not failed else f"{len(failed)} 例未通过"))
        for r in failed:
            lines.append(f"  ✗ {r.case.id}（{r.case.program}）：" + "；".join(r.problems))
    return lines
