"""Enterprise self-check over every program: statuses, region mismatch, beneficiaries, sorting and stacking notes."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tools.eligibility import check_eligibility, load_profile
from tools.errors import InvalidInputError

AS_OF = dt.date(2025, 6, 1)
EXAMPLE = Path(__file__).resolve().parent.parent / "corpus" / "examples" / "profile-siming.yaml"


@pytest.fixture(scope="module")
def siming_report():
    return check_eligibility(load_profile(EXAMPLE), AS_OF)


def test_example_profile_statuses(siming_report):
    """思明 software firm: 算力券 80万×50%=40万; 思明算力 80万×10%=8万; 模型 12万×20%=2.4万;
    研发 floor(650万/200万)=3→30万 + 增长30%>20% 奖30万 = 60万; MaaS 1500万×5%=75万."""
    by_id = {i.program_id: i for i in siming_report.items}
    assert len(by_id) == 38
    expected = {"xm-compute-voucher": 400000, "sm-compute": 80000, "sm-model-algorithm": 24000,
                "xm-rd-investment": 600000, "xm-maas": 750000, "xm-guide-maas": 750000}
    for pid, amount in expected.items():
        assert by_id[pid].status == "eligible", (pid, by_id[pid].reasons, by_id[pid].ask)
        assert by_id[pid].amount_yuan == amount
    assert {i.program_id for i in siming_report.by_status("eligible")} == set(expected)


def test_sorted_eligible_first_by_amount(siming_report):
    statuses = [i.status for i in siming_report.items]
    assert statuses == sorted(statuses, key=["eligible", "needs_info", "not_eligible"].index)
    amounts = [i.amount_yuan for i in siming_report.by_status("eligible")]
    assert amounts == sorted(amounts, reverse=True)


def test_region_mismatch_is_a_clear_reason(siming_report):
    by_id = {i.program_id: i for i in siming_report.items}
    for pid in ("qz-lingyan", "ah-compute-cost"):
        item = by_id[pid]
        assert item.status == "not_eligible"
        assert "地域不符" in item.reasons[0] and "思明区" in item.reasons[0]


def test_individual_and_city_programs_are_not_for_the_enterprise(siming_report):
    talent = next(i for i in siming_report.items if i.program_id == "sm-talent-title")
    assert talent.status == "not_eligible"
    assert "个人" in talent.reasons[0]


def test_needs_info_lists_facts_to_ask(siming_report):
    first_set = next(i for i in siming_report.items if i.program_id == "xm-first-set")
    assert first_set.status == "needs_info"
    assert first_set.ask_facts == ["first_set_catalog", "product_unit_price_yuan"]
    lab = next(i for i in siming_report.items if i.program_id == "xm-national-lab")
    assert lab.potential_amount_yuan == 10000000


def test_stacking_notes(siming_report):
    kinds = {s.kind for s in siming_report.stacking}
    assert {"may_stack", "choose_one", "highest_not_both", "same_clause"} <= kinds
    torch = next(s for s in siming_report.stacking if s.kind == "may_stack")
    assert "火炬高新区" in torch.text and torch.clause_id == "siming:notes.2"
    pair = next(s for s in siming_report.stacking if s.kind == "same_clause" and "xm-maas" in s.programs)
    assert set(pair.programs) == {"xm-maas", "xm-guide-maas"}
    cross = next(s for s in siming_report.stacking if set(s.programs) == {"xm-compute-voucher", "sm-compute"})
    assert "未明确" in cross.text


def test_summary_counts_a_guide_and_its_measure_once(siming_report):
    """40万 + 8万 + 2.4万 + 60万 + 75万 (MaaS counted once) = 185.4万."""
    assert "185.4万元" in siming_report.summary


def test_quanzhou_exclusive_directions_noted():
    profile = {"location": {"province": "福建省", "city": "泉州市"}, "legal_person": True, "industry": "软件企业",
               "facts": {"good_standing": True, "not_blacklisted": True, "qz_product_own_ip": True,
                         "qz_product_in_market": True, "qz_scenario_role": "应用方", "qz_scenario_in_province": True}}
    report = check_eligibility(profile, AS_OF)
    by_id = {i.program_id: i for i in report.items}
    assert by_id["qz-software-product"].status == "eligible"
    assert by_id["qz-scenario"].status == "eligible"
    assert by_id["qz-software-product"].amount_yuan is None
    exclusive = next(s for s in report.stacking if s.kind == "mutually_exclusive")
    assert set(exclusive.programs) == {"qz-software-product", "qz-scenario"}
    assert by_id["xm-compute-voucher"].status == "not_eligible"


def test_anhui_city_government_programs():
    profile = {"location": {"province": "安徽省", "city": "合肥市"}, "applicant_type": "市政府",
               "facts": {"ah_key_tech_project": True, "ah_investment_agreement": True,
                         "ah_city_recruit_subsidy_yuan": "500万"}}
    report = check_eligibility(profile, AS_OF)
    item = next(i for i in report.items if i.program_id == "ah-key-enterprise")
    assert item.status == "eligible" and item.amount_yuan == 1500000  # 500万 × 30% = 150万
    enterprise = check_eligibility({**profile, "applicant_type": "企业"}, AS_OF)
    item = next(i for i in enterprise.items if i.program_id == "ah-key-enterprise")
    assert item.status == "not_eligible" and "市政府" in item.reasons[0]


def test_missing_location_asks_for_it():
    report = check_eligibility({"facts": {"compute_purchase_yuan": "80万"}}, AS_OF)
    item = next(i for i in report.items if i.program_id == "xm-compute-voucher")
    assert item.status == "needs_info"
    assert item.potential_amount_yuan == 400000
    assert any("省份" in a or "城市" in a for a in item.ask)


def test_city_only_location_is_enough():
    report = check_eligibility({"location": {"city": "厦门"}, "facts": {"compute_purchase_yuan": "80万"}}, AS_OF)
    item = next(i for i in report.items if i.program_id == "xm-compute-voucher")
    assert item.status == "eligible"


def test_bad_profiles():
    with pytest.raises(InvalidInputError) as info:
        check_eligibility({"facts": {"no_such_fact": 1}}, AS_OF)
    assert "no_such_fact" in info.value.message_zh
    with pytest.raises(InvalidInputError) as info:
        check_eligibility({"facts": {"compute_purchase_yuan": "-1万"}}, AS_OF)
    assert "负数" in info.value.message_zh
    with pytest.raises(InvalidInputError):
        check_eligibility({"shoe_size": 42}, AS_OF)
    with pytest.raises(InvalidInputError) as info:
        load_profile("/nonexistent/profile.yaml")
    assert "找不到" in info.value.message_zh


def test_load_profile_rejects_bad_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as info:
        load_profile(path)
    assert "YAML" in info.value.message_zh
