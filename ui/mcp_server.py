"""MCP server: search, clauses, programs, the calculator, the eligibility check and the assistant as MCP tools.

Built on the official `mcp` Python SDK 2.x (`MCPServer`, called `FastMCP` in 1.x). The HTTP app mounts it at
`/mcp` (Streamable HTTP, stateless, JSON responses); `policy-assistant mcp` serves it over stdio. Each tool is
parse → one `Services` call → map errors: a refusal reaches the client as a tool error with a Chinese message
(`is_error=True`), never a traceback. Every result carries the as-of date it used and its citations (document,
文号, clause label, verbatim text).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Annotated, Any, Callable, Iterator

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ui import schemas
from ui.errors import error_for_exception, validation_message

log = logging.getLogger("policy_assistant.mcp")

MCP_PATH = "/mcp"
SERVER_NAME = "policy-assistant"
INSTRUCTIONS = (
    "政策通：厦门、思明区、泉州（福建省级）、安徽的人工智能产业补助政策。金额一律用 calculate_award 或 check_eligibility "
    "计算（确定性计算器，整数元，政策上限），不要自行推算；引用条款时给出文件标题、文号、条款位置和原文。"
    "不知道项目编号时先用 list_programs 或 search_policy；不知道需要哪些事实时用 program_inputs。")

# where an error message points at a CLI command or HTTP route, the MCP client is told the tool to use instead
MCP_HINTS = {"unknown_program": "（在 MCP 中请调用 list_programs 查看全部项目编号。）"}
AS_OF_DESCRIPTION = "可选：按此日期（YYYY-MM-DD）判断政策效力与申报期，默认今天"
AsOf = Annotated[dt.date | None, Field(description=AS_OF_DESCRIPTION)]
AS_OF_FIELD = Field(description="本结果所用的基准日期（判断政策效力与申报期的日期）")


# --- results (each carries as_of and citations) ---------------------------------------------------------------
class SearchPolicyResult(BaseModel):
    model_config = ConfigDict(extra="ignore")

    as_of: dt.date = AS_OF_FIELD
    in_force_only: bool = Field(description="true 表示只检索了基准日期仍有效的文件")
    query: str = Field(description="检索词")
    no_relevant: bool = Field(description="true 表示语料库中没有足够相关的条款，命中仅供参考")
    reason: str = Field(default="", description="no_relevant 时的说明")
    citations: list[schemas.SearchHit] = Field(description="命中的条款（含原文），按相关度从高到低")


class ClauseResult(BaseModel):
    as_of: dt.date = AS_OF_FIELD
    citations: list[schemas.Citation] = Field(description="该条款（文件、文号、条款位置、原文）")


class ProgramItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    program_id: str = Field(description="补助项目编号（calculate_award 的 program_id）")
    name: str = Field(description="项目名称")
    region: str = Field(description="适用地区")
    document: str = Field(description="所依据文件标题")
    doc_number: str = Field(description="文号（无则为空）")
    level_zh: str = Field(description="层级")
    beneficiary: str = Field(description="受益方")
    amount_kind: str = Field(description="award 补助/奖励，loan 贴息贷款额度，none 文件未规定金额")
    period: str = Field(description="兑现周期")
    payment_form: str = Field(description="兑现方式")
    facts: list[str] = Field(description="计算所需的事实名（详见 program_inputs）")
    clause_ids: list[str] = Field(description="依据条款编号（原文见 citations）")


class ProgramsResult(BaseModel):
    as_of: dt.date = AS_OF_FIELD
    region: str | None = Field(description="筛选的地区；为空表示全部")
    programs: list[ProgramItem] = Field(description="补助项目")
    citations: list[schemas.Citation] = Field(description="这些项目依据的条款（去重）")


class ProgramInputsResult(schemas.ProgramInputs):
    as_of: dt.date = AS_OF_FIELD


class CalculateAwardResult(schemas.Calculation):
    as_of: dt.date = AS_OF_FIELD


class EligibilityLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    program_id: str = Field(description="补助项目编号")
    program: str = Field(description="项目名称")
    region: str = Field(description="适用地区")
    status: str = Field(description="eligible 符合 / needs_info 需补充信息")
    status_zh: str = Field(description="结论（中文）")
    amount_yuan: int | None = Field(default=None, description="符合时最高可获得金额（整数元）")
    potential_amount_yuan: int | None = Field(default=None, description="补充信息并满足条件后的最高金额（整数元）")
    amount_kind: str = Field(description="金额类型：award 补助/奖励，loan 贴息贷款额度，none 文件未规定金额")
    beneficiary: str = Field(description="受益方")
    ask: list[str] = Field(default_factory=list, description="还需补充的信息")
    ask_facts: list[str] = Field(default_factory=list, description="还需补充的事实名（可用 calculate_award 补算）")
    validity_message: str = Field(default="", description="所依据文件的效力与申报期")
    steps: list[str] = Field(default_factory=list, description="计算步骤")
    clause_ids: list[str] = Field(default_factory=list, description="依据条款编号（原文见 citations）")


class NotEligibleLine(BaseModel):
    program_id: str = Field(description="补助项目编号")
    program: str = Field(description="项目名称")
    reasons: list[str] = Field(description="不符合的原因")


class EligibilityResult(BaseModel):
    as_of: dt.date = AS_OF_FIELD
    location: str = Field(description="企业所在地")
    summary: str = Field(description="结论摘要")
    items: list[EligibilityLine] = Field(description="符合（按金额从高到低）与需补充信息的项目")
    not_eligible: list[NotEligibleLine] = Field(description="不符合的项目及原因")
    stacking: list[schemas.StackingNote] = Field(description="叠加规则提示")
    citations: list[schemas.Citation] = Field(description="上述项目依据的条款（去重）")


class AskResult(schemas.Answer):
    as_of: dt.date = AS_OF_FIELD


# --- errors ------------------------------------------------------------------------------------------------------
class PolicyMCPServer(MCPServer):
    """MCPServer whose tool errors read as plain Chinese: argument errors and unknown tools are translated, and
    the SDK's English "Error executing tool …" prefix is dropped from the messages our tools raise."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            log.error("MCP tool %s failed", name, exc_info=exc.__cause__ or exc)
            raise ToolError("服务内部错误，请稍后再试；如持续出现请联系管理员。") from None
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(validation_message(list(cause.errors())).replace("请求参数", "工具参数")) from None
            if isinstance(cause, ToolError):
                raise ToolError(str(cause)) from None
            known = [t.name for t in await self.list_tools()]
            if name not in known:
                raise ToolError(f"没有名为“{name}”的工具。可用工具：{'、'.join(known)}。") from None
            raise


