"""A bounded load generator for a running server on loopback: req/s, p50/p95/p99 latency and errors per concurrency.

Bounded in time (`duration_s`) and count (`max_requests`) at each concurrency; refuses non-loopback targets.
`run(url, concurrencies=[1, 10, 50])` is what the benchmark command calls.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from typing import Any, Sequence
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


async def _run_level(url: str, path: str, concurrency: int, duration_s: float, max_requests: int,
                     questions: Sequence[str], headers: dict[str, str], timeout_s: float) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    issued = 0
    # one single-connection client per worker: a shared pool of many connections costs the client more CPU per
    # request than the server spends answering (httpx's pool bookkeeping grows with its size)
    clients = [httpx.AsyncClient(base_url=url, timeout=timeout_s, headers=headers,
                                 limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
               for _ in range(concurrency)]
    try:
        # open and warm the connections (not measured)
        await asyncio.gather(*(c.get("/healthz") for c in clients), return_exceptions=True)
        start = time.perf_counter()
        deadline = start + duration_s

        async def worker(n: int) -> None:
            nonlocal issued
            client = clients[n]
            i = n
            while issued < max_requests and time.perf_counter() < deadline:
                issued += 1
                body = {"question": questions[i % len(questions)]}
                i += concurrency
                t0 = time.perf_counter()
                try:
                    resp = await client.post(path, json=body)
                    ok = resp.status_code == 200
                    if ok:
                        resp.json()
                    key = None if ok else f"HTTP {resp.status_code}"
                except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                    key = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
        elapsed = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
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


def run(url: str, *, concurrencies: Sequence[int] = (1, 10, 50), duration_s: float = 10.0, max_requests: int = 5000,
        path: str = "/api/chat", questions: Sequence[str] | None = None, api_key: str | None = None,
        timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Run each concurrency level in turn against `url` (loopback only); returns one result dict per level."""
    _check_loopback(url)
    headers = {"X-API-Key": api_key} if api_key else {}
    qs = list(questions or DEFAULT_QUESTIONS)
    return [asyncio.run(_run_level(url.rstrip("/"), path, c, duration_s, max_requests, qs, headers, timeout_s))
            for c in concurrencies]


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
