"""The answer guard: figures compared by value, citations retrieved and verbatim, markers resolvable."""
from __future__ import annotations

from decimal import Decimal

import pytest

from agent import guard
from corpus import get_clause
from tools.schema import Calculation, Citation


def cite(clause_id: str, text: str | None = None) -> Citation:
    citation = Citation.from_clause_id(clause_id)
    return citation if text is None else citation.model_copy(update={"text": text})


def sm_compute(amount_yuan: int | None = 80_000) -> Calculation:
    """思明 普惠算力: 80万元 × 最高10% = 8万元 (under the 25万元 cap)."""
    return Calculation(
        program_id="sm-compute", program="思明区 普惠算力（AI券）", eligible=True, amount_yuan=amount_yuan,
        steps=["年度购买公共智能算力费用 800,000元 ≥ 5万元（含），满足门槛", "800,000元 × 10% = 80,000元",
               "未超过每家企业每年最高25万元"],
        citations=[cite("siming:art2")])


# --- the normaliser ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["40万元", "400,000元", "40 万", "四十万元", "0.004亿", "400000元", "40万",
                                  "四十万"])
def test_money_forms_normalise_to_the_same_yuan(text):
    assert [f.value for f in guard.find_money(text)] == [Decimal(400_000)]


@pytest.mark.parametrize("text, yuan", [
    ("0.4亿", 40_000_000), ("4000万元", 40_000_000), ("1.5亿元", 150_000_000), ("2,000万元", 20_000_000),
    ("5千万元", 50_000_000), ("一亿二千万元", 120_000_000), ("三万五千元", 35_000), ("0.8万", 8_000),
    ("十万元", 100_000), ("两百万元", 2_000_000), ("5000元", 5_000), ("最高不超25万元", 250_000),
])
def test_money_values(text, yuan):
    assert [f.value for f in guard.find_money(text)] == [Decimal(yuan)]


@pytest.mark.parametrize("text", [
    "2025年12月31日", "自2025年1月1日起施行", "第三条", "（三）", "一、强化算力供给", "电话：0551-62653750",
    "联系人：市数据管理局数字经济处，电话：7703171", "2023年度", "厦府办规〔2023〕10号", "皖政秘〔2023〕218号",
    "100P以上的智算中心", "服务企业数超过50家", "3万家企业", "最长5年", "千万不要错过", "xm-measures:1.3", "7月5日下午5点前",
])
def test_non_money_is_not_money(text):
    assert guard.find_money(text) == []


@pytest.mark.parametrize("text, percents", [
    ("50%", [50]), ("百分之五十", [50]), ("0.6％", [Decimal("0.6")]), ("10-20%", [10, 20]),
    ("百分之十二点五", [Decimal("12.5")]), ("年化利率2%", [2]), ("2023年度", []), ("第二条", []),
])
def test_percent_values(text, percents):
    assert [f.value for f in guard.find_percents(text)] == [Decimal(p) for p in percents]


def test_range_head_takes_the_unit_of_its_tail():
    assert [f.value for f in guard.find_money("奖励20至50万元")] == [Decimal(200_000), Decimal(500_000)]


@pytest.mark.parametrize("yuan, text", [(400_000, "40万元"), (150_000_000, "1.5亿元"), (10_000_000, "1000万元"),
                                        (5_000, "5000元"), (12_345, "12345元")])
def test_format_yuan_round_trips(yuan, text):
    assert guard.format_yuan(yuan) == text
    assert [f.value for f in guard.find_money(text)] == [Decimal(yuan)]


def test_agrees_with_the_tools_money_parser_where_both_apply():
    money = pytest.importorskip("tools.money")
    for text in ["30万", "30万元", "三十万元", "1.5亿", "2,000万元", "0.8万", "5000元"]:
        assert guard.find_money(text)[0].value == Decimal(money.parse_money(text))


# --- check: figures ------------------------------------------------------------------------------------------

def test_a_traceable_answer_passes():
    calc = sm_compute()
    text = "按实际支出费用最高10%计算，贵公司最高可获得8万元[1]（80万元×10%），每家企业每年最高不超25万元[1]。"
    assert guard.check(text, [cite("siming:art2")], [calc], {"siming:art2"}, []) == []


def test_figures_match_by_value_not_by_string():
    calc = sm_compute()
    assert guard.check("最高可获得80,000元，即八万元，也就是8万元、0.08万的十倍。", [], [calc], set(), []) == [
        "金额“0.08万”在工具结果和引用条款中都找不到 (untraceable money figure)"]
    assert guard.check("最高可获得80,000元（八万元，8万元），按百分之十计。", [], [calc], set(), []) == []


def test_a_hallucinated_amount_is_flagged():
    problems = guard.check("贵公司最高可获得100万元[1]。", [cite("siming:art2")], [sm_compute()], {"siming:art2"}, [])
    assert len(problems) == 1 and "100万元" in problems[0]


