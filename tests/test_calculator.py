"""Every program at each threshold and cap (n−1, n, n+1). Each case's id states the arithmetic; amounts are the
ceilings in integer yuan, rounded down. 以上/不少于/不低于/(含) include the bound; 超过/高于 exclude it."""
from __future__ import annotations

import datetime as dt

import pytest

from tools.calculator import calculate, describe_formula, program_facts
from tools.vocab import parse_fact
from tools.errors import InvalidFactError, UnknownProgramError
from tools.catalog import default_catalog


def load_programs():
    return default_catalog().programs

AS_OF = dt.date(2025, 6, 1)
GUIDE_OK = {"independent_legal_person": True, "no_major_accident_3y": True, "no_violation_3y": True}
QZ_OK = {"independent_legal_person": True, "good_standing": True, "not_blacklisted": True}

# Facts that satisfy every condition of each program; cases override one or two.
BASE: dict[str, dict] = {
    "xm-compute-voucher": {"compute_purchase_yuan": 800000},
    "xm-computing-center": {"computing_center_new_or_expanded": True, "computing_center_pflops": "120P"},
    "xm-key-tech": {"key_tech_level": "national", "key_tech_rd_investment_yuan": 10000000},
    "xm-national-lab": {"national_key_lab_new": True},
    "xm-public-platform": {"public_service_platform": True, "platform_service_revenue_yuan": 2000000,
                           "platform_served_enterprises": 60},
    "xm-rd-investment": {"above_scale": True, "industry": "software", "rd_expense_yuan": 6500000,
                         "rd_expense_last_year_yuan": 6000000},
    "xm-standards": {"standard_level": "national", "standard_drafter_rank": 3},
    "xm-revenue-growth": {"above_scale": True, "industry": "software", "revenue_last_year_yuan": 100000000,
                          "revenue_prev_year_yuan": 60000000},
    "xm-scale-up": {"above_scale": True, "industry": "software", "revenue_last_year_yuan": 120000000,
                    "revenue_prev_year_yuan": 100000000, "city_avg_software_growth_percent": "15%",
                    "scale_up_received_yuan": 0},
    "xm-little-giant": {"little_giant_first": True},
    "xm-listing": {"listing_stage": "neeq"},
    "xm-first-set": {"first_set_catalog": "miit", "product_unit_price_yuan": 1000000},
    "xm-maas": {"maas_revenue_yuan": 10000000},
    "xm-scenario": {"scenario_xiamen_benchmark": True, "scenario_fujian_selected": True,
                    "scenario_city_sales_yuan": 2000000},
    "xm-rd-loan": {"enterprise_kind": "existing", "rd_expense_last_year_yuan": 30000000},
    "xm-guide-computing-center": {**GUIDE_OK, "computing_center_new_or_expanded": True, "computing_center_pflops": 150},
    "xm-guide-key-tech": {**GUIDE_OK, "key_tech_level": "provincial", "key_tech_selected_date": "2023-11-01",
                          "key_tech_rd_investment_yuan": 5000000},
    "xm-guide-platform": {**GUIDE_OK, "public_service_platform": True, "platform_service_revenue_yuan": 2000000,
                          "platform_served_enterprises": 60},
    "xm-guide-maas": {**GUIDE_OK, "maas_revenue_yuan": 10000000},
    "xm-guide-scenario": {**GUIDE_OK, "scenario_xiamen_benchmark": True, "scenario_fujian_selected": True, "scenario_tech_provider": True,
                          "scenario_fujian_selected_date": "2024-03-01", "scenario_city_sales_yuan": 2000000},
    "sm-compute": {"compute_purchase_yuan": 800000, "compute_listed_on_platform": True},
    "sm-model-algorithm": {"model_purchase_yuan": 200000, "model_listed_on_platform": True},
    "sm-corpus-data": {"corpus_registered": True, "corpus_purchase_yuan": 200000, "corpus_listed_on_platform": True},
    "sm-filing": {"filing_types": ["algorithm"], "filing_first_time": True, "filing_date": "2024-05-01",
                  "filing_served_unrelated_enterprises": 8, "filing_product_listed": True},
    "sm-digital-transform": {"industry": "industrial", "digital_level": "level3", "digital_investment_yuan": 500000},
    "sm-scenario-benchmark": {"sm_scenario_level": "city", "sm_scenario_selected_date": "2025-03-01",
                              "sm_scenario_promoted": True},
    "sm-featured-building": {"building_recognized": True, "building_operator": True, "building_meets_indicators": True},
    "sm-talent-title": {"industry": "software", "title_ai_major": True, "title_level": "intermediate",
                        "title_date": "2024-01-01"},
    "qz-compute-service": {**QZ_OK, "industry": "software", "compute_purchase_yuan": 500000, "has_ai_model": True},
    "qz-lingyan": {**QZ_OK, "industry": "software", "qz_leading_ai_software": True, "qz_has_rd_platform": True},
    "qz-software-product": {**QZ_OK, "industry": "software", "qz_product_own_ip": True, "qz_product_in_market": True},
    "qz-hardware-product": {**QZ_OK, "industry": "industrial", "qz_product_own_ip": True, "qz_product_in_market": True},
    "qz-scenario": {**QZ_OK, "qz_scenario_role": "provider", "qz_consortium_size": 3, "qz_scenario_in_province": True},
    "ah-computing-center": {"ah_computing_center_completed": True, "ah_new_pflops": 500, "ah_city_participated": True,
                            "ah_not_relocated": True, "ah_city_compute_subsidy_yuan": 3000000},
    "ah-compute-cost": {"independent_legal_person": True, "ah_business_need": True, "ah_via_dispatch_platform": True,
                        "ah_not_self_built": True, "ah_compute_used": 1000, "ah_compute_provided": 200,
                        "ah_compute_total_spend_yuan": 1000000},
    "ah-data-supplier": {"independent_legal_person": True, "ah_supplier_type": "processing",
                         "ah_data_trade_2023_yuan": 8000000, "ah_city_rating_excellent": True},
    "ah-key-enterprise": {"ah_key_tech_project": True, "ah_investment_agreement": True,
                          "ah_city_recruit_subsidy_yuan": 5000000},
    "ah-competition": {"ah_competition_award": "merit", "ah_investment_agreement": True,
                       "ah_relocated_within_year": True, "ah_follows_business_plan": True},
}

