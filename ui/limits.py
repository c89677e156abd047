"""Guards in front of the HTTP API: body size (413), input length (422), per-client rate (429), optional API key (401).

All refusals are JSON `{"error": code, "message": 中文说明}`. The guard is a plain ASGI middleware so streaming
responses pass through untouched; it only looks at `/api/` and `/v1/` paths (the Gradio app and static files are
not metered here).
"""
from __future__ import annotations

import hmac
import json
import math
import os
import threading
import time
from typing import Any, Iterable

from starlette.exceptions import HTTPException

from policy_assistant.settings import Settings
from ui.errors import ApiError, error_for_exception


def check_text_length(text: str, settings: Settings, *, field: str = "问题") -> str:
    """Strip and bound a user's text: empty → 422, longer than max_question_chars → 422."""
    stripped = (text or "").strip()
    if not stripped:
        raise ApiError(422, "empty_question", f"{field}不能为空，请输入您想咨询的内容。")
    limit = settings.max_question_chars
    if len(stripped) > limit:
        raise ApiError(422, "question_too_long",
                       f"{field}过长：最多 {limit} 个字符，当前 {len(stripped)} 个字符，请精简后再提问。")
    return stripped


def expected_api_key(settings: Settings, environ: dict[str, str] | None = None) -> str | None:
    """The key the API requires, read from the variable named by settings.api_key_env; None when not configured."""
    if not settings.api_key_env:
        return None
    value = (os.environ if environ is None else environ).get(settings.api_key_env)
    return value or None


class RateLimiter:
    """Token bucket per client: `per_minute` requests a minute with bursts up to the same number. ≤0 disables it."""

    def __init__(self, per_minute: int, *, max_clients: int = 50_000, clock=time.monotonic):
        self.capacity = float(per_minute)
        self.refill_per_s = per_minute / 60.0
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def acquire(self, client: str) -> float:
        """Take one token; returns 0 when allowed, else the seconds until a token is available."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill_per_s)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                if len(self._buckets) > self.max_clients:
                    self._prune(now)
                return 0.0
            self._buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.refill_per_s

    def _prune(self, now: float) -> None:
        full_after = self.capacity / self.refill_per_s
        for key in [k for k, (_, last) in self._buckets.items() if now - last >= full_after]:
            del self._buckets[key]


class BodyTooLarge(HTTPException):
    """Raised while a streamed body is read; FastAPI re-raises HTTPExceptions from body reading unchanged."""

    code = "payload_too_large"


def _json_response_parts(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw_headers = [(b"content-type", b"application/json; charset=utf-8"),
                   (b"content-length", str(len(payload)).encode())]
    for k, v in (headers or {}).items():
        raw_headers.append((k.lower().encode("latin-1"), v.encode("latin-1")))
    return ({"type": "http.response.start", "status": status, "headers": raw_headers},
            {"type": "http.response.body", "body": payload})


class ApiGuard:
    """ASGI middleware applying the limits to API paths; OPTIONS (CORS preflight) and /healthz pass freely."""

    def __init__(self, app, *, settings: Settings, prefixes: Iterable[str] = ("/api/", "/v1/"),
                 environ: dict[str, str] | None = None):
        self.app = app
        self.settings = settings
        self.prefixes = tuple(prefixes)
        self.max_body = settings.max_body_bytes
        self.limiter = RateLimiter(settings.rate_limit_per_minute)
        self.api_key = expected_api_key(settings, environ)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await self._send_error(send, refusal)
            return

        received = 0
        limit = self.max_body

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(413, self._too_large().message)
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._send_error(send, self._too_large())
        except Exception as exc:  # noqa: BLE001 - service errors become JSON inside CORS, never a traceback
            if started:
                raise
            await self._send_error(send, error_for_exception(exc))

    def _too_large(self) -> ApiError:
        kb = self.max_body // 1024
        return ApiError(413, "payload_too_large", f"请求内容过大：单次请求不得超过 {kb} KB，请缩短内容后重试。")

    def _refusal(self, scope, headers: dict[str, str]) -> ApiError | None:
        # 1) request size, from the declared length (streamed bodies are counted in limited_receive)
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_body:
                    return self._too_large()
            except ValueError:
                return ApiError(400, "bad_request", "请求头 Content-Length 无效。")
        # 2) per-client rate
        client = (scope.get("client") or ("unknown", 0))[0]
        wait_s = self.limiter.acquire(client)
        if wait_s > 0:
            retry = max(1, math.ceil(wait_s))
            return ApiError(429, "rate_limited", f"请求过于频繁：每分钟最多 {int(self.limiter.capacity)} 次，请 {retry} 秒后再试。",
                            headers={"Retry-After": str(retry)})
        # 3) API key, if one is configured (X-API-Key, or Authorization: Bearer for OpenAI-style clients)
        if self.api_key:
            given = headers.get("x-api-key", "")
            auth = headers.get("authorization", "")
            if not given and auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            if not given or not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return ApiError(401, "unauthorized", "未授权：请在请求头 X-API-Key 中提供有效的 API 密钥。",
                                headers={"WWW-Authenticate": "Bearer"})
        return None

    @staticmethod
    async def _send_error(send, error: ApiError) -> None:
        start, body = _json_response_parts(error.status, error.body(), error.headers)
        await send(start)
        await send(body)
