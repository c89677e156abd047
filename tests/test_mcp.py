"""The MCP server through the official `mcp` client: a real `policy-assistant serve` over loopback (Streamable HTTP at
/mcp, with the web app mounted beside it) and `policy-assistant mcp` over stdio."""
from __future__ import annotations

import asyncio
import os
import re
import sys

import httpx
import pytest
from mcp import Client, StdioServerParameters

from ui import harness

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CJK = re.compile(r"[\u4e00-\u9fff]")
TOOLS = {"search_policy", "get_clause", "list_programs", "program_inputs", "calculate_award", "check_eligibility", "ask"}
PROFILE = {"name": "厦门某智能科技有限公司", "location": {"province": "福建省", "city": "厦门市", "district": "思明区"},
           "legal_person": True, "facts": {"compute_purchase_yuan": "80万"}}
CITATION_KEYS = {"id", "document", "doc_number", "clause", "text"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    return harness.shared_index(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)


@pytest.fixture(scope="module")
def server(shared, tmp_path_factory):
    data = harness.fresh_data_dir(shared, tmp_path_factory.mktemp("mcp-data"))
    with harness.running_server(data, env={"POLICY_AS_OF": "2025-06-30", "POLICY_RATE_LIMIT_PER_MINUTE": "0"}) as srv:
        yield srv


def run(url: str, steps, **client_kwargs):
    """Open an MCP client session on `url` and run `steps(client)` in it."""
    async def main():
        async with Client(url, **client_kwargs) as client:
            return await steps(client)
    return asyncio.run(main())


def call(server, name: str, arguments: dict):
    return run(server.url + "/mcp", lambda c: c.call_tool(name, arguments))


def assert_citations(citations: list[dict]):
    assert citations, "a result without citations"
    for c in citations:
        assert CITATION_KEYS <= set(c) and c["document"] and c["clause"] and c["text"], c


# --- discovery ---------------------------------------------------------------------------------------------------
def test_lists_the_seven_tools_with_chinese_descriptions_and_typed_schemas(server):
    tools = {t.name: t for t in run(server.url + "/mcp", lambda c: c.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert CJK.search(tool.description) and CJK.search(tool.title or ""), tool.name
        assert tool.output_schema and {"as_of", "citations"} <= set(tool.output_schema["properties"]), tool.name
        for name, prop in tool.input_schema["properties"].items():
            assert CJK.search(prop.get("description", "")), (tool.name, name)
    # arguments mirror POST /api/calculate and POST /api/eligibility
    calc = tools["calculate_award"].input_schema
    assert set(calc["properties"]) == {"program_id", "facts", "as_of"} and calc["required"] == ["program_id"]
    elig = tools["check_eligibility"].input_schema
    assert set(elig["properties"]) == {"profile", "as_of"} and elig["required"] == ["profile"]


def test_gradio_and_mcp_share_the_server(server):
    """/mcp answers MCP while "/" still serves the web app (Gradio is mounted at the root after /mcp)."""
    assert httpx.get(server.url + "/", timeout=30).status_code == 200
    slash = run(server.url + "/mcp/", lambda c: c.list_tools())
    assert {t.name for t in slash.tools} == TOOLS


# --- each tool ---------------------------------------------------------------------------------------------------
def test_calculate_award_matches_the_http_api(server):
    args = {"program_id": "xm-compute-voucher", "facts": {"compute_purchase_yuan": "80万"}, "as_of": "2024-06-30"}
    result = call(server, "calculate_award", args)
    assert not result.is_error, result.content
    data = result.structured_content
    assert data["amount_yuan"] == 400_000 and data["eligible"] is True and data["as_of"] == "2024-06-30"
    assert [c["id"] for c in data["citations"]] == ["xm-measures:1.3"]
    assert data["citations"][0]["doc_number"] == "厦府办规〔2023〕10号"
    assert_citations(data["citations"])
    http = httpx.post(server.url + "/api/calculate", json=args, timeout=30).json()
    assert {k: data[k] for k in ("amount_yuan", "steps", "missing", "unmet")} == \
           {k: http[k] for k in ("amount_yuan", "steps", "missing", "unmet")}


def test_calculate_award_asks_for_missing_facts_and_defaults_the_date(server):
    data = call(server, "calculate_award", {"program_id": "xm-compute-voucher"}).structured_content
    assert data["amount_yuan"] is None and data["missing_facts"] == ["compute_purchase_yuan"]
    assert data["as_of"] == "2025-06-30"  # POLICY_AS_OF of the server
    assert_citations(data["citations"])


def test_check_eligibility(server):
    data = call(server, "check_eligibility", {"profile": PROFILE}).structured_content
    assert data["as_of"] == "2025-06-30"
    by_id = {i["program_id"]: i for i in data["items"]}
    assert by_id["xm-compute-voucher"]["status"] == "eligible" and by_id["xm-compute-voucher"]["amount_yuan"] == 400_000
    assert "ah-compute-cost" in {i["program_id"] for i in data["not_eligible"]}  # 安徽 program, enterprise in 厦门
    assert_citations(data["citations"])
    cited = {c["id"] for c in data["citations"]}
    assert all(set(i["clause_ids"]) <= cited for i in data["items"])


def test_search_policy_and_get_clause(server):
    found = call(server, "search_policy", {"query": "租GPU训练大模型能补多少", "region": "厦门", "k": 3}).structured_content
    assert not found["no_relevant"] and 1 <= len(found["citations"]) <= 3
    assert_citations(found["citations"])
    clause_id = found["citations"][0]["id"]
    clause = call(server, "get_clause", {"clause_id": clause_id}).structured_content
    assert [c["id"] for c in clause["citations"]] == [clause_id] and clause["as_of"] == "2025-06-30"
    assert found["citations"][0]["text"] in clause["citations"][0]["text"]  # a hit is the clause or a run of its lines
    assert_citations(clause["citations"])


def test_list_programs_and_program_inputs(server):
    listed = call(server, "list_programs", {"region": "思明"}).structured_content
    ids = [p["program_id"] for p in listed["programs"]]
    assert ids and all(i.startswith("sm-") for i in ids) and "sm-compute" in ids
    assert {c["id"] for c in listed["citations"]} >= {"siming:art2"}
    assert_citations(listed["citations"])
    inputs = call(server, "program_inputs", {"program_id": "sm-digital-transform"}).structured_content
    assert inputs["formula"] and {f["name"] for f in inputs["facts"]} and inputs["as_of"] == "2025-06-30"
    assert_citations(inputs["citations"])


def test_ask_holds_a_conversation(server):
    async def steps(client):
        first = (await client.call_tool("ask", {"question": "厦门企业去年购买算力服务花了80万元，最高能补多少？"})).structured_content
        second = (await client.call_tool("ask", {"question": "那如果是120万呢？", "session_id": first["session_id"]}))
        return first, second.structured_content
    first, second = run(server.url + "/mcp", steps)
    assert first["status"] == "answered" and first["as_of"] == "2025-06-30" and first["session_id"]
    assert first["calculations"][0]["amount_yuan"] == 400_000
    assert_citations(first["citations"])
    assert second["session_id"] == first["session_id"]
    assert any(c["program_id"] == "xm-compute-voucher" and c["amount_yuan"] == 500_000 for c in second["calculations"])
    # the facts read (issue 15): what the amount was computed from, the question's words, where each came from
    spend = {f["fact"]: f for f in second["facts_read"]}["compute_purchase_yuan"]
    assert (spend["value"], spend["origin"], spend["label"]) == (1_200_000, "question", "年度购买算力服务总额")
    assert spend["source_text"] and spend["source_text"] in "那如果是120万呢？"


# --- bad input: a tool error in Chinese, never a traceback -------------------------------------------------------
@pytest.mark.parametrize("name, arguments, words", [
    ("calculate_award", {"program_id": "no-such-program"}, "未找到补助项目"),
    ("calculate_award", {"facts": {"compute_purchase_yuan": "80万"}}, "缺少必填字段“项目”"),
    ("calculate_award", {"program_id": "xm-compute-voucher", "as_of": "昨天"}, "YYYY-MM-DD"),
    ("calculate_award", {"program_id": "xm-compute-voucher", "facts": {"compute_purchase_yuan": "很多"}}, "无法识别金额"),
    ("calculate_award", {"program_id": "xm-compute-voucher", "facts": "80万"}, "“事实”取值无效"),
    ("check_eligibility", {"profile": {"legal_person": "也许"}}, "独立法人资格"),
    ("check_eligibility", {"profile": {"facts": {"no_such_fact": 1}}}, "未定义的事实"),
    ("check_eligibility", {}, "缺少必填字段“企业情况”"),
    ("get_clause", {"clause_id": "xm-measures:99.9"}, "没有编号为"),
    ("program_inputs", {"program_id": "nope"}, "list_programs"),
    ("search_policy", {"query": "   "}, "检索词不能为空"),
    ("search_policy", {"query": "算力", "k": 500}, "条数"),
    ("list_programs", {"region": "火星"}, "没有适用于"),
    ("ask", {"question": ""}, "不能为空"),
    ("ask", {"question": "算力" * 2000}, "过长"),
    ("ask", {"question": "算力补助", "session_id": "带空格 的ID"}, "会话 ID"),
    ("no_such_tool", {}, "没有名为“no_such_tool”的工具"),
])
def test_bad_input_is_a_chinese_tool_error(server, name, arguments, words):
    result = call(server, name, arguments)
    assert result.is_error
    text = "".join(getattr(part, "text", "") for part in result.content)
    assert words in text and CJK.search(text), text
    assert "Traceback" not in text and "Error executing tool" not in text and "validation error" not in text, text


# --- clients, transports, the key ------------------------------------------------------------------------------
def test_handshake_era_client(server):
    """A client on the older initialize handshake (as the MCP clients built into Dify and FastGPT are) works too."""
    result = run(server.url + "/mcp", lambda c: c.call_tool("calculate_award", {
        "program_id": "sm-compute", "facts": {"compute_purchase_yuan": "30万"}}), mode="legacy")
    assert not result.is_error and result.structured_content["program_id"] == "sm-compute"


def test_stdio_command(shared, tmp_path):
    data = harness.fresh_data_dir(shared, tmp_path / "data")
    params = StdioServerParameters(command=sys.executable, args=["-m", "policy_assistant", "mcp"],
                                   env=harness.child_env(data, {"POLICY_AS_OF": "2024-06-30"}), cwd=str(tmp_path))

    async def steps(client):
        tools = await client.list_tools()
        result = await client.call_tool("calculate_award", {"program_id": "xm-compute-voucher",
                                                             "facts": {"compute_purchase_yuan": "120万"}})
        bad = await client.call_tool("calculate_award", {"program_id": "nope"})
        return tools, result, bad

    tools, result, bad = run(params, steps)
    assert {t.name for t in tools.tools} == TOOLS
    assert result.structured_content["amount_yuan"] == 500_000 and result.structured_content["as_of"] == "2024-06-30"
    assert bad.is_error and "未找到补助项目" in bad.content[0].text


def test_mcp_requires_the_api_key_when_one_is_configured(shared, tmp_path):
    data = harness.fresh_data_dir(shared, tmp_path / "data")
    env = {"POLICY_API_KEY_ENV": "PA_TEST_KEY", "PA_TEST_KEY": "s3cret"}
    with harness.running_server(data, args=["--no-ui"], env=env) as srv:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
        refused = httpx.post(srv.url + "/mcp", json=body, headers=headers, timeout=30)
        assert httpx.get(srv.url + "/api/programs", timeout=30).status_code == 401  # the API itself is guarded
        assert refused.status_code == 401, refused.text
        assert CJK.search(refused.json()["message"])
        keyed = httpx.post(srv.url + "/mcp", json=body, headers={**headers, "X-API-Key": "s3cret"}, timeout=30)
        assert keyed.status_code == 200, keyed.text
