"""HTTP API routes. Each handler: parse → one Services call → map errors (`ui.errors`, registered in `ui.app`).

Limits, the key, the rate and strict JSON parsing happen before any handler runs (`ui.edge`), for every route.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any, Iterator, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from policy_assistant.conversations import ChatSession
from ui import schemas
from ui.errors import ApiError, error_for_exception
from ui.format import answer_with_citations
from ui.limits import check_text_length
from ui.schemas import SESSION_PATTERN, CalculateRequest, ChatRequest, EligibilityRequest, FeedbackRequest, error_responses

MODEL_NAME = "policy-assistant"

router = APIRouter()


# --- request bodies (the /api ones are in ui/schemas.py) ----------------------------------------------
class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "input_text"] = "text"
    text: StrictStr


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: StrictStr | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content or [])


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: StrictBool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: StrictStr = MODEL_NAME
    messages: list[ChatMessage] = Field(min_length=1, max_length=400)
    stream: StrictBool = False
    stream_options: StreamOptions | None = None
    user: StrictStr | None = Field(default=None, min_length=1, max_length=256,
                                   description="调用方自己的对话标识：相同 user 的请求延续同一对话")


# --- helpers --------------------------------------------------------------------------------------------
def _services(request: Request):
    return request.app.state.services


async def run_blocking(request: Request, fn):
    """CPU-bound work (agent, SQLite) on a small thread pool: few threads contend less for the GIL than 40."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, limiter=request.app.state.worker_limiter)


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _session_header(request: Request) -> str | None:
    import re

    value = request.headers.get("x-session-id")
    if value is None or value == "":
        return None
    if not re.match(SESSION_PATTERN, value):
        raise ApiError(422, "invalid_session", "请求头 X-Session-Id 格式不正确。")
    return value