# (program, overrides, eligible, amount_yuan) — the id spells out the arithmetic.
CASES = [
    # 厦门 算力券: 达到30万元以上 (ge), 50%, ≤50万/年
    ("xm-compute-voucher", {"compute_purchase_yuan": 299999}, False, 0, "299999<30万 不符合"),
    ("xm-compute-voucher", {"compute_purchase_yuan": 300000}, True, 150000, "30万含本数: 30万×50%=15万"),
    ("xm-compute-voucher", {"compute_purchase_yuan": 300001}, True, 150000, "300001×50%=150000.5→150000"),
    ("xm-compute-voucher", {"compute_purchase_yuan": 999998}, True, 499999, "999998×50%=499999"),
    ("xm-compute-voucher", {"compute_purchase_yuan": 1000000}, True, 500000, "100万×50%=50万=上限"),
    ("xm-compute-voucher", {"compute_purchase_yuan": 1000002}, True, 500000, "500001>50万→上限50万"),
    # 智算中心: 100P以上 (ge), no fixed amount
    ("xm-computing-center", {"computing_center_pflops": 99}, False, None, "99P<100P"),
    ("xm-computing-center", {"computing_center_pflops": 100}, True, None, "100P含本数, 无固定金额"),
    ("xm-computing-center", {"computing_center_pflops": 101}, True, None, "101P, 无固定金额"),
    ("xm-computing-center", {"computing_center_new_or_expanded": False}, False, None, "非新建/扩容"),
    # 关键核心技术: 国家级 40% ≤1000万; 省级 40% ≤300万; 市级 30% ≤1000万
    ("xm-key-tech", {"key_tech_rd_investment_yuan": 24999999}, True, 9999999, "24999999×40%=9999999.6→9999999"),
    ("xm-key-tech", {"key_tech_rd_investment_yuan": 25000000}, True, 10000000, "2500万×40%=1000万=上限"),
    ("xm-key-tech", {"key_tech_rd_investment_yuan": 25000001}, True, 10000000, "10000000.4>上限→1000万"),
    ("xm-key-tech", {"key_tech_level": "省级", "key_tech_rd_investment_yuan": 7499999}, True, 2999999, "7499999×40%=2999999.6"),
    ("xm-key-tech", {"key_tech_level": "provincial", "key_tech_rd_investment_yuan": 7500000}, True, 3000000, "750万×40%=300万"),
    ("xm-key-tech", {"key_tech_level": "provincial", "key_tech_rd_investment_yuan": 7500001}, True, 3000000, "超上限→300万"),
    ("xm-key-tech", {"key_tech_level": "揭榜挂帅", "key_tech_rd_investment_yuan": 33333333}, True, 9999999, "33333333×30%=9999999.9"),
    ("xm-key-tech", {"key_tech_level": "municipal", "key_tech_rd_investment_yuan": 33333334}, True, 10000000, "10000000.2>上限"),
    # 国家重点实验室 1000万
    ("xm-national-lab", {}, True, 10000000, "新获批→1000万"),
    ("xm-national-lab", {"national_key_lab_new": "否"}, False, 0, "未获批"),
    # 公共服务平台: 收入超过100万 且 企业数超过50家 (gt), 10% ≤100万
    ("xm-public-platform", {"platform_service_revenue_yuan": 999999}, False, 0, "收入<100万"),
    ("xm-public-platform", {"platform_service_revenue_yuan": 1000000}, False, 0, "收入=100万 不算超过"),
    ("xm-public-platform", {"platform_service_revenue_yuan": 1000001}, True, 100000, "1000001×10%=100000.1→100000"),
    ("xm-public-platform", {"platform_served_enterprises": 49}, False, 0, "49家"),
    ("xm-public-platform", {"platform_served_enterprises": 50}, False, 0, "50家 不算超过"),
    ("xm-public-platform", {"platform_served_enterprises": "51家"}, True, 200000, "51家; 200万×10%=20万"),
    ("xm-public-platform", {"platform_service_revenue_yuan": 9999999}, True, 999999, "9999999×10%=999999.9"),
    ("xm-public-platform", {"platform_service_revenue_yuan": 10000000}, True, 1000000, "1000万×10%=100万=上限"),
    ("xm-public-platform", {"platform_service_revenue_yuan": 10000001}, True, 1000000, "超上限→100万"),
    # 研发投入: 高于200万 且 增长 → floor(x/200万)×10万 ≤500万; >500万 且 增长率>20% +30万, >40% +50万; >1000万 +5%×step
    ("xm-rd-investment", {"rd_expense_yuan": 1999999, "rd_expense_last_year_yuan": 1000000}, False, 0, "<200万"),
    ("xm-rd-investment", {"rd_expense_yuan": 2000000, "rd_expense_last_year_yuan": 1000000}, False, 0, "=200万 不算高于"),
    ("xm-rd-investment", {"rd_expense_yuan": 2000001, "rd_expense_last_year_yuan": 1000000}, True, 100000, "floor(2000001/200万)=1→10万"),
    ("xm-rd-investment", {"rd_expense_yuan": 3999999, "rd_expense_last_year_yuan": 3500000}, True, 100000, "floor(3999999/200万)=1"),
    ("xm-rd-investment", {"rd_expense_yuan": 4000000, "rd_expense_last_year_yuan": 3500000}, True, 200000, "每满: 2档=20万"),
    ("xm-rd-investment", {"rd_expense_yuan": 6500000, "rd_expense_last_year_yuan": 6500000}, False, 0, "未增长"),
    ("xm-rd-investment", {"rd_expense_yuan": 6000000, "rd_expense_last_year_yuan": 5000000}, True, 300000, "增长率=20% 不算超过: 3档30万"),
    ("xm-rd-investment", {"rd_expense_yuan": 6000001, "rd_expense_last_year_yuan": 5000000}, True, 600000, "增长率>20%: 30万+30万"),
    ("xm-rd-investment", {"rd_expense_yuan": 7000000, "rd_expense_last_year_yuan": 5000000}, True, 600000, "增长率=40%: 仍30万档: 30万+30万"),
    ("xm-rd-investment", {"rd_expense_yuan": 7000001, "rd_expense_last_year_yuan": 5000000}, True, 800000, "增长率>40%: 30万+50万(不叠加30万)"),
    ("xm-rd-investment", {"rd_expense_yuan": 5000000, "rd_expense_last_year_yuan": 3000000}, True, 200000, "=500万 无增长奖励: 2档20万"),
    ("xm-rd-investment", {"rd_expense_yuan": 5000001, "rd_expense_last_year_yuan": 3000000}, True, 700000, ">500万 增长66%: 20万+50万"),
    ("xm-rd-investment", {"rd_expense_yuan": 10000000, "rd_expense_last_year_yuan": 9000000}, True, 500000, "=1000万 无5%: 5档50万"),
    ("xm-rd-investment", {"rd_expense_yuan": 10000001, "rd_expense_last_year_yuan": 9000000}, True, 525000, ">1000万: 50万+50万×5%=52.5万"),
    ("xm-rd-investment", {"rd_expense_yuan": 99999999, "rd_expense_last_year_yuan": 95000000}, True, 5145000, "49档=490万+490万×5%=514.5万"),
    ("xm-rd-investment", {"rd_expense_yuan": 100000000, "rd_expense_last_year_yuan": 95000000}, True, 5250000, "50档=500万=上限+25万"),
    ("xm-rd-investment", {"rd_expense_yuan": 102000000, "rd_expense_last_year_yuan": 95000000}, True, 5250000, "51档510万→上限500万+25万"),
    ("xm-rd-investment", {"industry": "其他"}, False, 0, "非工业/软件企业"),
    ("xm-rd-investment", {"above_scale": False}, False, 0, "非规上"),
    # 标准: 排名前5名 (le 5); 国际/国家/行业 ≤100/50/40万
    ("xm-standards", {"standard_drafter_rank": 4}, True, 500000, "第4名, 国家标准≤50万"),
    ("xm-standards", {"standard_drafter_rank": "第5名"}, True, 500000, "第5名含"),
    ("xm-standards", {"standard_drafter_rank": 6}, False, 0, "第6名"),
    ("xm-standards", {"standard_level": "国际标准"}, True, 1000000, "国际≤100万"),
    ("xm-standards", {"standard_level": "行业标准"}, True, 400000, "行业≤40万"),
    ("xm-standards", {"standard_level": "团体标准"}, False, 0, "团体标准不在范围"),
    # 增产增效: 上年营收超过5000万 且 增速高于25% → 增量×0.6% ≤600万
    ("xm-revenue-growth", {"revenue_last_year_yuan": 49999999, "revenue_prev_year_yuan": 30000000}, False, 0, "<5000万"),
    ("xm-revenue-growth", {"revenue_last_year_yuan": 50000000, "revenue_prev_year_yuan": 30000000}, False, 0, "=5000万 不算超过"),
    ("xm-revenue-growth", {"revenue_last_year_yuan": 50000001, "revenue_prev_year_yuan": 30000000}, True, 120000, "增量20000001×0.6%=120000.006"),
    ("xm-revenue-growth", {"revenue_prev_year_yuan": 80000001}, False, 0, "增速<25%"),
    ("xm-revenue-growth", {"revenue_prev_year_yuan": 80000000}, False, 0, "增速=25% 不算高于"),
    ("xm-revenue-growth", {"revenue_prev_year_yuan": 79999999}, True, 120000, "增速>25%: 20000001×0.6%"),
    ("xm-revenue-growth", {"revenue_last_year_yuan": 1999999999, "revenue_prev_year_yuan": 1000000000}, True, 5999999, "999999999×0.6%=5999999.994"),
    ("xm-revenue-growth", {"revenue_last_year_yuan": 2000000000, "revenue_prev_year_yuan": 1000000000}, True, 6000000, "10亿×0.6%=600万=上限"),
    ("xm-revenue-growth", {"revenue_last_year_yuan": 2000000001, "revenue_prev_year_yuan": 1000000000}, True, 6000000, "超上限→600万"),
    ("xm-revenue-growth", {"industry": "industrial"}, False, 0, "非软件企业"),
    # 规模上台阶 (首次超过, gt) 晋级补差; 增速不低于平均 (ge)
    ("xm-scale-up", {"revenue_last_year_yuan": 49999999, "revenue_prev_year_yuan": 40000000}, False, 0, "<5000万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 50000000, "revenue_prev_year_yuan": 40000000}, False, 0, "=5000万 不算超过"),
    ("xm-scale-up", {"revenue_last_year_yuan": 50000001, "revenue_prev_year_yuan": 40000000}, True, 100000, ">5000万→10万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 100000000, "revenue_prev_year_yuan": 80000000}, True, 100000, "=1亿 仍是5000万档10万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 100000001, "revenue_prev_year_yuan": 80000000}, True, 200000, ">1亿→20万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 200000000, "revenue_prev_year_yuan": 150000000}, True, 200000, "=2亿 仍20万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 200000001, "revenue_prev_year_yuan": 150000000}, True, 500000, ">2亿→50万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 500000000, "revenue_prev_year_yuan": 400000000}, True, 500000, "=5亿 仍50万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 500000001, "revenue_prev_year_yuan": 400000000}, True, 1000000, ">5亿→100万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 1000000000, "revenue_prev_year_yuan": 800000000}, True, 1000000, "=10亿 仍100万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 1000000001, "revenue_prev_year_yuan": 800000000}, True, 1500000, ">10亿→150万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 2000000000, "revenue_prev_year_yuan": 1600000000}, True, 1500000, "=20亿 仍150万"),
    ("xm-scale-up", {"revenue_last_year_yuan": 2000000001, "revenue_prev_year_yuan": 1600000000}, True, 2000000, ">20亿→200万"),
    ("xm-scale-up", {"scale_up_received_yuan": 100000}, True, 100000, "1.2亿→1亿档20万−已得10万=10万"),
    ("xm-scale-up", {"scale_up_received_yuan": 200000}, False, 0, "20万−20万=0 无差额"),
    ("xm-scale-up", {"revenue_previous_max_yuan": 110000000}, False, 0, "此前已超过1亿 非首次"),
    ("xm-scale-up", {"revenue_previous_max_yuan": 90000000}, True, 200000, "此前9000万 首次超过1亿→20万"),
    ("xm-scale-up", {"city_avg_software_growth_percent": "20%"}, True, 200000, "增速20%=平均20% 不低于"),
    ("xm-scale-up", {"city_avg_software_growth_percent": "20.01%"}, False, 0, "增速20%<平均20.01%"),
    ("xm-scale-up", {"city_avg_software_growth_percent": "19.99%"}, True, 200000, "增速20%>平均19.99%"),
    # 小巨人 50万; 上市 30/50/100万 分阶段
    ("xm-little-giant", {}, True, 500000, "首次认定→50万"),
    ("xm-little-giant", {"little_giant_first": False}, False, 0, "非首次"),
    ("xm-listing", {}, True, 300000, "新三板→30万"),
    ("xm-listing", {"listing_stage": "辅导备案"}, True, 500000, "辅导备案→50万"),
    ("xm-listing", {"listing_stage": "交易所受理"}, True, 1000000, "交易所受理→100万"),
    ("xm-listing", {"listing_stage": ["neeq", "counseling"]}, True, 800000, "分阶段: 30万+50万"),
    # 首台套 per product on unit price
    ("xm-first-set", {"product_unit_price_yuan": 8333333}, True, 4999999, "工信部 8333333×60%=4999999.8"),
    ("xm-first-set", {"product_unit_price_yuan": 8333334}, True, 5000000, "5000000.4>上限500万"),
    ("xm-first-set", {"first_set_catalog": "福建省国内", "product_unit_price_yuan": 3333333}, True, 1999999, "省国内 ×60%=1999999.8"),
    ("xm-first-set", {"first_set_catalog": "fujian_domestic", "product_unit_price_yuan": 3333334}, True, 2000000, "2000000.4>上限200万"),
    ("xm-first-set", {"first_set_catalog": "省内首台套", "product_unit_price_yuan": 3333333}, True, 999999, "省内 ×30%=999999.9"),
    ("xm-first-set", {"first_set_catalog": "fujian_provincial", "product_unit_price_yuan": 3333334}, True, 1000000, "1000000.2>上限100万"),
    # MaaS 5% ≤200万
    ("xm-maas", {"maas_revenue_yuan": 39999999}, True, 1999999, "39999999×5%=1999999.95"),
    ("xm-maas", {"maas_revenue_yuan": 40000000}, True, 2000000, "4000万×5%=200万=上限"),
    ("xm-maas", {"maas_revenue_yuan": 40000001}, True, 2000000, "超上限→200万"),
    ("xm-maas", {"maas_revenue_yuan": 0}, False, 0, "收入0→补助0"),
    # 场景应用 10% ≤50万, 须在厦标杆+入选福建省典型场景
    ("xm-scenario", {"scenario_city_sales_yuan": 4999999}, True, 499999, "4999999×10%=499999.9"),
    ("xm-scenario", {"scenario_city_sales_yuan": 5000000}, True, 500000, "500万×10%=50万=上限"),
    ("xm-scenario", {"scenario_city_sales_yuan": 5000001}, True, 500000, "超上限→50万"),
    ("xm-scenario", {"scenario_fujian_selected": False}, False, 0, "未入选福建省典型场景"),
    ("xm-scenario", {"scenario_xiamen_benchmark": False}, False, 0, "未在厦打造标杆"),
    # 研发贴息贷款: 存量 ≤min(5000万, 50%×上年研发费用); 新注册 ≤1000万
    ("xm-rd-loan", {"rd_expense_last_year_yuan": 99999999}, True, 49999999, "99999999×50%=49999999.5→49999999"),
    ("xm-rd-loan", {"rd_expense_last_year_yuan": 100000000}, True, 50000000, "1亿×50%=5000万=上限"),
    ("xm-rd-loan", {"rd_expense_last_year_yuan": 100000001}, True, 50000000, "min(5000万, 50000000.5)=5000万"),
    ("xm-rd-loan", {"enterprise_kind": "新注册企业", "rd_expense_last_year_yuan": None}, True, 10000000, "新注册≤1000万"),
    # 指南
    ("xm-guide-computing-center", {"computing_center_pflops": "99P"}, False, None, "99P<100P"),
    ("xm-guide-computing-center", {"computing_center_pflops": "100PFlops"}, True, None, "100P含"),
    ("xm-guide-computing-center", {"no_major_accident_3y": False}, False, None, "近三年有重大安全事故"),
    ("xm-guide-key-tech", {"key_tech_selected_date": "2023-10-09"}, False, 0, "2023-10-09 早于2023年度"),
    ("xm-guide-key-tech", {"key_tech_selected_date": "2023-10-10"}, True, 2000000, "2023-10-10含; 500万×40%=200万"),
    ("xm-guide-key-tech", {"key_tech_selected_date": "2023年12月31日"}, True, 2000000, "2023-12-31含"),
    ("xm-guide-key-tech", {"key_tech_selected_date": "2024-01-01"}, False, 0, "2024-01-01 晚于2023年度"),
    ("xm-guide-key-tech", {"key_tech_level": "municipal"}, False, 0, "指南不含市级揭榜挂帅"),
    ("xm-guide-key-tech", {"key_tech_level": "national", "key_tech_rd_investment_yuan": 25000001}, True, 10000000, "国家级上限1000万"),
    ("xm-guide-platform", {"platform_service_revenue_yuan": 1000000}, False, 0, "=100万 不算超过"),
    ("xm-guide-platform", {"platform_service_revenue_yuan": 1000001}, True, 100000, "1000001×10%→100000"),
    ("xm-guide-platform", {"no_violation_3y": False}, False, 0, "有违法违规"),
    ("xm-guide-maas", {"maas_revenue_yuan": 0}, False, 0, "2023年度无MaaS收入"),
    ("xm-guide-maas", {"maas_revenue_yuan": 20}, True, 1, "20×5%=1元"),
    ("xm-guide-maas", {"maas_revenue_yuan": 40000001}, True, 2000000, "上限200万"),
    ("xm-guide-scenario", {"scenario_fujian_selected_date": "2023-10-09"}, False, 0, "早于2023-10-10"),
    ("xm-guide-scenario", {"scenario_fujian_selected_date": "2023-10-10"}, True, 200000, "200万×10%=20万"),
    ("xm-guide-scenario", {"scenario_fujian_selected_date": "2024-06-13"}, True, 200000, "通知发布之日含"),
    ("xm-guide-scenario", {"scenario_fujian_selected_date": "2024-06-14"}, False, 0, "晚于通知发布之日"),
    # 思明 普惠算力 ≥5万(含), 10% ≤25万, AI券
    ("sm-compute", {"compute_purchase_yuan": 49999}, False, 0, "<5万"),
    ("sm-compute", {"compute_purchase_yuan": 50000}, True, 5000, "5万含: 5万×10%=5000"),
    ("sm-compute", {"compute_purchase_yuan": 50001}, True, 5000, "50001×10%=5000.1→5000"),
    ("sm-compute", {"compute_purchase_yuan": 2499999}, True, 249999, "2499999×10%=249999.9"),
    ("sm-compute", {"compute_purchase_yuan": 2500000}, True, 250000, "250万×10%=25万=上限"),
    ("sm-compute", {"compute_purchase_yuan": 2500001}, True, 250000, "超上限→25万"),
    ("sm-compute", {"compute_listed_on_platform": "否"}, False, 0, "未上架平台"),
    # 模型算法 ≥10万(含), 20% ≤15万
    ("sm-model-algorithm", {"model_purchase_yuan": 99999}, False, 0, "<10万"),
    ("sm-model-algorithm", {"model_purchase_yuan": 100000}, True, 20000, "10万×20%=2万"),
    ("sm-model-algorithm", {"model_purchase_yuan": 100001}, True, 20000, "100001×20%=20000.2"),
    ("sm-model-algorithm", {"model_purchase_yuan": 749999}, True, 149999, "749999×20%=149999.8"),
    ("sm-model-algorithm", {"model_purchase_yuan": 750000}, True, 150000, "75万×20%=15万=上限"),
    ("sm-model-algorithm", {"model_purchase_yuan": 750001}, True, 150000, "超上限→15万"),
    # 语料数据 登记过 + ≥5万(含), 20% ≤15万
    ("sm-corpus-data", {"corpus_purchase_yuan": 49999}, False, 0, "<5万"),
    ("sm-corpus-data", {"corpus_purchase_yuan": 50000}, True, 10000, "5万×20%=1万"),
    ("sm-corpus-data", {"corpus_purchase_yuan": 50001}, True, 10000, "50001×20%=10000.2"),
    ("sm-corpus-data", {"corpus_purchase_yuan": 750001}, True, 150000, "超上限→15万"),
    ("sm-corpus-data", {"corpus_registered": False}, False, 0, "未登记"),
    # 备案: 2024-01-01(含)以来, ≥5家(含), 算法5万 / 生成式20万
    ("sm-filing", {"filing_date": "2023-12-31"}, False, 0, "早于2024-01-01"),
    ("sm-filing", {"filing_date": "2024-01-01"}, True, 50000, "2024-01-01含→5万"),
    ("sm-filing", {"filing_served_unrelated_enterprises": 4}, False, 0, "4家<5家"),
    ("sm-filing", {"filing_served_unrelated_enterprises": "5家"}, True, 50000, "5家含"),
    ("sm-filing", {"filing_served_unrelated_enterprises": 6}, True, 50000, "6家"),
    ("sm-filing", {"filing_types": "生成式人工智能服务备案"}, True, 200000, "生成式→20万"),
    ("sm-filing", {"filing_types": "算法备案和生成式AI服务备案"}, True, 250000, "两类分别给予: 5万+20万"),
    ("sm-filing", {"filing_first_time": False}, False, 0, "非首次"),
    # 智改数转 工业企业, 20%, 二/三/四级 ≤10/15/20万
    ("sm-digital-transform", {"digital_level": "二级", "digital_investment_yuan": 499999}, True, 99999, "499999×20%=99999.8"),
    ("sm-digital-transform", {"digital_level": "二级", "digital_investment_yuan": 500000}, True, 100000, "50万×20%=10万=上限"),
    ("sm-digital-transform", {"digital_level": "二级", "digital_investment_yuan": 500001}, True, 100000, "超上限→10万"),
    ("sm-digital-transform", {"digital_level": "三级", "digital_investment_yuan": 749999}, True, 149999, "749999×20%=149999.8"),
    ("sm-digital-transform", {"digital_level": "三级", "digital_investment_yuan": 750000}, True, 150000, "75万×20%=15万=上限"),
    ("sm-digital-transform", {"digital_level": "三级", "digital_investment_yuan": 750001}, True, 150000, "超上限→15万"),
    ("sm-digital-transform", {"digital_level": "四级", "digital_investment_yuan": 999999}, True, 199999, "999999×20%=199999.8"),
    ("sm-digital-transform", {"digital_level": "四级", "digital_investment_yuan": 1000000}, True, 200000, "100万×20%=20万=上限"),
    ("sm-digital-transform", {"digital_level": "四级", "digital_investment_yuan": 1000001}, True, 200000, "超上限→20万"),
    ("sm-digital-transform", {"digital_level": "一级"}, False, 0, "一级不在范围"),
    ("sm-digital-transform", {"industry": "software"}, False, 0, "非工业企业"),
    # 场景标杆 2025-01-01(含)以来, 市/省/国家级 5/10/20万
    ("sm-scenario-benchmark", {"sm_scenario_selected_date": "2024-12-31"}, False, 0, "早于2025-01-01"),
    ("sm-scenario-benchmark", {"sm_scenario_selected_date": "2025-01-01"}, True, 50000, "2025-01-01含, 市级5万"),
    ("sm-scenario-benchmark", {"sm_scenario_level": "省级"}, True, 100000, "省级10万"),
    ("sm-scenario-benchmark", {"sm_scenario_level": "国家级"}, True, 200000, "国家级20万"),
    ("sm-scenario-benchmark", {"sm_scenario_promoted": False}, False, 0, "未在平台推介"),
    # 特色楼宇 ≤100万/年 (ceiling only)
    ("sm-featured-building", {}, True, 1000000, "最高100万"),
    ("sm-featured-building", {"building_operator": False}, False, 0, "非经营管理主体"),
    # 职称 2023-01-01(含)以来, 中级5000 / 高级10000 (个人)
    ("sm-talent-title", {"title_date": "2022-12-31"}, False, 0, "早于2023-01-01"),
    ("sm-talent-title", {"title_date": "2023-01-01"}, True, 5000, "2023-01-01含, 中级5000元"),
    ("sm-talent-title", {"title_level": "高级职称"}, True, 10000, "高级10000元"),
    ("sm-talent-title", {"industry": "industrial"}, False, 0, "非软件信息业企业"),
    # 泉州: conditions only, no amount
    ("qz-compute-service", {"compute_purchase_yuan": 299999}, False, None, "<30万"),
    ("qz-compute-service", {"compute_purchase_yuan": 300000}, True, None, "30万(含), 无金额"),
    ("qz-compute-service", {"compute_purchase_yuan": 300001}, True, None, "无金额"),
    ("qz-compute-service", {"has_ai_model": False}, False, None, "无训练中/已训练模型"),
    ("qz-compute-service", {"industry": "industrial"}, False, None, "非软件信息服务业"),
    ("qz-lingyan", {}, True, None, "条件满足, 无金额"),
    ("qz-lingyan", {"qz_has_rd_platform": False}, False, None, "无市级以上研发机构"),
    ("qz-software-product", {}, True, None, "无金额"),
    ("qz-software-product", {"industry": "other"}, False, None, "非工业/软件企业"),
    ("qz-hardware-product", {}, True, None, "无金额"),
    ("qz-hardware-product", {"not_blacklisted": False}, False, None, "失信名单"),
    ("qz-scenario", {"qz_consortium_size": 2}, True, None, "联合体2家"),
    ("qz-scenario", {"qz_consortium_size": 3}, True, None, "联合体3家 不超过3家含"),
    ("qz-scenario", {"qz_consortium_size": 4}, False, None, "联合体4家>3家"),
    ("qz-scenario", {"qz_consortium_size": 1}, False, None, "技术提供方须联合体"),
    ("qz-scenario", {"qz_scenario_role": "应用方", "qz_consortium_size": None}, True, None, "应用方无需联合体"),
    # 安徽
    ("ah-computing-center", {"ah_new_pflops": 399}, False, 0, "399P<400P"),
    ("ah-computing-center", {"ah_new_pflops": "400P"}, True, 1000000, "400P含: 300万×1/3=100万"),
    ("ah-computing-center", {"ah_new_pflops": 401}, True, 1000000, "401P"),
    ("ah-computing-center", {"ah_city_compute_subsidy_yuan": 3000001}, True, 1000000, "3000001/3=1000000.33→1000000"),
    ("ah-computing-center", {"ah_city_compute_subsidy_yuan": 2999999}, True, 999999, "2999999/3=999999.67→999999"),
    ("ah-compute-cost", {"ah_compute_provided": 1000}, False, 0, "净使用量=0 不大于0"),
    ("ah-compute-cost", {"ah_compute_provided": 999}, True, 200000, "净使用量1>0: 100万×20%=20万"),
    ("ah-compute-cost", {"ah_compute_provided": 1001}, False, 0, "净使用量<0"),
    ("ah-compute-cost", {"ah_compute_total_spend_yuan": 999999}, True, 199999, "999999×20%=199999.8"),
    ("ah-compute-cost", {"ah_not_self_built": False}, False, 0, "自建自用"),
    ("ah-data-supplier", {"ah_data_trade_2023_yuan": 4999999}, False, None, "<500万"),
    ("ah-data-supplier", {"ah_data_trade_2023_yuan": 5000000}, True, None, "不少于500万含, 一定比例无金额"),
    ("ah-data-supplier", {"ah_data_trade_2023_yuan": 5000001}, True, None, "无金额"),
    ("ah-data-supplier", {"ah_supplier_type": "其他"}, False, None, "不属于14类"),
    ("ah-key-enterprise", {"ah_city_recruit_subsidy_yuan": 33333333}, True, 9999999, "33333333×30%=9999999.9"),
    ("ah-key-enterprise", {"ah_city_recruit_subsidy_yuan": 33333334}, True, 10000000, "10000000.2>上限1000万"),
    ("ah-key-enterprise", {"ah_city_recruit_subsidy_yuan": 0}, False, 0, "市级未补助"),
    ("ah-competition", {}, True, None, "优秀奖, 无金额"),
    ("ah-competition", {"ah_competition_award": "未获奖"}, False, None, "未获奖"),
    ("ah-competition", {"ah_relocated_within_year": False}, False, None, "未迁移"),
]


