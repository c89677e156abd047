"""The reliability suite against real `policy-assistant serve` processes on loopback (issue 12's probes).

The same probes produce `policy-assistant bench --reliability`; here they run smaller and each figure is asserted
at its target: 0 hangs, 0 × 5xx, 0 unauthenticated routes, 0 requests over a limit, 0 cross-session writes.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from policy_assistant.reliability import probes, scenarios
from policy_assistant.reliability.corpus import case_count
from ui import harness

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CJK = re.compile(r"[\u4e00-\u9fff]")
RATE = 30
KEY = "reliability-test-key"


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    return harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)


@pytest.fixture(scope="module")
def runner(shared, tmp_path_factory):
    return scenarios.Runner(shared, tmp_path_factory.mktemp("reliability-runs"))


def _serve(runner, name, env):
    server = runner.start(runner.data_dir(name), env)
    return server


@pytest.fixture(scope="module")
def open_server(runner):
    server = _serve(runner, "open", {"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tight_server(runner):
    server = _serve(runner, "tight", {"POLICY_RATE_LIMIT_PER_MINUTE": str(RATE), "POLICY_HEADER_TIMEOUT_S": "2",
                                      "POLICY_MAX_CONNECTIONS": "40"})
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keyed_server(runner):
    server = _serve(runner, "keyed", {"POLICY_API_KEY_ENV": "PA_TEST_KEY", "PA_TEST_KEY": KEY,
                                      "POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    yield server
    server.stop()


# --- garbage in, Chinese out ---------------------------------------------------------------------------------------
def test_bad_input_corpus_no_hang_no_5xx_all_chinese(open_server):
    result = probes.bad_input_corpus(open_server.url)
    assert result["inputs"] == case_count() >= 150
    assert result["hangs"] == 0, result["hang_cases"]
    assert result["server_errors"] == 0, result["server_error_cases"]
    assert result["not_chinese"] == 0, result["not_chinese_cases"]
    assert result["garbage_amounts"] == 0, result["garbage_amount_cases"]
    assert result["healthy_after"]


def test_lone_surrogate_is_answered_422_every_time(open_server):
    result = probes.surrogate_hang(open_server.url, n=20, timeout_s=5)
    assert result["hangs"] == 0 and result["statuses"] == {"422": 20}
    assert result["chat_status"] == 422 and result["healthy_after"]


def test_calculator_fuzz_over_every_fact_has_no_5xx(open_server):
    result = probes.calculator_fuzz(open_server.url, values=["NaN", "1e309", "-80万", "9" * 40, "\u200b", "是" * 300])
    assert result["hangs"] == 0 and result["server_errors"] == 0, result["server_error_examples"]


def test_calculator_fuzz_garbage_never_produces_an_amount(open_server):
    result = probes.calculator_fuzz(open_server.url, values=["不知道", "是不是我也不知道", "还没确定", "1e309元",
                                                             "100P; DROP TABLE", "500%", "Infinity"])
    assert result["garbage_amounts"] == 0, result["garbage_amount_examples"]


# --- every route behind the same guards --------------------------------------------------------------------------------
def test_every_route_needs_the_key(keyed_server):
    result = probes.unauthenticated_routes(keyed_server.url)
    assert result["unauthenticated"] == 0, result["open_routes"]
    assert httpx.get(keyed_server.url + "/healthz", timeout=10).status_code == 200  # exempt: load balancers
    assert httpx.get(keyed_server.url + "/widget.js", timeout=10).status_code == 200  # exempt: <script src>


def test_key_opens_api_and_gradio_routes(keyed_server):
    headers = {"X-API-Key": KEY}
    assert httpx.get(keyed_server.url + "/api/programs", headers=headers, timeout=10).status_code == 200
    # "answer" is the page's own (private) queued chat step
    call = httpx.post(keyed_server.url + "/gradio_api/call/answer", headers=headers, timeout=30,
                      json={"data": ["厦门算力券能补多少？", ""]})
    assert call.status_code == 200 and call.json()["event_id"]
    assert httpx.get(keyed_server.url + "/gradio_api/call/answer", timeout=10).status_code == 401


def test_browser_login_sets_a_cookie_that_opens_the_app(keyed_server):
    with httpx.Client(base_url=keyed_server.url, timeout=30) as client:
        page = client.get("/", headers={"accept": "text/html"})
        assert page.status_code == 401 and "访问密钥" in page.text and 'action="/auth/login"' in page.text
        wrong = client.post("/auth/login", data={"key": "nope", "next": "/"})
        assert wrong.status_code == 401 and "密钥不正确" in wrong.text
        assert "pa_auth" not in client.cookies
        ok = client.post("/auth/login", data={"key": KEY, "next": "//evil.example/"})
        assert ok.status_code == 303 and ok.headers["location"] == "/"  # no open redirect
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and KEY not in cookie
        assert client.get("/").status_code == 200 and client.get("/config").status_code == 200


def test_rate_limit_covers_every_route_family(tight_server):
    result = probes.rate_limit_routes(tight_server.url, RATE, extra=10)
    assert result["routes_over_budget"] == 0, result["over_budget"]


def test_rotating_forwarded_for_gets_no_extra_budget(tight_server):
    assert probes.xff_bypass(tight_server.url, RATE, extra=15, source="127.0.0.1")["over_budget"] == 0


def test_forwarded_for_is_honoured_from_a_configured_proxy(runner):
    """Behind a trusted proxy (127.0.0.1) each forwarded client has its own budget; a forged leftmost entry
    does not give one client a second budget."""
    server = _serve(runner, "proxied", {"POLICY_RATE_LIMIT_PER_MINUTE": "5", "POLICY_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            def statuses(xff):
                return [client.get("/api/programs", headers={"x-forwarded-for": xff}).status_code for _ in range(6)]

            assert statuses("203.0.113.1") == [200] * 5 + [429]
            assert statuses("203.0.113.2") == [200] * 5 + [429]  # another client behind the proxy
            forged = [client.get("/api/programs", headers={"x-forwarded-for": f"198.51.100.{i}, 203.0.113.1"}).status_code
                      for i in range(3)]
            assert forged == [429, 429, 429]
    finally:
        server.stop()


def test_body_limit_covers_every_post_route(open_server):
    result = probes.body_limit(open_server.url)
    assert result["accepted"] == 0, result["accepted_routes"]


def test_gradio_history_is_not_echoed_and_uploads_are_refused(open_server):
    echo = probes.gradio_history_echo(open_server.url)
    assert echo["status"] == 413 and echo["returned_bytes"] == 0
    upload = probes.upload_probe(open_server.url, size=2048)
    assert upload["status"] == 404 and not upload["stored"]


def test_cors_security_headers_and_chinese_errors(open_server):
    assert probes.cors_leaks(open_server.url)["leaks"] == 0
    headers = probes.security_headers(open_server.url)
    assert headers["missing"] == 0, headers["missing_headers"]
    errors = probes.chinese_errors_everywhere(open_server.url)
    assert errors["not_chinese"] == 0, errors["not_chinese_routes"]


def test_malformed_http_gets_a_chinese_400(open_server):
    host, port = open_server.url.rsplit("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"GARBAGE \x00\x01 NOT-HTTP\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and "无效".encode() in reply


# --- slow clients and connections ----------------------------------------------------------------------------------------
def test_slow_clients_are_timed_out(tight_server):
    result = probes.slow_clients(tight_server.url, connections=20, wait_s=4)  # header timeout 2 s
    assert result["held"] == 0 and result["healthy_after"]


def test_connections_over_the_cap_are_refused_in_chinese(tight_server):
    host, port = tight_server.url.rsplit("//", 1)[1].split(":")
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(45)]  # cap 40
    try:
        refused = 0
        for s in idle[40:]:
            s.settimeout(2)
            try:
                data = s.recv(4096)
            except OSError:
                continue
            if data.startswith(b"HTTP/1.1 503") and "连接数已满".encode() in data:
                refused += 1
        assert refused >= 1
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the idle ones are closed by the head deadline; the server recovers
        if probes._healthy(tight_server.url):
            break
        time.sleep(0.5)
    assert probes._healthy(tight_server.url)


# --- sessions -------------------------------------------------------------------------------------------------------------
def test_v1_identical_histories_never_share_a_conversation(open_server):
    assert probes.v1_cross_session(open_server.url, pairs=2)["cross_session_writes"] == 0
    assert probes.v1_cross_session(open_server.url, pairs=2, use_user_field=True)["cross_session_writes"] == 0


def test_client_chosen_ids_are_refused(open_server):
    result = probes.client_chosen_ids(open_server.url)
    assert result["chat_status"] == 404 and not result["readable_after"]


# --- configuration, durability, storage, corruption --------------------------------------------------------------------
def test_unset_key_variable_refuses_to_start(shared, tmp_path):
    data = harness.fresh_data_dir(shared, tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "policy_assistant", "serve", "--port", "0"], capture_output=True,
                          text=True, timeout=120,
                          env=harness.child_env(data, {"POLICY_API_KEY_ENV": "PA_SURELY_UNSET_KEY"}))
    assert done.returncode == 2
    assert "PA_SURELY_UNSET_KEY" in done.stderr and "拒绝" in done.stderr and "Traceback" not in done.stderr


def test_kill9_loses_no_answered_turn(runner):
    result = scenarios.kill9(runner, conversations=6, turns=3)
    assert result["acknowledged"] == 18 and result["lost"] == 0


def test_one_off_chats_leave_nothing_on_disk(runner):
    assert scenarios.one_off_storage(runner, n=5)["stored_turns"] == 0


@pytest.mark.parametrize("kind", ["manifest", "chunks"])
def test_damaged_index_is_reported_and_replaced_without_restart(runner, kind):
    result = scenarios.index_corruption(runner, kind)
    assert result["search"] == 503 and result["search_chinese"]
    assert result["chat_search"] == 503 and result["chat_search_error"] == "index_corrupt"
    assert result["healthz"] == 503 and result["healthz_status"] == "unavailable"
    assert result["build_exit"] == 0 and not result["build_said_up_to_date"] and not result["build_traceback"]
    assert result["search_after_build"] == 200 and result["healthy_after_build"]


def test_damaged_vector_store_degrades_then_is_replaced(runner):
    """Chroma's database damaged: search still answers from the checksummed vectors, /healthz says degraded,
    `index build` replaces the build and the server serves it without a restart."""
    result = scenarios.index_corruption(runner, "chroma")
    assert result["search"] == 200 and result["healthz"] == 200 and result["healthz_status"] == "degraded"
    assert result["chat_search"] == 200
    assert result["build_exit"] == 0 and not result["build_said_up_to_date"]
    assert result["search_after_build"] == 200 and result["healthy_after_build"]


def test_force_build_survives_a_corrupt_manifest_and_vector_cache(runner):
    result = scenarios.force_build_over_corruption(runner)
    assert result["corrupt_manifest"] == {"exit": 0, "traceback": False}
    assert result["corrupt_vector_cache"] == {"exit": 0, "traceback": False}


@pytest.mark.parametrize("kind", ["zero", "truncated"])
def test_damaged_conversation_store_is_kept_aside(runner, kind):
    result = scenarios.sqlite_damage(runner, kind)
    assert result["started"] and result["kept_aside"] and result["chat_after"] == 200
    assert result["healthz"] == 200 and result["health_reports_store"]
