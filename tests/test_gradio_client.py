"""The web app's API as `gradio_client` sees it: four named endpoints with labelled, optional-where-optional
parameters, against a real `policy-assistant serve` on loopback."""
from __future__ import annotations

import os
import re

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from ui import harness

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CJK = re.compile(r"[\u4e00-\u9fff]")
PROFILE = {"location": {"province": "福建省", "city": "厦门市", "district": "思明区"}, "legal_person": True,
           "facts": {"compute_purchase_yuan": "80万"}}


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    shared = harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("gradio-client-data"))
    with harness.running_server(data, env={"POLICY_AS_OF": "2025-06-30", "POLICY_RATE_LIMIT_PER_MINUTE": "0"}) as srv:
        yield srv.url + "/"


@pytest.fixture()
def client(url):
    return Client(url, verbose=False, download_files=False)


def last_reply(result) -> str:
    """The text of the last chat message in /chat's (cleared question, history) result."""
    content = result[1][-1]["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def test_endpoints_are_named_labelled_and_optional_where_optional(client):
    api = client.view_api(print_info=False, return_format="dict")
    assert api["unnamed_endpoints"] == {}
    endpoints = api["named_endpoints"]
    assert set(endpoints) == {"/chat", "/calculate", "/eligibility", "/search"}
    params = {name: {p["parameter_name"]: p for p in ep["parameters"]} for name, ep in endpoints.items()}
    assert list(params["/chat"]) == ["question", "history", "as_of"]
    assert list(params["/calculate"]) == ["program_id", "facts", "as_of"]
    assert list(params["/eligibility"]) == ["profile", "as_of"]
    assert list(params["/search"]) == ["query", "region", "doc_id"]
    required = {(name, p) for name, ps in params.items() for p, info in ps.items() if not info["parameter_has_default"]}
    assert required == {("/chat", "question"), ("/calculate", "program_id"), ("/eligibility", "profile"),
                        ("/search", "query")}
    for ps in params.values():
        for info in ps.values():
            assert not info["label"].startswith("parameter_"), info
    for name in ("/chat", "/search"):  # the web page's own fields: Chinese labels
        assert all(CJK.search(info["label"]) for info in params[name].values())
    assert all(CJK.search(ep["description"]) for ep in endpoints.values())


def test_calculate(client):
    result = client.predict(program_id="xm-compute-voucher", facts={"compute_purchase_yuan": "80万"}, api_name="/calculate")
    assert result["amount_yuan"] == 400_000 and result["citations"][0]["doc_number"] == "厦府办规〔2023〕10号"
    missing = client.predict(program_id="xm-compute-voucher", api_name="/calculate")
    assert missing["amount_yuan"] is None and missing["missing_facts"] == ["compute_purchase_yuan"]


def test_eligibility(client):
    report = client.predict(profile=PROFILE, as_of="2024-06-30", api_name="/eligibility")
    assert report["as_of"] == "2024-06-30"
    voucher = next(i for i in report["items"] if i["program_id"] == "xm-compute-voucher")
    assert voucher["status"] == "eligible" and voucher["amount_yuan"] == 400_000


def test_search(client):
    hits_html, snippet = client.predict(query="思明区 普惠算力 补助", api_name="/search")
    assert "思明" in hits_html and snippet.startswith("根据《") and "出处：" in snippet


def test_chat_continues_within_one_client(client):
    first = client.predict(question="厦门企业去年购买算力服务花了80万元，最高能补多少？", api_name="/chat")
    assert first[0] == "" and "40万元" in last_reply(first)
    second = client.predict(question="那如果是120万呢？", api_name="/chat")
    assert "50万元" in last_reply(second) and "120万元" in last_reply(second)


@pytest.mark.parametrize("kwargs, words", [
    ({"program_id": "no-such-program", "api_name": "/calculate"}, "未找到补助项目"),
    ({"program_id": "xm-compute-voucher", "facts": {"compute_purchase_yuan": "很多"}, "api_name": "/calculate"}, "无法识别金额"),
    ({"program_id": "xm-compute-voucher", "as_of": "昨天", "api_name": "/calculate"}, "YYYY-MM-DD"),
    ({"profile": {"legal_person": "也许"}, "api_name": "/eligibility"}, "独立法人资格"),
    ({"profile": {"facts": {"no_such_fact": 1}}, "api_name": "/eligibility"}, "未定义的事实"),
    ({"question": "算力补助", "as_of": "2024/6/30", "api_name": "/chat"}, "YYYY-MM-DD"),
    ({"question": "算" * 5000, "api_name": "/chat"}, "问题过长"),
])
def test_bad_input_is_a_chinese_error(client, kwargs, words):
    with pytest.raises(AppError) as caught:
        client.predict(**kwargs)
    message = str(caught.value)
    assert words in message and CJK.search(message) and "Traceback" not in message, message


def test_internal_events_are_not_callable_by_name(client):
    with pytest.raises(ValueError):
        client.predict(api_name="/answer_1")  # the page's own chat step exists, but is not public
