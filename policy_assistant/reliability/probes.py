"""HTTP probes against one running server on loopback. Each returns plain figures (counts, lists of offenders).

Nothing here asserts: tests assert on the figures, the report prints them before and after.
"""
from __future__ import annotations

import concurrent.futures as futures
import json
import re
import socket
import time
from typing import Any, Iterable, Sequence
from urllib.parse import urlsplit

import httpx

from policy_assistant.reliability.corpus import Case, cases

CJK = re.compile(r"[\u4e00-\u9fff]")
TIMEOUT_S = 10.0


def _client(url: str, *, source: str | None = None, headers: dict[str, str] | None = None,
            timeout: float = TIMEOUT_S) -> httpx.Client:
    """A client, optionally bound to another loopback source address (127.0.0.N) so it gets its own rate bucket."""
    transport = httpx.HTTPTransport(local_address=source) if source else None
    return httpx.Client(base_url=url, timeout=timeout, headers=headers or {}, transport=transport)


def send(client: httpx.Client, case: Case) -> dict[str, Any]:
    """One case → {status, hang, body}; a timeout or a dropped connection counts as a hang."""
    headers = {"content-type": case.content_type} if case.body is not None else {}
    started = time.perf_counter()
    try:
        resp = client.request(case.method, case.path, content=case.body, headers=headers)
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError) as exc:
        return {"case": case.name, "status": None, "hang": True, "error": type(exc).__name__,
                "seconds": time.perf_counter() - started}
    body: Any
    try:
        body = resp.json()
    except ValueError:
        body = resp.text[:300]
    return {"case": case.name, "status": resp.status_code, "hang": False, "body": body,
            "content_type": resp.headers.get("content-type", ""), "seconds": time.perf_counter() - started}


def _chinese_error(result: dict[str, Any]) -> bool:
    body = result.get("body")
    return isinstance(body, dict) and isinstance(body.get("message"), str) and bool(CJK.search(body["message"]))


def _positive_amounts(body: Any) -> list[int]:
    """Amounts (yuan) a response offers: calculation amount_yuan, eligibility items, chat calculations."""
    found: list[int] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for key in ("amount_yuan",):
                v = x.get(key)
                if isinstance(v, int) and v > 0:
                    found.append(v)
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(body)
    return found


def bad_input_corpus(url: str, *, headers: dict[str, str] | None = None, selection: Iterable[Case] | None = None,
                     workers: int = 4) -> dict[str, Any]:
    """Send the corpus; count hangs, 5xx, refusals without a Chinese JSON message, 200s carrying an amount."""
    chosen = list(selection if selection is not None else cases())
    results: list[dict[str, Any]] = []
    with _client(url, headers=headers) as client, futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda c: send(client, c), chosen))
    hangs = [r["case"] for r in results if r["hang"]]
    server_errors = [r["case"] for r in results if r["status"] and r["status"] >= 500]
    not_chinese = [r["case"] for r in results if r["status"] and r["status"] >= 400 and not _chinese_error(r)]
    # garbage that came back as an amount: a 200 on the calculator/eligibility with any positive amount
    garbage_amounts = [r["case"] for r in results if r["status"] == 200 and r["case"].startswith(("calculate.fact.",))
                       and _positive_amounts(r.get("body"))]
    accepted = [r["case"] for r in results if r["status"] and r["status"] < 400]
    healthy = _healthy(url, headers)
    return {"inputs": len(chosen), "hangs": len(hangs), "server_errors": len(server_errors),
            "not_chinese": len(not_chinese), "garbage_amounts": len(garbage_amounts), "accepted": len(accepted),
            "healthy_after": healthy, "hang_cases": hangs[:20], "server_error_cases": server_errors[:20],
            "not_chinese_cases": not_chinese[:20], "garbage_amount_cases": garbage_amounts[:20]}


def _healthy(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=5, headers=headers or {}).status_code == 200
    except httpx.HTTPError:
        return False


