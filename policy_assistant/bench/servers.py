"""Benchmark processes: an app server of some source tree (with N workers where the tree supports it), the
hello-world ceiling, one-shot commands; readiness, first answer and memory per worker, read from /proc."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from policy_assistant.settings import REPO_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_env(tree: Path, data_dir: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a child of `tree` runs in: the tree first on the path, offline, bytecode written (a
    developer's PYTHONDONTWRITEBYTECODE would make every start recompile every module and measure that)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env.update({"PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False", "POLICY_LLM_BASE_URL": "",
                "POLICY_RATE_LIMIT_PER_MINUTE": str(10**9), "PYTHONUNBUFFERED": "1"})
    if data_dir is not None:
        env["POLICY_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def private_data_dir(served: Path, prefix: str) -> Path:
    """A temporary data dir holding a copy of a built index (its own SQLite, caches written on first use)."""
    dest = Path(tempfile.mkdtemp(prefix=prefix))
    shutil.copytree(Path(served) / "index", dest / "index", symlinks=True)
    return dest


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out.extend(int(c) for c in text)
    except OSError:
        pass
    return out


def _status_mb(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


@dataclass
class Served:
    """One running server process (and its workers)."""

    name: str
    proc: subprocess.Popen
    url: str
    log_path: Path
    data_dir: Path | None = None
    started_s: float | None = None
    info: dict = field(default_factory=dict)

    def worker_pids(self) -> list[int]:
        """The processes that answer requests: the workers of a multi-process server, else the server itself.
        (spawned workers sit under a resource-tracker-free child list of the parent)"""
        kids = [p for p in _children(self.proc.pid) if _status_mb(p, "VmRSS") and _is_python_worker(p)]
        return kids or [self.proc.pid]

    def rss_mb(self) -> dict:
        """Resident memory per worker now, and the highest any worker reached (VmHWM)."""
        pids = self.worker_pids()
        now = [_status_mb(p, "VmRSS") or 0.0 for p in pids]
        peak = [_status_mb(p, "VmHWM") or 0.0 for p in pids]
        return {"workers": len(pids), "max_rss_mb": max(now), "max_hwm_mb": max(peak)}

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _is_python_worker(pid: int) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    text = b" ".join(cmd)
    return b"python" in cmd[0] and b"resource_tracker" not in text


def wait_ready(url: str, proc: subprocess.Popen, timeout_s: float) -> bool:
    """Poll GET /healthz until it answers 200 (the process exiting or the timeout: False)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return True
            conn.close()
        except OSError:
            pass
        time.sleep(0.05)
    return False


def start_app(name: str, tree: Path, data_dir: Path, *, workers: int = 1, timeout_s: float = 300) -> Served:
    """`policy-assistant serve --no-ui` of `tree` on a free loopback port; `workers` > 1 needs a tree that has it."""
    port = free_port()
    cmd = [sys.executable, "-m", "policy_assistant", "serve", "--no-ui", "--host", "127.0.0.1", "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return _start(name, cmd, tree, data_dir, port, timeout_s)


def start_hello(name: str, *, workers: int = 1, timeout_s: float = 60) -> Served:
    """The hello-world ceiling (policy_assistant/bench/hello.py) under uvicorn with `workers` processes."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "policy_assistant.bench.hello:app", "--host", "127.0.0.1", "--port",
           str(port), "--no-access-log", "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return _start(name, cmd, REPO_ROOT, None, port, timeout_s)


def _start(name: str, cmd: list[str], tree: Path, data_dir: Path | None, port: int, timeout_s: float) -> Served:
    log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    env = tree_env(tree, data_dir, {"POLICY_HOST": "127.0.0.1"})
    t0 = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tree),
                                start_new_session=True)
    served = Served(name, proc, f"http://127.0.0.1:{port}", log_path, data_dir)
    if not wait_ready(served.url, proc, timeout_s):
        text = served.log()
        served.stop()
        raise RuntimeError(f"{name} 未能在 {timeout_s} 秒内就绪：\n{text[-1500:]}")
    served.started_s = round(time.perf_counter() - t0, 2)
    return served


def first_answer_ms(served: Served, question: str) -> float:
    """Wall time of one POST /api/chat (the first after readiness, in the benchmark)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(served.url)
    body = json.dumps({"question": question}, ensure_ascii=False).encode("utf-8")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    t0 = time.perf_counter()
    conn.request("POST", "/api/chat", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp_body = resp.read()
    ms = (time.perf_counter() - t0) * 1000
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{served.name} 首次问答返回 {resp.status}：{resp_body[:300]!r}")
    return round(ms, 1)


def oneshot_s(tree: Path, data_dir: Path, question: str) -> float:
    """Wall time of `policy-assistant ask QUESTION` of `tree`: a whole one-shot command, start to exit."""
    env = tree_env(tree, data_dir)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "policy_assistant", "ask", question], env=env, cwd=str(tree),
                          capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"ask 失败（{done.returncode}）：{done.stderr[-800:]}")
    return round(seconds, 3)


def probe(tree: Path, data_dir: Path, questions: list[str], warm: list[str], timeout_s: float = 900) -> dict:
    """Run policy_assistant/bench/probe.py against `tree` in a fresh process (see that file)."""
    import json

    spec = Path(tempfile.mkstemp(prefix="bench-probe-", suffix=".json")[1])
    try:
        spec.write_text(json.dumps({"questions": questions, "warm": warm}, ensure_ascii=False), encoding="utf-8")
        script = Path(__file__).with_name("probe.py")
        done = subprocess.run([sys.executable, "-P", str(script), str(spec)], env=tree_env(tree, data_dir),
                              cwd=str(tree), capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"probe 失败（{done.returncode}）：{done.stderr[-1500:]}")
        return json.loads(done.stdout)
    finally:
        spec.unlink(missing_ok=True)
