"""Logging that cannot kill a request and does not keep what people typed.

A lone UTF-16 surrogate in a log message used to raise UnicodeEncodeError inside the handler's `emit`, and the
fallback that prints the failure raised again: the request's task died with its socket held open. Here every
record is formatted to text that can always be encoded (surrogates and other unencodable characters escaped), and
exceptions are logged by type and frames only — their messages often quote user input (company names, credit
codes, phone numbers). `install()` is called once by `policy-assistant serve`.
"""
from __future__ import annotations

import logging
import sys
import traceback

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _safe(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class SafeFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        try:
            text = super().format(record)
        except Exception:  # noqa: BLE001 - a bad %-format or a broken __str__: keep the template, drop the args
            text = f"{record.levelname} {record.name}: {_safe(str(record.msg))} (unformattable arguments)"
        return _safe(text)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        exc_type, exc, tb = ei
        frames = "".join(traceback.format_tb(tb)) if tb else ""
        name = getattr(exc_type, "__qualname__", str(exc_type))
        return _safe(f"Traceback (most recent call last):\n{frames}{name}: <message withheld: may contain user input>")


class SafeHandler(logging.StreamHandler):
    """A stream handler whose failures are swallowed (counted), never raised into the caller."""

    failures = 0

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802
        SafeHandler.failures += 1


def install(level: int = logging.INFO) -> None:
    """Route the root logger (and uvicorn's) through the safe formatter; stderr escapes what it cannot encode."""
    logging.raiseExceptions = False
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    handler = SafeHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        # uvicorn turns the access log off by cutting uvicorn.access from the root (access_log=False); a worker of
        # `serve --workers N` installs this after uvicorn configured logging, so that choice is kept, not undone
        if name != "uvicorn.access":
            logger.propagate = True
