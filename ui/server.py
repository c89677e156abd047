"""Run the app under uvicorn, print the URL once listening, stop cleanly on SIGTERM/SIGINT.

Connection-level protection lives here, below ASGI: a request head must arrive within `header_timeout_s` (slow
clients that send half a header are answered 408 and closed), idle keep-alive connections close after
`keep_alive_s`, and more than `max_connections` open connections are refused with 503. uvicorn's own proxy-header
handling is off: the edge (`ui.edge`) believes X-Forwarded-For only from `trusted_proxies`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys

from ui.app import OFFLINE_ENV

# The server answers many short requests at once on a few worker threads; one math-library thread per request
# avoids oversubscribing the cores (multi-second stalls under load). Set the variables to override.
SERVER_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
log = logging.getLogger("policy_assistant.server")


def _raw_response(status: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode("utf-8")
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode("ascii") + body


def guarded_protocol(settings):
    """uvicorn's httptools protocol with a request-head deadline and a connection cap (None without httptools)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return None

    header_timeout = settings.header_timeout_s
    max_connections = settings.max_connections
    too_slow = _raw_response("408 Request Timeout", "request_timeout",
                             f"请求头发送过慢：须在 {header_timeout:g} 秒内发送完毕，连接已关闭。")
    too_many = _raw_response("503 Service Unavailable", "too_many_connections", "服务器连接数已满，请稍后再试。")
    malformed = _raw_response("400 Bad Request", "bad_request", "无效的 HTTP 请求。")

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(too_many)
                transport.close()
                return
            self._arm()

        def _arm(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(header_timeout, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.write(too_slow)
                self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(malformed)
                self.transport.close()

    return GuardedHttpToolsProtocol


def serve(*, host: str | None = None, port: int | None = None, ui: bool = True, access_log: bool = False,
          settings=None, workers: int = 1) -> int:
    for key, value in {**OFFLINE_ENV, **SERVER_THREAD_ENV}.items():
        os.environ.setdefault(key, value)
    if workers > 1:
        return serve_workers(host=host, port=port, ui=ui, access_log=access_log, workers=workers)
    import uvicorn

    from policy_assistant.settings import Settings, SettingsError
    from ui import logsafe
    from ui.app import create_app

    logsafe.install()
    try:
        settings = settings or Settings.from_env(host=host, port=port)
        app = create_app(settings, gradio=ui)
    except SettingsError as exc:
        print(f"政策通未启动：{exc}", file=sys.stderr, flush=True)
        return 2
    except ValueError as exc:  # pydantic: a POLICY_* variable with a value of the wrong kind
        print(f"政策通未启动：配置无效（{str(exc).splitlines()[0]}）。请检查 POLICY_* 环境变量。", file=sys.stderr, flush=True)
        return 2
    protocol = guarded_protocol(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=access_log,
                            log_level="info", log_config=None, timeout_graceful_shutdown=10, lifespan="on",
                            proxy_headers=False, timeout_keep_alive=settings.keep_alive_s,
                            limit_concurrency=None if protocol else settings.max_connections, http=protocol or "auto")
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            bound_port = settings.port
            for srv in server.servers:
                for sock in srv.sockets:
                    bound_port = sock.getsockname()[1]
            shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
            if ":" in shown_host:
                shown_host = f"[{shown_host}]"
            url = f"http://{shown_host}:{bound_port}"
            print(f"政策通已启动：{url}/  （API 文档 {url}/docs ，小助手演示 {url}/widget-demo ）", flush=True)
            print(f"URL={url}", flush=True)
        await task

    try:  # uvicorn's runner picks uvloop when installed
        from uvicorn._compat import asyncio_run
    except ImportError:  # pragma: no cover - older uvicorn
        asyncio_run = None
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to the previous handler: make that a no-op so a
    # requested stop exits with status 0.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        if asyncio_run is not None:
            asyncio_run(run(), loop_factory=config.get_loop_factory())
        else:  # pragma: no cover
            asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not server.started:
        print("服务未能启动（端口可能被占用，详见上方日志）。", file=sys.stderr)
        return 1
    print("政策通已停止。", flush=True)
    return 0


def _banner(url: str) -> None:
    print(f"政策通已启动：{url}/  （API 文档 {url}/docs ，小助手演示 {url}/widget-demo ）", flush=True)
    print(f"URL={url}", flush=True)


def serve_workers(*, host: str | None, port: int | None, ui: bool, access_log: bool, workers: int) -> int:
    """N worker processes on one listening socket (uvicorn's supervisor; a dead worker is replaced).

    Workers share nothing in memory: each builds the app from the environment (`ui.app:app_from_env`), warms up
    before it accepts connections, and continues conversations from the store, so any worker can answer any turn.
    Each worker has the same connection-level protection as a single server (`WorkerHttpProtocol`). The supervisor
    checks the settings, binds the socket (port 0 picks a free one), then prints the URL once a worker answers.
    """
    import threading

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from policy_assistant.settings import Settings, SettingsError
    from ui import logsafe

    logsafe.install()
    try:
        settings = Settings.from_env(host=host, port=port, workers=workers)
        _check_startup(settings)
    except SettingsError as exc:
        print(f"政策通未启动：{exc}", file=sys.stderr, flush=True)
        return 2
    except ValueError as exc:
        print(f"政策通未启动：配置无效（{str(exc).splitlines()[0]}）。请检查 POLICY_* 环境变量。", file=sys.stderr, flush=True)
        return 2
    # the workers read their settings from the environment, like any other deployment
    os.environ.update({"POLICY_HOST": settings.host, "POLICY_WORKERS": str(workers),
                       "POLICY_SERVE_UI": "1" if ui else "0"})
    protocol = "ui.server:WorkerHttpProtocol" if guarded_protocol(settings) is not None else "auto"
    config = uvicorn.Config("ui.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                            workers=workers, access_log=access_log, log_level="info", log_config=None,
                            timeout_graceful_shutdown=10, lifespan="on", proxy_headers=False,
                            timeout_keep_alive=settings.keep_alive_s, http=protocol,
                            limit_concurrency=None if protocol != "auto" else settings.max_connections)
    try:
        sock = config.bind_socket()
    except OSError as exc:
        print(f"服务未能启动（端口可能被占用）：{exc}", file=sys.stderr)
        return 1
    bound_port = sock.getsockname()[1]
    shown_host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    url = f"http://{shown_host}:{bound_port}"
    supervisor = Multiprocess(config, sockets=[sock])
    threading.Thread(target=_announce_when_ready, args=(url, supervisor), daemon=True).start()
    supervisor.run()
    sock.close()
    print("政策通已停止。", flush=True)
    return 0


def _check_startup(settings) -> None:
    """What would stop every worker from starting, said once by the supervisor (SettingsError, Chinese)."""
    from policy_assistant.settings import SettingsError
    from ui.limits import ClientAddress, required_api_key

    required_api_key(settings)
    ClientAddress(settings.trusted_proxies)
    if settings.store == "postgres" and not os.environ.get(settings.postgres_dsn_env):
        raise SettingsError(f"会话库设置为 PostgreSQL（POLICY_STORE=postgres），但环境变量 {settings.postgres_dsn_env} "
                            "未设置连接串。")


def __getattr__(name: str):
    """`WorkerHttpProtocol`: the guarded protocol of a worker, built from the environment's settings (uvicorn
    imports it by name in each worker process)."""
    if name == "WorkerHttpProtocol":
        from policy_assistant.settings import Settings

        protocol = guarded_protocol(Settings.from_env())
        globals()[name] = protocol
        return protocol
    raise AttributeError(name)


def _announce_when_ready(url: str, supervisor) -> None:
    """Print the banner once a worker answers /healthz (workers warm up before they accept)."""
    import http.client
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    while not supervisor.should_exit.is_set():
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                _banner(url)
                return
        except OSError:
            pass
        time.sleep(0.1)
