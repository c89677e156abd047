"""The rules YAML loads, matches the architecture's program ids, cites real clauses, and fails loudly when malformed."""
from __future__ import annotations

import ast
import functools
import io
import re
import shutil
import tokenize
from pathlib import Path

import pytest
import yaml

from tools.catalog import default_catalog
from tools.rules import RULES_DIR, RulesError
from tools.rules import load_rules as _load_rules


def load_programs():
    return default_catalog().programs


def get_program(program_id):
    return default_catalog().program(program_id)


def program_summaries():
    return default_catalog().program_summaries()


def load_rules(folder=None):
    """The rules of `folder` (default: the corpus's), checked against the corpus clauses."""
    from corpus import clause_index, load_documents

    return _load_rules([folder or RULES_DIR], {cid: c.text for cid, c in clause_index().items()},
                       [d.id for d in load_documents()])

ARCHITECTURE_IDS = [
    "xm-compute-voucher", "xm-computing-center", "xm-key-tech", "xm-national-lab", "xm-public-platform",
    "xm-rd-investment", "xm-standards", "xm-revenue-growth", "xm-scale-up", "xm-little-giant", "xm-listing",
    "xm-first-set", "xm-maas", "xm-scenario", "xm-rd-loan",
    "xm-guide-computing-center", "xm-guide-key-tech", "xm-guide-platform", "xm-guide-maas", "xm-guide-scenario",
    "sm-compute", "sm-model-algorithm", "sm-corpus-data", "sm-filing", "sm-digital-transform",
    "sm-scenario-benchmark", "sm-featured-building", "sm-talent-title",
    "qz-compute-service", "qz-lingyan", "qz-software-product", "qz-hardware-product", "qz-scenario",
    "ah-computing-center", "ah-compute-cost", "ah-data-supplier", "ah-key-enterprise", "ah-competition",
]
REPO = Path(__file__).resolve().parent.parent


def test_all_architecture_programs_present_in_document_order():
    ids = [p.id for p in load_programs()]
    assert sorted(ids) == sorted(ARCHITECTURE_IDS)
    assert ids == ARCHITECTURE_IDS  # grouped by document in documents.yaml order


def test_beneficiaries_follow_the_documents():
    city_gov = {p.id for p in load_programs() if p.beneficiary == "市政府"}
    assert city_gov == {"ah-computing-center", "ah-data-supplier", "ah-key-enterprise"}
    assert get_program("sm-talent-title").beneficiary == "个人"


def test_no_amount_programs_are_marked():
    none_kind = {p.id for p in load_programs() if p.formula.kind == "none"}
    assert {"qz-compute-service", "qz-lingyan", "qz-software-product", "qz-hardware-product", "qz-scenario",
            "ah-data-supplier", "ah-competition", "xm-computing-center", "xm-guide-computing-center"} == none_kind
    assert get_program("xm-rd-loan").amount_kind == "loan"


def test_guide_programs_implement_measures_with_same_numbers():
    """Each guide program links to its measure program and restates the same rates and caps."""
    for p in load_programs():
        if p.doc_id != "xm-guide":
            continue
        assert p.implements, p.id
        measure = get_program(p.implements)
        assert p.formula.kind == measure.formula.kind
        if p.formula.kind == "ratio_cap":
            assert (p.formula.rate.fraction, p.formula.cap_yuan) == (measure.formula.rate.fraction, measure.formula.cap_yuan)
        if p.formula.kind == "ratio_cap_by_choice":
            for key, opt in p.formula.options.items():
                other = measure.formula.options[key]
                assert (opt.rate.fraction, opt.cap_yuan) == (other.rate.fraction, other.cap_yuan)
        assert p.application and p.application.deadline.isoformat() == "2024-07-15"
        assert "慧企云" in p.application.channel
        facts = {c.fact for c in p.conditions}
        assert {"independent_legal_person", "no_major_accident_3y", "no_violation_3y"} <= facts
        assert any(m.attachment for m in p.materials)


def test_guide_attachments_are_1_to_5():
    attachments = sorted(m.attachment for p in load_programs() if p.doc_id == "xm-guide" for m in p.materials if m.attachment)
    assert attachments == [f"附件{i}" for i in range(1, 6)]


