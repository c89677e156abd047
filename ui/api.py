"""HTTP API routes. Each handler: parse → one Services call → store (chat/feedback) → map errors."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
import uuid
from typing import Any, Callable, Iterator

from fastapi import APIRouter, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ui import schemas
from ui.errors import ApiError
from ui.format import answer_with_citations
from ui.limits import check_text_length
from ui.schemas import SESSION_PATTERN, CalculateRequest, ChatRequest, EligibilityRequest, FeedbackRequest, error_responses

log = logging.getLogger("policy_assistant.api")

MODEL_NAME = "policy-assistant"

router = APIRouter()


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = MODEL_NAME
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None


# --- helpers --------------------------------------------------------------------------------------------
def _services(request: Request):
    return request.app.state.services


def _store(request: Request):
    return request.app.state.store


def _settings(request: Request):
    return request.app.state.settings


def _answer_payload(answer) -> dict[str, Any]:
    return answer.contract_dict()


def _record(request: Request, question: str, payload: dict[str, Any], channel: str) -> int | None:
    session_id = payload.get("session_id")
    if not session_id:
        return None
    request.app.state.memory.seen(session_id)
    return _store(request).record_turn(session_id, question, payload, channel=channel)


def _with_memory(request: Request, session_id: str | None, start: Callable[[], Iterator[dict]]) -> Iterator[dict]:
    """A stream that restores the session's memory, then starts the agent; both run in the streaming thread."""
    request.app.state.memory.ensure(session_id)
    yield from start()


