"""The edge: one ASGI middleware in front of every route — API, OpenAI-compatible, Gradio, docs, static files and any
sub-app mounted later (an MCP server at /mcp gets the same guards without doing anything).

In order, for each HTTP request:
1. refuse routes the app does not use (Gradio uploads, its URL proxy, monitoring, …) with a Chinese 404;
2. the API key (X-API-Key, `Authorization: Bearer`, or the cookie set by the login form) unless the path is exempt;
3. the per-client rate, the client found behind configured proxies only;
4. the body size (declared and streamed) and the time allowed to send it;
5. JSON bodies parsed strictly (`ui.inputs`): NaN, overflowing or absurdly long numbers, lone surrogates, NUL and
   deep nesting are a 422 before any handler sees them;
6. on the way out: security headers on every response, and any error without a Chinese JSON message (Gradio's,
   Starlette's, an exception) replaced by one. An exception never reaches the server as a traceback.
"""
from __future__ import annotations

import asyncio
import hmac
import html
import json
import logging
import math
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.exceptions import HTTPException

from policy_assistant.settings import Settings
from ui.errors import STATUS_MESSAGES, ApiError, error_for_exception
from ui.inputs import InputRefused, parse_json_body
from ui.limits import ClientAddress, RateLimiter, cookie_token

log = logging.getLogger("policy_assistant.edge")

COOKIE = "pa_auth"
LOGIN_PATH = "/auth/login"
# Paths that answer without a key: the load balancer's probe and the widget script a third-party page loads with a
# plain <script src> (it holds no data; the widget's API calls carry the key).
KEY_EXEMPT = frozenset({"/healthz", "/widget.js", LOGIN_PATH})
# Static files: not metered (a page load fetches dozens), still behind the key.
STATIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/docs-assets/", "/gradio_api/file=", "/favicon.ico",
                   "/theme.css", "/gradio_api/theme.css", "/robots.txt", "/widget.js")
# Gradio routes this app never uses; uploads in particular are refused (there is no upload component).
DENIED_PREFIXES = ("/gradio_api/upload", "/gradio_api/process_recording", "/gradio_api/proxy=", "/gradio_api/vibe",
                   "/gradio_api/undo-vibe-edit", "/gradio_api/dev/", "/gradio_api/stream/", "/gradio_api/file/",
                   "/gradio_api/custom_component/", "/gradio_api/mcp", "/monitoring", "/login", "/logout",
                   "/gradio_api/api/", "/manifest.json", "/pwa_icon")
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def security_headers(settings: Settings, *, html_page: bool) -> list[tuple[bytes, bytes]]:
    """nosniff, referrer policy, and a CSP whose frame-ancestors lists the sites allowed to embed the app."""
    ancestors = " ".join(["'self'", *settings.frame_ancestors])
    if html_page:
        # Gradio and Swagger pages inline their bootstrap script and styles, and Gradio 6's HTML component compiles
        # its templates with `new Function` ('unsafe-eval'); everything else must come from this origin.
        csp = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
               f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}")
    else:
        csp = f"default-src 'none'; frame-ancestors {ancestors}"
    out = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin"),
           (b"content-security-policy", csp.encode("latin-1"))]
    if not settings.frame_ancestors:
        out.append((b"x-frame-options", b"SAMEORIGIN"))
    return out


