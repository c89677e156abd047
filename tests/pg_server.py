"""A real PostgreSQL server for the store tests.

1. POLICY_TEST_POSTGRES_DSN (set by .ci/run after it installs and starts Debian's `postgresql`): use that server.
2. Otherwise start a private, throwaway server: Debian's initdb/pg_ctl in a temporary directory on a free loopback
   port (as the `postgres` user when the tests run as root, which PostgreSQL refuses to run as), stopped at exit.
3. Neither possible: the tests that need it skip, saying why.

Each test gets its own database (CREATE DATABASE … / DROP DATABASE), so tests never see each other's rows.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DSN_ENV = "POLICY_TEST_POSTGRES_DSN"


class Unavailable(RuntimeError):
    """Why no PostgreSQL server could be had (the skip reason)."""


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise Unavailable("未安装 PostgreSQL（Debian 软件包 postgresql；.ci/run 会安装并启动它）")
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateServer:
    """initdb + pg_ctl start in a temporary directory; `stop()` removes everything."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="pa-pg-"))
        self.port = _free_port()
        as_root = os.geteuid() == 0
        prefix: list[str] = []
        if as_root:
            import pwd

            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable("以 root 运行测试，且没有 postgres 系统用户可用来启动 PostgreSQL") from None
            os.chown(self.root, user.pw_uid, user.pw_gid)
            prefix = ["runuser", "-u", "postgres", "--"]
        self._prefix = prefix
        self._pg_ctl = str(bin_dir / "pg_ctl")
        data = self.root / "data"
        init = subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "policy", "--auth=trust",
                               "-E", "UTF8", "--no-locale"], capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            self._cleanup()
            raise Unavailable(f"initdb 失败：{(init.stderr or init.stdout)[-300:]}")
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        start = subprocess.run([*prefix, self._pg_ctl, "-D", str(data), "-o", options, "-l", str(self.root / "log"),
                                "-w", "-t", "60", "start"], capture_output=True, text=True, timeout=90)
        if start.returncode != 0:
            log = (self.root / "log").read_text(errors="replace")[-300:] if (self.root / "log").exists() else ""
            self._cleanup()
            raise Unavailable(f"PostgreSQL 未能启动：{(start.stderr or start.stdout)[-200:]} {log}")
        self.dsn = f"postgresql://policy@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self._prefix, self._pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def server_dsn() -> tuple[str, PrivateServer | None]:
    """(admin DSN, the private server to stop or None): the CI server, else a private one; Unavailable otherwise."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("未安装 psycopg（pip install 'psycopg[binary]'，已列入 test 依赖）") from None
    dsn = os.environ.get(DSN_ENV, "").strip()
    if dsn:
        _check(dsn)
        return dsn, None
    server = PrivateServer()
    try:
        _check(server.dsn)
    except Unavailable:
        server.stop()
        raise
    return server.dsn, server


def _check(dsn: str) -> None:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=10, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise Unavailable(f"无法连接 PostgreSQL（{type(exc).__name__}）") from None


@contextmanager
def fresh_database(admin_dsn: str):
    """A new empty database on the server for one test; its DSN, dropped afterwards."""
    import psycopg

    name = f"pa_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_dsn)
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    try:
        yield dsn
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