def _answer_error(payload: dict[str, Any]) -> ApiError | None:
    """The agent reports bad input inside the answer (error code + Chinese text); the API turns it into a 422."""
    code = payload.get("error")
    if code:
        return ApiError(422, str(code), payload.get("answer") or "输入无效。", extra={"answer": payload})
    return None


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- chat -----------------------------------------------------------------------------------------------
@router.post("/api/chat", tags=["问答"], summary="智能问答（与 ask --json 相同的 JSON；stream=true 返回 SSE）",
             responses={200: {"model": schemas.Answer, "description": "回答（stream=true 时为 text/event-stream："
                                                                      "token 事件 {text}，最后 answer 事件为同样的回答 JSON）",
                              "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                        **error_responses(413, 422, 429, 503)})
async def chat(body: ChatRequest, request: Request):
    question = check_text_length(body.question, _settings(request))
    services = _services(request)
    if body.stream:
        events = _with_memory(request, body.session_id,
                              lambda: services.ask_stream(question, session_id=body.session_id, as_of=body.as_of))
        return StreamingResponse(_chat_events(request, question, events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def answer_and_store() -> dict[str, Any]:
        request.app.state.memory.ensure(body.session_id)
        payload = _answer_payload(services.ask(question, session_id=body.session_id, as_of=body.as_of))
        if (error := _answer_error(payload)) is not None:
            raise error
        payload["turn_id"] = _record(request, question, payload, "api")
        return payload

    # the payload is already JSON-ready: skip FastAPI's re-encoding of a large nested dict
    return JSONResponse(await run_blocking(request, answer_and_store))


async def run_blocking(request: Request, fn):
    """CPU-bound work (agent, SQLite) on a small thread pool: few threads contend less for the GIL than 40."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, limiter=request.app.state.worker_limiter)


def _chat_events(request: Request, question: str, events: Iterator[dict]) -> Iterator[str]:
    """token events, then the answer (stored before it is sent), or one error event; never a traceback."""
    from ui.errors import error_for_exception

    try:
        for event in events:
            if event.get("type") == "token":
                yield sse("token", {"text": event.get("text", "")})
            elif event.get("type") == "answer":
                payload = _answer_payload(event["answer"])
                if (error := _answer_error(payload)) is not None:
                    yield sse("error", error.body())
                    return
                payload["turn_id"] = _record(request, question, payload, "api")
                yield sse("answer", payload)
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
    query = check_text_length(q, _settings(request), field="检索词")
    result = _services(request).search(query, k=k, region=region or None, doc_id=doc_id or None)
    return jsonable_encoder(result)


# --- conversations and feedback -------------------------------------------------------------------------
@router.get("/api/sessions/{session_id}", tags=["问答"], summary="会话记录（用于页面刷新后恢复对话）",
            responses={200: {"model": schemas.SessionHistory, "description": "会话中的问答"}, **error_responses(422, 429)})
def session_history(request: Request, session_id: str = Path(description="会话 ID（问答接口返回的 session_id）"),
                    limit: int = Query(50, ge=1, le=200, description="最多返回的轮数（最近的）")):
    if not re.match(SESSION_PATTERN, session_id):
        raise ApiError(422, "invalid_session", "会话 ID 格式不正确。")
    return {"session_id": session_id, "turns": _store(request).conversation(session_id, limit=limit)}


@router.post("/api/feedback", tags=["问答"], summary="对回答点赞/点踩，可附意见",
             responses={200: {"model": schemas.FeedbackAck, "description": "已记录"}, **error_responses(413, 422, 429)})
def feedback(body: FeedbackRequest, request: Request):
    rating = 1 if body.rating in ("up", 1) else -1
    feedback_id = _store(request).add_feedback(
        rating=rating, session_id=body.session_id, turn_id=body.turn_id, comment=body.comment.strip(),
        question=body.question, answer=body.answer, channel="api")
    return {"ok": True, "id": feedback_id, "message": "感谢您的反馈！"}


# --- OpenAI-compatible ----------------------------------------------------------------------------------
def _message_text(message: ChatMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    if isinstance(message.content, list):
        return "".join(part.get("text", "") for part in message.content if part.get("type") in (None, "text"))
    return ""


def history_hash(messages: list[tuple[str, str]]) -> str:
    """Identity of a conversation so far: its user and assistant turns (system prompts vary by front end)."""
    turns = [[role, " ".join(text.split())] for role, text in messages if role in ("user", "assistant")]
    return hashlib.sha256(json.dumps(turns, ensure_ascii=False).encode()).hexdigest()


def _openai_session(messages: list[tuple[str, str]], request: Request) -> str | None:
    """Continue the agent session behind an OpenAI-style conversation, which carries no session field.

    Clients resend the whole history each turn; after each answer the history including the reply is linked to the
    agent session, so the next request (that history plus a new question) finds it. X-Session-Id overrides this.
    """
    explicit = request.headers.get("x-session-id")
    if explicit and re.match(SESSION_PATTERN, explicit):
        return explicit
    if len(messages) < 2:
        return None
    return _store(request).session_for_history(history_hash(messages[:-1]))


def _link_reply(request: Request, messages: list[tuple[str, str]], payload: dict[str, Any], content: str) -> None:
    if payload.get("session_id"):
        _store(request).link_history(history_hash([*messages, ("assistant", content)]), payload["session_id"])


@router.get("/v1/models", tags=["OpenAI 兼容"], summary="模型列表")
def list_models():
    return {"object": "list", "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "policy-assistant"}]}


@router.post("/v1/chat/completions", tags=["OpenAI 兼容"], summary="OpenAI 兼容对话接口（回答附引用条款）")
def chat_completions(body: ChatCompletionRequest, request: Request):
    messages = [(m.role, _message_text(m)) for m in body.messages if m.role in ("user", "assistant")]
    if not messages or messages[-1][0] != "user":
        raise ApiError(422, "empty_question", "messages 的最后一条应为用户（user）消息。")
    question = check_text_length(messages[-1][1], _settings(request))
    session_id = _openai_session(messages, request)
    completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
    created = int(time.time())
    services = _services(request)
    if body.stream:
        events = _with_memory(request, session_id, lambda: services.ask_stream(question, session_id=session_id))
        return StreamingResponse(_completion_chunks(request, messages, events, completion_id, created),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    request.app.state.memory.ensure(session_id)
    payload = _answer_payload(services.ask(question, session_id=session_id))
    if (error := _answer_error(payload)) is not None:
        raise error
    _record(request, question, payload, "openai")
    content = answer_with_citations(payload)
    _link_reply(request, messages, payload, content)
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_NAME,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": len(question), "completion_tokens": len(content),
                  "total_tokens": len(question) + len(content)},
        "policy_answer": payload,
    }


def _completion_chunks(request: Request, messages: list[tuple[str, str]], events: Iterator[dict], completion_id: str,
                       created: int) -> Iterator[str]:
    from ui.errors import error_for_exception

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_NAME,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    streamed = ""
    try:
        for event in events:
            if event.get("type") == "token":
                text = event.get("text", "")
                streamed += text
                yield chunk({"content": text})
            elif event.get("type") == "answer":
                payload = _answer_payload(event["answer"])
                full = answer_with_citations(payload)
                if _answer_error(payload) is None:
                    _record(request, messages[-1][1], payload, "openai")
                    _link_reply(request, messages, payload, full)
                # the citations (and any text the tokens did not carry) arrive as the last content delta
                tail = full[len(streamed):] if full.startswith(streamed) else "\n\n" + full[len(payload["answer"]):].lstrip("\n")
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", policy_answer=payload)
    except Exception as exc:  # noqa: BLE001
        err = error_for_exception(exc)
        yield chunk({"content": f"\n\n{err.message}"}, "stop", error=err.body())
    yield "data: [DONE]\n\n"


# --- health ---------------------------------------------------------------------------------------------
@router.get("/healthz", tags=["运维"], summary="健康检查", responses={200: {"model": schemas.Health, "description": "服务状态"}})
def healthz(request: Request):
    settings = _settings(request)
    return {
        "status": "ok",
        "index_built": settings.index_dir.exists() and any(settings.index_dir.iterdir()),
        "llm": settings.llm_enabled,
        "as_of": settings.today().isoformat(),
    }


@router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
def api_not_found(rest: str, request: Request):
    path = request.url.path
    allowed = sorted({m for r in router.routes if getattr(r, "path", None) != "/api/{rest:path}"
                      and hasattr(r, "path_regex") and r.path_regex.match(path) for m in (getattr(r, "methods", None) or ())})
    if allowed:
        raise ApiError(405, "method_not_allowed", f"接口 {path} 不支持 {request.method} 请求，请使用 {'/'.join(allowed)}。",
                       headers={"Allow": ", ".join(allowed)})
    raise ApiError(404, "not_found", f"接口不存在：{path}")