def _json_parts(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[dict, dict]:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    return ({"type": "http.response.start", "status": status, "headers": raw},
            {"type": "http.response.body", "body": payload})


def _is_chinese_error(body: bytes) -> bool:
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False
    message = data.get("message") if isinstance(data, dict) else None
    return isinstance(message, str) and any("\u4e00" <= ch <= "\u9fff" for ch in message)


class _Refused(HTTPException):
    """A refusal raised from the edge; an HTTPException so that, raised inside a handler's body read, the app's
    handler answers it with the same status and Chinese message."""

    def __init__(self, error: ApiError):
        super().__init__(error.status, error.message, headers=error.headers or None)
        self.error = error
        self.code = error.code


class Edge:
    def __init__(self, app, *, settings: Settings, api_key: str | None):
        self.app = app
        self.settings = settings
        self.api_key = api_key
        self.cookie = cookie_token(api_key) if api_key else None
        self.limiter = RateLimiter(settings.rate_limit_per_minute, max_clients=settings.max_rate_clients)
        self.client_address = ClientAddress(settings.trusted_proxies)
        # the security headers depend on the settings only: built once, for pages and for everything else
        self._security = {html: security_headers(settings, html_page=html) for html in (True, False)}

    # --- entry ---------------------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            if self.api_key and not self._authorized(_headers(scope)):
                await send({"type": "websocket.close", "code": 4401})
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers = _headers(scope)
        started = False
        wants_html = scope.get("method") == "GET" and "text/html" in headers.get("accept", "")

        async def guarded_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                content_type = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
                existing = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self._security[content_type.startswith(b"text/html")] if h[0] not in existing]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            receive = await self._admit(scope, headers, path, receive, guarded_send, wants_html)
            if receive is None:
                return
            await self.app(scope, receive, _ChineseErrors(guarded_send))
        except _Refused as refused:
            if not started:
                await self._send_error(guarded_send, refused.error)
        except Exception as exc:  # noqa: BLE001 - the last line: a Chinese JSON 500, never a traceback to the client
            if started:
                log.warning("response failed after it started: %s", type(exc).__name__)
                return
            await self._send_error(guarded_send, error_for_exception(exc))

    # --- admission ---------------------------------------------------------------------------------------------------
    async def _admit(self, scope, headers, path, receive, send, wants_html):
        """Every check before the app runs; returns the receive callable the app should use, or None if answered."""
        method = scope.get("method", "GET")
        if path.startswith(DENIED_PREFIXES):
            raise _Refused(ApiError(404, "not_found", f"接口不存在：{path[:80]}（本服务不提供上传等功能）。"))
        if method == "OPTIONS":
            return receive
        if path == LOGIN_PATH and self.api_key:
            await self._login(scope, headers, receive, send)
            return None
        if self.api_key and path not in KEY_EXEMPT and not self._authorized(headers):
            if wants_html:
                await self._login_page(send, path, scope.get("query_string", b"").decode("latin-1"))
                return None
            raise _Refused(ApiError(401, "unauthorized", "未授权：请在请求头 X-API-Key（或 Authorization: Bearer）中提供有效的 API 密钥。",
                                    headers={"WWW-Authenticate": "Bearer"}))
        if path != "/healthz" and not (method in ("GET", "HEAD") and path.startswith(STATIC_PREFIXES)):
            peer = (scope.get("client") or ("unknown", 0))[0]
            wait_s = self.limiter.acquire(self.client_address(peer, headers.get("x-forwarded-for")))
            if wait_s > 0:
                retry = max(1, math.ceil(wait_s))
                raise _Refused(ApiError(429, "rate_limited", f"请求过于频繁：每分钟最多 {int(self.limiter.capacity)} 次，"
                                                             f"请 {retry} 秒后再试。", headers={"Retry-After": str(retry)}))
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise _Refused(ApiError(400, "bad_request", "请求头 Content-Length 无效。"))
            if int(declared) > self.settings.max_body_bytes:
                raise _Refused(self._too_large())
        if method not in BODY_METHODS:
            return receive
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("", "application/json") or content_type.endswith("+json"):
            body = await self._read_body(receive)
            if body:
                try:
                    parse_json_body(body)
                except InputRefused as refused:
                    raise _Refused(ApiError(422, refused.code, refused.message)) from None
            return _replay(body, receive)
        return self._limited(receive)

    def _authorized(self, headers: dict[str, str]) -> bool:
        given = headers.get("x-api-key", "")
        auth = headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if given:
            return hmac.compare_digest(given.encode(), self.api_key.encode())
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return hmac.compare_digest(value.encode(), self.cookie.encode())
        return False

    # --- bodies -----------------------------------------------------------------------------------------------------
    def _too_large(self) -> ApiError:
        kb = self.settings.max_body_bytes // 1024
        return ApiError(413, "payload_too_large", f"请求内容过大：单次请求不得超过 {kb} KB，请缩短内容后重试。")

    def _too_slow(self) -> ApiError:
        return ApiError(408, "request_timeout", f"请求体发送过慢：须在 {self.settings.body_timeout_s:g} 秒内发送完毕。",
                        headers={"Connection": "close"})

    async def _read_body(self, receive) -> bytes:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                message = await _within(receive, deadline)
            except TimeoutError:
                raise _Refused(self._too_slow()) from None
            if message["type"] == "http.disconnect":
                raise _Refused(ApiError(400, "client_disconnected", "客户端已断开连接。"))
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.settings.max_body_bytes:
                raise _Refused(self._too_large())
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _limited(self, receive):
        """Pass a non-JSON body through, counting its size and bounding the time it takes to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_s
        size = 0
        done = False

        async def limited():
            nonlocal size, done
            if done:
                return await receive()
            try:
                message = await _within(receive, deadline)
            except TimeoutError:
                raise _Refused(self._too_slow()) from None
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > self.settings.max_body_bytes:
                    raise _Refused(self._too_large())
                done = not message.get("more_body", False)
            return message

        return limited

    # --- the browser's way to give the key ------------------------------------------------------------------------
    async def _login_page(self, send, path: str, query: str, *, failed: bool = False) -> None:
        target = path + ("?" + query if query else "")
        body = LOGIN_HTML.format(next=html.escape(target, quote=True),
                                 error='<p class="err">密钥不正确，请重试。</p>' if failed else "").encode("utf-8")
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    async def _login(self, scope, headers, receive, send) -> None:
        if scope.get("method") != "POST":
            await self._login_page(send, "/", "")
            return
        raw = await self._read_body(receive)
        form = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=5)
        given = (form.get("key") or [""])[0]
        target = (form.get("next") or ["/"])[0]
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        if not given or not hmac.compare_digest(given.encode(), self.api_key.encode()):
            await self._login_page(send, target, "", failed=True)
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{COOKIE}={self.cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200{secure}"
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", quote(target, safe="/?=&%#:").encode("latin-1")),
                                (b"set-cookie", cookie.encode("latin-1")), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    @staticmethod
    async def _send_error(send, error: ApiError) -> None:
        start, body = _json_parts(error.status, error.body(), error.headers)
        await send(start)
        await send(body)


async def _within(receive, deadline: float):
    """The next message, or TimeoutError once the loop's clock passes `deadline` (at least 10 ms from now). A
    deadline on the request's own task: `asyncio.wait_for` started a task per message (a third of the edge's time)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout_at(max(deadline, loop.time() + 0.01)):
        return await receive()


