"""Run the app under uvicorn, print the URL once listening, stop cleanly on SIGTERM/SIGINT."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from ui.app import OFFLINE_ENV

# The server answers many short requests at once on a few worker threads; one math-library thread per request
# avoids oversubscribing the cores (multi-second stalls under load). Set the variables to override.
SERVER_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def serve(*, host: str | None = None, port: int | None = None, ui: bool = True, access_log: bool = False,
          settings=None) -> int:
    for key, value in {**OFFLINE_ENV, **SERVER_THREAD_ENV}.items():
        os.environ.setdefault(key, value)
    import uvicorn

    from policy_assistant.settings import Settings
    from ui.app import create_app

    settings = settings or Settings.from_env(host=host, port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings, gradio=ui)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, access_log=access_log,
                            log_level="info", timeout_graceful_shutdown=10, lifespan="on")
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
