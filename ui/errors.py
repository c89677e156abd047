"""API errors: a status, a stable code and a Chinese message; never a traceback to the user."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("policy_assistant.api")


class ApiError(Exception):
    """An expected refusal with an HTTP status, a stable code and a Chinese message."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


STATUS_MESSAGES = {
    400: ("bad_request", "请求无效。"),
    401: ("unauthorized", "未授权。"),
    403: ("forbidden", "无权访问。"),
    404: ("not_found", "未找到请求的地址。"),
    405: ("method_not_allowed", "不支持该请求方法。"),
    408: ("request_timeout", "请求超时：请求未能在规定时间内发送完毕。"),
    409: ("conflict", "请求与当前状态冲突。"),
    410: ("gone", "请求的资源已不存在。"),
    415: ("unsupported_media_type", "不支持的内容类型，请以 JSON 发送请求。"),
    413: ("payload_too_large", "请求内容过大。"),
    422: ("invalid_request", "请求参数不正确。"),
    429: ("rate_limited", "请求过于频繁，请稍后再试。"),
    500: ("internal_error", "服务内部错误，请稍后再试；如持续出现请联系管理员。"),
    502: ("bad_gateway", "上游服务出错，请稍后再试。"),
    503: ("unavailable", "服务暂时不可用，请稍后再试。"),
    504: ("gateway_timeout", "上游服务超时，请稍后再试。"),
}

_FIELD_ZH = {"question": "问题", "facts_override": "更正的信息", "session_id": "会话 ID", "as_of": "日期", "program_id": "项目", "facts": "事实",
             "profile": "企业情况", "rating": "评价", "comment": "意见", "messages": "消息", "q": "检索词", "k": "条数",
             "turn_id": "回答编号", "stream": "stream", "query": "检索词", "clause_id": "条款编号", "region": "地区",
             "doc_id": "文件编号", "location": "所在地", "legal_person": "独立法人资格", "above_scale": "规上企业",
             "applicant_type": "申请主体", "content": "消息内容", "role": "消息角色", "user": "user",
             "stream_options": "stream_options", "include_usage": "include_usage", "model": "模型", "text": "消息内容",
             "limit": "条数"}


def error_for_exception(exc: BaseException) -> ApiError:
    """Map anything a service raises to a status, code and Chinese message; unexpected errors are logged, not shown."""
    from index.build import IndexCorrupt
    from policy_assistant.conversations import ChatRefused, ConversationNotFound
    from tools.errors import PolicyError, UnknownProgramError
    from ui.inputs import InputRefused

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InputRefused):
        return ApiError(422, exc.code, exc.message)
    if isinstance(exc, ChatRefused):
        return ApiError(422, exc.code, exc.message_zh, extra={"answer": exc.payload})
    if isinstance(exc, ConversationNotFound):
        return ApiError(404, exc.code, exc.message_zh)
    if isinstance(exc, IndexCorrupt):
        log.error("index corrupt: %s", exc)
        return ApiError(503, exc.code, exc.message_zh, headers={"Retry-After": "60"})
    if isinstance(exc, UnknownProgramError) or getattr(exc, "code", None) == "unknown_clause":
        return ApiError(404, exc.code, exc.message_zh)
    if isinstance(exc, PolicyError):
        return ApiError(422, exc.code, exc.message_zh)
    if isinstance(exc, FileNotFoundError) or "NotBuilt" in type(exc).__name__:
        log.warning("index not ready: %s", exc)
        return ApiError(503, "index_not_ready", "政策索引尚未构建，请先运行 `policy-assistant index build` 后重试。")
    log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
    return ApiError(500, "internal_error", "服务内部错误，请稍后再试；如持续出现请联系管理员。")


def validation_message(errors: list[dict]) -> str:
    parts = []
    for err in errors[:3]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
        # a nested field reads “企业情况”中的“独立法人资格”
        name = "中的".join(f"“{_FIELD_ZH.get(part, part)}”" for part in loc) if loc else "“请求体”"
        kind = err.get("type", "")
        if kind == "zh_invalid":  # a request model's own check, already said in Chinese
            parts.append(str(err.get("msg", "")).rstrip("。"))
        elif "content" in loc and kind != "missing":
            parts.append("消息内容应为文字：字符串，或由 {\"type\": \"text\", \"text\": 文字} 组成的列表（不支持图片等其他类型）")
        elif kind == "missing":
            parts.append(f"缺少必填字段{name}")
        elif kind == "json_invalid":
            parts.append("请求体不是有效的 JSON")
        elif kind.startswith("date"):
            parts.append(f"{name}应为 YYYY-MM-DD 格式的日期")
        elif kind in ("string_too_long", "too_long"):
            parts.append(f"{name}过长")
        elif kind in ("string_too_short", "too_short"):
            parts.append(f"{name}不能为空")
        elif kind == "string_pattern_mismatch":
            parts.append(f"{name}格式不正确")
        elif kind.startswith(("int", "greater", "less")):
            parts.append(f"{name}应为有效范围内的整数")
        elif kind in ("string_type", "bool_type"):
            parts.append(f"{name}应为" + ("文字（字符串）" if kind == "string_type" else "true 或 false"))
        elif kind == "bool_parsing":
            parts.append(f"{name}应为 true 或 false")
        elif kind == "extra_forbidden":
            parts.append(f"{name}不是可识别的字段")
        elif kind == "literal_error":
            expected = (err.get("ctx") or {}).get("expected")
            parts.append(f"{name}取值无效" + (f"（可选：{expected}）" if expected else ""))
        else:
            parts.append(f"{name}取值无效")
    return "请求参数不正确：" + "；".join(dict.fromkeys(parts)) + "。"
