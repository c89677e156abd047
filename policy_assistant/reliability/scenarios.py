"""Scenarios that start, kill and restart real servers: kill -9, corruption, restore after restart, fail-closed key.

`code_dir` runs the servers from another source tree (PYTHONPATH), which is how the report measures "before".
"""
from __future__ import annotations

import concurrent.futures as futures
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

from policy_assistant.reliability import probes
from ui import harness


def code_env(code_dir: Path | None) -> dict[str, str]:
    """Environment that makes `python -m policy_assistant` import `code_dir`: first on PYTHONPATH, and the working
    directory kept off sys.path (PYTHONSAFEPATH, Python ≥ 3.11) — `python -m` would otherwise put it first, and a
    run started inside this checkout would measure this tree as "before"."""
    if not code_dir:
        return {}
    return {"PYTHONPATH": str(code_dir) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONSAFEPATH": "1"}


class Runner:
    """Starts servers and commands for one data directory tree, from this tree or from `code_dir`."""

    def __init__(self, shared_data: Path, work: Path, code_dir: Path | None = None):
        self.shared = Path(shared_data)
        self.work = Path(work)
        self.code_dir = Path(code_dir) if code_dir else None
        self.work.mkdir(parents=True, exist_ok=True)
        self._n = 0

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**(extra or {}), **code_env(self.code_dir)}

    def data_dir(self, name: str) -> Path:
        self._n += 1
        dest = self.work / f"{self._n:02d}-{name}"
        shutil.rmtree(dest, ignore_errors=True)
        return harness.fresh_data_dir(self.shared, dest)

    def start(self, data: Path, env: dict[str, str] | None = None, args: list[str] | None = None,
              timeout_s: float = 180) -> harness.ServerProcess:
        return harness.start_server(data, env=self.env(env), args=args, timeout_s=timeout_s)

    def command(self, data: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 600):
        return subprocess.run([sys.executable, "-m", "policy_assistant", *args], capture_output=True, text=True,
                              timeout=timeout_s, env=harness.child_env(data, self.env(env)))


