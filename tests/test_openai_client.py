"""The official `openai` Python package against a real `policy-assistant serve` on loopback."""
from __future__ import annotations

import os
import re

import httpx
import openai
import pytest

from ui import harness

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CJK = re.compile(r"[\u4e00-\u9fff]")
COMPUTE_Q = "厦门企业去年购买算力服务花了80万元，最高能补多少？"
TRANSFORM_Q = "思明区智改数转评为三级，能奖励多少？"
FOLLOW_Q = "工业企业，数字化改造投入了500万"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    shared = harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("openai-data"))
    proc = harness.start_server(data, env={"POLICY_RATE_LIMIT_PER_MINUTE": "0"}, args=["--no-ui"])
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(server):
    with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60) as c:
        yield c


def amounts(completion) -> dict[str, int | None]:
    answer = completion.model_extra["policy_answer"]
    return {c["program_id"]: c["amount_yuan"] for c in answer["calculations"]}


def test_models_and_a_plain_completion(client):
    assert [m.id for m in client.models.list()] == ["policy-assistant"]
    done = client.chat.completions.create(model="policy-assistant", messages=[
        {"role": "system", "content": "你是助手"}, {"role": "user", "content": COMPUTE_Q}])
    text = done.choices[0].message.content
    assert done.choices[0].finish_reason == "stop" and "40万元" in text and "参考条款" in text
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens > 0
    assert amounts(done)["xm-compute-voucher"] == 400_000  # 80万 × 50% = 40万, under the 50万 cap


def test_stream_with_usage(client):
    stream = client.chat.completions.create(model="policy-assistant", stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": COMPUTE_Q}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "40万元" in text and "参考条款" in text
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens == len(text)
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_sends_none(client):
    chunks = list(client.chat.completions.create(model="policy-assistant", stream=True,
                                                 messages=[{"role": "user", "content": COMPUTE_Q}]))
    assert chunks[-1].choices[0].finish_reason == "stop" and all(c.usage is None for c in chunks)


def test_multi_turn_by_user_field(client):
    first = client.chat.completions.create(model="policy-assistant", user="acme-7",
                                           messages=[{"role": "user", "content": TRANSFORM_Q}])
    follow = client.chat.completions.create(model="policy-assistant", user="acme-7", messages=[
        {"role": "user", "content": TRANSFORM_Q}, {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": FOLLOW_Q}])
    assert amounts(follow)["sm-digital-transform"] == 150_000  # 500万 × 20% = 100万, capped at 三级 15万


def test_multi_turn_without_id_continues_from_the_user_turns(client):
    """A client that trims the assistant's earlier text (or rewrites it) still continues the conversation."""
    for assistant_text in ("好的。", ""):
        follow = client.chat.completions.create(model="policy-assistant", messages=[
            {"role": "user", "content": TRANSFORM_Q}, {"role": "assistant", "content": assistant_text},
            {"role": "user", "content": FOLLOW_Q}])
        assert amounts(follow)["sm-digital-transform"] == 150_000


def test_multi_turn_by_session_header(client, server):
    first = client.chat.completions.create(model="policy-assistant", messages=[{"role": "user", "content": TRANSFORM_Q}])
    sid = first.model_extra["policy_answer"]["session_id"]
    follow = client.chat.completions.create(model="policy-assistant", extra_headers={"X-Session-Id": sid},
                                            messages=[{"role": "user", "content": FOLLOW_Q}])
    assert amounts(follow)["sm-digital-transform"] == 150_000
    assert follow.model_extra["policy_answer"]["session_id"] == sid
    turns = httpx.get(f"{server.url}/api/sessions/{sid}", timeout=10).json()["turns"]
    assert [t["question"] for t in turns] == [TRANSFORM_Q, FOLLOW_Q]


def test_same_history_two_users_no_cross_writes(client, server):
    """Deterministic answers make two users' histories identical; their private follow-ups stay apart."""
    sessions = {}
    for who in ("甲", "乙"):
        first = client.chat.completions.create(model="policy-assistant", user=f"user-{who}",
                                               messages=[{"role": "user", "content": TRANSFORM_Q}])
        follow = client.chat.completions.create(model="policy-assistant", user=f"user-{who}", messages=[
            {"role": "user", "content": TRANSFORM_Q}, {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": f"我们是{who}公司，电话1380000000{len(sessions)}"}])
        sessions[who] = follow.model_extra["policy_answer"]["session_id"]
    assert sessions["甲"] != sessions["乙"]
    for who, sid in sessions.items():
        text = httpx.get(f"{server.url}/api/sessions/{sid}", timeout=10).text
        other = "乙" if who == "甲" else "甲"
        assert f"我们是{who}公司" in text and f"我们是{other}公司" not in text


def test_errors_are_chinese(client):
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(model="policy-assistant", messages=[{"role": "assistant", "content": "好"}])
    assert CJK.search(err.value.response.json()["message"])
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client.chat.completions.create(model="policy-assistant",
                                       messages=[{"role": "user", "content": [{"type": "image_url",
                                                                               "image_url": {"url": "http://x/a.png"}}]}])
    assert "文字" in err.value.response.json()["message"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="policy-assistant", extra_headers={"X-Session-Id": "not-issued"},
                                       messages=[{"role": "user", "content": FOLLOW_Q}])
