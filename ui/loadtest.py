"""A bounded load generator for a running server on loopback: req/s, p50/p95/p99 latency and errors per concurrency.

The client is lean on purpose: plain asyncio streams speaking HTTP/1.1 keep-alive, one connection per simulated
caller, requests pre-encoded, responses read by Content-Length. On a 2-core box the client shares the CPU with the
server; httpx spent 10–25× the CPU per request of this client, which capped what the server could be shown to do.

Bounded in time (`duration_s`) and count (`max_requests`) at each concurrency; refuses non-loopback targets.
`run(url, concurrencies=[1, 10, 50])` is what the `loadtest` command and the benchmark call. `questions` cycles a
fixed mix; `bodies` (a callable returning the next question) feeds a stream of never-seen questions instead.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from typing import Any, Callable, Sequence
from urllib.parse import urlsplit

from ui.examples import LOAD_QUESTIONS as DEFAULT_QUESTIONS


def _check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"loadtest only targets loopback addresses, not {host!r}")


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class HttpError(Exception):
    """A response that is not a 200 with a JSON body."""


class Connection:
    """One keep-alive HTTP/1.1 connection: `post(path, body)` → (status, body bytes)."""

    def __init__(self, host: str, port: int, headers: dict[str, str], timeout_s: float):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {host}:{port}\r\nContent-Type: application/json\r\nAccept: */*\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (OSError, ConnectionError):
                pass
            self._writer = self._reader = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        return await asyncio.wait_for(self._request(method, path, body), self.timeout_s)

    async def _request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self._writer is None:
            await self._open()
        assert self._reader is not None and self._writer is not None
        length = f"Content-Length: {len(body)}\r\n" if method != "GET" else ""
        self._writer.write(f"{method} {path} HTTP/1.1\r\n{self._head}{length}\r\n".encode("latin-1") + body)
        reader = self._reader
        status_line = await reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionResetError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        content_length, chunked, close = None, False, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                content_length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            parts = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                parts.append(await reader.readexactly(size))
                await reader.readline()
            data = b"".join(parts)
        elif content_length is not None:
            data = await reader.readexactly(content_length)
        else:
            data = await reader.read()
            close = True
        if close:
            await self.close()
        return status, data


def _chat_body(question: str) -> bytes:
    return json.dumps({"question": question}, ensure_ascii=False).encode("utf-8")


async def _run_level(url: str, path: str, concurrency: int, duration_s: float, max_requests: int,
                     next_question: Callable[[], str], headers: dict[str, str], timeout_s: float) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    conns = [Connection(host, port, headers, timeout_s) for _ in range(concurrency)]
    try:
        # open and warm the connections (not measured)
        await asyncio.gather(*(c.request("GET", "/healthz") for c in conns), return_exceptions=True)
        start = time.perf_counter()
        deadline = start + duration_s

        async def worker(conn: Connection) -> None:
            nonlocal issued
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                body = _chat_body(next_question())
                t0 = time.perf_counter()
                try:
                    status, data = await conn.request("POST", path, body)
                    key = None if status == 200 and data[:1] == b"{" else f"HTTP {status}"
                except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                    key = type(exc).__name__
                    await conn.close()
                latencies.append(time.perf_counter() - t0)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker(c) for c in conns))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
    ordered = sorted(latencies)
    done = len(latencies)
    return {
        "concurrency": concurrency,
        "requests": done,
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(elapsed, 3),
        "rps": round(done / elapsed, 1) if elapsed > 0 else 0.0,
        "p50_ms": round(_percentile(ordered, 0.50) * 1000, 2),
        "p95_ms": round(_percentile(ordered, 0.95) * 1000, 2),
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 2),
    }


def cycling(questions: Sequence[str]) -> Callable[[], str]:
    """A question source that cycles a fixed mix (a repeated-question workload)."""
    qs = list(questions)
    state = {"i": 0}

    def nxt() -> str:
        q = qs[state["i"] % len(qs)]
        state["i"] += 1
        return q

    return nxt


def run_level(url: str, concurrency: int, *, duration_s: float, max_requests: int, path: str = "/api/chat",
              next_question: Callable[[], str], api_key: str | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
    """One concurrency level (loopback only)."""
    _check_loopback(url)
    headers = {"X-API-Key": api_key} if api_key else {}
    return asyncio.run(_run_level(url.rstrip("/"), path, concurrency, duration_s, max_requests, next_question,
                                  headers, timeout_s))


def run(url: str, *, concurrencies: Sequence[int] = (1, 10, 50), duration_s: float = 10.0, max_requests: int = 5000,
        path: str = "/api/chat", questions: Sequence[str] | None = None, bodies: Callable[[], str] | None = None,
        api_key: str | None = None, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Run each concurrency level in turn against `url` (loopback only); returns one result dict per level."""
    _check_loopback(url)
    source = bodies or cycling(list(questions or DEFAULT_QUESTIONS))
    return [run_level(url, c, duration_s=duration_s, max_requests=max_requests, path=path, next_question=source,
                      api_key=api_key, timeout_s=timeout_s) for c in concurrencies]


def format_table(results: list[dict[str, Any]]) -> str:
    lines = ["并发  请求数  错误  req/s    p50(ms)  p95(ms)  p99(ms)"]
    for r in results:
        lines.append(f"{r['concurrency']:>4}  {r['requests']:>6}  {r['errors']:>4}  {r['rps']:>7}  "
                     f"{r['p50_ms']:>7}  {r['p95_ms']:>7}  {r['p99_ms']:>7}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="政策通问答接口压测（仅限本机回环地址）")
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--path", default="/api/chat")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.url, concurrencies=args.concurrency, duration_s=args.duration, max_requests=args.max_requests,
                  path=args.path)
    print(json.dumps(results, ensure_ascii=False, indent=2) if args.json else format_table(results))
    return 0 if all(r["errors"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