def _chat(client: httpx.Client, question: str, session_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    if session_id:
        body["session_id"] = session_id
    resp = client.post("/api/chat", json=body)
    resp.raise_for_status()
    return resp.json()


# --- durability ------------------------------------------------------------------------------------------------------
def kill9(runner: Runner, *, conversations: int = 40, turns: int = 3) -> dict[str, Any]:
    """Conversations of `turns` answered questions each (continued, so they are kept), SIGKILL, restart: the
    answered questions missing from the stored conversations."""
    data = runner.data_dir("kill9")
    server = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    acked: dict[str, list[str]] = {}

    def converse(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            questions = [f"厦门企业购买算力花了{30 + i}万元，能补多少？"]
            sid = _chat(client, questions[0])["session_id"]
            for t in range(1, turns):
                questions.append(f"那研发投入{100 + t}万呢？（{i}）")
                _chat(client, questions[-1], sid)
            acked[sid] = questions

    try:
        with futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(converse, range(conversations)))
    finally:
        server.proc.send_signal(signal.SIGKILL)
        server.stop()
    again = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    lost = 0
    total = sum(len(v) for v in acked.values())
    try:
        with httpx.Client(base_url=again.url, timeout=30) as client:
            for sid, questions in acked.items():
                resp = client.get(f"/api/sessions/{sid}")
                kept = [t["question"] for t in resp.json().get("turns", [])] if resp.status_code == 200 else []
                lost += sum(1 for q in questions if q not in kept)
    finally:
        again.stop()
    return {"acknowledged": total, "lost": lost}


def one_off_storage(runner: Runner, *, n: int = 30) -> dict[str, Any]:
    """Anonymous one-off chats: rows and bytes they leave in SQLite."""
    data = runner.data_dir("storage")
    server = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for i in range(n):
                _chat(client, f"思明区算力补助条件是什么？（{i}）")
    finally:
        server.stop()
    db = data / "app.sqlite3"
    rows = 0
    if db.exists():
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM turns").fetchone()[0]
    size = sum(p.stat().st_size for p in data.glob("app.sqlite3*"))
    return {"one_off_chats": n, "stored_turns": rows, "db_bytes": size}


# --- restore after restart --------------------------------------------------------------------------------------------
def restore_storm(runner: Runner, *, sessions: int = 30, turns: int = 12, probes_n: int = 30) -> dict[str, Any]:
    """After a restart, many old conversations continue at once; latency of unrelated one-off questions meanwhile."""
    data = runner.data_dir("restore")
    env = {"POLICY_RATE_LIMIT_PER_MINUTE": "0"}
    server = runner.start(data, env)
    sids: list[str] = []
    try:
        def build(i: int) -> str:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                sid = _chat(client, f"思明区智改数转评为三级，能奖励多少？（{i}）")["session_id"]
                for t in range(1, turns):
                    _chat(client, f"工业企业，数字化改造投入了{100 + t}万（{i}）", sid)
                return sid

        with futures.ThreadPoolExecutor(6) as pool:
            sids = list(pool.map(build, range(sessions)))
    finally:
        server.stop()
    again = runner.start(data, env)
    unrelated: list[float] = []
    restored_ok = 0
    try:
        def cont(sid: str) -> bool:
            with httpx.Client(base_url=again.url, timeout=120) as client:
                body = _chat(client, "需要什么申报材料？", sid)
                return body.get("session_id") == sid

        def probe() -> None:
            with httpx.Client(base_url=again.url, timeout=120) as client:
                for i in range(probes_n):
                    t0 = time.perf_counter()
                    _chat(client, f"安徽算力补贴比例是多少？（{i}）")
                    unrelated.append(time.perf_counter() - t0)

        with futures.ThreadPoolExecutor(9) as pool:
            probe_job = pool.submit(probe)
            restored_ok = sum(pool.map(cont, sids))
            probe_job.result()
    finally:
        again.stop()
    return {"sessions": sessions, "turns_each": turns, "continued": restored_ok,
            "unrelated": probes.summarize(unrelated)}


# --- configuration ---------------------------------------------------------------------------------------------------
def key_fail_closed(runner: Runner) -> dict[str, Any]:
    """POLICY_API_KEY_ENV names a variable that is not set: does the server start, and is it open?"""
    data = runner.data_dir("failclosed")
    env = {"POLICY_API_KEY_ENV": "PA_RELIABILITY_UNSET_KEY"}
    try:
        server = runner.start(data, env, timeout_s=60)
    except RuntimeError as exc:
        text = str(exc)
        return {"started": False, "open": False, "message_chinese": bool(probes.CJK.search(text.split("log:")[-1]))}
    try:
        status = httpx.get(server.url + "/api/programs", timeout=10).status_code
    finally:
        server.stop()
    return {"started": True, "open": status == 200, "message_chinese": False}


# --- corruption ---------------------------------------------------------------------------------------------------------
def _current_build(data: Path) -> Path:
    import json

    build = json.loads((data / "index" / "CURRENT").read_text())["build"]
    return data / "index" / "builds" / build


def _corrupt_chroma(data: Path) -> None:
    path = _current_build(data) / "chroma" / "chroma.sqlite3"
    raw = bytearray(path.read_bytes())
    for i in range(100, min(len(raw), 200_000), 997):
        raw[i] = 0xA5
    path.write_bytes(bytes(raw))


def _corrupt_manifest(data: Path) -> None:
    path = _current_build(data) / "manifest.json"
    path.write_text(path.read_text()[: 200], encoding="utf-8")


def _corrupt_chunks(data: Path) -> None:
    path = _current_build(data) / "chunks.jsonl"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2] + "{broken", encoding="utf-8")


