"""The pure pieces behind the web UI (issue 11): status before amounts, 即将到期 at the 60-day boundary, split totals,
the copy text, money units in forms, thresholds in missing lists, the page head rewrite."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tools.catalog import default_catalog
from tools.calculator import calculate
from tools.eligibility import check_eligibility
from tools.validity import EXPIRING_SOON_DAYS, validity_for
from ui import format as fmt
from ui import views
from ui.forms import FieldSpec, collect_values, implausible_amounts
from ui.page import localize_index_html

SIMING_END = dt.date(2026, 12, 31)


@pytest.mark.parametrize("days_left, soon", [(EXPIRING_SOON_DAYS + 1, False), (EXPIRING_SOON_DAYS, True),
                                             (EXPIRING_SOON_DAYS - 1, True), (0, True), (-1, False)])
def test_expiring_soon_within_60_days_of_the_end(days_left, soon):
    """思明 ends 2026-12-31: 61 days before is not flagged; 60, 59 and the last day are; the day after is expired."""
    v = validity_for("siming", SIMING_END - dt.timedelta(days=days_left))
    assert v.expiring_soon is soon
    assert ("即将到期" in v.message) is soon
    if days_left < 0:
        assert v.status == "expired"


@pytest.mark.parametrize("v, text, kind", [
    ({"status": "expired", "effective_to": "2025-12-31", "window_open": None}, "已失效（2025年12月31日到期）", "bad"),
    ({"status": "unstated", "window_open": False, "window_closes": "2024-07-15"},
     "申报已截止（2024年7月15日）", "closed"),  # a call for applications: its deadline, not a validity it never stated
    ({"status": "unstated", "window_open": False, "window_closes": "2024-07-05", "window_closes_time": "17:00"},
     "申报已截止（2024年7月5日17:00）", "closed"),
    ({"status": "unstated", "window_open": None}, "通知未规定有效期", "info"),
    ({"status": "expired", "effective_to": "2025-12-31", "replaced_by": "xm-measures-2026", "replaced_kind": "supersede",
      "replaced_from": "2025-06-01"}, "已被修订替代（2025年6月1日起）", "bad"),
    ({"status": "in_force", "effective_to": "2026-12-31", "expiring_soon": True}, "即将到期（有效至2026年12月31日）", "soon"),
    ({"status": "in_force", "effective_to": "2026-12-31"}, "有效至2026年12月31日", "ok"),
    ({"status": "not_yet", "effective_from": "2027-01-01", "window_open": False}, "尚未生效（2027年1月1日起施行）", "bad"),
])
def test_status_text_and_kind(v, text, kind):
    assert fmt.status_text(v) == text and fmt.status_kind(v) == kind


def _answer(question_validity):
    return {"answer": "**厦门市算力券**[1]\n- 政策状态：**已失效**\n- 按原规定最高可获得：40万元\n> 原文",
            "validity": [question_validity], "citations": [{"id": "xm-measures:1.3", "document": "厦门市促进人工智能产业发展若干措施",
                                                            "doc_number": "厦府办规〔2023〕10号", "clause": "一 > （三）",
                                                            "text": "<b>原文</b>-->"}]}


def test_chat_bubble_leads_with_status_and_copies_clean_text():
    bubble = fmt.answer_markdown(_answer({"document": "厦门市促进人工智能产业发展若干措施", "status": "expired",
                                          "effective_to": "2025-12-31", "window_open": None}))
    assert bubble.index("已失效（2025年12月31日到期）") < bubble.index("40万元")
    assert "<table" not in bubble and "| 步骤 |" not in bubble  # the steps are in the text once, not again as a table
    copied = fmt.copied_text(bubble)
    assert copied == ("【已失效（2025年12月31日到期）】《厦门市促进人工智能产业发展若干措施》\n\n厦门市算力券[1]\n- 政策状态：已失效\n"
                      "- 按原规定最高可获得：40万元\n原文\n\n参考条款：\n"
                      "[1] 《厦门市促进人工智能产业发展若干措施》（厦府办规〔2023〕10号） 一 > （三）")
    assert fmt.copied_text("纯文本") == "纯文本"


def test_calculation_card_in_force_is_red_expired_is_muted():
    catalog = default_catalog()
    live = views.calculation_html(calculate("sm-compute", {"compute_purchase_yuan": "80万", "compute_listed_on_platform": True},
                                            dt.date(2026, 11, 30), catalog).model_dump(mode="json"))
    assert "pa-amount-num" in live and "即将到期（有效至2026年12月31日）" in live
    assert live.index("即将到期") < live.index("8万元")
    dead = views.calculation_html(calculate("xm-compute-voucher", {"compute_purchase_yuan": "80万"}, dt.date(2026, 11, 30),
                                            catalog).model_dump(mode="json"))
    assert "pa-amount-num" not in dead and "政策已失效（按原规定可获 40万元" in re.sub(r"<[^>]+>", "", dead)
    assert "计算公式：</b>计算公式" not in dead


def test_eligibility_totals_split_in_force_and_expired():
    """厦门 (expired 2025-12-31) 算力券 80万×50% = 40万 goes to 已失效; 思明 AI券 80万×10% = 8万 stays 现行有效."""
    profile = {"location": {"province": "福建省", "city": "厦门市", "district": "思明区"}, "legal_person": True,
               "facts": {"compute_purchase_yuan": "80万", "compute_listed_on_platform": True}}
    report = check_eligibility(profile, dt.date(2026, 11, 30), default_catalog())
    assert report.total_in_force_yuan == 80_000 and report.total_expired_yuan == 400_000
    assert "现行有效项目的补助上限合计8万元" in report.summary and "按原规定合计40万元" in report.summary
    page = views.eligibility_html(report.model_dump(mode="json"))
    assert page.index("思明区普惠算力补助") < page.index("厦门市算力券")  # what can be applied for comes first
    before = check_eligibility(profile, dt.date(2025, 6, 30), default_catalog())
    assert before.total_expired_yuan == 0 and before.total_in_force_yuan == 480_000


def test_missing_facts_carry_the_clause_threshold():
    calc = calculate("ah-computing-center", {}, dt.date(2026, 11, 30), default_catalog())
    detail = dict(zip(calc.missing_facts, calc.missing_details))
    assert "400P（含）以上" in detail["ah_new_pflops"]
    assert calc.missing == [default_catalog().facts[n].label for n in calc.missing_facts]  # labels unchanged


def test_money_fields_are_in_wan_and_tiny_amounts_are_asked_about():
    specs = [FieldSpec("compute_purchase_yuan", "年度购买算力服务总额", "yuan")]
    assert specs[0].shown_label == "年度购买算力服务总额（万元）"
    assert collect_values(specs, ["80"]) == {"compute_purchase_yuan": "80万"}
    assert collect_values(specs, ["1,200.5"]) == {"compute_purchase_yuan": "1,200.5万"}
    assert collect_values(specs, ["300000元"]) == {"compute_purchase_yuan": "300000元"}
    assert implausible_amounts(specs, ["80"]) == []
    assert implausible_amounts(specs, ["999元"]) and implausible_amounts(specs, ["1000元"]) == []
    ask = implausible_amounts(specs, ["80元"])[0]
    assert "“80元”" in ask and "是80元还是80万元？" in ask


def test_bad_values_repeat_what_was_typed():
    from tools.errors import InvalidFactError

    with pytest.raises(InvalidFactError) as caught:
        calculate("xm-compute-voucher", {"compute_purchase_yuan": "八十块钱吧"}, dt.date(2026, 11, 30), default_catalog())
    assert "八十块钱吧" in caught.value.message_zh and "年度购买算力服务总额" in caught.value.message_zh


def test_hotline_cards_say_validity_or_that_a_call_states_none():
    catalog = default_catalog()
    from tools.validity import document_overview

    overview = document_overview(dt.date(2026, 11, 30), catalog)
    cards = views.document_cards_html(list(catalog.documents.values()), overview)
    assert "有效期：2023年10月10日至2025年12月31日" in cards and "即将到期（有效至2026年12月31日）" in cards
    assert cards.count("通知未规定有效期") == 3 and "适用年度：2023年度" in cards
    assert "☎" not in cards and "✉" not in cards  # no symbols that need an emoji font


def test_index_page_head_is_chinese_with_product_previews():
    gradio_page = ('<!doctype html><html\n\tlang="en"\n\tstyle="margin: 0"><head><meta charset="utf-8" />'
                   '<meta property="og:title" content="Gradio" />\n<meta property="og:image" content="https://x/y.jpg" />'
                   '<meta name="twitter:creator" content="@Gradio" /><title>t</title></head><body></body></html>')
    page = localize_index_html(gradio_page)
    assert 'lang="zh-CN"' in page and "Gradio" not in page and "https://x" not in page
    assert '<meta property="og:title" content="政策通' in page
    assert page.index("navigator,'language'") < page.index("<title>")  # before Gradio's scripts read it