@pytest.mark.parametrize("program_id, overrides, eligible, amount", [c[:4] for c in CASES], ids=[f"{c[0]}:{c[4]}" for c in CASES])
def test_threshold_and_cap(program_id, overrides, eligible, amount):
    """Ceiling = rules formula on the facts, floor to yuan; the id states the arithmetic."""
    facts = {**BASE[program_id], **overrides}
    calc = calculate(program_id, facts, AS_OF)
    assert calc.eligible is eligible, (calc.unmet, calc.missing)
    assert calc.amount_yuan == amount
    assert calc.missing == []
    if eligible is False:
        assert calc.unmet


def test_every_program_has_a_base_and_cases():
    ids = {p.id for p in load_programs()}
    assert set(BASE) == ids
    assert {c[0] for c in CASES} == ids


@pytest.mark.parametrize("program_id", sorted(BASE))
def test_base_facts_are_eligible_with_citations(program_id):
    """The base facts meet every condition; the result cites the program's clauses and reports validity."""
    calc = calculate(program_id, BASE[program_id], AS_OF)
    assert calc.eligible is True, calc.unmet
    assert calc.citations and calc.citations[0].text
    assert calc.validity is not None
    assert calc.formula


# --- worked steps --------------------------------------------------------------------------------------------
def test_steps_read_like_the_issue():
    calc = calculate("xm-compute-voucher", {"compute_purchase_yuan": "80万"}, AS_OF)
    assert "80万元 × 50% = 40万元，未超过上限50万元" in calc.steps
    assert calc.amount_yuan == 400000
    assert calc.payment_form == "算力券"
    assert calc.period == "每年"