@contextlib.contextmanager
def _chinese_errors() -> Iterator[None]:
    """Anything a service raises becomes a ToolError carrying the API's Chinese message (unexpected ones are logged)."""
    try:
        yield
    except ToolError:
        raise
    except Exception as exc:  # noqa: BLE001 - mapped like the HTTP API: code + Chinese message, never a traceback
        error = error_for_exception(exc)
        hint = MCP_HINTS.get(error.code, "")
        raise ToolError(error.message + hint) from None


def _unique_citations(groups: list[list[Any]]) -> list[Any]:
    seen: dict[str, Any] = {}
    for group in groups:
        for citation in group:
            seen.setdefault(citation["id"] if isinstance(citation, dict) else citation.id, citation)
    return list(seen.values())


def _described(model: type[BaseModel], name: str) -> str:
    """The HTTP request model's Chinese description of a field, so an MCP argument reads as the API's does."""
    return model.model_fields[name].description or ""


PROGRAM_ID = "补助项目编号，如 xm-compute-voucher（厦门算力券）；全部编号用 list_programs 查看"
FACTS = ("企业事实：键为事实名（用 program_inputs 查看某项目需要哪些事实），值可为用户原话，如 \"80万\"、\"1.5亿\"、"
         "\"是\"、\"三级\"；缺少的事实会在结果的 missing 中列出")