def _replay(body: bytes, receive):
    """A receive that hands the already-read body to the app once, then defers to the real one (disconnects)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class _ChineseErrors:
    """A send wrapper: an error response whose body is not our Chinese JSON is replaced by one (same status)."""

    def __init__(self, send):
        self.send = send
        self.held: dict | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            status = message["status"]
            content_type = next((v for k, v in message.get("headers", []) if k.lower() == b"content-type"), b"")
            if status >= 400 and not content_type.startswith((b"text/event-stream", b"text/html")):
                self.held = message
                return
            await self.send(message)
            return
        if message["type"] == "http.response.body" and self.held is not None:
            self.chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(self.chunks)
            start, held = self.held, self.held
            self.held = None
            if _is_chinese_error(body):
                await self.send(start)
                await self.send({"type": "http.response.body", "body": body})
                return
            status = held["status"]
            code, message_zh = STATUS_MESSAGES.get(status, ("http_error", "请求失败。"))
            keep = {k.decode("latin-1"): v.decode("latin-1") for k, v in held.get("headers", [])
                    if k.lower() in (b"allow", b"retry-after", b"www-authenticate", b"access-control-allow-origin",
                                     b"access-control-allow-credentials", b"vary")}
            new_start, new_body = _json_parts(status, {"error": code, "message": message_zh}, keep)
            await self.send(new_start)
            await self.send(new_body)
            return
        await self.send(message)


LOGIN_HTML = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>政策通 · 请输入访问密钥</title>
<style>body{{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;background:#f8fafc;display:flex;
justify-content:center;align-items:center;min-height:90vh;margin:0}}form{{background:#fff;padding:28px 32px;border-radius:12px;
box-shadow:0 4px 20px rgba(0,0,0,.08);min-width:300px}}h1{{font-size:20px;margin:0 0 12px;color:#b91c1c}}
input[type=password]{{width:100%;box-sizing:border-box;padding:10px;margin:8px 0 14px;border:1px solid #cbd5e1;border-radius:8px}}
button{{background:#c81e1e;color:#fff;border:none;border-radius:8px;padding:10px 18px;cursor:pointer}}.err{{color:#b91c1c}}</style>
</head><body><form method="post" action="/auth/login"><h1>政策通</h1><p>本服务已启用访问密钥，请输入管理员提供的密钥。</p>{error}
<input type="password" name="key" autocomplete="current-password" autofocus aria-label="访问密钥">
<input type="hidden" name="next" value="{next}"><button type="submit">进入</button></form></body></html>"""
