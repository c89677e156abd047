"""`facts_read` and `facts_override` over HTTP (issue 15): POST /api/chat, the OpenAI endpoint's `policy_answer`, the
stored conversation, Chinese 422s for bad corrections, and a restarted server continuing a corrected conversation."""
from __future__ import annotations

import json
import os
import re

import pytest
from fastapi.testclient import TestClient

from policy_assistant.settings import Settings
from ui import harness
from ui.app import create_app

pytestmark = pytest.mark.slow

CJK = re.compile(r"[\u4e00-\u9fff]")
SIMING = "思明区，去年平台上架的算力买了80万，补多少"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    shared = harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("facts-api-data"))
    return Settings.from_env().model_copy(update={"data_dir": data, "llm_base_url": None, "llm_model": None,
                                                  "rate_limit_per_minute": 0, "as_of": None})


@pytest.fixture(scope="module")
def client(settings):
    with TestClient(create_app(settings, gradio=False)) as c:
        yield c


def facts(payload) -> dict:
    return {f["fact"]: f for f in payload["facts_read"]}


def test_chat_returns_facts_read(client):
    answer = client.post("/api/chat", json={"question": SIMING}).json()
    spend = facts(answer)["compute_purchase_yuan"]
    assert spend == {"fact": "compute_purchase_yuan", "label": "年度购买算力服务总额", "value": 800000, "display": "80万元",
                     "unit": "yuan", "year": spend["year"], "source_text": spend["source_text"], "origin": "question",
                     "choices": []}
    assert spend["year"] and "80万" in spend["source_text"]


def test_facts_override_recomputes_and_the_conversation_keeps_it(client):
    first = client.post("/api/chat", json={"question": SIMING}).json()
    sid = first["session_id"]
    fixed = client.post("/api/chat", json={"session_id": sid, "facts_override": {"compute_purchase_yuan": "120万"}})
    assert fixed.status_code == 200, fixed.text
    body = fixed.json()
    assert body["calculations"][0]["amount_yuan"] == 120_000  # 120万 × 10%, under the 25万 cap
    assert facts(body)["compute_purchase_yuan"]["origin"] == "corrected"
    assert body["facts_override"] == {"compute_purchase_yuan": 1_200_000} and body["turn_id"]
    turns = client.get(f"/api/sessions/{sid}").json()["turns"]
    assert [t["question"] for t in turns] == [SIMING, "更正：年度购买算力服务总额改为120万元"]
    follow = client.post("/api/chat", json={"question": "那最高能补多少？", "session_id": sid}).json()
    assert facts(follow)["compute_purchase_yuan"]["display"] == "120万元"
    assert facts(follow)["compute_purchase_yuan"]["origin"] == "earlier_turn"


def test_question_with_facts_override(client):
    body = client.post("/api/chat", json={"question": "厦门算力券，2025年买了80万", "as_of": "2025-06-30",
                                          "facts_override": {"compute_purchase_yuan": "100万"}}).json()
    assert body["calculations"][0]["amount_yuan"] == 500_000
    assert facts(body)["compute_purchase_yuan"]["origin"] == "corrected"


@pytest.mark.parametrize("override, code, words", [
    ({"compute_purchase_yuan": "很多"}, "invalid_fact", "很多"),
    ({"compute_purchase_yuan": "-5万"}, "invalid_fact", "负"),
    ({"compute_listed_on_platform": "也许"}, "invalid_fact", "也许"),
    ({"bogus_fact": "1"}, "unknown_fact", "bogus_fact"),
    ({"rd_expense_yuan": "100万"}, "unrelated_fact", "不是这次测算用到的信息"),
])
def test_bad_overrides_are_chinese_422(client, override, code, words):
    sid = client.post("/api/chat", json={"question": SIMING}).json()["session_id"]
    resp = client.post("/api/chat", json={"session_id": sid, "facts_override": override})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["error"] == code and words in body["message"] and CJK.search(body["message"])
    assert "Traceback" not in resp.text
    after = client.post("/api/chat", json={"session_id": sid, "facts_override": {}}).json()
    assert after["calculations"][0]["amount_yuan"] == 80_000  # nothing changed by the refused correction


@pytest.mark.parametrize("body, status, code", [
    ({"facts_override": {"compute_purchase_yuan": "1万"}}, 422, "session_required"),
    ({"question": "  ", "facts_override": {"compute_purchase_yuan": "1万"}}, 422, "session_required"),
    ({}, 422, "invalid_request"),  # neither a question nor a correction
    ({"session_id": "x1", "facts_override": "120万"}, 422, "invalid_request"),
    ({"session_id": "x1", "facts_override": ["compute_purchase_yuan"]}, 422, "invalid_request"),
    ({"session_id": "x1", "facts_override": {"compute_purchase_yuan": {"amount": 1}}}, 422, "invalid_request"),
    ({"session_id": "x1", "facts_override": {"compute purchase": "1万"}}, 422, "invalid_request"),
    ({"session_id": "x1", "facts_override": {f"f{i}": "1" for i in range(41)}}, 422, "invalid_request"),
    ({"session_id": "x1", "facts_override": {"compute_purchase_yuan": "1万"}, "question": 5}, 422, "invalid_request"),
    # ids are issued by the server (issue 12): a correction of a conversation it never issued is a 404
    ({"session_id": "never-used-here", "facts_override": {"compute_purchase_yuan": "1万"}}, 404, "session_not_found"),
])
def test_override_request_errors(client, body, status, code):
    resp = client.post("/api/chat", json=body)
    assert resp.status_code == status and resp.json()["error"] == code, resp.text
    assert CJK.search(resp.json()["message"]) and "Traceback" not in resp.text


def test_override_request_errors_name_the_fact(client):
    resp = client.post("/api/chat", json={"session_id": "x1", "facts_override": {"compute_purchase_yuan": {"a": 1}}})
    assert "compute_purchase_yuan" in resp.json()["message"] and "更正的信息" in resp.json()["message"]


def test_streamed_override(client):
    sid = client.post("/api/chat", json={"question": SIMING}).json()["session_id"]
    resp = client.post("/api/chat", json={"session_id": sid, "facts_override": {"compute_purchase_yuan": "150万"},
                                          "stream": True})
    events = [block for block in resp.text.split("\n\n") if block.startswith("event: answer")]
    answer = json.loads(events[0].split("data: ", 1)[1])
    assert answer["calculations"][0]["amount_yuan"] == 150_000 and facts(answer)["compute_purchase_yuan"]["display"] == "150万元"


def test_openai_structured_extra_carries_facts_read(client):
    resp = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": SIMING}]}).json()
    assert facts(resp["policy_answer"])["compute_purchase_yuan"]["value"] == 800000


def test_a_restarted_server_continues_a_corrected_conversation(client, settings):
    sid = client.post("/api/chat", json={"question": SIMING}).json()["session_id"]
    client.post("/api/chat", json={"session_id": sid, "facts_override": {"compute_purchase_yuan": "120万"}})
    with TestClient(create_app(settings, gradio=False)) as fresh:  # a new process's agent: memory from the store
        follow = fresh.post("/api/chat", json={"question": "那最高能补多少？", "session_id": sid}).json()
    assert facts(follow)["compute_purchase_yuan"]["display"] == "120万元"
    assert follow["calculations"][0]["amount_yuan"] == 120_000