# --- chat -----------------------------------------------------------------------------------------------
@router.post("/api/chat", tags=["问答"], summary="智能问答（与 ask --json 相同的 JSON；stream=true 返回 SSE）",
             responses={200: {"model": schemas.Answer, "description": "回答（stream=true 时为 text/event-stream："
                                                                      "token 事件 {text}，最后 answer 事件为同样的回答 JSON）",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                        **error_responses(404, 413, 422, 429, 503)})
async def chat(body: ChatRequest, request: Request):
    session = ChatSession(id=body.session_id, as_of=body.as_of)
    services = _services(request)
    override = body.facts_override  # corrections: recomputed through the calculator (see Services.chat)
    if body.stream:
        events = await run_blocking(request, lambda: services.chat_stream(body.question, session, "api",
                                                                          facts_override=override))
        return StreamingResponse(_chat_events(events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    # the payload is already JSON-ready: skip FastAPI's re-encoding of a large nested dict
    return JSONResponse(await run_blocking(request, lambda: services.chat(body.question, session, "api",
                                                                          facts_override=override)))


def _chat_events(events: Iterator[dict]) -> Iterator[str]:
    """token events, then the answer (stored before it is sent), or one error event; never a traceback."""
    try:
        for event in events:
            if event["type"] == "token":
                yield sse("token", {"text": event["text"]})
            else:
                yield sse("answer", event["answer"])
    except Exception as exc:  # noqa: BLE001 - streamed errors become one JSON event
        yield sse("error", error_for_exception(exc).body())


# --- tools ----------------------------------------------------------------------------------------------
@router.post("/api/calculate", tags=["测算"], summary="按项目测算最高补助金额",
             description="确定性计算器按政策原文规则计算“最高可获得”金额（整数元），给出计算步骤、缺少的信息、未满足的条件和依据条款。",
             responses={200: {"model": schemas.Calculation, "description": "计算结果"},
                        **error_responses(404, 422, 429)})
def calculate(body: CalculateRequest, request: Request):
    result = _services(request).calculate(body.program_id, body.facts, as_of=body.as_of)
    return jsonable_encoder(result)


@router.post("/api/eligibility", tags=["测算"], summary="资格自查：逐项目判断是否符合及最高金额",
             responses={200: {"model": schemas.EligibilityReport, "description": "全部项目的判断结果与叠加规则提示"},
                        **error_responses(422, 429)})
def eligibility(body: EligibilityRequest, request: Request):
    profile = body.profile.model_dump(exclude_unset=True)
    return jsonable_encoder(_services(request).eligibility(profile, as_of=body.as_of))


@router.get("/api/programs", tags=["政策"], summary="全部补助项目",
            responses={200: {"model": list[schemas.ProgramSummary], "description": "补助项目列表"},
                       **error_responses(422, 429)})
def programs(request: Request,
             region: str | None = Query(None, max_length=32, description="可选：只列出该地区的项目，如 厦门、思明区、安徽")):
    return jsonable_encoder(_services(request).programs(region=region))


@router.get("/api/programs/{program_id}/inputs", tags=["政策"], summary="项目计算所需的事实与计算公式",
            responses={200: {"model": schemas.ProgramInputs, "description": "计算公式、所需事实（事实名、中文名称、单位、可选值）和依据条款"},
                       **error_responses(404, 422, 429)})
def program_inputs(request: Request,
                   program_id: str = Path(max_length=64, description="补助项目编号，如 xm-compute-voucher")):
    return jsonable_encoder(_services(request).program_inputs(program_id))


@router.get("/api/clauses/{clause_id}", tags=["政策"], summary="按条款编号取条款原文",
            responses={200: {"model": schemas.Citation, "description": "条款（文件、文号、条款位置、原文）"},
                       **error_responses(404, 422, 429)})
def clause(request: Request,
           clause_id: str = Path(max_length=64, description="条款编号，如 xm-measures:1.3、siming:art2")):
    return jsonable_encoder(_services(request).clause(clause_id))


@router.get("/api/documents", tags=["政策"], summary="政策文件及其效力状态",
            responses={200: {"model": list[schemas.DocumentOverview], "description": "政策文件列表"},
                       **error_responses(422, 429)})
def documents(request: Request, as_of: dt.date | None = Query(None, description="按此日期（YYYY-MM-DD）判断效力，默认今天")):
    return jsonable_encoder(_services(request).documents(as_of=as_of))


@router.get("/api/search", tags=["政策"], summary="条款检索",
            responses={200: {"model": schemas.SearchResult, "description": "命中的条款（原文）"},
                       **error_responses(422, 429, 503)})
def search(request: Request, q: str = Query(description="检索词，如“租GPU训练大模型能补多少”", examples=["算力券 申报材料"]),
           k: int = Query(5, ge=1, le=50, description="返回条数（1–50）"),
           region: str | None = Query(None, max_length=32, description="可选：地区，如 厦门、思明、泉州、安徽"),
           doc_id: str | None = Query(None, max_length=64, description="可选：只在该文件中检索，如 xm-measures")):
    query = check_text_length(q, request.app.state.settings, field="检索词")
    result = _services(request).search(query, k=k, region=region or None, doc_id=doc_id or None)
    return jsonable_encoder(result)


# --- conversations and feedback -------------------------------------------------------------------------
@router.get("/api/sessions/{session_id}", tags=["问答"], summary="会话记录（用于页面刷新后恢复对话；须为服务端签发的会话 ID）",
            responses={200: {"model": schemas.SessionHistory, "description": "会话中的问答"},
                       **error_responses(404, 422, 429)})
def session_history(request: Request, session_id: str = Path(description="会话 ID（问答接口返回的 session_id）"),
                    limit: int = Query(50, ge=1, le=200, description="最多返回的轮数（最近的）")):
    _check_session_id(session_id)
    return {"session_id": session_id, "turns": _services(request).conversation(session_id, limit=limit)}


@router.delete("/api/sessions/{session_id}", tags=["问答"], summary="删除一次对话的全部记录（含其评价）",
               responses={200: {"model": schemas.DeletedAck, "description": "已删除"}, **error_responses(404, 422, 429)})
def delete_session(request: Request, session_id: str = Path(description="会话 ID（问答接口返回的 session_id）")):
    _check_session_id(session_id)
    if not _services(request).delete_conversation(session_id):
        raise ApiError(404, "session_not_found", "会话不存在或已删除。")
    return {"ok": True, "message": "该对话的全部记录已删除。"}


def _check_session_id(session_id: str) -> None:
    import re

    if not re.match(SESSION_PATTERN, session_id):
        raise ApiError(422, "invalid_session", "会话 ID 格式不正确。")


@router.post("/api/feedback", tags=["问答"], summary="对回答点赞/点踩，可附意见",
             responses={200: {"model": schemas.FeedbackAck, "description": "已记录"}, **error_responses(404, 413, 422, 429)})
def feedback(body: FeedbackRequest, request: Request):
    feedback_id = _services(request).feedback(
        rating=1 if body.rating in ("up", 1) else -1, session_id=body.session_id, turn_id=body.turn_id,
        comment=body.comment.strip(), question=body.question, answer=body.answer, channel="api")
    return {"ok": True, "id": feedback_id, "message": "感谢您的反馈！"}


# --- OpenAI-compatible ----------------------------------------------------------------------------------
def _openai_request(body: ChatCompletionRequest, request: Request) -> tuple[str, ChatSession]:
    """The question and the conversation: X-Session-Id (issued by this server), else `user`, else a new one
    continued from the request's own earlier user turns (assistant turns may be trimmed or rewritten)."""
    turns = [(m.role, m.text()) for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise ApiError(422, "empty_question", "messages 的最后一条应为用户（user）消息。")
    prior = tuple(text for role, text in turns[:-1] if role == "user" and text.strip())
    return turns[-1][1], ChatSession(id=_session_header(request), user=body.user, prior_questions=prior)


def _usage(question: str, content: str) -> dict[str, int]:
    # characters, not tokens: the offline agent has no tokenizer; clients only need consistent counts
    return {"prompt_tokens": len(question), "completion_tokens": len(content),
            "total_tokens": len(question) + len(content)}


@router.get("/v1/models", tags=["OpenAI 兼容"], summary="模型列表")
def list_models():
    return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "policy-assistant"}]}


@router.post("/v1/chat/completions", tags=["OpenAI 兼容"], summary="OpenAI 兼容对话接口（回答附引用条款）")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    question, session = _openai_request(body, request)
    services = _services(request)
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    if body.stream:
        events = await run_blocking(request, lambda: services.chat_stream(question, session, "openai"))
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(_completion_chunks(question, events, completion_id, created, usage),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    payload = await run_blocking(request, lambda: services.chat(question, session, "openai"))
    content = answer_with_citations(payload)
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_NAME,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": _usage(question, content),
        "policy_answer": payload,
    }


def _completion_chunks(question: str, events: Iterator[dict], completion_id: str, created: int,
                       include_usage: bool) -> Iterator[str]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra) -> str:
        data: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                "model": MODEL_NAME,
                                "choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
                                **extra}
        if include_usage and "usage" not in data:
            data["usage"] = None
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed = ""
    try:
        for event in events:
            if event["type"] == "token":
                streamed += event["text"]
                yield chunk({"content": event["text"]})
            else:
                payload = event["answer"]
                full = answer_with_citations(payload)
                # the citations (and any text the tokens did not carry) arrive as the last content delta
                tail = full[len(streamed):] if full.startswith(streamed) else "\n\n" + full[len(payload["answer"]):].lstrip("\n")
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", policy_answer=payload)
                if include_usage:
                    yield chunk(None, usage=_usage(question, full))
    except Exception as exc:  # noqa: BLE001
        err = error_for_exception(exc)
        yield chunk({"content": f"\n\n{err.message}"}, "stop", error=err.body())
    yield "data: [DONE]\n\n"


# --- health ---------------------------------------------------------------------------------------------
@router.get("/healthz", tags=["运维"], summary="健康检查：索引与会话库的真实状态（不可用时 503）",
            responses={200: {"model": schemas.Health, "description": "服务状态（ok / degraded）"},
                       503: {"model": schemas.Health, "description": "政策索引不可用（unavailable），message 说明原因"}})
def healthz(request: Request):
    health = _services(request).health()
    return JSONResponse(health, status_code=503 if health["status"] == "unavailable" else 200)


@router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def api_not_found(rest: str, request: Request):
    path = request.url.path
    allowed = sorted({m for r in router.routes if getattr(r, "path", None) != "/api/{rest:path}"
                      and hasattr(r, "path_regex") and r.path_regex.match(path) for m in (getattr(r, "methods", None) or ())})
    if allowed:
        raise ApiError(405, "method_not_allowed", f"接口 {path} 不支持 {request.method} 请求，请使用 {'/'.join(allowed)}。",
                       headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, "not_found", f"接口不存在：{path}")
