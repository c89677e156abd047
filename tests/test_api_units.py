"""Fast checks of the API's pieces without an index: rate limiter, text limits, error mapping, rendering, forms."""
from __future__ import annotations

import re

import pytest

from policy_assistant.settings import Settings
from tools.errors import InvalidFactError, UnknownProgramError
from ui import format as fmt
from ui import views
from ui.api import sse
from ui.errors import ApiError, error_for_exception, validation_message
from ui.forms import FieldSpec, collect_profile, collect_values, profile_sections, program_fields
from ui.limits import RateLimiter, check_text_length
from ui.loadtest import _check_loopback, _percentile

CJK = re.compile(r"[\u4e00-\u9fff]")


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.mark.parametrize("per_minute", [1, 3, 120])
def test_rate_limiter_allows_exactly_the_budget_then_refills(per_minute):
    """A full bucket admits `per_minute` requests at once; one more waits 60/per_minute seconds for a token."""
    clock = Clock()
    limiter = RateLimiter(per_minute, clock=clock)
    assert all(limiter.acquire("a") == 0 for _ in range(per_minute))
    wait = limiter.acquire("a")
    assert wait == pytest.approx(60 / per_minute)
    assert limiter.acquire("b") == 0  # other clients have their own bucket
    clock.t += 60 / per_minute
    assert limiter.acquire("a") == 0


def test_rate_limiter_disabled_at_zero():
    limiter = RateLimiter(0)
    assert not limiter.enabled and all(limiter.acquire("x") == 0 for _ in range(1000))


def test_rate_limiter_table_is_bounded_least_recently_used_first():
    """max_clients=10: the 11th client evicts the least recently seen one; a busy client keeps its (empty) bucket."""
    clock = Clock()
    limiter = RateLimiter(2, max_clients=10, clock=clock)
    assert limiter.acquire("busy") == 0 and limiter.acquire("busy") == 0
    for i in range(9):
        limiter.acquire(f"c{i}")
    assert len(limiter) == 10
    assert limiter.acquire("busy") > 0  # still tracked, still empty
    limiter.acquire("c9")  # evicts c0, the least recently used
    assert len(limiter) == 10
    assert limiter.acquire("busy") > 0


@pytest.mark.parametrize("n, ok", [(1999, True), (2000, True), (2001, False)])
def test_question_length_bound(n, ok):
    """max_question_chars=2000: 1999 and 2000 characters pass, 2001 is refused with 422."""
    settings = Settings(max_question_chars=2000)
    if ok:
        assert len(check_text_length("问" * n, settings)) == n
    else:
        with pytest.raises(ApiError) as err:
            check_text_length("问" * n, settings)
        assert err.value.status == 422 and CJK.search(err.value.message)


def test_empty_question_refused():
    with pytest.raises(ApiError) as err:
        check_text_length(" \n ", Settings())
    assert err.value.code == "empty_question"


def test_error_mapping_is_chinese_and_hides_internals():
    assert error_for_exception(UnknownProgramError("未找到补助项目")).status == 404
    mapped = error_for_exception(InvalidFactError("金额不能为负数"))
    assert (mapped.status, mapped.message) == (422, "金额不能为负数")
    internal = error_for_exception(RuntimeError("boom /secret/path"))
    assert internal.status == 500 and "boom" not in internal.message and CJK.search(internal.message)
    assert error_for_exception(FileNotFoundError("index")).status == 503


def test_validation_message_names_fields_in_chinese():
    msg = validation_message([{"loc": ("body", "question"), "type": "missing"},
                              {"loc": ("body", "as_of"), "type": "date_from_datetime_parsing"}])
    assert "问题" in msg and "YYYY-MM-DD" in msg


def test_sse_frame():
    assert sse("token", {"text": "最高"}) == 'event: token\ndata: {"text": "最高"}\n\n'


CITE = {"id": "xm-measures:1.3", "document": "厦门市促进人工智能产业发展若干措施", "doc_number": "厦府办规〔2023〕10号",
        "clause": "一、强化算力供给 > （三）推广普惠算力服务", "text": "设立每年总额1000万元的“算力券”<script>"}


def test_citation_rendering_escapes_and_numbers():
    line = fmt.citation_line(CITE, 1)
    assert line == "[1] 《厦门市促进人工智能产业发展若干措施》（厦府办规〔2023〕10号） 一、强化算力供给 > （三）推广普惠算力服务"
    html = fmt.citations_html([CITE])
    assert "<script>" not in html and "&lt;script&gt;" in html and "<details" in html
    text = fmt.answer_with_citations({"answer": "最高40万元[1]", "citations": [CITE]})
    assert text.startswith("最高40万元[1]") and "参考条款：" in text and "[1] 《厦门市" in text