def _corrupt_bm25(data: Path) -> None:
    for f in (_current_build(data) / "bm25").iterdir():
        if f.is_file():
            f.write_bytes(f.read_bytes()[: max(1, f.stat().st_size // 3)])


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "chroma": _corrupt_chroma, "manifest": _corrupt_manifest, "chunks": _corrupt_chunks, "bm25": _corrupt_bm25,
}


def index_corruption(runner: Runner, kind: str, *, wait_s: float = 15.0) -> dict[str, Any]:
    """Corrupt one file of the served build, start the server and ask; run `index build` while it keeps running;
    ask again (the server should pick the new build up by itself)."""
    data = runner.data_dir(f"corrupt-{kind}")
    CORRUPTIONS[kind](data)
    result: dict[str, Any] = {"kind": kind}
    server = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"}, timeout_s=120)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            health = client.get("/healthz")
            search = client.get("/api/search", params={"q": "算力券"})
            chat = client.post("/api/chat", json={"question": "厦门算力券能补多少？"})  # the rules answer it alone
            chat_search = client.post("/api/chat", json={"question": "人工智能企业申报需要准备哪些材料？"})  # needs the index
            chat_search_body = _json(chat_search)
            result.update(healthz=health.status_code, healthz_status=_status(health),
                          healthz_ok_while_broken=health.status_code == 200 and _status(health) in ("ok", None)
                          and search.status_code >= 500,
                          search=search.status_code, chat=chat.status_code, chat_search=chat_search.status_code,
                          chat_search_error=chat_search_body.get("error") if isinstance(chat_search_body, dict) else None,
                          search_chinese=probes._chinese_error({"body": _json(search)}))
            build = runner.command(data, "index", "build")
            result["build_exit"] = build.returncode
            result["build_said_up_to_date"] = "无需重建" in build.stdout or "已是最新" in build.stdout
            result["build_traceback"] = "Traceback" in build.stderr
            deadline = time.monotonic() + wait_s
            while True:
                status = client.get("/api/search", params={"q": "算力券"}).status_code
                healthy = _status(client.get("/healthz")) == "ok"
                if (status == 200 and healthy) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            result["search_after_build"] = status
            result["healthy_after_build"] = healthy
    finally:
        server.stop()
    return result


def force_build_over_corruption(runner: Runner) -> dict[str, Any]:
    """`index build --force` over a corrupt manifest, and over a corrupt vector cache."""
    out: dict[str, Any] = {}
    data = runner.data_dir("force-manifest")
    _corrupt_manifest(data)
    done = runner.command(data, "index", "build", "--force")
    out["corrupt_manifest"] = {"exit": done.returncode, "traceback": "Traceback" in done.stderr}
    data = runner.data_dir("force-cache")
    for f in (data / "index" / "cache").glob("vectors-*.sqlite"):
        f.write_bytes(b"this is not a database" * 100)
    done = runner.command(data, "index", "build", "--force")
    out["corrupt_vector_cache"] = {"exit": done.returncode, "traceback": "Traceback" in done.stderr}
    return out


def sqlite_damage(runner: Runner, kind: str) -> dict[str, Any]:
    """A conversation store made 0 bytes or truncated: does the server start, and is the damaged file kept?"""
    data = runner.data_dir(f"sqlite-{kind}")
    server = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            sid = _chat(client, "厦门算力券能补多少？")["session_id"]
            _chat(client, "那思明区呢？", sid)
    finally:
        server.stop()
    db = data / "app.sqlite3"
    raw = db.read_bytes()
    for extra in data.glob("app.sqlite3-*"):
        extra.unlink()
    if kind == "zero":
        db.write_bytes(b"")
    else:
        db.write_bytes(raw[: max(4096, len(raw) // 2)][:-100] + b"\x00garbage" * 10)
    try:
        again = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"}, timeout_s=60)
    except RuntimeError as exc:
        return {"kind": kind, "started": False, "traceback": "Traceback" in str(exc),
                "kept_aside": _kept_aside(data)}
    try:
        health = httpx.get(again.url + "/healthz", timeout=10)
        chat = httpx.post(again.url + "/api/chat", json={"question": "厦门算力券能补多少？"}, timeout=60)
        return {"kind": kind, "started": True, "kept_aside": _kept_aside(data), "healthz": health.status_code,
                "health_reports_store": "store" in health.text, "chat_after": chat.status_code}
    finally:
        again.stop()


def _kept_aside(data: Path) -> bool:
    return any(p.name != "app.sqlite3" and p.name.startswith("app.sqlite3") and "damaged" in p.name
               for p in data.iterdir())


def new_build_without_restart(runner: Runner) -> dict[str, Any]:
    """`index build --force` while the server runs: does /healthz report the new build id without a restart?"""
    data = runner.data_dir("hot-swap")
    server = runner.start(data, {"POLICY_RATE_LIMIT_PER_MINUTE": "0"})
    try:
        before = httpx.get(server.url + "/healthz", timeout=10).json()
        httpx.get(server.url + "/api/search", params={"q": "算力券"}, timeout=60)
        done = runner.command(data, "index", "build", "--force")
        new_id = _current_build(data).name
        deadline = time.monotonic() + 30
        served = None
        while time.monotonic() < deadline:
            httpx.get(server.url + "/api/search", params={"q": "算力券"}, timeout=60)
            served = httpx.get(server.url + "/healthz", timeout=10).json().get("index", {}).get("build_id")
            if served == new_id:
                break
            time.sleep(1)
        return {"build_exit": done.returncode, "picked_up": served == new_id,
                "healthz_reports_build": "index" in before}
    finally:
        server.stop()


def _status(resp: httpx.Response) -> str | None:
    body = _json(resp)
    return body.get("status") if isinstance(body, dict) else None


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return resp.text