def test_step_function_is_spelled_out():
    """650万: floor(650万/200万)=3 → 3×10万=30万; growth 650/600 ≈ 8.3% → no bonus; ≤1000万 → no 5%."""
    calc = calculate("xm-rd-investment", BASE["xm-rd-investment"], AS_OF)
    assert "floor(650万元 ÷ 200万元)=3，3 × 10万元 = 30万元，未超过上限500万元" in calc.steps
    assert calc.amount_yuan == 300000
    assert any("再给予5%" in a and "封顶后" in a for a in calc.assumptions)


def test_rounding_down_is_stated():
    calc = calculate("xm-compute-voucher", {"compute_purchase_yuan": 300001}, AS_OF)
    assert any("向下取整" in s for s in calc.steps)


def test_tier_upgrade_steps():
    calc = calculate("xm-scale-up", {**BASE["xm-scale-up"], "scale_up_received_yuan": "10万"}, AS_OF)
    assert "晋级补差：20万元 − 已获得10万元 = 10万元" in calc.steps
    assert any("首次超过" in a for a in calc.assumptions)


def test_ratio_of_other_names_city_government():
    calc = calculate("ah-computing-center", BASE["ah-computing-center"], AS_OF)
    assert calc.beneficiary == "市政府"
    assert any("项目所在市人民政府" in s for s in calc.steps)
    assert "300万元 × 1/3 = 100万元（文件未规定金额上限）" in calc.steps


