"""The FastAPI application: HTTP API, MCP server at `/mcp`, widget files and the Gradio app at `/`, on one server."""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from pathlib import Path

from policy_assistant.settings import Settings
from ui.errors import STATUS_MESSAGES, ApiError, error_for_exception, validation_message

log = logging.getLogger("policy_assistant.ui")

STATIC_DIR = Path(__file__).parent / "static"

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               "ANONYMIZED_TELEMETRY": "False"}

def _json_error(error: ApiError):
    from fastapi.responses import JSONResponse

    return JSONResponse(error.body(), status_code=error.status, headers=error.headers or None)


def _cors_middleware_class():
    from starlette.middleware.cors import CORSMiddleware

    class JsonCORSMiddleware(CORSMiddleware):
        """Starlette's CORS, with a JSON Chinese body when a preflight is refused."""

        def preflight_response(self, request_headers):
            response = super().preflight_response(request_headers)
            if response.status_code == 400:
                from fastapi.responses import JSONResponse

                reason = response.body.decode("utf-8", "replace")
                return JSONResponse({"error": "cors_rejected", "message": f"跨域请求被拒绝（{reason}）：该来源未在允许列表中。"},
                                    status_code=400)
            return response

    return JsonCORSMiddleware


def create_app(settings: Settings | None = None, services=None, *, store=None, gradio: bool = True,
               environ: dict[str, str] | None = None):
    """Build the server app. `services` defaults to `Services(settings)`; `gradio=False` skips the UI (API-only).

    Raises SettingsError (Chinese) when the configuration must not be served, e.g. an API key variable that is unset.
    """
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from policy_assistant.services import Services
    from ui import mcp_server
    from ui.api import router
    from ui.edge import Edge
    from ui.limits import ClientAddress, required_api_key

    settings = settings or Settings.from_env()
    api_key = required_api_key(settings, environ)  # fails closed before anything else is built
    ClientAddress(settings.trusted_proxies)  # refuse a malformed proxy list at start, not on the first request
    services = services or Services(settings, store=store)
    mcp = mcp_server.build_server(services, settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        import anyio

        app.state.worker_limiter = anyio.CapacityLimiter(int(os.environ.get("POLICY_WORKER_THREADS", "4")))
        stop = threading.Event()
        # warm before accepting requests: "ready" then means the first question is answered at full speed
        await anyio.to_thread.run_sync(_warm_up, services)
        threading.Thread(target=_purge_periodically, args=(services, stop), name="purge", daemon=True).start()
        try:
            async with mcp.session_manager.run():  # the /mcp sub-app's lifespan: Starlette does not run it for us
                yield
        finally:
            stop.set()
            services.conversations.close()
            services.store.close()

    app = FastAPI(
        title="政策通 API",
        description="人工智能产业补助政策：智能问答、补助测算、资格自查、条款检索。所有错误均返回 "
                    "`{\"error\": 代码, \"message\": 中文说明}`。",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from local assets, so the docs work offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.worker_limiter = None  # set at startup (an anyio limiter belongs to the running loop)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return _json_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return _json_error(ApiError(422, "invalid_request", validation_message(list(exc.errors()))))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code, default = STATUS_MESSAGES.get(exc.status_code, ("http_error", "请求失败。"))
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else default
        return _json_error(ApiError(exc.status_code, getattr(exc, "code", code), detail,
                                    headers=dict(exc.headers or {})))

    @app.exception_handler(Exception)
    async def _any_error(request: Request, exc: Exception):
        return _json_error(error_for_exception(exc))

    app.include_router(router)
    mcp_server.mount(app, mcp, settings)  # Streamable HTTP at /mcp, before Gradio takes "/"

    @app.get("/widget.js", include_in_schema=False)
    def widget_js():
        return FileResponse(STATIC_DIR / "widget.js", media_type="application/javascript; charset=utf-8",
                            headers={"Cache-Control": "public, max-age=300"})

    @app.get("/widget-demo", include_in_schema=False)
    def widget_demo():
        return HTMLResponse((STATIC_DIR / "widget-demo.html").read_text(encoding="utf-8"))

    _mount_docs(app)

    @app.get("/api", include_in_schema=False)
    def api_root():
        return RedirectResponse("/docs")

    # Middleware: the last added is outermost, so CORS headers also reach the edge's 401/413/422/429 responses.
    # The edge wraps the whole app, so routes mounted later (Gradio below, an MCP server) are guarded the same way.
    app.add_middleware(Edge, settings=settings, api_key=api_key)
    app.add_middleware(_cors_middleware_class(), allow_origins=list(settings.cors_origins),
                       allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                       allow_headers=["Content-Type", "X-API-Key", "Authorization", "X-Session-Id"],
                       max_age=600)

    if gradio:
        import gradio as gr

        from ui.gradio_app import CSS, HEAD, build_blocks, i18n, theme
        from ui.page import IndexPage

        blocks = build_blocks(services, settings)
        gr.mount_gradio_app(app, blocks, path="/", footer_links=[], run_history=False, pwa=False,
                            show_error=False, ssr_mode=False, theme=theme(), css=CSS, head=HEAD, i18n=i18n(),
                            server_name=settings.host, server_port=settings.port)
        app.add_middleware(IndexPage, path="/")  # lang="zh-CN", Chinese Gradio strings, our link previews
    return app


def app_from_env():
    """The app of one `serve --workers N` worker: settings from the environment (POLICY_*), the web UI unless
    POLICY_SERVE_UI=0."""
    from ui import logsafe

    logsafe.install()
    return create_app(Settings.from_env(), gradio=os.environ.get("POLICY_SERVE_UI", "1") != "0")


def _mount_docs(app) -> None:
    """Swagger UI at /docs from the fastapi-offline package's bundled assets (no CDN); CDN assets if it is absent."""
    import importlib.util

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    spec = importlib.util.find_spec("fastapi_offline")
    assets = Path(list(spec.submodule_search_locations)[0]) / "static" if spec and spec.submodule_search_locations else None
    kwargs = {}
    if assets and (assets / "swagger-ui-bundle.js").exists():
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")
        kwargs = {"swagger_js_url": "/docs-assets/swagger-ui-bundle.js", "swagger_css_url": "/docs-assets/swagger-ui.css",
                  "swagger_favicon_url": "/docs-assets/favicon.png"}

    @app.get("/docs", include_in_schema=False)
    def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="政策通 API 文档", **kwargs)


def _warm_up(services) -> None:
    """Open the index and warm the agent (catalog, index, jieba, vectors, encoder, one pass through the pipeline)."""
    import time

    started = time.perf_counter()
    try:
        services.index.warm_up()
    except Exception as exc:  # noqa: BLE001 - a missing or damaged index is reported per request and by /healthz
        log.warning("index not served at start: %s", getattr(exc, "message_zh", type(exc).__name__))
    try:
        services.warm_up()
    except Exception as exc:  # noqa: BLE001
        log.warning("agent warm-up failed: %s", type(exc).__name__)
    else:
        log.info("warm-up done in %.2f s", time.perf_counter() - started)


PURGE_EVERY_S = 6 * 3600


def _purge_periodically(services, stop: threading.Event) -> None:
    """Apply the retention period at start and every few hours while the server runs."""
    while not stop.is_set():
        try:
            removed = services.purge()
            if any(removed.values()):
                log.info("retention: removed %(conversations)d conversations, %(turns)d turns, %(feedback)d feedback",
                         removed)
        except Exception as exc:  # noqa: BLE001 - retention must never stop the server
            log.warning("retention purge failed: %s", type(exc).__name__)
        stop.wait(PURGE_EVERY_S)
