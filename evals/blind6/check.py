"""Consistency checks for the sixth blind set (written blind; this script never runs the assistant).

Run from the project root:  cd /work/main && .venv/bin/python /work/shared/blind6/check.py

What it checks
- every file loads with `evals.runner.load_cases`; 130–150 cases; ≥13 per class; ids `b6-<class>-NN`; all frozen;
- every amount turn (`amount_yuan` exact, `amounts`, `total_yuan`) is recomputed here with exact fractions from the
  facts stated in the question(s), and every fact's figure (a “needle”) occurs in the session's questions;
- every `forbid_amounts` figure equals a named wrong reading computed here, and never an expected figure of the turn;
- every `eligible: false` turn has a failing condition asserted here and sets `amount_yuan: null`;
- clause ids (`cite`, `cite_ok`), `validity` / `cite_docs` document ids exist in `corpus.load_clauses()`;
  programme ids exist in docs/ARCHITECTURE.md and all of them are used;
- every phrase group has an alternative that occurs in the text of a clause the turn must cite (no-amount and
  expired groups are exempt); date phrases carry the ISO alternative; money-threshold phrases carry the yuan figure;
- must-refuse cases cite nothing and accept only refused / not_found; every exact amount names its programme.
Reading rules used: 以上/含/不少于 include the bound, 超过/高于 exclude it, 最高 is a ceiling, 每满 is a floor step,
晋级补差 deducts lower tiers already received, listing stages are not deducted, per-year caps apply per year before
summing, 安徽 ratios are paid to the city government (1/3 only on figures divisible by 3).
"""
from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections import Counter
from fractions import Fraction as F
from pathlib import Path

MAIN = Path("/work/main")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(MAIN))

import corpus  # noqa: E402
from corpus.yamlio import load_yaml  # noqa: E402
from evals.runner import BLIND_STRATA, load_cases  # noqa: E402

W = 10000  # 1万 in yuan
D = dt.date

# --- the rules, as read from corpus/clean/*.txt -----------------------------------------------------------------
XM_START, XM_END = D(2023, 10, 10), D(2025, 12, 31)      # xm-measures:closing
SM_START, SM_END = D(2025, 1, 1), D(2026, 12, 31)        # siming:notes.4
AH_FROM, AH_TO, AH_KEY_FROM = D(2023, 1, 1), D(2024, 6, 15), D(2023, 12, 8)  # anhui:2


def xm_voucher(spend, year=2024):
    """xm-measures:1.3 年度购买总额达到30万元以上 → 最高50%，每年最高50万。"""
    if not (2023 <= year <= 2025) or spend < 30 * W:
        return None
    return min(F(spend) / 2, 50 * W)


def xm_maas(rev):
    """xm-measures:3.11 / xm-guide:4.1 最高5%，每家最高200万。"""
    return min(F(rev) * F(5, 100), 200 * W)


