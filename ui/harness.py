"""Start a real `policy-assistant serve` process on loopback (tests, benchmark) and prepare data directories for it."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ui.app import OFFLINE_ENV

READY_MARK = ".ui-index-ready"


def child_env(data_dir: Path | str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **OFFLINE_ENV, "POLICY_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return env


def build_index(data_dir: Path | str, *, env: dict[str, str] | None = None, timeout_s: float = 600) -> None:
    """Run `policy-assistant index build` for `data_dir` in a child process (the Python API if the command is absent)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    environ = child_env(data_dir, env)
    probe = subprocess.run([sys.executable, "-m", "policy_assistant", "index", "--help"], env=environ,
                           capture_output=True, text=True, timeout=120)
    if probe.returncode == 0:
        cmd = [sys.executable, "-m", "policy_assistant", "index", "build"]
    else:
        cmd = [sys.executable, "-c", "from index import build_index; from policy_assistant.settings import Settings; "
                                     "build_index(Settings.from_env(), progress=False)"]
    done = subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"index build failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")


def shared_index(base: Path | str, *, env: dict[str, str] | None = None) -> Path:
    """A data dir with a built index under `base`, built once even when several test modules ask (file lock)."""
    import fcntl

    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    target = base / "ui-shared-data"
    with open(base / "ui-shared-data.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / READY_MARK).exists():
            shutil.rmtree(target, ignore_errors=True)
            build_index(target, env=env)
            (target / READY_MARK).touch()
    return target


def fresh_data_dir(shared: Path | str, dest: Path | str) -> Path:
    """A private data dir (own SQLite) holding a copy of the shared built index."""
    shared, dest = Path(shared), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if (shared / "index").exists() and not (dest / "index").exists():
        shutil.copytree(shared / "index", dest / "index", symlinks=True)
    return dest


class ServerProcess:
    """A running `policy-assistant serve`; `stop()` sends SIGTERM and waits for a clean exit."""

    def __init__(self, proc: subprocess.Popen, log_path: Path):
        self.proc = proc
        self.log_path = log_path
        self.url: str | None = None
        self._url_seen = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with open(self.log_path, "a", encoding="utf-8") as log:
            for line in self.proc.stdout:  # type: ignore[union-attr]
                log.write(line)
                log.flush()
                if line.startswith("URL="):
                    self.url = line.strip()[4:]
                    self._url_seen.set()
        self._url_seen.set()

    def wait_ready(self, timeout_s: float) -> str:
        import httpx

        deadline = time.monotonic() + timeout_s
        if not self._url_seen.wait(timeout_s) or not self.url:
            raise RuntimeError(f"server did not start; log:\n{self.log()}")
        while time.monotonic() < deadline:
            try:
                # up = answering; 503 is an honest "running but cannot search" (e.g. a damaged index)
                if httpx.get(self.url + "/healthz", timeout=5).status_code in (200, 503):
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not healthy in {timeout_s}s; log:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8")[-6000:]
        except OSError:
            return ""

    def stop(self, timeout_s: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._thread.join(5)
        return self.proc.returncode


def start_server(data_dir: Path | str, *, port: int = 0, env: dict[str, str] | None = None,
                 args: list[str] | None = None, timeout_s: float = 120, log_path: Path | str | None = None) -> ServerProcess:
    """Start `policy-assistant serve --host 127.0.0.1 --port PORT` (0 = a free port) and wait until it answers."""
    data_dir = Path(data_dir)
    log_path = Path(log_path) if log_path else data_dir / "server.log"
    cmd = [sys.executable, "-m", "policy_assistant", "serve", "--host", "127.0.0.1", "--port", str(port), *(args or [])]
    proc = subprocess.Popen(cmd, env=child_env(data_dir, env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8", bufsize=1)
    server = ServerProcess(proc, log_path)
    try:
        server.wait_ready(timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def running_server(data_dir: Path | str, **kwargs):
    server = start_server(data_dir, **kwargs)
    try:
        yield server
    finally:
        server.stop()