@pytest.mark.parametrize("yuan, shown", [(None, "—"), (5000, "5,000元"), (400000, "40万元（400,000元）"),
                                         (12345678, "1234.5678万元（12,345,678元）")])
def test_money_display(yuan, shown):
    assert fmt.money_zh(yuan) == shown


def test_validity_badges():
    badges = fmt.validity_badges([{"status": "expired", "window_open": False}, {"status": "in_force", "window_open": None}])
    assert badges == [("已失效", "bad"), ("申报已截止", "closed"), ("有效", "ok")]


def test_calculation_views():
    calc = {"program_id": "xm-compute-voucher", "program": "厦门市算力券", "eligible": True, "amount_yuan": 400000,
            "steps": ["80万元 × 50% = 40万元"], "unmet": [], "missing": [], "assumptions": ["以上包括本数"],
            "citations": [CITE], "validity": {"status": "expired", "window_open": None, "message": "已失效"}}
    html = views.calculation_html(calc)
    assert "40万元" in html and "<table" in html and "已失效" in html and "厦府办规" in html
    assert "pa-amount-num" not in html and "政策已失效（按原规定可获" in html  # expired: muted, never red
    md = fmt.calculation_markdown(calc)
    assert "| 1 | 80万元 × 50% = 40万元 |" in md


def test_eligibility_views_and_csv():
    report = {"summary": "共2个项目", "items": [
        {"program_id": "a", "program": "甲", "region": "厦门市", "status": "eligible", "status_zh": "符合条件",
         "amount_yuan": 100000, "beneficiary": "企业", "validity_status": "in_force", "window_open": None,
         "reasons": [], "ask": [], "calculation": {"citations": [CITE]}},
        {"program_id": "b", "program": "乙", "region": "安徽省", "status": "not_eligible", "status_zh": "不符合条件",
         "amount_yuan": None, "beneficiary": "企业", "reasons": ["地域不符"], "ask": [], "calculation": {}}],
        "stacking": [{"kind": "highest_not_both", "text": "就高不重复", "clause_id": "xm-measures:closing"}]}
    html = views.eligibility_html(report)
    assert html.index("甲") < html.index("乙") and "就高不重复" in html and "地域不符" in html
    rows = views.eligibility_csv(report).splitlines()
    header = next(i for i, r in enumerate(rows) if r.startswith("项目编号"))
    assert rows[header].startswith("项目编号,项目,地区,结论,效力,当前能否申报")
    assert rows[header + 1].startswith("a,甲,厦门市,符合条件,有效,可申报,100000")


def test_snippet_is_copy_ready():
    snippet = views.snippet_text({"hits": [CITE]})
    assert snippet.startswith("根据《厦门市促进人工智能产业发展若干措施》（厦府办规〔2023〕10号）")
    assert "出处：《厦门市" in snippet


def test_forms_from_rules():
    from tools.catalog import default_catalog

    specs = program_fields(default_catalog(), "xm-compute-voucher")
    assert [s.name for s in specs] == ["compute_purchase_yuan"] and specs[0].kind == "text"
    sections = profile_sections(default_catalog())
    names = [f.name for _, fields in sections for f in fields]
    assert {"location.city", "legal_person", "facts.compute_purchase_yuan"} <= set(names)
    assert len(names) == len(set(names))


def test_collect_profile_nests_and_converts():
    specs = [FieldSpec("location.city", "城市", "choice"), FieldSpec("legal_person", "法人", "bool"),
             FieldSpec("facts.compute_purchase_yuan", "算力", "yuan"), FieldSpec("facts.x", "x", "yuan")]
    assert collect_profile(specs, ["厦门市", "是", " 80万 ", ""]) == {
        "location": {"city": "厦门市"}, "legal_person": True, "facts": {"compute_purchase_yuan": "80万"}}
    assert collect_values([FieldSpec("b", "b", "bool")], ["否"]) == {"b": False}


def test_loadtest_helpers():
    _check_loopback("http://127.0.0.1:7860")
    _check_loopback("http://localhost:1")
    with pytest.raises(ValueError):
        _check_loopback("http://example.com")
    assert _percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5 and _percentile([], 0.95) == 0.0