def xm_rd(cur, prev):
    """xm-measures:2.6 → (每满200万10万 capped 500万, 增长奖励)."""
    if not (cur > 200 * W and cur > prev):
        return None
    assert cur <= 1000 * W, "the 再给予5% reading is avoided"
    base = min((F(cur) // (200 * W)) * 10 * W, 500 * W)
    growth = F(cur - prev, prev)
    bonus = 0
    if cur > 500 * W:
        if growth > F(40, 100):
            bonus = 50 * W
        elif growth > F(20, 100):
            bonus = 30 * W
    return base, bonus


def xm_growth(rev, prev):
    """xm-measures:2.8 上一年度营业收入超过5000万且增速高于25% → 增量×0.6%，最高600万。"""
    if rev > 5000 * W and F(rev - prev, prev) > F(25, 100):
        return min(F(rev - prev) * F(6, 1000), 600 * W)
    return None


TIERS = [(5000 * W, 10 * W), (10000 * W, 20 * W), (20000 * W, 50 * W), (50000 * W, 100 * W), (100000 * W, 150 * W),
         (200000 * W, 200 * W)]


def xm_scaleup(rev, prev, received=0, growth_ok=True):
    """xm-measures:2.8 首次超过 tier, 晋级补差 (minus what lower tiers already paid)."""
    if not growth_ok:
        return None
    new = [a for t, a in TIERS if rev > t and not prev > t]
    assert len(new) <= 1, "no case skips a tier in one year"
    return (new[0] - received) if new else None


def xm_platform(rev, firms):
    """xm-measures:2.5 / xm-guide:3.1 服务收入超过100万且服务企业数超过50家 → 10%，最高100万。"""
    if rev > 100 * W and firms > 50:
        return min(F(rev) / 10, 100 * W)
    return None


def xm_scenario(local_sales, in_xiamen=True):
    """xm-measures:3.12 已在厦打造标杆 + 省典型场景 → 市内销售收入10%，最高50万。"""
    return min(F(local_sales) / 10, 50 * W) if in_xiamen else None


KEYTECH = {"national": (F(40, 100), 1000 * W), "provincial": (F(40, 100), 300 * W), "city": (F(30, 100), 1000 * W)}


def xm_keytech(level, rd, year=2024):
    """xm-measures:2.4 / xm-guide:2.1 per project."""
    if not (2023 <= year <= 2025):
        return None
    rate, cap = KEYTECH[level]
    return min(F(rd) * rate, cap)


FIRST_SET = {"miit": (F(60, 100), 500 * W), "fj_domestic": (F(60, 100), 200 * W), "fj_in": (F(30, 100), 100 * W)}


def xm_first_set(catalogue, unit_price):
    """xm-measures:3.10 按市场销售单价, per product."""
    rate, cap = FIRST_SET[catalogue]
    return min(F(unit_price) * rate, cap)


STANDARD = {"intl": 100 * W, "national": 50 * W, "industry": 40 * W}


def xm_standard(kind, rank):
    """xm-measures:2.7 起草单位（排名前5名）."""
    return STANDARD[kind] if rank <= 5 else None


LISTING = {"neeq": 30 * W, "tutoring": 50 * W, "accepted": 100 * W}  # xm-measures:2.9, stages not deducted
XM_LAB, XM_LITTLE_GIANT = 1000 * W, 50 * W


def xm_little_giant(national=True):
    return XM_LITTLE_GIANT if national else None


def xm_loan(prev_rd):
    """xm-measures:4.17 存量企业 ≤5000万 且 ≤上年研发费用50%."""
    return min(5000 * W, F(prev_rd) / 2)


def sm_compute(spend, listed=True, year=2025):
    """siming:art2 ≥5万(含) + 上架 → 10%，每年最高25万."""
    if not (2025 <= year <= 2026) or spend < 5 * W or not listed:
        return None
    return min(F(spend) / 10, 25 * W)


def sm_algo(spend, listed=True):
    """siming:art3 ≥10万(含) + 上架 → 20%，每年最高15万."""
    return min(F(spend) / 5, 15 * W) if spend >= 10 * W and listed else None


def sm_corpus(spend, registered=True, listed=True):
    """siming:art4 登记 + ≥5万(含) + 上架 → 20%，每年最高15万."""
    return min(F(spend) / 5, 15 * W) if spend >= 5 * W and registered and listed else None


FILING = {"algo": 5 * W, "deep": 5 * W, "genai": 20 * W}


def sm_filing(kind, done, nonrelated, listed=True):
    """siming:art5 2024-01-01(含)以来首次完成; 非关联企业 ≥5(含); 上架."""
    return FILING[kind] if done >= D(2024, 1, 1) and nonrelated >= 5 and listed else None


DT_CAP = {2: 10 * W, 3: 15 * W, 4: 20 * W}


def sm_digital(invest, level, industrial=True):
    """siming:art6 工业企业, 二/三/四级 → 20%, caps 10/15/20万."""
    if not industrial or level not in DT_CAP:
        return None
    return min(F(invest) / 5, DT_CAP[level])


SCEN = {"city": 5 * W, "prov": 10 * W, "national": 20 * W}


def sm_scenario(level, selected):
    """siming:art7 2025-01-01(含)以来."""
    return SCEN[level] if selected >= D(2025, 1, 1) else None


TITLE = {"mid": 5000, "senior": 10000}


def sm_title(level, obtained, ai=True, software=True):
    """siming:art9 2023-01-01(含)以来, 软件信息业企业, 人工智能专业."""
    return TITLE[level] if obtained >= D(2023, 1, 1) and ai and software else None


SM_BUILDING = 100 * W  # siming:art8 每年最高100万


def ah_cc(city_subsidy, petaflops, done=True):
    """anhui:3.1/5.1 400P(含)以上, 已完成 → 市级实际补助的1/3 (paid to the city)."""
    if petaflops < 400 or not done:
        return None
    assert city_subsidy % 3 == 0
    return F(city_subsidy, 3)


def ah_cost(spend, used_minus_contributed=1, when=D(2024, 3, 1)):
    """anhui:3.2/5.2 net usage > 0, project period → ≤20% of 算力总支出."""
    if used_minus_contributed <= 0 or not (AH_FROM <= when <= AH_TO):
        return None
    return F(spend) / 5


def ah_key(subsidy_paid, signed):
    """anhui:3.4/5.4 实际补助 (市级含县区) × 30%, 最高1000万, from 2023-12-08 (paid to the city)."""
    if subsidy_paid <= 0 or not (AH_KEY_FROM <= signed <= AH_TO):
        return None
    return min(F(subsidy_paid) * F(30, 100), 1000 * W)


def ah_data_ok(volume):
    return volume >= 500 * W  # anhui:3.3 不少于500万 (no amount: 一定比例)


def qz_compute_ok(spend):
    return spend >= 30 * W  # quanzhou:2.1 30万元（含）以上 (no amount)


# --- the facts of every amount / negative turn -------------------------------------------------------------------
# key: "case-id" or "case-id#turn"; amount / amounts / total: expected; forbid: name → wrong reading; fails: a
# condition that must be falsy (None / False) for eligible: false turns; needles: figures the questions must contain.
def v(x):
    return x if x is not None else 0


E: dict[str, dict] = {
    # binding
    "b6-binding-01": dict(amount=xm_voucher(31 * W + 43 * W), needles=["31万", "43万", "22万", "3100万"],
                          forbid={"跨年相加": min(F(31 + 43 + 22) * W / 2, 50 * W), "营收基数": min(F(3100 * W) / 2, 50 * W)}),
    "b6-binding-02": dict(amount=xm_maas(1340 * W), needles=["1340万", "2860万"], forbid={"全部软件收入": F(2860 * W) * F(5, 100)}),
    "b6-binding-03": dict(amount=xm_rd(870 * W, 760 * W)[0], bonus0=xm_rd(870 * W, 760 * W)[1], needles=["870万", "760万"],
                          forbid={"传言10%": F(870 * W) / 10}),
    "b6-binding-04": dict(amount=sm_compute(38 * W + 47 * W), needles=["38万", "47万", "19万"],
                          forbid={"含2026年": sm_compute((38 + 47 + 19) * W)}),
    "b6-binding-05": dict(amount=xm_scaleup(12600 * W, 8900 * W, received=10 * W), needles=["8900万", "1.26亿", "10万"],
                          forbid={"未补差": xm_scaleup(12600 * W, 8900 * W)}),
    "b6-binding-06": dict(amount=ah_cc(1890 * W, 620), needles=["1890万", "620P", "9.6亿"], forbid={"总投资": F(96000 * W, 3)}),
    "b6-binding-07": dict(amount=ah_cost(436 * W), needles=["436万", "200万"], forbid={"含自购服务器": ah_cost((436 + 200) * W)}),
    "b6-binding-08": dict(amount=xm_first_set("fj_domestic", 186 * W), needles=["186万", "2604万"],
                          forbid={"累计销售额": xm_first_set("fj_domestic", 2604 * W)}),
    "b6-binding-09": dict(amount=sm_algo(6 * W + F(95000)), needles=["6万", "9.5万"],
                          forbid={"只算单笔6万": F(6 * W) / 5, "只算单笔9.5万": F(95000) / 5}),
    "b6-binding-10": dict(amount=ah_key((420 + 180) * W, D(2024, 1, 15)), needles=["420万", "180万", "2024年1月"],
                          forbid={"漏县区": ah_key(420 * W, D(2024, 1, 15))}),
    "b6-binding-11": dict(amount=xm_platform(640 * W, 73), needles=["640万", "73家", "2150万"],
                          forbid={"总营收": xm_platform(2150 * W, 73)}),
    "b6-binding-12": dict(amount=xm_scenario(320 * W), needles=["320万", "860万"], forbid={"全部销售": xm_scenario(860 * W)}),
    "b6-binding-13": dict(amount=xm_standard("national", 3), needles=["第3", "40万"],
                          forbid={"错误补差": xm_standard("national", 3) - 40 * W}),
    "b6-binding-14": dict(amount=xm_growth(18400 * W, 13800 * W), needles=["1.84亿", "1.38亿"],
                          forbid={"全年营收": F(18400 * W) * F(6, 1000)}),
    "b6-binding-15": dict(amount=xm_keytech("provincial", 680 * W), needles=["680万", "2300万"],
                          forbid={"公司全部研发": xm_keytech("provincial", 2300 * W)}),
    "b6-binding-16": dict(amount=sm_corpus(28 * W), needles=["28万", "12万"], forbid={"两年合计": sm_corpus(40 * W)}),
    "b6-binding-17": dict(amount=LISTING["tutoring"], needles=["30万"], forbid={"错误扣减": LISTING["tutoring"] - LISTING["neeq"]}),
    "b6-binding-18": dict(amount=ah_key(4200 * W, D(2024, 2, 1)), needles=["4200万"], forbid={"未封顶": F(4200 * W) * F(3, 10)}),
    # multi_item
    "b6-multi_item-01": dict(amounts={"sm-compute": sm_compute(62 * W), "sm-model-algorithm": sm_algo(18 * W),
                                      "sm-corpus-data": sm_corpus(7 * W)}, needles=["62万", "18万", "7万"]),
    "b6-multi_item-02": dict(amounts={"xm-compute-voucher": xm_voucher(128 * W), "xm-maas": xm_maas(2400 * W),
                                      "xm-scenario": xm_scenario(380 * W)}, needles=["128万", "2400万", "380万"],
                             forbid={"算力券未封顶": F(128 * W) / 2}),
    "b6-multi_item-03": dict(total=xm_first_set("miit", 1050 * W) + xm_first_set("fj_domestic", 260 * W)
                             + xm_first_set("fj_in", 410 * W), needles=["1050万", "260万", "410万"],
                             forbid={"A未封顶": F(1050 * W) * F(60, 100), "C未封顶": F(410 * W) * F(30, 100)}),
    "b6-multi_item-04": dict(total=v(xm_standard("intl", 2)) + v(xm_standard("national", 6)) + v(xm_standard("industry", 1))
                             + v(xm_standard("industry", 4)), needles=["排第2", "排第6", "排第1", "排第4"],
                             forbid={"含第6名": xm_standard("intl", 2) + 50 * W + 2 * xm_standard("industry", 1)}),
    "b6-multi_item-05": dict(amounts={"ah-computing-center": ah_cc(960 * W, 450)},
                             total=ah_cc(960 * W, 450) + ah_key(700 * W, D(2024, 1, 10)) + ah_key(1600 * W, D(2024, 3, 10)),
                             needles=["450P", "960万", "700万", "1600万"]),
    "b6-multi_item-06": dict(amounts={"sm-scenario-benchmark": sm_scenario("national", D(2025, 11, 1))},
                             total=sm_filing("deep", D(2025, 5, 1), 6) + sm_filing("genai", D(2025, 9, 1), 6)
                             + sm_scenario("national", D(2025, 11, 1)), needles=["6家", "2025年5月", "11月"]),
    "b6-multi_item-07": dict(total=sum(xm_rd(640 * W, 490 * W)), bonus=xm_rd(640 * W, 490 * W)[1], needles=["640万", "490万"]),
    "b6-multi_item-08": dict(amounts={"xm-national-lab": XM_LAB, "xm-little-giant": xm_little_giant(),
                                      "xm-public-platform": xm_platform(1380 * W, 62)}, needles=["1380万", "62家"],
                             forbid={"平台未封顶": F(1380 * W) / 10}),
    "b6-multi_item-09": dict(total=sm_compute(310 * W) + sm_compute(140 * W, year=2026), needles=["310万", "140万"],
                             forbid={"跨年不分年封顶": F(450 * W) / 10}),
    "b6-multi_item-10": dict(total=xm_keytech("national", 3100 * W) + xm_keytech("city", 900 * W), needles=["3100万", "900万"],
                             forbid={"国家级未封顶": F(3100 * W) * F(40, 100),
                                     "合计未封顶": F(3100 * W) * F(40, 100) + F(900 * W) * F(30, 100)}),
    "b6-multi_item-11": dict(total=sm_title("mid", D(2024, 3, 1)) + sm_title("mid", D(2025, 6, 1))
                             + sm_title("senior", D(2025, 11, 1)),
                             needles=["2024年3月", "2025年6月", "2025年11月"]),
    "b6-multi_item-12": dict(amounts={"xm-maas": xm_maas(900 * W)}, ok=qz_compute_ok(45 * W), needles=["900万", "45万"]),
    "b6-multi_item-13": dict(amounts={"ah-compute-cost": ah_cost(265 * W)}, needles=["265万"]),
    "b6-multi_item-14": dict(amounts={"sm-compute": sm_compute(24 * W, year=2026), "sm-corpus-data": sm_corpus(15 * W)},
                             total=sm_compute(24 * W, year=2026) + sm_corpus(15 * W), fails=sm_algo(8 * W),
                             needles=["24万", "8万", "15万"]),
    "b6-multi_item-15": dict(total=xm_maas(260 * W) + xm_platform(150 * W, 56), needles=["260万", "150万", "56家"]),
    "b6-multi_item-16": dict(amounts={"xm-revenue-growth": xm_growth(5600 * W, 4100 * W), "xm-scale-up": xm_scaleup(5600 * W, 4100 * W)},
                             needles=["5600万", "4100万"]),
    # negative (each `fails` must be None / False)
    "b6-negative-01": dict(fails=xm_voucher(F(96000) + 11 * W + F(82000), 2025), needles=["9.6万", "11万", "8.2万"]),
    "b6-negative-02": dict(fails=xm_platform(180 * W, 50), needles=["180万", "50家"]),
    "b6-negative-03": dict(fails=xm_rd(690 * W, 720 * W), needles=["690万", "720万"]),
    "b6-negative-04": dict(fails=xm_growth(4900 * W, 3500 * W), needles=["4900万", "3500万"]),
    "b6-negative-05": dict(fails=sm_digital(40 * W, 1), needles=["40万", "一级"]),
    "b6-negative-06": dict(fails=sm_corpus(14 * W, listed=False), needles=["14万", "没有在AI产业服务平台上架"]),
    "b6-negative-07": dict(fails=sm_filing("genai", D(2025, 6, 1), 0), needles=["6家", "关联企业"]),
    "b6-negative-08": dict(fails=ah_cc(0, 320), needles=["320P"]),
    "b6-negative-09": dict(fails=ah_data_ok(487 * W), needles=["487万"]),
    "b6-negative-10": dict(fails=ah_key(0, D(2024, 3, 1)), needles=["一分钱还没拨"]),
    "b6-negative-11": dict(fails=qz_compute_ok(26 * W), needles=["26万"]),
    "b6-negative-12": dict(fails=sm_scenario("city", D(2024, 11, 1)), needles=["2024年11月"]),
    "b6-negative-13": dict(fails=sm_title("mid", D(2025, 1, 1), ai=False), needles=["中级会计师"]),
    "b6-negative-14": dict(fails=xm_little_giant(national=False), needles=["省级专精特新"]),
    "b6-negative-15": dict(fails=xm_scaleup(10800 * W, 9900 * W, growth_ok=F(10800 - 9900, 9900) >= F(14, 100)),
                           needles=["1.08亿", "9900万", "14%"]),
    "b6-negative-18": dict(fails=xm_scenario(0, in_xiamen=False), needles=["在厦门没有落地"]),
    # input_forms
    "b6-input_forms-01": dict(amount=xm_voucher(86 * W), needles=["八十六萬"]),
    "b6-input_forms-02": dict(amount=sm_algo(125000), needles=["１２．５万"]),
    "b6-input_forms-03": dict(amount=xm_maas(2340 * W), needles=["贰仟叁佰肆拾万"]),
    "b6-input_forms-04": dict(amount=xm_rd(940 * W, 890 * W)[0], bonus0=xm_rd(940 * W, 890 * W)[1], needles=["9.4 million", "8.9 million"]),
    "b6-input_forms-05": dict(amount=ah_cost(315 * W), needles=["3.15 million"]),
    "b6-input_forms-06": dict(amount=sm_corpus(18 * W), needles=["十八万"]),
    "b6-input_forms-07": dict(amount=xm_first_set("fj_in", 45 * W), needles=["45w"]),
    "b6-input_forms-08": dict(amount=xm_keytech("national", 1050 * W), needles=["一千零五十万"]),
    "b6-input_forms-09": dict(amount=sm_compute(2350000), needles=["¥2,350,000"]),
    "b6-input_forms-10": dict(amount=sm_digital(68 * W, 4), needles=["六十八万", "四级"]),
    "b6-input_forms-11": dict(amount=ah_key((1200 + 300) * W, D(2024, 1, 15)), needles=["壹仟貳佰萬", "叁佰萬"]),
    "b6-input_forms-12": dict(amount=xm_scaleup(12000 * W, 8600 * W, received=10 * W), needles=["1.2个亿", "8600万"],
                              forbid={"未补差": xm_scaleup(12000 * W, 8600 * W)}),
    "b6-input_forms-13": dict(amount=xm_maas(380 * W), needles=["380W"]),
    "b6-input_forms-14": dict(amount=xm_voucher(30 * W, 2025), needles=["三 十 万"]),
    "b6-input_forms-15": dict(total=2 * sm_title("senior", D(2025, 6, 1)) + sm_title("mid", D(2025, 6, 1)), needles=["two", "one"]),
    "b6-input_forms-16": dict(amount=xm_growth(7500 * W, 5600 * W), needles=["7千5百万", "5千6百万"],
                              forbid={"全年营收": F(7500 * W) * F(6, 1000)}),
    "b6-input_forms-17": dict(amount=xm_platform(150 * W, 55), needles=["壹佰伍拾萬", "伍拾伍家"]),
    # time
    "b6-time-01": dict(fails=xm_voucher(90 * W, 2026), needles=["2026年", "90万"], forbid={"期外仍计算": xm_voucher(90 * W, 2025)}),
    "b6-time-02": dict(amount=sm_compute(33 * W, year=2026), needles=["33万"]),
    "b6-time-03": dict(amount=sm_compute(50 * W, year=2026), needles=["50万"]),
    "b6-time-07": dict(amount=xm_maas(210 * W), needles=["210万", "600万"], forbid={"全年收入": xm_maas(600 * W)}),
    "b6-time-08": dict(fails=ah_cost(150 * W, when=D(2024, 6, 20)), needles=["6月20号", "150万"],
                       forbid={"期外仍计算": ah_cost(150 * W)}),
    "b6-time-10": dict(amount=ah_key(560 * W, D(2023, 12, 8)), needles=["2023年12月8日", "560万"]),
    "b6-time-12": dict(amount=xm_voucher(58 * W, 2025), needles=["58万"]),
    "b6-time-13": dict(fails=sm_filing("deep", D(2023, 12, 1), 8), needles=["2023年12月"]),
    "b6-time-14": dict(amount=sm_scenario("city", D(2025, 1, 3)), needles=["2025年1月3日"]),
    "b6-time-15": dict(fails=xm_keytech("city", 800 * W, year=2026), needles=["2026年3月", "800万"],
                       forbid={"期外仍计算": xm_keytech("city", 800 * W)}),
    "b6-time-17": dict(total=xm_loan(3800 * W), needles=["3800万"]),
    # profile
    "b6-profile-01": dict(amounts={"sm-compute": sm_compute(42 * W), "sm-filing": sm_filing("algo", D(2025, 4, 1), 8)},
                          total=sm_compute(42 * W) + sm_filing("algo", D(2025, 4, 1), 8), fails=sm_algo(6 * W),
                          needles=["42万", "6万", "8家"]),
    "b6-profile-02": dict(amounts={"xm-maas": xm_maas(1600 * W), "xm-rd-investment": xm_rd(460 * W, 430 * W)[0]},
                          total=xm_maas(1600 * W) + xm_rd(460 * W, 430 * W)[0],
                          fails=xm_growth(4800 * W, 3900 * W) or xm_scaleup(4800 * W, 3900 * W),
                          needles=["4800万", "3900万", "1600万", "460万", "430万"]),
    "b6-profile-03": dict(amounts={"ah-compute-cost": ah_cost(118 * W)}, needles=["118万"]),
    "b6-profile-05": dict(amounts={"xm-compute-voucher": xm_voucher(70 * W, 2025), "sm-compute": sm_compute(30 * W, year=2026)},
                          fails=sm_compute(70 * W, listed=False), needles=["70万", "30万"],
                          forbid={"2026年仍按厦门算力券": xm_voucher(30 * W, 2025)}),
    "b6-profile-06": dict(amounts={"sm-digital-transform": sm_digital(120 * W, 2), "sm-scenario-benchmark": sm_scenario("prov", D(2025, 6, 1))},
                          total=sm_digital(120 * W, 2) + sm_scenario("prov", D(2025, 6, 1)),
                          fails=sm_title("mid", D(2025, 6, 1), software=False), needles=["120万", "二级"]),
    "b6-profile-07": dict(amounts={"ah-computing-center": ah_cc(1350 * W, 500), "ah-key-enterprise": ah_key(800 * W, D(2024, 3, 1))},
                          total=ah_cc(1350 * W, 500) + ah_key(800 * W, D(2024, 3, 1)), needles=["500P", "1350万", "800万"]),
    "b6-profile-08": dict(amounts={"xm-first-set": xm_first_set("miit", 720 * W), "xm-little-giant": xm_little_giant(),
                                   "xm-rd-investment": xm_rd(380 * W, 350 * W)[0]},
                          total=xm_first_set("miit", 720 * W) + xm_little_giant() + xm_rd(380 * W, 350 * W)[0],
                          needles=["720万", "380万", "350万"]),
    "b6-profile-09": dict(total=xm_keytech("provincial", 520 * W, 2023) + xm_maas(180 * W), fails=xm_platform(90 * W, 60),
                          needles=["520万", "180万", "90万", "60家"]),
    "b6-profile-10": dict(amounts={"sm-featured-building": SM_BUILDING}, fails=sm_compute(3 * W), needles=["3万"]),
    "b6-profile-11": dict(ok=qz_compute_ok(48 * W), needles=["48万", "没有市级以上的研发机构"]),
    "b6-profile-12": dict(amounts={"xm-listing": LISTING["tutoring"], "xm-standards": xm_standard("industry", 2),
                                   "xm-key-tech": xm_keytech("city", 1200 * W, 2025)},
                          total=LISTING["tutoring"] + xm_standard("industry", 2) + xm_keytech("city", 1200 * W, 2025),
                          needles=["第2", "1200万"]),
    "b6-profile-13": dict(amounts={"sm-filing": sm_filing("genai", D(2026, 3, 1), 12), "sm-corpus-data": sm_corpus(22 * W),
                                   "sm-model-algorithm": sm_algo(35 * W)},
                          total=sm_filing("genai", D(2026, 3, 1), 12) + sm_corpus(22 * W) + sm_algo(35 * W),
                          needles=["12家", "22万", "35万"]),
    "b6-profile-14": dict(amounts={"ah-compute-cost": ah_cost(90 * W)}, needles=["90万"]),
    "b6-profile-15": dict(amounts={"sm-compute": sm_compute(150 * W, year=2026), "sm-model-algorithm": sm_algo(90 * W)},
                          total=sm_compute(150 * W, year=2026) + sm_algo(90 * W), needles=["150万", "90万"],
                          forbid={"2026年仍按厦门算力券": xm_voucher(150 * W, 2025), "算法未封顶": F(90 * W) / 5}),
    # dialogue
    "b6-dialogue-01#1": dict(amount=sm_compute(36 * W, year=2026), needles=["36万"]),
    "b6-dialogue-01#2": dict(amount=sm_compute(63 * W, year=2026), needles=["63万"],
                             forbid={"沿用旧数": sm_compute(36 * W, year=2026), "新旧相加": sm_compute(99 * W, year=2026)}),
    "b6-dialogue-02#1": dict(amount=xm_voucher(48 * W, 2025), needles=["48万"]),
    "b6-dialogue-02#2": dict(amount=sm_compute(48 * W, year=2025), needles=["48万"]),
    "b6-dialogue-03#2": dict(amount=xm_maas(2760 * W), needles=["2,760万"]),
    "b6-dialogue-04#3": dict(amount=xm_rd(780 * W, 700 * W)[0], bonus0=xm_rd(780 * W, 700 * W)[1], needles=["780万", "700万"]),
    "b6-dialogue-06#3": dict(amount=ah_cc(2700 * W, 600), needles=["600P", "2700万"]),
    "b6-dialogue-07#2": dict(amount=sm_corpus(21 * W), needles=["21万", "登记过的"]),
    "b6-dialogue-08#1": dict(amount=ah_key(500 * W, D(2024, 2, 1)), needles=["500万"]),
    "b6-dialogue-08#2": dict(amount=ah_key((500 + 240) * W, D(2024, 2, 1)), needles=["500万", "240万"],
                             forbid={"漏县区": ah_key(500 * W, D(2024, 2, 1))}),
    "b6-dialogue-09#1": dict(amount=xm_first_set("fj_in", 150 * W), needles=["150万"]),
    "b6-dialogue-09#2": dict(amount=xm_first_set("fj_domestic", 150 * W), needles=["福建省国内"],
                             forbid={"沿用省内目录": xm_first_set("fj_in", 150 * W)}),
    "b6-dialogue-10#1": dict(amount=sm_corpus(26 * W), needles=["260,000"]),
    "b6-dialogue-10#2": dict(amount=sm_algo(30 * W), needles=["30万"]),
    "b6-dialogue-11#1": dict(amount=xm_first_set("miit", 900 * W), needles=["900万"], forbid={"未封顶": F(900 * W) * F(60, 100)}),
    "b6-dialogue-12#1": dict(amount=sm_algo(95 * W), needles=["95万"], forbid={"未封顶": F(95 * W) / 5}),
    "b6-dialogue-12#2": dict(amount=sm_algo(40 * W), needles=["40万"]),
    "b6-dialogue-12#3": dict(total=sm_algo(95 * W) + sm_algo(40 * W), needles=["95万", "40万"],
                             forbid={"两年合并不分年封顶": F(135 * W) / 5}),
    "b6-dialogue-13#1": dict(amount=sm_compute(52 * W), needles=["52万"]),
    "b6-dialogue-13#2": dict(ok=qz_compute_ok(52 * W), needles=["52万"], forbid={"沿用思明10%": sm_compute(52 * W)}),
    "b6-dialogue-14#1": dict(amount=sm_compute(40 * W, year=2026), needles=["40万"]),
    "b6-dialogue-14#2": dict(fails=sm_compute(40 * W, year=2027), needles=["2027年"]),
    "b6-dialogue-15#1": dict(amount=sm_digital(90 * W, 3), needles=["90万", "三级"], forbid={"未封顶": F(90 * W) / 5}),
    "b6-dialogue-16#1": dict(fails=xm_rd(820 * W, 910 * W), needles=["820万", "910万"]),
    "b6-dialogue-16#2": dict(amount=xm_rd(820 * W, 710 * W)[0], bonus0=xm_rd(820 * W, 710 * W)[1], needles=["710万"]),
}

# --- phrase exemptions -------------------------------------------------------------------------------------------
NO_AMOUNT = {"未规定", "未明确", "没有规定", "未载明", "没有明确", "未写明", "没有具体"}
EXPIRED = {"已失效", "已过期", "失效", "过期", "到期", "有效期至"}
DATE_RE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日")
MONEY_RE = re.compile(r"^(\d+(?:\.\d+)?)万(?:元)?(?:[（(]含[)）])?(?:以上)?$")


def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


def program_ids() -> set[str]:
    text = (MAIN / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text.split("## Program ids", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| ([a-z][a-z0-9-]+) \|", block, flags=re.M)) - {"id"}


def as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def groups(x):
    return [tuple(g) if isinstance(g, (list, tuple)) else (g,) for g in as_list(x)]


def main() -> int:
    errors: list[str] = []

    def err(msg):
        errors.append(msg)

    clauses = {c.id: c for c in corpus.load_clauses()}
    docs = {c.doc_id for c in clauses.values()}
    programs = program_ids()
    cases = load_cases(HERE)
    n = len(cases)
    if not 130 <= n <= 150:
        err(f"{n} cases, want 130–150")
    per = Counter(c.stratum for c in cases)
    for st in BLIND_STRATA:
        if per[st] < 13:
            err(f"class {st}: {per[st]} cases (<13)")
    used_programs: set[str] = set()
    amount_turns = refusals = ineligible = unknown = 0
    as_ofs = Counter()
    seen_keys: set[str] = set()

    raw_turns: dict[str, list[dict]] = {}
    for path in sorted(HERE.glob("*.yaml")):
        data = load_yaml(path.read_text(encoding="utf-8"))
        d = data.get("defaults") or {}
        if str(d.get("as_of")) != "2026-12-01" or d.get("split") != "frozen" or d.get("chinese") is not True:
            err(f"{path.name}: defaults must set as_of 2026-12-01, split frozen, chinese true")
        if d.get("stratum") != path.stem:
            err(f"{path.name}: stratum default {d.get('stratum')} != file name")
        for raw in data["cases"]:
            raw_turns[raw["id"]] = raw.get("turns") or [raw]

    for case in cases:
        m = re.fullmatch(r"b6-([a-z_]+)-(\d\d)", case.id)
        if not m or m.group(1) != case.stratum:
            err(f"{case.id}: id must be b6-<class>-NN matching stratum {case.stratum}")
        if case.split != "frozen":
            err(f"{case.id}: split {case.split}")
        as_ofs[case.as_of.isoformat()] += 1
        history = ""
        for i, (turn, raw) in enumerate(zip(case.turns, raw_turns[case.id]), start=1):
            ex = turn.expect
            history += "\n" + turn.question
            key = case.id if len(case.turns) == 1 else f"{case.id}#{i}"
            where = key
            facts = E.get(key)
            if facts is not None:
                seen_keys.add(key)
            # ids
            for g in ex.cite:
                for cid in g:
                    if cid not in clauses:
                        err(f"{where}: unknown cite {cid}")
            for cid in ex.cite_ok:
                if cid.endswith(":*"):
                    if cid[:-2] not in docs:
                        err(f"{where}: unknown doc {cid}")
                elif cid not in clauses:
                    err(f"{where}: unknown cite_ok {cid}")
            for doc in list(ex.validity) + list(ex.cite_docs):
                if doc not in docs:
                    err(f"{where}: unknown document {doc}")
            for p in list(ex.programs) + list(ex.amounts):
                if p not in programs:
                    err(f"{where}: unknown programme {p}")
                used_programs.add(p)
            if set(ex.amounts) - set(ex.programs):
                err(f"{where}: amounts keys {sorted(set(ex.amounts) - set(ex.programs))} not in program")
            # refusals
            if ex.must_refuse:
                refusals += 1
                if ex.cite or ex.cite_ok or ex.cite_docs:
                    err(f"{where}: must-refuse case cites something")
                if ex.status is None or set(ex.status) - {"refused", "not_found"}:
                    err(f"{where}: must-refuse case must accept only refused/not_found")
            # amounts
            is_amount = ex.amount_check == "exact" or bool(ex.amounts) or ex.total_yuan is not None
            if is_amount:
                amount_turns += 1
                if not ex.note:
                    err(f"{where}: amount turn without note")
                if facts is None:
                    err(f"{where}: amount turn without a recomputation entry")
                    continue
            if ex.amount_check == "exact":
                if not ex.programs:
                    err(f"{where}: exact amount without programme")
                if facts is None or facts.get("amount") is None or F(ex.amount_yuan) != facts["amount"]:
                    err(f"{where}: amount_yuan {ex.amount_yuan} != recomputed {facts and facts.get('amount')}")
                if facts is not None and facts.get("bonus0") not in (None, 0):
                    err(f"{where}: the 增长奖励 applies, amount_yuan is not safe")
            for pid, val in ex.amounts.items():
                want = (facts or {}).get("amounts", {}).get(pid)
                if want is None or F(val) != want:
                    err(f"{where}: amounts[{pid}] {val} != recomputed {want}")
            if facts is not None and set((facts.get("amounts") or {})) != set(ex.amounts):
                err(f"{where}: amounts keys differ from recomputation {sorted(facts.get('amounts') or {})}")
            if ex.total_yuan is not None:
                want = facts.get("total") if facts else None
                if want is None and facts and facts.get("amounts"):
                    want = sum(facts["amounts"].values())
                if want is None or F(ex.total_yuan) != want:
                    err(f"{where}: total_yuan {ex.total_yuan} != recomputed {want}")
            elif facts is not None and facts.get("total") is not None and ex.amount_check != "exact":
                err(f"{where}: a total was recomputed but the turn does not check it")
            for pid, val in (facts or {}).get("amounts", {}).items():
                if val is None or val != int(val):
                    err(f"{where}: recomputed {pid} {val} not a whole yuan figure")
            # forbid_amounts
            expected_figs = {ex.amount_yuan, ex.total_yuan, *ex.amounts.values()} - {None}
            named = {k: val for k, val in ((facts or {}).get("forbid") or {}).items()}
            for fa in ex.forbid_amounts:
                if fa in expected_figs:
                    err(f"{where}: forbid_amounts {fa} equals an expected figure")
                if F(fa) not in {F(x) for x in named.values() if x is not None}:
                    err(f"{where}: forbid_amounts {fa} is not a named wrong reading {named}")
            if named and sorted(F(x) for x in named.values()) != sorted(F(x) for x in ex.forbid_amounts):
                err(f"{where}: named wrong readings {named} != forbid_amounts {list(ex.forbid_amounts)}")
            # eligibility
            if ex.eligible_check:
                if ex.eligible == (False,):
                    ineligible += 1
                    if ex.amount_check != "no_amount":
                        err(f"{where}: eligible false without amount_yuan: null")
                    if facts is None or "fails" not in facts or facts["fails"] not in (None, False):
                        err(f"{where}: eligible false but the failing condition is not asserted ({facts and facts.get('fails')})")
                elif False in ex.eligible:
                    ineligible += 1
                    if ex.amount_check != "no_amount":
                        err(f"{where}: eligible false/null without amount_yuan: null")
                    if facts is None or facts.get("fails") not in (None, False):
                        err(f"{where}: out-of-period turn without asserted failure")
                elif ex.eligible == (None,):
                    unknown += 1
            if facts is not None:
                if "fails" in facts and facts["fails"] not in (None, False):
                    err(f"{where}: asserted failing condition holds: {facts['fails']}")
                if "ok" in facts and facts["ok"] is not True:
                    err(f"{where}: asserted condition fails")
                for needle in facts.get("needles", []):
                    if needle not in history:
                        err(f"{where}: figure {needle!r} not in the questions")
            # phrases
            must_cite_text = norm("".join(clauses[c].text for g in ex.cite for c in g if c in clauses))
            for g in ex.phrases:
                if set(g) <= NO_AMOUNT or set(g) <= EXPIRED:
                    continue
                if not any(norm(alt) in must_cite_text for alt in g):
                    err(f"{where}: phrase group {list(g)} not found in the text of the clauses it must cite")
                for alt in g:
                    dm = DATE_RE.fullmatch(alt)
                    if dm:
                        y = dm.group(1)
                        isos = [a for a in g if re.fullmatch(r"\d{4}-\d{2}-\d{2}", a)]
                        want = f"-{int(dm.group(2)):02d}-{int(dm.group(3)):02d}"
                        if not any(a.endswith(want) and (not y or a.startswith(y)) for a in isos):
                            err(f"{where}: date phrase {alt} without its ISO alternative")
                    mm = MONEY_RE.fullmatch(alt)
                    if mm:
                        yuan = str(int(F(mm.group(1)) * W))
                        if yuan not in g:
                            err(f"{where}: threshold phrase {alt} without the yuan figure {yuan}")
    for key in E:
        if key not in seen_keys:
            err(f"recomputation entry {key} matches no turn")
    missing = programs - used_programs
    if missing:
        err(f"programme ids never used: {sorted(missing)}")

    turns = sum(len(c.turns) for c in cases)
    print(f"cases {n}, turns {turns}, amount turns {amount_turns}, must-refuse {refusals}, "
          f"eligible:false turns {ineligible}, eligible:null turns {unknown}")
    print("per class:", {st: (per[st], sum(len(c.turns) for c in cases if c.stratum == st)) for st in BLIND_STRATA})
    print("as_of:", dict(sorted(as_ofs.items())))
    print(f"programmes used {len(used_programs & programs)}/{len(programs)}")
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print(" -", e)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