def surrogate_hang(url: str, n: int = 20, timeout_s: float = 5.0) -> dict[str, Any]:
    """The issue's first probe: a lone surrogate in a fact. Counts requests that got no response in time."""
    body = rb'{"program_id":"xm-compute-voucher","facts":{"compute_purchase_yuan":"\ud800"}}'
    hangs = statuses = 0
    codes: dict[str, int] = {}
    with _client(url, timeout=timeout_s) as client:
        for _ in range(n):
            try:
                resp = client.post("/api/calculate", content=body, headers={"content-type": "application/json"})
                codes[str(resp.status_code)] = codes.get(str(resp.status_code), 0) + 1
                statuses += 1
            except httpx.HTTPError:
                hangs += 1
        try:
            chat = client.post("/api/chat", content=rb'{"question":"\ud800"}', headers={"content-type": "application/json"})
            chat_status = chat.status_code
        except httpx.HTTPError:
            chat_status = None
    return {"requests": n, "hangs": hangs, "statuses": codes, "chat_status": chat_status,
            "healthy_after": _healthy(url)}


# --- the routes: every family, the Gradio app included ----------------------------------------------------------------
ROUTES: list[tuple[str, str, bytes | None]] = [
    ("GET", "/", None),
    ("GET", "/config", None),
    ("GET", "/gradio_api/info", None),
    ("POST", "/gradio_api/call/respond", '{"data": ["厦门算力券能补多少", [], ""]}'.encode()),
    ("POST", "/gradio_api/queue/join", b'{"data": [], "fn_index": 0, "session_hash": "probe"}'),
    ("POST", "/gradio_api/run/predict", b'{"data": [], "fn_index": 0}'),
    ("POST", "/gradio_api/upload", None),  # multipart, built in `_route_request`
    ("GET", "/gradio_api/proxy=http://127.0.0.1:1/x", None),
    ("GET", "/gradio_api/file=/etc/hostname", None),
    ("GET", "/monitoring", None),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
    ("GET", "/widget-demo", None),
    ("GET", "/widget.js", None),
    ("GET", "/api/programs", None),
    ("GET", "/api/documents", None),
    ("GET", "/api/search?q=%E7%AE%97%E5%8A%9B", None),
    ("POST", "/api/chat", '{"question": "厦门算力券能补多少"}'.encode()),
    ("POST", "/api/calculate", b'{"program_id": "xm-compute-voucher", "facts": {}}'),
    ("POST", "/api/eligibility", b'{"profile": {}}'),
    ("POST", "/api/feedback", b'{"rating": "up"}'),
    ("GET", "/api/sessions/abc", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", '{"messages": [{"role": "user", "content": "厦门算力券"}]}'.encode()),
    ("POST", "/mcp", b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'),
]
# Routes that answer without a key by design — the load balancer's probe and the widget script third-party pages load
# with a plain <script src> (it holds no data) — reported separately, never counted as a bypass.
KEY_EXEMPT = {"/healthz", "/widget.js"}


def _route_request(client: httpx.Client, method: str, path: str, body: bytes | None, **kwargs) -> httpx.Response:
    if path == "/gradio_api/upload":
        return client.post(path, files={"files": ("probe.txt", b"x" * 1024, "text/plain")}, **kwargs)
    headers = {"content-type": "application/json"} if body is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return client.request(method, path, content=body, headers=headers, **kwargs)


def unauthenticated_routes(url: str) -> dict[str, Any]:
    """With a key configured: routes that did their work for a request carrying no key (anything but 401/403/404/405)."""
    open_routes: list[str] = []
    statuses: dict[str, int | None] = {}
    with _client(url) as client:
        for method, path, body in [r for r in ROUTES if r[1] not in KEY_EXEMPT]:
            try:
                status = _route_request(client, method, path, body).status_code
            except httpx.HTTPError:
                status = None
            statuses[f"{method} {path}"] = status
            if status is not None and status not in (401, 403, 404, 405):
                open_routes.append(f"{method} {path} → {status}")
    return {"routes": len(statuses), "unauthenticated": len(open_routes), "open_routes": open_routes,
            "exempt_by_design": sorted(KEY_EXEMPT), "statuses": statuses}


def body_limit(url: str, *, size: int = 200 * 1024, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A body over the limit to every POST route: count the routes that accepted it (anything but 413/401/403/404/405)."""
    accepted: list[str] = []
    filler = "厦" * (size // 3)
    bodies = {
        "/gradio_api/call/respond": json.dumps({"data": ["问题", [_gradio_message("user", filler)], ""]}),
        "/gradio_api/queue/join": json.dumps({"data": [filler], "fn_index": 0, "session_hash": "probe"}),
    }
    with _client(url, headers=headers, timeout=30) as client:
        for method, path, _ in ROUTES:
            if method != "POST":
                continue
            body = bodies.get(path, json.dumps({"question": filler, "messages": [{"role": "user", "content": filler}]}))
            try:
                if path == "/gradio_api/upload":
                    resp = client.post(path, files={"files": ("big.bin", b"x" * size, "application/octet-stream")})
                else:
                    resp = client.post(path, content=body.encode(), headers={"content-type": "application/json"})
                status = resp.status_code
            except httpx.HTTPError:
                status = None
            if status is not None and status not in (413, 401, 403, 404, 405):
                accepted.append(f"POST {path} → {status}")
    return {"body_bytes": size, "accepted": len(accepted), "accepted_routes": accepted}


def _gradio_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def gradio_history_echo(url: str, *, size: int = 960 * 1024, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The issue's amplification probe: a ~1 MB chat history to the Gradio respond endpoint; bytes sent back."""
    history = [_gradio_message("user" if i % 2 == 0 else "assistant", "厦门" * 1000) for i in range(size // 6000)]
    payload = json.dumps({"data": ["厦门算力券能补多少", history, ""]}).encode()
    with _client(url, headers=headers, timeout=60) as client:
        try:
            resp = client.post("/gradio_api/call/respond", content=payload, headers={"content-type": "application/json"})
        except httpx.HTTPError:
            return {"sent_bytes": len(payload), "status": None, "returned_bytes": 0}
        returned = 0
        if resp.status_code == 200:
            try:
                event_id = resp.json()["event_id"]
                with client.stream("GET", f"/gradio_api/call/respond/{event_id}") as stream:
                    for chunk in stream.iter_bytes():
                        returned += len(chunk)
            except (KeyError, ValueError, httpx.HTTPError):
                pass
        return {"sent_bytes": len(payload), "status": resp.status_code, "returned_bytes": returned}


def upload_probe(url: str, *, size: int = 20 * 1024, headers: dict[str, str] | None = None) -> dict[str, Any]:
    with _client(url, headers=headers) as client:
        try:
            resp = client.post("/gradio_api/upload", files={"files": ("probe.bin", b"x" * size, "application/octet-stream")})
        except httpx.HTTPError:
            return {"status": None, "stored": False}
        stored = resp.status_code == 200 and "probe" in resp.text
        return {"status": resp.status_code, "stored": stored}


def rate_limit_routes(url: str, per_minute: int, *, extra: int = 20, first_source: int = 10) -> dict[str, Any]:
    """Per route family, from its own loopback source address: requests answered beyond the budget (the burst plus
    what the bucket legitimately refilled while the requests were being sent)."""
    families = [("GET", "/api/programs", None), ("GET", "/v1/models", None), ("GET", "/gradio_api/info", None),
                ("GET", "/config", None),
                ("POST", "/gradio_api/call/respond", '{"data": ["你好", [], ""]}'.encode()),
                ("POST", "/api/calculate", b'{"program_id": "xm-compute-voucher", "facts": {}}')]
    over: dict[str, int] = {}
    for i, (method, path, body) in enumerate(families):
        passed = 0
        started = time.monotonic()
        with _client(url, source=f"127.0.0.{first_source + i}") as client:
            for _ in range(per_minute + extra):
                try:
                    status = _route_request(client, method, path, body).status_code
                except httpx.HTTPError:
                    status = None
                if status is not None and status != 429:
                    passed += 1
        refilled = int((time.monotonic() - started) * per_minute / 60.0)
        over[f"{method} {path}"] = max(0, passed - per_minute - refilled)
    return {"per_minute": per_minute, "sent_per_route": per_minute + extra, "over_budget": over,
            "routes_over_budget": sum(1 for v in over.values() if v > 0)}


def xff_bypass(url: str, per_minute: int, *, extra: int = 40, source: str = "127.0.0.1") -> dict[str, Any]:
    """A rotating X-Forwarded-For from one client (127.0.0.1, which uvicorn trusts by default): answered beyond budget."""
    passed = 0
    started = time.monotonic()
    with _client(url, source=source) as client:
        for i in range(per_minute + extra):
            resp = client.get("/api/programs", headers={"x-forwarded-for": f"203.0.113.{i % 250}, 198.51.100.{i % 200}"})
            if resp.status_code != 429:
                passed += 1
    refilled = int((time.monotonic() - started) * per_minute / 60.0)
    return {"per_minute": per_minute, "sent": per_minute + extra, "over_budget": max(0, passed - per_minute - refilled)}


def cors_leaks(url: str, origin: str = "https://evil.example") -> dict[str, Any]:
    """A disallowed origin must get no Access-Control-Allow-Origin on any route family."""
    leaks: list[str] = []
    with _client(url) as client:
        for method, path, body in ROUTES:
            if path == "/gradio_api/upload":
                continue
            try:
                resp = _route_request(client, method, path, body, headers={"origin": origin})
            except httpx.HTTPError:
                continue
            allowed = resp.headers.get("access-control-allow-origin")
            if allowed in ("*", origin):
                leaks.append(f"{method} {path}")
            try:
                pre = client.options(path, headers={"origin": origin, "access-control-request-method": "POST"})
            except httpx.HTTPError:
                continue
            if pre.headers.get("access-control-allow-origin") in ("*", origin):
                leaks.append(f"OPTIONS {path}")
    return {"leaks": len(leaks), "leaking_routes": leaks}


def security_headers(url: str) -> dict[str, Any]:
    wanted = ("content-security-policy", "x-content-type-options", "referrer-policy")
    missing: list[str] = []
    with _client(url) as client:
        for path in ("/", "/api/programs", "/widget.js", "/widget-demo", "/docs", "/gradio_api/info", "/nope"):
            try:
                resp = client.get(path)
            except httpx.HTTPError:
                continue
            for h in wanted:
                if h not in resp.headers:
                    missing.append(f"{path}: {h}")
            csp = resp.headers.get("content-security-policy", "")
            if "frame-ancestors" not in csp and "x-frame-options" not in resp.headers:
                missing.append(f"{path}: frame-ancestors")
    return {"missing": len(missing), "missing_headers": missing}


def chinese_errors_everywhere(url: str) -> dict[str, Any]:
    """Error responses from Gradio routes and malformed requests carry a Chinese JSON message."""
    probes = [("GET", "/gradio_api/nope", None), ("POST", "/gradio_api/call/nope", b"{}"),
              ("POST", "/gradio_api/queue/join", b"{not json"), ("GET", "/gradio_api/queue/data", None),
              ("POST", "/api/chat", b"{not json"), ("GET", "/nope", None), ("DELETE", "/api/programs", None),
              ("POST", "/gradio_api/call/respond", b'{"data": 5}')]
    english: list[str] = []
    with _client(url) as client:
        for method, path, body in probes:
            r = send(client, Case(path, method, path, body))
            if r["status"] and r["status"] >= 400 and not _chinese_error(r):
                english.append(f"{method} {path} → {r['status']}")
    return {"probes": len(probes), "not_chinese": len(english), "not_chinese_routes": english}


# --- sessions -----------------------------------------------------------------------------------------------------------
def v1_cross_session(url: str, pairs: int = 5, *, use_user_field: bool = False) -> dict[str, Any]:
    """Two users with the same deterministic history each add private text; count stored conversations holding both."""
    first = "思明区智改数转评为三级，能奖励多少？"
    mixed = 0
    checked = 0
    with _client(url, timeout=60) as client:
        for i in range(pairs):
            opening = [{"role": "user", "content": f"{first}（第{i}组）"}]
            replies = []
            for who in ("A", "B"):
                body: dict[str, Any] = {"messages": opening}
                if use_user_field:
                    body["user"] = f"user-{who}-{i}"
                reply = client.post("/v1/chat/completions", json=body).json()
                replies.append(reply["choices"][0]["message"]["content"])
            sessions = []
            for who, reply in zip(("A", "B"), replies):
                secret = f"统一社会信用代码91350200MA{who}{i:07d}，投入500万"
                body = {"messages": [*opening, {"role": "assistant", "content": reply}, {"role": "user", "content": secret}]}
                if use_user_field:
                    body["user"] = f"user-{who}-{i}"
                data = client.post("/v1/chat/completions", json=body).json()
                sessions.append(((data.get("policy_answer") or {}).get("session_id"), who))
            for sid, who in sessions:
                if not sid:
                    continue
                resp = client.get(f"/api/sessions/{sid}")
                if resp.status_code != 200:
                    continue
                checked += 1
                text = json.dumps(resp.json(), ensure_ascii=False)
                other = "B" if who == "A" else "A"
                if f"MA{other}{i:07d}" in text:
                    mixed += 1
    return {"pairs": pairs, "sessions_checked": checked, "cross_session_writes": mixed}


def client_chosen_ids(url: str) -> dict[str, Any]:
    """A client-invented session id: accepted for a chat? readable by anyone who guesses it?"""
    with _client(url, timeout=60) as client:
        sid = f"guessable-{int(time.time() * 1000) % 100000}"
        chat = client.post("/api/chat", json={"question": "厦门算力券能补多少？", "session_id": sid})
        read = client.get(f"/api/sessions/{sid}")
        stored = read.status_code == 200 and bool(read.json().get("turns"))
    return {"chat_status": chat.status_code, "accepted": chat.status_code == 200, "readable_after": stored}


def slow_clients(url: str, *, connections: int = 100, wait_s: float = 20.0) -> dict[str, Any]:
    """Open connections that send half a request head and stop; count those the server still holds after `wait_s`."""
    parts = urlsplit(url)
    socks: list[socket.socket] = []
    refused = 0
    for _ in range(connections):
        try:
            s = socket.create_connection((parts.hostname, parts.port), timeout=5)
            s.sendall(b"POST /api/chat HTTP/1.1\r\nHost: probe\r\nContent-Type: application/json\r\n")
            socks.append(s)
        except OSError:
            refused += 1
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
    held = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1024)
            held += 0 if data == b"" or data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.1 503") else 1
        except BlockingIOError:
            held += 1
        except OSError:
            pass
        finally:
            s.close()
    return {"connections": connections, "refused": refused, "waited_s": wait_s, "held": held,
            "healthy_after": _healthy(url)}


def distinct_load(url: str, *, total: int = 1000, concurrency: int = 100, headers: dict[str, str] | None = None,
                  timeout_s: float = 120.0) -> dict[str, Any]:
    """`total` distinct questions at `concurrency`: errors (non-200, hangs) and latency percentiles."""
    questions = [f"厦门企业去年购买算力服务花了{10 + i}万元，最高能补多少？" if i % 3 == 0 else
                 f"思明区企业智改数转评为{'二三四'[i % 3]}级，投入{20 + i}万元，能奖励多少？" if i % 3 == 1 else
                 f"厦门研发投入{100 + i}万元的企业能拿多少研发补助？" for i in range(total)]
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def one(q: str, client: httpx.Client) -> None:
        started = time.perf_counter()
        try:
            resp = client.post("/api/chat", json={"question": q})
            if resp.status_code != 200:
                errors[str(resp.status_code)] = errors.get(str(resp.status_code), 0) + 1
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=timeout_s, headers=headers or {}, limits=limits) as client, \
            futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda q: one(q, client), questions))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {"requests": total, "concurrency": concurrency, "errors": sum(errors.values()), "error_kinds": errors,
            "seconds": round(elapsed, 1), "p50_ms": pct(0.5), "p95_ms": pct(0.95)}


def server_rss_mb(pid: int) -> float | None:
    try:
        for line in open(f"/proc/{pid}/status", encoding="ascii"):
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def soak(url: str, pid: int, *, rounds: int = 3, per_round: int = 300, concurrency: int = 20) -> dict[str, Any]:
    """RSS after each round of distinct chats; growth from the first round to the last."""
    rss: list[float | None] = [server_rss_mb(pid)]
    errors = 0
    for _ in range(rounds):
        errors += distinct_load(url, total=per_round, concurrency=concurrency)["errors"]
        rss.append(server_rss_mb(pid))
    growth = (rss[-1] - rss[1]) if rss[-1] is not None and rss[1] is not None else None
    return {"rounds": rounds, "per_round": per_round, "rss_mb": rss, "growth_mb_after_first_round": growth,
            "errors": errors}


def sessions_written(url: str, n: int = 20) -> dict[str, Any]:
    """Anonymous one-off chats: how many of them the server will still show by id afterwards (i.e. persisted)."""
    readable = 0
    with _client(url, timeout=60) as client:
        for i in range(n):
            body = client.post("/api/chat", json={"question": f"安徽算力补贴怎么申请？（{i}）"}).json()
            sid = body.get("session_id")
            if sid and client.get(f"/api/sessions/{sid}").status_code == 200 and \
                    client.get(f"/api/sessions/{sid}").json().get("turns"):
                readable += 1
    return {"one_off_chats": n, "still_stored": readable}


def summarize(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    return {"p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1)}


FUZZ_VALUES = ["不知道", "是不是我也不知道", "还没确定", "NaN", "Infinity", "1e309", "1e309元", "-80万", "100P; DROP TABLE",
               "500%", "９９９９９９９９９９９９９９９９９９９９万", "9" * 600, "\u200b", "", "是" * 300, "null"]


VALID_BY_UNIT = {"yuan": "500万", "percent": "30%", "count": "3", "pflops": "500P", "quantity": "3",
                 "date": "2024-06-01", "bool": "是", "text": "人工智能"}


def _valid_value(fact) -> Any:
    if fact.unit == "choice":
        key = fact.choices[0].key if fact.choices else "other"
        return [key] if fact.multiple else key
    return VALID_BY_UNIT.get(fact.unit, "3")


def _granted(body: Any) -> bool:
    """A calculation that says: eligible, and this positive amount."""
    if not isinstance(body, dict) or body.get("eligible") is not True:
        return False
    amount = body.get("amount_yuan")
    return isinstance(amount, int) and amount > 0


def calculator_fuzz(url: str, *, values: Sequence[str] = FUZZ_VALUES, headers: dict[str, str] | None = None,
                    workers: int = 4) -> dict[str, Any]:
    """Every program × every fact × garbage, the other facts valid: 5xx, hangs, and verdicts "eligible, this amount"
    that exist only because of the garbage (the same request with that fact left out is not one) — e.g. "不知道"
    read as yes, "1e309元" read as 309元."""
    from tools.catalog import default_catalog

    catalog = default_catalog()
    vocab = catalog.facts
    programs = catalog.programs
    complete = {p.id: {f: _valid_value(vocab[f]) for f in p.facts if f in vocab} for p in programs}
    jobs: list[tuple[str, str, str]] = [(p.id, f, v) for p in programs for f in complete[p.id] for v in values]

    def calc(client: httpx.Client, program_id: str, facts: dict[str, Any]) -> tuple[int | None, Any]:
        try:
            resp = client.post("/api/calculate", json={"program_id": program_id, "facts": facts})
        except httpx.HTTPError:
            return None, None
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None

    def without(program_id: str, fact: str) -> dict[str, Any]:
        return {k: v for k, v in complete[program_id].items() if k != fact}

    omitted = sorted({(p, f) for p, f, _ in jobs})
    with _client(url, headers=headers) as client, futures.ThreadPoolExecutor(workers) as pool:
        missing = dict(zip(omitted, pool.map(lambda pf: calc(client, pf[0], without(*pf)), omitted)))
        results = list(pool.map(lambda job: (job, calc(client, job[0], {**without(job[0], job[1]), job[1]: job[2]})),
                                jobs))
    hangs = [j for j, (s, _) in results if s is None]
    errors = [j for j, (s, _) in results if s is not None and s >= 500]
    garbage = [j for j, (s, body) in results if s == 200 and _granted(body) and not _granted(missing[(j[0], j[1])][1])]
    return {"requests": len(jobs) + len(omitted), "programs": len(programs), "facts": len(omitted),
            "hangs": len(hangs), "server_errors": len(errors), "garbage_amounts": len(garbage),
            "garbage_amount_examples": [f"{p}.{f}={v[:20]!r}" for p, f, v in garbage[:15]],
            "server_error_examples": [f"{p}.{f}={v[:20]!r}" for p, f, v in errors[:10]]}