def test_loan_reports_loan_ceiling_not_award():
    calc = calculate("xm-rd-loan", BASE["xm-rd-loan"], AS_OF)
    assert calc.amount_kind == "loan"
    assert calc.amount_yuan == 15000000
    assert any("年化利率2%" in s and "最长5年" in s for s in calc.steps)


def test_no_amount_program_says_so():
    calc = calculate("xm-computing-center", BASE["xm-computing-center"], AS_OF)
    assert calc.eligible is True and calc.amount_yuan is None
    assert calc.amount_kind == "none"
    assert any("文件未规定固定金额" in s for s in calc.steps)
    qz = calculate("qz-lingyan", BASE["qz-lingyan"], AS_OF)
    assert any("未规定补助金额" in s for s in qz.steps)


def test_unmet_quotes_the_clause_phrase():
    calc = calculate("xm-public-platform", {**BASE["xm-public-platform"], "platform_served_enterprises": 50}, AS_OF)
    assert any("且服务企业数超过50家" in u and "50" in u for u in calc.unmet)


# --- missing facts ----------------------------------------------------------------------------------------
def test_missing_facts_still_show_formula():
    calc = calculate("xm-compute-voucher", {}, AS_OF)
    assert calc.eligible is None and calc.amount_yuan is None
    assert calc.missing == ["年度购买算力服务总额"]
    assert calc.missing_facts == ["compute_purchase_yuan"]
    assert calc.steps[0] == "计算公式：年度购买算力服务总额 × 50%，最高不超过50万元。"


