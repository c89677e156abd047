"""A real `policy-assistant serve` process: URL printed, clean SIGTERM stop, nothing acknowledged lost on restart."""
from __future__ import annotations

import os
import signal
import sqlite3

import httpx
import pytest

from ui import harness

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "厦门企业去年购买算力服务花了80万元，最高能补多少？"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    return harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)


def test_restart_loses_nothing_acknowledged(shared, tmp_path):
    data = harness.fresh_data_dir(shared, tmp_path / "data")
    server = harness.start_server(data)
    try:
        assert server.url.startswith("http://127.0.0.1:")
        log = server.log()
        assert f"政策通已启动：{server.url}/" in log
        chat = httpx.post(server.url + "/api/chat", json={"question": QUESTION}, timeout=60)
        assert chat.status_code == 200
        answer = chat.json()
        sid = answer["session_id"]
        stream = httpx.post(server.url + "/api/chat", json={"question": "需要什么申报材料？", "session_id": sid,
                                                            "stream": True}, timeout=60)
        assert "event: answer" in stream.text
        turn_id = httpx.get(f"{server.url}/api/sessions/{sid}", timeout=10).json()["turns"][0]["turn_id"]
        fb = httpx.post(server.url + "/api/feedback", json={"rating": "up", "turn_id": turn_id, "comment": "清楚"}, timeout=10)
        assert fb.status_code == 200
        pending = httpx.post(server.url + "/api/chat", json={"question": "思明区智改数转评为三级，能奖励多少？"}, timeout=60).json()
        assert pending["status"] == "needs_info"
        kept = httpx.post(server.url + "/api/chat", json={"question": "是工业企业", "session_id": pending["session_id"]},
                          timeout=60).json()
        assert kept["status"] == "needs_info" and isinstance(kept["turn_id"], int)
        one_off = httpx.post(server.url + "/api/chat", json={"question": "安徽算力补贴比例是多少？"}, timeout=60).json()
    finally:
        code = server.stop()
    assert code == 0, server.log()
    assert "政策通已停止" in server.log()

    again = harness.start_server(data)
    try:
        turns = httpx.get(f"{again.url}/api/sessions/{sid}", timeout=10).json()["turns"]
        assert [t["question"] for t in turns] == [QUESTION, "需要什么申报材料？"]
        assert turns[0]["turn_id"] == turn_id and turns[0]["answer"]["citations"]
        # the conversation's memory survives too: restored into the new process's agent from what was stored
        follow = httpx.post(again.url + "/api/chat", json={"question": "数字化改造投入了500万",
                                                           "session_id": pending["session_id"]}, timeout=60).json()
        assert any(c["program_id"] == "sm-digital-transform" and c["amount_yuan"] == 150_000 for c in follow["calculations"])
        # a one-off chat that was never continued was never written: after a restart its id is unknown
        gone = httpx.post(again.url + "/api/chat", json={"question": "那厦门呢？", "session_id": one_off["session_id"]},
                          timeout=60)
        assert gone.status_code == 404 and gone.json()["error"] == "session_not_found"
    finally:
        assert again.stop() == 0
    row = sqlite3.connect(data / "app.sqlite3").execute("SELECT rating, comment, turn_id FROM feedback").fetchall()
    assert row == [(1, "清楚", turn_id)]


def test_hard_kill_keeps_acknowledged_writes(shared, tmp_path):
    """SIGKILL right after the responses: WAL commits that were acknowledged are still there on the next start."""
    data = harness.fresh_data_dir(shared, tmp_path / "data")
    server = harness.start_server(data)
    sessions = []
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for i in range(5):
                body = client.post("/api/chat", json={"question": f"思明区算力补助条件是什么？（第{i}次）"}).json()
                client.post("/api/chat", json={"question": "需要什么材料？", "session_id": body["session_id"]})
                sessions.append(body["session_id"])
            client.post("/api/feedback", json={"rating": "down", "session_id": sessions[0], "comment": "kill前"})
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.stop()
    again = harness.start_server(data)
    try:
        for sid in sessions:
            assert len(httpx.get(f"{again.url}/api/sessions/{sid}", timeout=10).json()["turns"]) == 2
    finally:
        again.stop()
    comments = [r[0] for r in sqlite3.connect(data / "app.sqlite3").execute("SELECT comment FROM feedback")]
    assert comments == ["kill前"]


def test_api_only_server_and_loadtest_command(shared, tmp_path):
    """`serve --no-ui` plus the `loadtest` command: bounded in time and count, zero errors, JSON report."""
    import json
    import subprocess
    import sys

    data = harness.fresh_data_dir(shared, tmp_path / "data")
    server = harness.start_server(data, args=["--no-ui"], env={"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        assert httpx.get(server.url + "/", timeout=10).status_code == 404  # no Gradio mounted
        done = subprocess.run([sys.executable, "-m", "policy_assistant", "loadtest", "--url", server.url, "--concurrency",
                               "1", "4", "--duration", "1", "--max-requests", "40", "--json"],
                              capture_output=True, text=True, timeout=120, env=harness.child_env(data))
        assert done.returncode == 0, done.stdout + done.stderr
        levels = json.loads(done.stdout)
        assert [lv["concurrency"] for lv in levels] == [1, 4]
        for lv in levels:
            assert lv["errors"] == 0 and 0 < lv["requests"] <= 40 and lv["rps"] > 0 and lv["p95_ms"] >= lv["p50_ms"]
    finally:
        assert server.stop() == 0
