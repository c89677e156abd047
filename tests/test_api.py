"""HTTP API over the real Services (offline agent, real index): every endpoint, SSE, errors, limits, CORS, API key."""
from __future__ import annotations

import json
import os
import re
import sqlite3

import pytest
from fastapi.testclient import TestClient

from policy_assistant.settings import Settings
from ui import harness
from ui.app import create_app

pytestmark = pytest.mark.slow

ALLOWED = "https://gov.example.cn"
CJK = re.compile(r"[\u4e00-\u9fff]")
COMPUTE_Q = "厦门企业去年购买算力服务花了80万元，最高能补多少？"


def shared_base(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    shared = harness.shared_index(shared_base(tmp_path_factory))
    return harness.fresh_data_dir(shared, tmp_path_factory.mktemp("api-data"))


def make_settings(data_dir, **overrides) -> Settings:
    base = Settings.from_env().model_copy(update={"llm_base_url": None, "llm_model": None, "as_of": None})
    return base.model_copy(update={"data_dir": data_dir, "cors_origins": [ALLOWED], "rate_limit_per_minute": 100_000,
                                   **overrides})


@pytest.fixture(scope="module")
def client(data_dir):
    with TestClient(create_app(make_settings(data_dir), gradio=False)) as c:
        yield c


def parse_sse(text: str) -> list[tuple[str, object]]:
    events = []
    for block in text.strip().split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            raw = "\n".join(data)
            events.append((event, raw if raw == "[DONE]" else json.loads(raw)))
    return events


def assert_chinese_error(resp, status: int, code: str | None = None):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) >= {"error", "message"}
    assert CJK.search(body["message"]), body
    assert "Traceback" not in resp.text
    if code:
        assert body["error"] == code
    return body


CONTRACT_KEYS = {"question", "answer", "status", "citations", "calculations", "validity", "session_id"}


# --- chat ---------------------------------------------------------------------------------------------------------
def test_chat_answers_with_contract_json_and_citation(client):
    resp = client.post("/api/chat", json={"question": COMPUTE_Q})
    assert resp.status_code == 200
    body = resp.json()
    assert CONTRACT_KEYS <= set(body)
    assert body["status"] == "answered"
    assert "xm-measures:1.3" in [c["id"] for c in body["citations"]]
    assert set(body["citations"][0]) == {"id", "document", "doc_number", "clause", "text"}
    calc = next(c for c in body["calculations"] if c["program_id"] == "xm-compute-voucher")
    assert calc["amount_yuan"] == 400_000  # 80万 × 50% = 40万 (below the 50万 cap)
    # a one-off call: a server-issued id to continue with, nothing written until the client comes back with it
    assert len(body["session_id"]) >= 20 and body["turn_id"] is None


def test_chat_multi_turn_keeps_session_and_history(client):
    first = client.post("/api/chat", json={"question": "思明区智改数转评为三级，能奖励多少？"}).json()
    assert first["status"] == "needs_info"
    sid = first["session_id"]
    second = client.post("/api/chat", json={"question": "工业企业，数字化改造投入了500万", "session_id": sid}).json()
    assert second["session_id"] == sid
    calc = next(c for c in second["calculations"] if c["program_id"] == "sm-digital-transform")
    assert calc["amount_yuan"] == 150_000  # 500万 × 20% = 100万, capped at the 三级 ceiling of 15万
    history = client.get(f"/api/sessions/{sid}").json()
    assert [t["question"] for t in history["turns"]] == ["思明区智改数转评为三级，能奖励多少？", "工业企业，数字化改造投入了500万"]
    assert history["turns"][1]["answer"]["status"] == second["status"]


def test_chat_stream_sends_tokens_then_answer(client):
    with client.stream("POST", "/api/chat", json={"question": COMPUTE_Q, "stream": True}) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        text = "".join(resp.iter_text())
    events = parse_sse(text)
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    assert "token" in kinds and set(kinds[:-1]) == {"token"}
    answer = events[-1][1]
    assert CONTRACT_KEYS <= set(answer) and answer["citations"]
    streamed = "".join(d["text"] for e, d in events if e == "token")
    assert streamed.strip() and streamed in answer["answer"] or answer["answer"].startswith(streamed[:20])