def test_missing_derived_fact_asks_for_its_inputs():
    calc = calculate("xm-revenue-growth", {"above_scale": True, "industry": "software",
                                           "revenue_last_year_yuan": "1亿"}, AS_OF)
    assert calc.eligible is None
    assert calc.missing_facts == ["revenue_prev_year_yuan"]


def test_unknown_condition_with_known_amount_gives_conditional_ceiling():
    """200万 × 10% = 20万: the ceiling is reported, eligibility stays unknown until the conditions are stated."""
    calc = calculate("xm-scenario", {"scenario_city_sales_yuan": "200万"}, AS_OF)
    assert calc.eligible is None and calc.amount_yuan == 200000
    assert calc.potential_amount_yuan == 200000
    assert any("若其余条件均满足" in s for s in calc.steps)
    assert set(calc.missing_facts) == {"scenario_xiamen_benchmark", "scenario_fujian_selected"}


def test_a_failed_condition_beats_missing_facts():
    calc = calculate("sm-compute", {"compute_purchase_yuan": "4万"}, AS_OF)
    assert calc.eligible is False and calc.amount_yuan == 0
    assert calc.missing_facts == ["compute_listed_on_platform"]


def test_loan_only_asks_rd_spend_for_existing_enterprises():
    assert calculate("xm-rd-loan", {"enterprise_kind": "existing"}, AS_OF).missing_facts == ["rd_expense_last_year_yuan"]
    assert calculate("xm-rd-loan", {"enterprise_kind": "new"}, AS_OF).missing_facts == []


