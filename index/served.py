"""The index a running server serves: follows CURRENT, so a new `index build` is picked up without a restart.

`ServedIndex` looks like a retriever (`search`, and any other attribute is the current retriever's). At most every
`check_interval_s` it reads CURRENT; when it names another build, that build is opened (verified) and swapped in.
A new build that fails verification is not swapped in: the old one keeps serving and `status()` says so. A served
build that cannot be opened raises `IndexCorrupt` / `FileNotFoundError` per request, which the API maps to 503.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


class ServedIndex:
    def __init__(self, settings, *, opener: Callable[[], Any] | None = None, check_interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, build_if_missing: bool = True):
        from index.build import IndexPaths

        self.settings = settings
        self._paths = IndexPaths(Path(settings.index_dir))
        self._opener = opener or self._open
        self._interval = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._retriever: Any = None
        self._pointer: str | None = None  # CURRENT's text when the served retriever was opened
        self._checked = float("-inf")
        self._problem: Exception | None = None  # why the newest build is not being served
        self._build_if_missing = build_if_missing  # as before: the first use builds a missing index
        # a server warms each build before serving it (Services.warm_up sets this); a one-shot command does not,
        # so a question BM25 answers alone never loads the encoder
        self.warm_on_open = False

    def _open(self):
        from index.retriever import open_retriever

        retriever = open_retriever(self.settings, build_if_missing=self._build_if_missing)
        if self.warm_on_open and hasattr(retriever, "warm_up"):
            retriever.warm_up()
        return retriever

    def _read_pointer(self) -> str | None:
        try:
            return self._paths.current.read_text(encoding="utf-8")
        except OSError:
            return None

    def current(self):
        """The retriever to use now; raises why none can be served."""
        now = self._clock()
        if now - self._checked < self._interval:
            if self._retriever is not None:
                return self._retriever
            if self._problem is not None:  # nothing to serve: the same answer until the next check
                raise self._problem
        with self._lock:
            now = self._clock()
            if now - self._checked < self._interval:
                if self._retriever is not None:
                    return self._retriever
                if self._problem is not None:
                    raise self._problem
            self._checked = now
            pointer = self._read_pointer()
            if self._retriever is None or pointer != self._pointer:
                try:
                    retriever = self._opener()
                except Exception as exc:  # noqa: BLE001 - keep serving the old build if there is one
                    self._problem = exc
                    if self._retriever is None:
                        raise
                    log.error("new index build not served (%s); the previous build stays in service", exc)
                else:
                    old = self._retriever
                    self._retriever, self._pointer, self._problem = retriever, pointer, None
                    if old is not None:
                        log.info("now serving index build %s", getattr(retriever, "build_id", "?"))
            return self._retriever

    @property
    def opened(self) -> bool:
        """Whether a build has been opened (searched, warmed or asked about) in this process."""
        return self._retriever is not None

    # --- the retriever interface -------------------------------------------------------------------------------------
    def search(self, *args, **kwargs):
        return self.current().search(*args, **kwargs)

    def warm_up(self):
        retriever = self.current()
        if self.warm_on_open and hasattr(retriever, "warm_up"):
            retriever.warm_up()
        return retriever

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current(), name)

    # --- health --------------------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """ok / degraded (serving, with a caveat) / unavailable (nothing can be searched), with a Chinese message."""
        try:
            retriever = self.current()
        except Exception as exc:  # noqa: BLE001
            return {"status": "unavailable", "message": _message(exc)}
        out: dict[str, Any] = {"status": "ok", "build_id": getattr(retriever, "build_id", None)}
        degraded = getattr(retriever, "dense_degraded", "")
        if self._problem is not None:
            out.update(status="degraded", message="最新构建的索引无法使用，仍在使用上一版本：" + _message(self._problem))
        elif degraded:
            out.update(status="degraded", message=degraded)
        return out


def _message(exc: Exception) -> str:
    text = getattr(exc, "message_zh", None)
    if text:
        return text
    if isinstance(exc, FileNotFoundError):
        return "政策索引尚未构建，请先运行 policy-assistant index build。"
    return f"政策索引无法打开（{type(exc).__name__}），请运行 policy-assistant index build 重建。"