def test_quanzhou_exclusivity_and_stacking_rules():
    assert get_program("qz-software-product").exclusive_with == ["qz-scenario"]
    rules = load_rules().stacking
    kinds = {r.kind for r in rules["quanzhou"]}
    assert {"one_per_direction", "mutually_exclusive"} <= kinds
    assert {"may_stack", "choose_one", "no_double_after_agreement", "clawback"} <= {r.kind for r in rules["siming"]}
    assert "highest_not_both" in {r.kind for r in rules["xm-measures"]}


def test_every_program_has_aliases_and_citable_clauses():
    from corpus import clause_index

    index = clause_index()
    for p in load_programs():
        assert p.aliases, p.id
        assert all(c in index for c in p.clause_ids)


def test_program_summaries_shape():
    rows = program_summaries()
    assert len(rows) == len(ARCHITECTURE_IDS)
    row = next(r for r in rows if r["id"] == "sm-compute")
    assert row["region"] == "福建省厦门市思明区"
    assert row["level_zh"] == "区级"
    assert row["payment_form"] == "AI券"
    assert row["doc_short_title"]


def test_alias_cues_reach_users_words():
    assert {"买算力", "租GPU", "算力补贴"} <= set(get_program("xm-compute-voucher").aliases)
    assert "模型即服务" in get_program("xm-maas").aliases
    assert "首台套" in get_program("xm-first-set").aliases


# --- malformed rules fail loudly ------------------------------------------------------------------------
@pytest.fixture()
def rules_copy(tmp_path):
    """A temp rules dir with the real facts.yaml and siming.yaml only."""
    shutil.copy(RULES_DIR / "facts.yaml", tmp_path / "facts.yaml")
    shutil.copy(RULES_DIR / "siming.yaml", tmp_path / "siming.yaml")
    return tmp_path


def _edit(path: Path, program_id: str, **changes) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for program in data["programs"]:
        if program["id"] == program_id:
            for key, value in changes.items():
                if value is None:
                    program.pop(key, None)
                else:
                    program[key] = value
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_copy_loads(rules_copy):
    assert len(load_rules(rules_copy).programs) == 8


@pytest.mark.parametrize("changes, fragment", [
    ({"surprise": 1}, "Extra inputs"),
    ({"beneficiary": "公司"}, "beneficiary"),
    ({"clause_ids": ["siming:art99"]}, "siming:art99"),
    ({"clause_ids": ["xm-measures:1.3"]}, "不属于文件"),
    ({"formula": {"kind": "ratio_cap", "base": "compute_purchase_yuan", "rate": "10%", "cap_yuan": "很多"}}, "cap_yuan"),
    ({"formula": {"kind": "magic"}}, "formula"),
    ({"facts": ["compute_purchase_yuan", "no_such_fact"]}, "no_such_fact"),
    ({"name": None}, "name"),
])
def test_malformed_program_names_file_and_program(rules_copy, changes, fragment):
    _edit(rules_copy / "siming.yaml", "sm-compute", **changes)
    with pytest.raises(RulesError) as info:
        load_rules(rules_copy)
    message = info.value.message_zh
    assert "siming.yaml" in message and "sm-compute" in message
    assert fragment in message