# --- raw strings --------------------------------------------------------------------------------------------
def test_raw_strings_are_parsed():
    calc = calculate("sm-digital-transform", {"industry": "工业企业", "digital_level": "三级",
                                              "digital_investment_yuan": "六十万元"}, AS_OF)
    assert calc.amount_yuan == 120000
    calc = calculate("xm-key-tech", {"key_tech_level": "国家级", "key_tech_rd_investment_yuan": "1,000万元"}, AS_OF)
    assert calc.amount_yuan == 4000000
    calc = calculate("xm-public-platform", {"public_service_platform": "是", "platform_service_revenue_yuan": "0.015亿",
                                            "platform_served_enterprises": "六十家"}, AS_OF)
    assert calc.amount_yuan == 150000


def test_growth_given_directly_is_used():
    """上年营收1亿, 增速30% given directly (no prior-year amount): growth ok; increment needs the amounts."""
    calc = calculate("xm-revenue-growth", {"above_scale": True, "industry": "software", "revenue_last_year_yuan": "1亿",
                                           "revenue_growth_percent": "30%", "revenue_increment_yuan": "2300万"}, AS_OF)
    assert calc.eligible is True
    assert calc.amount_yuan == 138000  # 2300万 × 0.6% = 13.8万


def test_unknown_keys_are_ignored_and_location_checked():
    calc = calculate("sm-compute", {**BASE["sm-compute"], "whatever": 1}, AS_OF)
    assert calc.eligible is True
    away = calculate("sm-compute", {**BASE["sm-compute"], "province": "福建省", "city": "厦门市", "district": "湖里区"}, AS_OF)
    assert away.eligible is False
    assert any("思明区" in u and "湖里区" in u for u in away.unmet)


# --- validity beside amount -----------------------------------------------------------------------------------
def test_expiry_never_changes_the_amount():
    before = calculate("xm-compute-voucher", {"compute_purchase_yuan": "80万"}, dt.date(2025, 12, 31))
    after = calculate("xm-compute-voucher", {"compute_purchase_yuan": "80万"}, dt.date(2026, 11, 22))
    assert before.amount_yuan == after.amount_yuan == 400000
    assert before.validity.status == "in_force" and after.validity.status == "expired"
    assert "已失效" in after.validity.message
    assert any("已失效" in n for n in after.notes)


def test_closed_window_reported_for_guide():
    calc = calculate("xm-guide-maas", BASE["xm-guide-maas"], dt.date(2024, 7, 16))
    assert calc.validity.window_open is False
    assert calc.amount_yuan == 500000
    assert "2024年7月15日" in calc.application and "慧企云" in calc.application
    assert any("附件4" in m for m in calc.materials)


# --- errors ------------------------------------------------------------------------------------------------
def test_unknown_program():
    with pytest.raises(UnknownProgramError) as info:
        calculate("xm-nothing", {}, AS_OF)
    assert "xm-nothing" in info.value.message_zh


@pytest.mark.parametrize("program_id, facts, fragment", [
    ("xm-compute-voucher", {"compute_purchase_yuan": "-5万"}, "负数"),
    ("xm-compute-voucher", {"compute_purchase_yuan": "很多钱"}, "无法识别金额"),
    ("xm-compute-voucher", {"compute_purchase_yuan": "2万亿"}, "超过1万亿元"),
    ("xm-public-platform", {"platform_served_enterprises": "-3家"}, "负数"),
    ("xm-standards", {"standard_drafter_rank": 0}, "不能小于1"),
    ("xm-standards", {"standard_level": "宇宙标准"}, "可选"),
    ("xm-revenue-growth", {"revenue_growth_percent": "-150%"}, "不能小于-100"),
    ("sm-filing", {"filing_date": "去年"}, "完整日期"),
    ("sm-filing", {"filing_date": "2024-02-30"}, "有效日期"),
    ("xm-key-tech", {"key_tech_level": "国家级和省级"}, "只能选一项"),
    ("xm-rd-investment", {"rd_expense_yuan": "1300万", "rd_expense_last_year_yuan": "900万",
                          "rd_growth_percent": "10%"}, "不一致"),
])
def test_invalid_facts_raise_chinese_errors(program_id, facts, fragment):
    with pytest.raises(InvalidFactError) as info:
        calculate(program_id, facts, AS_OF)
    assert fragment in info.value.message_zh


def test_consistent_rounded_growth_is_accepted():
    """1300万 vs 900万 = 44.44…%; a user's rounded '44.4%' is within half a point and accepted."""
    calc = calculate("xm-rd-investment", {**BASE["xm-rd-investment"], "rd_expense_yuan": "1300万",
                                          "rd_expense_last_year_yuan": "900万", "rd_growth_percent": "44.4%"}, AS_OF)
    assert calc.amount_yuan == 1130000  # 6档60万 + 增长>40% 50万 + 60万×5% 3万