def test_chat_bad_input_is_422_in_chinese(client):
    assert_chinese_error(client.post("/api/chat", json={"question": "   "}), 422, "empty_question")
    body = assert_chinese_error(client.post("/api/chat", json={"question": "算" * 2001}), 422, "question_too_long")
    assert "2000" in body["message"]
    assert_chinese_error(client.post("/api/chat", json={}), 422, "invalid_request")
    assert_chinese_error(client.post("/api/chat", json={"question": "算力券", "as_of": "明天"}), 422, "invalid_request")
    assert_chinese_error(client.post("/api/chat", json={"question": "算力券", "session_id": "<script>"}), 422)
    assert_chinese_error(client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"}), 422)


def test_chat_as_of_changes_validity(client):
    body = client.post("/api/chat", json={"question": "厦门的人工智能若干措施现在还有效吗？", "as_of": "2024-05-01"}).json()
    xm = [v for v in body["validity"] if "厦门市促进人工智能产业发展若干措施" in v["document"]]
    assert xm and xm[0]["status"] == "in_force"


# --- tools ----------------------------------------------------------------------------------------------------------
def test_programs_lists_every_program(client):
    programs = client.get("/api/programs").json()
    ids = {p["id"] for p in programs}
    assert {"xm-compute-voucher", "sm-digital-transform", "ah-compute-cost", "qz-lingyan"} <= ids
    assert len(programs) >= 38


def test_calculate(client):
    resp = client.post("/api/calculate", json={"program_id": "xm-compute-voucher", "facts": {"compute_purchase_yuan": "80万"}})
    assert resp.status_code == 200
    calc = resp.json()
    assert calc["amount_yuan"] == 400_000 and calc["eligible"] is True
    assert calc["steps"] and calc["citations"][0]["id"] == "xm-measures:1.3"


def test_calculate_errors(client):
    assert_chinese_error(client.post("/api/calculate", json={"program_id": "no-such", "facts": {}}), 404, "unknown_program")
    body = assert_chinese_error(
        client.post("/api/calculate", json={"program_id": "xm-compute-voucher", "facts": {"compute_purchase_yuan": "-5万"}}), 422)
    assert "amount" not in body
    assert_chinese_error(client.post("/api/calculate", json={"facts": {}}), 422, "invalid_request")


def test_eligibility(client):
    profile = {"location": {"province": "福建省", "city": "厦门市", "district": "思明区"}, "legal_person": True,
               "industry": "软件和信息技术服务业", "facts": {"compute_purchase_yuan": "80万", "compute_listed_on_platform": "是"}}
    resp = client.post("/api/eligibility", json={"profile": profile})
    assert resp.status_code == 200
    report = resp.json()
    statuses = {i["program_id"]: i["status"] for i in report["items"]}
    assert len(statuses) >= 38
    assert statuses["ah-compute-cost"] == "not_eligible"  # 安徽 program, enterprise in 厦门
    order = {"eligible": 0, "needs_info": 1, "not_eligible": 2}
    ranks = [order[i["status"]] for i in report["items"]]
    assert ranks == sorted(ranks)
    assert_chinese_error(client.post("/api/eligibility", json={"profile": {"facts": {"no_such_fact": 1}}}), 422)


def test_search(client):
    resp = client.get("/api/search", params={"q": "算力券", "k": 3})
    assert resp.status_code == 200
    hits = resp.json()["hits"]
    assert 1 <= len(hits) <= 3 and "xm-measures:1.3" in [h["id"] for h in hits]
    filtered = client.get("/api/search", params={"q": "算力", "region": "思明区"}).json()["hits"]
    assert filtered and all(h["doc_id"] == "siming" for h in filtered)
    assert_chinese_error(client.get("/api/search", params={"q": " "}), 422, "empty_question")
    assert_chinese_error(client.get("/api/search"), 422, "invalid_request")


def test_documents(client):
    docs = client.get("/api/documents", params={"as_of": "2024-06-20"}).json()
    by_id = {d["id"]: d for d in docs}
    assert by_id["xm-measures"]["status"] == "in_force"
    assert by_id["anhui"]["window_open"] is True


# --- feedback and storage -------------------------------------------------------------------------------------------
def test_feedback_is_stored(client, data_dir):
    chat = client.post("/api/chat", json={"question": COMPUTE_Q}).json()
    follow = client.post("/api/chat", json={"question": "需要什么材料？", "session_id": chat["session_id"]}).json()
    resp = client.post("/api/feedback", json={"rating": "down", "turn_id": follow["turn_id"], "comment": "想知道申报材料"})
    assert resp.status_code == 200 and resp.json()["ok"] is True
    conn = sqlite3.connect(data_dir / "app.sqlite3")
    row = conn.execute("SELECT rating, comment, question, session_id FROM feedback WHERE id=?", (resp.json()["id"],)).fetchone()
    assert row == (-1, "想知道申报材料", "需要什么材料？", chat["session_id"])
    assert_chinese_error(client.post("/api/feedback", json={"rating": "meh"}), 422)


def test_feedback_on_a_one_off_answer_keeps_that_conversation(client, data_dir):
    """A one-off chat is held in memory only; a 👍 on it writes it (and the feedback points at its turn)."""
    chat = client.post("/api/chat", json={"question": "思明区语料数据补助多少？"}).json()
    conn = sqlite3.connect(data_dir / "app.sqlite3")
    assert conn.execute("SELECT COUNT(*) FROM turns WHERE session_id=?", (chat["session_id"],)).fetchone()[0] == 0
    resp = client.post("/api/feedback", json={"rating": 1, "session_id": chat["session_id"]})
    assert resp.status_code == 200
    row = conn.execute("SELECT f.rating, t.question FROM feedback f JOIN turns t ON t.id = f.turn_id WHERE f.id=?",
                       (resp.json()["id"],)).fetchone()
    assert row == (1, "思明区语料数据补助多少？")


def test_sessions_endpoint_validates_id(client):
    assert_chinese_error(client.get("/api/sessions/unknown-session"), 404, "session_not_found")
    assert_chinese_error(client.get("/api/sessions/bad%20id"), 422)


def test_client_chosen_session_ids_are_refused(client, data_dir):
    """Ids are issued by the server: an invented one is neither accepted for a chat nor readable."""
    assert_chinese_error(client.post("/api/chat", json={"question": COMPUTE_Q, "session_id": "my-own-id"}), 404,
                         "session_not_found")
    assert_chinese_error(client.get("/api/sessions/my-own-id"), 404)
    count = sqlite3.connect(data_dir / "app.sqlite3").execute(
        "SELECT COUNT(*) FROM conversations WHERE session_id='my-own-id'").fetchone()[0]
    assert count == 0


def test_conversation_can_be_deleted(client, data_dir):
    first = client.post("/api/chat", json={"question": "我们公司电话13800000000，厦门算力券能补多少？"}).json()
    sid = first["session_id"]
    client.post("/api/chat", json={"question": "投入80万", "session_id": sid})
    client.post("/api/feedback", json={"rating": 1, "session_id": sid, "comment": "好"})
    assert len(client.get(f"/api/sessions/{sid}").json()["turns"]) == 2
    assert client.delete(f"/api/sessions/{sid}").json()["ok"] is True
    conn = sqlite3.connect(data_dir / "app.sqlite3")
    for table in ("turns", "feedback", "conversations"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id=?", (sid,)).fetchone()[0] == 0, table
    assert_chinese_error(client.get(f"/api/sessions/{sid}"), 404)
    assert_chinese_error(client.post("/api/chat", json={"question": "还在吗", "session_id": sid}), 404)
    assert_chinese_error(client.delete(f"/api/sessions/{sid}"), 404)


# --- OpenAI-compatible ----------------------------------------------------------------------------------------------
def test_chat_over_a_damaged_index_is_503_in_chinese(tmp_path_factory):
    """A question that needs the index while the served build is damaged: 503 with the index's Chinese message (as
    /api/search and /healthz say), not a 422 “internal error, please rephrase”; rule-only questions still answer."""
    shared = harness.shared_index(shared_base(tmp_path_factory))
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("api-damaged"))
    build = json.loads((data / "index" / "CURRENT").read_text())["build"]
    chunks = data / "index" / "builds" / build / "chunks.jsonl"
    text = chunks.read_text(encoding="utf-8")
    chunks.write_text(text[: len(text) // 2] + "{broken", encoding="utf-8")
    with TestClient(create_app(make_settings(data), gradio=False)) as c:
        assert c.get("/healthz").status_code == 503
        body = assert_chinese_error(c.post("/api/chat", json={"question": "人工智能企业申报需要准备哪些材料？"}), 503,
                                    "index_corrupt")
        assert "损坏" in body["message"]
        assert c.post("/api/chat", json={"question": COMPUTE_Q}).status_code == 200


def test_openai_chat_completions(client):
    resp = client.post("/v1/chat/completions", json={"model": "policy-assistant", "messages": [
        {"role": "system", "content": "你是助手"}, {"role": "user", "content": COMPUTE_Q}]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion"
    content = body["choices"][0]["message"]["content"]
    assert body["choices"][0]["message"]["role"] == "assistant" and body["choices"][0]["finish_reason"] == "stop"
    assert "参考条款" in content and "[1]" in content and "厦门市促进人工智能产业发展若干措施" in content
    assert client.get("/v1/models").json()["data"][0]["id"] == "policy-assistant"


def test_openai_stream(client):
    with client.stream("POST", "/v1/chat/completions", json={"stream": True, "messages": [{"role": "user", "content": COMPUTE_Q}]}) as resp:
        assert resp.status_code == 200
        text = "".join(resp.iter_text())
    events = parse_sse(text)
    assert events[-1][1] == "[DONE]"
    chunks = [d for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "参考条款" in content and "40万元" in content
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_openai_multi_turn_continues_session(client):
    first_q = "思明区智改数转评为三级，能奖励多少？"
    first = client.post("/v1/chat/completions", json={"user": "u-42", "messages": [{"role": "user", "content": first_q}]}).json()
    follow = client.post("/v1/chat/completions", json={"user": "u-42", "messages": [
        {"role": "user", "content": first_q}, first["choices"][0]["message"],
        {"role": "user", "content": "工业企业，数字化改造投入了500万"}]}).json()
    calcs = follow["policy_answer"]["calculations"]
    assert any(c["program_id"] == "sm-digital-transform" and c["amount_yuan"] == 150_000 for c in calcs)


def test_openai_errors(client):
    assert_chinese_error(client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}), 422)
    assert_chinese_error(client.post("/v1/chat/completions", json={"messages": []}), 422)


# --- misc -------------------------------------------------------------------------------------------------------------
def test_health_docs_widget_and_unknown_routes(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["index"]["status"] == "ok" and health["index"]["build_id"]
    assert health["store"]["status"] == "ok"
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200  # offline docs: no CDN
    spec = client.get("/openapi.json").json()
    for path in ("/api/chat", "/api/calculate", "/api/eligibility", "/api/programs", "/api/search", "/api/feedback",
                 "/healthz", "/v1/chat/completions"):
        assert path in spec["paths"], path
    js = client.get("/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and "localStorage" in js.text
    demo = client.get("/widget-demo")
    assert demo.status_code == 200 and 'src="/widget.js"' in demo.text
    assert_chinese_error(client.get("/api/nothing-here"), 404, "not_found")
    assert_chinese_error(client.delete("/api/chat"), 405)


# --- CORS -------------------------------------------------------------------------------------------------------------
def test_cors_allowed_origin(client):
    resp = client.post("/api/chat", json={"question": COMPUTE_Q}, headers={"Origin": ALLOWED})
    assert resp.headers.get("access-control-allow-origin") == ALLOWED
    pre = client.options("/api/chat", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type,x-api-key"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == ALLOWED
    assert "x-api-key" in pre.headers["access-control-allow-headers"].lower()


def test_cors_disallowed_origin(client):
    evil = "https://evil.example.com"
    resp = client.post("/api/chat", json={"question": COMPUTE_Q}, headers={"Origin": evil})
    assert "access-control-allow-origin" not in resp.headers
    pre = client.options("/api/chat", headers={"Origin": evil, "Access-Control-Request-Method": "POST"})
    assert_chinese_error(pre, 400, "cors_rejected")
    assert "access-control-allow-origin" not in pre.headers


def test_cors_has_no_wildcard_by_default():
    assert Settings().cors_origins == []


# --- limits -----------------------------------------------------------------------------------------------------------
@pytest.fixture()
def limited(data_dir):
    settings = make_settings(data_dir, rate_limit_per_minute=3, max_body_bytes=2048)
    with TestClient(create_app(settings, gradio=False)) as c:
        yield c


def test_request_size_limit_413(limited):
    big = {"question": "算力" * 1500}  # ~9 KB of UTF-8, over the 2 KB limit
    body = assert_chinese_error(limited.post("/api/chat", json=big), 413, "payload_too_large")
    assert "KB" in body["message"]

    def chunks():  # no Content-Length: counted while streaming
        for _ in range(10):
            yield b"x" * 512

    assert_chinese_error(limited.post("/api/chat", content=chunks(), headers={"content-type": "application/json"}), 413)


def test_rate_limit_429(limited):
    statuses = [limited.get("/api/programs").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    resp = limited.get("/api/programs")
    body = assert_chinese_error(resp, 429, "rate_limited")
    assert int(resp.headers["retry-after"]) >= 1 and "每分钟" in body["message"]
    assert limited.get("/healthz").status_code == 200  # health checks are not metered


def test_api_key(data_dir, monkeypatch):
    monkeypatch.setenv("POLICY_TEST_API_KEY", "s3cret-key")
    with TestClient(create_app(make_settings(data_dir, api_key_env="POLICY_TEST_API_KEY"), gradio=False)) as c:
        assert_chinese_error(c.get("/api/programs"), 401, "unauthorized")
        assert_chinese_error(c.get("/api/programs", headers={"X-API-Key": "wrong"}), 401)
        assert c.get("/api/programs", headers={"X-API-Key": "s3cret-key"}).status_code == 200
        assert c.post("/v1/chat/completions", headers={"Authorization": "Bearer s3cret-key"},
                      json={"messages": [{"role": "user", "content": COMPUTE_Q}]}).status_code == 200
        assert c.get("/healthz").status_code == 200
        pre = c.options("/api/chat", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 200  # preflights carry no key


def test_api_key_variable_unset_refuses_to_start(data_dir, monkeypatch):
    """Fail closed: a key variable that is named but unset stops the app from being built (Chinese message)."""
    from policy_assistant.settings import SettingsError

    monkeypatch.delenv("POLICY_TEST_API_KEY", raising=False)
    with pytest.raises(SettingsError, match="POLICY_TEST_API_KEY"):
        create_app(make_settings(data_dir, api_key_env="POLICY_TEST_API_KEY"), gradio=False)


def test_gradio_is_mounted_beside_the_api(data_dir):
    with TestClient(create_app(make_settings(data_dir))) as c:
        page = c.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert c.get("/config").status_code == 200
        assert c.post("/api/chat", json={"question": COMPUTE_Q}).json()["status"] == "answered"
        assert_chinese_error(c.get("/api/nothing"), 404)


# --- sub-apps mounted later get the same guards ------------------------------------------------------------------------
def test_a_sub_app_mounted_later_is_behind_the_same_guards(data_dir, monkeypatch):
    """Whatever is mounted into the app later (as /mcp was): key, body limit, strict JSON and Chinese errors apply."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def echo(request):
        return JSONResponse({"got": len(await request.body())})

    monkeypatch.setenv("POLICY_TEST_API_KEY", "s3cret-key")
    app = create_app(make_settings(data_dir, api_key_env="POLICY_TEST_API_KEY", max_body_bytes=2048), gradio=False)
    app.mount("/plugin", Starlette(routes=[Route("/", echo, methods=["POST"])]))
    key = {"X-API-Key": "s3cret-key"}
    with TestClient(app) as c:
        assert_chinese_error(c.post("/plugin/", json={"jsonrpc": "2.0"}), 401)
        assert c.post("/plugin/", json={"jsonrpc": "2.0"}, headers=key).json() == {"got": 17}
        assert_chinese_error(c.post("/plugin/", content=b'{"x": NaN}', headers={**key, "content-type": "application/json"}), 422)
        assert_chinese_error(c.post("/plugin/", json={"x": "厦" * 2000}, headers=key), 413)
        assert c.post("/plugin/", json={}, headers=key).headers["x-content-type-options"] == "nosniff"


def test_eligibility_csv_files_do_not_pile_up(tmp_path, monkeypatch):
    """CSV downloads live in one temp folder; files older than an hour are removed when the next one is written."""
    import tempfile
    import time as _time

    from ui import gradio_app

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first = gradio_app._write_csv("a,b\n", "资格自查_2026-11-30.csv")
    old = _time.time() - gradio_app.CSV_MAX_AGE_S - 5
    os.utime(os.path.dirname(first), (old, old))  # each download sits in a folder of its own, named as offered
    second = gradio_app._write_csv("c,d\n", "资格自查_2026-11-30.csv")
    folder = tmp_path / gradio_app.CSV_DIR_NAME
    assert os.path.basename(second) == "资格自查_2026-11-30.csv"
    assert sorted(p.name for p in folder.iterdir()) == [os.path.basename(os.path.dirname(second))]


def test_purge_and_delete_commands(tmp_path):
    import subprocess
    import sys

    from ui.store import Store

    store = Store(tmp_path / "app.sqlite3")
    store.record_turn("conv-1", "问", {"answer": "答", "status": "answered"})
    store.record_turn("conv-2", "问", {"answer": "答", "status": "answered"})
    with store._lock:
        store._conn.execute("UPDATE conversations SET updated_at='2000-01-01T00:00:00+00:00' WHERE session_id='conv-1'")
    store.close()
    env = harness.child_env(tmp_path)
    purge = subprocess.run([sys.executable, "-m", "policy_assistant", "conversations", "purge", "--days", "30"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert purge.returncode == 0 and "会话 1 个" in purge.stdout
    delete = subprocess.run([sys.executable, "-m", "policy_assistant", "conversations", "delete", "conv-2"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert delete.returncode == 0 and "已删除" in delete.stdout
    assert Store(tmp_path / "app.sqlite3").stats() == {"conversations": 0, "turns": 0, "feedback": 0}