def test_condition_phrase_must_be_in_clause(rules_copy):
    data = yaml.safe_load((rules_copy / "siming.yaml").read_text(encoding="utf-8"))
    data["programs"][0]["conditions"][0]["phrase"] = "达到3万元以上"
    (rules_copy / "siming.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(rules_copy)
    assert "达到3万元以上" in info.value.message_zh and "sm-compute" in info.value.message_zh


@pytest.mark.parametrize("condition, fragment", [
    ({"fact": "compute_purchase_yuan", "op": "true", "description": "x", "phrase": ""}, "是/否"),
    ({"fact": "compute_listed_on_platform", "op": "ge", "value": 1, "description": "x", "phrase": ""}, "true/false"),
    ({"fact": "compute_purchase_yuan", "op": "ge", "value": "五万", "description": "x", "phrase": ""}, "整数"),
    ({"fact": "digital_level", "op": "in", "value": ["level9"], "description": "x", "phrase": ""}, "level9"),
    ({"fact": "compute_purchase_yuan", "op": "ge", "description": "x", "phrase": ""}, "value"),
    ({"fact": "compute_purchase_yuan", "op": "between", "value": 1, "description": "x", "phrase": ""}, "op"),
])
def test_bad_conditions_fail(rules_copy, condition, fragment):
    data = yaml.safe_load((rules_copy / "siming.yaml").read_text(encoding="utf-8"))
    program = data["programs"][0]
    program["conditions"] = [condition]
    program["facts"] = ["compute_purchase_yuan", "compute_listed_on_platform", "digital_level"]
    (rules_copy / "siming.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(rules_copy)
    assert fragment in info.value.message_zh


def test_invalid_yaml_and_duplicates(rules_copy):
    (rules_copy / "broken.yaml").write_text("doc_id: siming\nprograms: [\n", encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(rules_copy)
    assert "broken.yaml" in info.value.message_zh
    (rules_copy / "broken.yaml").unlink()
    shutil.copy(rules_copy / "siming.yaml", rules_copy / "siming2.yaml")
    with pytest.raises(RulesError) as info:
        load_rules(rules_copy)
    assert "重复" in info.value.message_zh


def test_unknown_fact_vocabulary_entry_fails(rules_copy):
    data = yaml.safe_load((rules_copy / "facts.yaml").read_text(encoding="utf-8"))
    data["facts"].append({"name": "x", "label": "x", "unit": "money"})
    (rules_copy / "facts.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(rules_copy)
    assert "facts.yaml" in info.value.message_zh


# --- no subsidy figures in Python ------------------------------------------------------------------------
MY_MODULES = ["rules.py", "money.py", "calculator.py", "eligibility.py", "validity.py", "cli.py"]


@functools.lru_cache(maxsize=1)
def _rules_figures() -> tuple[set[int], set[str]]:
    """Every number and date in corpus/rules/*.yaml, and the ways Python text could spell them."""
    from tools.money import format_yuan

    numbers: set[int] = set()
    texts: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, bool):
            return
        elif isinstance(node, int) and node >= 2:
            numbers.add(node)
            yuan = format_yuan(node)
            texts.update({yuan, yuan.removesuffix("元")} if node >= 10000 else {f"{node}元"})
        elif hasattr(node, "isoformat"):
            texts.update({node.isoformat(), f"{node.year}年{node.month}月{node.day}日"})
        elif isinstance(node, str) and re.fullmatch(r"\d+(?:\.\d+)?%|\d+/\d+", node):
            texts.add(node)

    for path in RULES_DIR.glob("*.yaml"):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return numbers, texts


def _docstring_lines(source: str) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _suspicious(source: str) -> list[str]:
    """Code that spells a figure from the rules: a number ≥ 1000 that is not a power of ten, or a rules
    amount/rate/date inside a (non-docstring) string, e.g. "50万元", "2023-10-10"."""
    numbers, texts = _rules_figures()
    pattern = re.compile("|".join(f"(?<![\\d.]){re.escape(t)}(?![\\d.亿])" for t in sorted(texts, key=len, reverse=True)))
    docs = _docstring_lines(source)
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.start[0] in docs:
            continue
        if tok.type == tokenize.NUMBER:
            text = tok.string.replace("_", "")
            if "." in text or "e" in text.lower():
                found.append(tok.string)
                continue
            value = int(text, 0)
            if value in numbers and value >= 100 or value >= 1000 and str(value).rstrip("0") != "1":
                found.append(tok.string)
        elif tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", -1)):
            found.extend(m.group(0) for m in pattern.finditer(tok.string))
    return found


def test_suspicious_literal_detector_catches_money():
    assert _suspicious('CAP = 500000\nx = "最高50万元"\nd = "2023-10-10"\nr = "0.6%"\n') == \
        ["500000", "50万元", "2023-10-10", "0.6%"]
    assert _suspicious('"""Doc with 30万."""\nUNIT = 10**8\nx = "例如80万"\n') == []


@pytest.mark.parametrize("module", MY_MODULES)
def test_no_subsidy_figures_in_python(module):
    source = (REPO / "tools" / module).read_text(encoding="utf-8")
    assert _suspicious(source) == []