# --- helpers for the UI ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("program_id", sorted(BASE))
def test_describe_formula_and_program_facts(program_id):
    assert describe_formula(program_id)
    facts = program_facts(program_id)
    assert facts and all(f["label"] for f in facts)


def test_program_facts_marks_optional_and_choices():
    facts = {f["name"]: f for f in program_facts("xm-scale-up")}
    assert facts["revenue_previous_max_yuan"]["optional"] is True
    assert facts["revenue_last_year_yuan"]["optional"] is False
    choices = program_facts("xm-standards")[0]["choices"]
    assert [c["key"] for c in choices][:3] == ["international", "national", "industry"]


@pytest.mark.parametrize("city_avg,eligible", [("19.99%", True), ("20%", True), ("20.01%", False)])
def test_scale_up_growth_not_below_city_average_boundary(city_avg, eligible):
    """营收1.2亿 vs 1亿 → 增速20%；“不低于”市平均含本数：19.99%、20% 满足，20.01% 不满足。"""
    facts = {"above_scale": True, "industry": "software", "revenue_last_year_yuan": "1.2亿",
             "revenue_prev_year_yuan": "1亿", "city_avg_software_growth_percent": city_avg, "scale_up_received_yuan": "10万"}
    calc = calculate("xm-scale-up", facts, AS_OF)
    assert calc.eligible is eligible
    assert calc.amount_yuan == (100000 if eligible else 0)


def test_scale_up_growth_condition_can_be_stated_directly():
    """“增速不低于市平均” stated as a yes/no fact: 1.2亿 first crosses 1亿 (20万) − 10万 received = 10万."""
    facts = {"above_scale": True, "industry": "software", "revenue_last_year_yuan": "1.2亿",
             "revenue_growth_not_below_city_avg": "是", "scale_up_received_yuan": "10万"}
    assert calculate("xm-scale-up", facts, AS_OF).amount_yuan == 100000


def test_stated_growth_flag_contradicting_the_figures_is_an_error():
    facts = {"above_scale": True, "industry": "software", "revenue_last_year_yuan": "1.2亿", "revenue_prev_year_yuan": "1亿",
             "city_avg_software_growth_percent": "30%", "revenue_growth_not_below_city_avg": "是"}
    with pytest.raises(InvalidFactError):
        calculate("xm-scale-up", facts, AS_OF)


SCALE_UP_BASE = {"above_scale": True, "industry": "software", "revenue_growth_not_below_city_avg": True,
                 "scale_up_received_yuan": "10万"}


def test_scale_up_stated_tier_stands_in_for_revenue():
    """“营收首次超过1亿”, no figure: 1亿档 20万 − 已获10万 = 10万."""
    calc = calculate("xm-scale-up", {**SCALE_UP_BASE, "revenue_tier_first_exceeded_yuan": "1亿"}, AS_OF)
    assert calc.amount_yuan == 100000 and calc.eligible is True


def test_scale_up_revenue_wins_over_a_stated_tier():
    """首次突破1亿 but 去年2.3亿 → the 2亿 tier (50万) − 10万 = 40万."""
    facts = {**SCALE_UP_BASE, "revenue_tier_first_exceeded_yuan": "1亿", "revenue_last_year_yuan": "2.3亿"}
    assert calculate("xm-scale-up", facts, AS_OF).amount_yuan == 400000


def test_scale_up_stated_tier_must_be_a_tier():
    with pytest.raises(InvalidFactError):
        calculate("xm-scale-up", {**SCALE_UP_BASE, "revenue_tier_first_exceeded_yuan": "1.5亿"}, AS_OF)


@pytest.mark.parametrize("answer", ["也许", "不知道", "是不是我也不知道", "不清楚", "还没确定", "maybe"])
def test_yes_no_facts_count_only_clear_words(answer):
    """Only clear yes/no words count; "不知道" and the like are unknown, so the verdict waits for the fact."""
    calc = calculate("sm-compute", {"compute_purchase_yuan": "80万", "compute_listed_on_platform": answer}, AS_OF)
    assert calc.eligible is None and "compute_listed_on_platform" in calc.missing_facts
    assert calc.potential_amount_yuan == 80000  # 80万 × 10%, only if the platform condition holds
    assert "若其余条件均满足" in calc.steps[-1]


def test_the_programs_own_place_counts_in_whichever_field_it_was_typed():
    """A district typed into the city field (city: 思明区) is inside the district's programs, not a mismatch."""
    from tools.calculator import region_status
    from tools.catalog import default_catalog

    program = default_catalog().program("sm-compute")
    assert region_status(program, {"city": "思明区"}) == (True, "")
    assert region_status(program, {"city": "厦门市", "district": "湖里区"})[0] is False
    assert region_status(program, {"city": "厦门市"})[0] is None


@pytest.mark.parametrize("raw, expected", [("120P", 120), ("30台", 30), ("一百二十", 120), ("1,200", 1200), (" 80 ", 80)])
def test_quantity_facts_read_a_number_with_its_unit_word(raw, expected):
    assert parse_fact(default_catalog().facts["ah_compute_used"], raw) == expected


@pytest.mark.parametrize("raw", ["500%", "100P; DROP TABLE", "约100P左右吧!", "P100"])
def test_quantity_facts_refuse_anything_else_after_the_number(raw):
    with pytest.raises(InvalidFactError) as err:
        parse_fact(default_catalog().facts["ah_compute_used"], raw)
    assert raw.strip() in err.value.message_zh


@pytest.mark.parametrize("raw", ["Infinity", "INFINITY", "another", "Bitcoin", "split"])
def test_a_latin_alias_inside_a_longer_word_is_not_that_option(raw):
    """industry has the alias “IT” (and the key “other”): “InfinITy”, “anOTHER”, “bITcoin” name no industry — the
    reliability fuzz found 'Infinity' read as 软件和信息技术服务业 and granted a talent award."""
    with pytest.raises(InvalidFactError):
        parse_fact(default_catalog().facts["industry"], raw)


@pytest.mark.parametrize("raw", ["IT", "it", "IT企业", "做IT的", "IT/互联网", "软件 IT"])
def test_a_latin_alias_standing_alone_or_beside_chinese_still_counts(raw):
    assert parse_fact(default_catalog().facts["industry"], raw) == "software"


def test_garbage_industry_does_not_grant_the_talent_award():
    """sm-talent-title with industry='Infinity' and every other fact valid: refused, never an amount."""
    assert calculate("sm-talent-title", BASE["sm-talent-title"], as_of=AS_OF).amount_yuan == 5000
    with pytest.raises(InvalidFactError):
        calculate("sm-talent-title", {**BASE["sm-talent-title"], "industry": "Infinity"}, as_of=AS_OF)
