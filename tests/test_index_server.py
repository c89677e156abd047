"""Chroma client/server mode: a real `chroma run` on loopback; build and search through `chromadb.HttpClient`."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import build_index, index_status
from index.retriever import open_retriever
from policy_assistant.settings import Settings

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_cli() -> str:
    candidate = Path(sys.executable).with_name("chroma")
    found = str(candidate) if candidate.exists() else shutil.which("chroma")
    if not found:
        pytest.skip("the chroma CLI is not installed")
    return found


@pytest.fixture()
def chroma_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "chroma.log", "w")
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    proc = subprocess.Popen([_chroma_cli(), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "chroma.log").read_text())
                time.sleep(0.2)
        yield port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()


def test_build_and_search_through_a_chroma_server(chroma_server, tmp_path):
    from index import store

    settings = Settings(data_dir=tmp_path / "data", embedder="hash", chroma_mode="http", chroma_host="127.0.0.1",
                        chroma_port=chroma_server)
    first = build_index(settings, progress=False)
    assert first.built
    status = index_status(settings)
    assert status["chroma_mode"] == "http" and status["collection"].startswith("policy_clauses-")

    client = store.client_for(settings)
    assert client.heartbeat() > 0
    assert status["collection"] in [c.name for c in client.list_collections()]
    assert client.get_collection(status["collection"], embedding_function=store.PolicyEmbeddingFunction(
        config={"backend": "hash"})).count() == first.chunks

    retriever = open_retriever(settings, build_if_missing=False)
    result = retriever.search("思明区第三条", k=3)
    assert result.hits[0].id == "siming:art3"
    assert {h.doc_id for h in retriever.search("算力补贴", k=5, region="安徽").hits} == {"anhui"}

    # a rebuild makes a new collection and the old one is dropped after the build before it
    second = build_index(settings, progress=False, force=True)
    third = build_index(settings, progress=False, force=True)
    names = [c.name for c in client.list_collections()]
    assert f"policy_clauses-{third.build_id}" in names and f"policy_clauses-{second.build_id}" in names
    assert f"policy_clauses-{first.build_id}" not in names
    assert open_retriever(settings).search("小巨人奖多少", k=1).hits[0].id == "xm-measures:2.8"
