"""Dated, versioned rules: value histories (a value per date range, each with its clause) and revisions/repeals
between documents, chosen by the as-of date. Uses the synthetic sixth notice and its 2027 revision (test fixtures,
never in the corpus)."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml

from tools.calculator import calculate
from tools.catalog import PolicyCatalog
from tools.rules import RulesError
from tools.validity import validity_for

FIXTURES = Path(__file__).parent / "fixtures"
SIXTH, REVISED = FIXTURES / "sixth_doc", FIXTURES / "revised_doc"
D = dt.date


@pytest.fixture(scope="module")
def catalog():
    return PolicyCatalog.load(None, [SIXTH, REVISED])


def _yx(catalog, day):
    return sorted(p.id for p in catalog.at(day).programs if p.doc_id.startswith("yx"))


def test_the_revision_replaces_the_old_programs_from_its_date(catalog):
    assert catalog.change_dates == (D(2027, 1, 1), D(2027, 7, 1))
    before = _yx(catalog, D(2026, 12, 31))
    assert "yx-compute-rent" in before and not [p for p in before if p.startswith("yx2-")]
    assert _yx(catalog, D(2027, 1, 1)) == ["yx2-compute-rent", "yx2-model-rd"]
    assert catalog.at(D(2026, 3, 1)) is catalog.at(D(2026, 12, 31))  # one edition per period between changes


@pytest.mark.parametrize("as_of, program, amount", [
    (D(2026, 12, 31), "yx-compute-rent", 300_000),  # old: 100万 × 40% = 40万 → cap 30万
    (D(2027, 1, 1), "yx2-compute-rent", 500_000),  # revised: 100万 × 50% = 50万 = cap 50万
])
def test_an_as_of_before_the_revision_gets_the_old_figures(catalog, as_of, program, amount):
    edition = catalog.at(as_of)
    rent = [p for p in edition.programs if "compute-rent" in p.id]
    assert [p.id for p in rent] == [program]
    assert calculate(program, {"yx_compute_rent_yuan": "100万"}, as_of, edition).amount_yuan == amount


def test_the_old_document_says_it_was_revised(catalog):
    before = validity_for("yx-measures", D(2026, 12, 31), catalog)
    assert before.status == "in_force" and before.replaced_by is None
    after = validity_for("yx-measures", D(2027, 1, 1), catalog)
    assert after.status == "expired" and after.replaced_by == "yx-measures-2027" and after.replaced_kind == "supersede"
    assert "自2027年1月1日起修订替代" in after.message and "仍在有效期内" not in after.message
    assert "原《云溪市关于支持人工智能产业发展的若干措施（测试用）》（云政规〔2025〕9号）自2027年1月1日起废止" in after.message


@pytest.mark.parametrize("as_of, cap", [(D(2027, 6, 30), 600_000), (D(2027, 7, 1), 800_000), (D(2028, 12, 31), 800_000),
                                        (D(2030, 1, 1), 800_000)])
def test_a_value_history_picks_the_value_of_the_date_and_cites_its_clause(catalog, as_of, cap):
    """20档 × 5万 = 100万; the cap is 60万 until 2027-06-30 and 80万 from 2027-07-01 (after expiry: the last one)."""
    calc = calculate("yx2-model-rd", {"yx_model_rd_yuan": "2000万"}, as_of, catalog)
    assert calc.amount_yuan == cap
    assert "yx-measures-2027:art2" in [c.id for c in calc.citations]
    if cap == 800_000:
        assert any("自2027年7月1日起，每家企业最高不超过80万元" in s for s in calc.steps)


def test_the_services_answer_by_edition(tmp_path):
    from policy_assistant.services import Services
    from policy_assistant.settings import Settings

    services = Services(Settings(data_dir=tmp_path, extra_corpus_dirs=[SIXTH, REVISED]))
    question = "云溪企业今年租算力花了100万，能补多少？"
    old = services.ask(question, as_of=D(2026, 6, 1))
    new = services.ask(question, as_of=D(2027, 3, 1))
    assert [(c.program_id, c.amount_yuan) for c in old.calculations] == [("yx-compute-rent", 300_000)]
    assert [(c.program_id, c.amount_yuan) for c in new.calculations] == [("yx2-compute-rent", 500_000)]
    assert "yx-measures:art1" in [c.id for c in old.citations] and "yx-measures-2027:art1" in [c.id for c in new.citations]


# --- what the loader refuses ------------------------------------------------------------------------------------
def _tamper(tmp_path, edit) -> Path:
    folder = tmp_path / "revised"
    shutil.copytree(REVISED, folder)
    path = folder / "rules" / "yx-measures-2027.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data["programs"][1]["formula"]["step"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


@pytest.mark.parametrize("edit, message", [
    (lambda s: s["cap_yuan"].reverse(), "递增"),
    (lambda s: s["cap_yuan"][0].update({"to": D(2027, 7, 1)}), "重叠"),
    (lambda s: s["cap_yuan"][1].update({"phrase": "每家企业最高不超过90万元"}), "未在条款"),
    (lambda s: s["cap_yuan"][1].update({"clause_id": "yx-measures-2027:art9"}), "不存在的条款"),
    (lambda s: s["cap_yuan"][1].update({"from": D(2027, 8, 1)}), "既未写在原文短语"),  # a date the text does not state
    (lambda s: s["cap_yuan"][1].update({"bogus": 1}), "bogus"),  # unknown keys still fail
])
def test_a_bad_value_history_is_refused(tmp_path, edit, message):
    folder = _tamper(tmp_path, edit)
    with pytest.raises((RulesError, Exception), match=message):
        PolicyCatalog.load(None, [SIXTH, folder])


def test_a_threshold_history_on_a_condition(tmp_path):
    """Thresholds (condition values) and their descriptions may change on a date too."""
    def edit(data):
        cond = data["programs"][0]["conditions"][0]
        cond["value"] = [{"value": 200000, "clause_id": "yx-measures-2027:art1", "phrase": "达20万元(含)以上"},
                         {"value": 300000, "from": D(2027, 7, 1), "clause_id": "yx-measures-2027:art2",
                          "phrase": "自2027年7月1日起"}]
        cond["description"] = [{"value": "年度租赁智能算力费用达20万元(含)以上"},
                               {"value": "年度租赁智能算力费用达30万元(含)以上", "from": D(2027, 7, 1),
                                "clause_id": "yx-measures-2027:art2", "phrase": "自2027年7月1日起"}]

    folder = tmp_path / "revised"
    shutil.copytree(REVISED, folder)
    path = folder / "rules" / "yx-measures-2027.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    catalog = PolicyCatalog.load(None, [SIXTH, folder])
    facts = {"yx_compute_rent_yuan": 250000}
    assert calculate("yx2-compute-rent", facts, D(2027, 6, 30), catalog).eligible is True
    late = calculate("yx2-compute-rent", facts, D(2027, 7, 1), catalog)
    assert late.eligible is False and "30万元" in "".join(late.unmet)