# --- the tools ---------------------------------------------------------------------------------------------------
def build_server(services, settings) -> PolicyMCPServer:
    """The MCP server over `services`; nothing is loaded until a tool is called."""
    from fastapi.encoders import jsonable_encoder

    from ui.limits import check_text_length

    server = PolicyMCPServer(SERVER_NAME, title="政策通", version="0.1.0", instructions=INSTRUCTIONS,
                             description="人工智能产业补助政策：条款检索、补助测算、资格自查、智能问答（离线、可溯源）",
                             log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False, idempotent_hint=True)

    def tool(title: str, description: str, annotations: ToolAnnotations = read_only) -> Callable:
        return server.tool(title=title, description=description, annotations=annotations, structured_output=True)

    @tool("检索政策条款", "按关键词或口语化问题检索政策条款原文，返回条款的文件标题、文号、条款位置、原文和相关度。"
                       "语料库中没有相关条款时 no_relevant 为 true。")
    def search_policy(
        query: Annotated[str, Field(description="检索词或问题（中文），如“租GPU训练大模型能补多少”")],
        k: Annotated[int, Field(ge=1, le=20, description="返回条数（1–20）")] = 5,
        region: Annotated[str | None, Field(max_length=32, description="可选：地区，如 厦门、思明、泉州、安徽")] = None,
        doc_id: Annotated[str | None, Field(max_length=64, description="可选：只在该文件中检索，如 xm-measures")] = None,
        as_of: Annotated[dt.date | None, Field(description="可选：只检索在该日期（YYYY-MM-DD）仍有效的文件；默认不按日期筛选")] = None,
    ) -> SearchPolicyResult:
        with _chinese_errors():
            text = check_text_length(query, settings, field="检索词")
            result = jsonable_encoder(services.search(text, k=k, region=region or None, doc_id=doc_id or None,
                                                      in_force_on=as_of))
        return SearchPolicyResult(as_of=services.as_of(as_of), in_force_only=as_of is not None, query=result["query"],
                                  no_relevant=result["no_relevant"], reason=result.get("reason") or "",
                                  citations=result["hits"])

    @tool("取条款原文", "按条款编号（如 xm-measures:1.3、siming:art2，见检索结果或项目的 clause_ids）取条款原文。")
    def get_clause(clause_id: Annotated[str, Field(min_length=1, max_length=64, description="条款编号，如 xm-measures:1.3")],
                   ) -> ClauseResult:
        with _chinese_errors():
            citation = services.clause(clause_id)
        return ClauseResult(as_of=services.as_of(None), citations=[citation.model_dump()])

    @tool("列出补助项目", "列出补助项目（编号、名称、地区、依据文件与文号、受益方、金额类型、所需事实名），可按地区筛选；"
                       "返回的 program_id 用于 program_inputs 与 calculate_award。")
    def list_programs(
        region: Annotated[str | None, Field(max_length=32, description="可选：地区，如 厦门、思明区、泉州、安徽；留空列出全部")] = None,
    ) -> ProgramsResult:
        with _chinese_errors():
            programs = services.programs(region=region, with_citations=True)
        if region and not programs:
            raise ToolError(f"没有适用于“{region}”的补助项目。语料库覆盖：厦门市、思明区、泉州（福建省级）、安徽省。")
        return ProgramsResult(as_of=services.as_of(None), region=region or None,
                              programs=[{**p, "program_id": p["id"]} for p in programs],
                              citations=[c.model_dump() for c in _unique_citations([p["citations"] for p in programs])])

    @tool("项目所需信息", "给出某补助项目的计算公式、计算所需的事实（事实名、中文名称、单位、可选值）和依据条款，"
                       "用于组织 calculate_award 的 facts。")
    def program_inputs(
        program_id: Annotated[str, Field(min_length=1, max_length=64, description=PROGRAM_ID)],
    ) -> ProgramInputsResult:
        with _chinese_errors():
            inputs = jsonable_encoder(services.program_inputs(program_id))
        return ProgramInputsResult(as_of=services.as_of(None), **inputs)

    @tool("测算补助金额", "用确定性计算器按政策原文规则计算某项目“最高可获得”的金额（整数元，政策上限，以审核为准），"
                       "返回计算步骤、缺少的事实（missing/missing_facts）、未满足的条件、文件效力和依据条款。"
                       "参数与 POST /api/calculate 相同；事实值可为用户原话，如“80万”“是”“三级”。")
    def calculate_award(
        program_id: Annotated[str, Field(min_length=1, max_length=64, description=PROGRAM_ID)],
        facts: Annotated[dict[str, Any], Field(description=FACTS)] = None,
        as_of: AsOf = None,
    ) -> CalculateAwardResult:
        day = services.as_of(as_of)
        with _chinese_errors():
            calc = services.calculate(program_id, dict(facts or {}), as_of=day)
        return CalculateAwardResult(as_of=day, **calc.model_dump())

    @tool("资格自查", "按企业情况逐项判断全部补助项目：符合（含最高金额）/ 需补充信息 / 不符合（含原因），并给出叠加规则提示。"
                   "参数与 POST /api/eligibility 相同。")
    def check_eligibility(
        profile: Annotated[schemas.Profile, Field(description=_described(schemas.EligibilityRequest, "profile"))],
        as_of: AsOf = None,
    ) -> EligibilityResult:
        day = services.as_of(as_of)
        with _chinese_errors():
            report = services.eligibility(profile.model_dump(exclude_unset=True), as_of=day)
        live = [i for i in report.items if i.status != "not_eligible"]
        lines = [{**i.model_dump(), "steps": i.calculation.steps, "clause_ids": [c.id for c in i.calculation.citations]}
                 for i in live]
        return EligibilityResult(
            as_of=report.as_of, location=report.location, summary=report.summary, items=lines,
            not_eligible=[i.model_dump() for i in report.items if i.status == "not_eligible"],
            stacking=[n.model_dump() for n in report.stacking],
            citations=[c.model_dump() for c in _unique_citations([i.calculation.citations for i in live])])

    @tool("智能问答", "政策通助手的完整回答：识别地区与项目、调用计算器、引用条款原文作答；缺少信息时 status 为 needs_info "
                   "并说明还需什么。带上返回的 session_id 可继续多轮对话（如“那如果是120万呢”）。",
          annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False))
    def ask(
        question: Annotated[str, Field(description=_described(schemas.ChatRequest, "question"))],
        session_id: Annotated[str | None, Field(pattern=schemas.SESSION_PATTERN,
                                                description=_described(schemas.ChatRequest, "session_id"))] = None,
        as_of: AsOf = None,
    ) -> AskResult:
        from policy_assistant.conversations import ChatSession

        day = services.as_of(as_of)
        with _chinese_errors():  # one Services.chat: server-issued ids, the same keeping rules as POST /api/chat
            payload = services.chat(check_text_length(question, settings), ChatSession(id=session_id, as_of=day), "mcp")
        return AskResult(as_of=day, **payload)

    return server


# --- transports -----------------------------------------------------------------------------------------------
def mount(app, server: PolicyMCPServer, settings) -> None:
    """Serve `server` at /mcp (and /mcp/) inside the FastAPI app; the app's lifespan must run `server.session_manager`."""
    from starlette.routing import Route

    http_app = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
                                          host=settings.host)
    endpoint = next(r.endpoint for r in http_app.routes if getattr(r, "path", None) == MCP_PATH)
    app.router.routes.extend([Route(MCP_PATH, endpoint=endpoint), Route(MCP_PATH + "/", endpoint=endpoint)])


def run_stdio(services, settings) -> int:
    """Serve the tools over stdin/stdout (desktop MCP clients); logs go to stderr."""
    build_server(services, settings).run("stdio")
    return 0