def test_a_hallucinated_percentage_is_flagged():
    problems = guard.check("按支出的百分之三十补助[1]。", [cite("siming:art2")], [sm_compute()], {"siming:art2"}, [])
    assert len(problems) == 1 and "百分之三十" in problems[0]


def test_evidence_texts_count_as_tool_results():
    text = "研发投入贴息贷款年化利率2%，存量企业放款不超过5000万元。"
    assert guard.check(text, [], [], set(), []) != []
    assert guard.check(text, [], [], set(), ['{"rate": "2%", "cap": "5000万元"}']) == []


def test_dates_ordinals_phones_and_doc_numbers_are_not_checked_as_money():
    text = ("依据厦府办规〔2023〕10号第三条（三），政策有效期至2025年12月31日；"
            "2023年度指2023年10月10日至2023年12月31日，咨询电话0551-62653750。")
    assert guard.check(text, [], [], set(), []) == []


# --- check: citations and markers --------------------------------------------------------------------------------

def test_a_citation_that_was_never_retrieved_is_flagged():
    problems = guard.check("研发投入每满200万元给予10万元[1]。", [cite("xm-measures:2.6")], [], {"siming:art2"}, [])
    assert any("xm-measures:2.6" in p and "未经检索" in p for p in problems)


def test_a_quote_that_is_not_verbatim_is_flagged_and_does_not_vouch_for_figures():
    forged = cite("siming:art2", "对企业购买公共智能算力，给予最高100万元补助。")
    problems = guard.check("最高可获得100万元[1]。", [forged], [], {"siming:art2"}, [])
    assert any("不一致" in p for p in problems)
    assert any("100万元" in p for p in problems)


def test_an_excerpt_of_the_clause_is_verbatim():
    clause = get_clause("siming:art2").text
    excerpt = clause[clause.index("给予实际支出费用"): clause.index("的补助") + 3]
    assert guard.check("补助比例最高10%[1]。", [cite("siming:art2", excerpt)], [], {"siming:art2"}, []) == []


def test_an_unknown_clause_id_is_flagged():
    fake = Citation(id="shenzhen:art1", document="深圳", doc_number="", clause="第一条", text="补贴100万元")
    problems = guard.check("见[1]。", [fake], [], {"shenzhen:art1"}, [])
    assert any("不是语料库中的条款" in p for p in problems)


@pytest.mark.parametrize("text", ["见[2]。", "见[0]。", "见[1,3]。", "见[1、2]。"])
def test_markers_must_refer_to_existing_citations(text):
    problems = guard.check(text, [cite("siming:art2")], [], {"siming:art2"}, [])
    assert any("没有对应的引用" in p for p in problems)


def test_markdown_links_and_valid_markers_pass():
    text = "详见[慧企云](https://xt.xmsme.cn)和条款[1][2]。"
    citations = [cite("siming:art2"), cite("xm-measures:1.3")]
    assert guard.check(text, citations, [], {"siming:art2", "xm-measures:1.3"}, []) == []


# --- repair ------------------------------------------------------------------------------------------------------

def test_repair_drops_the_untraceable_sentence_and_restates_the_calculator_amount():
    calc = sm_compute()
    text = "根据思明区第二条[1]，贵公司符合条件。贵公司最高可获得100万元[1]。实际金额以审核为准。"
    repaired = guard.repair(text, [cite("siming:art2")], [calc], {"siming:art2"}, [])
    assert repaired is not None
    new_text, citations = repaired
    assert "100万元" not in new_text and "8万元" in new_text and guard.REPAIR_NOTE in new_text
    assert guard.check(new_text, citations, [calc], {"siming:art2"}, []) == []


def test_repair_drops_unretrieved_citations_and_renumbers_markers():
    citations = [cite("xm-measures:2.6"), cite("siming:art2")]
    text = "研发投入补助见[1]。思明区普惠算力补助比例最高10%[2]，另见[3]。"
    new_text, kept = guard.repair(text, citations, [], {"siming:art2"}, [])
    assert [c.id for c in kept] == ["siming:art2"]
    assert "[2]" not in new_text and "[3]" not in new_text and "最高10%[1]" in new_text
    assert guard.check(new_text, kept, [], {"siming:art2"}, []) == []


def test_repair_requotes_a_drifted_quote_of_a_retrieved_clause():
    drifted = cite("siming:art2", "第二条 提供普惠算力（摘要）")
    new_text, kept = guard.repair("补助比例最高10%[1]。", [drifted], [], {"siming:art2"}, [])
    assert kept[0].text == get_clause("siming:art2").text
    assert guard.check(new_text, kept, [], {"siming:art2"}, []) == []


def test_repair_gives_up_when_nothing_is_left():
    assert guard.repair("最高可获得100万元。", [], [], set(), []) is None
